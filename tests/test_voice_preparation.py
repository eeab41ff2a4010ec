"""Preparing a cloned voice never runs on a model's worker thread, and never holds a batch up."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from wyoming_qwen_tts.app.compose import load_options, local_engine
from wyoming_qwen_tts.app.library import VoiceLibrary
from wyoming_qwen_tts.engine.interface import ModelKind, SynthesisRequest
from wyoming_qwen_tts.scheduling.scheduler import Scheduler
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.voices.voice import CloneReference, Voice, VoiceError, VoiceKind

from .wyoming_server import write_reference

LONG = " ".join(["The kitchen lights are on and the oven is warming up for dinner."] * 3)


@pytest.fixture
def library(
    tmp_path: Path, custom_voice_checkpoint: Path, base_checkpoint: Path
) -> VoiceLibrary:
    voices = tmp_path / "voices"
    voices.mkdir()
    settings = Settings(
        custom_voice_model=str(custom_voice_checkpoint),
        base_model=str(base_checkpoint),
        voices_dir=voices,
        cache_dir=tmp_path / "cache",
        device="cpu",
        seed=3,
        max_batch=2,
    )
    _clone(voices, "first")  # so that the Base model is loaded at start
    library = VoiceLibrary(local_engine(settings), settings, load_options(settings))
    library.refresh()
    return library


def _record_threads(library: VoiceLibrary, gate: threading.Event | None = None) -> list[str]:
    """Wraps the Base model's clone-prompt computation: records the threads that run it, and
    holds each run until ``gate`` is set."""
    base = library.engine.models[ModelKind.BASE]
    threads: list[str] = []
    original = base.clone_prompt

    def clone_prompt(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        threads.append(threading.current_thread().name)
        if gate is not None:
            assert gate.wait(30), "the test never released the preparation"
        return original(*args, **kwargs)

    base.clone_prompt = clone_prompt  # type: ignore[method-assign]
    return threads


def _clone(folder: Path, name: str) -> Voice:
    """A new cloned voice: its own clip, so that no cached prompt serves it."""
    clip = folder / f"{name}.wav"
    write_reference(clip, 3.0, seed=len(name))
    (folder / f"{name}.txt").write_text(f"This is {name}, speaking for the first time.")
    return Voice(name, VoiceKind.CLONE, "test", reference=CloneReference(clip, "This is new."))


async def test_a_request_for_an_unprepared_clone_fails_without_preparing_it_on_the_worker(
    library: VoiceLibrary, tmp_path: Path
) -> None:
    threads = _record_threads(library)
    scheduler = Scheduler(library.backends(), library.route)
    try:
        voice = _clone(tmp_path, "stranger")
        job = scheduler.submit(SynthesisRequest(text="Hello there.", voice=voice), group="a")
        with pytest.raises(VoiceError, match="cloned voice 'stranger' is not prepared"):
            async with asyncio.timeout(30):
                async for _ in job.audio():
                    pass
    finally:
        scheduler.close()
    assert threads == []


async def test_a_batch_speaking_is_not_held_up_while_a_new_clone_is_prepared(
    library: VoiceLibrary,
) -> None:
    gate = threading.Event()
    threads = _record_threads(library, gate)
    scheduler = Scheduler(library.backends(), library.route)
    voices_dir = library.settings.voices_dir
    assert voices_dir is not None
    try:
        premium = library.catalog.resolve("ryan")
        speaking = scheduler.submit(SynthesisRequest(text=LONG, voice=premium), group="room1")
        chunks = speaking.audio()
        async with asyncio.timeout(60):
            await anext(chunks)  # the batch is speaking
            _clone(voices_dir, "newcomer")
            refresh = asyncio.create_task(asyncio.to_thread(library.refresh))
            while not threads:  # preparation has started, and waits for the gate
                assert not refresh.done(), refresh.exception()
                await asyncio.sleep(0.01)
            # The batch speaks to the end of its sentence while the preparation is held.
            async for _ in chunks:
                pass
            assert not gate.is_set()
            gate.set()
            assert await refresh
        assert threads and not any(name.startswith("model-") for name in threads)
        newcomer = library.catalog.resolve("newcomer")
        scheduler.add_backends(library.backends())
        job = scheduler.submit(SynthesisRequest(text="Hello there.", voice=newcomer), group="b")
        async with asyncio.timeout(60):
            assert [pcm async for pcm in job.audio()]
    finally:
        gate.set()
        scheduler.close()
