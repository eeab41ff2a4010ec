"""The files of cloned voices: a voices dir of NAME.wav + NAME.txt [+ NAME.yaml]."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wyoming_qwen_tts.text.languages import model_language
from wyoming_qwen_tts.voices.styles import Style
from wyoming_qwen_tts.settings.delivery_options import MAX_SPEED, MIN_SPEED
from wyoming_qwen_tts.voices.voice import CloneReference, Delivery, Voice, VoiceKind

VOICE_SUFFIXES = (".wav", ".txt", ".yaml")
"""The files a cloned voice NAME is made of: NAME.wav, NAME.txt and NAME.yaml."""


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
                designed=metadata.designed,
                delivery=metadata.delivery,
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
    delivery: Delivery = Delivery()
    """``speed``, ``volume`` (dB) and ``sentence_silence`` (seconds)."""

    @property
    def designed(self) -> bool:
        return self.description is not None


def read_voice_yaml(yaml_path: Path) -> VoiceMetadata:
    """NAME.yaml (``language``, ``description``, ``styles``, ``speed``, ``volume``,
    ``sentence_silence``), if it exists; raises ValueError naming the file. Other keys are
    ignored."""
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
        delivery=_read_delivery(yaml_path.name, data),
    )


def _read_delivery(file_name: str, data: dict[str, Any]) -> Delivery:
    def number(key: str, low: float, high: float, example: str) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ValueError(f"{file_name}: '{key}' must be a number from {low:g} to {high:g}, such as '{key}: {example}'")
        return float(value)

    return Delivery(
        speed=number("speed", MIN_SPEED, MAX_SPEED, "0.9"),
        volume_db=number("volume", -40.0, 20.0, "-3") or 0.0,
        sentence_silence=number("sentence_silence", 0.0, 10.0, "0.3"),
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
