"""Quantities: numbers with signs, ranges, units and currencies; years; dotted numbers.

A unit or currency takes the form the number asks for, and a whole number before a unit, a
currency or a counted noun agrees with its gender ("eine Kilowattstunde", "una hora"); German
uses the dative after a preposition, Italian elides (``un'ora``).  Four digits after a word that
announces a year are read as a year in English and German.
"""

from __future__ import annotations

import re
from functools import cache

from wyoming_qwen_tts.text.lexicon import (
    ENGLISH_MONTH_ABBREVIATIONS,
    ENGLISH_MONTHS,
    GERMAN_MONTHS,
)
from wyoming_qwen_tts.text.normalize.numerals import (
    MAX_INT_DIGITS,
    Num,
    Unsayable,
    cardinal,
    n2w,
    parse_number,
    pick,
    say_number,
    text_before,
    to_int,
)
from wyoming_qwen_tts.text.normalize.words import (
    CURRENCIES,
    EXTRA_NOUNS,
    UNIT_NAMES,
    UNIT_SYMBOLS,
    Lang,
    parse_noun,
)


def say_dotted(match: re.Match[str], lang: Lang) -> str:
    """Three or more dotted parts, part by part: "one dot two dot three"."""
    text = match[0]
    if lang.code != "en" and re.fullmatch(r"\d{1,3}(?:\.\d{3})+", text):
        return text  # thousands, for the quantity pass
    parts = text.split(".")
    return f" {lang.dot} ".join(say_number(Num(to_int(p), p, "", "", False), lang) for p in parts)


def say_money(match: re.Match[str], lang: Lang) -> str:
    """An amount with ``€ $ £ ₽``: "three dollars and fifty cents"."""
    num = parse_number(match["num"], lang.code)
    main_spec, cent_spec = CURRENCIES[match["cur"]][lang.code]
    main, cent = parse_noun(main_spec), parse_noun(cent_spec)
    sign = _sign(match, lang)
    if len(num.fraction) > 2:
        return f"{sign}{say_number(num, lang)} {pick(main, num, lang)}"
    cents = int(num.fraction.ljust(2, "0")) if num.fraction else 0
    whole = Num(num.integer, num.int_digits, "", "", num.grouped)
    cents_num = Num(cents, str(cents), "", "", False)
    cents_words = f"{cardinal(cents, lang, cent.gender)} {pick(cent, cents_num, lang)}"
    if num.integer == 0 and cents:
        return sign + cents_words
    out = f"{sign}{cardinal(num.integer, lang, main.gender)} {pick(main, whole, lang)}"
    if cents:
        joiner = f" {lang.currency_and} " if lang.currency_and else " "
        out += joiner + cents_words
    return out


def _sign(match: re.Match[str], lang: Lang) -> str:
    sign = match["sign"]
    if not sign:
        return ""
    return f"{lang.plus} " if sign == "+" else f"{lang.minus} "


_EN_MONTH = "|".join((*ENGLISH_MONTHS, *ENGLISH_MONTH_ABBREVIATIONS))
_EN_YEAR_BEFORE = re.compile(
    r"(?:\b(?:in|since|from|until|till|by|of|year|before|after|during|around|circa|c\.)"
    rf"|\b(?:{_EN_MONTH})\.?"
    r"(?:\s+(?:\d{1,2}(?:st|nd|rd|th)?|[^\W\d_]+(?:-[^\W\d_]+)?)){0,2},?"
    r"|\b(?:1[1-9]|20)\d\d\s*(?:to|and|or|through|-|–))\s*$",
    re.I,
)
_EN_YEAR_AFTER = re.compile(r"\s*(?:AD|BC|BCE|CE|A\.D\.|B\.C\.)(?![^\W\d_])")
_DE_YEAR_BEFORE = re.compile(
    r"(?:\b(?:im|seit|bis|ab|von|vor|nach|anno|Jahr|Jahre|Jahres|Jahrgang|Sommer|Winter"
    rf"|Frühjahr|Frühling|Herbst|{'|'.join(GERMAN_MONTHS)})"
    r"|\b1[1-9]\d\d\s*(?:bis|und|oder|-|–))\s*$",
)


def _is_year(num: Num, match: re.Match[str], lang: Lang) -> bool:
    if num.fraction or num.grouped or len(num.int_digits) != 4 or match["sign"]:
        return False
    if lang.code == "en" and 1100 <= num.integer <= 2099:
        before, after = text_before(match), match.string[match.end() :]
        return bool(_EN_YEAR_BEFORE.search(before) or _EN_YEAR_AFTER.match(after))
    if lang.code == "de" and 1100 <= num.integer <= 1999:
        return bool(_DE_YEAR_BEFORE.search(text_before(match)))
    return False


_RU_FROM_BEFORE = re.compile(r"\bот\s+$", re.I)


def say_quantity(match: re.Match[str], lang: Lang) -> str:
    """A number, range or year, with an optional unit: "zehn bis fünfzehn Grad"."""
    num = parse_number(match["num"], lang.code)
    num2 = parse_number(match["num2"], lang.code) if match["num2"] else None
    unit = UNIT_SYMBOLS.get(match["unit"] or "")
    if num2 is not None and (len(match["num"]) > 5 or len(match["num2"]) > 5):
        raise Unsayable(match[0])
    if unit is None and _is_year(num, match, lang):
        words = n2w(num.integer, lang.code, to="year")
        if num2 is not None:
            end = n2w(num2.integer, lang.code, to="year") if 1000 <= num2.integer else None
            words += f" {lang.to} {end or say_number(num2, lang)}"
        return words
    noun = parse_noun(UNIT_NAMES[unit][lang.code]) if unit else None
    gender = noun.gender if noun else _gender_of_next_word(match, lang)
    sign = _sign(match, lang)
    if num2 is None:
        words = sign + say_number(num, lang, gender)
        if gender and num.is_one and not sign:
            words = _one_in_context(words, gender, match, lang)
        return f"{words} {pick(noun, num, lang)}" if noun else words
    if lang.code == "ru" and not num.fraction and not num2.fraction:
        start = "" if _RU_FROM_BEFORE.search(text_before(match)) else "от "
        words = f"{start}{sign}{cardinal(num.integer, lang, gender, 'g')} до "
        words += cardinal(num2.integer, lang, gender, "g")
        return f"{words} {pick(noun, num2, lang, many=True)}" if noun else words
    words = f"{sign}{say_number(num, lang, gender)} {lang.to} {say_number(num2, lang, gender)}"
    return f"{words} {pick(noun, num2, lang)}" if noun else words


@cache
def _noun_genders(code: str) -> dict[str, str]:
    genders: dict[str, str] = {}
    specs = [names[code] for names in UNIT_NAMES.values()] + EXTRA_NOUNS[code].split()
    for spec in specs:
        noun = parse_noun(spec)
        for form in noun.forms:
            genders.setdefault(form.split()[0].split("-")[0].casefold(), noun.gender)
    return genders


_TOKEN_TAIL = re.compile(r"\S{0,40}$")
_TOKEN_HEAD = re.compile(r"\S{0,40}")
_LETTER_DIGIT = re.compile(r"[^\W\d_]\d|\d[^\W\d_]")
_NEXT_WORD = re.compile(r"[ \u00a0\u202f]+([^\W\d_]+)")


def _gender_of_next_word(match: re.Match[str], lang: Lang) -> str | None:
    if lang.code == "en":
        return None
    word = _NEXT_WORD.match(match.string, match.end())
    return _noun_genders(lang.code).get(word[1].casefold()) if word else None


_DE_DATIVE_BEFORE = re.compile(r"\b(?:seit|mit|nach|von|vor|in|bei|zu|aus|binnen|ab)\s+$", re.I)
_VOWEL_START = re.compile(r"\s*[aeiouàèéìòùAEIOU]")


def _one_in_context(words: str, gender: str, match: re.Match[str], lang: Lang) -> str:
    """A one whose form depends on the words around it: "seit einer Stunde", "un'ora"."""
    if lang.code == "de" and _DE_DATIVE_BEFORE.search(text_before(match)):
        return "einer" if gender == "f" else "einem"
    if lang.code == "it" and words == "una":
        unit = match["unit"]
        after = match.string[match.end() :] if not unit else _pick_first(unit, lang)
        if _VOWEL_START.match(after):
            return "un'"
    return words


def _pick_first(unit: str, lang: Lang) -> str:
    return parse_noun(UNIT_NAMES[UNIT_SYMBOLS[unit]][lang.code]).forms[0]


def say_leftover(match: re.Match[str], lang: Lang) -> str:
    """Digits that no other pass read, unless they are part of a name (``PM2.5``)."""
    digits, string, start, end = match[0], match.string, match.start(), match.end()
    token_start = _TOKEN_TAIL.search(string, max(0, start - 40), start).start()
    token = string[token_start : _TOKEN_HEAD.match(string, end).end()]
    if len(digits.lstrip("0")) > MAX_INT_DIGITS or _LETTER_DIGIT.search(token):
        raise Unsayable(digits)  # "PM2.5", "v1.2b": a name, not a number
    return say_number(Num(to_int(digits), digits, "", "", False), lang)
