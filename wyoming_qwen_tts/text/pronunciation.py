"""The pronunciation lexicon: whole-word replacements applied before normalization.

The file (``lexicon.yaml`` in the voices folder, or ``--lexicon FILE``) is a YAML list::

    - word: HA
      say: Home Assistant
    - word: Nguyen
      say: Win
      language: en          # optional: only for voices speaking this language
      case_sensitive: false # optional, default true

``language`` takes a code or a name ("en", "en-US", "English"); left out, null or "auto", the
entry applies to every language. Words match whole (a word character at an end of the entry must
not touch another one in the text, so "HA" leaves "HAPPY" alone), whitespace inside a word matches
any run of whitespace and ``'`` matches ``’``. The longest word wins where entries overlap, and a
replacement is never scanned again.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wyoming_qwen_tts.text.languages import LANGUAGES, model_language
from wyoming_qwen_tts.text.normalize.detect import detect_language

_LOGGER = logging.getLogger(__name__)

_KEYS = ("word", "say", "language", "case_sensitive")
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_PIECES = re.compile(r"(\s+|['’])")
_MODEL_NAMES = frozenset(LANGUAGES.values())
MAX_WORD = 100  # characters in a word (the prefix tree's regex nests one group per character)


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message names the file, line and column."""

    def __init__(
        self, message: str, source: str, line: int | None = None, column: int | None = None
    ) -> None:
        where = source if line is None else f"{source} line {line}, column {column}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Pronunciation:
    """Say ``say`` for ``word``; ``language`` is a model language name, None for all."""

    word: str
    say: str
    language: str | None = None
    case_sensitive: bool = True


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "M"


def _wordish(ch: str) -> bool:
    """A word character, or a combining mark (a decomposed "Ä" is "A" + U+0308)."""
    return ch.isalnum() or ch == "_" or _is_mark(ch)


def _fold(ch: str) -> str:
    low = ch.lower()
    return low if len(low) == 1 else ch


def _key(word: str, fold: bool) -> str:
    """One character per unit: " " for a run of whitespace, "'" for either apostrophe."""
    units = []
    for piece in _PIECES.split(word):
        if piece.isspace():
            units.append(" ")
        elif piece in ("'", "’"):
            units.append("'")
        else:
            units.append("".join(map(_fold, piece)) if fold else piece)
    return "".join(units)


def _unit_regex(unit: str) -> str:
    return r"\s+" if unit == " " else "['’]" if unit == "'" else re.escape(unit)


def _node_regex(node: dict[str, Any]) -> str:
    branches = [_unit_regex(unit) + _node_regex(node[unit]) for unit in sorted(node) if unit]
    if "" in node:
        branches.append(node[""])  # ending here is tried last: the longest word wins
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


def _trie_regex(keys: Iterable[str]) -> str:
    """One regex for many words, sharing their prefixes, with a boundary at word-character ends."""
    root: dict[str, Any] = {}
    for key in keys:
        node = root
        for unit in key:
            node = node.setdefault(unit, {})
        node[""] = r"(?!\w)" if _wordish(key[-1]) else ""
    wordish = {unit: node for unit, node in root.items() if _wordish(unit)}
    others = {unit: node for unit, node in root.items() if unit not in wordish}
    parts = [rf"(?<!\w){_node_regex(wordish)}"] if wordish else []
    return "|".join(parts + ([_node_regex(others)] if others else []))


class _Matcher:
    """The entries in force for one language: a prefix-tree regex per case rule, and the says."""

    def __init__(self, entries: list[Pronunciation]) -> None:
        # A language's own entry replaces one for all languages with the same word.
        entries = sorted(entries, key=lambda e: e.language is not None)
        self.says: tuple[dict[str, str], dict[str, str]] = ({}, {})  # by case rule: as is, folded
        for entry in entries:
            fold = not entry.case_sensitive
            self.says[fold][_key(entry.word, fold)] = entry.say
        self.loose = [e for e in reversed(entries) if not e.case_sensitive]
        regexes = [_trie_regex(says) if says else None for says in self.says]
        self.patterns = [
            None if regex is None else re.compile(regex, re.IGNORECASE if fold else 0)
            for fold, regex in enumerate(regexes)
        ]
        cased, loose = regexes
        self.finder = next(p for p in self.patterns if p is not None)
        if cased and loose:
            self.finder = re.compile(f"(?:{cased})|(?i:{loose})")

    def sub(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        while (found := self.finder.search(text, pos)) is not None:
            start, end, fold = found.start(), found.start(), 0
            for rule, pattern in enumerate(self.patterns):  # the longer match; a tie is cased
                hit = None if pattern is None else pattern.match(text, start)
                if hit is not None and hit.end() > end:
                    end, fold = hit.end(), rule
            matched = text[start:end]
            if (_wordish(matched[0]) and start and _is_mark(text[start - 1])) or (
                _wordish(matched[-1]) and end < len(text) and _is_mark(text[end])
            ):  # a combining mark continues the word (the regex's \w knows no marks)
                out.append(text[pos : start + 1])
                pos = start + 1
                continue
            say = self.says[fold].get(_key(matched, bool(fold)))
            if say is None:  # the regex engine's case folding is not quite str.lower's
                say = next((e.say for e in self.loose if _fullmatch(e.word, matched)), matched)
            out += (text[pos:start], say)
            pos = end
        return "".join(out) + text[pos:] if out else text


def _fullmatch(word: str, text: str) -> bool:
    regex = "".join(map(_unit_regex, _key(word, fold=False)))
    return re.fullmatch(regex, text, re.IGNORECASE) is not None


class Lexicon:
    """Whole-word replacements; ``apply`` is cheap once a language's regex is compiled."""

    def __init__(self, entries: Iterable[Pronunciation] = ()) -> None:
        self.entries: tuple[Pronunciation, ...] = tuple(entries)
        for entry in self.entries:
            if not entry.word.strip() or len(entry.word) > MAX_WORD:
                raise ValueError(f"a lexicon word needs 1 to {MAX_WORD} characters: {entry!r}")
        self._scoped = any(entry.language is not None for entry in self.entries)
        self._matchers: dict[str | None, _Matcher | None] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __repr__(self) -> str:
        return f"Lexicon({len(self.entries)} entries)"

    def _matcher(self, language: str | None) -> _Matcher | None:
        if language not in self._matchers:
            chosen = [e for e in self.entries if e.language is None or e.language == language]
            self._matchers[language] = _Matcher(chosen) if chosen else None
        return self._matchers[language]

    def apply(self, text: str, language: str | None) -> str:
        """Replaces the lexicon's words in ``text``; ``language`` None means Auto (detected)."""
        if not self.entries or not text:
            return text
        if language is not None and language not in _MODEL_NAMES:
            try:
                language = model_language(language)
            except ValueError:
                pass  # a language the model does not speak: only the entries for all apply
        if language is None and self._scoped:
            language = detect_language(text)
        matcher = self._matcher(language)
        return text if matcher is None else matcher.sub(text)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _syntax_error(exc: yaml.YAMLError, text: str, source: str) -> LexiconError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        context = f"{exc.context}, " if exc.context else ""
        line, column = exc.problem_mark.line + 1, exc.problem_mark.column + 1
        return LexiconError(f"invalid YAML: {context}{exc.problem}", source, line, column)
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        return LexiconError(f"invalid YAML: {exc.reason} {exc.character!r}", source, line, column)
    return LexiconError(f"invalid YAML: {exc}", source)


def _entry(node: yaml.Node, number: int, source: str) -> tuple[Pronunciation, str]:
    def fail(message: str, at: yaml.Node = node) -> LexiconError:
        return LexiconError(message, source, *_mark(at))

    if not isinstance(node, yaml.MappingNode):
        raise fail(f"entry {number} is not a mapping; each entry needs 'word' and 'say'")
    values: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag != _STR:
            raise fail(f"entry {number} has a key that is not a name", key)
        if key.value not in _KEYS:
            known = ", ".join(f"'{k}'" for k in _KEYS)
            raise fail(f"unknown key '{key.value}' in entry {number}; use {known}", key)
        if key.value in values:
            raise fail(f"'{key.value}' appears twice in entry {number}", key)
        values[key.value] = value
    strings: dict[str, str] = {}
    for name in ("word", "say", "language"):
        value = values.get(name)
        if value is None or (name == "language" and value.tag == _NULL):
            continue
        if not isinstance(value, yaml.ScalarNode) or value.tag != _STR:
            raise fail(f"'{name}' in entry {number} must be text; put it in quotes", value)
        if not value.value.strip():
            raise fail(f"'{name}' is empty in entry {number}", value)
        if name == "word" and len(value.value.strip()) > MAX_WORD:
            raise fail(f"'word' in entry {number} is longer than {MAX_WORD} characters", value)
        strings[name] = value.value.strip()
    label = f"entry {number}" + (f" (word '{strings['word']}')" if "word" in strings else "")
    for name in ("word", "say"):
        if name not in strings:
            raise fail(f"'{name}' is missing in {label}; each entry needs 'word' and 'say'")
    language = None
    if "language" in strings:
        try:
            language = model_language(strings["language"])
        except ValueError:
            names = ", ".join([*LANGUAGES, *LANGUAGES.values()])
            raise fail(
                f"unknown language '{strings['language']}' in {label}; use one of: {names}",
                values["language"],
            ) from None
    case_sensitive = True
    flag = values.get("case_sensitive")
    if flag is not None and flag.tag != _NULL:
        if not isinstance(flag, yaml.ScalarNode) or flag.tag != _BOOL:
            raise fail(f"'case_sensitive' in {label} must be true or false", flag)
        case_sensitive = bool(yaml.constructor.SafeConstructor().construct_yaml_bool(flag))
    entry = Pronunciation(strings["word"], strings["say"], language, case_sensitive)
    return entry, label


def parse_lexicon(text: str, source: str = "lexicon.yaml") -> Lexicon:
    """Parses a lexicon document; raises LexiconError with the line and column of the problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, source) from None
    except RecursionError:
        raise LexiconError("invalid YAML: nested too deeply", source) from None
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL):
        return Lexicon()
    if not isinstance(root, yaml.SequenceNode):
        raise LexiconError(
            "the lexicon must be a list of entries ('- word: ...' with 'say: ...')",
            source,
            *_mark(root),
        )
    entries: list[Pronunciation] = []
    seen: dict[tuple[str, str | None, bool], tuple[int, int]] = {}
    for number, node in enumerate(root.value, start=1):
        entry, label = _entry(node, number, source)
        key = (_key(entry.word, not entry.case_sensitive), entry.language, entry.case_sensitive)
        if key in seen:
            first, line = seen[key]
            raise LexiconError(
                f"{label} repeats entry {first} on line {line}", source, *_mark(node)
            )
        seen[key] = (number, _mark(node)[0])
        entries.append(entry)
    return Lexicon(entries)


def load_lexicon(path: Path) -> Lexicon:
    """Reads and parses a UTF-8 lexicon file; LexiconError when missing, unreadable or broken."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LexiconError("the file does not exist", str(path)) from None
    except OSError as exc:
        raise LexiconError(f"cannot read the file: {exc.strerror or exc}", str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        raise LexiconError("the file is not UTF-8 text", str(path), line, column) from None
    return parse_lexicon(text, str(path))


class LexiconFile:
    """The lexicon of one file, reloaded when it changes; a broken file keeps the previous one.

    At start a missing file is an empty lexicon (logged at INFO) and a broken one is logged as an
    ERROR and gives an empty lexicon too. ``refresh`` only stats the file unless it changed.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lexicon = Lexicon()
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        if not self.refresh() and self._stamp is None:
            _LOGGER.info("No pronunciation lexicon at %s", self.path)

    @property
    def lexicon(self) -> Lexicon:
        return self._lexicon

    def refresh(self) -> bool:
        """Reloads the file if it changed; True if the lexicon in force changed."""
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        except OSError as exc:
            _LOGGER.error("Cannot read the lexicon %s: %s", self.path, exc)
            return False
        if stamp == self._stamp:
            return False
        with self._lock:
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            previous = self._lexicon
            if stamp is None:
                _LOGGER.info("Lexicon %s was removed; no pronunciations in force", self.path)
                self._lexicon = Lexicon()
                return bool(previous)
            try:
                lexicon = load_lexicon(self.path)
            except LexiconError as exc:
                kept = f"keeping the previous {len(previous)} entries" if previous else "ignored"
                _LOGGER.error("Lexicon not loaded (%s): %s", kept, exc)
                return False
            self._lexicon = lexicon
            _LOGGER.info("Loaded %d pronunciations from %s", len(lexicon), self.path)
            return lexicon.entries != previous.entries
