"""Which remote speaks each sentence, and in what order: the pool over remotes whose speech is
controlled by the test (each sentence waits until the test lets it finish)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from wyoming_qwen_tts.engine.interface import SynthesisRequest
from wyoming_qwen_tts.remote.pool import AHEAD, RemotePool
from wyoming_qwen_tts.remote.server import RemoteError, RemoteServer, RemoteUnavailable
from wyoming_qwen_tts.voices.voice import Voice, VoiceKind

RYAN = Voice(name="ryan", kind=VoiceKind.PREMIUM, description="", remote=True)
OMA = Voice(name="oma", kind=VoiceKind.CLONE, description="", remote=True)


class Controlled(RemoteServer):
    """A remote whose sentences end when the test says (``finish``), or fail (``fail``)."""

    def __init__(self, name: str, voices: tuple[Voice, ...] = (RYAN,)) -> None:
        super().__init__(f"http://{name}/v1", token=None, timeout=1.0)
        self.offer = voices
        self.started: list[str] = []
        self.gates: dict[str, asyncio.Future[Exception | None]] = {}
        self.down = False
        self.closed: list[str] = []

    async def check(self) -> None:
        if self.down:
            raise RemoteUnavailable("down")
        self.voices = {voice.name: voice for voice in self.offer}
        self.model = "m"

    async def speak(self, request: SynthesisRequest) -> AsyncIterator[bytes]:
        self.started.append(request.text)
        gate = self.gates[request.text] = asyncio.get_running_loop().create_future()
        try:
            yield b"\x01\x00"
            outcome = await gate
        finally:
            self.closed.append(request.text)
        if outcome is not None:
            raise outcome

    def finish(self, text: str, error: Exception | None = None) -> None:
        self.gates[text].set_result(error)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def pool_of(*servers: Controlled, max_requests: int = 8) -> RemotePool:
    pool = RemotePool(list(servers), max_requests=max_requests)
    await pool.start(wait=1.0)
    return pool


def submit(pool: RemotePool, text: str, group: str, voice: Voice = RYAN):  # noqa: ANN201
    return pool.submit(SynthesisRequest(text=text, voice=voice), group=group)


async def drain(job) -> bytes:  # noqa: ANN001
    return b"".join([pcm async for pcm in job.audio()])


async def test_voices_are_the_union_of_the_remotes_that_are_up() -> None:
    a, b = Controlled("a"), Controlled("b", (RYAN, OMA))
    pool = await pool_of(a, b)
    assert {v.name for v in pool.voices} == {"ryan", "oma"}
    b.down = True
    await pool._check(b)
    assert {v.name for v in pool.voices} == {"ryan"}
    await pool.close()


async def test_an_answer_has_two_sentences_in_flight_and_keeps_its_order() -> None:
    a = Controlled("a")
    pool = await pool_of(a)
    jobs = [submit(pool, f"s{n}", "room") for n in range(4)]
    await settle()
    assert a.started == ["s0", "s1"] and AHEAD == 2
    a.finish("s0")
    await settle()
    assert a.started == ["s0", "s1", "s2"]
    for n in (1, 2, 3):
        await settle()
        a.finish(f"s{n}")
    assert [await drain(job) for job in jobs] == [b"\x01\x00"] * 4
    await pool.close()


async def test_a_new_rooms_first_sentence_goes_before_anyones_second() -> None:
    a = Controlled("a")
    pool = await pool_of(a, max_requests=1)
    submit(pool, "r1 first", "r1")
    submit(pool, "r1 second", "r1")
    await settle()
    submit(pool, "r2 first", "r2")
    a.finish("r1 first")
    await settle()
    assert a.started == ["r1 first", "r2 first"]
    a.finish("r2 first")
    await settle()
    assert a.started[-1] == "r1 second"
    await pool.close()


async def test_least_outstanding_wins_and_an_answer_stays_on_its_remote() -> None:
    a, b = Controlled("a"), Controlled("b")
    pool = await pool_of(a, b)
    submit(pool, "x1", "x")
    submit(pool, "x2", "x")
    await settle()
    assert a.started == ["x1", "x2"] and b.started == []  # sticky, though b is idle
    submit(pool, "y1", "y")
    await settle()
    assert b.started == ["y1"]  # a has two outstanding, b none
    await pool.close()


async def test_a_failure_before_the_first_byte_is_retried_once_on_another_remote() -> None:
    class Refusing(Controlled):
        async def speak(self, request: SynthesisRequest) -> AsyncIterator[bytes]:
            self.started.append(request.text)
            raise RemoteUnavailable("connection refused")
            yield b""

    a, b = Refusing("a"), Controlled("b")
    pool = await pool_of(a, b)
    job = submit(pool, "hello", "room")
    await settle()
    assert a.started == ["hello"] and b.started == ["hello"]
    assert not a.up
    b.finish("hello")
    assert await drain(job) == b"\x01\x00"
    await pool.close()


async def test_a_failure_after_audio_is_not_retried() -> None:
    a, b = Controlled("a"), Controlled("b")
    pool = await pool_of(a, b)
    job = submit(pool, "hello", "room")
    await settle()
    a.finish("hello", RemoteUnavailable("stalled"))
    with pytest.raises(RemoteUnavailable, match="stalled"):
        await drain(job)
    assert b.started == []
    await pool.close()


async def test_a_refusal_is_not_retried_and_says_why() -> None:
    a, b = Controlled("a"), Controlled("b")
    pool = await pool_of(a, b)
    job = submit(pool, "hello", "room")
    await settle()
    a.gates["hello"].set_result(RemoteError("voice 'ryan' not found"))
    with pytest.raises(RemoteError, match="not found"):
        await drain(job)
    await pool.close()


async def test_a_voice_no_remote_offers_fails_at_once() -> None:
    pool = await pool_of(Controlled("a"))
    with pytest.raises(RemoteError, match="'oma' is not offered by any remote"):
        await drain(submit(pool, "hello", "room", OMA))
    await pool.close()


async def test_cancel_closes_the_request_under_way() -> None:
    a = Controlled("a")
    pool = await pool_of(a)
    job = submit(pool, "hello", "room")
    await settle()
    task = job.task
    job.cancel()
    await settle()
    assert task is not None and task.cancelled()
    assert a.closed == ["hello"] and a.outstanding == 0
    await pool.close()
