"""What the sentence splitter and the normalizer both know about writing: the one copy.

* Scripts, as Unicode ranges: whole blocks of the Unicode 17.0 block list (Blocks.txt) where
  they can be, so that what a later version assigns in a block is covered already:

  - Han: the CJK Unified Ideographs block and its extensions A to J, the compatibility
    ideographs and their supplement, and the ideographic letters and numbers of the CJK
    Symbols and Punctuation block (``々 〆 〇``, the Hangzhou numerals ``〡``-``〩`` and
    ``〸 〹 〺 〻``).
  - Kana: Hiragana, Katakana, Katakana Phonetic Extensions, the halfwidth katakana, and the
    supplementary kana blocks (Kana Extended-A/B, Kana Supplement, Small Kana Extension).
  - Hangul: the assigned syllables ``U+AC00``-``U+D7A3`` and every jamo block: Hangul Jamo,
    Compatibility Jamo, Jamo Extended-A and -B (``U+D7B0``-``U+D7FF``, old-Korean vowels and
    final consonants: Hangul, but not syllables), and the halfwidth jamo.

  Han and kana are written without spaces between words or sentences (``is_spaceless``);
  Korean is written with spaces, but is CJK (``is_cjk``) for how long it takes to say.
* Latin and Cyrillic (for language detection), CJK punctuation and fullwidth forms (a sign
  that the text is written for a CJK reader), emoji and pictographs.
* Punctuation: sentence terminators, clause marks, closing quotes and brackets, line breaks.
* Words: abbreviations that a period does not end a sentence after, and the month names and
  nouns that make a German ``3.`` an ordinal (``am 3. Oktober``, ``zum 2. Mal``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Ranges = tuple[tuple[int, int], ...]

HAN_RANGES: Ranges = (
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3038, 0x303B),  # 〸 〹 〺 〻
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2EE5F),  # Extensions C, D, E, F, I
    (0x2F800, 0x2FA1F),  # CJK Compatibility Ideographs Supplement
    (0x30000, 0x3347F),  # Extensions G, H, J
)
KANA_RANGES: Ranges = (
    (0x3040, 0x309F),  # Hiragana
    (0x30A0, 0x30FF),  # Katakana
    (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
    (0xFF66, 0xFF9F),  # halfwidth katakana
    (0x1AFF0, 0x1AFFF),  # Kana Extended-B
    (0x1B000, 0x1B16F),  # Kana Supplement, Kana Extended-A, Small Kana Extension
)
HANGUL_RANGES: Ranges = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x3130, 0x318F),  # Hangul Compatibility Jamo
    (0xA960, 0xA97F),  # Hangul Jamo Extended-A
    (0xAC00, 0xD7A3),  # Hangul Syllables
    (0xD7B0, 0xD7FF),  # Hangul Jamo Extended-B
    (0xFFA0, 0xFFDC),  # halfwidth jamo
)
LATIN_RANGES: Ranges = (
    (0x0000, 0x024F),  # Basic Latin to Latin Extended-B
    (0x1E00, 0x1EFF),  # Latin Extended Additional
)
CYRILLIC_RANGES: Ranges = ((0x0400, 0x04FF),)
CJK_PUNCTUATION_RANGES: Ranges = (
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0xFF01, 0xFF65),  # fullwidth ASCII, halfwidth CJK punctuation
)
EMOJI_RANGES: Ranges = (
    (0x1F000, 0x1FAFF),  # Mahjong to Symbols and Pictographs Extended-A, flags, skin tones
    (0x2600, 0x27BF),  # Miscellaneous Symbols, Dingbats
    (0x2300, 0x23FF),  # Miscellaneous Technical
    (0x2B00, 0x2BFF),  # Miscellaneous Symbols and Arrows
    (0x2190, 0x21FF),  # Arrows
    (0x25A0, 0x25FF),  # Geometric Shapes
    (0xFE00, 0xFE0F),  # variation selectors
    (0x20E3, 0x20E3),  # keycap
    (0x2122, 0x2122),  # ™
    (0x2139, 0x2139),  # ℹ
    (0x00A9, 0x00A9),  # ©
    (0x00AE, 0x00AE),  # ®
    (0x3030, 0x3030),  # 〰
    (0x303D, 0x303D),  # 〽
    (0x3297, 0x3297),  # ㊗
    (0x3299, 0x3299),  # ㊙
    (0xE0000, 0xE007F),  # tags (subdivision flags)
)


def char_class(*ranges: Iterable[tuple[int, int]]) -> str:
    """A regular expression character class matching the characters of ``ranges``."""
    parts = (
        f"{re.escape(chr(first))}-{re.escape(chr(last))}"
        for group in ranges
        for first, last in group
    )
    return "[" + "".join(parts) + "]"


_SPACELESS = re.compile(char_class(HAN_RANGES, KANA_RANGES))
_CJK = re.compile(char_class(HAN_RANGES, KANA_RANGES, HANGUL_RANGES))


def is_spaceless(ch: str) -> bool:
    """Han or kana: scripts written without spaces between words or sentences."""
    return _SPACELESS.match(ch) is not None


def is_cjk(ch: str) -> bool:
    """Han, kana or Hangul."""
    return _CJK.match(ch) is not None


def spoken_characters(text: str) -> tuple[int, int, int]:
    """The letters, digits and Han, kana or Hangul characters of ``text``: what takes time to
    say (the rest counts nothing)."""
    letters = digits = cjk = 0
    for ch in text:
        if not ch.isalnum():
            continue
        if is_cjk(ch):
            cjk += 1
        elif ch.isdigit():
            digits += 1
        else:
            letters += 1
    return letters, digits, cjk


STRONG_TERMINATORS = "!?‼⁇⁈⁉"
WEAK_TERMINATORS = ".…"
CJK_TERMINATORS = "。！？；．｡"
TERMINATORS = STRONG_TERMINATORS + WEAK_TERMINATORS + CJK_TERMINATORS
CLAUSE_MARKS = ",;:—–"
CJK_CLAUSE_MARKS = "，、：；﹐﹑︰"
# Marks that already give a line or an address its pause.
PAUSE_MARKS = TERMINATORS + CLAUSE_MARKS + CJK_CLAUSE_MARKS
CLOSERS = "\"')]}»”’›」』】》〉）］｝〕〗〙〛＂＇"
# What str.splitlines() splits at; "\r\n" is one break.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

ENGLISH_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
ENGLISH_MONTH_ABBREVIATIONS = (
    "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
)  # fmt: skip
GERMAN_MONTHS = (
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
    "Oktober", "November", "Dezember",
)  # fmt: skip
GERMAN_MONTH_ABBREVIATIONS = (
    "Jan", "Feb", "Mär", "Mrz", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Okt", "Nov", "Dez",
)  # fmt: skip
# A German "3." before one of these is an ordinal ("am 3. Oktober", "zum 2. Mal").
GERMAN_ORDINAL_NOUNS = frozenset(
    (
        *GERMAN_MONTHS,
        "Jänner",
        *GERMAN_MONTH_ABBREVIATIONS,
        *"""
        Mal Platz Stock Stockwerk Etage Obergeschoss Stelle Klasse Liga Runde Spieltag Lauf
        Reihe Halbzeit Tag Woche Monat Quartal Jahrhundert Jahrtausend Geburtstag Jahrestag
        Advent Kapitel Auflage
        """.split(),
    )
)

# Matched as written (case-sensitive), so that "No." or "Me." still end sentences.
ABBREVIATIONS = frozenset(
    """
    Mr Mrs Ms Mx Dr Dres Dra Prof St Ste Jr Sr Sra Srta Sres Mt Ft Gen Col Capt Lt Sgt Rev Hon
    Gov Sen Rep Hr Hrn Fr Frl Mme Mmes Mlle Mlles MM Mgr Sig Dott Avv Lic Ing Arq Ud Uds Vd Vds
    Dña Av Avda Cía Nr Str Bd Abs Mio Mrd Tsd Jh Ave Blvd Vol Fig Sig.ra
    """.split()
) | frozenset((*ENGLISH_MONTH_ABBREVIATIONS, *GERMAN_MONTH_ABBREVIATIONS))
# Matched after lowercasing.
LOWER_ABBREVIATIONS = frozenset(
    """
    etc vs approx ca cca usw bzw ggf evtl inkl zzgl bspw sog vgl bzgl ehem allg
    cf env chap apr ex ecc aprox pág núm
    """.split()
)
# Only before a number: "No. 5", but "No. I won't."
NUMBER_ABBREVIATIONS = frozenset("No no Nos Nº Art art pp Tel tel Kap".split())
