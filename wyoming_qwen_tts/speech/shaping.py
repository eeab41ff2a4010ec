"""An utterance's audio shaped by its delivery on the way out: its speed (pitch kept), then its
gain (limited, never clipped). At speed 1 and 0 dB the audio passes through untouched."""

from __future__ import annotations

import math

from wyoming_qwen_tts.audio.loudness import GainStream
from wyoming_qwen_tts.audio.pcm import SAMPLE_RATE
from wyoming_qwen_tts.audio.tempo import TempoStream


class Shaper:
    """Streaming: ``process`` returns what is ready, ``flush`` the rest at the utterance's end."""

    def __init__(self, speed: float = 1.0, gain_db: float = 0.0) -> None:
        self._silent = gain_db == -math.inf
        """SSML ``prosody volume="silent"``: the utterance's time, without its sound."""
        self._stages: list[TempoStream | GainStream] = []
        if speed != 1.0:
            self._stages.append(TempoStream(speed, SAMPLE_RATE))
        if gain_db != 0.0 and not self._silent:
            self._stages.append(GainStream(gain_db, SAMPLE_RATE))

    def process(self, pcm: bytes) -> bytes:
        for stage in self._stages:
            pcm = stage.process(pcm)
        return bytes(len(pcm)) if self._silent else pcm

    def flush(self) -> bytes:
        rest = b""
        for stage in self._stages:
            rest = (stage.process(rest) if rest else b"") + stage.flush()
        return bytes(len(rest)) if self._silent else rest
