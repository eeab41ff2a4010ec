"""Incremental, hardened SSML parsing: chunks of a document in, text, breaks and boundaries out.

``SsmlStream.feed(chunk)`` returns the items that the chunk completes, and text as soon as it
is parsed (never held back until a closing tag), so speech can start at the first sentence
while the rest of the document streams in.  Chunks may split the document anywhere, even inside
a tag name, an attribute or an entity.  ``flush()`` ends the input; ``parse_ssml`` does both.
Whitespace stays as in the source (after XML's line-end normalization); a break or boundary
item is what separates the words on either side of ``<break/>``, ``<s>`` or ``<p>``.

Supported subset (element names are matched without namespace and case)
------------------------------------------------------------------------
* ``speak``: the root, optional: a document whose first non-whitespace characters are not
  ``<speak``, ``<?xml`` or ``<!DOCTYPE`` is a fragment inside an implicit ``<speak>`` (only
  those first characters are waited for before text is emitted).
* ``p``, ``s``: an ``SsmlBoundary`` at the start and at the end (never two in a row with only
  whitespace between, and none before the first text or break).
* ``break``: ``time`` (``700ms``, ``1.5s``, ``2 s``) wins over ``strength``: none 0, x-weak
  0.1, weak 0.25, medium 0.4, strong 0.75, x-strong 1.2 seconds; a bare ``<break/>`` is
  medium; ``none`` gives ``SsmlBreak(0.0)``, which still separates the words on either side.
  Longer than ``MAX_BREAK_SECONDS`` (10 s) is clamped, with a warning.
* ``say-as interpret-as``: characters/spell-out/verbatim, cardinal/number, ordinal, digits,
  telephone, date (``format``), time; rendered by ``normalize.say_as`` in the language in
  effect.  Unknown kinds, and content that does not fit its kind, are spoken as written.
  Elements inside say-as are not interpreted; their text is part of the content.
* ``sub alias``: the alias is spoken instead of the content (without an alias, the content).
* ``prosody``: ``rate`` x-slow 0.5, slow 0.75, medium/default 1, fast 1.25, x-fast 1.5, or
  ``80%``, ``+20%``, ``-10%``, a bare multiplier ``1.2``; nested rates multiply and the product
  is clamped to 0.5..2.0.  ``volume`` silent, x-soft -12, soft -6, medium/default 0, loud +6,
  x-loud +12 dB, or ``+6dB``, ``-3dB``, ``6.5dB``; nested volumes add and the sum is clamped to
  -40..+20 dB; ``silent`` (anywhere in the nesting) is ``-inf`` dB, so ``10 ** (db / 20)`` is
  0.  ``pitch``, ``contour``, ``range``, ``duration``: ignored.
* ``emphasis level``: strong, moderate (the default), reduced, none (no emphasis); innermost
  wins.
* ``voice name``; ``lang xml:lang``; ``xml:lang`` on any element sets the language, as given.
* ``desc`` and ``metadata``: not spoken.  Any other element (``audio``, ``mark``, vendor
  elements): ignored, its text spoken.  Comments and processing instructions: ignored.
A bad ``time``, ``strength``, ``rate``, ``volume`` or ``level`` value is an ``SsmlError``.

Hardening
---------
The parser is expat through defusedxml: a DTD (so any entity declaration: billion laughs,
external entities) is refused; the five predefined entities and character references work.
More than ``MAX_DEPTH`` nested elements, an attribute value over ``MAX_ATTRIBUTE_CHARS``, say-as
content over ``MAX_SAY_AS_CHARS`` and one unfinished tag, comment or entity reference holding
more than ``MAX_PENDING_BYTES`` of input are errors, so memory stays bounded and a huge tag fed
in small chunks fails after a few of them.  Malformed XML, unclosed and mismatched tags and
anything after the root element are errors too; each ``SsmlError`` names its line and column.
Expat's reparse deferral (2.6+) is turned off where Python allows it, so each chunk is parsed
as it is fed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import NoReturn
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ErrorString, errors

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from wyoming_qwen_tts.text.normalize.say_as import render_say_as

_LOG = logging.getLogger(__name__)

MAX_BREAK_SECONDS: float = 10.0
MAX_DEPTH: int = 32
MAX_ATTRIBUTE_CHARS: int = 1024
MAX_SAY_AS_CHARS: int = 1024
MAX_PENDING_BYTES: int = 16384
MIN_RATE, MAX_RATE = 0.5, 2.0
MIN_VOLUME_DB, MAX_VOLUME_DB = -40.0, 20.0

# fmt: off
BREAK_STRENGTHS = {
    "none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.4, "strong": 0.75, "x-strong": 1.2,
}
RATE_WORDS = {
    "x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5,
}
VOLUME_WORDS = {
    "silent": -math.inf, "x-soft": -12.0, "soft": -6.0, "medium": 0.0, "default": 0.0,
    "loud": 6.0, "x-loud": 12.0,
}
# fmt: on
EMPHASIS_LEVELS = ("strong", "moderate", "reduced", "none")

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_SPACE = " \t\r\n"
_IMPLICIT_ROOT = "<speak>"
_ROOTS = ("<?xml", "<!DOCTYPE")  # a document (a DTD is refused, but as one, not as a fragment)
_TAG_MISMATCH = errors.codes[errors.XML_ERROR_TAG_MISMATCH]
_SILENT_ELEMENTS = frozenset({"desc", "metadata"})
_IGNORED_PROSODY = frozenset({"pitch", "contour", "range", "duration"})
_TIME = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)", re.IGNORECASE)
_RATE = re.compile(r"([+-])?(\d+(?:\.\d*)?|\.\d+)\s*(%)?")
_VOLUME = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*dB", re.IGNORECASE)


@dataclass(frozen=True)
class Prosody:
    """How text is spoken: the settings of the elements around it."""

    voice: str | None = None
    language: str | None = None
    rate: float = 1.0
    volume_db: float = 0.0
    emphasis: str | None = None


@dataclass(frozen=True)
class SsmlText:
    """Text to speak with these settings (sub and say-as already rendered)."""

    text: str
    prosody: Prosody


@dataclass(frozen=True)
class SsmlBreak:
    """Exact silence; the sentences on either side are separate utterances."""

    seconds: float


@dataclass(frozen=True)
class SsmlBoundary:
    """The start or end of ``<s>`` or ``<p>``: the current sentence ends here."""


SsmlItem = SsmlText | SsmlBreak | SsmlBoundary


class SsmlError(ValueError):
    """Malformed or refused SSML, at a 1-based line and column of the document as fed."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"malformed SSML at line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


@dataclass
class _Frame:
    name: str
    prosody: Prosody
    rate: float  # the product of the rates, before the clamp
    volume: float  # the sum of the volumes, before the clamp
    line: int
    column: int


@dataclass
class _Capture:
    """Content of a say-as (kept, to be rendered at its end) or of sub/desc (dropped)."""

    depth: int  # the stack depth of the element that captures
    interpret_as: str | None = None  # None: drop the content
    fmt: str | None = None
    parts: list[str] | None = None
    size: int = 0


class SsmlStream:
    """One SSML document, fed in chunks; ``language`` is the model language for say-as."""

    def __init__(self, language: str | None = None) -> None:
        self._language = language
        self._xml: DefusedXMLParser | None = None
        self._head: str | None = ""  # input before the root form is known; None once it is
        self._implicit = False
        self._line_base = 0  # lines of leading whitespace dropped
        self._column_base = 0  # where expat's line 1 starts in the document's line
        self._fed_bytes = 0
        self._stack: list[_Frame] = []
        self._capture: _Capture | None = None
        self._items: list[SsmlItem] = []
        self._after_boundary = True  # no text or break since the last boundary (or the start)
        self._error: SsmlError | None = None
        self._done = False

    def feed(self, chunk: str) -> list[SsmlItem]:
        """The items this chunk completes; raises ``SsmlError``."""
        self._check_usable()
        if self._head is not None:
            chunk = self._decide(self._head + chunk, final=False)
            if self._head is not None:
                return []
        self._guard(self._feed_xml, chunk)
        return self._take()

    def flush(self) -> list[SsmlItem]:
        """The last items, at the end of input; raises ``SsmlError`` on unclosed tags."""
        self._check_usable()
        self._done = True
        if self._head is not None:
            rest = self._decide(self._head, final=True)
            if self._xml is None:
                return []  # empty or whitespace only
            self._guard(self._feed_xml, rest)
        self._guard(self._close)
        return self._take()

    # The root, and feeding expat.

    def _decide(self, head: str, final: bool) -> str:
        """Drops leading whitespace; once the root form is known, starts the parser and
        returns the input for it; else keeps ``head`` and returns ""."""
        rest = head.lstrip(_XML_SPACE)
        dropped = head[: len(head) - len(rest)]
        if "\n" in dropped:
            self._line_base += dropped.count("\n")
            self._column_base = len(dropped) - dropped.rfind("\n") - 1
        else:
            self._column_base += len(dropped)
        if not final and any(p.startswith(rest) and p != rest for p in (*_ROOTS, "<speak ")):
            self._head = rest  # nothing yet, or too short to tell
            return ""
        self._head = None
        if not rest:
            return ""
        self._implicit = not (rest.startswith(_ROOTS) or re.match(r"<speak[\s>/]", rest))
        target = SimpleNamespace(start=self._start, end=self._end, data=self._data, close=_none)
        self._xml = DefusedXMLParser(target=target, forbid_dtd=True)
        expat = self._xml.parser
        if hasattr(expat, "SetReparseDeferralEnabled"):  # expat >= 2.6: parse each chunk now
            expat.SetReparseDeferralEnabled(False)
        if self._implicit:
            self._column_base -= len(_IMPLICIT_ROOT)
            return _IMPLICIT_ROOT + rest
        return rest

    def _feed_xml(self, text: str) -> None:
        assert self._xml is not None
        try:
            self._fed_bytes += len(text.encode("utf-8"))
        except UnicodeEncodeError as error:  # parse up to it, so that the error is placed there
            self._feed_xml(text[: error.start])
            self._fail("a character that is not valid Unicode (a lone surrogate)")
        self._xml.feed(text)
        if self._fed_bytes - self._xml.parser.CurrentByteIndex > MAX_PENDING_BYTES:
            self._fail(f"a tag, comment or entity reference longer than {MAX_PENDING_BYTES} bytes")

    def _close(self) -> None:
        assert self._xml is not None
        root = 1 if self._implicit else 0
        if len(self._stack) > root:
            frame = self._stack[-1]
            raise SsmlError(f"<{frame.name}> is never closed", frame.line, frame.column)
        if self._implicit:
            self._feed_xml("</speak>")
        self._xml.close()

    def _guard(self, step: Callable[..., None], *args: str) -> None:
        try:
            step(*args)
        except SsmlError as error:
            self._error = error
        except ParseError as error:
            line, column = error.position
            if error.code == _TAG_MISMATCH:  # expat points at the name after "</"
                column = max(0, column - 2)
            self._error = SsmlError(self._parse_message(error), *self._at(line, column))
        except DefusedXmlException as error:
            refused = "a DTD or entity declaration is not allowed in SSML"
            self._error = SsmlError(f"{refused} ({type(error).__name__})", *self._here())
        if self._error is not None:
            raise self._error

    def _parse_message(self, error: ParseError) -> str:
        message = ErrorString(error.code) if isinstance(error.code, int) else str(error)
        if message == "mismatched tag" and self._implicit and len(self._stack) == 1:
            return "an end tag that closes no open element"
        if message == "mismatched tag" and self._stack:
            frame = self._stack[-1]
            opened = f"opened at line {frame.line}, column {frame.column}"
            return f"mismatched tag: expected </{frame.name}> ({opened})"
        if message == "junk after document element":
            return "text or a tag after the root element ended"
        return str(message or error)

    def _check_usable(self) -> None:
        if self._error is not None:
            raise self._error
        if self._done:
            raise SsmlError("input after the end of the document", *self._here())

    def _here(self) -> tuple[int, int]:
        if self._xml is None:
            return self._line_base + 1, self._column_base + 1
        expat = self._xml.parser
        return self._at(expat.CurrentLineNumber, expat.CurrentColumnNumber)

    def _at(self, line: int, column: int) -> tuple[int, int]:
        """Expat's line and 0-based column as a 1-based place in the document."""
        return line + self._line_base, max(1, column + 1 + (self._column_base if line == 1 else 0))

    def _fail(self, message: str) -> NoReturn:
        raise SsmlError(message, *self._here())

    def _take(self) -> list[SsmlItem]:
        items, self._items = self._items, []
        return items

    # What expat calls (the parser's target).

    def _start(self, tag: str, attrib: dict[str, str]) -> None:
        name = tag.rpartition("}")[2].lower()
        line, column = self._here()
        if len(self._stack) - (1 if self._implicit else 0) >= MAX_DEPTH:
            self._fail(f"elements nested more than {MAX_DEPTH} deep")
        for key, value in attrib.items():
            if len(value) > MAX_ATTRIBUTE_CHARS:
                attribute = key.rpartition("}")[2]
                self._fail(
                    f"attribute {attribute!r} of <{name}> is {len(value)} characters long; "
                    f"at most {MAX_ATTRIBUTE_CHARS} are allowed"
                )
        parent = self._stack[-1] if self._stack else _Frame("", Prosody(), 1.0, 0.0, 1, 1)
        frame = _Frame(name, parent.prosody, parent.rate, parent.volume, line, column)
        self._stack.append(frame)
        if self._capture is not None:
            return
        language = attrib.get(_XML_LANG)
        if language is not None:
            frame.prosody = replace(frame.prosody, language=language)
        if name in ("p", "s"):
            self._boundary()
        elif name == "break":
            self._break(attrib)
        elif name == "prosody":
            self._prosody(frame, attrib)
        elif name == "emphasis":
            level = attrib.get("level", "moderate").strip().lower()
            if level not in EMPHASIS_LEVELS:
                self._fail(f"<emphasis level={level!r}>: use one of {', '.join(EMPHASIS_LEVELS)}")
            frame.prosody = replace(frame.prosody, emphasis=None if level == "none" else level)
        elif name == "voice" and attrib.get("name"):
            frame.prosody = replace(frame.prosody, voice=attrib["name"])
        elif name == "say-as":
            interpret_as = attrib.get("interpret-as", "")
            self._capture = _Capture(len(self._stack), interpret_as, attrib.get("format"), [])
        elif name == "sub" and "alias" in attrib:
            self._text(attrib["alias"])
            self._capture = _Capture(len(self._stack))
        elif name in _SILENT_ELEMENTS:
            self._capture = _Capture(len(self._stack))
        elif name not in ("speak", "lang", "voice", "sub"):
            _LOG.debug("SSML: <%s> is not supported; speaking its text", name)

    def _end(self, tag: str) -> None:
        frame = self._stack.pop()
        capture = self._capture
        if capture is not None and capture.depth == len(self._stack) + 1:
            self._capture = None
            if capture.parts is not None:
                self._say_as(capture, frame)
        elif capture is None and frame.name in ("p", "s"):
            self._boundary()

    def _data(self, text: str) -> None:
        capture = self._capture
        if capture is None:
            self._text(text)
        elif capture.parts is not None:
            capture.size += len(text)
            if capture.size > MAX_SAY_AS_CHARS:
                self._fail(f"<say-as> content longer than {MAX_SAY_AS_CHARS} characters")
            capture.parts.append(text)

    # Items.

    def _text(self, text: str) -> None:
        if not text:
            return
        prosody = self._stack[-1].prosody if self._stack else Prosody()
        last = self._items[-1] if self._items else None
        if isinstance(last, SsmlText) and last.prosody == prosody:
            self._items[-1] = SsmlText(last.text + text, prosody)
        else:
            self._items.append(SsmlText(text, prosody))
        if not text.isspace():
            self._after_boundary = False

    def _boundary(self) -> None:
        if not self._after_boundary:
            self._items.append(SsmlBoundary())
            self._after_boundary = True

    def _break(self, attrib: dict[str, str]) -> None:
        time = attrib.get("time")
        if time is not None:
            match = _TIME.fullmatch(time.strip())
            if match is None:
                self._fail(f"<break time={time!r}>: write it like '700ms' or '1.5s'")
            seconds = float(match[1]) / (1000.0 if match[2].lower() == "ms" else 1.0)
        else:
            strength = attrib.get("strength", "medium").strip().lower()
            if strength not in BREAK_STRENGTHS:
                self._fail(
                    f"<break strength={strength!r}>: use one of {', '.join(BREAK_STRENGTHS)}"
                )
            seconds = BREAK_STRENGTHS[strength]
        if seconds > MAX_BREAK_SECONDS:
            where = "SSML <break> of %s s at line %d, column %d shortened to %s s"
            _LOG.warning(where, seconds, *self._here(), MAX_BREAK_SECONDS)
            seconds = MAX_BREAK_SECONDS
        self._items.append(SsmlBreak(seconds))
        self._after_boundary = True

    def _prosody(self, frame: _Frame, attrib: dict[str, str]) -> None:
        rate, volume = attrib.get("rate"), attrib.get("volume")
        if rate is not None:
            frame.rate *= self._rate(rate)
        if volume is not None:
            frame.volume += self._volume(volume)
        ignored = _IGNORED_PROSODY.intersection(attrib)
        if ignored:
            _LOG.debug("SSML: <prosody> %s not supported; ignored", ", ".join(sorted(ignored)))
        volume_db = frame.volume
        if volume_db != -math.inf:  # "silent" stays silent; finite sums are clamped
            volume_db = min(max(volume_db, MIN_VOLUME_DB), MAX_VOLUME_DB)
        rate = min(max(frame.rate, MIN_RATE), MAX_RATE)
        frame.prosody = replace(frame.prosody, rate=rate, volume_db=volume_db)

    def _rate(self, value: str) -> float:
        word = RATE_WORDS.get(value.strip().lower())
        if word is not None:
            return word
        match = _RATE.fullmatch(value.strip())
        if match is not None and not (match[1] and not match[3]):
            number = float(match[2]) / (100.0 if match[3] else 1.0)
            factor = 1.0 + (-number if match[1] == "-" else number) if match[1] else number
            if factor > 0:
                return factor
        self._fail(f"<prosody rate={value!r}>: use x-slow..x-fast, '80%', '+20%' or '1.2'")

    def _volume(self, value: str) -> float:
        word = VOLUME_WORDS.get(value.strip().lower())
        if word is not None:
            return word
        number = float(value.strip()[:-2]) if _VOLUME.fullmatch(value.strip()) else math.nan
        if not math.isfinite(number):
            self._fail(f"<prosody volume={value!r}>: use silent, x-soft..x-loud or '+6dB'")
        return number

    def _say_as(self, capture: _Capture, frame: _Frame) -> None:
        text = "".join(capture.parts or ())
        language = frame.prosody.language or self._language
        kind = capture.interpret_as or ""
        spoken = render_say_as(text, kind, capture.fmt, language)
        if spoken is None:
            _LOG.debug("SSML: <say-as interpret-as=%r> %r spoken as written", kind, text)
            self._text(text)
            return
        content = text.strip()
        start = text.find(content)
        self._text(text[:start] + spoken + text[start + len(content) :])


def _none() -> None:
    return None


def parse_ssml(document: str, language: str | None = None) -> list[SsmlItem]:
    """All items of a whole document; raises ``SsmlError``."""
    stream = SsmlStream(language)
    return stream.feed(document) + stream.flush()
