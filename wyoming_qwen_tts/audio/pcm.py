"""The one audio format the server speaks, and conversion into it."""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 24000
SAMPLE_WIDTH = 2
CHANNELS = 1


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] to little-endian 16-bit PCM."""
    scaled = np.clip(samples, -1.0, 1.0) * 32767.0
    return np.rint(scaled).astype("<i2").tobytes()


def pcm16_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32767.0
