"""Tests for wyoming_qwen_tts.text.pronunciation: the lexicon file, its errors and its matching."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wyoming_qwen_tts.text.languages import LANGUAGES
from wyoming_qwen_tts.text.pronunciation import (
    MAX_WORD,
    Lexicon,
    LexiconError,
    LexiconFile,
    Pronunciation,
    _key,
    load_lexicon,
    parse_lexicon,
)

FEW = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lexicon(*entries: Pronunciation) -> Lexicon:
    return Lexicon(entries)


def error(text: str) -> LexiconError:
    with pytest.raises(LexiconError) as info:
        parse_lexicon(text)
    return info.value


# -- strategies --------------------------------------------------------------------------------

ALNUM = st.characters(categories=("Lu", "Ll", "Lt", "Lo", "Nd")).filter(str.isalnum)
alnum_words = st.text(ALNUM, min_size=1, max_size=8)
# Words as a user writes them: letters with dots, hyphens, apostrophes and single spaces inside.
inner = st.text(st.sampled_from("-.' ") | ALNUM, max_size=6).map(lambda s: " ".join(s.split()))
words = st.builds(lambda a, b, c: (a + b + c).strip(), alnum_words, inner, alnum_words).filter(bool)
# PyYAML folds the line breaks of YAML 1.1 (NEL, LS, PS) in its quoted scalars: they do not
# survive safe_dump and safe_load, in a lexicon or anywhere else.
says = (
    st.text(st.characters(exclude_characters="\x85\u2028\u2029"), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)
languages = st.sampled_from([None, *LANGUAGES.values()])


@st.composite
def entry_lists(draw: st.DrawFn) -> list[Pronunciation]:
    entries = draw(
        st.lists(
            st.builds(Pronunciation, words, says, languages, st.booleans()),
            max_size=6,
            unique_by=lambda e: (_key(e.word, not e.case_sensitive), e.language, e.case_sensitive),
        )
    )
    return entries


def render(entries: list[Pronunciation], draw_optional: list[bool]) -> str:
    items = []
    for entry, explicit in zip(entries, draw_optional, strict=True):
        item: dict[str, object] = {"word": entry.word, "say": entry.say}
        if entry.language is not None or explicit:
            item["language"] = entry.language
        if not entry.case_sensitive or explicit:
            item["case_sensitive"] = entry.case_sensitive
        items.append(item)
    return yaml.safe_dump(items, allow_unicode=True)


# -- property tests ----------------------------------------------------------------------------


@FEW
@given(st.data())
def test_rendered_entries_parse_back(data: st.DataObject) -> None:
    entries = data.draw(entry_lists())
    explicit = data.draw(st.lists(st.booleans(), min_size=len(entries), max_size=len(entries)))
    parsed = parse_lexicon(render(entries, explicit))
    assert parsed.entries == tuple(entries)


YAMLISH = st.text(
    st.sampled_from("-:[]{}#&*!|>'\"%@`,? \n\tabHA0.\\") | st.characters(), max_size=80
)
nested = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["word", "say", "language", "case_sensitive", "x"])
            | st.text(max_size=5),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@FEW
@given(YAMLISH | nested.map(yaml.safe_dump) | st.text())
def test_garbage_raises_only_lexicon_error(text: str) -> None:
    try:
        result = parse_lexicon(text)
    except LexiconError as exc:
        assert str(exc).startswith("lexicon.yaml")
    else:
        assert isinstance(result, Lexicon)
        for entry in result.entries:
            assert entry.word and entry.say


@FEW
@given(st.text(), st.sampled_from([None, "english", "german", "en", "klingon"]))
def test_empty_lexicon_is_identity(text: str, language: str | None) -> None:
    assert Lexicon().apply(text, language) is text


@FEW
@given(entry_lists(), st.text(), st.sampled_from([None, "english", "german"]))
def test_text_without_the_words_is_unchanged(
    entries: list[Pronunciation], text: str, language: str | None
) -> None:
    # Words in the strategy have no run of whitespace and no apostrophe other than "'", and the
    # case-insensitive ones are checked with the regex engine's own case folding.
    lex = Lexicon(entries)
    for entry in entries:
        pattern = re.escape(entry.word).replace("'", "['’]").replace(r"\ ", r"\s+")
        if re.search(pattern, text, 0 if entry.case_sensitive else re.IGNORECASE):
            return
    assert lex.apply(text, language) == text


@FEW
@given(
    alnum_words,
    st.text(ALNUM, max_size=4),
    st.text(ALNUM, max_size=4),
    st.booleans(),
    st.text(st.sampled_from(" .,;!?()\n"), max_size=2),
)
def test_word_inside_a_longer_word_is_never_replaced(
    word: str, before: str, after: str, case_sensitive: bool, gap: str
) -> None:
    if not (before or after):
        before = "x"
    text = f"{gap}{before}{word}{after}{gap}"
    lex = lexicon(Pronunciation(word, "<REPLACED>", None, case_sensitive))
    assert lex.apply(text, None) == text
    assert lex.apply(f"{text} {word}", None) == f"{text} <REPLACED>"


def wordish(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or unicodedata.category(ch)[0] == "M"


def reference_apply(entries: list[Pronunciation], text: str, language: str) -> str:
    """The rules spelled out slowly: at each place the longest entry that fits whole, else on."""
    tried = []
    for entry in entries:
        if entry.language in (None, language):
            pieces = re.split(r"(\s+|['’])", entry.word)
            body = "".join(
                r"\s+" if p.isspace() else "['’]" if p in "'’" else re.escape(p)
                for p in pieces
                if p
            )
            tried.append((entry, re.compile(body, 0 if entry.case_sensitive else re.I)))
    out, i = [], 0
    while i < len(text):
        best = None
        for entry, pattern in tried:
            match = pattern.match(text, i)
            if match is None:
                continue
            end = match.end()
            if wordish(entry.word[0]) and i and wordish(text[i - 1]):
                continue
            if wordish(entry.word[-1]) and end < len(text) and wordish(text[end]):
                continue
            rank = (end, entry.case_sensitive, entry.language is not None)
            if best is None or rank > best[0]:
                best = (rank, entry.say)
        if best is None:
            out.append(text[i])
            i += 1
        else:
            out.append(best[1])
            i = best[0][0]
    return "".join(out)


# Few letters, so that words overlap, share prefixes and sit inside each other; "ſ" and the
# Kelvin sign match "s" and "k" for the regex engine's case folding but not for str.lower.
LETTERS = "aAbBsSkK-.'’ "
small_words = st.text(st.sampled_from(LETTERS), min_size=1, max_size=5).map(str.strip).filter(bool)


@FEW
@given(
    st.lists(
        st.builds(
            Pronunciation,
            small_words,
            st.text("XYZ", min_size=1, max_size=3),
            st.sampled_from([None, "english", "german"]),
            st.booleans(),
        ),
        max_size=8,
        unique_by=lambda e: (
            _key(e.word, not e.case_sensitive),
            e.language,
            e.case_sensitive,
        ),
    ),
    st.text(st.sampled_from(LETTERS + "ſ\u212a\n,Ä\u0308"), max_size=30),
    st.sampled_from(["english", "german"]),
)
def test_apply_agrees_with_the_rules_spelled_out(
    entries: list[Pronunciation], text: str, language: str
) -> None:
    # Same-length ties between case-insensitive words the regex engine folds together ("s",
    # "ſ") have no right answer: leave them out.
    loose = [_key(e.word, True).replace("ſ", "s") for e in entries if not e.case_sensitive]
    if len(loose) != len(set(loose)):
        return
    # A combining mark after the longest fit rejects the place (see the module); no shorter try.
    if "\u0308" in text:
        return
    assert Lexicon(entries).apply(text, language) == reference_apply(entries, text, language)


# -- matching ----------------------------------------------------------------------------------

HA = Pronunciation("HA", "Home Assistant")


def test_replaces_a_whole_word() -> None:
    assert lexicon(HA).apply("HA is on", None) == "Home Assistant is on"
    assert (
        lexicon(HA).apply("HAPPY ÄHA HA2 _HA HA", "english") == "HAPPY ÄHA HA2 _HA Home Assistant"
    )
    # A decomposed "Ä" is A + a combining mark: still one word.
    assert lexicon(HA).apply("HA\u0308 A\u0308HA", None) == "HA\u0308 A\u0308HA"


def test_case_sensitive_by_default() -> None:
    assert lexicon(HA).apply("ha Ha HA", None) == "ha Ha Home Assistant"
    loose = lexicon(Pronunciation("Nguyen", "Win", None, case_sensitive=False))
    assert loose.apply("NGUYEN, nguyen and Nguyen", None) == "Win, Win and Win"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HA.", "Home Assistant."),
        ("HA,", "Home Assistant,"),
        ("(HA)", "(Home Assistant)"),
        ("«HA»", "«Home Assistant»"),
        ("HA's", "Home Assistant's"),
        ('"HA"\nHA!', '"Home Assistant"\nHome Assistant!'),
    ],
)
def test_punctuation_next_to_the_word(text: str, expected: str) -> None:
    assert lexicon(HA).apply(text, "english") == expected


def test_words_with_dots_hyphens_apostrophes_and_spaces() -> None:
    lex = lexicon(
        Pronunciation("Wi-Fi", "why fye"),
        Pronunciation("Dr.", "Doctor"),
        Pronunciation("New York", "the big apple"),
        Pronunciation("rock'n'roll", "rock and roll"),
    )
    assert lex.apply("Dr. Who has Wi-Fi in New York.", None) == (
        "Doctor Who has why fye in the big apple."
    )
    assert lex.apply("New\n  York, rock’n’roll", None) == "the big apple, rock and roll"
    assert lex.apply("Wi-Fi6 NewYork XDr.", None) == "Wi-Fi6 NewYork XDr."


def test_regex_case_folding_beyond_str_lower() -> None:
    lex = lexicon(Pronunciation("sun", "Sol", None, False), Pronunciation("SUN", "Sunday"))
    assert lex.apply("ſun Sun SUN sun ſUN", None) == "Sol Sol Sunday Sol Sol"
    assert lexicon(Pronunciation("kelvin", "K", None, False)).apply("\u212aelvin", None) == "K"


def test_a_thousand_words_stay_fast() -> None:
    import time

    lex = Lexicon(Pronunciation(f"word{i}", f"say{i}", None, i % 2 == 0) for i in range(1000))
    text = "The light word17 is on, WORD18 and Word499 and word998 in the living room. " * 4
    started = time.perf_counter()
    result = lex.apply(text, "english")
    for _ in range(10):
        assert lex.apply(text, "english") == result
    assert time.perf_counter() - started < 5  # about 0.1 s on a busy 2-core machine
    assert result.count("say17") == 4 and result.count("say499") == 4
    assert result.count("WORD18") == 4 and result.count("say998") == 4


def test_longest_word_first_and_one_pass() -> None:
    lex = lexicon(
        Pronunciation("York", "Yorrk"),
        Pronunciation("New York", "Noo Yorrk"),
        Pronunciation("HA", "Home Assistant HA"),
    )
    assert lex.apply("New York and York", None) == "Noo Yorrk and Yorrk"
    assert lex.apply("HA", None) == "Home Assistant HA"


def test_language_entries_with_a_language() -> None:
    lex = lexicon(
        Pronunciation("Nguyen", "Win", "english"),
        Pronunciation("Nguyen", "Nuyen", "german"),
        HA,
    )
    assert lex.apply("Nguyen HA", "english") == "Win Home Assistant"
    assert lex.apply("Nguyen HA", "german") == "Nuyen Home Assistant"
    assert lex.apply("Nguyen HA", "french") == "Nguyen Home Assistant"
    assert lex.apply("Nguyen HA", "de") == "Nuyen Home Assistant"
    assert lex.apply("Nguyen HA", "klingon") == "Nguyen Home Assistant"


def test_language_entries_on_auto_follow_detection() -> None:
    lex = lexicon(
        Pronunciation("Nguyen", "Win", "english"),
        Pronunciation("Nguyen", "Nuyen", "german"),
    )
    assert lex.apply("Herr Nguyen ist heute nicht da", None) == "Herr Nuyen ist heute nicht da"
    assert lex.apply("Mister Nguyen is not at home today", None) == (
        "Mister Win is not at home today"
    )
    assert lexicon(Pronunciation("42", "x", "german")).apply("42", None) == "42"


def test_a_language_entry_beats_one_for_all() -> None:
    lex = lexicon(Pronunciation("HA", "Haa"), Pronunciation("HA", "Ha-Ah", "german"))
    assert lex.apply("HA", "german") == "Ha-Ah"
    assert lex.apply("HA", "english") == "Haa"


def test_len_bool_and_empty_word() -> None:
    assert len(lexicon(HA)) == 1 and lexicon(HA)
    assert not Lexicon() and len(Lexicon()) == 0
    with pytest.raises(ValueError):
        Lexicon([Pronunciation(" ", "x")])


# -- parsing -----------------------------------------------------------------------------------


def test_parses_the_documented_format() -> None:
    parsed = parse_lexicon(
        """\
- word: HA
  say: Home Assistant
- word: Nguyen
  say: Win
  language: en          # optional: only for voices speaking this language
  case_sensitive: false # optional, default true
- word: Straße
  say: Strasse
  language: German
- word: x
  say: y
  language: auto
"""
    )
    assert parsed.entries == (
        Pronunciation("HA", "Home Assistant", None, True),
        Pronunciation("Nguyen", "Win", "english", False),
        Pronunciation("Straße", "Strasse", "german", True),
        Pronunciation("x", "y", None, True),
    )


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "---\n", "~\n", "[]\n"])
def test_an_empty_file_is_an_empty_lexicon(text: str) -> None:
    assert not parse_lexicon(text)


def test_the_documented_error_message() -> None:
    exc = error("- word: A\n  say: a\n\n- word: HA\n")
    assert str(exc) == (
        "lexicon.yaml line 4, column 3: 'say' is missing in entry 2 (word 'HA'); "
        "each entry needs 'word' and 'say'"
    )
    assert (exc.line, exc.column) == (4, 3)


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("- word: HA\n  say: [Home\n", 3, 1, "invalid YAML"),
        ("- word: HA\n say: x\n", 2, 2, "invalid YAML"),
        ("- word: HA\n  say: *nope\n", 2, 8, "invalid YAML"),
        ("- word: \x07\n", 1, 9, "invalid YAML"),
        ("word: HA\nsay: x\n", 1, 1, "must be a list"),
        ("- HA\n", 1, 3, "entry 1 is not a mapping"),
        ("- word: A\n  say: a\n-\n  - HA\n", 4, 3, "entry 2 is not a mapping"),
        ("- word: HA\n  sya: x\n", 2, 3, "unknown key 'sya' in entry 1"),
        ("- word: HA\n  say: x\n  word: HB\n", 3, 3, "'word' appears twice in entry 1"),
        ("- say: x\n", 1, 3, "'word' is missing in entry 1;"),
        ("- word: '  '\n  say: x\n", 1, 9, "'word' is empty in entry 1"),
        ("- word: HA\n  say: ''\n", 2, 8, "'say' is empty in entry 1"),
        ("- word: NO\n  say: Norway\n", 1, 9, "'word' in entry 1 must be text; put it in quotes"),
        ("- word: HA\n  say: [a, b]\n", 2, 8, "'say' in entry 1 must be text"),
        ("- word: HA\n  say: x\n  language: 3\n", 3, 13, "'language' in entry 1 must be text"),
        ("- {1: x}\n", 1, 4, "entry 1 has a key that is not a name"),
        (f"- word: {'x' * (MAX_WORD + 1)}\n", 1, 9, f"longer than {MAX_WORD} characters"),
        (
            "- word: HA\n  say: x\n  case_sensitive: maybe\n",
            3,
            19,
            "'case_sensitive' in entry 1 (word 'HA') must be true or false",
        ),
    ],
)
def test_error_line_and_column(text: str, line: int, column: int, fragment: str) -> None:
    exc = error(text)
    assert (exc.line, exc.column) == (line, column), str(exc)
    assert str(exc).startswith(f"lexicon.yaml line {line}, column {column}: ")
    assert fragment in str(exc)


def test_unknown_language_names_the_supported_ones() -> None:
    exc = error("- word: HA\n  say: x\n  language: klingon\n")
    assert (exc.line, exc.column) == (3, 13)
    assert "unknown language 'klingon' in entry 1 (word 'HA')" in str(exc)
    for code, name in LANGUAGES.items():
        assert code in str(exc) and name in str(exc)


def test_duplicate_word_names_both_lines() -> None:
    text = "- word: HA\n  say: a\n- word: HB\n  say: b\n- word: HA\n  say: c\n"
    exc = error(text)
    assert (
        str(exc) == "lexicon.yaml line 5, column 3: entry 3 (word 'HA') repeats entry 1 on line 1"
    )
    # Another language, another case rule, or another case of a case-sensitive word is no repeat.
    parse_lexicon(text.replace("say: c", "say: c\n  language: de"))
    parse_lexicon(text.replace("say: c", "say: c\n  case_sensitive: false"))
    parse_lexicon(text.replace("word: HA\n  say: c", "word: ha\n  say: c"))
    # Words that match the same text are the same word.
    assert error("- {word: New York, say: a}\n- {word: 'New   York', say: b}\n").line == 2
    loose = "- {word: HA, say: a, case_sensitive: no}\n- {word: ha, say: b, case_sensitive: off}\n"
    assert error(loose).line == 2


def test_load_lexicon_reads_utf8_and_reports_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yaml"
    with pytest.raises(LexiconError, match="does not exist") as info:
        load_lexicon(path)
    assert str(info.value).startswith(str(path))
    path.write_bytes("\ufeff- word: Straße\n  say: Strasse\n".encode())
    assert load_lexicon(path).entries == (Pronunciation("Straße", "Strasse"),)
    path.write_bytes(b"- word: HA\n  say: caf\xe9\n")
    with pytest.raises(LexiconError, match="not UTF-8") as info:
        load_lexicon(path)
    assert (info.value.line, info.value.column) == (2, 11)


# -- the file ----------------------------------------------------------------------------------


def write(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_lexicon_file_reloads_keeps_and_empties(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wyoming_qwen_tts.text.pronunciation")
    path = tmp_path / "lexicon.yaml"
    watched = LexiconFile(path)
    assert not watched.lexicon and not watched.refresh()
    assert any("No pronunciation lexicon" in r.message for r in caplog.records)

    base = 1_700_000_000_000_000_000
    write(path, "- word: HA\n  say: Home Assistant\n", base)
    assert watched.refresh()
    assert watched.lexicon.apply("HA on", None) == "Home Assistant on"
    assert not watched.refresh()  # unchanged: only a stat

    write(path, "- word: HA\n  say: Home Assistent\n", base + 1)  # same size, new mtime
    assert watched.refresh()
    assert watched.lexicon.apply("HA", None) == "Home Assistent"
    write(path, "- word: HA\n  say: Home Assistent\n", base + 2)  # touched, same content
    assert not watched.refresh()

    caplog.clear()
    write(path, "- word: HA\n  say: Home Assistant\n- word: HB\n", base + 3)
    assert not watched.refresh()
    assert watched.lexicon.apply("HA", None) == "Home Assistent"  # the previous one stays
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "line 3, column 3: 'say' is missing in entry 2 (word 'HB')" in errors[0].getMessage()
    assert "keeping the previous 1 entries" in errors[0].getMessage()
    caplog.clear()
    assert not watched.refresh()  # the same broken file is not reported again
    assert not caplog.records

    path.unlink()
    assert watched.refresh()
    assert not watched.lexicon
    assert any(r.levelno == logging.INFO and "removed" in r.message for r in caplog.records)
    assert not watched.refresh()


def test_lexicon_file_broken_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "lexicon.yaml"
    write(path, "- word: HA\n  say: [\n", 1_700_000_000_000_000_000)
    with caplog.at_level(logging.INFO, logger="wyoming_qwen_tts.text.pronunciation"):
        watched = LexiconFile(path)
    assert not watched.lexicon
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "line 3, column 1: invalid YAML" in errors[0]
    write(path, "- word: HA\n  say: x\n", 1_700_000_000_000_000_001)
    assert watched.refresh() and len(watched.lexicon) == 1
