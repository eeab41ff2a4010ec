"""Prebuffering: the arithmetic (``speech.prebuffer``), property-tested, and the real speaker
over a real scheduler whose backend is slower (or faster) than real time.

The end-to-end tests run on real, short durations (a sentence is 0.24 s of audio), and judge
the schedule of released audio against a simulated client that plays it as it comes. The
backend keeps to its own schedule from each sentence's start, so the only timing slack the
tests rely on is the event loop's, within ``TOLERANCE``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wyoming_qwen_tts.app.warm_up import measure
from wyoming_qwen_tts.audio.pcm import SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.cli.main import parse_args
from wyoming_qwen_tts.engine.interface import AudioSink, SynthesisCancelled, SynthesisRequest
from wyoming_qwen_tts.scheduling.scheduler import Scheduler
from wyoming_qwen_tts.settings.flags import settings_from_args
from wyoming_qwen_tts.settings.options_file import settings_from_options
from wyoming_qwen_tts.settings.settings import PREBUFFER_MODES, Settings
from wyoming_qwen_tts.speech.plan import Silence, Utterance
from wyoming_qwen_tts.speech.prebuffer import (
    SECONDS_PER_CJK,
    SECONDS_PER_LETTER,
    CJK,
    OTHER,
    Meters,
    ModelMeter,
    Piece,
    hold_seconds,
    lead_needed,
    spoken_seconds,
)
from wyoming_qwen_tts.speech.speaker import Prebuffer, Speaker
from wyoming_qwen_tts.voices.voice import premium_voice

from .wyoming_server import REPO_ROOT

TOLERANCE = 0.05
"""Seconds a released chunk may come late for the simulated client before it counts as a gap."""
CHUNK_SECONDS = 0.04
SECONDS_PER_FAKE_LETTER = 0.03
SENTENCE = "Abcdefgh."
"""Eight letters: 0.24 s of the fake's audio, six chunks."""


# --- the arithmetic --------------------------------------------------------------------------


def test_one_sentence_at_half_speed_needs_its_own_length_ahead() -> None:
    # 2 s of audio produced in 4 s: the client must be 2 s ahead, plus the last chunk.
    assert lead_needed([Piece(play=2.0, produce=4.0, last_chunk=0.5)]) == pytest.approx(2.5)
    assert hold_seconds(2.5, ahead=0.0, max_silence=3.0) == pytest.approx(2.5)
    assert hold_seconds(2.5, ahead=0.0, max_silence=3.0, margin=0.1) == pytest.approx(2.6)


def test_what_the_client_holds_counts_and_the_silence_is_capped() -> None:
    assert hold_seconds(1.0, ahead=1.5, max_silence=3.0) == 0.0
    # 0.5 s buffered, 1 s needed: the hold leaves it 0.5 s silent between the sentences.
    assert hold_seconds(1.0, ahead=0.5, max_silence=3.0) == pytest.approx(1.0)
    assert hold_seconds(5.0, ahead=0.5, max_silence=3.0) == pytest.approx(3.5)
    # Silent for 1 s already since the answer was asked for: 2 s more at most.
    assert hold_seconds(5.0, ahead=-1.0, max_silence=3.0) == pytest.approx(2.0)
    assert hold_seconds(5.0, ahead=-4.0, max_silence=3.0) == 0.0


def test_ready_parts_give_the_client_a_lead_for_what_follows() -> None:
    silence = Piece(play=1.0, produce=0.0)
    slow = Piece(play=1.0, produce=2.0)
    assert lead_needed([slow, slow]) == pytest.approx(2.0)  # 4 s made, 2 s played
    assert lead_needed([slow, silence, slow]) == pytest.approx(1.0)  # 4 s made, 3 s played
    assert lead_needed([silence, slow]) == pytest.approx(0.0)


def test_length_estimates_count_cjk_characters_and_other_letters() -> None:
    assert spoken_seconds("Hello there.") == (pytest.approx(10 * SECONDS_PER_LETTER), OTHER)
    assert spoken_seconds("你好，世界。") == (pytest.approx(4 * SECONDS_PER_CJK), CJK)
    assert spoken_seconds("...")[0] == 0.0


def test_the_meter_learns_speed_sentence_lengths_and_chunks() -> None:
    meter = ModelMeter()
    assert meter.speed is None
    for _ in range(5):
        meter.produced(0.5, 1.0)
    assert meter.speed == pytest.approx(0.5)
    assert meter.largest_chunk == pytest.approx(0.5)
    for _ in range(200):  # it speeds up: recent work wins
        meter.produced(0.4, 0.2)
    assert meter.speed == pytest.approx(2.0, rel=0.05)
    text = "Good morning."
    assert meter.length_of(text) == pytest.approx(spoken_seconds(text)[0])
    meter.spoken("Slowly said words.", 2 * spoken_seconds("Slowly said words.")[0])
    assert meter.length_of(text) == pytest.approx(2 * spoken_seconds(text)[0])
    cjk = "你好。"
    assert meter.length_of(cjk) == pytest.approx(spoken_seconds(cjk)[0])  # its own class


# --- the options ---------------------------------------------------------------------------


def test_prebuffering_is_on_with_a_three_second_cap_by_default() -> None:
    assert (Settings().prebuffer, Settings().max_prebuffer) == ("auto", 3.0)
    given = settings_from_args(parse_args(["--prebuffer", "off", "--max-prebuffer", "1.5"]))
    assert (given.prebuffer, given.max_prebuffer) == ("off", 1.5)
    from_file = settings_from_options({"prebuffer": "off", "max_prebuffer": 0})
    assert (from_file.prebuffer, from_file.max_prebuffer) == ("off", 0.0)


def test_a_cap_past_ten_seconds_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^--max-prebuffer must be 0 to 10 seconds, got 11$"):
        settings_from_args(parse_args(["--max-prebuffer", "11"]))
    with pytest.raises(ValueError, match="option 'max_prebuffer' must be a number from 0 to 10"):
        settings_from_options({"max_prebuffer": 20})
    with pytest.raises(ValueError, match="option 'prebuffer' must be one of auto, off"):
        settings_from_options({"prebuffer": "on"})


def test_the_addon_offers_the_same_choices() -> None:
    config = yaml.safe_load((REPO_ROOT / "config.yaml").read_text(encoding="utf-8"))
    assert config["schema"]["prebuffer"] == f"list({'|'.join(PREBUFFER_MODES)})"
    assert config["schema"]["max_prebuffer"] == "float(0,10)"


# --- properties ------------------------------------------------------------------------------

seconds = st.floats(min_value=0.0, max_value=20.0, allow_nan=False)


@given(lead=seconds, ahead=st.floats(-10.0, 10.0), cap=seconds, margin=st.floats(0.0, 1.0))
def test_a_hold_never_leaves_the_client_silent_past_the_cap(
    lead: float, ahead: float, cap: float, margin: float
) -> None:
    hold = hold_seconds(lead, ahead, cap, margin)
    assert hold >= 0.0
    if hold > 0:
        assert hold - ahead <= cap + 1e-9  # the silence it makes, counting what went before
    if ahead <= 0:  # before an answer's first audio: never past the cap after the request
        assert hold <= cap + 1e-9


@given(
    lengths=st.lists(st.floats(0.05, 10.0), min_size=1, max_size=8),
    speed=st.floats(1.0, 50.0),
    ahead=st.floats(-5.0, 5.0),
)
def test_nothing_is_held_when_production_keeps_up(
    lengths: list[float], speed: float, ahead: float
) -> None:
    pieces = [Piece(play=length, produce=length / speed) for length in lengths]
    assert lead_needed(pieces) == 0.0
    assert hold_seconds(lead_needed(pieces), ahead, 3.0, margin=0.1) == 0.0


@dataclass(frozen=True)
class _Planned:
    chunks: int
    """A sentence of this many chunks; 0: a silence of one chunk's length."""


@settings(max_examples=300)
@given(
    plan=st.lists(st.integers(0, 12).map(_Planned), min_size=1, max_size=6),
    speed=st.floats(0.05, 1.0, exclude_max=True),
    chunk=st.floats(0.02, 2.0),
    ahead=st.floats(0.0, 5.0),
)
def test_with_right_estimates_the_schedule_has_no_gap(
    plan: list[_Planned], speed: float, chunk: float, ahead: float
) -> None:
    """Sentences produced one after another in equal chunks at ``speed``, silences ready at
    once; the client has ``ahead`` s buffered when the first sentence's production begins.
    Held as ``hold_seconds`` says (no cap), every chunk arrives before the client needs it."""
    pieces = [
        Piece(play=chunk * p.chunks, produce=chunk * p.chunks / speed, last_chunk=chunk)
        if p.chunks
        else Piece(play=chunk, produce=0.0)
        for p in plan
    ]
    lead = lead_needed(pieces)
    hold = hold_seconds(lead, ahead, max_silence=math.inf)
    starts = max(hold, ahead)  # when the client starts the first piece
    produced = played = 0.0
    for p in plan:
        for _ in range(p.chunks):
            produced += chunk / speed
            assert produced <= starts + played + 1e-6 * (1 + produced)
            played += chunk
        if not p.chunks:
            played += chunk


# --- the speaker over a real scheduler -------------------------------------------------------


@dataclass(eq=False)
class _Row:
    sink: AudioSink
    chunks: int
    due: float
    done: int = 0


class PacedBackend:
    """A ``SynthesisBackend`` that speaks ``SECONDS_PER_FAKE_LETTER`` of audio per letter of the
    text, in chunks of ``CHUNK_SECONDS``, at ``speed`` times real time, one request at a time:
    each chunk is written when its production is due, counted from the request's start."""

    capacity = 1

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.rows: list[_Row] = []
        self.written: list[float] = []
        """When each chunk was written."""
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        return len(self.rows)

    def start(self, request: SynthesisRequest, sink: AudioSink) -> object:
        letters = sum(ch.isalpha() for ch in request.text)
        chunks = math.ceil(letters * SECONDS_PER_FAKE_LETTER / CHUNK_SECONDS - 1e-9)
        row = _Row(sink, chunks, due=time.monotonic() + CHUNK_SECONDS / self.speed)
        self.rows.append(row)
        return row

    def step(self) -> list[object]:
        row = self.rows[0]
        time.sleep(max(0.0, row.due - time.monotonic()))
        with self._lock:
            self.written.append(time.monotonic())
        row.sink.write(bytes(round(CHUNK_SECONDS * SAMPLE_RATE) * SAMPLE_WIDTH))
        row.done += 1
        row.due += CHUNK_SECONDS / self.speed
        if row.done >= row.chunks:
            self.rows.remove(row)
            return [row]
        return []

    def cancel(self, handle: object) -> None:
        self.rows.remove(handle)  # type: ignore[arg-type]

    def reset(self) -> None:
        self.rows.clear()


@dataclass
class Heard:
    asked: float
    released: list[tuple[float, float]]
    """(when, seconds of audio) of each chunk the speaker let go, in order."""

    @property
    def first_audio(self) -> float:
        return self.released[0][0] - self.asked

    def silences(self) -> list[float]:
        """How long a client that plays what it gets as it comes waited for audio, after
        its first audio, each time it ran out."""
        waits = []
        ends = self.released[0][0]
        for when, length in self.released:
            if when > ends:
                waits.append(when - ends)
            ends = max(ends, when) + length
        return waits


@pytest.fixture
def speaking() -> Iterator[list[Scheduler]]:
    schedulers: list[Scheduler] = []
    yield schedulers
    for scheduler in schedulers:
        scheduler.close()


def _speaker(
    schedulers: list[Scheduler], backend: PacedBackend, *, enabled: bool = True, cap: float = 3.0
) -> Speaker:
    meters = Meters()
    # As at start (app.compose): a warm-up on the backend measures it before the workers run.
    measure(backend, SynthesisRequest("Warmupxx.", premium_voice("ryan")), meters.of("fake"))
    backend.written.clear()
    scheduler = Scheduler({"fake": backend}, lambda request: "fake")
    schedulers.append(scheduler)
    prebuffer = Prebuffer(meters, lambda request: "fake", enabled=enabled, max_seconds=cap)
    return Speaker(scheduler, None, lambda request: "fake", seed=None, prebuffer=prebuffer)


async def _answer(speaker: Speaker, parts: list[Utterance | Silence]) -> Heard:
    group = object()
    asked = time.monotonic()
    takes = [speaker.say(part, group=group) for part in parts]
    released = []
    for take in takes:
        async for pcm in take.audio():
            released.append((time.monotonic(), len(pcm) / (SAMPLE_RATE * SAMPLE_WIDTH)))
    return Heard(asked, released)


def _sentences(count: int) -> list[Utterance | Silence]:
    request = SynthesisRequest(SENTENCE, premium_voice("ryan"))
    return [Utterance(request) for _ in range(count)]


async def test_a_slow_model_is_held_until_the_answer_plays_through(
    speaking: list[Scheduler],
) -> None:
    backend = PacedBackend(speed=0.5)
    heard = await _answer(_speaker(speaking, backend), _sentences(3))
    assert len(heard.released) == 18
    assert heard.silences() == [] or max(heard.silences()) <= TOLERANCE
    assert heard.first_audio <= 3.0 + TOLERANCE
    assert heard.released[0][0] - backend.written[0] > 0.5  # it was held


async def test_the_first_audio_is_never_later_than_max_prebuffer(
    speaking: list[Scheduler],
) -> None:
    backend = PacedBackend(speed=0.5)
    heard = await _answer(_speaker(speaking, backend, cap=0.3), _sentences(3))
    assert heard.first_audio <= 0.3 + TOLERANCE
    assert all(silence <= 0.3 + TOLERANCE for silence in heard.silences())


@pytest.mark.parametrize(("speed", "enabled"), [(0.5, False), (4.0, True)], ids=["off", "fast"])
async def test_nothing_is_held_when_off_or_faster_than_real_time(
    speaking: list[Scheduler], speed: float, enabled: bool
) -> None:
    backend = PacedBackend(speed=speed)
    parts = _sentences(2)
    speaker = _speaker(speaking, backend, enabled=enabled)
    heard = await _answer(speaker, [parts[0], Silence(0.1), parts[1]])
    audio = [when for when, length in heard.released if length == CHUNK_SECONDS]
    assert len(audio) == len(backend.written) == 12
    assert max(out - made for out, made in zip(audio, backend.written, strict=True)) < TOLERANCE


async def test_a_cancelled_sentence_stops_holding_at_once(speaking: list[Scheduler]) -> None:
    backend = PacedBackend(speed=0.5)
    speaker = _speaker(speaking, backend)
    group = object()
    takes = [speaker.say(part, group=group) for part in _sentences(3)]
    received = []

    async def listen() -> None:
        async for pcm in takes[0].audio():
            received.append(pcm)

    listening = asyncio.create_task(listen())
    while not backend.written:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    for take in takes:
        take.cancel()
    with pytest.raises(SynthesisCancelled):
        await asyncio.wait_for(listening, 1.0)
    assert received == []
