"""The codec decoder's waveform stage (``decoder.decoder``), computed one chunk at a time.

This stage turns the upsampled latents (4 per frame) into samples (1920 per frame): a causal
convolution, four blocks of SnakeBeta + transposed convolution + three dilated residual units, a
last SnakeBeta and a causal convolution. It is about 95 % of the codec's arithmetic, so it runs
here rather than through upstream's modules, reading their weights:

- a causal convolution is fed its carried input tail and the chunk, without upstream's extra zero
  padding (which it would compute and then throw away);
- a transposed convolution (kernel twice its stride) is one matrix product; each input frame's
  second half of taps overlaps the next frame's outputs, so that half is carried;
- SnakeBeta runs in place with constants computed once, the same operations in the same order as
  upstream, so its results are bit-identical.

In float32 every value differs from upstream's only by summation order (far below the 1e-4 the
tests allow). With ``compute_dtype=torch.bfloat16`` the products take bfloat16 operands (AMX or
AVX512-BF16 on recent x86 CPUs), which is several times faster and no longer equal to upstream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

Carried = dict[nn.Module, torch.Tensor]
"""What a stream carries from one chunk to the next, by the upstream module it belongs to."""

_Op = Callable[[torch.Tensor, Carried], torch.Tensor]


class Waveform:
    """The streaming version of upstream's ``decoder.decoder`` (a ``ModuleList``)."""

    def __init__(self, stage: nn.ModuleList, compute_dtype: torch.dtype = torch.float32) -> None:
        self._ops: list[_Op] = []
        for module in stage:
            self._ops.extend(_ops_of(module, compute_dtype))

    @torch.inference_mode()
    def __call__(self, latents: torch.Tensor, carried: Carried) -> torch.Tensor:
        """``latents`` [channels, positions] of one chunk; returns [1, samples] (not clamped)."""
        x = latents
        for op in self._ops:
            x = op(x, carried)
        return x


def _ops_of(module: nn.Module, compute_dtype: torch.dtype) -> list[_Op]:
    name = type(module).__name__
    if name == "Qwen3TTSTokenizerV2CausalConvNet":
        return [_CausalConv(module, compute_dtype)]
    if name == "Qwen3TTSTokenizerV2CausalTransConvNet":
        return [_TransConv(module, compute_dtype)]
    if name == "SnakeBeta":
        return [_Snake(module)]
    if name == "Qwen3TTSTokenizerV2DecoderDecoderResidualUnit":
        return [_Residual(module, compute_dtype)]
    if name == "Qwen3TTSTokenizerV2DecoderDecoderBlock":
        return [op for block in module.block for op in _ops_of(block, compute_dtype)]
    raise TypeError(f"the codec's waveform stage holds an unknown module: {name}")


class _Snake:
    """``x + 1 / (exp(beta) + 1e-9) * sin(x * exp(alpha)) ** 2``, per channel."""

    def __init__(self, module: Any) -> None:
        alpha = torch.exp(module.alpha.detach().float()).unsqueeze(-1)
        beta = torch.exp(module.beta.detach().float()).unsqueeze(-1)
        self.alpha = alpha
        self.inverse_beta = 1.0 / (beta + module.no_div_by_zero)

    def __call__(self, x: torch.Tensor, carried: Carried) -> torch.Tensor:
        y = x * self.alpha
        y.sin_()
        y.mul_(y)
        y.mul_(self.inverse_beta)
        return y.add_(x)


class _CausalConv:
    """A stride-1 causal convolution: its output for the chunk's positions, given what it carries
    (upstream pads ``padding`` zeros on the left, the state before the first chunk)."""

    def __init__(self, module: Any, compute_dtype: torch.dtype) -> None:
        conv: nn.Conv1d = module.conv
        if module.stride != 1 or conv.groups != 1:
            raise ValueError("the waveform stage needs stride-1, ungrouped causal convolutions")
        self.key: nn.Module = module
        self.padding: int = module.padding
        self.dilation: int = conv.dilation[0]
        self.dtype = compute_dtype
        weight = conv.weight.detach().to(compute_dtype)
        bias = conv.bias.detach()
        self.pointwise = conv.kernel_size[0] == 1
        if self.pointwise:
            self.weight = weight[:, :, 0]
            self.bias = bias.to(compute_dtype).unsqueeze(-1)
        else:
            self.weight = weight
            self.bias = bias.to(compute_dtype)

    def __call__(self, x: torch.Tensor, carried: Carried) -> torch.Tensor:
        if self.pointwise:
            return torch.addmm(self.bias, self.weight, x.to(self.dtype)).float()
        previous = carried.get(self.key)
        if previous is None:
            previous = x.new_zeros(x.shape[0], self.padding)
        joined = torch.cat([previous, x], dim=-1)
        carried[self.key] = joined[:, -self.padding :].clone()
        joined = joined.to(self.dtype).unsqueeze(0)
        return F.conv1d(joined, self.weight, self.bias, dilation=self.dilation)[0].float()


class _TransConv:
    """A transposed convolution with kernel ``2 * stride``, trimmed on the right like upstream.

    Input frame ``t`` gives ``products[t]`` [out, kernel]; output ``t * stride + j`` is
    ``products[t][j] + products[t - 1][j + stride]`` plus the bias.
    """

    def __init__(self, module: Any, compute_dtype: torch.dtype) -> None:
        conv: nn.ConvTranspose1d = module.conv
        self.key: nn.Module = module
        self.stride: int = conv.stride[0]
        kernel = conv.kernel_size[0]
        if kernel != 2 * self.stride or conv.groups != 1 or module.right_pad != self.stride:
            raise ValueError("the waveform stage needs transposed convolutions of kernel 2*stride")
        weight = conv.weight.detach()  # [in, out, kernel]
        self.out_channels = weight.shape[1]
        self.dtype = compute_dtype
        self.weight = weight.to(compute_dtype).view(weight.shape[0], -1)  # no copy in float32
        self.bias = conv.bias.detach().float()

    def __call__(self, x: torch.Tensor, carried: Carried) -> torch.Tensor:
        frames = x.shape[-1]
        products = (x.to(self.dtype).t() @ self.weight).float()
        products = products.view(frames, self.out_channels, 2, self.stride)
        head, tail = products[:, :, 0], products[:, :, 1]  # [frames, out, stride]
        previous = carried.get(self.key)
        if previous is None:
            previous = tail.new_zeros(1, self.out_channels, self.stride)
        carried[self.key] = tail[-1:].clone()
        out = head + torch.cat([previous, tail[:-1]])
        out = out.add_(self.bias.view(1, -1, 1)).permute(1, 0, 2)
        return out.reshape(self.out_channels, frames * self.stride)


class _Residual:
    """``x + conv2(snake2(conv1(snake1(x))))``."""

    def __init__(self, module: Any, compute_dtype: torch.dtype) -> None:
        self.ops = [
            _Snake(module.act1),
            _CausalConv(module.conv1, compute_dtype),
            _Snake(module.act2),
            _CausalConv(module.conv2, compute_dtype),
        ]

    def __call__(self, x: torch.Tensor, carried: Carried) -> torch.Tensor:
        y = x
        for op in self.ops:
            y = op(y, carried)
        return y.add_(x)
