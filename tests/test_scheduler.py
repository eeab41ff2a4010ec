"""The scheduler against a fake backend: admission order, fairness, capacity, cancellation,
failures and shutdown, checked by counting steps in the fake's log (no torch, no model, no
wall-clock thresholds).

The fake speaks a request whose text is ``"<name>:<frames>"`` (optionally ``"@<route>"`` after
it) in that many steps, one PCM chunk per step; ``"<name>:inf"`` never finishes on its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from wyoming_qwen_tts.engine.interface import AudioSink, SynthesisCancelled, SynthesisRequest
from wyoming_qwen_tts.scheduling.scheduler import Job, Scheduler
from wyoming_qwen_tts.voices.voice import premium_voice

TIMEOUT = 5.0
"""Seconds any await or blocked fake call may take before the test fails instead of hanging."""

MAX_FREE_STEPS = 100_000
"""A fake that steps freely gives up after this many steps (bounds an infinite request)."""


def chunk(name: str, index: int) -> bytes:
    """The fake's PCM for one step of one request: 16-bit samples, distinct per name and step."""
    return f"{name}#{index:03d};".encode().ljust(16, b"\0")


def spoken(name: str, frames: int) -> bytes:
    return b"".join(chunk(name, i) for i in range(frames))


@dataclass(eq=False)
class _Row:
    name: str
    frames: int | None  # None: never finishes
    sink: AudioSink
    done: int = 0


@dataclass
class FakeBackend:
    """A ``SynthesisBackend`` that logs every call.

    ``log`` holds ``("start", name)``, ``("step", n, frozenset(names))``, ``("cancel", name)``
    and ``("reset",)``. With ``paced``, each step waits for a permit from ``allow``; with
    ``gate``, the first ``start`` waits until the gate is set.
    """

    capacity: int = 1
    paced: bool = False
    gate: threading.Event | None = None
    fail_start: dict[str, Exception] = field(default_factory=dict)
    fail_step: dict[int, Exception] = field(default_factory=dict)
    fail_cancel: dict[str, Exception] = field(default_factory=dict)
    stray_at_step: int | None = None
    """The step that also returns a handle it was never given (a buggy backend)."""

    def __post_init__(self) -> None:
        self.log: list[tuple] = []
        self.rows: list[_Row] = []
        self.steps = 0
        self.entered = 0
        """Steps begun (a paced step counts as begun while it waits for its permit)."""
        self.threads: set[threading.Thread] = set()
        self.violations: list[str] = []
        self._permits = threading.Semaphore(0)
        self._starts = 0

    # The protocol.
    @property
    def active(self) -> int:
        return len(self.rows)

    def start(self, request: SynthesisRequest, sink: AudioSink) -> object:
        self._called()
        self._starts += 1
        if self._starts == 1 and self.gate is not None and not self.gate.wait(TIMEOUT):
            self.violations.append("the start gate was never opened")
        if len(self.rows) >= self.capacity:
            self.violations.append(f"start of {request.text} with {len(self.rows)} active")
        name, frames = parse(request.text)
        self.log.append(("start", name))
        if name in self.fail_start:
            raise self.fail_start[name]
        row = _Row(name, frames, sink)
        self.rows.append(row)
        return row

    def step(self) -> list[object]:
        self._called()
        self.entered += 1
        if self.paced and not self._permits.acquire(timeout=TIMEOUT):
            self.violations.append(f"step {self.entered} was never allowed")
            raise RuntimeError("the test never allowed this step")
        if not self.rows:
            self.violations.append("step with no active request")
        self.steps += 1
        if self.steps > MAX_FREE_STEPS:
            raise RuntimeError("the fake stepped too often")
        self.log.append(("step", self.steps, frozenset(row.name for row in self.rows)))
        if self.steps in self.fail_step:
            raise self.fail_step[self.steps]
        finished: list[object] = [object()] if self.steps == self.stray_at_step else []
        for row in list(self.rows):
            row.sink.write(chunk(row.name, row.done))
            row.done += 1
            if row.frames is not None and row.done >= row.frames:
                self.rows.remove(row)
                finished.append(row)
        return finished

    def cancel(self, handle: object) -> None:
        self._called()
        assert isinstance(handle, _Row)
        self.log.append(("cancel", handle.name))
        if handle.name in self.fail_cancel:
            self.rows.remove(handle)
            raise self.fail_cancel[handle.name]
        if handle not in self.rows:
            self.violations.append(f"cancel of {handle.name}, which is not active")
        else:
            self.rows.remove(handle)

    def reset(self) -> None:
        self._called()
        self.log.append(("reset",))
        self.rows.clear()

    # For the tests.
    def allow(self, steps: int = 1) -> None:
        for _ in range(steps):
            self._permits.release()

    def run_freely(self) -> None:
        self.paced = False
        self._permits.release()  # a step waiting for its permit goes on

    def unblock(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self.run_freely()

    def starts(self) -> list[str]:
        return [entry[1] for entry in self.log if entry[0] == "start"]

    def batches(self) -> list[frozenset[str]]:
        return [entry[2] for entry in self.log if entry[0] == "step"]

    def steps_with(self, name: str) -> int:
        return sum(name in batch for batch in self.batches())

    def thread_names(self) -> set[str]:
        return {thread.name for thread in self.threads}

    def _called(self) -> None:
        self.threads.add(threading.current_thread())


def parse(text: str) -> tuple[str, int | None]:
    name, frames = text.split("@")[0].split(":")
    return name, None if frames == "inf" else int(frames)


def request(text: str) -> SynthesisRequest:
    return SynthesisRequest(text=text, voice=premium_voice("ryan"))


def group_of(name: str) -> str:
    """The answer a sentence belongs to: ``a2`` is answer ``a``'s second sentence."""
    return name.rstrip("0123456789")


def route(req: SynthesisRequest) -> str:
    return req.text.split("@")[1] if "@" in req.text else "one"


@pytest.fixture
def make() -> Iterator[Callable[..., tuple[Scheduler, FakeBackend]]]:
    """Makes schedulers over fakes; unblocks the fakes and closes the schedulers afterwards."""
    fakes: list[FakeBackend] = []
    schedulers: list[Scheduler] = []

    def factory(**options: object) -> tuple[Scheduler, FakeBackend]:
        fake = FakeBackend(**options)
        fakes.append(fake)
        scheduler = Scheduler({"one": fake}, route)
        schedulers.append(scheduler)
        return scheduler, fake

    factory.fakes = fakes  # type: ignore[attr-defined]
    yield factory
    for fake in fakes:
        fake.unblock()
    for scheduler in schedulers:
        scheduler.close(timeout=TIMEOUT)
    for fake in fakes:
        assert fake.violations == []
        assert len(fake.threads) <= 1, "more than one thread drove one backend"
        assert fake.thread_names() <= {"model-one", "model-two"}, "the backend ran off its worker"


def submit(scheduler: Scheduler, text: str) -> Job:
    name, _ = parse(text)
    return scheduler.submit(request(text), group=group_of(name))


async def audio_of(job: Job) -> bytes:
    async def collect() -> bytes:
        return b"".join([pcm async for pcm in job.audio()])

    return await asyncio.wait_for(collect(), TIMEOUT)


async def audio_until_error(job: Job) -> tuple[bytes, BaseException]:
    """The chunks a job yielded before it raised, and what it raised."""
    chunks: list[bytes] = []

    async def collect() -> BaseException:
        try:
            async for pcm in job.audio():
                chunks.append(pcm)
        except Exception as err:  # noqa: BLE001
            return err
        raise AssertionError(f"{job.request.text} finished without an error")

    error = await asyncio.wait_for(collect(), TIMEOUT)
    return b"".join(chunks), error


async def until(condition: Callable[[], bool]) -> None:
    """Waits (bounded) for something the worker thread does."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.001)

    await asyncio.wait_for(poll(), TIMEOUT)


# Admission order and fairness.


async def test_a_new_answers_first_sentence_goes_before_anyones_second(make) -> None:
    # Catches first-come-first-served admission: it would speak a2 and a3 before b1.
    scheduler, fake = make(capacity=1, gate=threading.Event())
    a1 = submit(scheduler, "a1:3")
    rest = [submit(scheduler, text) for text in ("a2:3", "a3:3", "b1:2")]
    fake.gate.set()  # everything is queued before a1's start returns
    assert await audio_of(a1) == spoken("a1", 3)
    for job in rest:
        name, frames = parse(job.request.text)
        assert await audio_of(job) == spoken(name, frames)
    assert fake.starts() == ["a1", "b1", "a2", "a3"]


async def test_answers_take_turns_least_recently_served_first(make) -> None:
    # Catches serving a whole answer at once, or favouring whoever was served last.
    scheduler, fake = make(capacity=1, gate=threading.Event())
    texts = ["a1:2", "a2:2", "a3:2", "b1:1", "b2:1", "c1:1"]
    jobs = [submit(scheduler, text) for text in texts]
    fake.gate.set()
    for job in jobs:
        name, frames = parse(job.request.text)
        assert await audio_of(job) == spoken(name, frames)
    assert fake.starts() == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert all(len(batch) == 1 for batch in fake.batches())
    assert len(fake.batches()) == 2 + 2 + 2 + 1 + 1 + 1


async def test_one_sentence_per_answer_in_the_batch_and_in_order(make) -> None:
    # Catches two sentences of one answer in the batch at once (its audio would be out of
    # order), sentences started out of order, and a batch not kept full.
    scheduler, fake = make(capacity=2, gate=threading.Event())
    texts = ["a1:6", "a2:1", "a3:3", "b1:1", "b2:1", "b3:2", "c1:2", "c2:2"]
    jobs = [submit(scheduler, text) for text in texts]
    fake.gate.set()
    for job in jobs:
        name, frames = parse(job.request.text)
        assert await audio_of(job) == spoken(name, frames)

    for batch in fake.batches():
        groups = [group_of(name) for name in batch]
        assert len(groups) == len(set(groups)), f"two sentences of one answer in {batch}"
        assert len(batch) <= 2
    starts = fake.starts()
    assert sorted(starts) == sorted(parse(text)[0] for text in texts)
    for group in "abc":
        mine = [name for name in starts if group_of(name) == group]
        assert mine == sorted(mine), f"answer {group} started out of order: {starts}"
    # The batch is kept full: from step 2 on (when the worker has seen every submitted job), no
    # step runs with a free slot while another answer has a sentence waiting.
    started: set[str] = set()
    names = {parse(text)[0] for text in texts}
    for entry in fake.log:
        if entry[0] == "start":
            started.add(entry[1])
        elif entry[1] > 1:
            batch = entry[2]
            busy = {group_of(name) for name in batch}
            others = {group_of(name) for name in names - started} - busy
            assert len(batch) == 2 or not others, f"step {entry[1]}: {batch}, {others} waiting"
    batches = fake.batches()
    # Each sentence starts only after its predecessor in the answer has finished.
    for group in "abc":
        mine = [parse(t)[0] for t in texts if group_of(parse(t)[0]) == group]
        for earlier, later in zip(mine, mine[1:], strict=False):
            last_step_of_earlier = max(i for i, b in enumerate(batches) if earlier in b)
            first_step_of_later = min(i for i, b in enumerate(batches) if later in b)
            assert last_step_of_earlier < first_step_of_later


async def test_a_lone_answer_is_spoken_one_sentence_at_a_time_despite_free_room(make) -> None:
    # Catches admitting two sentences of one answer in the same admission round (the worker
    # sees a1, a2 and a3 together, after z1, with room for two).
    scheduler, fake = make(capacity=2, paced=True)
    z1 = submit(scheduler, "z1:1")
    await until(lambda: fake.entered == 1)  # the worker is in z1's step: it will see a1-a3 at once
    jobs = [submit(scheduler, text) for text in ("a1:2", "a2:2", "a3:2")]
    fake.run_freely()
    assert await audio_of(z1) == spoken("z1", 1)
    for job in jobs:
        name, frames = parse(job.request.text)
        assert await audio_of(job) == spoken(name, frames)
    assert fake.starts() == ["z1", "a1", "a2", "a3"]
    assert fake.batches() == [{"z1"}, {"a1"}, {"a1"}, {"a2"}, {"a2"}, {"a3"}, {"a3"}]


# Capacity.


@pytest.mark.parametrize("capacity", [1, 3])
async def test_active_requests_never_exceed_capacity(make, capacity: int) -> None:
    # Catches admitting while the backend is full (e.g. `<=` for `<`): the fake records a start
    # with the batch full as a violation, and no step may hold more than `capacity`.
    scheduler, fake = make(capacity=capacity, gate=threading.Event())
    texts = [f"{group}1:{1 + i % 3}" for i, group in enumerate("abcdefgh")]
    jobs = [submit(scheduler, text) for text in texts]
    fake.gate.set()
    for job in jobs:
        name, frames = parse(job.request.text)
        assert await audio_of(job) == spoken(name, frames)
    sizes = [len(batch) for batch in fake.batches()]
    assert max(sizes) == capacity  # full, but never over
    assert fake.violations == []
    assert fake.active == 0


# Cancellation.


async def test_a_job_cancelled_while_waiting_never_starts(make) -> None:
    # Catches a cancelled job that is still started (spending a slot and compute), or one
    # whose audio() never ends.
    scheduler, fake = make(capacity=1, gate=threading.Event())
    a1 = submit(scheduler, "a1:2")
    b1 = submit(scheduler, "b1:2")
    c1 = submit(scheduler, "c1:2")
    b1.cancel()
    fake.gate.set()
    audio, error = await audio_until_error(b1)
    assert isinstance(error, SynthesisCancelled)
    assert audio == b""
    assert await audio_of(a1) == spoken("a1", 2)
    assert await audio_of(c1) == spoken("c1", 2)
    assert "b1" not in fake.starts()
    assert fake.starts() == ["a1", "c1"]
    assert ("cancel", "b1") not in fake.log  # it never reached the backend


async def test_a_job_cancelled_while_running_leaves_before_the_next_step(make) -> None:
    # Catches a cancelled job that the backend is never told about (it would keep being
    # stepped) or that stays in the batch for more steps.
    scheduler, fake = make(capacity=2, paced=True)
    a1 = submit(scheduler, "a1:inf")
    await until(lambda: fake.entered == 1)  # step 1 (a1 alone) waits for its permit
    b1 = submit(scheduler, "b1:6")
    fake.allow(1)
    await until(lambda: fake.entered == 2)
    assert fake.active == 2  # b1 joined before step 2
    fake.allow(1)
    # The worker waits in step 3 now, past its check for cancelled jobs: a1 is in step 3.
    await until(lambda: fake.entered == 3)
    a1.cancel()
    fake.allow(1)
    await until(lambda: fake.entered == 4)  # ... but not in step 4
    assert fake.steps == 3
    cancel_at = fake.log.index(("cancel", "a1"))
    assert cancel_at > fake.log.index(("step", 3, frozenset({"a1", "b1"})))
    assert fake.active == 1
    fake.allow(10)
    audio, error = await audio_until_error(a1)
    assert isinstance(error, SynthesisCancelled)
    assert audio == spoken("a1", 3)
    assert await audio_of(b1) == spoken("b1", 6)  # the other job is unaffected
    assert fake.steps_with("a1") == 3
    assert fake.steps_with("b1") == 6
    assert fake.batches() == [{"a1"}, {"a1", "b1"}, {"a1", "b1"}] + [{"b1"}] * 4
    assert fake.log.count(("cancel", "a1")) == 1
    assert ("cancel", "b1") not in fake.log
    assert fake.active == 0


async def test_cancelling_a_running_job_frees_its_slot_for_the_next(make) -> None:
    # Catches a cancelled job whose slot stays taken (the next answer would wait forever).
    scheduler, fake = make(capacity=1, paced=True)
    a1 = submit(scheduler, "a1:inf")
    await until(lambda: fake.entered == 1)
    b1 = submit(scheduler, "b1:2")
    a1.cancel()
    fake.allow(10)
    _, error = await audio_until_error(a1)
    assert isinstance(error, SynthesisCancelled)
    assert await audio_of(b1) == spoken("b1", 2)
    assert fake.steps_with("a1") == 1
    assert fake.starts() == ["a1", "b1"]


# Failures.


async def test_a_failing_start_fails_only_its_job(make) -> None:
    # Catches a start error that kills the worker or fails other jobs, or is swallowed.
    failure = ValueError("cannot speak b1 (injected)")
    scheduler, fake = make(capacity=2, gate=threading.Event(), fail_start={"b1": failure})
    jobs = {text: submit(scheduler, text) for text in ("a1:2", "b1:2", "b2:2", "c1:3")}
    fake.gate.set()
    _, error = await audio_until_error(jobs["b1:2"])
    assert error is failure
    assert await audio_of(jobs["a1:2"]) == spoken("a1", 2)
    assert await audio_of(jobs["b2:2"]) == spoken("b2", 2)  # its answer goes on too
    assert await audio_of(jobs["c1:3"]) == spoken("c1", 3)
    assert "b1" not in set().union(*fake.batches())
    assert ("reset",) not in fake.log
    later = submit(scheduler, "d1:1")
    assert await audio_of(later) == spoken("d1", 1)


async def test_a_failing_step_resets_fails_the_batch_and_recovers(make) -> None:
    # Catches a step error that kills the worker, leaves the backend un-reset, or leaves the
    # batch's jobs hanging; the job after it must work.
    failure = RuntimeError("CUDA out of memory (injected)")
    scheduler, fake = make(capacity=2, paced=True, fail_step={2: failure})
    a1 = submit(scheduler, "a1:5")
    await until(lambda: fake.entered == 1)  # step 1 (a1 alone) waits for its permit
    b1 = submit(scheduler, "b1:5")
    fake.allow(1)
    await until(lambda: fake.entered == 2)
    assert fake.active == 2
    fake.allow(1)  # step 2 fails
    for job, name, frames in ((a1, "a1", 1), (b1, "b1", 0)):
        audio, error = await audio_until_error(job)
        assert error is failure
        assert audio == spoken(name, frames)
    assert fake.log.count(("reset",)) == 1
    assert fake.log.index(("reset",)) == fake.log.index(("step", 2, frozenset({"a1", "b1"}))) + 1
    assert fake.active == 0
    fake.run_freely()
    c1 = submit(scheduler, "c1:3")
    assert await audio_of(c1) == spoken("c1", 3)
    assert fake.batches()[2:] == [frozenset({"c1"})] * 3
    assert not any(entry[0] == "cancel" for entry in fake.log)


# Shutdown and hot-added models.


async def test_close_cancels_everything_and_stops_the_worker(make) -> None:
    # Catches a close that leaves waiting jobs hanging, a running job still in the backend, or
    # the worker thread alive.
    scheduler, fake = make(capacity=1, paced=True)
    a1 = submit(scheduler, "a1:inf")  # it never finishes: a2 and b1 cannot start before close
    await until(lambda: fake.entered == 1)
    a2 = submit(scheduler, "a2:1")
    b1 = submit(scheduler, "b1:1")
    (worker,) = fake.threads
    fake.run_freely()
    scheduler.close(timeout=TIMEOUT)
    assert not worker.is_alive()
    for job in (a1, a2, b1):
        _, error = await audio_until_error(job)
        assert isinstance(error, SynthesisCancelled), job.request.text
    assert fake.starts() == ["a1"]
    assert fake.log[-1] == ("cancel", "a1")
    assert fake.active == 0
    with pytest.raises(RuntimeError):
        submit(scheduler, "c1:1")


async def test_close_of_an_idle_scheduler_stops_its_worker(make) -> None:
    # Catches a worker blocked waiting for work that close cannot wake.
    scheduler, fake = make(capacity=1)
    assert await audio_of(submit(scheduler, "a1:1")) == spoken("a1", 1)
    (worker,) = fake.threads
    scheduler.close(timeout=TIMEOUT)
    assert not worker.is_alive()


def alive(name: str) -> int:
    return sum(thread.name == name for thread in threading.enumerate())


async def test_add_backends_starts_new_workers_and_keeps_existing_ones(make) -> None:
    # Catches add_backends replacing a running worker (two threads driving models, or jobs of
    # an existing key going to the new backend) or not starting one for a new key.
    scheduler, first = make(capacity=1)
    assert await audio_of(submit(scheduler, "a1:2@one")) == spoken("a1", 2)
    (worker_one,) = first.threads
    workers_one, workers_two = alive("model-one"), alive("model-two")
    replacement = FakeBackend(capacity=1)
    second = FakeBackend(capacity=1)
    make.fakes.extend([replacement, second])
    scheduler.add_backends({"one": replacement, "two": second})
    assert alive("model-one") == workers_one  # no second worker for an existing key
    assert alive("model-two") == workers_two + 1
    one = submit(scheduler, "b1:2@one")
    two = submit(scheduler, "c1:3@two")
    assert await audio_of(one) == spoken("b1", 2)
    assert await audio_of(two) == spoken("c1", 3)
    assert first.starts() == ["a1", "b1"]
    assert first.threads == {worker_one}
    assert replacement.log == []
    assert second.starts() == ["c1"]
    (worker_two,) = second.threads
    assert worker_two.name == "model-two" and worker_two is not worker_one
    scheduler.add_backends({"two": FakeBackend(capacity=1)})  # again: nothing changes
    assert alive("model-two") == workers_two + 1
    scheduler.close(timeout=TIMEOUT)
    assert not worker_one.is_alive()
    assert not worker_two.is_alive()


# A buggy backend does not take the worker down.


async def test_a_failing_cancel_still_cancels_and_the_worker_goes_on(make) -> None:
    # Catches an exception from backend.cancel that kills the worker thread: every later job
    # of that model would hang.
    scheduler, fake = make(capacity=1, paced=True, fail_cancel={"a1": RuntimeError("bug")})
    a1 = submit(scheduler, "a1:inf")
    await until(lambda: fake.entered == 1)
    a1.cancel()
    fake.run_freely()
    _, error = await audio_until_error(a1)
    assert isinstance(error, SynthesisCancelled)
    b1 = submit(scheduler, "b1:2")
    assert await audio_of(b1) == spoken("b1", 2)


async def test_a_stray_finished_handle_is_ignored(make) -> None:
    # Catches a KeyError on a handle the backend was never given, outside the step's error
    # handling: it killed the worker thread.
    scheduler, fake = make(capacity=1, stray_at_step=1)
    a1 = submit(scheduler, "a1:3")
    assert await audio_of(a1) == spoken("a1", 3)
    assert await audio_of(submit(scheduler, "b1:1")) == spoken("b1", 1)


async def test_an_answers_turn_is_forgotten_when_it_has_nothing_left(make) -> None:
    # Catches the fairness clock keeping answers that failed to start or were cancelled
    # while waiting (one entry per answer ever served: a slow leak).
    scheduler, fake = make(capacity=1, gate=threading.Event(), fail_start={"a1": ValueError()})
    a1 = submit(scheduler, "a1:1")
    b1 = submit(scheduler, "b1:1")
    b2 = submit(scheduler, "b2:1")
    b2.cancel()
    fake.gate.set()
    await audio_until_error(a1)
    assert await audio_of(b1) == spoken("b1", 1)
    await audio_until_error(b2)
    await until(lambda: not scheduler._workers["one"]._last_served)


async def test_no_backend_is_added_after_close(make) -> None:
    # Catches a worker started after close: it never gets the stop signal and leaks.
    scheduler, _ = make()
    scheduler.close(timeout=TIMEOUT)
    with pytest.raises(RuntimeError, match="shutting down"):
        scheduler.add_backends({"two": FakeBackend()})
