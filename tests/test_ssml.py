"""Tests for wyoming_qwen_tts.text.ssml: the incremental, hardened SSML parser."""

from __future__ import annotations

import logging
import math
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wyoming_qwen_tts.text.normalize import normalize_for_speech
from wyoming_qwen_tts.text.normalize.say_as import render_say_as
from wyoming_qwen_tts.text.ssml import (
    MAX_ATTRIBUTE_CHARS,
    MAX_BREAK_SECONDS,
    MAX_DEPTH,
    Prosody,
    SsmlBoundary,
    SsmlBreak,
    SsmlError,
    SsmlItem,
    SsmlStream,
    SsmlText,
    parse_ssml,
)

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PLAIN = Prosody()


def merged(items: list[SsmlItem]) -> list[SsmlItem]:
    """Adjacent texts with the same prosody joined, as the consumer sees them."""
    out: list[SsmlItem] = []
    for item in items:
        last = out[-1] if out else None
        if isinstance(item, SsmlText) and isinstance(last, SsmlText):
            if last.prosody == item.prosody:
                out[-1] = SsmlText(last.text + item.text, item.prosody)
                continue
        out.append(item)
    return out


def texts(items: list[SsmlItem]) -> str:
    return "".join(item.text for item in items if isinstance(item, SsmlText))


def simple(items: list[SsmlItem]) -> list[object]:
    """Texts as strings, breaks as seconds, boundaries as "|"."""
    out: list[object] = []
    for item in merged(items):
        if isinstance(item, SsmlText):
            out.append(item.text)
        elif isinstance(item, SsmlBreak):
            out.append(item.seconds)
        else:
            out.append("|")
    return out


def only_text(document: str, language: str | None = None) -> SsmlText:
    items = [i for i in merged(parse_ssml(document, language)) if isinstance(i, SsmlText)]
    assert len(items) == 1, items
    return items[0]


def fed_in_chunks(document: str, size: int) -> list[SsmlItem]:
    stream = SsmlStream()
    items: list[SsmlItem] = []
    for start in range(0, len(document), size):
        items += stream.feed(document[start : start + size])
    return items + stream.flush()


# Streaming.


def test_text_is_emitted_before_its_closing_tag() -> None:
    stream = SsmlStream()
    assert texts(stream.feed("<speak>Hello there. How")) == "Hello there. How"
    assert texts(stream.feed(" are <s>you")) == " are you"
    assert simple(stream.feed("</s></speak>") + stream.flush()) == ["|"]


def test_undecided_root_waits_only_for_the_first_characters() -> None:
    stream = SsmlStream()
    assert stream.feed("  \n ") == []
    assert stream.feed("<spe") == []
    assert texts(stream.feed("ak>Hi")) == "Hi"
    stream = SsmlStream()
    assert texts(stream.feed("Hi")) == "Hi"  # a fragment: no waiting at all


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_chunks_may_split_tags_attributes_and_entities(size: int) -> None:
    document = (
        '<speak><s>Caf&#233; &amp; <prosody rate="fast">tea</prosody></s>'
        '<break time="700ms"/><sub alias="Home Assistant">HA</sub></speak>'
    )
    assert merged(fed_in_chunks(document, size)) == merged(parse_ssml(document))
    assert simple(parse_ssml(document)) == ["Café & ", "tea", "|", 0.7, "Home Assistant"]


# Structure, whitespace, the root.


def test_break_separates_words() -> None:
    assert simple(parse_ssml('Hello<break time="700ms"/>world')) == ["Hello", 0.7, "world"]


def test_sentences_and_paragraphs_give_boundaries() -> None:
    assert simple(parse_ssml("<s>A</s><s>B</s>")) == ["A", "|", "B", "|"]
    # Never two boundaries with only whitespace between, and none before the first text.
    document = "<p>A</p>\n<p><s>B</s> <s>C</s></p>"
    assert simple(parse_ssml(document)) == ["A", "|", "\nB", "|", " C", "|"]


def test_whitespace_is_kept() -> None:
    assert texts(parse_ssml("<speak>  a \n\t b  </speak>")) == "  a \n\t b  "


def test_fragment_without_speak() -> None:
    assert simple(parse_ssml("Hello <s>world</s>")) == ["Hello ", "|", "world", "|"]
    assert simple(parse_ssml("<s>Hi</s>")) == ["Hi", "|"]
    assert simple(parse_ssml("  \n <speaker>x</speaker>")) == ["x"]
    assert parse_ssml("") == [] and parse_ssml(" \n ") == []


def test_document_with_declaration_and_namespace() -> None:
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">'
        '<s>Hi</s><break strength="weak"/></speak>'
    )
    items = parse_ssml(document)
    assert simple(items) == ["Hi", "|", 0.25]
    assert items[0] == SsmlText("Hi", Prosody(language="en-US"))


def test_comments_and_processing_instructions_are_ignored() -> None:
    assert texts(parse_ssml("<speak>a<!-- no -->b<?pi x?>c</speak>")) == "abc"


def test_unknown_elements_speak_their_text() -> None:
    document = (
        '<speak>a<foo x="1">b</foo><mark name="m"/>c'
        '<audio src="x.wav">d</audio><audio src="y.wav"><desc>no</desc>e</audio></speak>'
    )
    assert simple(parse_ssml(document)) == ["abcde"]


# break.


@pytest.mark.parametrize(
    ("attributes", "seconds"),
    [
        ('time="700ms"', 0.7),
        ('time="1.5s"', 1.5),
        ('time="2 s"', 2.0),
        ('time="250MS"', 0.25),
        ('time=".5s"', 0.5),
        ('time="0ms"', 0.0),
        ('strength="none"', 0.0),
        ('strength="x-weak"', 0.1),
        ('strength="weak"', 0.25),
        ('strength="medium"', 0.4),
        ('strength="strong"', 0.75),
        ('strength="x-strong"', 1.2),
        ("", 0.4),
        ('time="100ms" strength="x-strong"', 0.1),
    ],
)
def test_break_values(attributes: str, seconds: float) -> None:
    assert parse_ssml(f"<speak><break {attributes}/></speak>") == [SsmlBreak(seconds)]


@pytest.mark.parametrize("attributes", ['time="1h"', 'time="-1s"', 'time="abc"', 'strength="big"'])
def test_bad_break_values_are_errors(attributes: str) -> None:
    with pytest.raises(SsmlError, match="break"):
        parse_ssml(f"<speak><break {attributes}/></speak>")


def test_ten_hour_break_is_clamped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="wyoming_qwen_tts.text.ssml"):
        items = parse_ssml('<break time="36000s"/>a<break time="36000000ms"/>')
    assert [i for i in items if isinstance(i, SsmlBreak)] == [SsmlBreak(MAX_BREAK_SECONDS)] * 2
    assert len([r for r in caplog.records if "break" in r.getMessage()]) == 2
    assert parse_ssml(f'<break time="{"9" * 400}s"/>') == [SsmlBreak(MAX_BREAK_SECONDS)]


# say-as.


@pytest.mark.parametrize(
    ("interpret_as", "fmt", "content", "language", "spoken"),
    [
        ("characters", None, "HA", "english", "H A"),
        ("spell-out", None, "ab1", "german", "a b 1"),
        ("cardinal", None, "1234", "english", "one thousand two hundred and thirty-four"),
        ("cardinal", None, "-5", "english", "minus five"),
        ("cardinal", None, "1.234,5", "german", "eintausendzweihundertvierunddreißig Komma fünf"),
        ("cardinal", None, "1234", None, "1234"),
        ("ordinal", None, "3", "english", "third"),
        ("ordinal", None, "3", "german", "dritte"),
        ("ordinal", None, "21st", "english", "twenty-first"),
        ("ordinal", None, "3", None, "third"),
        ("digits", None, "007", "english", "zero zero seven"),
        (
            "telephone",
            None,
            "+49 170 1234567",
            "english",
            "plus four nine, one seven zero, one two three, four five six seven",
        ),
        ("telephone", None, "555-0199", None, "5 5 5, 0 1 9 9"),
        ("date", "mdy", "11/25/2026", "english", "2026-11-25"),
        ("date", "dmy", "25.11.2026", "german", "2026-11-25"),
        ("date", "ymd", "2026-11-25", None, "2026-11-25"),
        ("date", None, "25/11/26", "french", "2026-11-25"),
        ("date", None, "11/25/1999", "english", "1999-11-25"),
        ("date", "md", "11/25", "english", "November twenty-fifth"),
        ("date", "dm", "25.11", "german", "25. November"),
        ("date", "dm", "1/11", "french", "premier novembre"),
        ("date", "ym", "2026-11", "english", "November twenty twenty-six"),
        ("date", "my", "11/2026", "spanish", "noviembre de dos mil veintiséis"),
        ("date", "y", "1990", "german", "neunzehnhundertneunzig"),
        ("date", "m", "3", "english", "March"),
        ("date", "d", "3", "english", "third"),
        ("time", None, "7:30", "english", "7:30"),
        ("time", None, "7:30pm", "english", "19:30"),
        ("time", None, "7:05 a.m.", "english", "07:05"),
        ("time", None, "12 am", "english", "00:00"),
        ("time", None, "1930", "german", "19:30"),
        ("time", "hms24", "19:30:15", "german", "19:30:15"),
        ("time", None, "7h30", "french", "7:30"),
    ],
)
def test_say_as(
    interpret_as: str, fmt: str | None, content: str, language: str | None, spoken: str
) -> None:
    format_attribute = f' format="{fmt}"' if fmt else ""
    document = f'<say-as interpret-as="{interpret_as}"{format_attribute}>{content}</say-as>'
    assert texts(parse_ssml(document, language)) == spoken


@pytest.mark.parametrize(
    ("interpret_as", "content"),
    [
        ("cardinal", "abc"),
        ("ordinal", "x3"),
        ("date", "13/40/2026"),
        ("date", "Nov 25"),
        ("time", "25:00"),
        ("time", "13pm"),
        ("bogus", "anything"),
        ("", "anything"),
    ],
)
def test_say_as_that_does_not_fit_is_spoken_as_written(interpret_as: str, content: str) -> None:
    document = f'<say-as interpret-as="{interpret_as}"> {content} </say-as>'
    assert texts(parse_ssml(document, "english")) == f" {content} "


def test_say_as_reads_numbers_as_the_normalizer_does() -> None:
    for language in ("english", "german", "french", "spanish", "italian", "portuguese", "russian"):
        expected = normalize_for_speech("1234", language)
        assert render_say_as("1234", "cardinal", None, language) == expected
    # The rendered forms are what the normalizer reads as a date and a time.
    assert (
        normalize_for_speech("2026-11-25", "english") == "November twenty-fifth, twenty twenty-six"
    )
    assert normalize_for_speech("19:30", "german") == "neunzehn Uhr dreißig"
    assert normalize_for_speech("07:05", "english") == "seven oh five a.m."


def test_say_as_uses_the_language_in_effect() -> None:
    document = '<s xml:lang="de-DE"><say-as interpret-as="ordinal">3</say-as></s>'
    assert texts(parse_ssml(document, "english")) == "dritte"
    assert texts(parse_ssml('<say-as interpret-as="ordinal">3</say-as>', "chinese")) == "3"


def test_say_as_keeps_surrounding_whitespace_and_ignores_inner_markup() -> None:
    document = 'a<say-as interpret-as="characters"> H<s>A</s><break/> </say-as>b'
    assert simple(parse_ssml(document, "english")) == ["a H A b"]


def test_say_as_content_is_bounded() -> None:
    with pytest.raises(SsmlError, match="say-as"):
        parse_ssml('<say-as interpret-as="characters">' + "a" * 5000 + "</say-as>")


# sub.


def test_sub_speaks_the_alias() -> None:
    assert simple(parse_ssml('Call <sub alias="World Wide Web">WWW</sub>.')) == [
        "Call World Wide Web."
    ]
    assert texts(parse_ssml('<sub alias="x"><break/>y<s>z</s></sub>')) == "x"
    assert texts(parse_ssml("<sub>WWW</sub>")) == "WWW"


# prosody, emphasis, voice, lang.


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("x-slow", 0.5),
        ("slow", 0.75),
        ("medium", 1.0),
        ("default", 1.0),
        ("fast", 1.25),
        ("x-fast", 1.5),
        ("80%", 0.8),
        ("+20%", 1.2),
        ("-10%", 0.9),
        ("1.2", 1.2),
        ("300%", 2.0),
        ("10%", 0.5),
    ],
)
def test_prosody_rate(rate: str, expected: float) -> None:
    text = only_text(f'<prosody rate="{rate}">x</prosody>')
    assert text.prosody.rate == pytest.approx(expected)


def test_nested_rates_multiply_and_the_product_is_clamped() -> None:
    document = '<prosody rate="x-fast"><prosody rate="x-fast">a</prosody>b</prosody>'
    a, b = merged(parse_ssml(document))
    assert isinstance(a, SsmlText) and isinstance(b, SsmlText)
    assert (a.prosody.rate, b.prosody.rate) == (2.0, 1.5)
    # The clamp applies to the product, not to each level.
    document = '<prosody rate="300%"><prosody rate="50%">a</prosody></prosody>'
    assert only_text(document).prosody.rate == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        ("x-soft", -12.0),
        ("soft", -6.0),
        ("medium", 0.0),
        ("loud", 6.0),
        ("x-loud", 12.0),
        ("+6dB", 6.0),
        ("-3dB", -3.0),
        ("+6.5dB", 6.5),
        ("2 db", 2.0),
        ("+99dB", 20.0),
        ("-99dB", -40.0),
    ],
)
def test_prosody_volume(volume: str, expected: float) -> None:
    assert only_text(f'<prosody volume="{volume}">x</prosody>').prosody.volume_db == expected


def test_nested_volumes_add_and_silent_stays_silent() -> None:
    document = '<prosody volume="loud"><prosody volume="+3dB">a</prosody></prosody>'
    assert only_text(document).prosody.volume_db == 9.0
    document = '<prosody volume="silent"><prosody volume="x-loud">a</prosody></prosody>'
    assert only_text(document).prosody.volume_db == -math.inf


def test_other_prosody_attributes_are_ignored() -> None:
    assert only_text('<prosody pitch="+10%" range="low">x</prosody>').prosody == PLAIN


@pytest.mark.parametrize(
    "attributes", ['rate="+20"', 'rate="quick"', 'rate="-100%"', 'volume="6"', 'volume="loudest"']
)
def test_bad_prosody_values_are_errors(attributes: str) -> None:
    with pytest.raises(SsmlError, match="prosody"):
        parse_ssml(f"<prosody {attributes}>x</prosody>")


def test_emphasis() -> None:
    assert only_text("<emphasis>x</emphasis>").prosody.emphasis == "moderate"
    for level in ("strong", "moderate", "reduced"):
        document = f'<emphasis level="{level}">x</emphasis>'
        assert only_text(document).prosody.emphasis == level
    document = '<emphasis level="strong"><emphasis level="reduced">x</emphasis></emphasis>'
    assert only_text(document).prosody.emphasis == "reduced"
    document = '<emphasis level="strong"><emphasis level="none">x</emphasis></emphasis>'
    assert only_text(document).prosody.emphasis is None
    with pytest.raises(SsmlError, match="emphasis"):
        parse_ssml('<emphasis level="loud">x</emphasis>')


def test_voice_and_language() -> None:
    document = (
        '<speak xml:lang="en-US">a<voice name="Vivian">b<lang xml:lang="de-DE">c</lang>'
        '<s xml:lang="fr">d</s></voice><p xml:lang="it">e</p><voice xml:lang="es">f</voice></speak>'
    )
    items = [i for i in parse_ssml(document) if isinstance(i, SsmlText)]
    assert [(i.text, i.prosody.voice, i.prosody.language) for i in items] == [
        ("a", None, "en-US"),
        ("b", "Vivian", "en-US"),
        ("c", "Vivian", "de-DE"),
        ("d", "Vivian", "fr"),
        ("e", None, "it"),
        ("f", None, "es"),
    ]


# Errors.


def test_error_names_line_and_column() -> None:
    with pytest.raises(SsmlError) as caught:
        parse_ssml("<speak>\n  <s>Hi</p>\n</speak>")
    error = caught.value
    assert (error.line, error.column) == (2, 8)
    assert str(error).startswith("malformed SSML at line 2, column 8: mismatched tag")
    assert "expected </s> (opened at line 2, column 3)" in str(error)


def test_fragment_errors_are_placed_in_the_document() -> None:
    with pytest.raises(SsmlError) as caught:
        parse_ssml("  Hi &bogus; there")
    assert (caught.value.line, caught.value.column) == (1, 6)
    assert "undefined entity" in str(caught.value)


def test_unclosed_tags_at_flush() -> None:
    stream = SsmlStream()
    assert texts(stream.feed("<speak><p>Hi")) == "Hi"
    with pytest.raises(SsmlError, match=r"line 1, column 8: <p> is never closed"):
        stream.flush()
    with pytest.raises(SsmlError, match="never closed"):
        parse_ssml("Hi <s>there")
    with pytest.raises(SsmlError, match="<speak> is never closed"):
        parse_ssml("<speak>Hi <break")
    with pytest.raises(SsmlError, match="unclosed token"):
        parse_ssml('<?xml version="1.0"?><speak/><!-- x')
    with pytest.raises(SsmlError):
        parse_ssml("<spe")


def test_text_after_the_root_is_an_error() -> None:
    with pytest.raises(SsmlError, match="after the root element") as caught:
        parse_ssml("<speak>a</speak> b")
    assert (caught.value.line, caught.value.column) == (1, 18)
    with pytest.raises(SsmlError, match="after the root element"):
        parse_ssml("<speak>a</speak><speak>b</speak>")
    with pytest.raises(SsmlError, match="line 1, column 5: an end tag that closes no open"):
        parse_ssml("a b </s>")


def test_an_error_is_final() -> None:
    stream = SsmlStream()
    with pytest.raises(SsmlError) as first:
        stream.feed("<speak></s>")
    with pytest.raises(SsmlError) as again:
        stream.feed("more")
    assert again.value is first.value
    done = SsmlStream()
    done.flush()
    with pytest.raises(SsmlError, match="after the end"):
        done.feed("x")


def test_lone_surrogate_is_an_error() -> None:
    with pytest.raises(SsmlError, match="surrogate") as caught:
        parse_ssml("<speak>ab\ud800</speak>")
    assert (caught.value.line, caught.value.column) == (1, 10)
    with pytest.raises(SsmlError, match="line 1, column 1: .*surrogate"):
        parse_ssml("\ud800")


# Hostile input.

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">\n' for i in range(1, 10)
    )
    + "]>\n<speak>&lol9;</speak>"
)


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        BILLION_LAUGHS.split("\n", 1)[1],
        '<!DOCTYPE speak [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><speak>&xxe;</speak>',
        '<?xml version="1.0"?><!DOCTYPE speak SYSTEM "http://example.com/x.dtd"><speak/>',
        '<!DOCTYPE speak [<!ENTITY % p SYSTEM "http://example.com/p">%p;]><speak/>',
    ],
)
def test_dtds_and_entity_declarations_are_refused(document: str) -> None:
    with pytest.raises(SsmlError, match="DTD"):
        parse_ssml(document)
    with pytest.raises(SsmlError):
        fed_in_chunks(document, 5)


def test_a_doctype_inside_a_fragment_is_refused() -> None:
    with pytest.raises(SsmlError):
        parse_ssml('Hi <!DOCTYPE x [<!ENTITY a "b">]> &a;')


def test_predefined_entities_and_character_references_work() -> None:
    document = "<speak>&amp;&lt;&gt;&quot;&apos;&#233;&#xE9;</speak>"
    assert texts(parse_ssml(document)) == "&<>\"'éé"


@pytest.mark.parametrize("fragment", [False, True])
def test_depth_ten_thousand(fragment: bool) -> None:
    document = "<s>" * 10_000
    if not fragment:
        document = "<speak>" + document
    with pytest.raises(SsmlError, match=f"more than {MAX_DEPTH} deep"):
        parse_ssml(document)
    stream = SsmlStream()
    with pytest.raises(SsmlError, match="deep"):
        for start in range(0, len(document), 4096):
            stream.feed(document[start : start + 4096])
    assert start < 4096 * 2


def test_depth_at_the_limit_is_fine() -> None:
    document = "<speak>" + "<s>" * (MAX_DEPTH - 1) + "x" + "</s>" * (MAX_DEPTH - 1) + "</speak>"
    assert texts(parse_ssml(document)) == "x"


def test_long_attribute_is_an_error() -> None:
    ok = "a" * MAX_ATTRIBUTE_CHARS
    assert texts(parse_ssml(f'<sub alias="{ok}">x</sub>')) == ok
    with pytest.raises(SsmlError, match=f"at most {MAX_ATTRIBUTE_CHARS}"):
        parse_ssml(f'<sub alias="{ok}a">x</sub>')


@pytest.mark.parametrize(
    ("opening", "filler"),
    [
        ('<speak>Hi <sub alias="', "a"),  # an attribute value
        ("<speak>Hi <!--", "a"),  # a comment
        ("<speak>Hi <", "a"),  # a tag name
        ("<speak>Hi <?pi ", "a"),  # a processing instruction
        ("<speak>Hi &", "a"),  # an entity name
        ("Hi <voice ", 'a="b" '),  # many attributes
    ],
)
def test_a_megabyte_tag_in_small_chunks_fails_early(opening: str, filler: str) -> None:
    stream = SsmlStream()
    chunk = filler * (4096 // len(filler))
    assert texts(stream.feed(opening)) == "Hi "
    fed = 0
    with pytest.raises(SsmlError, match="longer than"):
        while fed < 256:  # 1 MB
            fed += 1
            stream.feed(chunk)
    assert fed < 8


def test_a_megabyte_attribute_in_one_piece_fails() -> None:
    with pytest.raises(SsmlError):
        parse_ssml('<speak><sub alias="' + "a" * 1_000_000 + '">x</sub></speak>')


def test_much_text_in_small_chunks_is_fine() -> None:
    stream = SsmlStream()
    spoken = stream.feed("<speak>")
    for _ in range(100):
        spoken += stream.feed("word " * 1000)
    assert len(texts(spoken + stream.feed("</speak>") + stream.flush())) == 500_000


# Properties.

_WORDS = st.text(alphabet="ab Z.,!?&<>'\"\né", max_size=12).map(escape)
_LEAVES = st.one_of(
    _WORDS,
    st.sampled_from(
        [
            "<break/>",
            '<break time="700ms"/>',
            '<break strength="strong"/>',
            "<!-- c -->",
            "<?pi x?>",
            '<mark name="m"/>',
            '<say-as interpret-as="characters">HA</say-as>',
            '<say-as interpret-as="cardinal">12</say-as>',
            '<say-as interpret-as="date" format="md">11/25</say-as>',
            '<sub alias="x">y</sub>',
            "&amp;&#233;",
        ]
    ),
)
_ELEMENTS = [
    "p",
    "s",
    "emphasis",
    'emphasis level="strong"',
    'voice name="a"',
    'prosody rate="fast"',
    'prosody volume="-6dB" rate="80%"',
    'lang xml:lang="de-DE"',
    "foo",
    "audio",
]


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(_ELEMENTS), st.lists(children, max_size=4)).map(
        lambda t: f"<{t[0]}>{''.join(t[1])}</{t[0].split()[0]}>"
    )


_BODIES = st.lists(st.recursive(_LEAVES, _element, max_leaves=20), max_size=6).map("".join)
_DOCUMENTS = st.tuples(
    _BODIES,
    st.sampled_from(
        [
            "<speak>{}</speak>",
            "{}",
            ' \n<?xml version="1.0"?>\n<speak xmlns="http://www.w3.org/2001/10/synthesis">{}</speak>',
        ]
    ),
).map(lambda t: t[1].format(t[0]))


@PROPERTY
@given(document=_DOCUMENTS, data=st.data())
def test_chunked_feeding_matches_the_whole(document: str, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(document)), max_size=12)))
    stream = SsmlStream("english")
    items: list[SsmlItem] = []
    for start, end in zip([0, *cuts], [*cuts, len(document)], strict=True):
        items += stream.feed(document[start:end])
    items += stream.flush()
    assert merged(items) == merged(parse_ssml(document, "english"))


_XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\t\n &<>\"'")
)


@PROPERTY
@given(text=_XML_TEXT)
def test_escaped_plain_text_round_trips(text: str) -> None:
    assert texts(parse_ssml(f"<speak>{escape(text)}</speak>")) == text
    assert texts(parse_ssml(escape(text))) == text.lstrip(" \t\n")


_GARBAGE = st.lists(
    st.sampled_from(
        ["<", ">", "/", "&", ";", "=", '"', "'", "!", "?", "-", "[", "]", " ", "\n", "a", "#",
         "x", "1", "speak", "s", "p", "break", "time", "say-as", "<!--", "-->", "<?xml",
         "<!DOCTYPE", "<!ENTITY", "&#", "&amp;", "xml:lang", "\x00", "é", "\ud800"]
    ),
    max_size=40,
).map("".join)  # fmt: skip


@PROPERTY
@given(garbage=st.one_of(_GARBAGE, st.text(max_size=60)), size=st.integers(1, 8))
def test_garbage_raises_only_ssml_error(garbage: str, size: int) -> None:
    for parse in (lambda: parse_ssml(garbage), lambda: fed_in_chunks(garbage, size)):
        try:
            items = parse()
        except SsmlError as error:
            assert error.line >= 1 and error.column >= 1
        else:
            assert all(isinstance(i, SsmlText | SsmlBreak | SsmlBoundary) for i in items)
