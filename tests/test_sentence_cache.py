"""The sentence audio cache: same take back, bounded LRU across restarts, bad entries dropped."""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wyoming_qwen_tts.audio import sentence_cache
from wyoming_qwen_tts.audio.sentence_cache import HEADER_SIZE, SentenceCache, cache_key

PCM = bytes(range(256)) * 40  # 10 240 bytes


def key(n: int) -> str:
    return cache_key(text=f"sentence {n}")


def entry_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("??/*.pcm"))


def all_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def set_last_use(cache: SentenceCache, k: str, seconds: int) -> None:
    os.utime(cache.path(k), (seconds, seconds))


# --- basics ---------------------------------------------------------------------------------


def test_put_then_get_returns_the_same_bytes(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path / "audio", 1 << 20)
    assert cache.get(key(1)) is None
    cache.put(key(1), PCM)
    assert cache.get(key(1)) == PCM
    assert (cache.hits, cache.misses, cache.corrupt) == (1, 1, 0)
    assert len(cache) == 1
    assert cache.size_bytes == HEADER_SIZE + len(PCM)
    path = cache.path(key(1))
    assert path == tmp_path / "audio" / key(1)[:2] / f"{key(1)}.pcm"
    assert path.stat().st_size == cache.size_bytes


def test_empty_pcm_is_a_hit(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path, 1 << 20)
    cache.put(key(1), b"")
    assert cache.get(key(1)) == b""
    assert cache.hits == 1


def test_it_survives_a_restart(tmp_path: Path) -> None:
    SentenceCache(tmp_path, 1 << 20).put(key(1), PCM)
    reopened = SentenceCache(tmp_path, 1 << 20)
    assert len(reopened) == 1
    assert reopened.size_bytes == HEADER_SIZE + len(PCM)
    assert reopened.get(key(1)) == PCM


def test_a_second_put_keeps_the_first_take(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path, 1 << 20)
    cache.put(key(1), PCM)
    cache.put(key(1), b"another take")
    assert cache.get(key(1)) == PCM
    assert len(cache) == 1


@pytest.mark.parametrize("max_bytes", [0, -1])
def test_a_bound_of_zero_or_less_is_invalid(tmp_path: Path, max_bytes: int) -> None:
    with pytest.raises(ValueError):
        SentenceCache(tmp_path, max_bytes)


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "A" * 64, "0" * 63, "0" * 65])
def test_keys_that_are_not_digests_are_refused(tmp_path: Path, bad: str) -> None:
    cache = SentenceCache(tmp_path, 1 << 20)
    with pytest.raises(ValueError):
        cache.get(bad)
    with pytest.raises(ValueError):
        cache.put(bad, PCM)


def test_hits_and_misses_are_logged_at_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = SentenceCache(tmp_path, 1 << 20)
    with caplog.at_level(logging.DEBUG, logger=sentence_cache.__name__):
        cache.get(key(1))
        cache.put(key(1), PCM)
        cache.get(key(1))
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert "Sentence cache miss (0 hits, 1 misses)" in messages
    assert "Sentence cache hit (1 hits, 1 misses)" in messages


# --- bound and LRU order --------------------------------------------------------------------


def test_eviction_drops_the_least_recently_used(tmp_path: Path) -> None:
    entry = HEADER_SIZE + len(PCM)
    cache = SentenceCache(tmp_path, 3 * entry)
    for n in range(3):
        cache.put(key(n), PCM)
    assert cache.get(key(0)) == PCM  # 0 is now the most recent; 1 is the oldest
    cache.put(key(3), PCM)
    assert cache.evictions == 1
    assert cache.size_bytes == 3 * entry
    assert not cache.path(key(1)).exists()
    assert [cache.get(key(n)) is not None for n in range(4)] == [True, False, True, True]
    assert len(entry_files(tmp_path)) == 3


def test_the_order_survives_a_restart_and_a_smaller_bound_evicts(tmp_path: Path) -> None:
    entry = HEADER_SIZE + len(PCM)
    cache = SentenceCache(tmp_path, 10 * entry)
    for n in range(4):
        cache.put(key(n), PCM)
    for n, seconds in [(0, 400), (1, 100), (2, 300), (3, 200)]:  # oldest: 1, 3, 2, 0
        set_last_use(cache, key(n), seconds)
    reopened = SentenceCache(tmp_path, 2 * entry)
    assert reopened.evictions == 2
    assert reopened.size_bytes == 2 * entry
    assert sorted(p.stem for p in entry_files(tmp_path)) == sorted([key(0), key(2)])
    assert reopened.get(key(2)) == PCM
    assert reopened.get(key(0)) == PCM


def test_a_hit_is_remembered_across_restarts(tmp_path: Path) -> None:
    """Last use is the mtime, and it always moves forward, even when stored mtimes lie ahead of
    the clock (a Raspberry Pi that booted before NTP)."""
    entry = HEADER_SIZE + len(PCM)
    cache = SentenceCache(tmp_path, 10 * entry)
    cache.put(key(0), PCM)
    cache.put(key(1), PCM)
    future = 4_000_000_000  # 2096
    set_last_use(cache, key(0), future)
    set_last_use(cache, key(1), future + 1)
    reopened = SentenceCache(tmp_path, 10 * entry)
    assert reopened.get(key(0)) == PCM  # now newer than key(1), though "now" is before both
    assert reopened.path(key(0)).stat().st_mtime_ns > reopened.path(key(1)).stat().st_mtime_ns
    again = SentenceCache(tmp_path, entry)
    assert [p.stem for p in entry_files(tmp_path)] == [key(0)]
    assert again.get(key(0)) == PCM


def test_an_entry_larger_than_the_bound_is_not_stored(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path, HEADER_SIZE + len(PCM))
    cache.put(key(0), PCM)  # exactly fits
    cache.put(key(1), PCM + b"\0\0")
    assert cache.get(key(1)) is None
    assert cache.get(key(0)) == PCM
    assert cache.evictions == 0
    assert [p.stem for p in entry_files(tmp_path)] == [key(0)]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    bound=st.integers(HEADER_SIZE, HEADER_SIZE * 8),
    operations=st.lists(
        st.tuples(st.sampled_from(["put", "get"]), st.integers(0, 7), st.integers(0, 300)),
        max_size=30,
    ),
    smaller=st.integers(HEADER_SIZE, HEADER_SIZE * 8),
)
def test_the_bound_holds_and_the_order_is_lru(
    bound: int, operations: list[tuple[str, int, int]], smaller: int
) -> None:
    """Against a model OrderedDict: same hits, same survivors, total <= bound, files = index;
    and after a restart with another bound, the survivors are the most recently used."""
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        cache = SentenceCache(directory, bound)
        model: OrderedDict[str, bytes] = OrderedDict()
        for op, n, length in operations:
            k = key(n)
            if op == "put":
                pcm = bytes([n]) * length
                cache.put(k, pcm)
                if k in model:
                    model.move_to_end(k)
                elif HEADER_SIZE + length <= bound:
                    model[k] = pcm
                    while sum(HEADER_SIZE + len(v) for v in model.values()) > bound:
                        model.popitem(last=False)
            else:
                got = cache.get(k)
                assert got == model.get(k)
                if k in model:
                    model.move_to_end(k)
            files = entry_files(directory)
            assert cache.size_bytes <= bound
            assert cache.size_bytes == sum(p.stat().st_size for p in files)
            assert len(cache) == len(files) == len(model)
            assert {p.stem for p in files} == set(model)
        assert cache.corrupt == 0

        reopened = SentenceCache(directory, smaller)
        while sum(HEADER_SIZE + len(v) for v in model.values()) > smaller:
            model.popitem(last=False)
        assert {p.stem for p in entry_files(directory)} == set(model)
        assert reopened.size_bytes <= smaller
        for k, pcm in model.items():
            assert reopened.get(k) == pcm


# --- corrupt entries ------------------------------------------------------------------------


def flip_payload_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[HEADER_SIZE + 100] ^= 0x01
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-1])


def extend(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\0")


def garbage_header(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + data[16:])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def short_header(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: HEADER_SIZE - 1])


def wrong_version(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8] += 1
    path.write_bytes(bytes(data))


def other_sentence(path: Path) -> None:
    """A valid entry of another key, copied under this key's name."""
    other = SentenceCache(path.parents[2] / "other", 1 << 20)
    other.put(key(99), PCM)
    path.write_bytes(other.path(key(99)).read_bytes())


@pytest.mark.parametrize("reopen", [False, True], ids=["running", "after-restart"])
@pytest.mark.parametrize(
    "damage",
    [
        flip_payload_byte,
        truncate,
        extend,
        garbage_header,
        empty,
        short_header,
        wrong_version,
        other_sentence,
    ],
)
def test_a_corrupt_entry_is_dropped_not_played(
    tmp_path: Path, damage, reopen: bool, caplog: pytest.LogCaptureFixture
) -> None:
    cache = SentenceCache(tmp_path / "audio", 1 << 20)
    cache.put(key(1), PCM)
    cache.put(key(2), PCM)
    path = cache.path(key(1))
    damage(path)
    if reopen:
        cache = SentenceCache(tmp_path / "audio", 1 << 20)
    with caplog.at_level(logging.WARNING, logger=sentence_cache.__name__):
        assert cache.get(key(1)) is None
        assert cache.get(key(1)) is None  # no second read, no second warning
    assert not path.exists()
    assert (cache.hits, cache.misses, cache.corrupt) == (0, 2, 1)
    assert len(cache) == 1 and cache.size_bytes == HEADER_SIZE + len(PCM)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Dropping the sentence cache entry" in warnings[0].message
    assert cache.get(key(2)) == PCM
    cache.put(key(1), PCM)  # and it can be stored again
    assert cache.get(key(1)) == PCM


def test_an_entry_removed_behind_its_back_is_a_plain_miss(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path, 1 << 20)
    cache.put(key(1), PCM)
    cache.path(key(1)).unlink()
    assert cache.get(key(1)) is None
    assert (cache.misses, cache.corrupt, len(cache), cache.size_bytes) == (1, 0, 0, 0)


# --- start-up scan --------------------------------------------------------------------------


def test_leftover_temp_files_are_removed_and_other_files_left_alone(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path, 1 << 20)
    cache.put(key(1), PCM)
    shard = cache.path(key(1)).parent
    leftover = shard / f".{key(2)}.abc123.tmp"
    leftover.write_bytes(PCM[:100])
    stranger = tmp_path / "README"
    stranger.write_text("not ours")
    misplaced = tmp_path / "zz" / f"{key(3)}.pcm"
    misplaced.parent.mkdir()
    misplaced.write_bytes(b"x")
    reopened = SentenceCache(tmp_path, 1 << 20)
    assert not leftover.exists()
    assert stranger.exists() and misplaced.exists()
    assert len(reopened) == 1
    assert reopened.size_bytes == HEADER_SIZE + len(PCM)


def test_a_directory_that_cannot_be_created_is_a_pass_through(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    with caplog.at_level(logging.WARNING, logger=sentence_cache.__name__):
        cache = SentenceCache(blocker / "audio", 1 << 20)
        cache.put(key(1), PCM)
        cache.put(key(2), PCM)
    assert cache.get(key(1)) is None
    assert len(cache) == 0
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2  # init, 1st put


# --- failing disks and atomicity ------------------------------------------------------------


def test_a_read_only_directory_does_not_raise(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.mkdir(mode=0o500)
    try:
        (probe / "file").touch()
    except PermissionError:
        pass
    else:  # root (os.geteuid() == 0), or CAP_DAC_OVERRIDE
        pytest.skip("directory permissions do not restrict this user")
    cache = SentenceCache(tmp_path / "audio", 2 * (HEADER_SIZE + len(PCM)))
    cache.put(key(1), PCM)
    cache.put(key(2), PCM)
    flip_payload_byte(cache.path(key(2)))
    folders = [tmp_path / "audio", *(p for p in (tmp_path / "audio").iterdir())]
    for folder in folders:
        folder.chmod(0o500)
    try:
        reopened = SentenceCache(tmp_path / "audio", HEADER_SIZE + len(PCM))  # evicts: fails
        reopened.put(key(3), PCM)
        reopened.put(key(4), PCM)
        assert reopened.get(key(3)) is None
        assert reopened.get(key(2)) is None  # corrupt, cannot be deleted
        assert reopened.get(key(2)) is None
        assert reopened.corrupt == 1
        cache.put(key(5), PCM)
    finally:
        for folder in folders:
            folder.chmod(0o700)


@pytest.mark.parametrize(
    ("target", "error"),
    [("mkstemp", errno.EROFS), ("write", errno.ENOSPC), ("replace", errno.EACCES)],
)
def test_write_failures_are_logged_once_and_leave_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    target: str,
    error: int,
) -> None:
    cache = SentenceCache(tmp_path, 1 << 20)
    cache.put(key(0), PCM)

    def fail(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    if target == "mkstemp":
        monkeypatch.setattr(sentence_cache.tempfile, "mkstemp", fail)
    elif target == "replace":
        monkeypatch.setattr(sentence_cache.os, "replace", fail)
    else:
        real_fdopen = os.fdopen

        class FullFile:
            def __init__(self, handle: int, mode: str) -> None:
                self.file = real_fdopen(handle, mode)

            def __enter__(self) -> FullFile:
                return self

            def __exit__(self, *exc: object) -> None:
                self.file.close()

            def write(self, data: bytes) -> int:
                self.file.write(data[:10])
                fail()
                return 0

        monkeypatch.setattr(sentence_cache.os, "fdopen", FullFile)
    with caplog.at_level(logging.WARNING, logger=sentence_cache.__name__):
        cache.put(key(1), PCM)
        cache.put(key(2), PCM)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    monkeypatch.undo()
    assert cache.get(key(1)) is None and cache.get(key(2)) is None
    assert all_files(tmp_path) == [cache.path(key(0))]  # no entry, no temp file
    assert len(cache) == 1
    assert cache.get(key(0)) == PCM
    cache.put(key(1), PCM)  # the disk is back
    assert cache.get(key(1)) == PCM


def test_a_put_interrupted_before_replace_leaves_no_visible_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = SentenceCache(tmp_path, 1 << 20)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sentence_cache.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.put(key(1), PCM)
    monkeypatch.undo()
    assert all_files(tmp_path) == []
    assert cache.get(key(1)) is None
    assert SentenceCache(tmp_path, 1 << 20).get(key(1)) is None


# --- cache_key ------------------------------------------------------------------------------

values = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
part_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10)


def same_value(a: object, b: object) -> bool:
    return type(a) is type(b) and repr(a) == repr(b)


@settings(max_examples=100, deadline=None)
@given(parts=st.dictionaries(part_names, values, min_size=1, max_size=8), data=st.data())
def test_changing_any_part_changes_the_key(parts: dict, data: st.DataObject) -> None:
    original = cache_key(**parts)
    name = data.draw(st.sampled_from(sorted(parts)))
    new = data.draw(values.filter(lambda v: not same_value(v, parts[name])))
    assert cache_key(**{**parts, name: new}) != original
    assert cache_key(**{k: v for k, v in parts.items() if k != name}) != original
    extra = data.draw(part_names.filter(lambda n: n not in parts))
    assert cache_key(**parts, **{extra: None}) != original
    assert cache_key(**dict(reversed(list(parts.items())))) == original
    assert len(original) == 64 and int(original, 16) >= 0


def test_key_types_do_not_collide() -> None:
    keys = {
        cache_key(speed=value)
        for value in (1, "1", 1.0, True, None, "None", "", 0, 0.0, -0.0, False, "true")
    }
    assert len(keys) == 12
    assert cache_key(a="x", b="y") == cache_key(b="y", a="x")
    assert cache_key(a="x", b="y") != cache_key(a="y", b="x")
    assert cache_key(text="a", voice="b") != cache_key(text="ab", voice="")
    assert cache_key(speed=0.1 + 0.2) != cache_key(speed=0.3)


def test_a_documented_key_is_stable() -> None:
    """The key is a persistent format: the same parts must give the same key in every version
    that keeps FORMAT (change FORMAT when changing the encoding)."""
    parts = dict(
        model="qwen3-tts-0.6b",
        voice="ryan",
        reference=None,
        style="calm",
        speed=1.0,
        gain=-3.5,
        language="en",
        text="Die Waschmaschine ist fertig.",
    )
    assert cache_key(**parts) == cache_key(**dict(sorted(parts.items(), reverse=True)))
    assert cache_key(**parts) == STABLE_KEY


STABLE_KEY = "a97b6bb389e8830cd6fed2549401598afb67d0200631e8b4555577bd616a8d8d"


def test_a_key_part_of_another_type_is_refused() -> None:
    with pytest.raises(TypeError):
        cache_key(speed=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cache_key(text=b"bytes")  # type: ignore[arg-type]
