"""Many rooms at once: fairness, batching, cancellation, recovery and memory."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
import torch
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from wyoming_qwen_tts.app.compose import load_options
from wyoming_qwen_tts.engine.engine import Engine
from wyoming_qwen_tts.engine.interface import ModelKind, SynthesisRequest
from wyoming_qwen_tts.engine.model import GenerationInput, QwenModel
from wyoming_qwen_tts.scheduling.scheduler import Scheduler
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.voices.voice import premium_voice

from .wyoming_server import RunningServer, audio_of, read_until, start_server

SEED = 5
ROOM_TEXTS = [
    f"Room {name} has a message. The lights are on in the {name}." for name in
    ("kitchen", "garage", "office", "hallway", "bedroom", "attic", "cellar", "porch")
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, custom_voice_checkpoint: Path) -> RunningServer:
    running = start_server(
        [
            "--uri", "tcp://127.0.0.1:0",
            "--custom-voice-model", str(custom_voice_checkpoint),
            "--no-zeroconf", "--device", "cpu", "--seed", str(SEED),
            "--max-batch", "4", "--debug",
        ],
        tmp_path_factory.mktemp("rooms") / "server.log",
    )  # fmt: skip
    yield running
    running.stop()


def server_rss_kib(server: RunningServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


async def stream_room(server: RunningServer, text: str, marks: dict[str, float]) -> bytes:
    """Speaks like Home Assistant: mid-word chunks, the compatibility synthesize, stop."""
    async with AsyncTcpClient(server.host, server.port) as client:
        voice = SynthesizeVoice(name="ryan")
        await client.write_event(SynthesizeStart(voice=voice).event())
        for start in range(0, len(text), 9):
            await client.write_event(SynthesizeChunk(text=text[start : start + 9]).event())
        await client.write_event(Synthesize(text=text, voice=voice).event())
        await client.write_event(SynthesizeStop().event())
        marks["sent"] = time.monotonic()
        first = await read_until(client, ("audio-chunk",), timeout=120)
        marks["first_audio"] = time.monotonic()
        rest = await read_until(client, ("synthesize-stopped",), timeout=120)
        marks["done"] = time.monotonic()
    return audio_of(first + rest)


async def speak_alone(server: RunningServer, text: str) -> bytes:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name="ryan")).event())
        return audio_of(await read_until(client, ("audio-stop",), timeout=120))


async def describe_latencies(server: RunningServer, stop: asyncio.Event) -> list[float]:
    latencies = []
    while not stop.is_set() and len(latencies) < 500:
        async with AsyncTcpClient(server.host, server.port) as client:
            started = time.monotonic()
            await client.write_event(Describe().event())
            await read_until(client, ("info",), timeout=5)
            latencies.append(time.monotonic() - started)
        await asyncio.sleep(0.05)
    return latencies


async def test_eight_rooms_are_served_fairly(server: RunningServer) -> None:
    marks = [dict[str, float]() for _ in ROOM_TEXTS]
    stop = asyncio.Event()
    describer = asyncio.create_task(describe_latencies(server, stop))
    rooms = []
    for text, mark in zip(ROOM_TEXTS, marks, strict=True):
        rooms.append(asyncio.create_task(stream_room(server, text, mark)))
        await asyncio.sleep(0.02)
    audio = await asyncio.gather(*rooms)
    stop.set()
    latencies = await describer

    # Every sentence of every room is spoken exactly as it is spoken alone (each sentence is
    # seeded alike, and a batch row computes what a lone request computes).
    for text, spoken in zip(ROOM_TEXTS, audio, strict=True):
        assert spoken == await speak_alone(server, text)
    last_first_audio = max(mark["first_audio"] for mark in marks)
    first_done = min(mark["done"] for mark in marks)
    print(
        f"first audio: last room after {1000 * (last_first_audio - marks[-1]['sent']):.0f} ms; "
        f"Describe max {1000 * max(latencies):.1f} ms over {len(latencies)} calls"
    )
    assert last_first_audio < first_done, "the last room waited for a whole answer"
    assert sorted(latencies)[len(latencies) // 2] < 0.1
    assert max(latencies) < 1.0


async def test_a_room_that_leaves_stops_its_generation(server: RunningServer) -> None:
    long_text = "This room asks a long question that takes a while to answer, " * 3 + "okay?"
    stayer_marks: dict[str, float] = {}
    stayer = asyncio.create_task(stream_room(server, ROOM_TEXTS[0], stayer_marks))
    async with AsyncTcpClient(server.host, server.port) as leaver:
        await leaver.write_event(Synthesize(text=long_text, voice=SynthesizeVoice(name="vivian")).event())
        await read_until(leaver, ("audio-chunk",), timeout=60)
    match = server.wait_for_log(r"Cancelled 'This room asks a long question that take' after (\d+) frames")
    frames = int(match.group(1))
    assert frames < 40, f"generation went on for {frames} frames after the client left"
    assert await stayer == await speak_alone(server, ROOM_TEXTS[0])


async def test_resident_memory_stays_flat_over_200_requests(server: RunningServer) -> None:
    for _ in range(5):
        await speak_alone(server, "Hi.")
    before = server_rss_kib(server)
    for i in range(200):
        async with AsyncTcpClient(server.host, server.port) as client:
            await client.write_event(Synthesize(text="Hi.", voice=SynthesizeVoice(name="dylan")).event())
            if i % 2:  # half of them leave mid-answer
                await read_until(client, ("audio-chunk",), timeout=60)
            else:
                await read_until(client, ("audio-stop",), timeout=60)
    await speak_alone(server, "Hi.")
    growth_mib = (server_rss_kib(server) - before) / 1024
    print(f"RSS growth over 200 requests: {growth_mib:.1f} MiB")
    # Caches are preallocated and reused; 200 requests leaking even 200 KiB each would add 40 MiB.
    assert growth_mib < 40


class FailingOnce:
    """The real model batch, with one injected failure in its n-th step (as an OOM would)."""

    def __init__(self, backend: object, fail_at: int) -> None:
        self._backend = backend
        self._steps = 0
        self._fail_at = fail_at

    def __getattr__(self, name: str) -> object:
        return getattr(self._backend, name)

    def step(self) -> list[object]:
        self._steps += 1
        if self._steps == self._fail_at:
            raise RuntimeError("CUDA out of memory (injected)")
        return self._backend.step()


async def test_worker_recovers_after_an_engine_failure(custom_voice_checkpoint: Path) -> None:
    model = QwenModel.load(str(custom_voice_checkpoint), load_options(Settings(device="cpu", max_batch=2)))
    engine = Engine({ModelKind.CUSTOM_VOICE: model}, seed=1)
    backend = FailingOnce(engine.batch(ModelKind.CUSTOM_VOICE), fail_at=3)
    scheduler = Scheduler({"cv": backend}, lambda request: "cv")
    threads_before = threading.active_count()
    try:
        request = SynthesisRequest(text="The door is open.", voice=premium_voice("ryan"))
        failing = scheduler.submit(request, group="a")
        with pytest.raises(RuntimeError, match="injected"):
            async for _ in failing.audio():
                pass
        assert model.frames.active == []
        ok = scheduler.submit(request, group="b")
        audio = b"".join([pcm async for pcm in ok.audio()])
        assert len(audio) > 0
    finally:
        scheduler.close()
    assert threading.active_count() <= threads_before


def test_batched_rows_equal_rows_generated_alone(custom_voice_checkpoint: Path) -> None:
    model = QwenModel.load(str(custom_voice_checkpoint), load_options(Settings(device="cpu", max_batch=4)))
    given = GenerationInput(language="english", speaker="ryan")

    def add(text: str) -> object:
        return model.frames.add(model.prompt(text, given, 20), torch.Generator().manual_seed(3))

    def run_alone(text: str) -> torch.Tensor:
        utterance = add(text)
        frames = []
        while not utterance.finished:
            frames.extend(codes for _, codes in model.frames.step())
        return torch.stack(frames)

    alone = {text: run_alone(text) for text in ROOM_TEXTS[:4]}
    together: dict[int, list[torch.Tensor]] = {}
    utterances = {}
    for text in ROOM_TEXTS[:4]:  # join one by one, so rows have different lengths
        utterance = add(text)
        utterances[text] = utterance
        together[id(utterance)] = []
        for u, codes in model.frames.step():
            together[id(u)].append(codes)
    while model.frames.active:
        for u, codes in model.frames.step():
            together[id(u)].append(codes)
    for text, utterance in utterances.items():
        assert torch.equal(torch.stack(together[id(utterance)]), alone[text])
