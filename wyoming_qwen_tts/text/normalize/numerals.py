"""Numbers in words: digits as written per language, parsed and said with num2words.

Only grammar is written here: the form of a whole number before a noun of some gender
("eine", "une", "veintiún", "одна"), the noun form that goes with a number, decimals read digit
by digit or as a number, and leading zeros read digit by digit.  Whatever num2words cannot say
raises ``Unsayable``, and the digits stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from num2words import num2words

from wyoming_qwen_tts.text.normalize.words import UNIT_NAMES, Lang, Noun, parse_noun

MAX_INT_DIGITS = 15
_MAX_FRACTION_DIGITS = 6
# No-break, narrow no-break and thin space, which group digits ("1 000").
SPACES = "\u00a0\u202f\u2009"


class Unsayable(Exception):
    """num2words cannot say this number: keep the digits."""


@dataclass(frozen=True)
class Num:
    """A number as written: its value and how its digits were grouped and separated."""

    integer: int
    int_digits: str
    fraction: str  # digits after the decimal separator, "" if none
    separator: str  # "." or "," as written, "" if none
    grouped: bool

    @property
    def is_one(self) -> bool:
        return self.integer == 1 and not self.fraction


@cache
def number_pattern(code: str) -> str:
    """A number as written in this language (no sign), not part of a longer digit run."""
    if code == "en":
        body = rf"(?:\d{{1,3}}(?:,\d{{3}})+|\d{{1,3}}(?:[{SPACES}]\d{{3}})+|\d+)(?:\.\d+)?"
    else:
        body = (
            rf"\d{{1,3}}(?:\.\d{{3}})+(?:,\d+)?|\d{{1,3}}(?:[ {SPACES}]\d{{3}})+(?:,\d+)?"
            r"|\d+(?:[,.]\d+)?"
        )
    return rf"(?<![\w.,])(?<!\d[.,])(?:{body})(?![\d]|[.,]\d|\.[^\W\d_])"


def parse_number(raw: str, code: str) -> Num:
    """A number as written in the language with num2words code ``code``."""
    digits = re.sub(f"[ {SPACES}]", "", raw)
    grouped = digits != raw
    separator = ""
    if code == "en":
        grouped = grouped or "," in digits
        digits = digits.replace(",", "")
        if "." in digits:
            separator = "."
    elif "," in digits:
        grouped = grouped or "." in digits
        digits = digits.replace(".", "")
        separator = ","
    elif "." in digits:
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", digits):
            digits = digits.replace(".", "")
            grouped = True
        else:
            separator = "."
    int_digits, _, fraction = digits.replace(",", ".").partition(".")
    if len(int_digits.lstrip("0")) > MAX_INT_DIGITS or len(fraction) > 2 * MAX_INT_DIGITS:
        raise Unsayable(raw)
    return Num(to_int(int_digits), int_digits, fraction, separator, grouped)


def n2w(value: int | str, code: str, **kwargs: object) -> str:
    """num2words, or ``Unsayable``; no commas inside the number."""
    try:
        words = num2words(value, lang=code, **kwargs)
    except Exception as error:  # num2words raises many types for what it cannot say
        raise Unsayable(str(value)) from error
    if not isinstance(words, str) or any(ch.isdigit() for ch in words):
        raise Unsayable(str(value))
    return words.replace(",", "")  # "three thousand, two hundred": no pause inside a number


def cardinal(n: int, lang: Lang, gender: str | None = None, case: str | None = None) -> str:
    """A whole number; with ``gender``, in the form used before a noun of that gender."""
    if lang.code == "ru":
        kwargs: dict[str, object] = {"gender": gender or "m"}
        if case:
            kwargs["case"] = case
        return n2w(n, "ru", **kwargs)
    words = n2w(n, lang.code)
    if gender is None:
        return words
    if lang.code == "de" and words.endswith("eins"):
        return words[:-4] + ("eine" if gender == "f" else "ein")
    if lang.code == "fr" and gender == "f":
        return re.sub(r"\bun$", "une", words)
    if lang.code == "es" and words.endswith("uno"):
        if gender == "f":
            return words[:-1] + "a"
        return words[:-3] + "ún" if words.endswith("iuno") else words[:-1]
    if lang.code == "it" and words.endswith("uno"):
        if gender == "f":
            return words[:-1] + "a"
        return "un" if words == "uno" else words
    if lang.code == "pt" and gender == "f":
        return re.sub(r"\bum$", "uma", re.sub(r"\bdois$", "duas", words))
    return words


def ordinal(n: int, lang: Lang, gender: str = "m", case: str = "n") -> str:
    """An ordinal number in ``gender`` (and, in Russian, ``case``)."""
    if lang.code == "ru":
        return n2w(n, "ru", to="ordinal", gender=gender, case=case)
    words = n2w(n, lang.code, to="ordinal")
    if gender == "f" and lang.code in ("es", "it", "pt"):
        words = re.sub(r"o\b", "a", words)
    if gender == "f" and lang.code == "fr" and words == "premier":
        words = "première"
    return words


def to_int(digits: str) -> int:
    if len(digits) > 2 * MAX_INT_DIGITS:
        raise Unsayable(digits)
    return int(digits)


def digitwise(digits: str, lang: Lang) -> str:
    """Each digit as a word: ``007`` -> "zero zero seven"."""
    return " ".join(n2w(int(d), lang.code) for d in digits)


def say_number(num: Num, lang: Lang, gender: str | None = None) -> str:
    """A number (no sign); a whole one agrees with ``gender``."""
    if len(num.int_digits) > 1 and num.int_digits.startswith("0") and not num.fraction:
        if num.grouped:
            return cardinal(num.integer, lang, gender)
        return digitwise(num.int_digits, lang)
    if not num.fraction:
        return cardinal(num.integer, lang, gender)
    if lang.code == "ru":
        if len(num.fraction) > _MAX_FRACTION_DIGITS:
            raise Unsayable(num.fraction)
        return n2w(f"{num.integer}.{num.fraction}", "ru")
    whole = n2w(num.integer, lang.code)
    point = lang.point_dot if num.separator == "." else lang.point
    if lang.digitwise_fraction or len(num.fraction) > _MAX_FRACTION_DIGITS:
        return f"{whole} {point} {digitwise(num.fraction, lang)}"
    stripped = num.fraction.lstrip("0")
    zeros = len(num.fraction) - len(stripped)
    parts = [n2w(0, lang.code)] * zeros + ([n2w(int(stripped), lang.code)] if stripped else [])
    return f"{whole} {point} {' '.join(parts)}"


def pick(noun: Noun, num: Num | None, lang: Lang, many: bool = False) -> str:
    """The form of ``noun`` after ``num`` (``many``: after a Russian range, genitive plural)."""
    forms = noun.forms
    if len(forms) == 1:
        return forms[0]
    if lang.code == "ru":
        if many:
            return forms[-1]
        if num is None or num.fraction:
            return forms[1]
        n = num.integer
        if n % 100 in (11, 12, 13, 14):
            return forms[2]
        return forms[0] if n % 10 == 1 else forms[1] if n % 10 in (2, 3, 4) else forms[2]
    if num is None:
        return forms[-1]
    if lang.code == "fr":
        singular = num.integer < 2
    else:
        singular = num.is_one
    return forms[0] if singular else forms[1]


def say_count(n: int, unit: str, lang: Lang) -> str:
    """``n`` of ``unit`` (a ``UNIT_NAMES`` key): "eine Stunde", "two hours"."""
    noun = parse_noun(UNIT_NAMES[unit][lang.code])
    num = Num(n, str(n), "", "", False)
    return f"{cardinal(n, lang, noun.gender)} {pick(noun, num, lang)}"


def group(match: re.Match[str], name: str) -> str | None:
    """The group ``name`` of ``match``; None where its pattern has no such group."""
    return match[name] if name in match.re.groupindex else None


def text_before(match: re.Match[str], width: int = 40) -> str:
    """Up to ``width`` characters of the text before ``match``."""
    return match.string[max(0, match.start() - width) : match.start()]
