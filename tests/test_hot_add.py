"""Voices dropped into (or removed from) the voices dir while the real server runs."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from wyoming_qwen_tts.app.compose import load_options
from wyoming_qwen_tts.audio.pcm import pcm16_to_float
from wyoming_qwen_tts.engine.compat import import_qwen_tts
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.text.sentences import frame_budget

from .wyoming_server import RunningServer, audio_of, read_until, start_server, write_reference

SEED = 8
POLL = 0.2


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hot_voices")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    custom_voice_checkpoint: Path,
    base_checkpoint: Path,
    voices: Path,
) -> RunningServer:
    # No cloned voice at start: the Base model is not loaded until one appears.
    running = start_server(
        [
            "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu", "--seed", str(SEED),
            "--loudness-target", "off",  # cloned voices as upstream speaks them
            "--custom-voice-model", str(custom_voice_checkpoint),
            "--base-model", str(base_checkpoint), "--voices-dir", str(voices),
            "--voices-poll-interval", str(POLL),
            "--cache-dir", str(tmp_path_factory.mktemp("hot_cache")),
        ],
        tmp_path_factory.mktemp("hot_server") / "server.log",
    )  # fmt: skip
    yield running
    running.stop()


async def describe(server: RunningServer) -> dict:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, ("info",)))[-1])
    return {voice.name: voice for voice in info.tts[0].voices}


async def wait_for_voices(server: RunningServer, present: bool, *names: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        voices = await describe(server)
        if all((name in voices) is present for name in names):
            return voices
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"{names} still {'missing' if present else 'listed'}:\n{server.log()[-3000:]}"
    )


async def speak(server: RunningServer, text: str, voice: str) -> list:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        return await read_until(client, ("audio-stop", "error"))


def upstream_clone(checkpoint: Path, text: str, clip: Path, transcript: str) -> np.ndarray:
    model = import_qwen_tts().Qwen3TTSModel.from_pretrained(
        str(checkpoint), device_map="cpu", dtype=torch.float32
    )
    reference, rate = soundfile.read(str(clip), dtype="float32")
    torch.manual_seed(SEED)
    wavs, _ = model.generate_voice_clone(
        text, ref_audio=(reference, rate), ref_text=transcript, max_new_tokens=frame_budget(text)
    )
    return wavs[0]


async def test_a_dropped_voice_appears_speaks_changes_and_disappears(
    server: RunningServer, voices: Path, base_checkpoint: Path, tmp_path: Path
) -> None:
    before = await describe(server)
    assert set(before) == {"vivian", "ryan", "ono_anna", "dylan"}
    assert before["ryan"].speakers is None  # a 0.6B checkpoint ignores styles: none offered
    assert "Loading the Base model" not in server.log()

    # Copied in the way a user does: the clip first, its transcript a moment later.
    write_reference(tmp_path / "newbie.wav", 3.0, seed=4)
    shutil.copy(tmp_path / "newbie.wav", voices / "newbie.wav")
    server.wait_for_log(r"cloned voice 'newbie': missing transcript newbie\.txt")
    assert "newbie" not in await describe(server)
    (voices / "newbie.txt").write_text("Hello, I am the new voice here.")
    listed = await wait_for_voices(server, True, "newbie")
    log = server.log()
    assert "Loading the Base model" in log and "Cloned voice 'newbie' was added" in log
    assert listed["newbie"].languages == [
        "zh",
        "en",
        "ja",
        "ko",
        "de",
        "fr",
        "ru",
        "pt",
        "es",
        "it",
    ]

    text = "The front door is open."
    events = await speak(server, text, "newbie")
    expected = upstream_clone(
        base_checkpoint, text, voices / "newbie.wav", "Hello, I am the new voice here."
    )
    ours = pcm16_to_float(audio_of(events))
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= 1e-4

    # A broken file next to it is named in the log and never offered.
    (voices / "junk.wav").write_bytes(b"RIFF....WAVE but not really" * 10)
    (voices / "junk.txt").write_text("Junk.")
    server.wait_for_log(r"Skipping cloned voice 'junk': junk\.wav is not a readable audio file")

    # A changed language is picked up (the prompt comes from the cache).
    (voices / "newbie.yaml").write_text("language: de\n")
    server.wait_for_log(r"Cloned voice 'newbie' was changed")
    assert (await wait_for_voices(server, True, "newbie"))["newbie"].languages == ["de"]

    for suffix in (".wav", ".txt", ".yaml"):
        (voices / f"newbie{suffix}").unlink()
    after = await wait_for_voices(server, False, "newbie")
    assert "junk" not in after
    server.wait_for_log(r"Cloned voice 'newbie' was removed")
    events = await speak(server, text, "newbie")
    assert [e.type for e in events] == ["error"]
    assert "voice 'newbie' not found" in events[0].data["text"]


async def test_preparing_a_voice_does_not_disturb_speech_under_way(
    server: RunningServer, voices: Path
) -> None:
    text = " ".join(
        f"This is sentence number {i}, spoken while a voice is added." for i in range(4)
    )
    alone = audio_of(await speak(server, text, "dylan"))

    async def add_voices() -> None:
        for i in range(2):
            write_reference(voices / f"late{i}.wav", 4.0, seed=10 + i)
            (voices / f"late{i}.txt").write_text(f"I am late voice number {i}.")
            await asyncio.sleep(POLL * 2)

    speaking = asyncio.create_task(speak(server, text, "dylan"))
    await add_voices()
    during = audio_of(await speaking)
    await wait_for_voices(server, True, "late0", "late1")
    # the codec decoder is shared: priming the new voices must not leak into the stream
    assert during == alone


def test_the_shared_codec_decoder_is_safe_across_threads(custom_voice_checkpoint: Path) -> None:
    """A voice primed on one thread while a stream decodes on another: both stay exact."""
    import sys
    import threading

    from wyoming_qwen_tts.engine.model import QwenModel

    model = QwenModel.load(str(custom_voice_checkpoint), load_options(Settings(device="cpu", max_batch=1)))
    generator = torch.Generator().manual_seed(1)
    codes = [torch.randint(0, 2048, (48, 16), generator=generator) for _ in range(2)]

    def decode(index: int, out: dict) -> None:
        stream = model.codec.new_stream()
        out[index] = torch.cat([stream.decode(codes[index][i : i + 2]) for i in range(0, 48, 2)])

    alone: dict = {}
    for index in range(2):
        decode(index, alone)
    together: dict = {}
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=decode, args=(i, together)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    for index in range(2):
        assert torch.equal(together[index], alone[index])
