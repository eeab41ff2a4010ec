"""The loudness of each premium voice, for an explicit ``--loudness-target``.

A premium voice has no reference clip to measure, so each one speaks a fixed calibration
sentence once (seeded, so the figure is the same each time) and that take is measured. The
figures are kept in the cache dir by model identity and speaker, so only the first start with a
target (or with a new model) pays for it: about one sentence per premium voice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from wyoming_qwen_tts.audio.loudness import measure_lufs
from wyoming_qwen_tts.audio.pcm import SAMPLE_RATE, pcm16_to_float
from wyoming_qwen_tts.engine.interface import CollectingSink, ModelKind, SynthesisRequest
from wyoming_qwen_tts.voices.voice import Voice

if TYPE_CHECKING:
    from wyoming_qwen_tts.engine.engine import Engine

_LOGGER = logging.getLogger(__name__)

CALIBRATION_TEXT = (
    "Good evening. The kitchen lights are on, the front door is locked, and the heating is set "
    "to a comfortable level for the night."
)
CALIBRATION_SEED = 1


class PremiumLoudness:
    """Measured LUFS of premium voices, by voice name; None for a voice not measured."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._measured: dict[str, float | None] = {}

    def __call__(self, voice: Voice) -> float | None:
        return self._measured.get(voice.name)

    def measure(self, engine: Engine, voices: list[Voice]) -> None:
        """Measures every premium voice not measured before (blocking: at start, before the
        scheduler runs the engine)."""
        model = engine.models.get(ModelKind.CUSTOM_VOICE)
        if model is None or not voices:
            return
        path = self._folder / f"{hashlib.sha256(model.identity.encode()).hexdigest()}.json"
        stored = _read(path)
        started = time.monotonic()
        missing = [voice for voice in voices if voice.speaker not in stored]
        if missing:
            previous_seed = engine.seed
            engine.seed = CALIBRATION_SEED
            try:
                for voice in missing:
                    sink = CollectingSink()
                    try:
                        engine.synthesize(SynthesisRequest(CALIBRATION_TEXT, voice), sink)
                    except Exception as err:  # noqa: BLE001 - the voice keeps the model's level
                        _LOGGER.error(
                            "Could not measure voice '%s' for --loudness-target (%s); it keeps "
                            "the model's level",
                            voice.name,
                            err,
                        )
                        continue
                    measured = measure_lufs(pcm16_to_float(sink.pcm), SAMPLE_RATE)
                    if measured is not None:
                        stored[str(voice.speaker)] = measured
            finally:
                engine.seed = previous_seed
            _write(path, stored)
            _LOGGER.info(
                "Measured the loudness of %d premium voices in %.1f s (kept for later starts)",
                len(missing),
                time.monotonic() - started,
            )
        for voice in voices:
            self._measured[voice.name] = stored.get(str(voice.speaker))


def _read(path: Path) -> dict[str, float | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(key): float(value) if isinstance(value, int | float) else None
        for key, value in data.items()
    }


def _write(path: Path, measured: dict[str, float | None]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(measured, file, sort_keys=True)
        os.replace(temporary, path)
    except OSError as err:
        _LOGGER.warning("Could not keep the premium voices' loudness in %s: %s", path, err)
