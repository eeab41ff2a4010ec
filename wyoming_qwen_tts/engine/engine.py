"""The engine: turns one sentence in one voice into a stream of 24 kHz 16-bit PCM."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

import torch

from wyoming_qwen_tts.audio.pcm import float_to_pcm16
from wyoming_qwen_tts.engine.codec import CodecStream, chunk_schedule_for
from wyoming_qwen_tts.engine.decode_thread import DecodeRunner, decode_thread_pays
from wyoming_qwen_tts.engine.frames import Utterance
from wyoming_qwen_tts.engine.interface import (
    MODEL_KINDS,
    AudioSink,
    LoadOptions,
    ModelKind,
    ModelLoadError,
    SynthesisCancelled,
    SynthesisRequest,
)
from wyoming_qwen_tts.engine.model import GenerationInput, QwenModel
from wyoming_qwen_tts.engine.prompt_cache import PromptCache, unusable_reason
from wyoming_qwen_tts.text.sentences import frame_budget
from wyoming_qwen_tts.voices.reference import load_reference_audio, reference_digest
from wyoming_qwen_tts.voices.voice import Voice, VoiceError, VoiceKind, premium_voice

_LOGGER = logging.getLogger(__name__)

FRAME_RATE = 12.5

WRITING_POLL_S = 0.02
"""How long a step with nothing to generate waits for audio being decoded."""


@dataclass
class _CloneVoice:
    prompt: Any
    primed_codec: CodecStream


class Engine:
    """Loaded checkpoints by kind, the voices prepared for them, and one batch per model.

    ``prepare_voice`` may run on another thread than the models' workers (a voice added while
    the server runs): it uses the Base model's encoders, which generation does not touch, and its
    codec decoder, which is thread-safe.
    """

    def __init__(
        self,
        models: dict[ModelKind, QwenModel],
        *,
        seed: int | None = None,
        prompt_cache: PromptCache | None = None,
        decode_thread: bool | None = None,
    ) -> None:
        """``decode_thread``: decode codec chunks on a thread of their own (None: where that
        pays, see ``decode_thread.decode_thread_pays``)."""
        self.models = models
        self.seed = seed
        self.decode_thread = decode_thread
        self.prompt_cache = prompt_cache
        self.prompts_computed = 0
        """Clone prompts computed by this engine (not found in the prompt cache)."""
        self.codec_states_computed = 0
        """Clone codec states primed by decoding a reference (not found in the prompt cache)."""
        self._clones: dict[str, _CloneVoice] = {}
        self._batches: dict[ModelKind, ModelBatch] = {}
        self._prepare_lock = threading.Lock()

    def add_model(self, source: str, expected: ModelKind, options: LoadOptions) -> QwenModel:
        """Loads a checkpoint that must be of the ``expected`` kind."""
        model = QwenModel.load(source, options)
        if model.kind is not expected:
            raise ModelLoadError(
                f"'{source}' is a {model.kind} checkpoint, but a {expected} checkpoint is "
                "needed here"
            )
        self.models[expected] = model
        return model

    def premium_voices(self) -> list[Voice]:
        model = self.models.get(ModelKind.CUSTOM_VOICE)
        return [premium_voice(speaker) for speaker in model.speakers] if model else []

    def model_kind_for(self, voice: Voice) -> ModelKind:
        return MODEL_KINDS[voice.kind]

    def follows_instructions(self, voice: Voice) -> bool:
        """Whether the model that speaks ``voice`` follows a request's ``instruct``."""
        model = self.models.get(self.model_kind_for(voice))
        return model is not None and model.follows_instructions

    def prepare_voice(self, voice: Voice) -> None:
        """Computes what a cloned voice needs once: its prompt and its codec left context.

        Both come from the prompt cache when it holds them for the same reference bytes,
        transcript and model. Preparing a voice again (its files changed) replaces it.
        """
        if voice.kind is not VoiceKind.CLONE:
            return
        model = self.models.get(ModelKind.BASE)
        if model is None or voice.reference is None:
            raise VoiceError(f"cloned voice '{voice.name}' needs a Base model")
        with self._prepare_lock, torch.inference_mode():
            digest = None
            if self.prompt_cache is not None:
                digest = reference_digest(voice.reference.audio_path)
            prompt = self._clone_prompt(model, voice, digest)
            primed = self._primed_codec(model, voice, prompt, digest)
            self._clones[voice.name] = _CloneVoice(prompt=prompt, primed_codec=primed)

    def forget_voice(self, name: str) -> None:
        """Frees what ``prepare_voice`` kept for a cloned voice that is gone."""
        self._clones.pop(name, None)

    def _clone_prompt(self, model: QwenModel, voice: Voice, digest: str | None) -> Any:
        assert voice.reference is not None
        path, transcript = voice.reference.audio_path, voice.reference.transcript
        key = None
        if self.prompt_cache is not None and digest is not None:
            key = PromptCache.key(digest, transcript, model.identity)
            cached = self.prompt_cache.load(key, model.prompt_item_class(), model.device)
            if cached is not None:
                _LOGGER.info("Loaded the clone prompt of '%s' from the prompt cache", voice.name)
                return cached
        audio, sample_rate = load_reference_audio(path)
        started = time.monotonic()
        prompt = model.clone_prompt(audio, sample_rate, transcript)
        self.prompts_computed += 1
        _LOGGER.info(
            "Computed the clone prompt of '%s' in %.2f s", voice.name, time.monotonic() - started
        )
        if self.prompt_cache is not None and key is not None:
            self.prompt_cache.store(key, prompt)
        return prompt

    def _primed_codec(
        self, model: QwenModel, voice: Voice, prompt: Any, digest: str | None
    ) -> CodecStream:
        """The codec state after decoding the reference's codes (the left context of the
        voice's speech), from the prompt cache when it holds it."""
        if prompt.ref_code is None:  # x-vector only: the speech has no left context
            return model.codec.new_stream()
        assert voice.reference is not None
        key = None
        if self.prompt_cache is not None and digest is not None:
            identity = f"{model.identity} {model.codec.identity}"
            key = PromptCache.key(digest, voice.reference.transcript, identity)
            data = self.prompt_cache.load_codec_state(key)
            if data is not None:
                try:
                    stream = CodecStream.from_state_dict(model.codec, data)
                    stream.fork().decode(prompt.ref_code[-1:])  # it fits this decoder
                except Exception as err:  # noqa: BLE001 - any unusable state: decode it again
                    path = self.prompt_cache.codec_state_path(key)
                    _LOGGER.warning(
                        "Ignoring the cached codec state %s (%s); decoding the reference again",
                        path,
                        unusable_reason(err),
                    )
                else:
                    _LOGGER.info("Loaded the codec state of '%s' from its cache file", voice.name)
                    return stream
        started = time.monotonic()
        stream = model.codec.new_stream()
        stream.prime(prompt.ref_code)
        self.codec_states_computed += 1
        _LOGGER.info(
            "Decoded the reference of '%s' (%d frames) in %.2f s",
            voice.name,
            prompt.ref_code.shape[0],
            time.monotonic() - started,
        )
        if self.prompt_cache is not None and key is not None:
            self.prompt_cache.store_codec_state(key, stream.state_dict())
        return stream

    def batch(self, kind: ModelKind) -> ModelBatch:
        """The batch of one model: what its worker thread drives."""
        if kind not in self._batches:
            self._batches[kind] = ModelBatch(self, self.models[kind], self.decode_thread)
        return self._batches[kind]

    def synthesize(self, request: SynthesisRequest, sink: AudioSink) -> None:
        """Speaks one request alone, start to end (for callers without a scheduler)."""
        batch = self.batch(self.model_kind_for(request.voice))
        handle = batch.start(request, sink)
        try:
            while handle not in batch.step():
                if sink.cancelled:
                    raise SynthesisCancelled
        finally:
            batch.cancel(handle)

    def generation_input(self, request: SynthesisRequest) -> tuple[GenerationInput, CodecStream]:
        """What the model needs for a request besides its text, and a fresh decoder state.

        It only reads what ``prepare_voice`` prepared: preparing a cloned voice (hashing its
        clip, running the speaker encoder) never runs on a model's worker thread.
        """
        voice = request.voice
        if voice.kind is VoiceKind.CLONE:
            clone = self._clones.get(voice.name)
            if clone is None:
                raise VoiceError(f"cloned voice '{voice.name}' is not prepared (was it removed?)")
            given = GenerationInput(language=request.language, clone_prompt=clone.prompt)
            return given, clone.primed_codec.fork()
        model = self.models[self.model_kind_for(voice)]
        given = GenerationInput(
            language=request.language, speaker=voice.speaker, instruct=request.instruct
        )
        return given, model.codec.new_stream()


@dataclass(eq=False)
class _Speaking:
    """One request in a model's batch: its frames, its decoder state and its sink."""

    request: SynthesisRequest
    sink: AudioSink
    utterance: Utterance
    codec: CodecStream
    budget: int
    chunk_sizes: Iterator[int]
    pending: list[torch.Tensor] = field(default_factory=list)
    frames: int = 0
    started: float = field(default_factory=time.monotonic)
    first_audio: float | None = None
    last_chunk: Future[None] | None = None
    """The decode of the chunk submitted last; done once every earlier chunk is written too."""
    dropped: bool = False
    """Cancelled or reset: nothing more is written to the sink (set under the batch's lock)."""
    error: Exception | None = None
    """What decoding one of its chunks raised (the later chunks are skipped)."""

    def __post_init__(self) -> None:
        self.target = next(self.chunk_sizes)


class ModelBatch:
    """One model's requests in flight, stepped together (``SynthesisBackend``).

    The frames' audio is decoded in chunks, on a thread of its own where that pays
    (``decode_thread.decode_thread_pays``) and while there are requests in flight: a request
    counts as active, and ``step`` reports it finished, only once its last chunk's audio is
    written.
    """

    def __init__(self, engine: Engine, model: QwenModel, decode_thread: bool | None = None) -> None:
        self._engine = engine
        self._model = model
        self._speaking: dict[Utterance, _Speaking] = {}
        self._writing: list[_Speaking] = []
        """Requests whose frames are all generated, their last chunks still being decoded."""
        self._finished_at_start: list[_Speaking] = []
        self._lock = threading.Lock()
        threaded = decode_thread_pays(model.device) if decode_thread is None else decode_thread
        self._decoder = DecodeRunner(f"codec-{model.kind}", threaded)

    @property
    def capacity(self) -> int:
        return self._model.frames.max_batch

    @property
    def active(self) -> int:
        return len(self._speaking) + len(self._writing)

    def start(self, request: SynthesisRequest, sink: AudioSink) -> _Speaking:
        given, codec = self._engine.generation_input(request)
        budget = frame_budget(request.text)
        prompt = self._model.prompt(request.text, given, budget)
        generator = None
        if self._engine.seed is not None:
            generator = torch.Generator(self._model.frames.device).manual_seed(self._engine.seed)
        utterance = self._model.frames.add(prompt, generator)
        schedule = chunk_schedule_for(self._model.device)
        speaking = _Speaking(request, sink, utterance, codec, budget, schedule)
        if utterance.finished:
            self._finished_at_start.append(speaking)
        else:
            self._speaking[utterance] = speaking
        return speaking

    def step(self) -> list[object]:
        finished: list[object] = list(self._finished_at_start)
        self._finished_at_start.clear()
        if self._speaking:
            with torch.inference_mode():
                for utterance, codes in self._model.frames.step():
                    speaking = self._speaking[utterance]
                    speaking.pending.append(codes)
                    speaking.frames += 1
                    if len(speaking.pending) >= speaking.target:
                        self._submit(speaking)
                        speaking.target = next(speaking.chunk_sizes)
                for utterance in [u for u in self._speaking if u.finished]:
                    speaking = self._speaking.pop(utterance)
                    self._submit(speaking)
                    self._writing.append(speaking)
        elif self._writing:
            # Nothing to generate: wait a little for audio, then let the worker admit requests.
            chunks = [s.last_chunk for s in self._writing if s.last_chunk is not None]
            wait(chunks, timeout=WRITING_POLL_S, return_when=FIRST_COMPLETED)
        for speaking in [*self._speaking.values(), *self._writing]:
            if speaking.error is not None:
                raise speaking.error
        for speaking in [s for s in self._writing if s.last_chunk is None or s.last_chunk.done()]:
            self._writing.remove(speaking)
            _log_spoken(speaking)
            finished.append(speaking)
        if not self.active:
            self._decoder.stop(wait=True)
        return finished

    def cancel(self, handle: object) -> None:
        assert isinstance(handle, _Speaking)
        with self._lock:
            handle.dropped = True
        if self._speaking.pop(handle.utterance, None) is not None:
            self._model.frames.remove(handle.utterance)
            _LOGGER.info("Cancelled %r after %d frames", handle.request.text[:40], handle.frames)
        elif handle in self._writing:
            self._writing.remove(handle)
        if not self.active:
            self._decoder.stop(wait=False)

    def reset(self) -> None:
        with self._lock:
            for speaking in [*self._speaking.values(), *self._writing]:
                speaking.dropped = True
        for utterance in list(self._speaking):
            self._model.frames.remove(utterance)
        self._speaking.clear()
        self._writing.clear()
        self._finished_at_start.clear()
        self._decoder.stop(wait=False)
        if self._model.frames.device.type == "cuda":
            torch.cuda.empty_cache()

    def _submit(self, speaking: _Speaking) -> None:
        """Hands the pending frames (maybe none: the request's end) to the decoder."""
        codes = torch.stack(speaking.pending) if speaking.pending else None
        speaking.pending = []
        speaking.last_chunk = self._decoder.submit(self._write_chunk, speaking, codes)

    def _write_chunk(self, speaking: _Speaking, codes: torch.Tensor | None) -> None:
        """Decodes one chunk and writes its audio (on the decoder's thread)."""
        if codes is None or speaking.dropped or speaking.error or speaking.sink.cancelled:
            return
        try:
            pcm = float_to_pcm16(speaking.codec.decode(codes).cpu().numpy())
            with self._lock:
                if speaking.dropped:
                    return
                speaking.sink.write(pcm)
        except Exception as err:  # noqa: BLE001 - raised by the next step, on the worker's thread
            speaking.error = err
            return
        if speaking.first_audio is None:
            speaking.first_audio = time.monotonic() - speaking.started


def _log_spoken(speaking: _Speaking) -> None:
    _LOGGER.debug(
        "Spoke %r as %s: %d frames (budget %d, %.2f s of audio) in %.2f s, first audio after %.3f s",
        speaking.request.text[:40],
        speaking.request.voice.name,
        speaking.frames,
        speaking.budget,
        speaking.frames / FRAME_RATE,
        time.monotonic() - speaking.started,
        speaking.first_audio or 0.0,
    )
