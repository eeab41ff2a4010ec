"""How long to hold the first audio of a sentence on a machine slower than real time, so that
the rest follows without a gap, and what that is judged from. Pure arithmetic: no clock, no
event loop.

- ``ModelMeter``: what one model has shown as it runs: its speed (audio seconds per wall
  second, weighted towards its last ``SPEED_TIME_CONSTANT`` seconds of work), the largest chunk
  it sends at once, and how long its sentences are for their text (learned from the sentences
  it finished; CJK text counts characters, other text letters and digits).
- ``lead_needed``: how far the client must be ahead of production when a sentence starts for it,
  and the sentences known after it, to play through without a gap.
- ``hold_seconds``: how long to hold the sentence's first audio for that, given what the client
  has buffered, never leaving the client silent for longer than the cap.

A client ``ahead`` seconds holds that much audio not yet played. Negative, it has been silent
for that long: since its audio ran out, or, before an answer's first audio, since the answer
was asked for. A hold adds ``hold - ahead`` seconds of silence (when positive): the issue's
``clamp(L/r - L - ahead, 0, max_prebuffer)`` for one sentence of length L at speed r.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass

from wyoming_qwen_tts.text.lexicon import spoken_characters

SPEED_TIME_CONSTANT = 20.0
"""Wall seconds of work after which an observation of a model's speed weighs 1/e as much."""
SAFETY_SECONDS = 0.1
"""Held beyond the lead, once a hold is needed at all: for the estimates' errors and the event
loop's delays."""
LENGTH_MEMORY = 8.0
"""Finished sentences after which one weighs 1/e as much in the learned sentence lengths."""

SECONDS_PER_LETTER = 0.065
SECONDS_PER_DIGIT = 0.175
SECONDS_PER_CJK = 0.225
"""Speech per character at a normal pace before anything is learned: ``frame_budget``'s rates
(``text.sentences``), which allow twice the time, halved. Digits expand when read out."""

CJK = "cjk"
OTHER = "other"


@dataclass(frozen=True)
class Piece:
    """One part of an answer not yet heard, in the order it is played."""

    play: float
    """Seconds of audio it holds."""
    produce: float
    """Wall seconds its production still takes, after the pieces before it (0: it is ready)."""
    last_chunk: float = 0.0
    """Seconds of audio its last chunk will bring at once, at the end of its production."""


def lead_needed(pieces: Iterable[Piece]) -> float:
    """Seconds the client must hold, unplayed, when the first piece starts, for every piece to
    be complete by the time playback reaches it: the largest excess of production over playback
    at the end of a piece, whose last chunk arrives whole. 0 when production keeps up."""
    produced = played = lead = 0.0
    for piece in pieces:
        produced += piece.produce
        played += piece.play
        lead = max(lead, produced - played + piece.last_chunk)
    return lead


def hold_seconds(lead: float, ahead: float, max_silence: float, margin: float = 0.0) -> float:
    """Wall seconds to hold a sentence's first audio so that the client is ``lead`` seconds
    ahead of production when it starts the sentence: none when it already is (``ahead`` >=
    ``lead``); otherwise until it is ``lead + margin`` ahead, but never so long that the
    client is silent for more than ``max_silence`` seconds."""
    if lead <= max(ahead, 0.0):
        return 0.0
    return max(0.0, min(lead + margin, ahead + max_silence))


def spoken_seconds(text: str) -> tuple[float, str]:
    """The seconds ``text`` takes to say at a normal pace, before anything is learned, and its
    script class (``CJK`` when most of what is spoken is Han, kana or Hangul, else ``OTHER``)."""
    letters, digits, cjk = spoken_characters(text)
    seconds = letters * SECONDS_PER_LETTER + digits * SECONDS_PER_DIGIT + cjk * SECONDS_PER_CJK
    return seconds, CJK if cjk > letters + digits else OTHER


class ModelMeter:
    """What one model (or remote) has shown about its speed and its sentences' lengths."""

    def __init__(self) -> None:
        self._audio = 0.0
        self._wall = 0.0
        self._largest_chunk = 0.0
        self._lengths: dict[str, tuple[float, float]] = {}
        """Script class -> decayed sums of (seconds spoken, seconds estimated)."""

    @property
    def speed(self) -> float | None:
        """Audio seconds produced per wall second, recent work weighing most; None before the
        model has produced anything."""
        return self._audio / self._wall if self._wall > 0 else None

    @property
    def largest_chunk(self) -> float:
        """Seconds of audio in the largest chunk it sent lately."""
        return self._largest_chunk

    def produced(self, audio_seconds: float, wall_seconds: float) -> None:
        """``audio_seconds`` of audio arrived at once, ``wall_seconds`` after the previous
        chunk of the same sentence (or after its production began)."""
        wall_seconds = max(wall_seconds, 0.0)
        decay = math.exp(-wall_seconds / SPEED_TIME_CONSTANT)
        self._audio = self._audio * decay + audio_seconds
        self._wall = self._wall * decay + wall_seconds
        self._largest_chunk = max(audio_seconds, self._largest_chunk * decay)

    def length_of(self, text: str) -> float:
        """The seconds of audio the model will speak ``text`` in, as far as it has shown."""
        return self.calibrated(*spoken_seconds(text))

    def calibrated(self, seconds: float, script: str) -> float:
        """``spoken_seconds``' estimate, as this model's sentences of that script came out."""
        spoken, estimated = self._lengths.get(script, (0.0, 0.0))
        return seconds * (spoken / estimated if estimated > 0 else 1.0)

    def spoken(self, text: str, seconds: float) -> None:
        """The model spoke ``text`` to its end in ``seconds`` of audio."""
        estimate, script = spoken_seconds(text)
        if estimate <= 0 or seconds <= 0:
            return
        keep = math.exp(-1.0 / LENGTH_MEMORY)
        spoken, estimated = self._lengths.get(script, (0.0, 0.0))
        self._lengths[script] = (spoken * keep + seconds, estimated * keep + estimate)


class Meters:
    """A ``ModelMeter`` per model, by the key the scheduler routes requests with."""

    def __init__(self) -> None:
        self._models: dict[Hashable, ModelMeter] = {}

    def of(self, model: Hashable) -> ModelMeter:
        meter = self._models.get(model)
        if meter is None:
            meter = self._models[model] = ModelMeter()
        return meter

    def __iter__(self) -> Iterator[tuple[Hashable, ModelMeter]]:
        return iter(list(self._models.items()))


def speed_text(speed: float | None) -> str:
    """``0.26x real time``, or ``speed not measured yet``."""
    return "speed not measured yet" if speed is None else f"{speed:.2f}x real time"
