"""Styles: named speaking instructions ("calm", "whisper", ...), a voice's Wyoming speakers.

A style becomes the ``instruct`` of a request. Only checkpoints that follow instructions get any
(the 1.7B CustomVoice and the VoiceDesign checkpoints, see ``QwenModel.follows_instructions``):
a style that changes nothing is not offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """A named speaking instruction ("calm", "whisper", ...) offered as a Wyoming speaker."""

    name: str
    instruct: str


BUILTIN_STYLES: tuple[Style, ...] = (
    Style(
        "calm",
        "Speak in a calm, gentle and relaxed tone, at an even, unhurried pace, with soft "
        "emphasis and no excitement.",
    ),
    Style(
        "cheerful",
        "Speak in a cheerful, warm and upbeat tone, brightly and with a smile in the voice, "
        "at a lively pace.",
    ),
    Style(
        "urgent announcement",
        "Speak like an urgent public announcement: loud, clear and firm, at a brisk pace, "
        "stressing the key words, with a serious sense of urgency.",
    ),
    Style(
        "whisper",
        "Whisper: speak very softly and quietly, breathy and close to the listener, as if "
        "sharing a secret.",
    ),
)


def merge_styles(*groups: Iterable[Style]) -> tuple[Style, ...]:
    """The styles of all groups, by case-insensitive name; a later group's style replaces an
    earlier one of the same name in its place (so a user can redefine "calm")."""
    merged: dict[str, Style] = {}
    for group in groups:
        for style in group:
            merged[style.name.lower()] = style
    return tuple(merged.values())


def offered_styles(
    own: Sequence[Style], configured: Sequence[Style], follows_instructions: bool
) -> tuple[Style, ...]:
    """The styles a voice offers: the built-in ones, the configured ones (``settings.styles``)
    and its own (NAME.yaml), where its model follows instructions; else none."""
    if not follows_instructions:
        return ()
    return merge_styles(BUILTIN_STYLES, configured, own)
