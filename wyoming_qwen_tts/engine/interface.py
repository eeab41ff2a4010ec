"""The interface between the Wyoming side and whatever synthesizes speech.

It knows nothing of torch or of Wyoming, so that the handler and the scheduler work the same with
the local engine or, later, a remote backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from wyoming_qwen_tts.voices.voice import Voice


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
