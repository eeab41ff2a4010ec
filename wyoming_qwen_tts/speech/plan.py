"""What an answer says, in order: its text (plain or SSML) as utterances and silences.

Text arrives whole or in chunks; ``AnswerText.feed`` returns the parts each chunk completes, so
that speech starts at the first complete sentence, as it does for plain text.

- Plain text: sentences (``text.spoken``: the lexicon, then the normalizer), each one utterance
  in the answer's voice.
- SSML (``text.ssml``): each stretch of text with its own settings (``voice``, ``lang``,
  ``prosody``, ``emphasis``) is spoken as its own sentences; ``s``, ``p`` and ``break`` end a
  sentence, and a ``break`` is a ``Silence`` of exactly its length.

Between two utterances not already separated by a ``break``, the voice's sentence silence
(NAME.yaml ``sentence_silence``, else ``--sentence-silence``) is a ``Silence``.

Each utterance carries its delivery: the speed (the voice's ``speed``, else ``--speed``, times
the request's factor and SSML's ``prosody rate``, kept within 0.5-2.0) and the gain in dB (the
loudness target's, plus the voice's ``volume``, the request's and SSML's ``prosody volume``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from wyoming_qwen_tts.audio.loudness import gain_to_target
from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.engine.interface import SynthesisRequest
from wyoming_qwen_tts.settings.delivery_options import (
    DEFAULT_TARGET_LUFS,
    MAX_SPEED,
    MIN_SPEED,
    LoudnessTarget,
)
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.text.languages import model_language
from wyoming_qwen_tts.text.pronunciation import Lexicon
from wyoming_qwen_tts.text.spoken import SpokenSentences
from wyoming_qwen_tts.text.ssml import (
    Prosody,
    SsmlBoundary,
    SsmlBreak,
    SsmlItem,
    SsmlStream,
    SsmlText,
)
from wyoming_qwen_tts.voices.voice import Voice, VoiceChoice, VoiceKind

_LOGGER = logging.getLogger(__name__)

EMPHASIS_INSTRUCTIONS = {
    "strong": "Speak this with strong emphasis.",
    "moderate": "Speak this with emphasis.",
    "reduced": "Speak this softly, without emphasis.",
}
"""SSML ``emphasis`` levels, as instructions to a model that follows them."""


@dataclass(frozen=True)
class Utterance:
    """One sentence to synthesize, and how its audio is shaped afterwards."""

    request: SynthesisRequest
    speed: float = 1.0
    gain_db: float = 0.0


@dataclass(frozen=True)
class Silence:
    """Exact digital silence."""

    seconds: float

    @property
    def pcm(self) -> bytes:
        return bytes(round(self.seconds * SAMPLE_RATE) * SAMPLE_WIDTH * CHANNELS)


Part = Utterance | Silence


@dataclass(frozen=True)
class DeliveryDefaults:
    """The server's delivery settings, for voices that have none of their own."""

    speed: float = 1.0
    sentence_silence: float = 0.0
    loudness_target: LoudnessTarget = None
    premium_lufs: Callable[[Voice], float | None] = lambda voice: None
    """The measured loudness of a premium voice (``--loudness-target`` given), else None."""

    @classmethod
    def from_settings(
        cls, settings: Settings, premium_lufs: Callable[[Voice], float | None] | None = None
    ) -> DeliveryDefaults:
        return cls(
            speed=settings.speed,
            sentence_silence=settings.sentence_silence,
            loudness_target=settings.loudness_target,
            premium_lufs=premium_lufs or (lambda voice: None),
        )

    def speed_of(self, voice: Voice) -> float:
        own = voice.delivery.speed
        return own if own is not None else self.speed

    def silence_of(self, voice: Voice) -> float:
        own = voice.delivery.sentence_silence
        return own if own is not None else self.sentence_silence

    def gain_of(self, voice: Voice) -> float:
        """The voice's loudness-target gain plus its ``volume``, in dB."""
        return self.target_gain(voice) + voice.delivery.volume_db

    def target_gain(self, voice: Voice) -> float:
        target = self.loudness_target
        if target == "off":
            return 0.0
        if voice.kind is VoiceKind.CLONE:
            measured = voice.delivery.reference_lufs
            aim = DEFAULT_TARGET_LUFS if target is None else target
        elif target is None:
            return 0.0  # premium voices keep the model's level unless a target is given
        else:
            measured, aim = self.premium_lufs(voice), target
        return gain_to_target(measured, aim)


@dataclass(frozen=True)
class _Run:
    """What a stretch of text is spoken with."""

    choice: VoiceChoice
    speed: float
    gain_db: float


class AnswerText:
    """One answer's text, incremental: ``feed`` returns the parts the text so far completes,
    ``flush`` the rest. Raises ``SsmlError`` (malformed SSML) or ``VoiceError`` (an SSML
    ``voice`` that does not exist)."""

    def __init__(
        self,
        choice: VoiceChoice,
        *,
        defaults: DeliveryDefaults,
        lexicon: Lexicon,
        ssml: bool = False,
        resolve: Callable[[str], VoiceChoice] | None = None,
        speed: float = 1.0,
        gain_db: float = 0.0,
    ) -> None:
        """``resolve`` finds the voice an SSML ``voice name`` asks for; ``speed`` and
        ``gain_db`` are the request's own (the HTTP ``speed``)."""
        self._choice = choice
        self._defaults = defaults
        self._lexicon = lexicon
        self._resolve = resolve
        self._speed = speed
        self._gain_db = gain_db
        self._ssml = SsmlStream(choice.language) if ssml else None
        self._prosody = Prosody()
        self._run = self._run_for(self._prosody)
        self._sentences = SpokenSentences(choice.language, lexicon)
        self._spoken = False
        """An utterance has been returned: the next one may need a sentence silence first."""
        self._paused = False
        """A break was the last part: it stands for the sentence silence."""

    def feed(self, text: str) -> list[Part]:
        if self._ssml is None:
            return self._utterances(self._sentences.feed(text))
        return self._from_ssml(self._ssml.feed(text))

    def flush(self) -> list[Part]:
        if self._ssml is None:
            return self._utterances(self._sentences.flush())
        parts = self._from_ssml(self._ssml.flush())
        return parts + self._end_sentence()

    def _from_ssml(self, items: list[SsmlItem]) -> list[Part]:
        parts: list[Part] = []
        for item in items:
            if isinstance(item, SsmlText):
                if item.prosody != self._prosody:
                    self._prosody = item.prosody
                    run = self._run_for(item.prosody)
                    if run != self._run:  # what changes nothing heard does not cut a sentence
                        parts += self._end_sentence()
                        self._run = run
                        self._sentences = SpokenSentences(run.choice.language, self._lexicon)
                parts += self._utterances(self._sentences.feed(item.text))
            elif isinstance(item, SsmlBreak):
                parts += self._end_sentence()
                if item.seconds > 0:
                    parts.append(Silence(item.seconds))
                self._paused = True  # a break, even of 0 s, stands for the sentence silence
            elif isinstance(item, SsmlBoundary):
                parts += self._end_sentence()
        return parts

    def _end_sentence(self) -> list[Part]:
        parts = self._utterances(self._sentences.flush())
        self._sentences = SpokenSentences(self._run.choice.language, self._lexicon)
        return parts

    def _utterances(self, sentences: list[str]) -> list[Part]:
        parts: list[Part] = []
        run = self._run
        for sentence in sentences:
            silence = self._defaults.silence_of(run.choice.voice)
            if self._spoken and not self._paused and silence > 0:
                parts.append(Silence(silence))
            request = SynthesisRequest(
                text=sentence,
                voice=run.choice.voice,
                language=run.choice.language,
                instruct=run.choice.instruct,
            )
            parts.append(Utterance(request, speed=run.speed, gain_db=run.gain_db))
            self._spoken, self._paused = True, False
        return parts

    def _run_for(self, prosody: Prosody) -> _Run:
        choice = self._choice
        if prosody.voice is not None and prosody.voice.lower() != choice.voice.name.lower():
            if self._resolve is None:
                raise ValueError("this request cannot switch voices")
            choice = self._resolve(prosody.voice)
        if prosody.language is not None:
            try:
                choice = replace(choice, language=model_language(prosody.language))
            except ValueError as err:
                _LOGGER.warning("Ignoring SSML xml:lang: %s", err)
        if prosody.emphasis is not None:
            choice = _with_emphasis(choice, prosody.emphasis)
        speed = self._defaults.speed_of(choice.voice) * self._speed * prosody.rate
        gain = self._defaults.gain_of(choice.voice) + self._gain_db + prosody.volume_db
        return _Run(choice, max(MIN_SPEED, min(MAX_SPEED, speed)), gain)


def _with_emphasis(choice: VoiceChoice, level: str) -> VoiceChoice:
    """The choice with the emphasis as part of its instruction, where the voice's model follows
    instructions (its voices offer styles); otherwise unchanged."""
    instruction = EMPHASIS_INSTRUCTIONS.get(level)
    if instruction is None or not choice.voice.styles:
        _LOGGER.debug("Ignoring SSML emphasis '%s' for voice %s", level, choice.voice.name)
        return choice
    instruct = f"{choice.instruct} {instruction}" if choice.instruct else instruction
    return replace(choice, instruct=instruct)
