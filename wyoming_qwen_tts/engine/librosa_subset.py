"""The two librosa functions that qwen_tts calls on the 12 Hz path, without librosa.

qwen_tts imports librosa for ``librosa.filters.mel`` (the speaker encoder's mel filterbank,
which a cloned voice's prompt needs) and ``librosa.resample`` (a reference clip or a codec input
that is not at 24 kHz). librosa itself pulls in numba, llvmlite, scipy and scikit-learn (about
420 MB in the image), and its first resample JIT-compiles for about 16 s. These are the same
computations: the Slaney mel filterbank in numpy, and soxr's high-quality resampler, which is
what librosa's default ``res_type="soxr_hq"`` calls. Tests hold them equal to librosa's.
"""

from __future__ import annotations

import numpy as np
import soxr

_LINEAR_MEL_HZ = 200.0 / 3  # Slaney's mel scale: linear below 1 kHz, logarithmic above
_LOG_START_HZ = 1000.0
_LOG_START_MEL = _LOG_START_HZ / _LINEAR_MEL_HZ
_LOG_STEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    mels = hz / _LINEAR_MEL_HZ
    log_part = hz >= _LOG_START_HZ
    mels[log_part] = _LOG_START_MEL + np.log(hz[log_part] / _LOG_START_HZ) / _LOG_STEP
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    hz = _LINEAR_MEL_HZ * mels
    log_part = mels >= _LOG_START_MEL
    hz[log_part] = _LOG_START_HZ * np.exp(_LOG_STEP * (mels[log_part] - _LOG_START_MEL))
    return hz


def mel(
    *,
    sr: float,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """``librosa.filters.mel`` with its defaults (Slaney scale and norm), (n_mels, 1 + n_fft//2)."""
    if fmax is None:
        fmax = float(sr) / 2
    fft_hz = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    edges = _hz_to_mel(np.array([fmin, fmax], dtype=np.float64))
    mel_hz = _mel_to_hz(np.linspace(edges[0], edges[1], n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = np.subtract.outer(mel_hz, fft_hz)
    weights = np.zeros((n_mels, len(fft_hz)), dtype=np.float32)
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(rising, falling))
    weights *= (2.0 / (mel_hz[2 : n_mels + 2] - mel_hz[:n_mels]))[:, np.newaxis]
    return weights


def resample(*, y: np.ndarray, orig_sr: float, target_sr: float) -> np.ndarray:
    """``librosa.resample`` of a 1-D signal with its default ``res_type="soxr_hq"``."""
    if orig_sr == target_sr:
        return y
    length = int(np.ceil(y.shape[-1] * float(target_sr) / orig_sr))
    resampled = soxr.resample(y, orig_sr, target_sr, quality="soxr_hq")
    resampled = resampled[:length]
    if resampled.shape[-1] < length:
        resampled = np.pad(resampled, (0, length - resampled.shape[-1]))
    return np.asarray(resampled, dtype=y.dtype)
