"""Voices: premium speakers and cloned voices, the catalog, and resolving a request to a voice."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from wyoming_qwen_tts.text.languages import LANGUAGES, language_code
from wyoming_qwen_tts.voices.styles import Style

_LOGGER = logging.getLogger(__name__)

VOICE_NAME_PATTERN = re.compile(r"^\w[\w .-]{0,63}$")
"""A cloned voice's name: it becomes a file name and a Wyoming voice name."""


class VoiceKind(StrEnum):
    PREMIUM = "premium"
    """A speaker of the CustomVoice checkpoint."""
    CLONE = "clone"
    """A reference clip and its transcript, spoken by the Base checkpoint (designed voices too,
    once their reference has been rendered)."""
    DESIGN = "design"
    """A voice described in words, spoken by the VoiceDesign checkpoint with the description as
    the request's instruction: what renders a designed voice's reference clip."""


class VoiceError(Exception):
    """A voice cannot be used; the message says why and what to do."""


class VoiceNotFoundError(VoiceError):
    def __init__(self, name: str, available: Iterable[str]) -> None:
        names = ", ".join(sorted(available)) or "none"
        super().__init__(f"voice '{name}' not found; available: {names}")
        self.name = name


@dataclass(frozen=True)
class CloneReference:
    audio_path: Path
    transcript: str


@dataclass(frozen=True)
class Delivery:
    """How a voice's audio is shaped after the model: what NAME.yaml says, and what was measured
    of its reference clip when it was prepared."""

    speed: float | None = None
    """NAME.yaml ``speed``; None: the server's ``--speed``."""
    volume_db: float = 0.0
    """NAME.yaml ``volume``, in dB, on top of the loudness target."""
    sentence_silence: float | None = None
    """NAME.yaml ``sentence_silence``, in seconds; None: the server's ``--sentence-silence``."""
    reference_lufs: float | None = None
    """The reference clip's integrated loudness (cloned voices; None when not measurable)."""
    reference_digest: str | None = None
    """The sha256 of the reference clip's bytes (cloned voices)."""


@dataclass(frozen=True)
class Voice:
    name: str
    kind: VoiceKind
    description: str
    language: str | None = None
    """The model language this voice speaks by default; None means the server default or Auto."""
    speaker: str | None = None
    """The checkpoint's speaker id, for premium voices."""
    reference: CloneReference | None = None
    """Reference clip and transcript, for cloned voices."""
    styles: tuple[Style, ...] = ()
    """The styles this voice offers (its Wyoming speakers)."""
    designed: bool = False
    """A cloned voice whose reference clip was rendered from a description."""
    delivery: Delivery = Delivery()
    remote: bool = False
    """Spoken by a remote engine's own model (``remote.pool``), not by a model here."""

    @property
    def language_codes(self) -> list[str]:
        """Every language Home Assistant should list this voice under."""
        if self.language is not None:
            return [language_code(self.language)]
        return list(LANGUAGES)

    def instruct_for(self, style: str | None) -> str | None:
        """The instruction of the style named in a request (a Wyoming speaker), case-insensitive;
        None when no style is named."""
        if not style:
            return None
        for offered in self.styles:
            if offered.name.lower() == style.strip().lower():
                return offered.instruct
        if not self.styles:
            raise VoiceError(
                f"voice '{self.name}' has no styles (only the 1.7B CustomVoice model follows "
                f"instructions); request it without a speaker"
            )
        names = ", ".join(offered.name for offered in self.styles)
        raise VoiceError(f"voice '{self.name}' has no style '{style}'; available: {names}")


def premium_voice(speaker: str) -> Voice:
    pretty = "_".join(part.capitalize() for part in speaker.split("_"))
    return Voice(
        name=speaker.lower(),
        kind=VoiceKind.PREMIUM,
        description=f"{pretty} (Qwen3-TTS premium speaker)",
        speaker=speaker.lower(),
    )


class VoiceCatalog:
    """The voices a server offers, by case-insensitive name."""

    def __init__(self, voices: Iterable[Voice], default: str | None = None) -> None:
        self._voices: dict[str, Voice] = {}
        for voice in voices:
            key = voice.name.lower()
            if key in self._voices:
                _LOGGER.error(
                    "Skipping %s voice '%s': a %s voice already has that name",
                    voice.kind,
                    voice.name,
                    self._voices[key].kind,
                )
                continue
            self._voices[key] = voice
        if default is not None and default.lower() not in self._voices:
            raise VoiceNotFoundError(default, self.names)
        self.default = self._voices[default.lower()] if default else next(iter(self), None)

    @property
    def names(self) -> list[str]:
        return [voice.name for voice in self]

    def __iter__(self) -> Iterator[Voice]:
        return iter(self._voices.values())

    def __len__(self) -> int:
        return len(self._voices)

    def resolve(self, name: str | None) -> Voice:
        """The voice named in a request, or the default voice when no name is given."""
        if not name:
            if self.default is None:
                raise VoiceError("no voices are available; check the models and the voices dir")
            return self.default
        voice = self._voices.get(name.lower())
        if voice is None:
            raise VoiceNotFoundError(name, self.names)
        return voice


@dataclass(frozen=True)
class ClonedVoice:
    """A cloned voice named in the options file: a reference clip and what is said in it."""

    name: str
    audio: Path
    transcript: str
    language: str | None = None
    """The model's language name; None means the server default or Auto."""

    def as_voice(self) -> Voice:
        return Voice(
            name=self.name,
            kind=VoiceKind.CLONE,
            description=f"{self.name} (cloned voice)",
            language=self.language,
            reference=CloneReference(audio_path=self.audio, transcript=self.transcript),
        )


@dataclass(frozen=True)
class VoiceChoice:
    """What one request speaks with: the voice, the model language, and the instruction."""

    voice: Voice
    language: str | None
    """The model's language name; None means Auto."""
    instruct: str | None


def choose_voice(
    catalog: VoiceCatalog,
    name: str | None,
    *,
    style: str | None = None,
    language: str | None = None,
    default_language: str | None = None,
    free_instructions: bool = False,
) -> VoiceChoice:
    """The voice a request names (or the default), its style's instruction, and its language:
    the request's, else the voice's own, else ``default_language``.

    With ``free_instructions``, a ``style`` that names none of the voice's styles is itself
    the instruction, where the voice's model follows instructions (it offers styles).
    """
    voice = catalog.resolve(name)
    if free_instructions and style and voice.styles:
        known = {offered.name.lower() for offered in voice.styles}
        instruct = voice.instruct_for(style) if style.strip().lower() in known else style
    else:
        instruct = voice.instruct_for(style)
    return VoiceChoice(voice, language or voice.language or default_language, instruct)
