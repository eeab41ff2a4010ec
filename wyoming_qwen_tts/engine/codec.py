"""Incremental decoding of 12 Hz codec frames into PCM, equal to the full decode.

The Qwen3-TTS 12 Hz decoder is causal end to end: stride-1 causal convolutions, transposed
convolutions whose overlap is trimmed on the right, and a transformer with sliding-window
attention. So the waveform of frame ``t`` depends only on frames ``<= t``, and the decoder can run
one chunk at a time if every layer keeps what it needs from the previous chunk:

- a causal convolution keeps its last ``padding`` input samples (upstream pads with zeros at the
  start, which is the state before the first chunk);
- a transposed convolution keeps its last input frames, whose overlap reaches into the next chunk;
- the transformer keeps a sliding-window KV cache.

Each frame is decoded once. The state is injected with forward hooks on upstream's own modules,
so upstream's ``forward`` code runs unchanged; hooks do nothing while no stream is decoding.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class _StreamState:
    carried: dict[nn.Module, torch.Tensor] = field(default_factory=dict)
    dropped_frames: dict[nn.Module, int] = field(default_factory=dict)
    kv_cache: Any = None


class StreamingCodecDecoder:
    """Wraps one upstream ``Qwen3TTSTokenizerV2Decoder``; one stream decodes at a time.

    Thread-safe: the hooks keep the decoding stream's state on this object, so a lock lets one
    chunk decode at a time (the model's worker streams speech while another thread primes a
    newly added cloned voice).
    """

    def __init__(self, decoder: nn.Module) -> None:
        self._decoder = decoder
        self._active: _StreamState | None = None
        self._lock = threading.Lock()
        conv_cls, trans_cls = _causal_conv_classes()
        for module in decoder.modules():
            if isinstance(module, conv_cls):
                if module.stride != 1:
                    raise ValueError("streaming decode needs stride-1 causal convolutions")
                module.register_forward_pre_hook(self._conv_pre_hook)
                module.register_forward_hook(self._conv_hook)
            elif isinstance(module, trans_cls):
                module.register_forward_pre_hook(self._trans_pre_hook)
                module.register_forward_hook(self._trans_hook)
        decoder.pre_transformer.register_forward_pre_hook(self._transformer_pre_hook, with_kwargs=True)

    def new_stream(self) -> CodecStream:
        return CodecStream(self)

    @torch.inference_mode()
    def decode_into(self, state: _StreamState, codes: torch.Tensor) -> torch.Tensor:
        """Decodes ``codes`` [frames, quantizers] continuing ``state``; returns float32 samples."""
        if state.kv_cache is None:
            from transformers.cache_utils import DynamicCache

            state.kv_cache = DynamicCache(config=self._decoder.pre_transformer.config)
        device = next(self._decoder.parameters()).device
        codes = codes.to(device).clamp(min=0).transpose(0, 1).unsqueeze(0)
        with self._lock:
            self._active = state
            try:
                wav = self._decoder(codes)
            finally:
                self._active = None
        return wav.reshape(-1).float()

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
        self._active.carried[module] = joined[..., -module.padding :]
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
        self._active.carried[module] = joined[..., -keep:]
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

    def __init__(self, codec: StreamingCodecDecoder) -> None:
        self._codec = codec
        self._state = _StreamState()

    def fork(self) -> CodecStream:
        """An independent copy that continues from this stream's current state."""
        copy = CodecStream(self._codec)
        # Hooks replace carried tensors and never write into them, so sharing them is safe.
        copy._state = _StreamState(
            carried=dict(self._state.carried),
            kv_cache=deepcopy(self._state.kv_cache),
        )
        return copy

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


def chunk_schedule(first: int = 2, growth: float = 2.0, largest: int = 32) -> Iterable[int]:
    """Frames per decoded chunk: small first for fast audio, then larger for throughput.

    On a GPU a decode call costs about the same for 2 or 16 frames (its kernels are launch-bound),
    so late chunks are large: 32 frames is 2.6 s of audio, generated in a fraction of that.
    """
    size = float(first)
    while True:
        yield int(size)
        size = min(float(largest), math.ceil(size * growth))


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
