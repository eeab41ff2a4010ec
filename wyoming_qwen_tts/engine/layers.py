"""Upstream's decoder layers as plain tensor operations on upstream's own weights.

Calling the upstream modules costs more in Python (module dispatch, decorators, attention
registries) than the tiny per-frame tensors cost to compute: the code predictor runs 15 times per
frame. This runs the same operations, in the same order and on the same weights, so the results
are bitwise those of the modules, without the dispatch. Rotary tables are computed once per
position with upstream's rotary module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from wyoming_qwen_tts.engine.kv_cache import StaticKVCache


def rms_norm(hidden: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Upstream's RMSNorm: normalize in float32, then scale in the input dtype."""
    if hidden.dtype == torch.float32 and weight.dim() == 1:
        return F.rms_norm(hidden, weight.shape, weight, eps)
    normed = F.rms_norm(hidden.to(torch.float32), weight.shape[-1:], eps=eps)
    return weight * normed.to(hidden.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


@dataclass(frozen=True)
class _Layer:
    input_norm: torch.Tensor
    post_norm: torch.Tensor
    qkv: Projection
    qk_norm: torch.Tensor
    """[q_heads + kv_heads, head_dim]: q_norm's weight per query head, k_norm's per key head."""
    o_proj: Projection
    gate_up: Projection
    down_proj: Projection
    act: Callable[[torch.Tensor], torch.Tensor]


Projection = Callable[[torch.Tensor], torch.Tensor]


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear``, except for a decode step of a few rows on the CPU.

    There the BLAS treats 3-16 rows as a matrix product and repacks the whole weight matrix on
    every call, doubling the memory traffic that sets the speed; multiplying the weights by the
    transposed input streams them once. A lone request's steps and every prompt take
    ``F.linear``, as upstream does, so a lone request stays bitwise upstream's.
    """
    rows = x.shape[0]
    if x.device.type != "cpu" or x.dim() != 3 or x.shape[1] != 1 or not 3 <= rows <= 16:
        return F.linear(x, weight, bias)
    out = torch.mm(weight, x.reshape(rows, -1).T).T
    if bias is not None:
        out = out + bias
    return out.reshape(rows, 1, -1)


def fused_linear(modules: list[nn.Linear]) -> Projection:
    """One product for ``modules`` side by side (their outputs concatenated), through ``linear``."""
    if len(modules) == 1:
        return partial(linear, weight=modules[0].weight, bias=modules[0].bias)
    return partial(linear, weight=_fuse(modules, "weight"), bias=_fuse(modules, "bias"))


ProjectionMaker = Callable[[list[nn.Linear]], Projection]
"""Makes one projection of linear modules side by side: ``fused_linear``, or quantized ones
(``quantize.Quantizer.fused``)."""


def _fuse(modules: list[nn.Linear], attribute: str) -> torch.Tensor | None:
    """Concatenates the modules' weights (or biases) and makes each module's a view into it.

    One matrix product instead of several gives bitwise the same outputs here, and sharing the
    storage keeps the upstream modules working without doubling their memory.
    """
    parts = [getattr(module, attribute) for module in modules]
    if any(part is None for part in parts):
        return None
    fused = torch.cat([part.detach() for part in parts])
    offset = 0
    for module, part in zip(modules, parts, strict=True):
        setattr(module, attribute, nn.Parameter(fused[offset : offset + part.shape[0]], requires_grad=False))
        offset += part.shape[0]
    return fused


class DecoderStack:
    """The layers and final norm of an upstream talker or code-predictor model."""

    def __init__(self, model: nn.Module, *, project: ProjectionMaker = fused_linear) -> None:
        """``project`` makes the layers' projections from upstream's linear modules."""
        config = model.config
        self.eps = config.rms_norm_eps
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.q_heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.kv_groups = self.q_heads // self.kv_heads
        self.scaling = self.head_dim**-0.5
        self.final_norm = model.norm.weight
        self.layers = []
        for layer in model.layers:
            attention, mlp = layer.self_attn, layer.mlp
            qk_norm = torch.cat(
                [
                    attention.q_norm.weight.detach().expand(self.q_heads, -1),
                    attention.k_norm.weight.detach().expand(self.kv_heads, -1),
                ]
            )
            self.layers.append(
                _Layer(
                    input_norm=layer.input_layernorm.weight,
                    post_norm=layer.post_attention_layernorm.weight,
                    qkv=project([attention.q_proj, attention.k_proj, attention.v_proj]),
                    qk_norm=qk_norm,
                    o_proj=project([attention.o_proj]),
                    gate_up=project([mlp.gate_proj, mlp.up_proj]),
                    down_proj=project([mlp.down_proj]),
                    act=mlp.act_fn,
                )
            )

    def forward(
        self,
        hidden: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: StaticKVCache,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``hidden`` [rows, queries, hidden]; ``cos``/``sin`` [rows or 1, queries, 1, head_dim]."""
        rows, queries = hidden.shape[:2]
        qk_heads = self.q_heads + self.kv_heads
        for index, layer in enumerate(self.layers):
            residual = hidden
            normed = rms_norm(hidden, layer.input_norm, self.eps)
            qkv = layer.qkv(normed).view(rows, queries, -1, self.head_dim)
            qk = rms_norm(qkv[:, :, :qk_heads], layer.qk_norm, self.eps)
            qk = (qk * cos) + (_rotate_half(qk) * sin)
            query = qk[:, :, : self.q_heads].transpose(1, 2)
            key = qk[:, :, self.q_heads :].transpose(1, 2)
            value = qkv[:, :, qk_heads:].transpose(1, 2)
            key, value = cache.update(key, value, index)
            attended = self._attention(query, key, value, attention_mask)
            attended = attended.reshape(rows, queries, -1).contiguous()
            hidden = residual + layer.o_proj(attended)
            residual = hidden
            normed = rms_norm(hidden, layer.post_norm, self.eps)
            gate, up = layer.gate_up(normed).chunk(2, dim=-1)
            hidden = residual + layer.down_proj(layer.act(gate) * up)
        return rms_norm(hidden, self.final_norm, self.eps)

    def _attention(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        # As transformers' sdpa integration: grouped-query attention natively without a mask,
        # repeated key/value heads with one.
        if attention_mask is None:
            out = F.scaled_dot_product_attention(
                query, key, value, dropout_p=0.0, scale=self.scaling,
                is_causal=query.shape[2] > 1, enable_gqa=self.kv_groups > 1,
            )  # fmt: skip
        else:
            out = F.scaled_dot_product_attention(
                query, _repeat_kv(key, self.kv_groups), _repeat_kv(value, self.kv_groups),
                attn_mask=attention_mask, dropout_p=0.0, scale=self.scaling, is_causal=False,
            )  # fmt: skip
        return out.transpose(1, 2).contiguous()


def _repeat_kv(states: torch.Tensor, groups: int) -> torch.Tensor:
    if groups == 1:
        return states
    batch, heads, length, dim = states.shape
    expanded = states[:, :, None, :, :].expand(batch, heads, groups, length, dim)
    return expanded.reshape(batch, heads * groups, length, dim)


class RotaryTable:
    """cos/sin for each position, from an upstream rotary module, grown on demand."""

    def __init__(self, rotary: nn.Module, *, multimodal: bool, dtype: torch.dtype) -> None:
        self._rotary = rotary
        self._multimodal = multimodal
        self._dtype = dtype
        self.cos = torch.empty(0)
        self.sin = torch.empty(0)

    def ensure(self, positions: int) -> None:
        if positions <= self.cos.shape[0]:
            return
        size = max(positions, 2 * self.cos.shape[0], 64)
        device = self._rotary.inv_freq.device
        ids = torch.arange(size, device=device).unsqueeze(0)
        probe = torch.empty(0, dtype=self._dtype, device=device)
        if self._multimodal:
            # Text positions are equal in all three mrope sections, so any section's table is the
            # table the sections would be assembled from.
            cos, sin = self._rotary(probe, ids.unsqueeze(0).expand(3, -1, -1))
            cos, sin = cos[0], sin[0]
        else:
            cos, sin = self._rotary(probe, ids)
        self.cos, self.sin = cos[0], sin[0]

    def lookup(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tables for integer ``positions`` [rows, queries] -> [rows, queries, 1, head_dim]."""
        return self.cos[positions].unsqueeze(2), self.sin[positions].unsqueeze(2)
