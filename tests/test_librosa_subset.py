"""The librosa subset qwen_tts gets instead of librosa: equal to librosa's own results, and all
the 12 Hz path needs, so that the image ships none of librosa's numba, llvmlite, scipy and
scikit-learn."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeVoice

from wyoming_qwen_tts.engine import librosa_subset

from .wyoming_server import audio_of, read_until, server_env, start_server

librosa = pytest.importorskip("librosa")  # the reference; in the test extra

# The speaker encoder's filterbank (a cloned voice's prompt), and the 25 Hz tokenizer's two.
MEL_SETTINGS = [
    {"sr": 24000, "n_fft": 1024, "n_mels": 128, "fmin": 0, "fmax": 12000},
    {"sr": 16000, "n_fft": 400, "n_mels": 80},
    {"sr": 16000, "n_fft": 400, "n_mels": 128, "fmin": 0, "fmax": 8000},
    {"sr": 22050, "n_fft": 2048, "n_mels": 64, "fmin": 30.0, "fmax": None},
]

# What `python -c` in the server process hides: librosa and what it brings, as in the image.
HIDE_LIBROSA = """
import importlib.machinery
import sys

HIDDEN = {"librosa", "numba", "llvmlite", "scipy", "sklearn"}


class WithoutLibrosa(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return super().find_spec(name, path, target)


sys.meta_path[sys.meta_path.index(importlib.machinery.PathFinder)] = WithoutLibrosa
"""


@pytest.mark.parametrize("settings", MEL_SETTINGS, ids=lambda s: f"{s['sr']}-{s['n_mels']}")
def test_mel_filterbank_equals_librosas(settings: dict) -> None:
    ours = librosa_subset.mel(**settings)
    theirs = librosa.filters.mel(**settings)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 44100, 48000])
@pytest.mark.parametrize("length", [1, 7, 16000, 48001])
def test_resample_equals_librosas(rate: int, length: int) -> None:
    signal = np.random.default_rng(length).standard_normal(length).astype(np.float32)
    ours = librosa_subset.resample(y=signal, orig_sr=rate, target_sr=24000)
    theirs = librosa.resample(y=signal, orig_sr=rate, target_sr=24000)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_qwen_tts_gets_the_subset_and_others_the_real_librosa() -> None:
    from wyoming_qwen_tts.engine.compat import import_qwen_tts

    import_qwen_tts()
    from qwen_tts.core.models import modeling_qwen3_tts
    from qwen_tts.inference import qwen3_tts_model, qwen3_tts_tokenizer

    assert modeling_qwen3_tts.librosa_mel_fn is librosa_subset.mel
    assert qwen3_tts_model.librosa.resample is librosa_subset.resample
    assert qwen3_tts_tokenizer.librosa.resample is librosa_subset.resample
    with pytest.raises(ImportError, match="only librosa.filters.mel and librosa.resample"):
        qwen3_tts_model.librosa.load("voice.wav")
    assert sys.modules["librosa"] is librosa


def write_clip(path: Path, rate: int, seconds: float) -> None:
    t = np.arange(int(rate * seconds)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)
    wave = 0.3 * envelope * np.sin(2 * np.pi * 190.0 * t)
    soundfile.write(str(path), wave.astype(np.float32), rate, subtype="PCM_16")


async def speak(host: str, port: int, voice: str) -> bytes:
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(
            Synthesize(text="The porch light is on.", voice=SynthesizeVoice(name=voice)).event()
        )
        events = await read_until(client, ("audio-stop", "error"))
    assert events[-1].type == "audio-stop", events[-1]
    return audio_of(events)


def test_the_server_speaks_premium_and_cloned_voices_without_librosa(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    custom_voice_checkpoint: Path,
    base_checkpoint: Path,
) -> None:
    """The whole 12 Hz path with librosa and its dependencies hidden: loading both kinds of
    model, a cloned voice's prompt from a 16 kHz clip (resampled for the codec and the speaker
    encoder's mel filterbank), and synthesis."""
    voices = tmp_path / "voices"
    voices.mkdir()
    write_clip(voices / "sixteen.wav", 16000, 3.5)
    (voices / "sixteen.txt").write_text("The porch light is on tonight.\n")
    (tmp_path / "sitecustomize.py").write_text(HIDE_LIBROSA)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # computes the prompt anew
    hidden = subprocess.run(
        [sys.executable, "-c", "import scipy"], capture_output=True, text=True, env=server_env()
    )
    assert "No module named 'scipy'" in hidden.stderr  # the server process will not see them
    server = start_server(
        [
            "--uri", "tcp://127.0.0.1:0",
            "--no-zeroconf",
            "--device", "cpu",
            "--custom-voice-model", str(custom_voice_checkpoint),
            "--base-model", str(base_checkpoint),
            "--voices-dir", str(voices),
            "--seed", "3",
        ],
        tmp_path / "server.log",
    )  # fmt: skip
    try:
        premium = asyncio.run(speak(server.host, server.port, "ryan"))
        cloned = asyncio.run(speak(server.host, server.port, "sixteen"))
    finally:
        server.stop()
    assert premium and cloned
    log = server.log()
    assert "sixteen" in log and "librosa" not in log and "Traceback" not in log
