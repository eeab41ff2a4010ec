"""Loudness measurement (BS.1770), the gain to a target, and a streamed gain that never clips."""

from __future__ import annotations

import numpy as np
import pytest

from wyoming_qwen_tts.audio.loudness import (
    DEFAULT_TARGET_LUFS,
    LIMITER_CEILING_DBFS,
    GainStream,
    gain_to_target,
    measure_lufs,
)

from .speechlike import SAMPLE_RATE, from_pcm, harmonic_tone, random_chunks, speech_like, to_pcm

CEILING = 32767 * 10 ** (LIMITER_CEILING_DBFS / 20)  # 29204


def sine(freq: float, amplitude: float, seconds: float = 5.0, rate: int = SAMPLE_RATE):
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def gained(pcm: bytes, gain_db: float, seed: int = 0) -> bytes:
    stream = GainStream(gain_db)
    return b"".join(stream.process(c) for c in random_chunks(pcm, seed=seed)) + stream.flush()


# measure_lufs


@pytest.mark.parametrize("rate", [48000, SAMPLE_RATE])
def test_full_scale_997_hz_sine_is_minus_3_01_lufs(rate: int) -> None:
    """BS.1770-4 / EBU Tech 3341: a 0 dBFS 997 Hz sine in one channel reads -3.01 LUFS."""
    assert measure_lufs(sine(997, 1.0, rate=rate), rate) == pytest.approx(-3.01, abs=0.1)


def test_1_khz_sine_at_minus_23_dbfs_peak_reads_minus_26_lufs() -> None:
    """Mono: the sine's mean square is 3 dB under its peak (EBU's -23 LUFS case is two channels)."""
    lufs = measure_lufs(sine(1000, 10 ** (-23 / 20)).astype(np.float32), SAMPLE_RATE)
    assert lufs == pytest.approx(-26.01, abs=0.1)


def test_loudness_follows_level() -> None:
    x = speech_like(8.0, seed=2)
    loud, quiet = measure_lufs(x, SAMPLE_RATE), measure_lufs(x / 4, SAMPLE_RATE)
    assert loud is not None and quiet is not None
    assert loud - quiet == pytest.approx(20 * np.log10(4), abs=0.1)


def test_silence_and_short_audio_have_no_loudness() -> None:
    assert measure_lufs(np.zeros(SAMPLE_RATE * 2), SAMPLE_RATE) is None
    assert measure_lufs(np.full(SAMPLE_RATE * 2, 1e-6), SAMPLE_RATE) is None  # under -70 LUFS
    short = sine(200, 0.5, seconds=0.39)
    assert measure_lufs(short, SAMPLE_RATE) is None
    assert measure_lufs(sine(200, 0.5, seconds=0.4), SAMPLE_RATE) is not None
    assert measure_lufs(np.zeros(0), SAMPLE_RATE) is None


def test_only_mono_is_measured() -> None:
    with pytest.raises(ValueError, match="mono"):
        measure_lufs(np.zeros((SAMPLE_RATE, 2)), SAMPLE_RATE)


# gain_to_target


def test_gain_to_target() -> None:
    assert gain_to_target(-30.0, -18.0) == pytest.approx(12.0)
    assert gain_to_target(-10.0, -18.0) == pytest.approx(-8.0)
    assert gain_to_target(None, -18.0) == 0.0
    assert gain_to_target(float("-inf"), -18.0) == 0.0
    assert gain_to_target(-60.0, -18.0) == 20.0
    assert gain_to_target(20.0, -18.0) == -20.0
    assert gain_to_target(-60.0, -18.0, max_gain_db=6.0) == 6.0
    with pytest.raises(ValueError):
        gain_to_target(-30.0, -18.0, max_gain_db=-1.0)


def test_default_target_is_for_speech() -> None:
    assert -23.0 <= DEFAULT_TARGET_LUFS <= -16.0


@pytest.mark.parametrize("make", [speech_like, harmonic_tone])
def test_two_levels_12_db_apart_both_reach_the_target(make) -> None:
    signal = make(8.0)
    for level in (1.0, 10 ** (-12 / 20)):
        pcm = to_pcm(signal * level)
        gain = gain_to_target(measure_lufs(from_pcm(pcm), SAMPLE_RATE), DEFAULT_TARGET_LUFS)
        out = from_pcm(gained(pcm, gain, seed=3))
        assert measure_lufs(out, SAMPLE_RATE) == pytest.approx(DEFAULT_TARGET_LUFS, abs=1.0)


# GainStream


def test_zero_db_is_the_identity() -> None:
    pcm = to_pcm(speech_like(2.0, seed=5))
    stream = GainStream(0.0)
    chunks = random_chunks(pcm, seed=4)
    assert [stream.process(c) for c in chunks] == chunks
    assert stream.flush() == b""
    assert stream.latency_samples == 0


def test_plus_20_db_on_a_loud_signal_is_limited_not_wrapped() -> None:
    pcm = to_pcm(speech_like(6.0, peak=0.95, seed=6))
    out = np.frombuffer(gained(pcm, 20.0), dtype="<i2").astype(np.int64)
    assert len(out) == len(pcm) // 2
    assert np.abs(out).max() <= round(CEILING)  # under the ceiling, so within int16
    assert np.abs(out).max() >= round(CEILING) - 1  # and it does go up to it
    # no wraparound: a wrapped sample flips sign at full scale, a jump of more than 2 x ceiling
    assert np.abs(np.diff(out)).max() <= 2 * CEILING
    # it follows the signal's sign wherever the signal is clearly there
    src = np.frombuffer(pcm, dtype="<i2").astype(np.int64)
    clear = np.abs(src) > 300
    assert np.all(np.sign(out[clear]) == np.sign(src[clear]))


def test_full_scale_input_never_passes_the_ceiling() -> None:
    x = np.clip(sine(150, 4.0, seconds=2.0), -1, 1)  # a square-ish wave at full scale
    x[1000] = -1.0
    pcm = np.rint(x * 32767).astype("<i2").tobytes() + (-32768).to_bytes(2, "little", signed=True)
    for gain in (0.5, 6.0, 20.0, -0.5):
        out = np.frombuffer(gained(pcm, gain, seed=1), dtype="<i2").astype(np.int64)
        assert np.abs(out).max() <= round(CEILING), gain


def test_below_the_ceiling_it_is_only_the_gain_and_in_place() -> None:
    """No delay in the output (the look-ahead's zeros are not sent), no change but the gain."""
    pcm = to_pcm(speech_like(3.0, peak=0.3, seed=7))
    out = np.frombuffer(gained(pcm, 6.0, seed=2), dtype="<i2").astype(np.float64)
    src = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    assert len(out) == len(src)
    assert np.abs(out - np.rint(src * 10 ** (6 / 20))).max() <= 1


def test_a_peak_is_limited_smoothly_and_ahead_of_time() -> None:
    x = sine(200, 0.2, seconds=1.0)
    peak = 12000
    x[peak] = 1.0
    pcm = to_pcm(x)
    gain_db = 3.0
    stream = GainStream(gain_db)
    out = from_pcm(stream.process(pcm) + stream.flush())
    expected = x * 10 ** (gain_db / 20)
    ratio = np.ones_like(x)
    loud = np.abs(expected) > 0.01
    ratio[loud] = out[loud] / expected[loud]
    assert abs(out[peak]) <= CEILING / 32767 + 1e-4
    window = stream.latency_samples
    assert ratio[peak] < 0.75
    assert np.all(ratio[peak - window // 2 : peak] < 0.999)  # the gain was already going down
    assert np.all(np.abs(ratio[: peak - window - 1][loud[: peak - window - 1]] - 1) < 0.01)
    # it releases: 100 ms later the reduction of ~3.3 dB has gone
    assert np.all(np.abs(ratio[peak + 2400 :][loud[peak + 2400 :]] - 1) < 0.01)
    # and it steps gently: no jump of more than 0.2 dB from one sample to the next around it
    around = slice(peak - 2 * window, peak + 2 * window)
    steps = np.abs(np.diff(20 * np.log10(np.abs(ratio[around]) + 1e-9)))
    assert steps[loud[around][1:] & loud[around][:-1]].max() < 0.3


def test_chunking_does_not_change_the_result() -> None:
    pcm = to_pcm(speech_like(4.0, peak=0.9, seed=8))
    whole = GainStream(12.0)
    reference = whole.process(pcm) + whole.flush()
    for seed in (1, 2):
        assert gained(pcm, 12.0, seed=seed) == reference
    stream = GainStream(12.0)  # and one sample at a time, for the first 200 ms
    tiny = b"".join(stream.process(pcm[i : i + 2]) for i in range(0, 9600, 2))
    assert tiny + stream.process(pcm[9600:]) + stream.flush() == reference


def test_latency_is_the_look_ahead() -> None:
    stream = GainStream(6.0)
    assert stream.latency_samples == 47  # 2 ms at 24 kHz, less one sample
    first = stream.process(to_pcm(sine(200, 0.1, seconds=0.01)))  # 240 samples
    assert len(first) == 2 * (240 - 47)
    assert len(stream.flush()) == 2 * 47


def test_short_streams_keep_their_length() -> None:
    for n in (0, 1, 10, 46, 47, 48, 100):
        pcm = to_pcm(sine(200, 0.5, seconds=n / SAMPLE_RATE))[: 2 * n]
        stream = GainStream(20.0)
        assert len(stream.process(pcm) + stream.flush()) == 2 * n


def test_the_stream_starts_afresh_after_flush() -> None:
    pcm = to_pcm(speech_like(1.0, peak=0.9, seed=9))
    stream = GainStream(10.0)
    first = stream.process(pcm) + stream.flush()
    assert stream.process(pcm) + stream.flush() == first


@pytest.mark.parametrize("gain", [float("nan"), float("inf")])
def test_a_gain_must_be_finite(gain: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        GainStream(gain)
