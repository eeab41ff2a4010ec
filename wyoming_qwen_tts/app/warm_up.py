"""Each model's speed, measured once at start on a short sentence, so that the first answer is
already prebuffered right (``speech.prebuffer``); logged once per model.

It drives each backend through the backend protocol itself, so it runs before the scheduler's
workers own the backends, and works the same for any engine behind that protocol.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping

from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.engine.interface import SynthesisBackend, SynthesisRequest
from wyoming_qwen_tts.speech.prebuffer import Meters, ModelMeter, speed_text
from wyoming_qwen_tts.voices.voice import Voice

_LOGGER = logging.getLogger(__name__)

WARM_UP_TEXT = "Hello, this is how fast I speak."
MAX_AUDIO_SECONDS = 1.0
"""A warm-up stops once it has produced this much audio ..."""
MAX_WALL_SECONDS = 3.0
"""... or worked this long."""


class _TimedSink:
    """An ``AudioSink`` that tells a meter when each chunk arrived."""

    def __init__(self, meter: ModelMeter) -> None:
        self._meter = meter
        self.mark = time.monotonic()
        self.seconds = 0.0

    def write(self, pcm: bytes) -> None:
        now = time.monotonic()
        seconds = len(pcm) / (SAMPLE_RATE * SAMPLE_WIDTH * CHANNELS)
        self._meter.produced(seconds, now - self.mark)
        self.mark = now
        self.seconds += seconds

    @property
    def cancelled(self) -> bool:
        return False


def measure(backend: SynthesisBackend, request: SynthesisRequest, meter: ModelMeter) -> None:
    """Speaks ``request`` on an idle ``backend`` (blocking) until it ends or the warm-up's
    limits, telling ``meter`` what it produced and how fast."""
    sink = _TimedSink(meter)
    started = time.monotonic()
    handle = backend.start(request, sink)
    while True:
        finished = backend.step()
        if any(done is handle for done in finished):
            meter.spoken(request.text, sink.seconds)
            return
        if sink.seconds >= MAX_AUDIO_SECONDS or time.monotonic() - started >= MAX_WALL_SECONDS:
            backend.cancel(handle)
            return


def warm_up(
    backends: Mapping[Hashable, SynthesisBackend],
    voice_for: Callable[[Hashable], Voice | None],
    meters: Meters,
    *,
    where: Callable[[Hashable], str],
    prebuffer: bool,
) -> None:
    """Measures each model once (one of its voices speaks ``WARM_UP_TEXT``) and logs its speed:
    "Model custom_voice: 0.26x real time on cpu; prebuffering on". A model that fails to speak
    is logged and measured as it serves instead."""
    for model, backend in backends.items():
        voice = voice_for(model)
        if voice is None:
            continue
        meter = meters.of(model)
        try:
            measure(backend, SynthesisRequest(WARM_UP_TEXT, voice), meter)
        except Exception as err:  # noqa: BLE001 - the server starts all the same
            _LOGGER.warning("Could not measure the speed of model %s (%s)", model, err)
            backend.reset()
            continue
        speed = meter.speed
        if not prebuffer:
            state = "prebuffering off"
        elif speed is not None and speed >= 1.0:
            state = "faster than real time, nothing is prebuffered"
        else:
            state = "prebuffering on"
        _LOGGER.info("Model %s: %s on %s; %s", model, speed_text(speed), where(model), state)
