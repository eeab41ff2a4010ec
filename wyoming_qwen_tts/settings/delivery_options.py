"""The values of the speech-delivery options: speed bounds and the loudness target."""

from __future__ import annotations

from typing import Literal

from wyoming_qwen_tts.audio.loudness import DEFAULT_TARGET_LUFS
from wyoming_qwen_tts.audio.tempo import MAX_SPEED, MIN_SPEED

__all__ = ["DEFAULT_TARGET_LUFS", "MAX_SPEED", "MIN_SPEED", "LoudnessTarget", "loudness_target"]

LoudnessTarget = float | Literal["off"] | None
"""LUFS for every voice; "off": no loudness change at all; None: cloned voices only, to
``DEFAULT_TARGET_LUFS``."""


def speed_check(value: float) -> str | None:
    if MIN_SPEED <= value <= MAX_SPEED:
        return None
    return f"must be between {MIN_SPEED:g} and {MAX_SPEED:g}, got {value:g}"


def loudness_target(text: str) -> float | Literal["off"]:
    """``off``, or a loudness in LUFS between -70 and 0 (such as ``-20``); raises ValueError."""
    if text.strip().lower() == "off":
        return "off"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"--loudness-target must be a loudness in LUFS such as -20, or 'off'; got {text!r}"
        ) from None
    if not -70.0 <= value <= 0.0:
        raise ValueError(f"--loudness-target must be between -70 and 0 LUFS, got {value:g}")
    return value
