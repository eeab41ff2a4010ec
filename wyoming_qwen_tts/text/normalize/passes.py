"""The number passes: which pattern is read by which handler, in which order, per language.

Each pass replaces its matches in the whole text before the next pass runs, so an earlier
pass (a date, a time, money) takes its digits before a later one (a plain quantity) sees them.
A match glued to a word, an address or a dotted name, and one that num2words cannot say, stay
as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from wyoming_qwen_tts.text.lexicon import ENGLISH_MONTH_ABBREVIATIONS
from wyoming_qwen_tts.text.normalize.dates import (
    say_date,
    say_german_ordinal,
    say_month_day,
    say_ordinal_mark,
    say_russian_day,
    say_russian_year,
    say_time,
)
from wyoming_qwen_tts.text.normalize.numerals import SPACES, Unsayable, number_pattern
from wyoming_qwen_tts.text.normalize.quantities import (
    say_dotted,
    say_leftover,
    say_money,
    say_quantity,
)
from wyoming_qwen_tts.text.normalize.words import GERMAN_ORDINAL_NOUN, LANGS, UNIT_SYMBOLS, Lang

_Handler = Callable[[re.Match[str], Lang], str]

# Whitespace as it will be after tidy, except for the spaces that group digits.
_LOOSE_SPACE = re.compile(rf"\s{{2,}}|[^\S {SPACES}]")


def speak_numbers(text: str, lang: Lang) -> str:
    """``text`` with its numbers, dates, times, money and units in words of ``lang``."""
    text = _LOOSE_SPACE.sub(" ", text)
    for pattern, handler in _passes(lang.name):
        text = pattern.sub(lambda m, h=handler: _safe(h, m, lang), text)
    return text


def _safe(handler: _Handler, match: re.Match[str], lang: Lang) -> str:
    if _glued(match):
        return match[0]
    try:
        return handler(match, lang)
    except Unsayable:
        return match[0]


_GLUED_DOT_WORD = re.compile(r"\.[^\W_]")


def _wordlike(ch: str) -> bool:
    return ch.isalpha() or ch == "@"


def _wordlike_or_space(ch: str) -> bool:
    return ch.isalpha() or ch.isspace()


def _glued(match: re.Match[str]) -> bool:
    """A number that is part of a word ("x2026-11-25", "0.0.0A"), an address or a dotted name."""
    text, string, start, end = match[0], match.string, match.start(), match.end()
    if not any(ch.isdigit() for ch in text):
        return False
    if start and _wordlike(string[start - 1]) and not _wordlike_or_space(text[0]):
        return True
    if end < len(string) and _wordlike(string[end]) and not _wordlike_or_space(text[-1]):
        return True
    return bool(_GLUED_DOT_WORD.match(string, end))


@cache
def _passes(name: str) -> tuple[tuple[re.Pattern[str], _Handler], ...]:
    """The patterns and their handlers for the language ``name``, in order of precedence."""
    lang = LANGS[name]
    code = lang.code
    num = number_pattern(code)
    sp = f"[ {SPACES}]"
    months = "|".join(lang.months)
    passes: list[tuple[str, _Handler, int]] = []

    def add(pattern: str, handler: _Handler, flags: int = 0) -> None:
        passes.append((pattern, handler, flags))

    add(r"(?<![\d.,/-])(\d{4}-\d{2}-\d{2})T(?=\d{2}:\d{2})", lambda m, _l: m[1] + " ")
    add(r"(?<![\d.,/:-])(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?![\d]|[.,]\d|-\d)", say_date)
    if code != "en":
        add(
            r"(?<![\d.,/:-])(?P<d>\d{1,2})(?P<s>[./])(?P<mo>\d{1,2})(?P=s)(?P<y>\d{4})"
            r"(?![\d]|[.,/]\d)",
            say_date,
        )
    add(
        r"(?<![\w.,])\d+(?:\.\d+){2,}(?![\d]|[.,]\d)",
        say_dotted,
    )
    time = r"(?<![\d.,:])(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?(?![\d]|[.,:]\d)"
    if code == "en":
        ampm = rf"(?:{sp}?(?P<ap>[AaPp])\.?{sp}?[Mm]\.?(?![^\W\d_]))"
        add(time + ampm + "?", say_time)
        add(rf"(?<![\w.,:])(?P<h>\d{{1,2}}){ampm}", say_time)
    elif code == "de":
        add(time + rf"(?:{sp}?Uhr\b)?", say_time)
        add(rf"(?<![\w.,:])(?P<h>\d{{1,2}})(?:[.:](?P<mi>\d{{2}}))?{sp}?Uhr\b", say_time)
    elif code in ("fr", "pt"):
        add(rf"(?<![\w.,:])(?P<h>\d{{1,2}}){sp}?h{sp}?(?P<mi>\d{{2}})?(?![^\W\d_])", say_time)
        add(time + rf"(?:{sp}?h\b)?", say_time)
    else:
        add(time + rf"(?:{sp}?(?:h|hs|horas|ore)\b)?", say_time)

    add(r"(?:(?<![\w#&])#|№|\bNo\.|\bNr\.) ?(?=\d)", lambda m, lang_: f"{lang_.number} ")
    signed = rf"(?P<sign>(?<![\w.,)\]}}])[-−+])?(?P<num>{num})"
    currency = "[€$£₽]"
    add(rf"(?P<cur>{currency}){sp}?{signed}", say_money)
    add(rf"{signed}{sp}?(?P<cur>{currency})", say_money)

    if code == "en":
        add(r"(?<![\w.,])(?P<n>\d+)(?:st|nd|rd|th|ST|ND|RD|TH)(?![^\W\d_])", say_ordinal_mark)
        add(
            rf"\b(?P<month>{months}|{'|'.join(ENGLISH_MONTH_ABBREVIATIONS)})\.?"
            rf"{sp}(?P<n>\d{{1,2}})(?![\d]|[.,]\d|:|{sp}?(?:%|°|[a-z]))",
            say_month_day,
        )
    elif code == "fr":
        add(
            r"(?<![\w.,])(?P<n>\d+)(?P<mark>ers?|res?|ère|ères|ème|èmes|eme|e|es|nde?|d)"
            r"(?![^\W\d_])",
            say_ordinal_mark,
        )
        add(rf"(?<![\w.,])1{sp}(?=(?:{months})\b)", lambda m, _l: "premier ")
    elif code in ("es", "it", "pt"):
        add(r"(?<![\w.,])(?P<n>\d+)\.?(?P<mark>[ºª])", say_ordinal_mark)
    elif code == "ru":
        add(
            r"(?<![\w.,])(?P<n>\d+)-(?P<mark>ый|ий|ой|ая|ое|ые|ых|ую|го|му|ми|й|я|е|х|м|ю)"
            r"(?![^\W\d_])",
            say_ordinal_mark,
        )
        add(
            rf"(?<![\w.,])(?P<n>\d{{3,4}}){sp}?(?P<word>году|года|годом|годе|год|г\.)"
            r"(?![^\W\d_])",
            say_russian_year,
        )
        add(rf"(?<![\w.,])(?P<n>\d{{1,2}}){sp}(?=(?:{months})\b)", say_russian_day)
    elif code == "de":
        add(rf"(?<![\w.,])(?P<n>\d{{1,4}})\.{sp}+(?={GERMAN_ORDINAL_NOUN}\b)", say_german_ordinal)

    units = "|".join(re.escape(u) for u in sorted(UNIT_SYMBOLS, key=len, reverse=True))
    add(
        rf"{signed}(?:(?P<range>{sp}?[–—]{sp}?|-)(?P<num2>{num}))?"
        rf"(?:{sp}?(?P<unit>{units})(?![^\W\d_]|['’]))?(?![^\W\d_])",
        say_quantity,
    )
    add(r"(?<![^\W\d_])(?<!\d)\d+(?![^\W\d_]|\d|\.[^\W\d_])", say_leftover)
    add(r"(?<=\s)&(?=\s)|(?<=[^\W\d_])&(?=[^\W\d_])", lambda m, lang_: f" {lang_.and_} ")
    if code == "it":
        add(r"(?<=\bun') (?=[^\W\d_])", lambda m, _l: "")
    return tuple((re.compile(p, f), h) for p, h, f in passes)
