"""Parts of an answer turned into audio: silences, cached sentences, and sentences the
scheduler synthesizes, shaped by their delivery (speed, gain) on the way out.

A ``Take`` is what the Wyoming handler and the HTTP endpoint iterate: ``audio()`` yields PCM
(24 kHz, 16-bit, mono) as it is ready, ``cancel()`` stops it. A sentence heard before comes from
the sentence cache at once, the very same take; a new one is stored there once it has been
spoken to its end.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Protocol

from wyoming_qwen_tts.audio.sentence_cache import SentenceCache, cache_key
from wyoming_qwen_tts.engine.interface import SynthesisRequest
from wyoming_qwen_tts.scheduling.scheduler import Scheduler
from wyoming_qwen_tts.speech.plan import AnswerText, DeliveryDefaults, Part, Silence, Utterance
from wyoming_qwen_tts.speech.shaping import Shaper
from wyoming_qwen_tts.text.pronunciation import Lexicon
from wyoming_qwen_tts.voices.voice import VoiceChoice

_LOGGER = logging.getLogger(__name__)


class Take(Protocol):
    def audio(self) -> AsyncIterator[bytes]: ...

    def cancel(self) -> None: ...


class _Ready:
    """Audio that needs no model: a silence, or a cached sentence; cancelled, it yields none."""

    def __init__(self, pcm: bytes) -> None:
        self._pcm = pcm
        self._cancelled = False

    async def audio(self) -> AsyncIterator[bytes]:
        if self._pcm and not self._cancelled:
            yield self._pcm

    def cancel(self) -> None:
        self._cancelled = True


class _Spoken:
    """A sentence the scheduler synthesizes, shaped by its delivery, and handed to ``store``
    (the sentence cache) once its audio has been produced to the end."""

    def __init__(
        self,
        utterance: Utterance,
        scheduler: Scheduler,
        group: Hashable,
        store: Callable[[bytes], None] | None,
    ) -> None:
        self._utterance = utterance
        self._job = scheduler.submit(utterance.request, group=group)
        self._store = store

    def cancel(self) -> None:
        self._job.cancel()

    async def audio(self) -> AsyncIterator[bytes]:
        shaper = Shaper(self._utterance.speed, self._utterance.gain_db)
        keep = self._store is not None
        kept: list[bytes] = []
        async for pcm in self._job.audio():
            if pcm := shaper.process(pcm):
                if keep:
                    kept.append(pcm)
                yield pcm
        if rest := shaper.flush():
            if keep:
                kept.append(rest)
            yield rest
        if self._store is not None and not self._job.cancelled:
            self._store(b"".join(kept))


class Speaker:
    """Makes each part of an answer a ``Take``."""

    def __init__(
        self,
        scheduler: Scheduler,
        cache: SentenceCache | None,
        model_identity: Callable[[SynthesisRequest], str],
        seed: int | None,
    ) -> None:
        """``model_identity`` names the model that speaks a request (part of the cache key)."""
        self.scheduler = scheduler
        self.cache = cache
        self._model_identity = model_identity
        self._seed = seed

    def say(self, part: Part, group: Hashable) -> Take:
        """Starts one part of the answer ``group`` (a sentence is queued in the scheduler now)."""
        if isinstance(part, Silence):
            return _Ready(part.pcm)
        cache = self.cache
        if cache is None:
            return _Spoken(part, self.scheduler, group, store=None)
        key = self.key(part)
        pcm = cache.get(key)
        if pcm is not None:
            return _Ready(pcm)
        return _Spoken(part, self.scheduler, group, store=lambda take: cache.put(key, take))

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
