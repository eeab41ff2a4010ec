"""Tests for wyoming_qwen_tts.text: sentence splitting, streaming and the frame budget."""

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wyoming_qwen_tts.text.sentences import (
    MAX_SENTENCE_CHARS,
    MIN_SENTENCE_WORD_CHARS,
    SentenceStream,
    frame_budget,
    split_sentences,
)

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def non_space(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace())


def stream(chunks: list[str]) -> list[str]:
    s = SentenceStream()
    out: list[str] = []
    for chunk in chunks:
        out += s.feed(chunk)
    return out + s.flush()


SPLITS = [
    # English
    ("Hello. World is big.", ["Hello.", "World is big."]),
    ("Is it on? Yes! Great.", ["Is it on?", "Yes!", "Great."]),
    ("What?! Really?? Fine...", ["What?!", "Really??", "Fine..."]),
    ("Wait... What happened?", ["Wait...", "What happened?"]),
    ("I was... thinking about it. Done.", ["I was... thinking about it.", "Done."]),
    ("I was… thinking. Done.", ["I was… thinking.", "Done."]),
    ("Approx. ten people came. Then more.", ["Approx. ten people came.", "Then more."]),
    ("No trailing punctuation", ["No trailing punctuation"]),
    ("  Leading and trailing space.   ", ["Leading and trailing space."]),
    # decimals, versions, times
    ("It is 21.5 degrees. Pi is 3.14 today.", ["It is 21.5 degrees.", "Pi is 3.14 today."]),
    ("Version 1.2.3 is out. Install it.", ["Version 1.2.3 is out.", "Install it."]),
    ("The bus leaves at 7.30 sharp. Hurry.", ["The bus leaves at 7.30 sharp.", "Hurry."]),
    ("The answer is 42. Next question.", ["The answer is 42.", "Next question."]),
    ("Pay $1,000.50 now. Thanks.", ["Pay $1,000.50 now.", "Thanks."]),
    # abbreviations and initials
    ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
    ("Mrs. and Ms. Brown, Prof. Green vs. St. Louis.", None),
    ("Fruit, e.g. apples, i.e. tasty. Good.", ["Fruit, e.g. apples, i.e. tasty.", "Good."]),
    ("Meet at 7 a.m. Tomorrow works too.", None),
    ("Apples, pears, etc. They are fruit.", None),
    ("J. R. R. Tolkien wrote books. He died.", ["J. R. R. Tolkien wrote books.", "He died."]),
    ("It happened on Jan. 5th. Then Feb. came.", ["It happened on Jan. 5th.", "Then Feb. came."]),
    ("See No. 5 here. No. I refuse.", ["See No. 5 here.", "No. I refuse."]),
    ("It is in the U.S. Capital.", None),
    ("Chapter I. Then more.", ["Chapter I.", "Then more."]),
    # German
    ("Das ist z.B. gut, bzw. toll usw. Ende.", None),
    ("Das ist z. B. gut. Ende gut.", ["Das ist z. B. gut.", "Ende gut."]),
    (
        "Herr Dr. Müller wohnt in der Str. Nr. 5. Er ist nett.",
        ["Herr Dr. Müller wohnt in der Str. Nr. 5.", "Er ist nett."],
    ),
    ("Heute ist der 3. Oktober. Morgen nicht.", ["Heute ist der 3. Oktober.", "Morgen nicht."]),
    ("Ich war zum 2. Mal da. Schön.", ["Ich war zum 2. Mal da.", "Schön."]),
    ("Es kostet ca. 5 Euro. Das ist günstig.", ["Es kostet ca. 5 Euro.", "Das ist günstig."]),
    ("Fr. Schmidt und Hr. Meier kommen. Gut so.", ["Fr. Schmidt und Hr. Meier kommen.", "Gut so."]),
    ("Es sind 21,5 Grad. Es ist sonnig.", ["Es sind 21,5 Grad.", "Es ist sonnig."]),
    # French, Spanish
    (
        "M. Martin et Mme. Dupont sont là. Bonjour.",
        ["M. Martin et Mme. Dupont sont là.", "Bonjour."],
    ),
    ("Il fait beau ! Vraiment ?", ["Il fait beau !", "Vraiment ?"]),
    ("« Bonjour. » Il est parti.", ["« Bonjour. »", "Il est parti."]),
    (
        "La Sra. García llegó. El Sr. López también.",
        ["La Sra. García llegó.", "El Sr. López también."],
    ),
    ("¿Qué hora es? Son las 7.30. ¡Vamos!", ["¿Qué hora es?", "Son las 7.30.", "¡Vamos!"]),
    # URLs, e-mail, domains
    ("Visit example.com for more. Thanks.", ["Visit example.com for more.", "Thanks."]),
    (
        "Docs: www.home-assistant.io/docs. Read them.",
        ["Docs: www.home-assistant.io/docs.", "Read them."],
    ),
    (
        "See https://example.org/a.b?c=d.e now. Mail me@host.de.",
        ["See https://example.org/a.b?c=d.e now.", "Mail me@host.de."],
    ),
    ("Go to example.com. Then log in.", ["Go to example.com.", "Then log in."]),
    # quotes and brackets
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("He left (for good). Sad.", ["He left (for good).", "Sad."]),
    ("(Really?) Yes, really.", ["(Really?)", "Yes, really."]),
    ("She said “wow!” and left.", ["She said “wow!”", "and left."]),
    # lists, bullets, headings, newlines
    ("Shopping list:\n- milk\n- eggs", ["Shopping list:", "- milk", "- eggs"]),
    ("Steps:\n1. Buy bread\n2. Bake a cake", ["Steps:", "1. Buy bread", "2. Bake a cake"]),
    ("1. Buy bread. Quickly.", ["1. Buy bread.", "Quickly."]),
    ("* one item\n* two items\n• three items", ["* one item", "* two items", "• three items"]),
    ("# Weather\nSunny and warm", ["# Weather", "Sunny and warm"]),
    ("A hard-wrapped\nline of prose. Next", ["A hard-wrapped\nline of prose.", "Next"]),
    ("First paragraph\n\nsecond paragraph", ["First paragraph", "second paragraph"]),
    ("Windows\r\nline\r\n\r\nbreaks here", ["Windows\r\nline", "breaks here"]),
    ("Call Dr.\n\nWho is there", ["Call Dr.", "Who is there"]),
    ("Hi\n\nthere you are", ["Hi\n\nthere you are"]),
    # short fragments
    ("Ok. Thanks a lot!", ["Ok. Thanks a lot!"]),
    ("Hi! Ok. Go. Yes.", ["Hi! Ok.", "Go. Yes."]),
    ("Yes. I will.", ["Yes.", "I will."]),
    ("It works. Ok.", ["It works.", "Ok."]),
    ("Ok.", ["Ok."]),
    # emoji and punctuation-only fragments
    ("Great job 🎉 see you. 👍", ["Great job 🎉 see you."]),
    ("Hi there! 👍 See you.", ["Hi there!", "👍 See you."]),
    ("Hello!!! !!! Bye now.", ["Hello!!!", "Bye now."]),
    ("", []),
    ("   \n\n ", []),
    ("... !!! ?", []),
    ("🎉🎉", []),
    # Chinese, Japanese, Korean
    ("今天天气很好。明天下雨！你好吗？", ["今天天气很好。", "明天下雨！", "你好吗？"]),
    ("东京是晴天；大阪下雨。", ["东京是晴天；", "大阪下雨。"]),
    ("他说：“你好。”然后走了。", ["他说：“你好。”", "然后走了。"]),
    ("東京は晴れです。明日は雨でしょう。", ["東京は晴れです。", "明日は雨でしょう。"]),
    ("気温は３．５度です。寒いですね！", ["気温は３．５度です。", "寒いですね！"]),
    ("오늘은 맑습니다. 내일은 비가 옵니다.", ["오늘은 맑습니다.", "내일은 비가 옵니다."]),
    # mixed scripts
    ("The word 你好 means hello. 很好。Right!", ["The word 你好 means hello.", "很好。Right!"]),
    ("Hello!你好吗？I am fine.", ["Hello!", "你好吗？", "I am fine."]),
]


@pytest.mark.parametrize(("text", "expected"), SPLITS)
def test_split_examples(text: str, expected: list[str] | None) -> None:
    """Examples; expected None means "one sentence, unchanged"."""
    if expected is None:
        expected = [text]
    assert split_sentences(text) == expected


@pytest.mark.parametrize(("text", "_expected"), SPLITS)
def test_split_examples_streamed_by_character(text: str, _expected: object) -> None:
    assert stream(list(text)) == split_sentences(text)


def test_stream_waits_for_next_non_space() -> None:
    s = SentenceStream()
    assert s.feed("It is 21.") == []
    assert s.feed(" ") == []
    assert s.feed("5") == ["It is 21."]
    assert s.flush() == ["5"]

    s = SentenceStream()
    assert s.feed("It is 21.") == []
    assert s.feed("5 degrees. It") == ["It is 21.5 degrees."]
    assert s.flush() == ["It"]


def test_stream_emits_as_soon_as_next_sentence_starts() -> None:
    s = SentenceStream()
    assert s.feed("Hello.") == []
    assert s.feed(" W") == ["Hello."]
    assert s.feed("orld.") == []
    assert s.flush() == ["World."]


def test_stream_cjk_emits_without_space() -> None:
    s = SentenceStream()
    assert s.feed("今天天气很好。") == []
    assert s.feed("明") == ["今天天气很好。"]


def test_stream_holds_short_fragment_until_merged() -> None:
    s = SentenceStream()
    assert s.feed("Ok. Thanks") == []
    assert s.feed(" a lot. Bye") == ["Ok. Thanks a lot."]
    assert s.flush() == ["Bye"]


def test_stream_is_reusable_after_flush() -> None:
    s = SentenceStream()
    assert s.feed("First text. Second") == ["First text."]
    assert s.flush() == ["Second"]
    assert s.feed("New text.") == []
    assert s.flush() == ["New text."]
    assert s.flush() == []


def test_long_run_on_splits_at_clause_boundary() -> None:
    clause = "and then the weather stayed rather pleasant for a while, "
    text = clause * 20
    sentences = split_sentences(text)
    assert len(sentences) > 1
    assert all(len(s) <= MAX_SENTENCE_CHARS for s in sentences)
    assert all(s.endswith(",") for s in sentences[:-1])
    assert alnum("".join(sentences)) == alnum(text)


def test_long_run_on_without_clauses_splits_at_whitespace() -> None:
    text = " ".join(["word"] * 400)
    sentences = split_sentences(text)
    assert all(len(s) <= MAX_SENTENCE_CHARS for s in sentences)
    assert all(set(s.split()) == {"word"} for s in sentences)
    assert alnum("".join(sentences)) == alnum(text)


def test_long_cjk_without_punctuation_splits_at_max_length() -> None:
    text = "天气很好我们去公园散步吧" * 60
    sentences = split_sentences(text)
    assert [len(s) for s in sentences[:-1]] == [MAX_SENTENCE_CHARS] * (len(sentences) - 1)
    assert "".join(sentences) == text


def test_long_cjk_prefers_comma() -> None:
    text = ("天气很好我们去公园散步吧，" * 40) + "好。"
    sentences = split_sentences(text)
    assert all(len(s) <= MAX_SENTENCE_CHARS for s in sentences)
    assert all(s.endswith("，") for s in sentences[:-1])
    assert "".join(sentences) == text


def test_hard_cut_keeps_combining_marks_with_their_letter() -> None:
    text = "e\u0301" * 400
    sentences = split_sentences(text)
    assert all(not s.startswith("\u0301") for s in sentences)
    assert "".join(sentences) == text


# --- properties -------------------------------------------------------------------------------

TOKENS = [
    "Hello",
    "world",
    "it",
    "is",
    "21.5",
    "3.14",
    "1.2.3",
    "7.30",
    "42",
    "2026",
    "Mr.",
    "Dr.",
    "e.g.",
    "z.B.",
    "etc.",
    "No.",
    "J.",
    "I.",
    "a.m.",
    "Oktober",
    "Mai",
    "example.com",
    "www.home-assistant.io/docs",
    "me@host.de",
    ".",
    "..",
    "...",
    "…",
    "!",
    "?",
    "?!",
    "。",
    "！",
    "？",
    "；",
    "．",
    "，",
    ",",
    ";",
    ":",
    "—",
    " ",
    " ",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    '"',
    "'",
    "(",
    ")",
    "»",
    "«",
    "“",
    "”",
    "」",
    "「",
    "- ",
    "* ",
    "1. ",
    "# ",
    "你好",
    "天气",
    "東京",
    "です",
    "오늘은",
    "Müller",
    "ça",
    "señor",
    "🎉",
    "👍",
    "\u0301",
    "\u200d",
]

texts = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=60).map("".join),
    st.text(max_size=200),
    st.text(alphabet=st.sampled_from("ab Z1.!? \n。你”"), max_size=800),
)


@PROPERTY
@given(texts)
def test_property_sentences_are_clean(text: str) -> None:
    for sentence in split_sentences(text):
        assert sentence
        assert sentence == sentence.strip()
        assert any(ch.isalnum() for ch in sentence)
        assert len(sentence) <= MAX_SENTENCE_CHARS


@PROPERTY
@given(texts)
def test_property_letters_and_digits_preserved(text: str) -> None:
    """All letters/digits come out once, in order; other non-space characters may only be
    dropped (with dropped pieces), never added or reordered."""
    joined = "".join(split_sentences(text))
    assert alnum(joined) == alnum(text)
    kept = iter(non_space(text))
    assert all(ch in kept for ch in non_space(joined))  # subsequence of the input


@PROPERTY
@given(texts)
def test_property_only_last_sentence_short(text: str) -> None:
    """Short pieces are merged forward; that can only fail to fit when the text is long."""
    text = text[:MAX_SENTENCE_CHARS]
    for sentence in split_sentences(text)[:-1]:
        assert len(alnum(sentence)) >= MIN_SENTENCE_WORD_CHARS


@PROPERTY
@given(texts, st.data())
def test_property_stream_matches_split_for_any_chunking(text: str, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=30)))
    bounds = [0, *cuts, len(text)]
    chunks = [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert stream(chunks) == split_sentences(text)


@PROPERTY
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_property_stream_char_by_char(text: str) -> None:
    assert stream(list(text)) == split_sentences(text)


@PROPERTY
@given(st.text(max_size=300), st.text(max_size=300))
def test_property_frame_budget_monotone(a: str, b: str) -> None:
    assert frame_budget(a) <= frame_budget(a + b)
    assert frame_budget(a) == frame_budget(a)


# --- frame budget -----------------------------------------------------------------------------


def test_frame_budget_values() -> None:
    assert frame_budget("") == math.ceil(2.0 * 12.5)
    assert frame_budget("   ...!!") == 25
    assert frame_budget("Hello") == math.ceil((2.0 + 5 * 0.13) * 12.5)
    assert frame_budget("2026") == math.ceil((2.0 + 4 * 0.35) * 12.5)
    assert frame_budget("你好。") == math.ceil((2.0 + 2 * 0.45) * 12.5)
    assert frame_budget("こんにちは") == math.ceil((2.0 + 5 * 0.45) * 12.5)
    assert frame_budget("안녕") == math.ceil((2.0 + 2 * 0.45) * 12.5)
    assert frame_budget("Hello", frames_per_second=25) == math.ceil((2.0 + 5 * 0.13) * 25)


def test_frame_budget_is_generous() -> None:
    # About 15 characters per second is normal speech; the cap allows well over that.
    text = "The weather in Berlin is sunny with a high of twenty one degrees today."
    normal_seconds = len(alnum(text)) / 15
    assert frame_budget(text) >= 1.8 * normal_seconds * 12.5


def test_frame_budget_rejects_bad_rate() -> None:
    with pytest.raises(ValueError):
        frame_budget("Hello", frames_per_second=0)


# --- performance ------------------------------------------------------------------------------


def _big_text(size: int) -> str:
    rng = random.Random(1234)
    words = [
        "Hello",
        "world,",
        "it",
        "is",
        "21.5",
        "degrees",
        "Dr.",
        "e.g.",
        "example.com",
        "今天",
        "天气",
        "很好。",
        "What?!",
        "\n",
        "- item",
        "done.",
        "Ok.",
    ]
    parts: list[str] = []
    total = 0
    while total < size:
        word = rng.choice(words)
        parts.append(word)
        total += len(word) + 1
    return " ".join(parts)


@pytest.mark.timeout(30)
def test_performance_one_megabyte() -> None:
    text = _big_text(1_000_000)
    sentences = split_sentences(text)
    assert alnum("".join(sentences)) == alnum(text)

    s = SentenceStream()
    streamed: list[str] = []
    for i in range(0, len(text), 10):
        streamed += s.feed(text[i : i + 10])
    streamed += s.flush()
    assert streamed == sentences


@pytest.mark.timeout(30)
def test_performance_long_run_on_and_whitespace() -> None:
    run_on = "x" * 200_000 + " " * 200_000 + "." + " " * 200_000 + "y"
    s = SentenceStream()
    streamed: list[str] = []
    for i in range(0, len(run_on), 10):
        streamed += s.feed(run_on[i : i + 10])
    streamed += s.flush()
    assert streamed == split_sentences(run_on)
