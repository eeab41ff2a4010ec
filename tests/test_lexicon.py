"""Tests for wyoming_qwen_tts.text.lexicon: the splitter and the normalizer agree on writing.

Each case is one where the splitter's and the normalizer's own copies of a table disagreed: the
splitter and the normalizer must now treat it the same way.
"""

import pytest

from wyoming_qwen_tts.text.normalize import detect_language, normalize_for_speech
from wyoming_qwen_tts.text.sentences import MAX_SENTENCE_CHARS, frame_budget, split_sentences
from wyoming_qwen_tts.text.spoken import spoken_sentences

# -- scripts -----------------------------------------------------------------------------------

# Hangul Jamo Extended-B (the splitter knew it, the normalizer did not), Jamo Extended-A and
# halfwidth jamo (neither knew them).
HANGUL_JAMO = ["\ud7b0", "\ud7cb", "\ud7fb", "\ua960", "\uffa1"]


@pytest.mark.parametrize("ch", HANGUL_JAMO)
def test_hangul_jamo_is_korean_for_splitter_and_normalizer(ch: str) -> None:
    assert frame_budget(ch * 2) == frame_budget("안녕")
    # Korean is written with spaces: a period glued to it does not end a sentence.
    assert split_sentences(f"Hello.{ch * 3}") == [f"Hello.{ch * 3}"]
    assert split_sentences("Hello.안녕하") == ["Hello.안녕하"]
    assert detect_language(ch * 2) == "korean"
    assert normalize_for_speech(f"{ch * 2} 5", None) == f"{ch * 2} 5"


# CJK Unified Ideographs Extension G (the splitter knew it, the normalizer did not); U+30EDE is
# the "biáng" of biángbiáng noodles.
HAN_EXTENSION_G = ["\U00030000", "\U00030ede", "\U0003134a"]


@pytest.mark.parametrize("ch", HAN_EXTENSION_G)
def test_han_extension_is_han_for_splitter_and_normalizer(ch: str) -> None:
    assert split_sentences(f"Good.{ch * 2}面很好吃。") == ["Good.", f"{ch * 2}面很好吃。"]
    assert frame_budget(ch * 2) == frame_budget("你好")
    assert detect_language(ch * 2) == "chinese"
    assert normalize_for_speech(f"{ch * 2} 12", None) == f"{ch * 2} 12"


# -- punctuation -------------------------------------------------------------------------------

# Closing brackets and quotes the splitter knew and the normalizer's line rule did not.
LINE_CLOSERS = list("〕〗〙〛＂＇")


@pytest.mark.parametrize("closer", LINE_CLOSERS)
def test_closer_after_a_sentence_end_for_splitter_and_normalizer(closer: str) -> None:
    assert split_sentences(f"天气很好。{closer}然后走了。") == [f"天气很好。{closer}", "然后走了。"]
    assert normalize_for_speech(f"天气很好。{closer}\n然后走了。", "chinese") == (
        f"天气很好。{closer} 然后走了。"
    )
    assert split_sentences(f"He said stop.{closer} Then he left.") == [
        f"He said stop.{closer}",
        "Then he left.",
    ]
    assert normalize_for_speech(f"He said stop.{closer}\nThen he left.", "english") == (
        f"He said stop.{closer} Then he left."
    )


# Closers the normalizer took for part of an address (it knew only ASCII ones there).
ADDRESS_CLOSERS = list("»”’›」』】》〉）］｝〕〗〙〛＂＇")


@pytest.mark.parametrize("closer", ADDRESS_CLOSERS)
def test_closer_after_an_address_is_kept(closer: str) -> None:
    text = f"He said see https://example.com/docs.{closer} Then he left."
    assert split_sentences(text) == [
        f"He said see https://example.com/docs.{closer}",
        "Then he left.",
    ]
    assert spoken_sentences(text, "english") == [
        f"He said see example dot com.{closer}",
        "Then he left.",
    ]


# Terminators the splitter knew and the normalizer's line rule did not.
@pytest.mark.parametrize("mark", list("‼⁇⁈⁉"))
def test_terminator_ends_a_line_for_splitter_and_normalizer(mark: str) -> None:
    text = f"Achtung{mark}\nDie Tür ist offen."
    assert split_sentences(text) == [f"Achtung{mark}", "Die Tür ist offen."]
    assert normalize_for_speech(text, "german") == f"Achtung{mark} Die Tür ist offen."


@pytest.mark.parametrize("mark", list("．｡"))
def test_cjk_terminator_ends_a_line_for_splitter_and_normalizer(mark: str) -> None:
    text = f"天气很好{mark}\n明天下雨。"
    assert split_sentences(text) == [f"天气很好{mark}", "明天下雨。"]
    assert normalize_for_speech(text, "chinese") == f"天气很好{mark} 明天下雨。"


# Clause marks the splitter cuts long sentences at, and the normalizer's line rule did not know.
@pytest.mark.parametrize("mark", list("—–"))
def test_clause_mark_for_splitter_and_normalizer(mark: str) -> None:
    long = "word " * 40 + mark + " more" * 40
    assert len(long) > MAX_SENTENCE_CHARS
    assert split_sentences(long)[0].endswith(mark)
    assert normalize_for_speech(f"Temperatur {mark}\nWohnzimmer", "german") == (
        f"Temperatur {mark} Wohnzimmer"
    )


@pytest.mark.parametrize("mark", list("﹐﹑︰"))
def test_cjk_clause_mark_for_splitter_and_normalizer(mark: str) -> None:
    long = "天气" * 100 + mark + "很好" * 100
    assert split_sentences(long)[0].endswith(mark)
    assert normalize_for_speech(f"今天{mark}\n明天下雨。", "chinese") == f"今天{mark} 明天下雨。"


# -- words -------------------------------------------------------------------------------------

# German nouns after which "3." is an ordinal that only the normalizer knew.
ORDINAL_NOUNS = [
    "Tag", "Woche", "Monat", "Quartal", "Kapitel", "Auflage", "Obergeschoss", "Reihe",
    "Spieltag", "Lauf", "Stockwerk", "Jahrtausend", "Jahrestag",
]  # fmt: skip


@pytest.mark.parametrize("noun", ORDINAL_NOUNS)
def test_german_ordinal_noun_for_splitter_and_normalizer(noun: str) -> None:
    text = f"Das ist der 3. {noun} in Folge."
    assert split_sentences(text) == [text]
    assert spoken_sentences(text, "german") == [f"Das ist der dritte {noun} in Folge."]


def test_german_month_abbreviation_is_an_abbreviation() -> None:
    """``Mrz`` was an ordinal noun to the splitter, but not one of its abbreviations."""
    text = "Der Markt ist am 3. Mrz. 2026 geöffnet."
    assert split_sentences(text) == [text]
    assert spoken_sentences(text, "german") == [
        "Der Markt ist am dritten Mrz. zweitausendsechsundzwanzig geöffnet."
    ]


# -- the chosen ranges -------------------------------------------------------------------------


def test_script_ranges() -> None:
    from wyoming_qwen_tts.text.lexicon import is_cjk, is_spaceless

    han = [0x3005, 0x3400, 0x4E00, 0x9FFF, 0xF900, 0x20000, 0x2A700, 0x2EBF0, 0x2F800, 0x30000]
    han += [0x31350, 0x323B0, 0x3347F]  # extensions H and J
    kana = [0x3041, 0x30A1, 0x31F0, 0xFF66, 0x1AFF0, 0x1B000, 0x1B16F]
    hangul = [0x1100, 0x3131, 0xA960, 0xAC00, 0xD7A3, 0xD7B0, 0xD7FF, 0xFFA0, 0xFFDC]
    for o in han + kana:
        assert is_spaceless(chr(o)) and is_cjk(chr(o)), hex(o)
    for o in hangul:
        assert is_cjk(chr(o)) and not is_spaceless(chr(o)), hex(o)
    for o in [0x3004, 0x303F, 0x4DC0, 0xA4D0, 0xD7A4, 0xFF01, 0x2FA20, 0x33480, ord("a")]:
        assert not is_cjk(chr(o)), hex(o)
