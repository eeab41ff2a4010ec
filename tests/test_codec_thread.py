"""Codec chunks decoded on a thread of their own: the same audio as decoding on the model's
thread, cancellation, a failing decode, and batches, on the tiny CustomVoice checkpoint."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from wyoming_qwen_tts.app.compose import load_options
from wyoming_qwen_tts.audio.pcm import pcm16_to_float
from wyoming_qwen_tts.engine.codec import StreamingCodecDecoder
from wyoming_qwen_tts.engine.engine import Engine, ModelBatch
from wyoming_qwen_tts.engine.interface import CollectingSink, ModelKind, SynthesisRequest
from wyoming_qwen_tts.engine.model import QwenModel
from wyoming_qwen_tts.scheduling.scheduler import Scheduler
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.text.sentences import frame_budget
from wyoming_qwen_tts.voices.voice import premium_voice

TEXTS = [
    "A sentence that is long enough for several chunks of audio to stream out.",
    "The kitchen lights are off now.",
    "Tomorrow it will rain in the morning and clear up later.",
]
MAX_STEPS = 2000
"""A loop that steps a batch gives up after this many steps instead of hanging."""


@pytest.fixture(scope="module")
def model(custom_voice_checkpoint: Path) -> QwenModel:
    settings = Settings(device="cpu", max_batch=3)
    return QwenModel.load(str(custom_voice_checkpoint), load_options(settings))


def request(text: str) -> SynthesisRequest:
    return SynthesisRequest(text=text, voice=premium_voice("ryan"))


def alone(model: QwenModel, text: str, decode_thread: bool = False) -> bytes:
    sink = CollectingSink()
    Engine({ModelKind.CUSTOM_VOICE: model}, seed=4, decode_thread=decode_thread).synthesize(
        request(text), sink
    )
    return sink.pcm


def step_until(batch: ModelBatch, done: Callable[[list[object]], bool]) -> None:
    for _ in range(MAX_STEPS):
        if done(batch.step()):
            return
    raise AssertionError("the batch never got there")


@pytest.fixture
def gate(model: QwenModel, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """While cleared, every chunk waits before it decodes."""
    opened = threading.Event()
    opened.set()
    original = StreamingCodecDecoder.decode_into

    def gated(self: StreamingCodecDecoder, state: object, codes: torch.Tensor) -> torch.Tensor:
        assert opened.wait(10), "the test never opened the gate"
        return original(self, state, codes)

    monkeypatch.setattr(StreamingCodecDecoder, "decode_into", gated)
    yield opened
    opened.set()


def test_a_decode_thread_speaks_what_the_models_thread_speaks(model: QwenModel) -> None:
    threaded = alone(model, TEXTS[0], decode_thread=True)
    assert threaded == alone(model, TEXTS[0], decode_thread=False)
    torch.manual_seed(4)
    wavs, _ = model.wrapper.generate_custom_voice(
        TEXTS[0], speaker="ryan", max_new_tokens=frame_budget(TEXTS[0])
    )
    assert np.abs(pcm16_to_float(threaded) - wavs[0]).max() <= 1e-4


def test_the_models_thread_does_not_wait_for_a_chunk(model: QwenModel, gate: threading.Event) -> None:
    batch = Engine({ModelKind.CUSTOM_VOICE: model}, seed=4, decode_thread=True).batch(
        ModelKind.CUSTOM_VOICE
    )
    sink = CollectingSink()
    handle = batch.start(request(TEXTS[0]), sink)
    gate.clear()
    for _ in range(6):  # past the first chunk (2 frames) and into the second
        assert batch.step() == []
    assert sink.chunks == [] and batch.active == 1
    gate.set()
    step_until(batch, lambda finished: handle in finished)
    assert sink.pcm == alone(model, TEXTS[0])
    assert not [t for t in threading.enumerate() if t.name.startswith("codec-")]


@pytest.mark.parametrize("when", ["generating", "writing"])
def test_a_cancelled_request_gets_no_more_audio(
    model: QwenModel, gate: threading.Event, when: str
) -> None:
    batch = Engine({ModelKind.CUSTOM_VOICE: model}, seed=4, decode_thread=True).batch(
        ModelKind.CUSTOM_VOICE
    )
    cancelled = CollectingSink()
    handle = batch.start(request(TEXTS[0]), cancelled)
    step_until(batch, lambda _: len(cancelled.chunks) >= 1)
    gate.clear()
    if when == "writing":  # every frame generated; the last chunks wait at the gate
        step_until(batch, lambda _: handle.utterance.finished)
    else:  # the next chunk is handed to the decoder and waits at the gate
        first = handle.last_chunk
        step_until(batch, lambda _: handle.last_chunk is not first)
        assert not handle.utterance.finished
    written = list(cancelled.chunks)
    batch.cancel(handle)
    assert batch.active == 0
    gate.set()
    other = CollectingSink()
    later = batch.start(request(TEXTS[1]), other)
    step_until(batch, lambda finished: later in finished)  # the decoder has drained
    assert cancelled.chunks == written
    assert other.pcm == alone(model, TEXTS[1])


def test_a_failing_decode_fails_its_request_and_the_next_one_speaks(
    model: QwenModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine({ModelKind.CUSTOM_VOICE: model}, seed=4, decode_thread=True)
    original = StreamingCodecDecoder.decode_into
    calls = {"n": 0}

    def failing_third_chunk(self, state, codes):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("codec exploded (injected)")
        return original(self, state, codes)

    monkeypatch.setattr(StreamingCodecDecoder, "decode_into", failing_third_chunk)

    async def run() -> bytes:
        scheduler = Scheduler({"cv": engine.batch(ModelKind.CUSTOM_VOICE)}, lambda r: "cv")
        try:
            failing = scheduler.submit(request(TEXTS[0]), group="a")
            with pytest.raises(RuntimeError, match="injected"):
                async for _ in failing.audio():
                    pass
            spoken = scheduler.submit(request(TEXTS[1]), group="b")
            return b"".join([pcm async for pcm in spoken.audio()])
        finally:
            scheduler.close()

    audio = asyncio.run(run())
    monkeypatch.setattr(StreamingCodecDecoder, "decode_into", original)
    assert audio == alone(model, TEXTS[1])
    assert model.frames.active == []


def test_a_batch_of_three_finishes_every_request_with_its_own_audio(model: QwenModel) -> None:
    batch = Engine({ModelKind.CUSTOM_VOICE: model}, seed=4, decode_thread=True).batch(
        ModelKind.CUSTOM_VOICE
    )
    sinks = [CollectingSink() for _ in TEXTS]
    handles = [batch.start(request(text), sink) for text, sink in zip(TEXTS, sinks, strict=True)]
    finished: list[object] = []

    def all_done(step: list[object]) -> bool:
        finished.extend(step)
        return len(finished) == len(handles)

    step_until(batch, all_done)
    assert sorted(map(id, finished)) == sorted(map(id, handles))
    assert batch.active == 0
    for text, sink in zip(TEXTS, sinks, strict=True):
        assert sink.pcm == alone(model, text)
