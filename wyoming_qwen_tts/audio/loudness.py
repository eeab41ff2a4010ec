"""Loudness: measure it (ITU-R BS.1770-4 / EBU R128, LUFS), and a gain that never clips.

The meter is `loudness` (PyPI, MIT, by the author of audiomentations): a binding of libloudness, a
C++ BS.1770-4 meter (K-weighting, 400 ms blocks with 75 % overlap, absolute and relative gates).
Its wheels are 0.1 MB for CPython 3.10-3.14 on x86_64 and aarch64, with numpy as its only
dependency; it measures a minute of 24 kHz audio in about 15 ms. Compared, and why not:
- pyloudnorm (MIT, the usual choice, pure Python): needs scipy for its filters, which this image
  does not carry (about 100 MB installed).
- pyebur128 (libebur128, MIT): no wheels for CPython 3.13, the Python of the Debian trixie image;
  it would need a compiler in the image. Its last release is from 2024.
- loudstream: cffi over a system libebur128 it does not bundle.
- Our own BS.1770 in numpy: the K-weighting biquads need an IIR filter, a per-sample Python loop
  without scipy.
The two meters that were run side by side here agree within 0.1 LU at 24 kHz (pyloudnorm designs
its filters for the rate, libloudness differs by ~0.08 LU).

GainStream applies a gain to streamed 16-bit PCM through a look-ahead peak limiter: the gain is
lowered, smoothly and ahead of time, wherever a sample would pass the ceiling (-1 dBFS), so that
nothing clips, let alone wraps. How:
- needed reduction, per sample: max(0, |x| in dB - ceiling), in dB;
- instant attack, release at RELEASE_DB_PER_S: ``env[n] = max(need[n], env[n-1] - release)``,
  computed for a whole chunk at once as a running maximum (numpy's ``maximum.accumulate``);
- look-ahead: the maximum of ``env`` over the last LOOKAHEAD_MS, then its mean over the same
  window; the samples are delayed by that window less one sample. Each value in the mean is at
  least a peak's reduction from the moment the peak enters the window, so the gain has ramped
  down fully (over 2 ms, no click) when the peak comes out: the ceiling is never passed.
Latency: the look-ahead, 47 samples (1.96 ms) at 24 kHz; 0 at 0 dB, which passes audio untouched.
"""

from __future__ import annotations

import math

import loudness
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .pcm import SAMPLE_RATE, float_to_pcm16, pcm16_to_float

# Speech at -18 LUFS: AES TD1008 (loudness of internet audio streaming and on-demand playback)
# anchors speech, automated voice announcements included, at -18 LUFS. It sits between broadcast's
# -23 (EBU R128: announcements too quiet next to music at -14..-16 on the same speaker) and
# streaming music's -14 (speech's peaks, 12-18 dB above its loudness, would then hit the ceiling
# all the time); at -18, speech peaks land around -6..0 dBFS, so the limiter seldom works.
DEFAULT_TARGET_LUFS: float = -18.0

MIN_SECONDS = 0.4  # one BS.1770 gating block
LIMITER_CEILING_DBFS = -1.0
LOOKAHEAD_MS = 2.0
RELEASE_DB_PER_S = 60.0  # 6 dB of gain reduction recovers in 100 ms


def measure_lufs(samples: np.ndarray, sample_rate: int) -> float | None:
    """Integrated loudness (BS.1770-4, LUFS) of mono float samples in [-1, 1].

    None when there is less than one 400 ms gating block, or nothing above the absolute gate
    (-70 LUFS): silence.
    """
    x = np.ascontiguousarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"mono samples expected (one dimension), not shape {x.shape}")
    if x.size < math.ceil(MIN_SECONDS * sample_rate):
        return None
    value = float(loudness.integrated_loudness(x, int(sample_rate)))
    return value if math.isfinite(value) else None


def gain_to_target(
    measured_lufs: float | None, target_lufs: float, *, max_gain_db: float = 20.0
) -> float:
    """The gain in dB that brings ``measured_lufs`` to ``target_lufs``, within +-``max_gain_db``.

    0 when there is no measurement (too short, silent).
    """
    if max_gain_db < 0:
        raise ValueError(f"max_gain_db must not be negative, not {max_gain_db!r}")
    if measured_lufs is None or not math.isfinite(measured_lufs):
        return 0.0
    return float(min(max(target_lufs - measured_lufs, -max_gain_db), max_gain_db))


class GainStream:
    """Applies a gain (dB) to streamed PCM with a peak limiter, so that nothing clips.

    Limit, do not wrap: no sample passes the ceiling (-1 dBFS), so none leaves the int16 range.

    Feed ``process`` 16-bit little-endian mono PCM as it comes, and call ``flush`` at the end for
    the last 2 ms (the look-ahead); the output has exactly as many samples as the input. After
    ``flush`` the stream starts afresh. At 0 dB the audio passes through untouched, byte for byte.
    """

    def __init__(
        self,
        gain_db: float,
        sample_rate: int = SAMPLE_RATE,
        *,
        ceiling_dbfs: float = LIMITER_CEILING_DBFS,
    ) -> None:
        gain_db = float(gain_db)
        if not math.isfinite(gain_db):
            raise ValueError(f"gain_db must be a finite number of dB, not {gain_db!r}")
        if not ceiling_dbfs <= 0:
            raise ValueError(f"ceiling_dbfs must be at most 0 dBFS, not {ceiling_dbfs!r}")
        self.gain_db = gain_db
        self.sample_rate = int(sample_rate)
        self._gain = 10.0 ** (gain_db / 20.0)
        self._ceiling_db = float(ceiling_dbfs)
        self._window = max(2, round(LOOKAHEAD_MS * self.sample_rate / 1000))
        self._release = RELEASE_DB_PER_S / self.sample_rate  # dB per sample
        self._reset()

    @property
    def latency_samples(self) -> int:
        """How many samples the output lags behind the input (0 at 0 dB)."""
        return 0 if self.gain_db == 0.0 else self._window - 1

    def _reset(self) -> None:
        delay = self._window - 1
        self._odd = b""
        self._x_tail = np.zeros(delay)  # the delay line: input not yet sent out
        self._env_tail = np.zeros(delay)  # the release envelope, for the look-ahead maximum
        self._hold_tail = np.zeros(delay)  # the look-ahead maximum, for its mean
        self._env_last = 0.0
        self._to_skip = delay  # the delay line's initial zeros are not sent

    def process(self, pcm: bytes) -> bytes:
        if self.gain_db == 0.0:
            return bytes(pcm)
        data = self._odd + pcm
        whole = len(data) & ~1
        self._odd = data[whole:]
        if not whole:
            return b""
        x = pcm16_to_float(data[:whole]).astype(np.float64) * self._gain
        return self._emit(self._limit(x))

    def flush(self) -> bytes:
        """The last samples, held back by the look-ahead."""
        if self.gain_db == 0.0:
            return b""
        out = self._emit(self._limit(np.zeros(self._window - 1)))
        self._reset()
        return out

    def _emit(self, y: np.ndarray) -> bytes:
        skip = min(self._to_skip, len(y))
        self._to_skip -= skip
        return float_to_pcm16(y[skip:])

    def _limit(self, x: np.ndarray) -> np.ndarray:
        """The limited signal, delayed by the look-ahead: as many samples out as in."""
        n, delay = len(x), self._window - 1
        delayed = np.concatenate((self._x_tail, x))
        self._x_tail = delayed[n:]
        magnitude = np.abs(x)
        if (
            self._env_last <= 0.0
            and not self._hold_tail.any()
            and magnitude.max(initial=0.0) <= 10.0 ** (self._ceiling_db / 20.0)
        ):  # nothing to limit, nor any limiting still under way: the gain alone
            self._env_tail = np.zeros(delay)
            return delayed[:n]
        with np.errstate(divide="ignore"):
            need = np.maximum(20.0 * np.log10(magnitude) - self._ceiling_db, 0.0)
        ramp = self._release * np.arange(n)
        env = np.maximum.accumulate(need + ramp) - ramp  # instant attack, linear-in-dB release
        env = np.maximum(env, self._env_last - self._release - ramp)
        self._env_last = float(env[-1]) if n else self._env_last
        env_ext = np.concatenate((self._env_tail, env))
        self._env_tail = env_ext[n:]
        hold = sliding_window_view(env_ext, self._window).max(axis=1)
        hold_ext = np.concatenate((self._hold_tail, hold))
        self._hold_tail = hold_ext[n:]
        sums = np.concatenate(([0.0], np.cumsum(hold_ext)))
        smooth = (sums[self._window :] - sums[: -self._window]) / self._window
        return delayed[:n] * 10.0 ** (-np.maximum(smooth, 0.0) / 20.0)
