"""Speed change that keeps pitch, chunk by chunk while the audio streams.

The work is done by `libsonic` (PyPI, Apache-2.0): a Rust port of Sonic, the time-scale algorithm
that espeak-ng and Android's ExoPlayer/Media3 use for speech. It is pitch-synchronous: it finds the
pitch period and drops or repeats whole periods, overlapped, so voiced speech keeps its pitch and
its timbre, with no phasiness. It streams (write / read / flush): it holds back 20-41 ms of audio
(two of its longest pitch periods), so the model's first 80 ms chunk already gives audio back; it
costs under 1 % of a core. Wheels: abi3, CPython 3.11+, x86_64 and aarch64, 0.5 MB, no dependencies.
Its output comes out within ~0.1 % of input / speed (a pitch period is dropped or repeated whole).

Compared, and why not:
- audiotsm (WSOLA, streaming, pure numpy): no release or commit since 2017; holds back ~75 ms;
  3-4x the CPU of libsonic; its output ends ~70 ms short (a last frame is lost at flush).
- pytsmod, libtsm (WSOLA, phase vocoders): whole signals only, need scipy; pytsmod is GPL-3.0.
- librosa's phase vocoder: whole signals only, phasy on speech, needs scipy and numba.
- pyrubberband: calls the rubberband command-line program on whole files; Rubber Band is GPL;
  pylibrb (its library binding) has no aarch64 wheels.
- python-stretch (Signalsmith Stretch): no aarch64 Linux wheels; its binding takes whole buffers.
- audiostretchy (TDHS): ships an x86_64 Linux library only; whole files.
- SoundTouch: no maintained Python binding on PyPI.
"""

from __future__ import annotations

import math

import numpy as np
from libsonic import SonicStream

from .pcm import SAMPLE_RATE, float_to_pcm16, pcm16_to_float

MIN_SPEED = 0.5
MAX_SPEED = 2.0

# Sonic is fed in blocks of this many samples, whatever the chunks: its output depends on how its
# input is cut, so this makes the result the same for any chunking (and the same as for the whole
# signal). 10 ms: the model's 80 ms chunks are whole blocks, so it adds no delay to them.
BLOCK_SAMPLES = 240


def check_speed(speed: float) -> float:
    """``speed`` as a float, or ValueError outside [MIN_SPEED, MAX_SPEED]."""
    value = float(speed)
    if not (math.isfinite(value) and MIN_SPEED <= value <= MAX_SPEED):
        raise ValueError(
            f"speed must be between {MIN_SPEED} and {MAX_SPEED} "
            f"(1.0 is normal, 2.0 twice as fast), not {speed!r}"
        )
    return value


class TempoStream:
    """speed 2.0 = twice as fast (half the duration); pitch kept.

    One stream per utterance: feed ``process`` the PCM as it comes (16-bit little-endian mono),
    then call ``flush`` once at the end for the rest. After ``flush`` the stream starts afresh.
    At speed 1.0 the audio passes through untouched, byte for byte.
    """

    def __init__(self, speed: float, sample_rate: int = SAMPLE_RATE) -> None:
        self.speed = check_speed(speed)
        self.sample_rate = int(sample_rate)
        self._block_bytes = 2 * max(1, round(BLOCK_SAMPLES * self.sample_rate / SAMPLE_RATE))
        self._pending = b""  # less than a block, waiting for the rest
        self._sonic = None if self.speed == 1.0 else self._new_sonic()

    def _new_sonic(self) -> SonicStream:
        sonic = SonicStream(self.sample_rate, 1)
        sonic.set_speed(self.speed)
        return sonic

    def process(self, pcm: bytes) -> bytes:
        """What is ready of the sped-up (slowed-down) audio; may be b"" at first."""
        if self._sonic is None:
            return bytes(pcm)
        data = self._pending + pcm
        whole = len(data) - len(data) % self._block_bytes
        self._pending = data[whole:]
        self._write(data[:whole])
        return self._read()

    def flush(self) -> bytes:
        """The rest, at the end of the utterance."""
        if self._sonic is None:
            return b""
        self._write(self._pending[: len(self._pending) & ~1])  # half a sample is dropped
        self._sonic.flush()
        out = self._read()
        self._pending = b""
        self._sonic = self._new_sonic()
        return out

    def _write(self, pcm: bytes) -> None:
        assert self._sonic is not None
        samples = pcm16_to_float(pcm)
        block = self._block_bytes // 2
        for start in range(0, len(samples), block):
            self._sonic.write(samples[start : start + block])

    def _read(self) -> bytes:
        assert self._sonic is not None
        ready = self._sonic.available_frames()
        if not ready:
            return b""
        return float_to_pcm16(np.asarray(self._sonic.read(ready), dtype=np.float32))
