"""The sentence audio cache: a sentence said before streams at once, as the very same take.

An on-disk LRU of finished sentences' PCM, bounded in bytes (``--audio-cache-mb``). The key
(``cache_key``) covers everything that changes the sound; the caller passes
``model=..., voice=..., reference=<digest of the clip>, style=..., speed=..., gain=...,
language=..., text=<the sentence after lexicon and normalization>`` (and any further part it
likes). The text is hashed as given: the caller normalizes it first.

Layout: ``<directory>/<key[:2]>/<key>.pcm``, one file per sentence::

    offset  size  field
    0       8     magic b"QTTSPCM\\x00"
    8       2     format version (little-endian u16, FORMAT)
    10      2     reserved, 0
    12      4     crc32 of the payload (u32)
    16      8     payload length in bytes (u64)
    24      32    the key itself (sha256, raw bytes): a file renamed or copied to another key
                  is not played for it
    56      n     payload: the PCM exactly as put

A file's mtime is its last use (put or hit). They are set explicitly and strictly increase,
starting after the newest entry found, so the LRU order survives a restart even when the clock
went backwards (a Raspberry Pi before NTP) or timestamps are coarse. A start scans the entries
once, removes temporary files a crash left behind and evicts down to the bound.

Writes are atomic (a temporary file in the same folder, then ``os.replace``) but not fsynced:
an fsync costs milliseconds on an SSD and far more on an SD card, and would be paid on the
event loop for every new sentence. What a power loss can leave instead (an entry whose name
survived but whose data did not) fails the length or checksum test and is dropped: the worst
case is a miss. Any entry that fails the test is deleted and logged, never played.

A failing disk (full, read-only, gone) is logged once; the cache then passes through, it never
raises ``OSError`` to the caller. ``get`` and ``put`` hold a lock, so a worker thread may call
them too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import tempfile
import threading
import time
import zlib
from collections import OrderedDict
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

FORMAT = 1
"""The file format version; also part of every key, so a new format starts a fresh cache."""

MAGIC = b"QTTSPCM\x00"
_HEADER = struct.Struct("<8sHHIQ32s")
HEADER_SIZE = _HEADER.size  # 56
SUFFIX = ".pcm"
_TEMP_SUFFIX = ".tmp"
_KEY = re.compile(r"[0-9a-f]{64}")
_SHARD = re.compile(r"[0-9a-f]{2}")


def cache_key(**parts: str | int | float | None) -> str:
    """The sha256 hex digest of ``parts``: the same parts in any order give the same key, and
    values of different types never collide (``1``, ``1.0``, ``"1"`` and ``True`` differ).

    Floats are encoded by ``repr``, which round-trips exactly (``0.1 + 0.2`` is not ``0.3``;
    ``-0.0`` is not ``0.0``, which only costs a miss)."""
    encoded: dict[str, list[str | bool]] = {}
    for name, value in parts.items():
        if value is None:
            encoded[name] = ["none"]
        elif isinstance(value, bool):
            encoded[name] = ["bool", value]
        elif isinstance(value, int):
            encoded[name] = ["int", str(value)]
        elif isinstance(value, float):
            encoded[name] = ["float", repr(value)]
        elif isinstance(value, str):
            encoded[name] = ["str", value]
        else:
            raise TypeError(f"cache key part {name!r} is a {type(value).__name__}")
    document = {"format": FORMAT, "parts": encoded}
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


class SentenceCache:
    """Sentence PCM under ``directory``, at most ``max_bytes`` on disk (headers included)."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self.evictions = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, int] = OrderedDict()  # key -> file size, oldest first
        self._total = 0
        self._clock = 0  # the last mtime given out, in ns
        self._write_failure_logged = False
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._scan()
        except OSError as err:
            _LOGGER.warning("Sentence cache %s is unusable (%s); caching nothing", directory, err)
        with self._lock:
            self._evict()

    @property
    def size_bytes(self) -> int:
        return self._total

    def __len__(self) -> int:
        return len(self._entries)

    def path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a sentence cache key: {key!r}")
        return self.directory / key[:2] / (key + SUFFIX)

    def get(self, key: str) -> bytes | None:
        """The PCM stored under ``key``, or None (a miss). A hit becomes the most recent entry;
        an entry that fails its checks is deleted, logged and counted as ``corrupt``."""
        path = self.path(key)
        with self._lock:
            pcm = self._read(key, path) if key in self._entries else None
            if pcm is None:
                self.misses += 1
                _LOGGER.debug("Sentence cache miss (%d hits, %d misses)", self.hits, self.misses)
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            try:
                os.utime(path, ns=(self._tick(),) * 2)
            except OSError:
                pass  # a read-only cache still plays; only the order after a restart is older
            _LOGGER.debug("Sentence cache hit (%d hits, %d misses)", self.hits, self.misses)
            return pcm

    def put(self, key: str, pcm: bytes | bytearray | memoryview) -> None:
        """Stores ``pcm`` under ``key`` atomically, then evicts the least recently used entries
        down to the bound. An entry already there is kept (and becomes the most recent), so a
        sentence keeps its first take; one larger than the bound is not stored."""
        path = self.path(key)
        payload = bytes(pcm)
        size = HEADER_SIZE + len(payload)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                try:
                    os.utime(path, ns=(self._tick(),) * 2)
                except OSError:
                    pass
                return
            if size > self.max_bytes:
                _LOGGER.debug("Sentence of %d bytes is larger than the cache", len(payload))
                return
            header = _HEADER.pack(
                MAGIC, FORMAT, 0, zlib.crc32(payload), len(payload), bytes.fromhex(key)
            )
            try:
                self._write(path, header, payload)
            except OSError as err:
                level = logging.DEBUG if self._write_failure_logged else logging.WARNING
                self._write_failure_logged = True
                _LOGGER.log(level, "Cannot write to the sentence cache %s (%s)", path, err)
                return
            self._entries[key] = size
            self._total += size
            self._evict()

    def _write(self, path: Path, header: bytes, payload: bytes) -> None:
        path.parent.mkdir(exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix="." + path.stem + ".", suffix=_TEMP_SUFFIX
        )
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(header)
                file.write(payload)
            stamp = self._tick()
            os.utime(temporary, ns=(stamp, stamp))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _read(self, key: str, path: Path) -> bytes | None:
        """The verified payload of an indexed entry; None (and the entry gone) otherwise."""
        try:
            with open(path, "rb") as file:
                header = file.read(HEADER_SIZE)
                problem = _header_problem(header, key)
                if problem is None:
                    _, _, _, checksum, length, _ = _HEADER.unpack(header)
                    payload = file.read(length + 1)
                    if len(payload) != length:
                        problem = f"{len(payload)} payload bytes where the header says {length}"
                    elif zlib.crc32(payload) != checksum:
                        problem = "its checksum does not match"
        except FileNotFoundError:
            self._forget(key)  # removed behind our back: a plain miss
            return None
        except OSError as err:
            problem = str(err)
        if problem is None:
            return payload
        self.corrupt += 1
        _LOGGER.warning("Dropping the sentence cache entry %s: %s", path, problem)
        self._forget(key)
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # read-only: it stays out of the index, so it is not read again
        return None

    def _scan(self) -> None:
        """Indexes the entries on disk by last use and removes crash leftovers."""
        found: list[tuple[int, str, int]] = []
        for shard in os.scandir(self.directory):
            if not (_SHARD.fullmatch(shard.name) and shard.is_dir(follow_symlinks=False)):
                continue
            try:
                entries = list(os.scandir(shard.path))
            except OSError as err:
                _LOGGER.warning("Cannot read the sentence cache folder %s (%s)", shard.path, err)
                continue
            for entry in entries:
                if entry.name.endswith(_TEMP_SUFFIX):
                    try:
                        os.unlink(entry.path)
                    except OSError as err:
                        _LOGGER.debug("Cannot remove %s (%s)", entry.path, err)
                    continue
                key = entry.name[: -len(SUFFIX)]
                if not (
                    entry.name.endswith(SUFFIX)
                    and _KEY.fullmatch(key)
                    and key.startswith(shard.name)
                    and entry.is_file(follow_symlinks=False)
                ):
                    continue
                try:
                    stat = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # gone meanwhile
                found.append((stat.st_mtime_ns, key, stat.st_size))
        found.sort()
        for mtime, key, size in found:
            self._entries[key] = size
            self._total += size
            self._clock = max(self._clock, mtime)

    def _evict(self) -> None:
        while self._total > self.max_bytes and self._entries:
            key, _ = next(iter(self._entries.items()))
            self._forget(key)
            self.evictions += 1
            try:
                self.path(key).unlink(missing_ok=True)
            except OSError as err:
                _LOGGER.debug("Cannot evict %s (%s)", key, err)

    def _forget(self, key: str) -> None:
        self._total -= self._entries.pop(key, 0)

    def _tick(self) -> int:
        """A last-use time in ns: now, but always after every one given out or found before."""
        self._clock = max(time.time_ns(), self._clock + 1)
        return self._clock


def _header_problem(header: bytes, key: str) -> str | None:
    if len(header) < HEADER_SIZE:
        return f"{len(header)} bytes, shorter than a header"
    magic, version, _, _, _, stored_key = _HEADER.unpack(header)
    if magic != MAGIC:
        return "it is not a sentence cache file"
    if version != FORMAT:
        return f"format {version}, not {FORMAT}"
    if stored_key != bytes.fromhex(key):
        return "it holds another sentence"
    return None
