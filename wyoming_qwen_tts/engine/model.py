"""One loaded Qwen3-TTS checkpoint: loading, voice prompts, and frame-by-frame generation."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wyoming_qwen_tts.engine.codec import StreamingCodecDecoder, compute_dtype_for
from wyoming_qwen_tts.engine.compat import import_qwen_tts
from wyoming_qwen_tts.engine.cuda_graphs import CudaGraphs
from wyoming_qwen_tts.engine.frames import FrameLoop, Prompt, capture_prompt
from wyoming_qwen_tts.engine.interface import LoadOptions, ModelKind, ModelLoadError
from wyoming_qwen_tts.engine.memory import (
    TEXT_EMBEDDING,
    codec_files_digest,
    drop_codec_encoder,
    release_freed_memory,
    slim_text_embedding,
)
from wyoming_qwen_tts.engine.quantize import Kernels, Quantizer, cache_file, check_kernels
from wyoming_qwen_tts.engine.sampling import SamplingParams

_LOGGER = logging.getLogger(__name__)

@dataclass(frozen=True)
class GenerationInput:
    """What one utterance needs besides its text, in the model's own terms."""

    language: str | None = None
    speaker: str | None = None
    instruct: str | None = None
    clone_prompt: Any = None
    """A ``qwen_tts.VoiceClonePromptItem``, for Base checkpoints."""


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda:0"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """bf16 on accelerators (fp16 logits overflow in this model), fp32 on CPU."""
    if dtype == "auto":
        return torch.float32 if device == "cpu" else torch.bfloat16
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in table:
        raise ModelLoadError(f"dtype '{dtype}' is not supported; use auto, {', '.join(table)}")
    return table[dtype]


class QwenModel:
    """A ``qwen_tts.Qwen3TTSModel`` plus a streaming decoder for its codec.

    Not thread-safe: the talker keeps per-call state, so one thread uses an instance at a time.
    """

    def __init__(
        self,
        wrapper: Any,
        source: str,
        max_batch: int = 1,
        quantizer: Quantizer | None = None,
        weights: str = "",
        codec: SharedCodec | None = None,
    ) -> None:
        """``codec``: the codec this checkpoint shares with others (``share_codec``); None: its
        own."""
        self.wrapper = wrapper
        self.source = source
        self.weights = weights
        """What identifies the checkpoint's files (see ``weights_fingerprint``); "" if unknown."""
        self.kind = ModelKind(wrapper.model.tts_model_type)
        self._shared_codec = codec or SharedCodec(wrapper.model.speech_tokenizer)
        self.codec = self._shared_codec.decoder
        self.frames = FrameLoop(wrapper.model, max_batch=max_batch, quantizer=quantizer)

    @classmethod
    def load(cls, source: str, options: LoadOptions) -> QwenModel:
        qwen_tts = import_qwen_tts()
        device = resolve_device(options.device)
        dtype = resolve_dtype(options.dtype, device)
        kernels = None
        if options.quantize != "none":
            if device != "cpu":
                raise ModelLoadError(
                    f"--quantize {options.quantize}: quantized weights are for the CPU; on a GPU "
                    f"({device}) use --quantize none"
                )
            kernels = check_kernels(options.quantize)
        _LOGGER.info("Loading %s on %s as %s", source, device, str(dtype).removeprefix("torch."))
        started = time.monotonic()
        kwargs: dict[str, Any] = {
            "device_map": device,
            "dtype": dtype,
            "attn_implementation": "sdpa",
            "local_files_only": options.local_files_only,
        }
        if options.cache_dir is not None:
            kwargs["cache_dir"] = str(options.cache_dir)
        try:
            with download_progress(source, options):
                wrapper = qwen_tts.Qwen3TTSModel.from_pretrained(source, **kwargs)
        except Exception as err:  # noqa: BLE001 - HF raises many types; all mean "cannot load"
            hint = (
                "it is not in the local cache and --local-files-only is set"
                if options.local_files_only
                else "check the Hugging Face id or folder, and the network"
            )
            raise ModelLoadError(f"cannot load model '{source}': {err} ({hint})") from err
        wrapper.model.eval()
        if device != "cpu":
            wrapper.model.speech_tokenizer.model.float()  # a bf16 codec gave NaN/silence elsewhere
        weights_file = _weights_file(source, options)
        slim_text_embedding(wrapper.model.talker, weights_file, rounding_allowed=kernels is not None)
        codec = share_codec(wrapper, source, options, device)
        weights = weights_fingerprint(source, options)
        quantizer = None
        if kernels is not None:
            quantizer = _quantizer(wrapper.model.talker, source, weights, options, kernels)
        model = cls(wrapper, source, options.max_batch, quantizer, weights, codec)
        if device.startswith("cuda") and options.cuda_graphs:
            model.frames.graphs = _capture_graphs(model.frames, model.subtalker_params())
        release_freed_memory()  # the float weights that fused or quantized layers replaced
        _LOGGER.info(
            "Loaded %s (%s, %s) in %.1f s",
            source,
            model.kind,
            wrapper.model.tts_model_size,
            time.monotonic() - started,
        )
        return model

    @property
    def speakers(self) -> list[str]:
        return sorted(str(s).lower() for s in self.wrapper.model.get_supported_speakers())

    @property
    def follows_instructions(self) -> bool:
        """Only 1.7B CustomVoice and VoiceDesign checkpoints follow instructions.

        qwen-tts 0.1.1's ``generate_custom_voice`` drops the instruction of a 0.6B checkpoint,
        and ``generate_voice_clone`` (Base) takes none at all.
        """
        if self.kind is ModelKind.VOICE_DESIGN:
            return True
        return self.kind is ModelKind.CUSTOM_VOICE and self.wrapper.model.tts_model_size != "0b6"

    @property
    def device(self) -> torch.device:
        return next(self.wrapper.model.parameters()).device

    @property
    def identity(self) -> str:
        """Everything about this model that a clone prompt depends on (the prompt cache's key)."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            code = version("qwen-tts")
        except PackageNotFoundError:  # run from a source checkout
            code = "unknown"
        model = self.wrapper.model
        return " ".join(
            [
                f"source={self.source}",
                f"weights={self.weights}",
                f"kind={self.kind}",
                f"size={model.tts_model_size}",
                f"device={self.device.type}",
                f"dtype={next(model.parameters()).dtype}",
                f"qwen-tts={code}",
            ]
        )

    def prompt_item_class(self) -> type:
        """``qwen_tts.VoiceClonePromptItem``, the class of ``clone_prompt``'s result."""
        return import_qwen_tts().VoiceClonePromptItem

    def subtalker_params(self) -> SamplingParams:
        """The code predictor's sampling settings from the checkpoint's generation config."""
        return SamplingParams.subtalker(self.wrapper._merge_generate_kwargs())

    def clone_prompt(self, audio: np.ndarray, sample_rate: int, transcript: str | None) -> Any:
        """A voice-clone prompt (ICL when a transcript is given, else x-vector only)."""
        items = self.wrapper.create_voice_clone_prompt(
            ref_audio=(audio, sample_rate),
            ref_text=transcript,
            x_vector_only_mode=transcript is None,
        )
        return items[0]

    def prompt(self, text: str, given: GenerationInput, max_frames: int) -> Prompt:
        """Upstream's talker prompt for ``text``, built by upstream's own ``generate``."""
        with torch.inference_mode():
            return capture_prompt(self.wrapper.model, self._generate_kwargs(text, given, max_frames))

    def _generate_kwargs(self, text: str, given: GenerationInput, max_frames: int) -> dict[str, Any]:
        """The arguments ``qwen_tts``' own ``generate_*`` would pass to the model for one text."""
        w = self.wrapper
        kwargs: dict[str, Any] = w._merge_generate_kwargs(max_new_tokens=max_frames)
        kwargs["input_ids"] = w._tokenize_texts([w._build_assistant_text(text)])
        kwargs["languages"] = [given.language or "Auto"]
        if self.kind is ModelKind.BASE:
            if given.clone_prompt is None:
                raise ValueError("a Base checkpoint needs a voice-clone prompt")
            item = given.clone_prompt
            kwargs["voice_clone_prompt"] = w._prompt_items_to_voice_clone_prompt([item])
            kwargs["ref_ids"] = [
                w._tokenize_texts([w._build_ref_text(item.ref_text)])[0] if item.ref_text else None
            ]
            kwargs["non_streaming_mode"] = False
            return kwargs
        instruct = given.instruct if self.follows_instructions else None
        kwargs["instruct_ids"] = [
            w._tokenize_texts([w._build_instruct_text(instruct)])[0] if instruct else None
        ]
        kwargs["non_streaming_mode"] = True
        if self.kind is ModelKind.CUSTOM_VOICE:
            kwargs["speakers"] = [given.speaker]
        return kwargs


class SharedCodec:
    """A speech tokenizer (the codec) and its streaming decoder, held by every loaded checkpoint
    whose codec files are identical; it is freed with the last of them."""

    def __init__(self, speech_tokenizer: Any, compute_dtype: torch.dtype = torch.float32) -> None:
        self.speech_tokenizer = speech_tokenizer
        self.decoder = StreamingCodecDecoder(speech_tokenizer.model.decoder, compute_dtype)
        self.encodes = False
        """Whether a Base checkpoint holds it: only Base encodes audio (its clone references)."""


_CODECS: weakref.WeakValueDictionary[str, SharedCodec] = weakref.WeakValueDictionary()
_CODECS_LOCK = threading.Lock()


def share_codec(wrapper: Any, source: str, options: LoadOptions, device: str) -> SharedCodec:
    """The codec for a newly loaded checkpoint: that of a loaded checkpoint with identical codec
    files where there is one (``wrapper``'s own is then freed), else its own. The codec's encoder
    is freed while no Base checkpoint holds it."""
    model = wrapper.model
    own = model.speech_tokenizer
    encodes = ModelKind(model.tts_model_type) is ModelKind.BASE
    config = _checkpoint_file(source, options, "speech_tokenizer/config.json")
    digest = codec_files_digest(config.parent) if config is not None else ""
    dtype = next(own.model.parameters()).dtype
    compute = compute_dtype_for(device, options.quantize != "none")
    key = f"{digest} {device} {dtype} {compute}"
    with _CODECS_LOCK:
        shared = _CODECS.get(key) if digest else None
        if shared is None:
            shared = SharedCodec(own, compute)
            if digest:
                _CODECS[key] = shared
        else:
            _LOGGER.info("%s has the same codec as a loaded checkpoint: they share it", source)
            if encodes and shared.speech_tokenizer.model.encoder is None:
                shared.speech_tokenizer.model.encoder = own.model.encoder
            model.speech_tokenizer = shared.speech_tokenizer
            del own
            release_freed_memory()
        shared.encodes |= encodes
        if not shared.encodes:
            drop_codec_encoder(shared.speech_tokenizer)
    return shared


def _checkpoint_file(source: str, options: LoadOptions, name: str) -> Path | None:
    """A file of a checkpoint (a local folder, or a Hub id's cached snapshot); None where it is
    not found."""
    folder = Path(source)
    if folder.is_dir():
        return folder / name if (folder / name).is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(source, name, cache_dir=options.cache_dir)
    except Exception:  # noqa: BLE001 - an unusual cache only costs memory
        return None
    return Path(path) if isinstance(path, str) else None


def _weights_file(source: str, options: LoadOptions) -> Path | None:
    """The checkpoint's weight file that holds the text embedding."""
    index = _checkpoint_file(source, options, "model.safetensors.index.json")
    if index is None:
        return _checkpoint_file(source, options, "model.safetensors")
    try:
        name = json.loads(index.read_text())["weight_map"][TEXT_EMBEDDING]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _checkpoint_file(source, options, name)


def _quantizer(
    talker: Any, source: str, weights: str, options: LoadOptions, kernels: Kernels
) -> Quantizer:
    _LOGGER.warning(
        "--quantize %s: the talker's and code predictor's weights are quantized, so the speech "
        "is no longer upstream's exact output",
        options.quantize,
    )
    if not kernels.vectorized:
        _LOGGER.warning(
            "torch has no vectorized kernel for quantized weights on this CPU (%s): --quantize "
            "%s is likely slower here than --quantize none",
            kernels.capability,
            options.quantize,
        )
    folder = options.quantized_cache_dir
    path = cache_file(folder, source, weights, options.quantize, kernels) if folder else None
    return Quantizer(options.quantize, kernels, talker, path)


CUDA_GRAPH_SLOTS = 2048
"""Talker cache slots the CUDA graphs are captured over: the longest sentence they can speak."""


@torch.inference_mode()
def _capture_graphs(frames: FrameLoop, params: SamplingParams) -> CudaGraphs:
    """Captures ``frames``' per-frame steps as CUDA graphs; ``params`` are the code predictor's
    sampling settings they bake in (steps with other settings run eagerly)."""
    frames.talker_cache.ensure_slots(CUDA_GRAPH_SLOTS)
    slots = frames.talker_cache.slots
    frames.talker_rotary.ensure(slots + 1)
    graphs = CudaGraphs(
        predict=lambda tokens, hidden: frames.predict_codebooks(tokens, hidden, params, None),
        talker=frames.talker_step_masked,
        params=params,
        max_batch=frames.max_batch,
        hidden_size=frames.talker.config.hidden_size,
        slots=slots,
        caches=frames.cache_tensors(),
        device=frames.device,
        dtype=frames.dtype,
    )
    graphs.capture()
    return graphs


def weights_fingerprint(source: str, options: LoadOptions) -> str:
    """What identifies a checkpoint's files without reading them: for a local folder, the size
    and modification time of its weight files; for a Hub id, the cached snapshot's commit."""
    folder = Path(source)
    if folder.is_dir():
        digest = hashlib.sha256()
        for path in sorted([*folder.glob("*.safetensors"), *folder.glob("*/*.safetensors")]):
            stat = path.stat()
            line = f"{path.relative_to(folder)} {stat.st_size} {stat.st_mtime_ns}\n"
            digest.update(line.encode())
        return digest.hexdigest()[:16]
    try:
        from huggingface_hub import try_to_load_from_cache

        config = try_to_load_from_cache(source, "config.json", cache_dir=options.cache_dir)
    except Exception:  # noqa: BLE001 - an unusual cache only costs recomputed prompts
        return ""
    return Path(config).parent.name if isinstance(config, str) else ""


DOWNLOAD_LOG_INTERVAL_S = 10.0


@contextlib.contextmanager
def download_progress(source: str, options: LoadOptions) -> Iterator[None]:
    """Logs how much of a Hub checkpoint has arrived, every 10 s while it grows.

    The Hub's own progress bars redraw one line with carriage returns, which a container log
    (Home Assistant's add-on log, ``docker logs``) shows as one endless line or not at all.
    """
    if options.local_files_only or Path(source).is_dir():
        yield
        return
    from huggingface_hub import constants

    cache = options.cache_dir or Path(constants.HF_HUB_CACHE)
    folder = Path(cache) / ("models--" + source.replace("/", "--"))
    stop = threading.Event()

    def watch() -> None:
        last = _folder_bytes(folder)
        while not stop.wait(DOWNLOAD_LOG_INTERVAL_S):
            size = _folder_bytes(folder)
            if size != last:
                _LOGGER.info("Downloading %s into %s: %.2f GB so far", source, cache, size / 1e9)
                last = size

    thread = threading.Thread(target=watch, name="download-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _folder_bytes(folder: Path) -> int:
    """Bytes in the files under ``folder`` (the Hub cache's blobs; its snapshots are links)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    total += os.stat(path).st_size
    return total
