"""Sentence splitting for streaming synthesis, and a per-sentence frame cap.

The TTS model is called once per sentence, so text (often LLM output arriving token by token)
is cut into sentences as early as it is safe to do so.

Where a sentence ends
---------------------
* After a run of ``. ! ? … ‼ ⁇ ⁈ ⁉`` (e.g. ``?!``, ``...``), optionally followed by closing
  quotes or brackets, when whitespace, the end of the text, or a Chinese/Japanese character
  comes next.  A run containing ``!`` or ``?`` always ends a sentence there.  A run of only
  ``.``/``…`` does not when the next non-space character is a lowercase letter (``approx. ten``,
  ``I was... thinking``).  A single ``.`` does not after an abbreviation (``Dr.``, ``etc.``,
  ``z.B.``, ``Mme.``; ``No.``/``Nr.``-like ones only before a digit), a single letter other than
  ``I`` (initials, ``J. R. R. Tolkien``, ``z. B.``), a dotted abbreviation of 1-2 letter parts
  (``e.g.``, ``a.m.``, ``U.S.``), a number of 1-3 digits at the start of a sentence (list
  marker ``1.``), or a 1-2 digit number followed by a German month or ordinal noun
  (``3. Oktober``, ``zum 2. Mal``).  Dots followed by anything but whitespace or a
  Chinese/Japanese character never end a sentence: ``21.5``, ``1.2.3``, ``7.30``,
  ``example.com``, ``www.home-assistant.io/docs``.
* After a run containing CJK sentence punctuation ``。！？；．｡`` (plus closing quotes or
  brackets), whatever follows, since CJK text has no spaces; ``．`` between digits is a decimal
  point.
* At a line break, unless the next non-space character is a lowercase letter (hard-wrapped
  prose).  Lines are treated as units: headings, ``- item`` bullets and ``1. item`` lists each
  become their own sentence.  A blank line (paragraph break) always ends a sentence.

The punctuation, abbreviations, German ordinal nouns and script ranges come from
``wyoming_qwen_tts.text.lexicon``, which the normalizer shares.

Pieces and sentences
--------------------
* No sentence is longer than ``MAX_SENTENCE_CHARS``.  A longer stretch without a sentence end
  is cut within its first ``MAX_SENTENCE_CHARS`` characters: after the last clause mark
  (``, ; : — –`` followed by whitespace, or CJK ``，、：；``) in the second half of that window,
  else at the last whitespace there, else (CJK without punctuation, a giant URL) hard at the
  limit, but never in front of a combining mark or joiner.
* Pieces without a letter or digit (``str.isalnum``) are dropped: stray punctuation, emoji-only
  lines.  Emoji and punctuation inside a sentence are kept.
* A piece with fewer than ``MIN_SENTENCE_WORD_CHARS`` letters/digits (``Ok.``, ``Hi!``, ``1.``)
  is merged with the pieces after it until the merged sentence has enough, so the model is not
  called on tiny inputs.  ``Yes.`` stays alone.  If merging would exceed
  ``MAX_SENTENCE_CHARS``, or the text ends, the short piece is returned alone.
* Sentences are stripped of surrounding whitespace; inside a merged sentence the original
  whitespace between its pieces is kept.

What is preserved
-----------------
Deleting all whitespace from ``"".join(split_sentences(text))`` gives ``text`` with whitespace
deleted, minus the characters of dropped pieces, which contain no letter or digit.  So the
letters and digits (``str.isalnum``) of the input all come out, once each, in order, and
nothing is added.

Streaming
---------
``SentenceStream`` returns exactly ``split_sentences`` of the concatenated input, however the
input is chunked: a sentence is returned only once the text seen so far decides it, e.g.
``It is 21.`` waits for the next non-space character (``5`` would make it a decimal).
``split_sentences`` is itself one ``feed`` and a ``flush``.
"""

from __future__ import annotations

import math
import re
import unicodedata

from wyoming_qwen_tts.text.lexicon import (
    ABBREVIATIONS,
    CJK_CLAUSE_MARKS,
    CJK_TERMINATORS,
    CLAUSE_MARKS,
    CLOSERS,
    GERMAN_ORDINAL_NOUNS,
    LINE_BREAKS,
    LOWER_ABBREVIATIONS,
    NUMBER_ABBREVIATIONS,
    STRONG_TERMINATORS,
    TERMINATORS,
    spoken_characters,
    is_spaceless,
)

MAX_SENTENCE_CHARS = 300
MIN_SENTENCE_WORD_CHARS = 3

_MIN_CUT = MAX_SENTENCE_CHARS // 2
_MAX_TOKEN = 40
_MAX_WORD = 13

_SPACED_BEFORE = " \u00a0\u202f"  # French typography: « Bonjour. »
_JOINERS = "\u200c\u200d\ufe0e\ufe0f"

_CANDIDATE = re.compile("[" + re.escape(TERMINATORS + LINE_BREAKS) + "]")
_DOTTED = re.compile(r"(?:[^\W\d_]{1,2}\.)+[^\W\d_]{1,2}")


class _NeedMore(Exception):
    """The text seen so far does not decide the next boundary."""


class SentenceStream:
    """Incremental splitter for text arriving in chunks (LLM tokens split mid-word).

    ``feed`` returns the sentences that the text seen so far completes; ``flush`` ends the text
    and returns the rest.  The concatenated results equal ``split_sentences`` of the whole text
    for any chunking.  After ``flush`` the stream is empty and can take a new text.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Positions are absolute offsets in the whole text; _buf holds it from _base on.
        self._buf = ""
        self._base = 0
        self._final = False
        self._start = 0  # end of the last piece
        self._seg = 0  # first non-space character of the current piece
        self._pos = 0  # everything in [_seg, _pos) is known not to end the piece
        self._ws_from = -1  # text[_ws_from:_ws_to] is whitespace
        self._ws_to = -1
        self._pending = ""  # a too-short piece waiting to be merged with the next
        self._pending_words = 0

    def feed(self, chunk: str) -> list[str]:
        """Add text; return the sentences that are now complete."""
        if not chunk:
            return []
        self._buf += chunk
        return self._drain()

    def flush(self) -> list[str]:
        """End the text; return the remaining sentences (possibly none)."""
        self._final = True
        out = self._drain()
        if self._pending:
            out.append(self._pending.strip())
        self._reset()
        return out

    def _drain(self) -> list[str]:
        out: list[str] = []
        while True:
            try:
                end = self._next_piece()
            except _NeedMore:
                break
            if end is None:
                break
            piece = self._buf[self._start - self._base : end - self._base]
            self._start = self._seg = self._pos = end
            out.extend(self._accept(piece))
        drop = self._start - self._base
        if drop:
            self._buf = self._buf[drop:]
            self._base = self._start
        return out

    def _accept(self, piece: str) -> list[str]:
        words = sum(ch.isalnum() for ch in piece)
        if not words:
            return []
        out: list[str] = []
        if self._pending:
            merged = self._pending + piece
            if len(merged.strip()) <= MAX_SENTENCE_CHARS:
                piece = merged
                words += self._pending_words
            else:
                out.append(self._pending.strip())
            self._pending = ""
            self._pending_words = 0
        if words < MIN_SENTENCE_WORD_CHARS:
            self._pending = piece
            self._pending_words = words
        else:
            out.append(piece.strip())
        return out

    def _at(self, i: int) -> str:
        """The character at ``i``; "" past the end of a flushed text."""
        j = i - self._base
        if j < len(self._buf):
            return self._buf[j]
        if self._final:
            return ""
        raise _NeedMore

    def _next_piece(self) -> int | None:
        """End of the piece starting at ``_start``; None if only whitespace is left."""
        buf, base = self._buf, self._base
        end = base + len(buf)
        while True:
            pos = self._pos
            if pos == self._seg:
                while pos < end and buf[pos - base].isspace():
                    pos += 1
                self._seg = self._pos = pos
                if pos == end:
                    if self._final:
                        return None
                    raise _NeedMore
            limit = self._seg + MAX_SENTENCE_CHARS
            stop = min(limit, end)
            m = _CANDIDATE.search(buf, pos - base, stop - base) if pos < stop else None
            if m is None:
                if end > limit:
                    return self._cut(limit)
                self._pos = end
                if self._final:
                    return end
                raise _NeedMore
            i = m.start() + base
            self._pos = i
            boundary, resume = self._decide(i, limit)
            if boundary is not None:
                return self._cut(limit) if boundary > limit else boundary
            self._pos = resume

    def _decide(self, i: int, limit: int) -> tuple[int | None, int]:
        """Whether the candidate at ``i`` ends the piece: (end or None, where to go on)."""
        at = self._at
        if at(i) in LINE_BREAKS:
            j = self._skip_space(i)
            nxt = at(j)
            if not nxt or self._line_breaks(i, j) >= 2 or not nxt.islower():
                return i, j
            return None, j

        j = i
        while (ch := at(j)) and ch in TERMINATORS:
            j += 1
            if j > limit:
                return j, j
        k = j
        while (ch := at(k)) and (
            ch in CLOSERS or (ch in _SPACED_BEFORE and self._guillemet(k + 1))
        ):
            k += 1
            if k > limit:
                return k, k
        run = self._buf[i - self._base : j - self._base]
        nxt = at(k)
        if any(ch in CJK_TERMINATORS for ch in run):
            if run == "．" and k == j and i > self._seg and at(i - 1).isdigit() and nxt.isdigit():
                return None, k
            return k, k
        if not nxt:
            return k, k
        if not (nxt.isspace() or is_spaceless(nxt)):
            return None, k
        if any(ch in STRONG_TERMINATORS for ch in run):
            return k, k
        n = k
        if nxt.isspace():
            n = self._skip_space(k)
            nxt = at(n)
            if not nxt or self._line_breaks(k, n) >= 2:
                return k, k
        if nxt.islower():
            return None, k
        if run == "." and k == j and self._abbreviation_before(i, n):
            return None, k
        return k, k

    def _guillemet(self, i: int) -> bool:
        ch = self._at(i)
        return bool(ch) and ch in "»›"

    def _abbreviation_before(self, i: int, n: int) -> bool:
        """Whether the word before the period at ``i`` makes it a non-final period.

        ``n`` is the next non-space character after the period.
        """
        buf, base = self._buf, self._base
        s = i
        while s > self._seg and not buf[s - 1 - base].isspace():
            s -= 1
            if i - s > _MAX_TOKEN:
                return False
        while s < i and not buf[s - base].isalnum():
            s += 1
        token = buf[s - base : i - base]
        if not token:
            return False
        after = self._at(n)
        if token in ABBREVIATIONS or token.lower() in LOWER_ABBREVIATIONS:
            return True
        if token in NUMBER_ABBREVIATIONS:
            return after.isdigit()
        if len(token) == 1 and token.isalpha():
            return token != "I"
        if _DOTTED.fullmatch(token):
            return True
        if token.isdigit():
            if len(token) <= 3 and not buf[self._seg - base : s - base].strip():
                return True
            if len(token) <= 2 and after.isupper():
                return self._word_at(n) in GERMAN_ORDINAL_NOUNS
        return False

    def _word_at(self, n: int) -> str:
        w = n
        while w - n < _MAX_WORD and self._at(w).isalpha():
            w += 1
        return self._buf[n - self._base : w - self._base]

    def _skip_space(self, i: int) -> int:
        """First non-space index at or after ``i`` (the text's end if flushed)."""
        j = self._ws_to if self._ws_from == i else i
        buf, base = self._buf, self._base
        end = base + len(buf)
        while j < end and buf[j - base].isspace():
            j += 1
        self._ws_from, self._ws_to = i, j
        if j == end and not self._final:
            raise _NeedMore
        return j

    def _line_breaks(self, i: int, j: int) -> int:
        run = self._buf[i - self._base : j - self._base]
        return sum(ch in LINE_BREAKS for ch in run) - run.count("\r\n")

    def _cut(self, limit: int) -> int:
        """Where to cut a piece that reaches ``limit`` without a sentence end."""
        buf, base, seg = self._buf, self._base, self._seg
        lo = seg + _MIN_CUT
        for c in range(limit, lo, -1):
            before = buf[c - 1 - base]
            if before in CJK_CLAUSE_MARKS or (before in CLAUSE_MARKS and buf[c - base].isspace()):
                return c
        for c in range(limit, lo, -1):
            if buf[c - base].isspace() and not buf[c - 1 - base].isspace():
                return c
        c = limit
        while c > seg + 1 and (
            buf[c - base] in _JOINERS
            or buf[c - 1 - base] in _JOINERS
            or unicodedata.category(buf[c - base]).startswith("M")
        ):
            c -= 1
        return c


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences for synthesis; see the module docstring for the rules."""
    stream = SentenceStream()
    return stream.feed(text) + stream.flush()


def frame_budget(text: str, frames_per_second: float = 12.5) -> int:
    """A cap on the codec frames to generate for one sentence, so a runaway generation stops.

    About twice the time the text takes to say at a normal rate, and deterministic:
    seconds = 2.0 + 0.13 per letter + 0.35 per digit (numbers expand when read out:
    "2026" -> "twenty twenty-six") + 0.45 per Han, kana or hangul character; other characters
    count nothing.  Returns ``ceil(seconds * frames_per_second)``.  Appending text never lowers
    the budget.
    """
    if not frames_per_second > 0:
        raise ValueError(f"frames_per_second must be positive, not {frames_per_second!r}")
    letters, digits, cjk = spoken_characters(text)
    # In hundredths of a second, so the result does not depend on float rounding of the rates.
    centiseconds = 200 + 13 * letters + 35 * digits + 45 * cjk
    return math.ceil(centiseconds * frames_per_second / 100)
