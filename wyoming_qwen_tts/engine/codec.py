"""Incremental decoding of 12 Hz codec frames into PCM, equal to the full decode.

The Qwen3-TTS 12 Hz decoder is causal end to end: stride-1 causal convolutions, transposed
convolutions whose overlap is trimmed on the right, and a transformer with sliding-window
attention. So the waveform of frame ``t`` depends only on frames ``<= t``, and the decoder can run
one chunk at a time if every layer keeps what it needs from the previous chunk:

- a causal convolution keeps its last ``padding`` input samples (upstream pads with zeros at the
  start, which is the state before the first chunk);
- a transposed convolution keeps its last input frames, whose overlap reaches into the next chunk;
- the transformer keeps a sliding-window KV cache.

Each frame is decoded once. The decoder's forward runs upstream's modules in upstream's order. Up
to the waveform stage their state is injected with forward hooks, so upstream's own ``forward``
code runs; hooks do nothing while no stream is decoding. The waveform stage, nearly all of the
arithmetic, runs in ``waveform.Waveform`` from upstream's weights.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from wyoming_qwen_tts.engine.waveform import Carried, Waveform

_LOGGER = logging.getLogger(__name__)

STATE_FORMAT = 1
"""The version of ``CodecStream.state_dict``'s layout (a stored state of another is unusable)."""


@dataclass
class _StreamState:
    carried: Carried = field(default_factory=dict)
    dropped_frames: dict[nn.Module, int] = field(default_factory=dict)
    kv_cache: Any = None


class StreamingCodecDecoder:
    """Wraps one upstream ``Qwen3TTSTokenizerV2Decoder``; one stream decodes at a time.

    Thread-safe: the hooks keep the decoding stream's state on this object, so a lock lets one
    chunk decode at a time (the model's codec thread streams speech while another thread primes
    a newly added cloned voice).

    ``compute_dtype`` bfloat16 runs the waveform stage's products in bfloat16: faster on CPUs
    with AMX or AVX512-BF16, but no longer equal to upstream's decode.
    """

    def __init__(self, decoder: nn.Module, compute_dtype: torch.dtype = torch.float32) -> None:
        self._decoder = decoder
        self._active: _StreamState | None = None
        self._lock = threading.Lock()
        self.compute_dtype = compute_dtype
        self._waveform = Waveform(decoder.decoder, compute_dtype)
        if compute_dtype != torch.float32:
            _LOGGER.info(
                "The codec decodes with %s products (quantized weights, and this CPU has bfloat16 "
                "units): faster, no longer upstream's exact audio",
                str(compute_dtype).removeprefix("torch."),
            )
        self._names = {module: name for name, module in decoder.named_modules()}
        conv_cls, trans_cls = _causal_conv_classes()
        waveform_modules = set(decoder.decoder.modules())
        for module in decoder.modules():
            if module in waveform_modules:
                continue
            if isinstance(module, conv_cls):
                if module.stride != 1:
                    raise ValueError("streaming decode needs stride-1 causal convolutions")
                module.register_forward_pre_hook(self._conv_pre_hook)
                module.register_forward_hook(self._conv_hook)
            elif isinstance(module, trans_cls):
                module.register_forward_pre_hook(self._trans_pre_hook)
                module.register_forward_hook(self._trans_hook)
        decoder.pre_transformer.register_forward_pre_hook(self._transformer_pre_hook, with_kwargs=True)

    @property
    def device(self) -> torch.device:
        return next(self._decoder.parameters()).device

    @property
    def identity(self) -> str:
        """What a stream's state depends on besides the weights and the codes it decoded."""
        compute = str(self.compute_dtype).removeprefix("torch.")
        return f"codec-state={STATE_FORMAT} compute={compute}"

    def new_stream(self) -> CodecStream:
        return CodecStream(self)

    @torch.inference_mode()
    def decode_into(self, state: _StreamState, codes: torch.Tensor) -> torch.Tensor:
        """Decodes ``codes`` [frames, quantizers] continuing ``state``; returns float32 samples."""
        if state.kv_cache is None:
            state.kv_cache = self._new_kv_cache()
        decoder = self._decoder
        codes = codes.to(self.device).clamp(min=0).transpose(0, 1).unsqueeze(0)
        if codes.shape[1] != decoder.config.num_quantizers:
            raise ValueError(
                f"expected {decoder.config.num_quantizers} codes per frame, got {codes.shape[1]}"
            )
        with self._lock:
            self._active = state
            try:
                # Upstream's Qwen3TTSTokenizerV2Decoder.forward, with the waveform stage streamed.
                hidden = decoder.quantizer.decode(codes)
                hidden = decoder.pre_conv(hidden).transpose(1, 2)
                hidden = decoder.pre_transformer(inputs_embeds=hidden).last_hidden_state
                hidden = hidden.permute(0, 2, 1)
                for blocks in decoder.upsample:
                    for block in blocks:
                        hidden = block(hidden)
                wav = self._waveform(hidden[0], state.carried)
            finally:
                self._active = None
        return wav.clamp(min=-1, max=1).reshape(-1).float()

    def state_dict(self, state: _StreamState) -> dict[str, Any]:
        """``state`` as plain tensors and numbers (``torch.save``-able, loadable without code)."""
        layers = [] if state.kv_cache is None else list(state.kv_cache.layers)
        if not all(layer.is_initialized for layer in layers):  # nothing decoded yet
            layers = []
        # Compact copies: a cached tensor may be a view into a far larger one.
        return {
            "format": STATE_FORMAT,
            "carried": {self._names[m]: t.detach().cpu().clone() for m, t in state.carried.items()},
            "keys": [layer.keys.detach().cpu().clone() for layer in layers],
            "values": [layer.values.detach().cpu().clone() for layer in layers],
            "lengths": [int(layer.cumulative_length) for layer in layers],
        }

    def load_state(self, data: dict[str, Any]) -> _StreamState:
        """The state ``state_dict`` described; raises ValueError if it does not fit this decoder."""
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError("not a codec state of this version")
        modules = dict(self._decoder.named_modules())
        carried = data.get("carried")
        if not isinstance(carried, dict) or not set(carried) <= set(modules):
            raise ValueError("its carried tensors name modules this decoder does not have")
        keys, values, lengths = data.get("keys"), data.get("values"), data.get("lengths")
        if not all(isinstance(x, list) for x in (keys, values, lengths)):
            raise ValueError("its KV cache is not three lists")
        kv_cache = self._new_kv_cache()
        if keys:
            if not len(keys) == len(values) == len(lengths) == len(kv_cache.layers):
                raise ValueError("its KV cache does not have one entry per transformer layer")
            for layer, k, v, length in zip(kv_cache.layers, keys, values, lengths, strict=True):
                if not (isinstance(k, torch.Tensor) and isinstance(v, torch.Tensor)):
                    raise ValueError("its KV cache holds something other than tensors")
                layer.lazy_initialization(k.to(self.device))
                layer.keys, layer.values = k.to(self.device), v.to(self.device)
                layer.cumulative_length = int(length)
        state = _StreamState(kv_cache=kv_cache)
        for name, tensor in carried.items():
            if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
                raise ValueError(f"its carried state of {name} is not a float tensor")
            state.carried[modules[name]] = tensor.to(self.device)
        return state

    def _new_kv_cache(self) -> Any:
        from transformers.cache_utils import DynamicCache

        return DynamicCache(config=self._decoder.pre_transformer.config)

    # A causal conv pads ``padding`` zeros on the left. Feeding it [carried, chunk] and dropping
    # the first ``padding`` outputs gives exactly the outputs of the chunk within the whole signal.
    def _conv_pre_hook(self, module: nn.Module, args: tuple[torch.Tensor]) -> Any:
        if self._active is None or module.padding == 0:
            return None
        x = args[0]
        carried = self._active.carried.get(module)
        if carried is None:
            carried = x.new_zeros(x.shape[0], x.shape[1], module.padding)
        joined = torch.cat([carried, x], dim=-1)
        self._active.carried[module] = joined[..., -module.padding :].clone()
        return (joined,)

    def _conv_hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> Any:
        if self._active is None or module.padding == 0:
            return None
        return output[..., module.padding :]

    # A transposed conv's input frame t writes outputs [t*s, t*s + k); the right trim keeps
    # T*s outputs. Prepending the previous ceil((k - s) / s) input frames restores the overlap
    # they add to this chunk's first outputs; their own outputs are dropped.
    def _trans_pre_hook(self, module: nn.Module, args: tuple[torch.Tensor]) -> Any:
        if self._active is None:
            return None
        x = args[0]
        keep = _trans_context(module)
        carried = self._active.carried.get(module)
        joined = x if carried is None else torch.cat([carried, x], dim=-1)
        self._active.carried[module] = joined[..., -keep:].clone()
        self._active.dropped_frames[module] = joined.shape[-1] - x.shape[-1]
        return (joined,)

    def _trans_hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> Any:
        if self._active is None:
            return None
        dropped = self._active.dropped_frames[module]
        return output[..., dropped * module.conv.stride[0] :]

    def _transformer_pre_hook(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if self._active is None:
            return None
        kwargs = dict(kwargs, past_key_values=self._active.kv_cache, use_cache=True)
        return args, kwargs


class CodecStream:
    """The decoder state of one utterance: feed frames, get the samples they complete."""

    def __init__(self, codec: StreamingCodecDecoder, state: _StreamState | None = None) -> None:
        self._codec = codec
        self._state = state or _StreamState()

    def fork(self) -> CodecStream:
        """An independent copy that continues from this stream's current state."""
        # Decoding replaces carried tensors and never writes into them, so sharing them is safe.
        state = _StreamState(
            carried=dict(self._state.carried), kv_cache=deepcopy(self._state.kv_cache)
        )
        return CodecStream(self._codec, state)

    def prime(self, codes: torch.Tensor, chunk: int = 16) -> None:
        """Decodes ``codes`` as left context (a clone's reference) without returning audio.

        In chunks of ``chunk`` frames, so that a stream speaking meanwhile waits for one chunk at
        most (the decode is causal: chunking does not change the state it leaves).
        """
        for start in range(0, codes.shape[0], chunk):
            self.decode(codes[start : start + chunk])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Decodes ``codes`` [frames, quantizers]; returns 1920 samples per frame."""
        return self._codec.decode_into(self._state, codes)

    def state_dict(self) -> dict[str, Any]:
        """This stream's state as plain data (see ``StreamingCodecDecoder.state_dict``)."""
        return self._codec.state_dict(self._state)

    @classmethod
    def from_state_dict(cls, codec: StreamingCodecDecoder, data: dict[str, Any]) -> CodecStream:
        """A stream continuing from ``state_dict``'s ``data``; raises ValueError if unusable."""
        return cls(codec, codec.load_state(data))


def chunk_schedule(first: int = 2, growth: float = 2.0, largest: int = 32) -> Iterator[int]:
    """Frames per decoded chunk: small first for fast audio, then larger for throughput."""
    size = float(first)
    while True:
        yield int(size)
        size = min(float(largest), math.ceil(size * growth))


def compute_dtype_for(device: str, quantized: bool) -> torch.dtype:
    """bfloat16 products for the codec with quantized weights on a CPU that has bfloat16 units
    (AMX or AVX512-BF16): about 1.8x faster there, and no longer upstream's decode (34.7 dB SNR
    against it on the real-size random-weight codec); else float32, equal to upstream's."""
    if device != "cpu" or not quantized:
        return torch.float32
    if torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported():
        return torch.bfloat16
    return torch.float32


CPU_LARGEST_CHUNK = 16


def chunk_schedule_for(device: torch.device) -> Iterator[int]:
    """The chunk schedule for a codec on ``device``.

    On a GPU a decode call costs about the same for 2 or 32 frames (its kernels are launch-bound),
    so late chunks are large: 32 frames is 2.6 s of audio, generated in a fraction of that. On a
    CPU a call costs a fixed part (reading the weights: 200 MB in float32) plus a part per frame;
    past 16 frames the fixed part is amortized (within a few percent per frame, measured on the
    real-size codec), and a larger chunk only makes the audio arrive in longer bursts.
    """
    return chunk_schedule(largest=CPU_LARGEST_CHUNK if device.type == "cpu" else 32)


def _trans_context(module: nn.Module) -> int:
    kernel = module.conv.kernel_size[0]
    stride = module.conv.stride[0]
    return max(1, math.ceil((kernel - stride) / stride))


def _causal_conv_classes() -> tuple[type, type]:
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2CausalConvNet,
        Qwen3TTSTokenizerV2CausalTransConvNet,
    )

    return Qwen3TTSTokenizerV2CausalConvNet, Qwen3TTSTokenizerV2CausalTransConvNet
