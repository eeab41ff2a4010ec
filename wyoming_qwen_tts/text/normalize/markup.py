"""Markdown and HTML: what of the markup is spoken, and lines made into sentences.

A fenced code block becomes the language's spoken phrase ("Code omitted."); headings,
blockquotes, list markers, task boxes, rules, table separators, emphasis marks, link targets,
reference definitions, footnote marks and tags go; a table row becomes its cells joined by
commas; a few HTML entities are decoded.  A line gets a full stop unless it has punctuation
that pauses already or the next line continues it.  Addresses in a line are spoken by
``addresses``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from wyoming_qwen_tts.text.lexicon import CLOSERS, PAUSE_MARKS
from wyoming_qwen_tts.text.normalize.addresses import speak_addresses
from wyoming_qwen_tts.text.normalize.cleanup import MAX_NESTING
from wyoming_qwen_tts.text.normalize.words import GERMAN_ORDINAL_NOUN, LANGS, code_phrase

_FENCE = re.compile(
    r"^[ \t]{0,3}(?P<fence>`{3,}(?=[^`\n]*$)|~{3,})[^\n]*"
    r"(?P<body>(?:\n.*?)??)"
    r"(?:\n[ \t]{0,3}(?P=fence)[`~]*[ \t]*$|\Z)",
    re.M | re.S,
)
_BR = re.compile(r"<br\s*/?>", re.I)
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^<>\s]+|mailto:[^<>\s]+|[^<>\s@]+@[^<>\s@]+)>", re.I)
_TAG = re.compile(
    r"</?(?:a|b|i|u|s|p|em|strong|small|big|mark|del|ins|sub|sup|code|pre|kbd|samp|var|span|div"
    r"|font|center|ul|ol|li|dl|dt|dd|h[1-6]|hr|img|table|thead|tbody|tfoot|tr|td|th|caption"
    r"|blockquote|q|cite|abbr|details|summary|section|article|header|footer|nav|main|aside"
    r"|figure|figcaption|time|strike|tt)(?:\s[^<>]*)?/?>",
    re.I,
)
_ENTITY = re.compile(r"&(nbsp|amp|lt|gt|quot|apos|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});")
_ENTITIES = {"nbsp": "\u00a0", "amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}

_LINE_PREFIX = re.compile(
    r"^[ \t]*(?:>[ \t]?|#{1,6}(?:[ \t]+|$)|[-*+•‣◦▪·][ \t]+|\d{1,3}[.)](?:[ \t]+|$)"
    r"|\[[ xX]\][ \t]+)"
)
_RULE_LINE = re.compile(r"^[ \t]*(?:(?:[-*_=][ \t]*){3,}|[-=]+)[ \t]*$")
_REF_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*\S+.*$")

_IMAGE = re.compile(r"!\[([^\[\]\n]*)\]\([^()\n]*\)")
_LINK = re.compile(r"\[([^\[\]\n]*)\]\([^()\n]*\)")
_REF_LINK = re.compile(r"\[([^\[\]\n]+)\]\[[^\[\]\n]*\]")
_FOOTNOTE = re.compile(r"\[\^[^\[\]\n]*\]")
_ESCAPE = re.compile(r"\\(?=[!-/:-@\[-`{-~])")
_STAR_BETWEEN_DIGITS = re.compile(r"(?<=\d)[ \t]*\*[ \t]*(?=\d)")
_UNDERSCORE = re.compile(r"(?<![^\W_])_+|_+(?![^\W_])")
_HASHTAG = re.compile(r"(?<![\w&#])#+(?=[^\W\d_])")
_GERMAN_ORDINAL_NOUN_AHEAD = re.compile(rf"[ \t]*{GERMAN_ORDINAL_NOUN}\b")


def strip_markdown(text: str, language: str) -> str:
    """``text`` without markdown or HTML, its lines joined as sentences, addresses spoken."""
    text = _FENCE.sub(lambda m: _fenced_code(m, language), text)
    text = _repeat(_ENTITY, _entity, text)
    text = _BR.sub("\n", text)
    text = _AUTOLINK.sub(r" \1 ", text)
    text = _repeat(_TAG, " ", text)

    lines: list[tuple[str, bool]] = []  # (text, is a block item such as a heading)
    for raw in text.split("\n"):
        line, block = _strip_line(raw, language)
        lines.append((line, block))

    spoken: list[str] = []
    for i, (line, block) in enumerate(lines):
        if not line:
            continue
        following = next((j for j in range(i + 1, len(lines)) if lines[j][0]), None)
        if following is not None:
            next_line, next_block = lines[following]
            blank_between = following > i + 1
            continues = next_line[0].islower() and not (block or next_block or blank_between)
            if not continues and line.rstrip(CLOSERS)[-1:] not in PAUSE_MARKS:
                line += "。" if language in ("chinese", "japanese") else "."
        spoken.append(line)
    return " ".join(spoken)


def _repeat(
    pattern: re.Pattern[str], replacement: str | Callable[[re.Match[str]], str], text: str
) -> str:
    for _ in range(MAX_NESTING):
        new = pattern.sub(replacement, text)
        if new == text:
            break
        text = new
    return text


def _fenced_code(match: re.Match[str], language: str) -> str:
    if not (match["body"] or "").strip():
        return "\n"
    return f"\n\n{code_phrase(language)}\n\n"


def _entity(match: re.Match[str]) -> str:
    name = match[1]
    if name[0] != "#":
        return _ENTITIES[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return " "
    ch = chr(code)
    return ch if unicodedata.category(ch) not in ("Cc", "Cf", "Co") or ch == "\n" else " "


def _strip_line(line: str, language: str) -> tuple[str, bool]:
    """The line without markdown, and whether it was a block item (heading, list, table)."""
    block = False
    for _ in range(MAX_NESTING):
        stripped, is_block = _strip_line_once(line, language)
        block = block or is_block
        if stripped == line:
            break
        line = stripped
    return line, block


def _strip_line_once(line: str, language: str) -> tuple[str, bool]:
    if _RULE_LINE.match(line) or _is_table_separator(line) or _REF_DEFINITION.match(line):
        return "", True
    block = False
    for _ in range(MAX_NESTING):
        match = _LINE_PREFIX.match(line)
        if match is None or _is_ordinal_prefix(line, match, language):
            break
        if match[0].lstrip().startswith("#"):
            line = _without_closing_hashes(line)
        line = line[match.end() :]
        block = block or not match[0].lstrip().startswith(">")
    if "|" in line:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        line = ", ".join(cell for cell in cells if cell)
        block = True
    line = _repeat(_IMAGE, r"\1", line)
    line = _repeat(_LINK, r"\1", line)
    line = _REF_LINK.sub(r"\1", line)
    line = _FOOTNOTE.sub("", line)
    line = _ESCAPE.sub("", line)
    line = _STAR_BETWEEN_DIGITS.sub("×", line)
    line = line.replace("*", "").replace("`", "").replace("~~", "")
    line = _UNDERSCORE.sub("", line)
    line = _HASHTAG.sub("", line)
    return speak_addresses(line, language).strip(), block


def _is_table_separator(line: str) -> bool:
    """``|---|:--:|``"""
    return "|" in line and "-" in line and not line.strip(" \t|:-")


def _without_closing_hashes(line: str) -> str:
    """``## Title ##`` -> ``## Title``"""
    stripped = line.rstrip(" \t")
    core = stripped.rstrip("#")
    if core != stripped and core[-1:] in (" ", "\t"):
        return core.rstrip(" \t")
    return line


def _is_ordinal_prefix(line: str, match: re.Match[str], language: str) -> bool:
    """``3. Oktober``, ``2. Platz``: an ordinal at the start of a line, not a list marker."""
    marker = match[0].strip()
    lang = LANGS.get(language)
    if lang is None or not (marker[:-1].isdigit() and marker.endswith(".")):
        return False
    if lang.code == "de":
        return bool(_GERMAN_ORDINAL_NOUN_AHEAD.match(line, match.end()))
    rest = line[match.end() :].lstrip()
    return any(rest.startswith(month) for month in lang.months)
