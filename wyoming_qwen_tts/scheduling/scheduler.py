"""Drives each model's batch on its own worker thread, fairly between rooms.

Handlers on the event loop submit one job per sentence as soon as the sentence is known, tagged
with the answer it belongs to, and read each job's audio later, in order. A model's worker keeps
its batch full: whenever there is room it starts the next sentence of the answer served least
recently (so a new answer gets its first audio before anyone's second sentence), at most one
sentence per answer at a time (so each answer is spoken in order). Every step advances all
started sentences by one frame. A cancelled job leaves the batch before the next step.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Protocol

from wyoming_qwen_tts.engine.interface import SynthesisBackend, SynthesisCancelled, SynthesisRequest

_LOGGER = logging.getLogger(__name__)

DONE = object()
"""Put after a job's last audio (``queued_audio``)."""


async def queued_audio(items: asyncio.Queue[object]) -> AsyncIterator[bytes]:
    """A job's PCM from its queue until ``DONE``; an exception in the queue is raised."""
    while (item := await items.get()) is not DONE:
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, bytes)
        yield item


class SpeechJob(Protocol):
    """One submitted sentence, local or remote: iterate ``audio()`` on the event loop."""

    @property
    def cancelled(self) -> bool: ...

    def cancel(self) -> None: ...

    def audio(self) -> AsyncIterator[bytes]: ...


class RemoteEngines(Protocol):
    """The remotes (``remote.pool.RemotePool``), for voices a remote speaks."""

    def submit(self, request: SynthesisRequest, group: Hashable) -> SpeechJob: ...


class Job:
    """One submitted sentence: iterate ``audio()`` on the event loop to get its PCM."""

    def __init__(
        self, request: SynthesisRequest, group: Hashable, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.request = request
        self.group = group
        self._loop = loop
        self._items: asyncio.Queue[object] = asyncio.Queue()
        self._cancel = threading.Event()
        self.pcm_bytes = 0
        """Audio written so far (by the worker thread)."""

    # AudioSink, called from the worker thread.
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def write(self, pcm: bytes) -> None:
        self.pcm_bytes += len(pcm)
        self._put(pcm)

    def cancel(self) -> None:
        self._cancel.set()

    def audio(self) -> AsyncIterator[bytes]:
        """The job's PCM as it is produced; raises what synthesis raised."""
        return queued_audio(self._items)

    def _finish(self, error: BaseException | None = None) -> None:
        self._put(DONE if error is None else error)

    def _put(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self._cancel.set()


@dataclass
class WorkerStats:
    """What one backend's worker has done, read by the metrics at scrape time."""

    step_seconds: float = 0.0
    """Time spent in the backend's steps."""
    audio_bytes: int = 0
    """PCM its steps produced."""
    waiting: int = 0
    active: int = 0
    capacity: int = 0


class _Worker:
    """The thread that owns one backend."""

    def __init__(self, name: str, backend: SynthesisBackend) -> None:
        self.backend = backend
        self.stats = WorkerStats(capacity=backend.capacity)
        self.inbox: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._waiting: dict[Hashable, deque[Job]] = {}
        self._last_served: dict[Hashable, int] = {}
        self._clock = itertools.count()
        self._running: dict[Job, object] = {}
        self._jobs_by_handle: dict[int, Job] = {}
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def _serve(self) -> None:
        while self._receive(block=not self._running and not self._waiting):
            self._drop_cancelled()
            self._admit()
            self.stats.waiting = sum(len(jobs) for jobs in self._waiting.values())
            self.stats.active = len(self._running)
            if self._running:
                self._step()
                self.stats.active = len(self._running)
        self._stop_all()

    def _receive(self, block: bool) -> bool:
        """Moves submitted jobs to the waiting lists; False once the scheduler closes."""
        try:
            job = self.inbox.get(block=block)
            while True:
                if job is None:
                    return False
                self._waiting.setdefault(job.group, deque()).append(job)
                job = self.inbox.get_nowait()
        except queue.Empty:
            return True

    def _drop_cancelled(self) -> None:
        for group, jobs in list(self._waiting.items()):
            for job in [j for j in jobs if j.cancelled]:
                jobs.remove(job)
                job._finish(SynthesisCancelled())
            if not jobs:
                del self._waiting[group]
                self._forget_if_idle(group)
        for job in [j for j in self._running if j.cancelled]:
            self._cancel_running(job)

    def _cancel_running(self, job: Job) -> None:
        try:
            self.backend.cancel(self._running[job])
        except Exception:  # noqa: BLE001 - the job leaves all the same; the worker goes on
            _LOGGER.exception("Cancelling %r failed", job.request.text[:80])
        self._done(job, SynthesisCancelled())

    def _admit(self) -> None:
        busy = {job.group for job in self._running}
        while self.backend.active < self.backend.capacity:
            ready = [group for group in self._waiting if group not in busy]
            if not ready:
                return
            group = min(ready, key=lambda g: self._last_served.get(g, -1))
            jobs = self._waiting[group]
            job = jobs.popleft()
            if not jobs:
                del self._waiting[group]
            self._last_served[group] = next(self._clock)
            try:
                handle = self.backend.start(job.request, job)
            except Exception as err:  # noqa: BLE001 - this request fails; the others go on
                _LOGGER.exception("Could not start %r", job.request.text[:80])
                job._finish(err)
                self._forget_if_idle(group)
                continue
            self._running[job] = handle
            self._jobs_by_handle[id(handle)] = job
            busy.add(group)

    def _step(self) -> None:
        before = sum(job.pcm_bytes for job in self._running)
        started = time.perf_counter()
        try:
            finished = self.backend.step()
        except Exception as err:  # noqa: BLE001 - e.g. out of memory: fail these, recover
            _LOGGER.exception("Synthesis failed; resetting the batch")
            self.backend.reset()
            for job in list(self._running):
                self._done(job, err)
            return
        finally:
            self.stats.step_seconds += time.perf_counter() - started
        self.stats.audio_bytes += sum(job.pcm_bytes for job in self._running) - before
        for handle in finished:
            job = self._jobs_by_handle.get(id(handle))
            if job is None:
                _LOGGER.error("The backend finished a request it was not given: %r", handle)
                continue
            self._done(job)

    def _done(self, job: Job, error: BaseException | None = None) -> None:
        handle = self._running.pop(job)
        del self._jobs_by_handle[id(handle)]
        self._forget_if_idle(job.group)
        job._finish(error)

    def _forget_if_idle(self, group: Hashable) -> None:
        """Drops an answer's turn once it has nothing waiting or running."""
        if group not in self._waiting and not any(j.group == group for j in self._running):
            self._last_served.pop(group, None)

    def _stop_all(self) -> None:
        for job in list(self._running):
            self._cancel_running(job)
        for jobs in self._waiting.values():
            for job in jobs:
                job._finish(SynthesisCancelled())
        self._waiting.clear()


class Scheduler:
    """Routes each request to the worker of its model, or to the remotes for a remote voice."""

    def __init__(
        self,
        backends: Mapping[Hashable, SynthesisBackend],
        route: Callable[[SynthesisRequest], Hashable],
        remote: RemoteEngines | None = None,
    ) -> None:
        self._route = route
        self._remote = remote
        self._workers = {key: _Worker(f"model-{key}", backend) for key, backend in backends.items()}
        for worker in self._workers.values():
            worker.thread.start()
        self._closed = False

    def add_backends(self, backends: Mapping[Hashable, SynthesisBackend]) -> None:
        """Starts a worker for each backend that appeared after start (a model loaded later)."""
        if self._closed:
            raise RuntimeError("the server is shutting down")
        for key, backend in backends.items():
            if key not in self._workers:
                worker = _Worker(f"model-{key}", backend)
                worker.thread.start()
                self._workers[key] = worker

    def submit(self, request: SynthesisRequest, group: Hashable) -> SpeechJob:
        """Queues one sentence of the answer ``group``."""
        if self._closed:
            raise RuntimeError("the server is shutting down")
        if request.voice.remote:
            if self._remote is None:
                raise RuntimeError(f"voice '{request.voice.name}' is remote, and no remote is set")
            return self._remote.submit(request, group)
        job = Job(request, group, asyncio.get_running_loop())
        self._workers[self._route(request)].inbox.put(job)
        return job

    def stats(self) -> dict[Hashable, WorkerStats]:
        """Each backend's worker's figures (read without locking: a scrape may be a step old)."""
        return {key: worker.stats for key, worker in self._workers.items()}

    def close(self, timeout: float = 1.0) -> None:
        """Cancels everything and stops the workers."""
        self._closed = True
        for worker in self._workers.values():
            worker.inbox.put(None)
        for worker in self._workers.values():
            worker.thread.join(timeout)
