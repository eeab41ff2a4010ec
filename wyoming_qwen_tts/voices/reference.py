"""Reference clips of cloned voices: their digest, header and samples, checked before use."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile

from wyoming_qwen_tts.audio.loudness import measure_lufs
from wyoming_qwen_tts.voices.voice import Voice, VoiceError

MIN_REFERENCE_SECONDS = 1.0
MAX_REFERENCE_SECONDS = 30.0
MAX_REFERENCE_BYTES = 256 * 1024 * 1024
"""A reference file is hashed whole (the prompt cache's key): bigger files are refused unread."""
_SILENCE_PEAK = 1e-3


def reference_digest(path: Path) -> str:
    """The sha256 of a reference file's bytes (files over ``MAX_REFERENCE_BYTES`` are refused)."""
    _check_reference_size(path)
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _check_reference_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as err:
        raise VoiceError(
            f"{path.name} is not a readable audio file ({err}); save the recording as WAV"
        ) from err
    if size > MAX_REFERENCE_BYTES:
        raise VoiceError(
            f"{path.name} is {size / 2**20:.0f} MiB; a reference clip of at most "
            f"{MAX_REFERENCE_SECONDS:.0f} s is far smaller: cut it and save it as WAV"
        )


@dataclass(frozen=True)
class AudioHeader:
    sample_rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def audio_header(path: Path) -> AudioHeader:
    """An audio file's rate, channels and length, from its header: no sample is read."""
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as err:
        raise VoiceError(
            f"{path.name} is not a readable audio file ({err}); save the recording as WAV"
        ) from err
    if info.samplerate <= 0 or info.channels <= 0 or info.frames < 0:
        raise VoiceError(f"{path.name} has a broken header; export the recording as WAV again")
    return AudioHeader(int(info.samplerate), int(info.channels), int(info.frames))


def load_reference_audio(path: Path) -> tuple[np.ndarray, int]:
    """Reads a reference clip as mono float32, rejecting what cannot serve as a voice prompt.

    The length is checked from the header before any sample is read, so a huge file costs
    nothing.
    """
    _check_reference_size(path)
    header = audio_header(path)
    if header.seconds > MAX_REFERENCE_SECONDS:
        raise _too_long(path, header.seconds)
    try:
        samples, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as err:
        raise VoiceError(
            f"{path.name} is not a readable audio file ({err}); save the recording as WAV"
        ) from err
    mono = samples.mean(axis=1)
    seconds = mono.shape[0] / sample_rate
    if seconds < MIN_REFERENCE_SECONDS:
        raise VoiceError(
            f"{path.name} is {seconds:.2f} s long; a reference needs at least "
            f"{MIN_REFERENCE_SECONDS:.0f} s of speech"
        )
    if seconds > MAX_REFERENCE_SECONDS:
        raise _too_long(path, seconds)
    if not np.isfinite(mono).all():
        raise VoiceError(f"{path.name} contains invalid (NaN or infinite) samples; export it again")
    if float(np.abs(mono).max()) < _SILENCE_PEAK:
        raise VoiceError(f"{path.name} is silent; record the reference again")
    return np.ascontiguousarray(mono), int(sample_rate)


def _too_long(path: Path, seconds: float) -> VoiceError:
    return VoiceError(
        f"{path.name} is {seconds:.1f} s long; use a clip of at most {MAX_REFERENCE_SECONDS:.0f} s"
    )


def with_reference_measures(voice: Voice) -> Voice:
    """A cloned voice with its reference clip's digest and integrated loudness (LUFS) in its
    delivery: the loudness target's gain is worked out from them. Raises VoiceError."""
    assert voice.reference is not None
    path = voice.reference.audio_path
    samples, sample_rate = load_reference_audio(path)
    delivery = replace(
        voice.delivery,
        reference_digest=reference_digest(path),
        reference_lufs=measure_lufs(samples, sample_rate),
    )
    return replace(voice, delivery=delivery)
