"""Dates, clock times and ordinals, per language.

Dates are ISO ``2026-11-25`` everywhere and day-first ``25.11.2026``, ``25/11/2026`` outside
English.  Ordinals are those the spelling marks (``1st``, ``1er``, ``1º``, ``2-го``), an English
day after a month name, a Russian day before a month, and a German ``3.`` before a month or an
ordinal noun.  German and Russian pick the ending or case from the word before.
"""

from __future__ import annotations

import re

from wyoming_qwen_tts.text.normalize.numerals import (
    Unsayable,
    cardinal,
    group,
    n2w,
    ordinal,
    say_count,
    text_before,
    to_int,
)
from wyoming_qwen_tts.text.normalize.words import Lang

_DE_WEAK = re.compile(
    r"\b(?:am|vom|zum|im|beim|dem|den|des|ab|bis|seit|einem|einen|jedem|jeden)\s+$", re.I
)
_DE_DEFINITE = re.compile(r"\b(?:der|die|das)\s+$", re.I)


def _german_ending(before: str) -> str:
    if _DE_WEAK.search(before):
        return "n"
    if _DE_DEFINITE.search(before):
        return ""
    return "r"


def say_date(match: re.Match[str], lang: Lang) -> str:
    """An ISO or day-first date: "November twenty-fifth, twenty twenty-six"."""
    year, month, day = int(match["y"]), int(match["mo"]), int(match["d"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise Unsayable(match[0])
    name = lang.months[month - 1]
    code = lang.code
    if code == "en":
        return f"{name} {ordinal(day, lang)}, {n2w(year, 'en', to='year')}"
    if code == "de":
        ending = _german_ending(text_before(match))
        return f"{ordinal(day, lang)}{ending} {name} {n2w(year, 'de', to='year')}"
    if code == "ru":
        case = _russian_case(text_before(match))
        day_words = ordinal(day, lang, gender="n", case=case)
        return f"{day_words} {name} {ordinal(year, lang, case='g')} года"
    if day == 1 and code in ("fr", "it", "pt", "es"):
        day_words = ordinal(1, lang)
    else:
        day_words = cardinal(day, lang)
    year_words = cardinal(year, lang)
    if code in ("es", "pt"):
        return f"{day_words} de {name} de {year_words}"
    return f"{day_words} {name} {year_words}"


def say_time(match: re.Match[str], lang: Lang) -> str:
    """A clock time: "seven thirty p.m.", "sieben Uhr dreißig", "midi"."""
    hour = int(match["h"])
    minute = int(group(match, "mi") or 0)
    second = int(group(match, "s") or 0)
    if hour > 24 or minute > 59 or second > 59 or (hour == 24 and minute):
        raise Unsayable(match[0])
    code = lang.code
    seconds = ""
    if second:
        joiner = f" {lang.and_} " if code != "ru" else " "
        seconds = joiner + say_count(second, "s", lang)
    if code == "en":
        ap = group(match, "ap")
        padded = match["h"].startswith("0") and len(match["h"]) == 2
        if ap:
            period = "a.m." if ap in "Aa" else "p.m."
        elif hour == 0 or hour > 12 or padded:
            period = "a.m." if hour < 12 or hour == 24 else "p.m."
        else:
            period = ""
        hour_words = cardinal((hour % 12 or 12) if period else hour, lang)
        if minute == 0:
            minute_words = "" if period else " o'clock"
        elif minute < 10:
            minute_words = f" oh {cardinal(minute, lang)}"
        else:
            minute_words = f" {cardinal(minute, lang)}"
        return f"{hour_words}{minute_words}{seconds}" + (f" {period}" if period else "")
    if code == "de":
        out = f"{cardinal(hour, lang, 'n')} Uhr"
        return out + (f" {cardinal(minute, lang)}" if minute else "") + seconds
    if code == "fr":
        if hour in (0, 12):
            out = "minuit" if hour == 0 else "midi"
        else:
            out = say_count(hour, "h", lang)
        return out + (f" {cardinal(minute, lang)}" if minute else "") + seconds
    if code == "ru":
        if minute == 0:
            return say_count(hour, "h", lang) + seconds
        zero = f"{n2w(0, 'ru')} " if minute < 10 else ""
        return f"{cardinal(hour, lang)} {zero}{cardinal(minute, lang, 'f')}{seconds}"
    hour_words = cardinal(hour, lang, "f")
    if code == "es":
        rest = f" y {cardinal(minute, lang)}" if minute else " en punto"
    elif code == "it":
        rest = f" e {cardinal(minute, lang)}" if minute else ""
    else:
        if not minute:
            return say_count(hour, "h", lang) + seconds
        rest = f" e {cardinal(minute, lang)}"
    return hour_words + rest + seconds


# fmt: off
_RU_MARKS = {
    "й": ("n", "m"), "ый": ("n", "m"), "ий": ("n", "m"), "ой": ("n", "m"),
    "я": ("n", "f"), "ая": ("n", "f"), "е": ("n", "n"), "ое": ("n", "n"),
    "го": ("g", "m"), "му": ("d", "m"), "м": ("p", "m"), "ю": ("a", "f"), "ую": ("a", "f"),
}
# fmt: on


def say_ordinal_mark(match: re.Match[str], lang: Lang) -> str:
    """An ordinal written with its ending: ``1st``, ``2e``, ``1ª``, ``2-го``."""
    n = to_int(match["n"])
    mark = group(match, "mark") or ""
    if lang.code == "fr":
        if mark.startswith(("nd", "d")) and n == 2:
            return "seconde" if mark.startswith("nde") else "second"
        feminine = n == 1 and mark.startswith(("r", "è"))
        return ordinal(n, lang, "f" if feminine else "m")
    if lang.code in ("es", "it", "pt"):
        return ordinal(n, lang, "f" if mark == "ª" else "m")
    if lang.code == "ru":
        if mark in ("ые", "ых", "х", "ми"):
            case = {"ые": "n", "ых": "g", "х": "p", "ми": "i"}[mark]
            return n2w(n, "ru", to="ordinal", case=case, plural=True)
        case, gender = _RU_MARKS[mark]
        return ordinal(n, lang, gender, case)
    return ordinal(n, lang)


def say_month_day(match: re.Match[str], lang: Lang) -> str:
    """An English month and day: "November twenty-fifth"."""
    n = int(match["n"])
    if not 1 <= n <= 31:
        raise Unsayable(match[0])
    month = match["month"]
    full = next((m for m in lang.months if m.startswith(month)), month)
    return f"{full} {ordinal(n, lang)}"


def say_german_ordinal(match: re.Match[str], lang: Lang) -> str:
    """``3.`` before a month or an ordinal noun: "dritten", "dritte", "dritter"."""
    return ordinal(int(match["n"]), lang) + _german_ending(text_before(match)) + " "


_RU_GENITIVE_BEFORE = re.compile(r"\b(?:до|с|со|после|от|около|для|из|без|кроме)\s+$", re.I)
_RU_DATIVE_BEFORE = re.compile(r"\b(?:к|ко|по)\s+$", re.I)
_RU_IN_BEFORE = re.compile(r"\b(?:в|во)\s+$", re.I)


def _russian_case(before: str) -> str:
    if _RU_GENITIVE_BEFORE.search(before):
        return "g"
    if _RU_DATIVE_BEFORE.search(before):
        return "d"
    return "n"


def say_russian_year(match: re.Match[str], lang: Lang) -> str:
    """A year before ``год`` in the case of that word: "две тысячи двадцать шестом году"."""
    word = match["word"]
    before = text_before(match)
    end = ""
    if word == "г.":
        word = "году" if _RU_IN_BEFORE.search(before) else "года"
        end = "." if match.end() == len(match.string) else ""
    case = {"год": "n", "года": "g", "годом": "i", "годе": "p"}.get(word, "p")
    if word == "году" and _RU_DATIVE_BEFORE.search(before):
        case = "d"
    return f"{ordinal(int(match['n']), lang, 'm', case)} {word}{end}"


def say_russian_day(match: re.Match[str], lang: Lang) -> str:
    """A day before a Russian month: "двадцать пятое ноября"."""
    n = int(match["n"])
    if not 1 <= n <= 31:
        raise Unsayable(match[0])
    return ordinal(n, lang, "n", _russian_case(text_before(match))) + " "
