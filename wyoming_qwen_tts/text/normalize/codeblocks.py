"""Fenced code in streamed text: ``CodeBlockFilter``, which runs before sentence splitting."""

from __future__ import annotations

import re

from wyoming_qwen_tts.text.normalize.words import code_phrase, language_name

MAX_UNDECIDED_CHARS = 4096
"""Text held back while it may still be a fence line; past it, the line is decided."""


class CodeBlockFilter:
    """Removes fenced code blocks from text that arrives in chunks, before sentence splitting.

    Sentence splitting cuts a code block into pieces that ``normalize_for_speech`` can no longer
    recognize as code, so a streaming caller passes the raw chunks through this filter first.
    A block with code in it becomes a paragraph holding the language's spoken phrase; all other
    text comes out unchanged, a partial line as soon as it cannot be the start of a fence.
    """

    def __init__(self, language: str | None) -> None:
        self._language = language
        self._pending = ""
        self._mid_line = False  # the start of the current line has been passed through
        self._fence: str | None = None
        self._has_code = False

    def feed(self, chunk: str) -> str:
        """The text of ``chunk`` (and of earlier chunks held back) that is decided now."""
        self._pending += chunk
        out: list[str] = []
        while self._pending:
            newline = self._pending.find("\n")
            if newline >= 0:
                line = self._pending[: newline + 1]
                self._pending = self._pending[newline + 1 :]
                out.append(line if self._mid_line else self._line(line))
                self._mid_line = False
            elif self._mid_line or (self._fence is None and not _MAYBE_FENCE.match(self._pending)):
                out.append(self._pending)
                self._pending = ""
                self._mid_line = True
            elif len(self._pending) > MAX_UNDECIDED_CHARS:
                # A stream has no total limit, so an endless line is not held back: out of a
                # fence it is text; inside one, it is code and dropped.
                if self._fence is None:
                    out.append(self._pending)
                    self._mid_line = True
                else:
                    self._has_code = True
                self._pending = ""
            else:
                break
        return "".join(out)

    def flush(self) -> str:
        """The rest of the text; the filter is then ready for a new one."""
        out = self._pending if self._mid_line else self._line(self._pending)
        if self._fence is not None and self._has_code:
            out += f"\n\n{self._phrase()}\n\n"
        self._pending, self._mid_line, self._fence, self._has_code = "", False, None, False
        return out

    def _line(self, line: str) -> str:
        if self._fence is None:
            match = _FENCE_OPEN.match(line)
            if match is None:
                return line
            self._fence, self._has_code = match["fence"], False
            return ""
        stripped = line.strip()
        if stripped.startswith(self._fence) and not stripped.strip(self._fence[0]):
            had_code = self._has_code
            self._fence, self._has_code = None, False
            return f"\n\n{self._phrase()}\n\n" if had_code else "\n"
        self._has_code = self._has_code or bool(stripped)
        return ""

    def _phrase(self) -> str:
        return code_phrase(language_name(self._language) or "english")


_FENCE_OPEN = re.compile(r"[ \t]{0,3}(?P<fence>`{3,}(?=[^`\n]*\n?$)|~{3,})")
_MAYBE_FENCE = re.compile(r"[ \t]{0,3}(?:$|`{1,2}$|~{1,2}$|`{3,}(?=[^`]*$)|~{3,})")
