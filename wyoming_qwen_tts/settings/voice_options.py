"""The options file's lists: cloned voices one by one, and style presets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wyoming_qwen_tts.settings.option import (
    AddonContext,
    addon_items,
    addon_language,
    addon_string,
)
from wyoming_qwen_tts.voices.styles import Style
from wyoming_qwen_tts.voices.voice import VOICE_NAME_PATTERN, ClonedVoice

CLONED_VOICE_KEYS = ("name", "audio", "transcript", "language")
STYLE_KEYS = ("name", "instruct")


def read_cloned_voices(label: str, value: Any, context: AddonContext) -> tuple[ClonedVoice, ...]:
    voices: list[ClonedVoice] = []
    seen: set[str] = set()
    for number, item in enumerate(addon_items(label, value, CLONED_VOICE_KEYS), start=1):
        where = f"{label} item {number}"
        name = addon_string(f"{where}: 'name'", item.get("name"))
        if not VOICE_NAME_PATTERN.match(name):
            raise ValueError(
                f"{where}: 'name' must start with a letter or digit and hold only letters, "
                f"digits, spaces, '.', '_' and '-' (64 at most), got {name!r}"
            )
        if name.lower() in seen:
            raise ValueError(f"{label}: the name '{name}' is used twice")
        seen.add(name.lower())
        where = f"{where} ('{name}')"
        audio = Path(addon_string(f"{where}: 'audio'", item.get("audio"))).expanduser()
        if not audio.is_absolute() and context.base_dir is not None:
            audio = context.base_dir / audio
        voices.append(
            ClonedVoice(
                name=name,
                audio=audio,
                transcript=addon_string(f"{where}: 'transcript'", item.get("transcript")),
                language=addon_language(f"{where}: 'language'", item.get("language")),
            )
        )
    return tuple(voices)


def read_styles(label: str, value: Any, context: AddonContext) -> tuple[Style, ...]:
    styles: list[Style] = []
    seen: set[str] = set()
    for number, item in enumerate(addon_items(label, value, STYLE_KEYS), start=1):
        where = f"{label} item {number}"
        name = addon_string(f"{where}: 'name'", item.get("name"))
        if name.lower() in seen:
            raise ValueError(f"{label}: the name '{name}' is used twice")
        seen.add(name.lower())
        styles.append(Style(name, addon_string(f"{where} ('{name}'): 'instruct'", item.get("instruct"))))
    return tuple(styles)
