"""Cleanup that every language gets: characters, emoji, whitespace and empty brackets.

``clean_characters`` runs first: line breaks are unified, the text is made NFC, and
control, format, private-use and surrogate characters and emoji go.  ``tidy`` runs last: it
collapses whitespace and drops brackets left empty and spaces before punctuation.
"""

from __future__ import annotations

import re
import unicodedata

from wyoming_qwen_tts.text.lexicon import EMOJI_RANGES, LINE_BREAKS, char_class

MAX_NESTING = 10

_LINE_BREAK = re.compile("\r\n|[" + re.escape(LINE_BREAKS.replace("\n", "")) + "]")
_EMOJI = re.compile(char_class(EMOJI_RANGES) + "+")


def clean_characters(text: str) -> str:
    """``text`` in NFC with plain line breaks, without invisible characters or emoji."""
    text = unicodedata.normalize("NFC", _LINE_BREAK.sub("\n", text))
    text = "".join(
        ch
        for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )
    return _EMOJI.sub(" ", text)


def tidy(text: str) -> str:
    """``text`` on one line, single-spaced, without empty brackets or spaces before marks."""
    text = " ".join(text.split())
    for _ in range(MAX_NESTING):
        previous = text
        text = _drop_empty_brackets(text)
        text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
        text = _REPEATED_STOP.sub(".", text)
        text = " ".join(text.split())
        if text == previous:
            break
    return text


_BRACKET_PAIRS = {")": "(", "]": "[", "}": "{", "）": "（"}


def _drop_empty_brackets(text: str) -> str:
    """Removes brackets with nothing but whitespace (or other such brackets) inside."""
    out: list[str] = []
    opened: list[list[int]] = []  # [index in out, whether it holds something], innermost last
    for ch in text:
        if ch in "([{（":
            opened.append([len(out), 0])
            out.append(ch)
        elif opened and _BRACKET_PAIRS.get(ch) == out[opened[-1][0]]:
            start, full = opened.pop()
            if full:
                out.append(ch)
                if opened:
                    opened[-1][1] = 1
            else:
                del out[start:]
        else:
            out.append(ch)
            if opened and not ch.isspace():
                opened[-1][1] = 1
    return "".join(out)


_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?…])(?!\d)")
_REPEATED_STOP = re.compile(r"(?<!\.)\.\s+\.(?!\.)")
