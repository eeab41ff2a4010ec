"""Voices: premium speakers and cloned voices, the catalog, and resolving a request to a voice."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import soundfile
import yaml

_LOGGER = logging.getLogger(__name__)

# Wyoming/Home Assistant language code -> the model's language name.
LANGUAGES: dict[str, str] = {
    "zh": "chinese",
    "en": "english",
    "ja": "japanese",
    "ko": "korean",
    "de": "german",
    "fr": "french",
    "ru": "russian",
    "pt": "portuguese",
    "es": "spanish",
    "it": "italian",
}
_CODES_BY_NAME = {name: code for code, name in LANGUAGES.items()}

MIN_REFERENCE_SECONDS = 1.0
MAX_REFERENCE_SECONDS = 30.0
_SILENCE_PEAK = 1e-3


class VoiceKind(StrEnum):
    PREMIUM = "premium"
    CLONE = "clone"


class VoiceError(Exception):
    """A voice cannot be used; the message says why and what to do."""


class VoiceNotFoundError(VoiceError):
    def __init__(self, name: str, available: Iterable[str]) -> None:
        names = ", ".join(sorted(available)) or "none"
        super().__init__(f"voice '{name}' not found; available: {names}")
        self.name = name


def model_language(value: str | None) -> str | None:
    """Maps 'en', 'en-US', 'English' or 'auto' to the model's language name (None means Auto)."""
    if value is None:
        return None
    key = value.strip().lower().replace("_", "-")
    if key in ("", "auto"):
        return None
    if key in _CODES_BY_NAME:
        return key
    code = key.split("-")[0]
    if code in LANGUAGES:
        return LANGUAGES[code]
    choices = ", ".join([*LANGUAGES, *LANGUAGES.values(), "auto"])
    raise ValueError(f"language '{value}' is not supported; use one of: {choices}")


@dataclass(frozen=True)
class CloneReference:
    audio_path: Path
    transcript: str


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

    @property
    def language_codes(self) -> list[str]:
        """Every language Home Assistant should list this voice under."""
        if self.language is not None:
            return [_CODES_BY_NAME[self.language]]
        return list(LANGUAGES)


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

    def without(self, names: Iterable[str]) -> VoiceCatalog:
        dropped = {name.lower() for name in names}
        default = self.default.name if self.default and self.default.name.lower() not in dropped else None
        return VoiceCatalog([v for v in self if v.name.lower() not in dropped], default)


def scan_voices_dir(voices_dir: Path) -> tuple[list[Voice], list[str]]:
    """Cloned voices in ``voices_dir`` (NAME.wav + NAME.txt [+ NAME.yaml]) and one line per problem.

    Only names and metadata are checked here; the audio is checked by ``load_reference_audio``.
    """
    voices: list[Voice] = []
    problems: list[str] = []
    if not voices_dir.is_dir():
        return voices, [f"voices dir {voices_dir} does not exist"]
    for audio_path in sorted(voices_dir.glob("*.wav"), key=lambda path: path.stem):
        name = audio_path.stem
        transcript_path = audio_path.with_suffix(".txt")
        if not transcript_path.is_file():
            problems.append(f"cloned voice '{name}': missing transcript {transcript_path.name}")
            continue
        try:
            transcript = transcript_path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            problems.append(f"cloned voice '{name}': cannot read {transcript_path.name}: {err}")
            continue
        if not transcript:
            problems.append(f"cloned voice '{name}': transcript {transcript_path.name} is empty")
            continue
        try:
            language = _read_voice_language(audio_path.with_suffix(".yaml"))
        except ValueError as err:
            problems.append(f"cloned voice '{name}': {err}")
            continue
        voices.append(
            Voice(
                name=name,
                kind=VoiceKind.CLONE,
                description=f"{name} (cloned voice)",
                language=language,
                reference=CloneReference(audio_path=audio_path, transcript=transcript),
            )
        )
    return voices, problems


def _read_voice_language(yaml_path: Path) -> str | None:
    """The language in NAME.yaml, if any; raises ValueError naming the file."""
    if not yaml_path.is_file():
        return None
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {yaml_path.name}: {err}") from err
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ValueError(f"{yaml_path.name} is not valid YAML{line}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{yaml_path.name} must be a mapping such as 'language: en'")
    language = data.get("language")
    if language is not None and not isinstance(language, str):
        raise ValueError(f"{yaml_path.name}: 'language' must be a string such as 'en'")
    try:
        return model_language(language)
    except ValueError as err:
        raise ValueError(f"{yaml_path.name}: {err}") from err


def load_reference_audio(path: Path) -> tuple[np.ndarray, int]:
    """Reads a reference clip as mono float32, rejecting what cannot serve as a voice prompt."""
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
        raise VoiceError(
            f"{path.name} is {seconds:.1f} s long; use a clip of at most "
            f"{MAX_REFERENCE_SECONDS:.0f} s"
        )
    if not np.isfinite(mono).all():
        raise VoiceError(f"{path.name} contains invalid (NaN or infinite) samples; export it again")
    if float(np.abs(mono).max()) < _SILENCE_PEAK:
        raise VoiceError(f"{path.name} is silent; record the reference again")
    return np.ascontiguousarray(mono), int(sample_rate)
