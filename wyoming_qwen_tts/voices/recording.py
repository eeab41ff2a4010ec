"""Turning a recording into a good reference clip for a cloned voice.

What ``voice add`` and ``voice design`` store: mono, 24 kHz (the codec's and the speaker
encoder's rate, so the server never resamples), leading and trailing silence trimmed, then about
half a second of silence appended, because in ICL mode the model otherwise tends to continue the
reference's last sound. The speech must last 3 s or more (a shorter clip captures too little of
the voice) and fit, with its tail, the server's 30 s limit.

A recording is first judged by its header, so that a file of hours is refused unread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import soxr

from wyoming_qwen_tts.audio.pcm import SAMPLE_RATE
from wyoming_qwen_tts.voices.reference import MAX_REFERENCE_SECONDS, audio_header
from wyoming_qwen_tts.voices.voice import VoiceError

MIN_SPEECH_SECONDS = 3.0
TAIL_SILENCE_SECONDS = 0.5
MAX_SPEECH_SECONDS = MAX_REFERENCE_SECONDS - TAIL_SILENCE_SECONDS
MAX_RECORDING_SECONDS = 120.0
"""Longer recordings are refused before reading: the speech in them cannot fit."""
MIN_RECORDING_RATE = 8_000
MAX_RECORDING_SAMPLES = 16 * 1024 * 1024
"""Samples over all channels read at most (64 MiB as float32)."""

_FRAME_SECONDS = 0.02
_SILENCE_BELOW_DB = -40.0
"""A 20 ms frame this far below the loudest frame counts as silence."""
_SILENCE_PEAK = 1e-3
_LEAD_SECONDS = 0.05
_TRAIL_SECONDS = 0.1
"""Kept around the speech, so that soft onsets and word ends are not cut."""


def read_recording(path: Path) -> tuple[np.ndarray, int]:
    """A recording as mono float32 and its rate; refuses what cannot be a reference, by its
    header where it can."""
    header = audio_header(path)
    if header.sample_rate < MIN_RECORDING_RATE:
        raise VoiceError(
            f"{path.name} is sampled at {header.sample_rate} Hz, too low for speech; record at "
            f"{MIN_RECORDING_RATE} Hz or more (24000 Hz is ideal)"
        )
    if header.seconds > MAX_RECORDING_SECONDS:
        raise VoiceError(
            f"{path.name} is {_clock(header.seconds)} long; a voice needs "
            f"{MIN_SPEECH_SECONDS:g} to {MAX_SPEECH_SECONDS:g} s of one person speaking: cut "
            "those seconds out first (for example with Audacity, or ffmpeg -ss START -t 20)"
        )
    if header.frames * header.channels > MAX_RECORDING_SAMPLES:
        raise VoiceError(
            f"{path.name} has {header.channels} channels at {header.sample_rate} Hz, too much "
            "data for a short voice clip; export it as mono WAV"
        )
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as err:
        raise VoiceError(
            f"{path.name} is not a readable audio file ({err}); save the recording as WAV"
        ) from err
    return np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32), int(rate)


def prepare_reference(audio: np.ndarray, sample_rate: int, what: str) -> np.ndarray:
    """``audio`` as a reference clip: 24 kHz, silence trimmed, half a second of silence
    appended. ``what`` names the audio in errors ("grandma.wav")."""
    if audio.ndim != 1:
        raise ValueError("audio must be mono (1-D)")
    if not np.isfinite(audio).all():
        raise VoiceError(f"{what} contains invalid (NaN or infinite) samples; export it again")
    if sample_rate != SAMPLE_RATE and audio.size:
        audio = soxr.resample(audio.astype(np.float32), sample_rate, SAMPLE_RATE, quality="HQ")
    audio = np.asarray(audio, dtype=np.float32)
    if not audio.size or float(np.abs(audio).max()) < _SILENCE_PEAK:
        raise VoiceError(f"{what} is silent; record the voice again")
    speech = _trim_silence(audio)
    seconds = speech.size / SAMPLE_RATE
    if seconds < MIN_SPEECH_SECONDS:
        raise VoiceError(
            f"{what} holds {seconds:.1f} s of speech once silence is trimmed; a voice needs at "
            f"least {MIN_SPEECH_SECONDS:g} s: record a sentence or two more"
        )
    if seconds > MAX_SPEECH_SECONDS:
        raise VoiceError(
            f"{what} holds {seconds:.1f} s of speech once silence is trimmed; a voice takes at "
            f"most {MAX_SPEECH_SECONDS:g} s: cut it to a few sentences"
        )
    tail = np.zeros(round(TAIL_SILENCE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    return np.concatenate([np.clip(speech, -1.0, 1.0), tail])


def _trim_silence(audio: np.ndarray) -> np.ndarray:
    frame = round(_FRAME_SECONDS * SAMPLE_RATE)
    frames = max(1, audio.size // frame)
    padded = np.zeros(frames * frame, dtype=np.float32)
    padded[: min(audio.size, padded.size)] = audio[: padded.size]
    levels = np.sqrt(np.mean(padded.reshape(frames, frame) ** 2, axis=1))
    threshold = max(float(levels.max()) * 10 ** (_SILENCE_BELOW_DB / 20), _SILENCE_PEAK / 4)
    loud = np.flatnonzero(levels >= threshold)
    start = max(0, int(loud[0]) * frame - round(_LEAD_SECONDS * SAMPLE_RATE))
    end = min(audio.size, (int(loud[-1]) + 1) * frame + round(_TRAIL_SECONDS * SAMPLE_RATE))
    return audio[start:end]


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
