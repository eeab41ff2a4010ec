"""TempoStream: speed changes the duration, not the pitch, whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest

from wyoming_qwen_tts.audio.tempo import MAX_SPEED, MIN_SPEED, TempoStream

from .speechlike import (
    SAMPLE_RATE,
    autocorrelation_pitch,
    from_pcm,
    harmonic_tone,
    random_chunks,
    speech_like,
    to_pcm,
)

SPEEDS = [0.5, 0.8, 1.25, 2.0]
TONE = to_pcm(harmonic_tone(4.0, 150.0))


def stream(pcm_chunks: list[bytes], speed: float) -> bytes:
    tempo = TempoStream(speed)
    return b"".join(tempo.process(chunk) for chunk in pcm_chunks) + tempo.flush()


@pytest.mark.parametrize("speed", SPEEDS)
def test_duration_scales_by_one_over_speed(speed: float) -> None:
    out = stream(random_chunks(TONE, seed=int(speed * 100)), speed)
    expected = len(TONE) / speed
    assert len(out) % 2 == 0
    assert abs(len(out) - expected) <= 0.05 * expected


@pytest.mark.parametrize("speed", SPEEDS)
def test_pitch_is_kept(speed: float) -> None:
    out = from_pcm(stream(random_chunks(TONE, seed=7), speed))
    steady = out[len(out) // 4 : 3 * len(out) // 4]
    assert autocorrelation_pitch(steady) == pytest.approx(150.0, rel=0.03)


@pytest.mark.parametrize("speed", SPEEDS)
def test_chunked_and_whole_give_the_same_audio(speed: float) -> None:
    """Sonic is fed fixed blocks whatever the chunking: the same bytes, so the same length."""
    pcm = to_pcm(speech_like(5.0, seed=3))
    whole = stream([pcm], speed)
    assert abs(len(whole) // 2 - len(pcm) / 2 / speed) <= 0.01 * SAMPLE_RATE  # 10 ms of 2.5-10 s
    for seed, max_samples in [(1, 2500), (2, 700), (5, 3)]:
        assert stream(random_chunks(pcm, seed=seed, max_samples=max_samples), speed) == whole


def test_speed_one_is_the_identity() -> None:
    pcm = to_pcm(speech_like(2.0, seed=4))
    tempo = TempoStream(1.0)
    chunks = random_chunks(pcm, seed=9)
    outs = [tempo.process(chunk) for chunk in chunks]
    assert outs == chunks
    assert tempo.flush() == b""


@pytest.mark.parametrize("speed", [MIN_SPEED - 0.01, MAX_SPEED + 0.01, 0.0, -1.0, 3, float("nan")])
def test_speeds_out_of_bounds_raise(speed: float) -> None:
    with pytest.raises(ValueError, match=r"speed must be between 0\.5 and 2\.0"):
        TempoStream(speed)


@pytest.mark.parametrize("speed", [MIN_SPEED, MAX_SPEED])
def test_the_bounds_themselves_are_allowed(speed: float) -> None:
    assert TempoStream(speed).speed == speed


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_full_scale_input_is_clipped_not_wrapped(speed: float) -> None:
    """A square-ish full-scale signal overshoots in the overlap-add; it must clip."""
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    loud = np.clip(3.0 * np.sin(2 * np.pi * 150 * t), -1.0, 1.0)
    loud[::7] *= -1  # rough edges, so that overlaps do not cancel neatly
    pcm = np.rint(loud * 32767).astype("<i2").tobytes()
    out = np.frombuffer(stream(random_chunks(pcm, seed=11), speed), dtype="<i2").astype(int)
    assert out.size > 0
    assert out.max() <= 32767 and out.min() >= -32768
    # no wraparound: a sign flip between neighbours at full scale would show as a jump of ~65535
    assert np.abs(np.diff(out)).max() < 65535


def test_first_output_comes_soon() -> None:
    """Latency: with 80 ms chunks, the first chunk already gives audio back; at most ~40 ms held."""
    for speed in SPEEDS:
        tempo = TempoStream(speed)
        chunk = 2 * 1920
        held = []
        fed = out = 0
        for i in range(0, len(TONE), chunk):
            part = TONE[i : i + chunk]
            fed += len(part) // 2
            got = tempo.process(part)
            if i == 0:
                assert got, speed
            out += len(got) // 2
            held.append(fed - out * speed)
        assert max(held) <= 0.045 * SAMPLE_RATE, speed


def test_stream_starts_afresh_after_flush() -> None:
    tempo = TempoStream(1.25)
    first = b"".join(tempo.process(c) for c in random_chunks(TONE, seed=1)) + tempo.flush()
    second = b"".join(tempo.process(c) for c in random_chunks(TONE, seed=1)) + tempo.flush()
    assert first == second


def test_an_odd_byte_is_held_over() -> None:
    pcm = to_pcm(speech_like(1.0, seed=8))
    tempo = TempoStream(0.8)
    out = tempo.process(pcm[:1001]) + tempo.process(pcm[1001:]) + tempo.flush()
    assert out == stream([pcm], 0.8)
