"""Parts of an answer turned into audio: silences, cached sentences, and sentences the
scheduler synthesizes, shaped by their delivery (speed, gain) on the way out.

A ``Take`` is what the Wyoming handler and the HTTP endpoint iterate: ``audio()`` yields PCM
(24 kHz, 16-bit, mono) as it is ready, ``cancel()`` stops it. A sentence heard before comes from
the sentence cache at once, the very same take; a new one is stored there once it has been
spoken to its end.

Each answer (``group``) has a playback clock: when the audio released so far ends for a client
that plays it as it comes. On a model slower than real time (``--prebuffer auto``), a
sentence's first audio is held until the client is far enough ahead of production for the
sentence, and those known after it, to play through (``speech.prebuffer``); never so long that
the client is silent for more than ``--max-prebuffer`` seconds. Each sentence's audio is
timestamped as it arrives, which is what each model's speed meter learns from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.audio.sentence_cache import SentenceCache, cache_key
from wyoming_qwen_tts.engine.interface import SynthesisCancelled, SynthesisRequest
from wyoming_qwen_tts.scheduling.scheduler import Scheduler
from wyoming_qwen_tts.speech.plan import AnswerText, DeliveryDefaults, Part, Silence, Utterance
from wyoming_qwen_tts.speech.prebuffer import (
    SAFETY_SECONDS,
    Meters,
    ModelMeter,
    Piece,
    hold_seconds,
    lead_needed,
    speed_text,
    spoken_seconds,
)
from wyoming_qwen_tts.speech.shaping import Shaper
from wyoming_qwen_tts.text.pronunciation import Lexicon
from wyoming_qwen_tts.voices.voice import VoiceChoice

_LOGGER = logging.getLogger(__name__)

BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS
_END = object()
_CANCELLED = object()
_TIME_UP = object()


class Take(Protocol):
    def audio(self) -> AsyncIterator[bytes]: ...

    def cancel(self) -> None: ...


@dataclass(frozen=True)
class Prebuffer:
    """Whether first audio is held (``--prebuffer auto``), for how long at most, and the
    meters of the models it is judged by."""

    meters: Meters
    route: Callable[[SynthesisRequest], Hashable]
    """The model that speaks a request: the key of its meter."""
    enabled: bool = True
    max_seconds: float = 3.0
    """``--max-prebuffer``: the longest silence a hold may leave a client in."""


class _Playback:
    """One answer as its client hears it, if it plays what it is sent as it comes: when the
    audio released so far ends, and its parts not yet released to their end, in order."""

    def __init__(self, asked: float) -> None:
        self.ends = asked
        """Before the first audio: when the answer was asked for (its silence began)."""
        self.parts: list[_Ready | _Spoken] = []
        self.last_spoken: _Spoken | None = None

    def ahead(self, now: float) -> float:
        """Seconds of audio the client holds unplayed; negative: how long it has been silent."""
        return self.ends - now

    def released(self, pcm_bytes: int, now: float) -> None:
        self.ends = max(self.ends, now) + pcm_bytes / BYTES_PER_SECOND

    def pieces_from(self, part: _Ready | _Spoken, now: float) -> list[Piece]:
        """What is still to be heard, from ``part`` on, as far as the answer is known."""
        index = self.parts.index(part)
        return [later.piece(now) for later in self.parts[index:]]

    def leave(self, part: _Ready | _Spoken) -> None:
        if part in self.parts:
            self.parts.remove(part)

    def idle(self, now: float) -> bool:
        return not self.parts and self.ends <= now


class _Ready:
    """Audio that needs no model: a silence, or a cached sentence; cancelled, it yields none."""

    def __init__(self, pcm: bytes, playback: _Playback) -> None:
        self._pcm = pcm
        self._playback = playback
        self._cancelled = False

    async def audio(self) -> AsyncIterator[bytes]:
        try:
            if self._pcm and not self._cancelled:
                self._playback.released(len(self._pcm), time.monotonic())
                yield self._pcm
        finally:
            self._playback.leave(self)

    def cancel(self) -> None:
        self._cancelled = True
        self._playback.leave(self)

    def piece(self, now: float) -> Piece:
        return Piece(play=len(self._pcm) / BYTES_PER_SECOND, produce=0.0)


@dataclass
class _Production:
    """What a sentence's job has produced so far, timestamped as it arrived."""

    submitted: float
    produced: float = 0.0
    """Seconds of audio, before shaping."""
    began: float | None = None
    last: float | None = None
    """When its latest audio arrived."""
    finished: float | None = None
    """When its production ended (to its end, cancelled or failed)."""
    complete: bool = False
    """It was spoken to its end."""
    items: asyncio.Queue[object] = field(default_factory=asyncio.Queue)


class _Spoken:
    """A sentence the scheduler synthesizes, shaped by its delivery, and handed to ``store``
    (the sentence cache) once its audio has been produced to the end.

    Its job's audio is received as it arrives (the speed meter's timestamps), whether or not
    anyone iterates ``audio()`` yet; ``audio()`` holds the first of it as the answer's playback
    needs."""

    def __init__(
        self,
        utterance: Utterance,
        scheduler: Scheduler,
        group: Hashable,
        store: Callable[[bytes], None] | None,
        playback: _Playback,
        prebuffer: Prebuffer,
    ) -> None:
        self._utterance = utterance
        self._job = scheduler.submit(utterance.request, group=group)
        self._store = store
        self._playback = playback
        self._prebuffer = prebuffer
        self._model = prebuffer.route(utterance.request)
        self._meter: ModelMeter = prebuffer.meters.of(self._model)
        self._estimate = spoken_seconds(utterance.request.text)
        self._after = playback.last_spoken
        """The answer's sentence before this one: this one's production begins after it."""
        self._production = _Production(submitted=time.monotonic())
        self._receiving = asyncio.create_task(self._receive())

    def cancel(self) -> None:
        self._job.cancel()
        self._production.items.put_nowait(_CANCELLED)
        self._playback.leave(self)

    async def audio(self) -> AsyncIterator[bytes]:
        shaper = Shaper(self._utterance.speed, self._utterance.gain_db)
        keep = self._store is not None
        kept: list[bytes] = []
        try:
            async for raw in self._released():
                if pcm := shaper.process(raw):
                    if keep:
                        kept.append(pcm)
                    self._playback.released(len(pcm), time.monotonic())
                    yield pcm
            if rest := shaper.flush():
                if keep:
                    kept.append(rest)
                self._playback.released(len(rest), time.monotonic())
                yield rest
        finally:
            self._playback.leave(self)
        if self._store is not None and not self._job.cancelled:
            self._store(b"".join(kept))

    def piece(self, now: float) -> Piece:
        """What this sentence still needs at ``now``: its length (estimated from its text until
        it is spoken), its production left at the model's speed, and the chunk that ends it."""
        production = self._production
        speed = self._meter.speed
        chunk = self._meter.largest_chunk
        if production.complete:
            length, left = production.produced, 0.0
        else:
            estimate = self._meter.calibrated(*self._estimate)
            length = max(estimate, production.produced + chunk)
            left = length - production.produced
        play = length / self._utterance.speed
        if speed is None or speed >= 1.0 or left <= 0:
            return Piece(play=play, produce=0.0)
        producing = production.last if production.last is not None else self._began(known=True)
        since = now - producing if producing is not None else 0.0
        last_chunk = min(chunk, left) / self._utterance.speed
        return Piece(play=play, produce=max(0.0, left / speed - since), last_chunk=last_chunk)

    async def _released(self) -> AsyncIterator[bytes]:
        """The job's audio before shaping, its first chunks held while the answer needs."""
        held: list[bytes] = []
        release_at: float | None = None
        holding = self._prebuffer.enabled
        first = 0.0
        while True:
            timeout = None if release_at is None else max(0.0, release_at - time.monotonic())
            item = await self._next(timeout)
            if item is _END:
                break
            if item is not _TIME_UP:
                assert isinstance(item, bytes)
                if not holding:
                    yield item
                    continue
                if not held:
                    first = time.monotonic()
                held.append(item)
                release_at = self._release_time()
                if release_at > time.monotonic():
                    continue
            holding, release_at = False, None
            self._log_hold(first)
            for pcm in held:
                yield pcm
            held.clear()
        if held:  # it ended while held: its length is known now
            wait = self._release_time() - time.monotonic()
            if wait > 0:
                await self._next(wait)
            self._log_hold(first)
            for pcm in held:
                yield pcm

    def _release_time(self) -> float:
        """When the held first audio may go: once the client is ahead by what the rest of the
        answer known so far needs (plus a margin for the estimates' errors)."""
        now = time.monotonic()
        if self not in self._playback.parts:
            return now
        lead = lead_needed(self._playback.pieces_from(self, now))
        ahead = self._playback.ahead(now)
        hold = hold_seconds(lead, ahead, self._prebuffer.max_seconds, margin=SAFETY_SECONDS)
        return now + hold

    async def _next(self, timeout: float | None) -> object:
        """The next item received, or ``_TIME_UP`` after ``timeout`` seconds without one."""
        try:
            item = await asyncio.wait_for(self._production.items.get(), timeout)
        except TimeoutError:
            return _TIME_UP
        if item is _CANCELLED:
            raise SynthesisCancelled()
        if isinstance(item, BaseException):
            raise item
        return item

    async def _receive(self) -> None:
        """Takes the job's audio as it arrives, and tells the model's meter."""
        production = self._production
        mark: float | None = None
        try:
            async for pcm in self._job.audio():
                now = time.monotonic()
                if mark is None:
                    mark = production.began = self._began(known=False)
                    self._after = None
                seconds = len(pcm) / BYTES_PER_SECOND
                self._meter.produced(seconds, now - mark)
                mark = production.last = now
                production.produced += seconds
                production.items.put_nowait(pcm)
        except BaseException as err:  # noqa: BLE001 - handed to whoever reads audio()
            production.finished = time.monotonic()
            production.items.put_nowait(err)
            if isinstance(err, asyncio.CancelledError):
                raise
            return
        production.finished = time.monotonic()
        production.complete = True
        text = self._utterance.request.text
        self._meter.spoken(text, production.produced)
        production.items.put_nowait(_END)
        _LOGGER.debug(
            "Produced %r: %.2f s of audio in %.2f s; model %s at %s",
            text[:40],
            production.produced,
            production.finished - (production.began or production.submitted),
            self._model,
            speed_text(self._meter.speed),
        )

    def _began(self, known: bool) -> float | None:
        """When this sentence's production began: at its submission, or once the answer's
        sentence before it was produced. With ``known``, None while that is still producing."""
        began = self._production.submitted
        after = self._after
        if after is not None:
            finished = after._production.finished
            if finished is None:
                return None if known else began
            began = max(began, finished)
        return began

    def _log_hold(self, first: float) -> None:
        held = time.monotonic() - first
        if held >= 0.01:
            _LOGGER.debug(
                "Held the first audio of %r for %.2f s; model %s at %s, %.2f s of audio ahead",
                self._utterance.request.text[:40],
                held,
                self._model,
                speed_text(self._meter.speed),
                self._playback.ahead(time.monotonic()),
            )


class Speaker:
    """Makes each part of an answer a ``Take``."""

    def __init__(
        self,
        scheduler: Scheduler,
        cache: SentenceCache | None,
        model_identity: Callable[[SynthesisRequest], str],
        seed: int | None,
        prebuffer: Prebuffer | None = None,
    ) -> None:
        """``model_identity`` names the model that speaks a request (part of the cache key);
        without ``prebuffer``, nothing is held."""
        self.scheduler = scheduler
        self.cache = cache
        self._model_identity = model_identity
        self._seed = seed
        self.prebuffer = prebuffer or Prebuffer(Meters(), model_identity, enabled=False)
        self._answers: dict[Hashable, _Playback] = {}

    def say(self, part: Part, group: Hashable) -> Take:
        """Starts one part of the answer ``group`` (a sentence is queued in the scheduler now)."""
        playback = self._playback(group)
        take: _Ready | _Spoken
        if isinstance(part, Silence):
            take = _Ready(part.pcm, playback)
        else:
            cache = self.cache
            key = self.key(part) if cache is not None else ""
            pcm = cache.get(key) if cache is not None else None
            if pcm is not None:
                take = _Ready(pcm, playback)
            else:
                store = (lambda spoken: cache.put(key, spoken)) if cache is not None else None
                take = _Spoken(part, self.scheduler, group, store, playback, self.prebuffer)
                playback.last_spoken = take
        playback.parts.append(take)
        return take

    def _playback(self, group: Hashable) -> _Playback:
        """The answer's playback clock; those of answers over and heard to their end go."""
        now = time.monotonic()
        for done in [key for key, playback in self._answers.items() if playback.idle(now)]:
            del self._answers[done]
        playback = self._answers.get(group)
        if playback is None:
            playback = self._answers[group] = _Playback(now)
        return playback

    def key(self, utterance: Utterance) -> str:
        """Everything that changes the sound of an utterance."""
        request = utterance.request
        voice = request.voice
        reference = voice.reference
        return cache_key(
            model=self._model_identity(request),
            seed=self._seed,
            voice=voice.name,
            kind=str(voice.kind),
            speaker=voice.speaker,
            reference=voice.delivery.reference_digest,
            transcript=reference.transcript if reference is not None else None,
            style=request.instruct,
            language=request.language,
            speed=utterance.speed,
            gain=utterance.gain_db,
            text=request.text,
        )


class Speaking:
    """What the Wyoming and the HTTP side speak answers with: the plan of each answer's text,
    and the speaker of its parts."""

    def __init__(
        self,
        speaker: Speaker,
        defaults: DeliveryDefaults,
        lexicon: Callable[[], Lexicon] = Lexicon,
    ) -> None:
        """``lexicon`` gives the pronunciation lexicon in force (it may change between
        answers)."""
        self.speaker = speaker
        self.defaults = defaults
        self.lexicon = lexicon

    def answer(
        self,
        choice: VoiceChoice,
        *,
        ssml: bool = False,
        resolve: Callable[[str], VoiceChoice] | None = None,
        speed: float = 1.0,
    ) -> AnswerText:
        """The plan of one answer's text in ``choice``'s voice."""
        return AnswerText(
            choice,
            defaults=self.defaults,
            lexicon=self.lexicon(),
            ssml=ssml,
            resolve=resolve,
            speed=speed,
        )
