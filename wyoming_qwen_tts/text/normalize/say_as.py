"""SSML ``say-as``: a text and an interpretation hint, rendered as the normalizer reads it.

``render_say_as(text, interpret_as, fmt, language)`` returns the text to speak, or None when
the hint is unknown or the content does not fit it (the caller then speaks the text as is).
``language`` is a model language name or code; None means Auto.

Where a written form exists that ``normalize_for_speech`` reads the same way in every language
(an ISO date, ``H:MM``, letters and single digits separated by spaces), that form is returned,
so that it also works under Auto and in Chinese, Japanese and Korean (whose model reads digits
itself).  Otherwise the words come from the functions the normalizer uses, in the language;
under Auto in English; in a language without number rules the text stays as is.

* ``characters``, ``spell-out``, ``verbatim``: letters and digits one by one ("HA" -> "H A");
  any other character is dropped.
* ``cardinal``, ``number``: a number as written in the language ("1,234.5" in English,
  "1.234,5" in German), with an optional sign, read as the normalizer reads it; under Auto
  and without number rules the digits stay.
* ``ordinal``: a whole number, a trailing mark allowed ("3", "3rd", "3.", "3º").
* ``digits``: digit by digit.
* ``telephone``: digit by digit in the groups as written (a group of more than four digits in
  threes), the groups separated by commas; a leading ``+`` is said.
* ``date``, ``format`` one of ``mdy dmy ymd md dm ym my y m d`` (the W3C say-as note); without
  one, ``ymd`` when the first of three fields has four digits, else ``mdy`` in English and
  ``dmy`` elsewhere.  Fields are digit runs separated by anything but letters; a two-digit
  year is 19yy from 69 on, else 20yy.  A full date becomes ISO ``YYYY-MM-DD`` (years
  1000-9999); a partial one becomes words, except German and Russian day-and-month, which are
  written ``25. November`` and ``25 ноября`` so that the normalizer picks the ending or case
  from the words before.  Russian month names are genitive.
* ``time``: ``H``, ``H:MM``, ``H:MM:SS``, ``H.MM``, ``HhMM``, ``HMM``, ``HHMM``, with an optional
  am/pm; it becomes ``H:MM`` (with am/pm: on the 24-hour clock, zero-padded before noon, so
  that English says "a.m.").
"""

from __future__ import annotations

import re

from wyoming_qwen_tts.text.normalize.numerals import (
    MAX_INT_DIGITS,
    Unsayable,
    cardinal,
    digitwise,
    n2w,
    number_pattern,
    ordinal,
    parse_number,
    say_number,
)
from wyoming_qwen_tts.text.normalize.words import LANGS, Lang, language_name

DATE_FORMATS = ("mdy", "dmy", "ymd", "md", "dm", "ym", "my", "y", "m", "d")

_ORDINAL = re.compile(
    rf"(\d{{1,{MAX_INT_DIGITS}}})(?:\.|[ºª°]|st|nd|rd|th|e|er|re|ème|-\w{{1,2}})?"
)
_SIGNED = re.compile(r"([-−+])?\s*(.+)")
_TIME = re.compile(
    r"(?P<h>\d{1,2})(?:[:.hH](?P<mi>\d{2})(?::(?P<s>\d{2}))?|(?P<mi2>\d{2}))?[hH]?"
    r"\s*(?:(?P<ap>[AaPp])\.?\s*[Mm]\.?)?"
)
_MAX_CONTENT = 256


def render_say_as(
    text: str, interpret_as: str, fmt: str | None, language: str | None
) -> str | None:
    """``text`` as ``interpret_as`` says to read it, or None to speak it as is."""
    content = text.strip()
    if not content or len(content) > _MAX_CONTENT:
        return None
    name = language_name(language)
    lang = LANGS.get(name or "english")  # for words: English under Auto; None: no number rules
    exact = lang if name is not None else None  # None under Auto: keep universal forms
    kind = interpret_as.strip().lower()
    try:
        if kind in ("characters", "spell-out", "verbatim"):
            return " ".join(ch for ch in content if ch.isalnum()) or None
        if kind in ("cardinal", "number"):
            return _cardinal(content, exact)
        if kind == "ordinal":
            match = _ORDINAL.fullmatch(content)
            return ordinal(int(match[1]), lang) if match and lang else None
        if kind == "digits":
            return _digits(re.sub(r"\D", "", content), exact)
        if kind == "telephone":
            return _telephone(content, exact)
        if kind == "date":
            return _date(content, fmt, lang, english=name in (None, "english"))
        if kind == "time":
            return _time(content)
    except Unsayable:
        return None
    return None


def _cardinal(content: str, lang: Lang | None) -> str | None:
    match = _SIGNED.fullmatch(content)
    if match is None:
        return None
    sign, raw = match.groups()
    if lang is None or not re.fullmatch(number_pattern(lang.code), raw):
        return None
    words = say_number(parse_number(raw, lang.code), lang)
    if sign:
        return f"{lang.plus if sign == '+' else lang.minus} {words}"
    return words


def _digits(digits: str, lang: Lang | None) -> str | None:
    if not digits:
        return None
    return digitwise(digits, lang) if lang else " ".join(digits)


def _telephone(content: str, lang: Lang | None) -> str | None:
    if re.search(r"[^\W\d_]", content):
        return None
    groups: list[str] = []
    for run in re.findall(r"\d+", content):
        if len(run) <= 4:
            groups.append(run)
            continue
        threes = [run[i : i + 3] for i in range(0, len(run), 3)]
        if len(threes[-1]) == 1:
            threes[-2:] = [threes[-2] + threes[-1]]
        groups.extend(threes)
    spoken = [_digits(group, lang) or "" for group in groups]
    if not spoken:
        return None
    plus = "" if not content.startswith("+") else (lang.plus if lang else "+") + " "
    return plus + ", ".join(spoken)


def _date(content: str, fmt: str | None, lang: Lang | None, english: bool) -> str | None:
    if re.search(r"[^\W\d_]", content):
        return None
    fields = re.findall(r"\d+", content)
    if fmt is None:
        if len(fields) != 3:
            return None
        fmt = "ymd" if len(fields[0]) == 4 else "mdy" if english else "dmy"
    fmt = fmt.strip().lower()
    if fmt not in DATE_FORMATS or len(fields) != len(fmt) or any(len(f) > 4 for f in fields):
        return None
    parts = {key: int(value) for key, value in zip(fmt, fields, strict=True)}
    if "y" in parts and len(fields[fmt.index("y")]) == 2:
        parts["y"] += 1900 if parts["y"] >= 69 else 2000
    year, month, day = parts.get("y"), parts.get("m"), parts.get("d")
    if (month is not None and not 1 <= month <= 12) or (day is not None and not 1 <= day <= 31):
        return None
    if year is not None and month is not None and day is not None:
        return f"{year:04d}-{month:02d}-{day:02d}" if 1000 <= year <= 9999 else None
    if lang is None:
        return None
    return _partial_date(year, month, day, lang)


def _partial_date(year: int | None, month: int | None, day: int | None, lang: Lang) -> str:
    code = lang.code
    month_name = lang.months[month - 1] if month is not None else ""
    if year is not None:
        year_words = n2w(year, code, to="year") if code in ("en", "de") else cardinal(year, lang)
        if month is None:
            return year_words
        return f"{month_name} {'de ' if code in ('es', 'pt') else ''}{year_words}"
    if day is None:
        return month_name
    if month is None:
        return ordinal(day, lang, "n") if code == "ru" else ordinal(day, lang)
    if code == "de":
        return f"{day}. {month_name}"
    if code == "ru":
        return f"{day} {month_name}"
    if code == "en":
        return f"{month_name} {ordinal(day, lang)}"
    day_words = ordinal(1, lang) if day == 1 else cardinal(day, lang)
    return f"{day_words} {'de ' if code in ('es', 'pt') else ''}{month_name}"


def _time(content: str) -> str | None:
    match = _TIME.fullmatch(content)
    if match is None:
        return None
    hour = int(match["h"])
    minute = int(match["mi"] or match["mi2"] or 0)
    second = match["s"]
    if minute > 59 or (second is not None and int(second) > 59):
        return None
    if match["ap"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ap"] in "Pp" else 0)
        hours = f"{hour:02d}" if hour < 12 else str(hour)
    elif hour > 24 or (hour == 24 and minute):
        return None
    else:
        hours = match["h"]
    return f"{hours}:{minute:02d}" + (f":{second}" if second is not None else "")
