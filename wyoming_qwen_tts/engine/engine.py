"""The engine: turns one sentence in one voice into a stream of 24 kHz 16-bit PCM."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..audio import float_to_pcm16
from ..synthesis import AudioSink, SynthesisCancelled, SynthesisRequest
from ..text import frame_budget
from ..voices import Voice, VoiceError, VoiceKind, load_reference_audio, premium_voice
from .codec import CodecStream, chunk_schedule
from .model import GenerationInput, LoadOptions, ModelKind, ModelLoadError, QwenModel

_LOGGER = logging.getLogger(__name__)

FRAME_RATE = 12.5


@dataclass
class _CloneVoice:
    prompt: Any
    primed_codec: CodecStream


class Engine:
    """Loaded checkpoints by kind; one worker thread per kind may call ``synthesize``."""

    def __init__(self, models: dict[ModelKind, QwenModel], *, seed: int | None = None) -> None:
        self.models = models
        self.seed = seed
        self._clones: dict[str, _CloneVoice] = {}

    @classmethod
    def load(
        cls,
        *,
        custom_voice_model: str | None,
        base_model: str | None,
        options: LoadOptions,
        seed: int | None = None,
    ) -> Engine:
        models: dict[ModelKind, QwenModel] = {}
        for source, expected in (
            (custom_voice_model, ModelKind.CUSTOM_VOICE),
            (base_model, ModelKind.BASE),
        ):
            if source is None:
                continue
            model = QwenModel.load(source, options)
            if model.kind is not expected:
                raise ModelLoadError(
                    f"'{source}' is a {model.kind} checkpoint, but a {expected} checkpoint is "
                    "needed here"
                )
            models[expected] = model
        return cls(models, seed=seed)

    def premium_voices(self) -> list[Voice]:
        model = self.models.get(ModelKind.CUSTOM_VOICE)
        return [premium_voice(speaker) for speaker in model.speakers] if model else []

    def model_kind_for(self, voice: Voice) -> ModelKind:
        return ModelKind.CUSTOM_VOICE if voice.kind is VoiceKind.PREMIUM else ModelKind.BASE

    def prepare_voice(self, voice: Voice) -> None:
        """Computes what a cloned voice needs once: its prompt and its codec left context."""
        if voice.kind is not VoiceKind.CLONE or voice.name in self._clones:
            return
        model = self.models.get(ModelKind.BASE)
        if model is None or voice.reference is None:
            raise VoiceError(f"cloned voice '{voice.name}' needs a Base model")
        audio, sample_rate = load_reference_audio(voice.reference.audio_path)
        with torch.inference_mode():
            prompt = model.clone_prompt(audio, sample_rate, voice.reference.transcript)
            primed = model.codec.new_stream()
            if prompt.ref_code is not None:
                primed.prime(prompt.ref_code)
        self._clones[voice.name] = _CloneVoice(prompt=prompt, primed_codec=primed)

    def synthesize(self, request: SynthesisRequest, sink: AudioSink) -> None:
        """Generates ``request.text`` (one sentence), writing PCM as frames are produced."""
        voice = request.voice
        model = self.models[self.model_kind_for(voice)]
        language = request.language
        if voice.kind is VoiceKind.CLONE:
            if voice.name not in self._clones:
                self.prepare_voice(voice)
            clone = self._clones[voice.name]
            given = GenerationInput(language=language, clone_prompt=clone.prompt)
            codec = clone.primed_codec.fork()
        else:
            given = GenerationInput(language=language, speaker=voice.speaker, instruct=request.instruct)
            codec = model.codec.new_stream()

        sizes: Iterator[int] = chunk_schedule()
        pending: list[torch.Tensor] = []
        target = next(sizes)
        frames = 0
        started = time.monotonic()
        first_audio: float | None = None

        def emit() -> None:
            nonlocal first_audio
            sink.write(float_to_pcm16(codec.decode(torch.stack(pending)).cpu().numpy()))
            pending.clear()
            if first_audio is None:
                first_audio = time.monotonic() - started

        def on_frame(codes: torch.Tensor) -> None:
            nonlocal target, frames
            if sink.cancelled:
                raise SynthesisCancelled
            frames += 1
            pending.append(codes)
            if len(pending) >= target:
                emit()
                target = next(sizes)

        if self.seed is not None:
            torch.manual_seed(self.seed)
        budget = frame_budget(request.text)
        try:
            model.generate(request.text, given, budget, on_frame)
            if pending and not sink.cancelled:
                emit()
        except SynthesisCancelled:
            _LOGGER.info("Cancelled %r after %d frames", request.text[:40], frames)
            raise
        _LOGGER.debug(
            "Spoke %r as %s: %d frames (budget %d, %.2f s of audio) in %.2f s, first audio after %.3f s",
            request.text[:40],
            voice.name,
            frames,
            budget,
            frames / FRAME_RATE,
            time.monotonic() - started,
            first_audio or 0.0,
        )
