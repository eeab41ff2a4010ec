"""What every engine offers, without torch: the backend protocol, and the local engine's
checkpoint kinds, load options and load error.

The scheduler, the voices and the composition root import this module, never the engine's torch
modules, so that they work the same with the local engine or a remote backend, and importing
them does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from wyoming_qwen_tts.voices.voice import Voice, VoiceKind


class ModelKind(StrEnum):
    CUSTOM_VOICE = "custom_voice"
    BASE = "base"
    VOICE_DESIGN = "voice_design"


MODEL_KINDS = {
    VoiceKind.PREMIUM: ModelKind.CUSTOM_VOICE,
    VoiceKind.CLONE: ModelKind.BASE,
    VoiceKind.DESIGN: ModelKind.VOICE_DESIGN,
}
"""The checkpoint kind that speaks each kind of voice."""


class ModelLoadError(Exception):
    """A checkpoint could not be loaded; the message names it and says what to do."""


@dataclass(frozen=True)
class LoadOptions:
    """How checkpoints are loaded (``app.compose.load_options`` makes them from Settings)."""

    device: str
    dtype: str
    cache_dir: Path | None
    local_files_only: bool
    max_batch: int
    """Requests generated together, one frame each per step."""
    quantize: str = "none"
    """On CPU, ``int8`` or ``int4`` weights for the talker and the code predictor: faster and
    smaller, no longer upstream's exact codes (``engine.quantize``); ``none``."""
    quantized_cache_dir: Path | None = None
    """Where quantized weights are kept between starts; None: quantize at every load."""
    cuda_graphs: bool = True
    """On CUDA, capture the per-frame steps as CUDA graphs at load."""


@dataclass(frozen=True)
class SynthesisRequest:
    """One sentence in one voice."""

    text: str
    voice: Voice
    language: str | None = None
    """The model's language name (see ``voices.model_language``); None means Auto."""
    instruct: str | None = None


class AudioSink(Protocol):
    """Where a synthesizer writes 24 kHz 16-bit mono PCM; polled for cancellation per frame."""

    def write(self, pcm: bytes) -> None: ...

    @property
    def cancelled(self) -> bool: ...


class CollectingSink:
    """An ``AudioSink`` that keeps every chunk in memory, for callers that want the whole clip."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, pcm: bytes) -> None:
        self.chunks.append(pcm)

    @property
    def cancelled(self) -> bool:
        return False

    @property
    def pcm(self) -> bytes:
        return b"".join(self.chunks)


class SynthesisCancelled(Exception):
    """The sink was cancelled while synthesizing."""


class SynthesisBackend(Protocol):
    """Synthesizes several requests at once, advancing all of them one step at a time.

    Not thread-safe: one worker thread drives a backend. Requests join (``start``) and leave
    (``cancel``, or finishing) between steps.
    """

    @property
    def capacity(self) -> int:
        """How many requests may be started and unfinished at once."""
        ...

    @property
    def active(self) -> int: ...

    def start(self, request: SynthesisRequest, sink: AudioSink) -> object:
        """Begins a request (its prompt is processed now); returns its handle."""
        ...

    def step(self) -> list[object]:
        """Advances every started request by one step, writing the audio that became ready to
        their sinks; returns the handles of the requests that finished."""
        ...

    def cancel(self, handle: object) -> None: ...

    def reset(self) -> None:
        """Drops every request and frees what they held (after an error in ``step``)."""
        ...
