"""Synthetic voiced signals for the post-processing tests and bench/speech_control_cost.py.

No recordings: a harmonic tone (steady pitch, for pitch checks) and a speech-like signal (gliding
pitch, formant-shaped harmonics, syllable envelope, pauses and noise bursts, for cost and loudness).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 24000


def harmonic_tone(
    seconds: float = 4.0,
    f0: float = 150.0,
    *,
    peak: float = 0.5,
    harmonics: int = 12,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """A steady ``f0`` with 1/k harmonics, a 4 Hz amplitude envelope and 0.3 s fades; float32."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    phase = 2 * np.pi * f0 * t
    x = sum(np.sin(k * phase + 0.3 * k) / k for k in range(1, harmonics + 1))
    envelope = 0.75 + 0.25 * np.sin(2 * np.pi * 4.0 * t)
    fade = np.clip(np.minimum(t, seconds - t) / 0.3, 0.0, 1.0)
    x = x * envelope * fade
    return (peak * x / np.abs(x).max()).astype(np.float32)


def speech_like(
    seconds: float = 30.0, *, peak: float = 0.7, seed: int = 0, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Voiced syllables (f0 gliding 90-220 Hz, two formants), fricative noise, pauses; float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    out = np.zeros(n)
    i = 0
    while i < n:
        length = int(rng.uniform(0.12, 0.3) * sample_rate)
        t = np.arange(length) / sample_rate
        if rng.random() < 0.2:  # a fricative: shaped noise
            seg = rng.standard_normal(length) * 0.15
            seg = np.convolve(seg, [1.0, -0.9], mode="same")
        else:
            f0 = rng.uniform(90, 220) * (1 + rng.uniform(-0.15, 0.15) * t / t[-1])
            phase = 2 * np.pi * np.cumsum(f0) / sample_rate
            formants = (rng.uniform(300, 900), rng.uniform(900, 2500))
            seg = np.zeros(length)
            for k in range(1, 40):
                fk = k * f0.mean()
                if fk > sample_rate / 2 - 500:
                    break
                weight = sum(1.0 / (1 + ((fk - f) / 120.0) ** 2) for f in formants) + 0.02
                seg += weight * np.sin(k * phase) / np.sqrt(k)
        seg *= np.sin(np.pi * t / t[-1]) ** 2 * rng.uniform(0.3, 1.0)  # the syllable's envelope
        end = min(n, i + length)
        out[i:end] = seg[: end - i]
        i = end + int(rng.choice([0, 0, 0.03, 0.25]) * sample_rate)  # often a pause after it
    return (peak * out / np.abs(out).max()).astype(np.float32)


def to_pcm(samples: np.ndarray) -> bytes:
    return np.rint(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def from_pcm(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32767.0


def random_chunks(data: bytes, seed: int = 0, *, max_samples: int = 4000) -> list[bytes]:
    """``data`` cut into chunks of 1 .. ``max_samples`` whole samples."""
    rng = np.random.default_rng(seed)
    chunks, i = [], 0
    while i < len(data):
        size = 2 * int(rng.integers(1, max_samples + 1))
        chunks.append(data[i : i + size])
        i += size
    return chunks


def autocorrelation_pitch(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """The strongest period between 60 and 400 Hz, refined by a parabola; in Hz."""
    x = samples - samples.mean()
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
    lo, hi = sample_rate // 400, sample_rate // 60
    lag = lo + int(np.argmax(ac[lo:hi]))
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    return sample_rate / (lag + 0.5 * (a - c) / (a - 2 * b + c))
