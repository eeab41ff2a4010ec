"""Voices: premium speakers and cloned voices, the catalog, and resolving a request to a voice."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import yaml

from .styles import Style

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
MAX_REFERENCE_BYTES = 256 * 1024 * 1024
"""A reference file is hashed whole (the prompt cache's key): bigger files are refused unread."""
_SILENCE_PEAK = 1e-3


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
    styles: tuple[Style, ...] = ()
    """The styles this voice offers (its Wyoming speakers)."""

    @property
    def language_codes(self) -> list[str]:
        """Every language Home Assistant should list this voice under."""
        if self.language is not None:
            return [_CODES_BY_NAME[self.language]]
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


def scan_voices_dir(
    voices_dir: Path, skip: Callable[[Path], bool] | None = None
) -> tuple[list[Voice], list[str]]:
    """Cloned voices in ``voices_dir`` (NAME.wav + NAME.txt [+ NAME.yaml]) and one line per problem.

    Only names and metadata are checked here; the audio is checked by ``load_reference_audio``.
    Clips for which ``skip`` is true are left out.
    """
    voices: list[Voice] = []
    problems: list[str] = []
    if not voices_dir.is_dir():
        return voices, [f"voices dir {voices_dir} does not exist"]
    for audio_path in sorted(voices_dir.glob("*.wav"), key=lambda path: path.stem):
        if skip is not None and skip(audio_path):
            continue
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
            metadata = read_voice_yaml(audio_path.with_suffix(".yaml"))
        except ValueError as err:
            problems.append(f"cloned voice '{name}': {err}")
            continue
        voices.append(
            Voice(
                name=name,
                kind=VoiceKind.CLONE,
                description=f"{name} ({'designed' if metadata.designed else 'cloned'} voice)",
                language=metadata.language,
                reference=CloneReference(audio_path=audio_path, transcript=transcript),
                styles=metadata.styles,
            )
        )
    return voices, problems


def collect_clone_voices(
    voices_dir: Path | None, listed: Sequence[Voice] = ()
) -> tuple[list[Voice], list[str]]:
    """The cloned voices of ``voices_dir`` plus those ``listed`` one by one (the options file's),
    and one line per problem.

    A listed voice wins over a voice of the folder with the same name (case-insensitive) or the
    same clip; a listed voice whose clip is missing is a problem.
    """
    voices: list[Voice] = []
    problems: list[str] = []
    present: list[Voice] = []
    for voice in listed:
        assert voice.reference is not None
        if voice.reference.audio_path.is_file():
            present.append(voice)
        else:
            clip = voice.reference.audio_path
            problems.append(f"cloned voice '{voice.name}': audio file {clip} does not exist")
    if voices_dir is not None:
        names = {voice.name.lower() for voice in listed}
        clips = {os.path.realpath(v.reference.audio_path) for v in listed if v.reference}

        def is_listed(clip: Path) -> bool:
            return clip.stem.lower() in names or os.path.realpath(clip) in clips

        voices, found_problems = scan_voices_dir(voices_dir, skip=is_listed)
        problems = found_problems + problems
    return voices + present, problems


def voice_files(voice: Voice) -> list[Path]:
    """The files a cloned voice is made of (the clip, and its companions where present)."""
    assert voice.reference is not None
    clip = voice.reference.audio_path
    companions = (clip.with_suffix(".txt"), clip.with_suffix(".yaml"))
    return [clip, *(path for path in companions if path.is_file())]


@dataclass(frozen=True)
class VoiceMetadata:
    """What NAME.yaml says about a cloned voice."""

    language: str | None = None
    description: str | None = None
    """The words a designed voice was designed from (``voice design --description``)."""
    styles: tuple[Style, ...] = ()

    @property
    def designed(self) -> bool:
        return self.description is not None


def read_voice_yaml(yaml_path: Path) -> VoiceMetadata:
    """NAME.yaml (``language``, ``description``, ``styles``), if it exists; raises ValueError
    naming the file. Other keys are ignored."""
    if not yaml_path.is_file():
        return VoiceMetadata()
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
        language = model_language(language)
    except ValueError as err:
        raise ValueError(f"{yaml_path.name}: {err}") from err
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise ValueError(f"{yaml_path.name}: 'description' must be a string")
    return VoiceMetadata(
        language=language,
        description=description.strip() if description and description.strip() else None,
        styles=_read_styles(yaml_path.name, data.get("styles")),
    )


def _read_styles(file_name: str, value: Any) -> tuple[Style, ...]:
    if value is None:
        return ()
    example = "'styles: [{name: bedtime, instruct: Speak softly.}]'"
    if not isinstance(value, list):
        raise ValueError(f"{file_name}: 'styles' must be a list such as {example}")
    styles: list[Style] = []
    for number, item in enumerate(value, start=1):
        name = item.get("name") if isinstance(item, dict) else None
        instruct = item.get("instruct") if isinstance(item, dict) else None
        texts = (name, instruct)
        if not all(isinstance(text, str) and text.strip() for text in texts):
            raise ValueError(
                f"{file_name}: style {number} needs a 'name' and an 'instruct', as in {example}"
            )
        styles.append(Style(name.strip(), instruct.strip()))
    return tuple(styles)


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
