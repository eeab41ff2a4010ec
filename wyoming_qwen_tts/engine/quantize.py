"""Weight-only quantized linear layers on the CPU (``--quantize int8|int4``), with torch's own
packed kernels, kept on disk so that a restart does not quantize again.

- int8: symmetric, one scale per output channel (``torch._weight_int8pack_mm``).
- int4: asymmetric, a scale and an offset per group of 128 input features, or 64 or 32 where 128
  does not divide them (``torch._convert_weight_to_int4pack_for_cpu``,
  ``torch._weight_int4pack_mm_for_cpu``).

Only the weights are quantized, so each row of a batch is computed on its own and a batched row
equals the same row alone. (``torch.ao``'s dynamic int8 quantizes a whole batch's activations
with one scale, so one room's codes would change with what the other rooms say.)

The kernels are vectorized per CPU: on x86 (AVX2, AVX-512) for bfloat16 activations only, so
there each product rounds its input to bfloat16; on Arm (NEON) for float32 too. Elsewhere they
are scalar, and slower than float weights, which the load log says.

The float weights the packed ones replace are freed. A quantized checkpoint's codes are no longer
upstream's exact output.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from wyoming_qwen_tts.engine.interface import ModelLoadError
from wyoming_qwen_tts.engine.layers import Projection, fused_linear
from wyoming_qwen_tts.engine.saving import save_atomically

_LOGGER = logging.getLogger(__name__)

SCHEMES = ("int8", "int4")
INT4_GROUPS = (128, 64, 32)
"""Input features per int4 scale, best first: the largest that divides a layer's inputs."""
FORMAT = 1
"""The layout of a cache file; a change makes older files unused."""

_ALIGNMENT = 64
"""The x86 kernels read activation rows with aligned vector loads."""


@dataclass(frozen=True)
class Kernels:
    """The packed kernels' build for this CPU, and the activations they are fast with."""

    capability: str
    """``torch.backends.cpu.get_cpu_capability()``: AVX512, AVX2, DEFAULT, ..."""
    activations: torch.dtype
    vectorized: bool

    @classmethod
    def for_this_cpu(cls) -> Kernels:
        capability = torch.backends.cpu.get_cpu_capability()
        if capability in ("AVX2", "AVX512"):
            return cls(capability, torch.bfloat16, vectorized=True)
        if platform.machine().lower() in ("aarch64", "arm64"):
            return cls(capability, torch.float32, vectorized=True)
        return cls(capability, torch.float32, vectorized=False)

    def __str__(self) -> str:
        kind = "vectorized" if self.vectorized else "scalar"
        activations = str(self.activations).removeprefix("torch.")
        return f"{self.capability} ({kind}), {activations} activations"


class QuantizedLinear(nn.Module):
    """A linear layer over packed int8 or int4 weights (see ``quantize_weight``)."""

    def __init__(
        self,
        packed: torch.Tensor,
        scales: torch.Tensor,
        bias: torch.Tensor | None,
        activations: torch.dtype,
    ) -> None:
        super().__init__()
        self.int4 = packed.dtype == torch.uint8
        self.out_features = packed.shape[0]
        self.in_features = packed.shape[1] * (2 if self.int4 else 1)
        self.group = self.in_features // scales.shape[0] if self.int4 else 0
        self.activations = activations
        self.register_buffer("packed", packed)
        self.register_buffer("scales", scales)
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(self.activations).contiguous()
        if flat.data_ptr() % _ALIGNMENT:
            flat = flat.clone()
        if self.int4:
            out = torch._weight_int4pack_mm_for_cpu(flat, self.packed, self.group, self.scales)
        else:
            out = torch._weight_int8pack_mm(flat, self.packed, self.scales)
        out = out.to(x.dtype)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        scheme = f"int4, groups of {self.group}" if self.int4 else "int8"
        return f"in_features={self.in_features}, out_features={self.out_features}, {scheme}"


def int4_group(in_features: int) -> int | None:
    return next((group for group in INT4_GROUPS if in_features % group == 0), None)


def packable(scheme: str, out_features: int, in_features: int) -> bool:
    """Whether the kernels take a weight of this shape (int8: inputs by 16, the vector step;
    int4: outputs by 16 and inputs by a group size)."""
    if scheme == "int8":
        return in_features % 16 == 0
    return out_features % 16 == 0 and int4_group(in_features) is not None


def int8_values(weight: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 values [out, in] and per-channel scales [out] in ``dtype``; the values are rounded
    against the scales as stored, so that values times scales is the dequantized weight."""
    w = weight.detach().float()
    scales = (w.abs().amax(dim=1).clamp(min=1e-12) / 127).to(dtype)
    values = torch.round(w / scales.float()[:, None]).clamp(-128, 127).to(torch.int8)
    return values, scales


def int4_values(weight: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """int4 values 0..15 [out, in] (int32) and scales and offsets [in / group, out, 2] in
    ``dtype``: the weight is ``(value - 8) * scale + offset`` per group, as the kernel computes."""
    out_features, in_features = weight.shape
    group = int4_group(in_features)
    assert group is not None
    w = weight.detach().float().reshape(out_features, in_features // group, group)
    low, high = w.amin(dim=-1, keepdim=True), w.amax(dim=-1, keepdim=True)
    scales = ((high - low).clamp(min=1e-6) / 15).to(dtype).float()
    offsets = (low + 8 * scales).to(dtype).float()
    values = torch.round((w - offsets) / scales + 8).clamp(0, 15).to(torch.int32)
    scales_and_offsets = torch.stack(
        [scales.reshape(out_features, -1), offsets.reshape(out_features, -1)], dim=-1
    )
    scales_and_offsets = scales_and_offsets.transpose(0, 1).contiguous().to(dtype)
    return values.reshape(out_features, in_features), scales_and_offsets


def quantize_weight(
    weight: torch.Tensor, scheme: str, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The packed weight and its scales, for a ``packable`` [out, in] weight."""
    if scheme == "int8":
        return int8_values(weight, dtype)
    values, scales_and_offsets = int4_values(weight, dtype)
    return torch._convert_weight_to_int4pack_for_cpu(values, 1), scales_and_offsets


def check_kernels(scheme: str) -> Kernels:
    """The kernels for ``scheme`` on this CPU, after a tiny product against its float reference.

    Raises ModelLoadError where torch lacks them or they compute something else.
    """
    if scheme not in SCHEMES:
        raise ModelLoadError(f"--quantize {scheme} is not a scheme; use none, {', '.join(SCHEMES)}")
    needed = ["_weight_int8pack_mm"] if scheme == "int8" else [
        "_convert_weight_to_int4pack_for_cpu", "_weight_int4pack_mm_for_cpu"
    ]  # fmt: skip
    missing = [name for name in needed if not hasattr(torch, name)]
    if missing:
        other = "--quantize int8, or " if scheme == "int4" else ""
        raise ModelLoadError(
            f"--quantize {scheme} needs torch's packed {scheme} CPU kernel (torch.{missing[0]}), "
            f"which torch {torch.__version__} lacks; use {other}--quantize none, or torch 2.6 "
            "or newer"
        )
    kernels = Kernels.for_this_cpu()
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(32, 128, generator=generator)
    x = torch.randn(3, 128, generator=generator)
    try:
        layer = QuantizedLinear(
            *quantize_weight(weight, scheme, kernels.activations), None, kernels.activations
        )
        got = layer(x)
    except RuntimeError as err:
        error = f"it failed: {str(err).splitlines()[0]}"
    else:
        if scheme == "int8":
            values, scales = int8_values(weight, kernels.activations)
            dequantized = values.float() * scales.float()[:, None]
        else:
            values, scales_and_offsets = int4_values(weight, kernels.activations)
            parts = scales_and_offsets.float().transpose(0, 1).repeat_interleave(layer.group, dim=1)
            dequantized = (values.float() - 8) * parts[..., 0] + parts[..., 1]
        expected = x.to(kernels.activations).float() @ dequantized.T
        deviation = float((got - expected).norm() / expected.norm())
        if deviation < 0.02:
            return kernels
        error = f"it is {deviation:.0%} off its float reference"
    raise ModelLoadError(
        f"--quantize {scheme}: torch's packed {scheme} kernel failed its check on this CPU "
        f"({kernels}): {error}; use --quantize {'int8' if scheme == 'int4' else 'none'}"
    )


class Quantizer:
    """Quantizes one checkpoint's linear layers (under ``root``), from the cache file where it
    holds them, and frees the float weights they replace.

    ``fused`` makes a decoder layer's projections (``layers.DecoderStack``), ``replace_linears``
    swaps every other linear module for a ``QuantizedLinear``, and ``finish`` writes what was
    quantized to the cache.
    """

    def __init__(
        self, scheme: str, kernels: Kernels, root: nn.Module, cache_file: Path | None
    ) -> None:
        self.scheme = scheme
        self.kernels = kernels
        self.cache_file = cache_file
        self._names = {id(module): name for name, module in root.named_modules()}
        self._cached = self._read_cache()
        self._layers: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._computed = False
        self._float: list[str] = []
        self._float_bytes = self._packed_bytes = 0
        if self._cached:
            _LOGGER.info("Quantized weights (%s) from the cache %s", scheme, cache_file)
        else:
            _LOGGER.info(
                "Quantizing the talker's and code predictor's weights to %s (once%s)",
                scheme,
                f"; kept in {cache_file}" if cache_file is not None else "",
            )

    def fused(self, modules: list[nn.Linear]) -> Projection:
        """One quantized product for ``modules`` side by side; their float weights are freed.

        Rows side by side quantize exactly as they do apart: each output channel (int8), or each
        group within one (int4), has its own scale.
        """
        name = "+".join(self._names[id(module)] for module in modules)
        weight = torch.cat([module.weight.detach() for module in modules])
        biases = [module.bias for module in modules]
        bias = None if any(b is None for b in biases) else torch.cat([b.detach() for b in biases])
        layer = self._quantized_layer(name, weight, bias)
        if layer is None:
            return fused_linear(modules)
        for module in modules:
            module.weight = None  # upstream's layer modules never run: the frame loop does
        return layer

    def replace_linears(self, module: nn.Module) -> None:
        """Replaces every linear module under ``module`` that still has its weights (heads,
        projections) by its quantized layer."""
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and child.weight is not None:
                bias = None if child.bias is None else child.bias.detach()
                layer = self._quantized_layer(self._names[id(child)], child.weight.detach(), bias)
                if layer is not None:
                    setattr(module, child_name, layer)
            else:
                self.replace_linears(child)

    def finish(self) -> None:
        """Writes newly quantized weights to the cache, logs the change, and returns the freed
        float weights' memory to the system."""
        if self._float:
            _LOGGER.info(
                "Kept %d linear layers in float: their shapes do not fit the %s kernels (%s)",
                len(self._float),
                self.scheme,
                ", ".join(self._float),
            )
        _LOGGER.info(
            "Quantized %d linear layers to %s with torch's packed CPU kernels for %s: %.0f MB of "
            "float weights became %.0f MB",
            len(self._layers),
            self.scheme,
            self.kernels,
            self._float_bytes / 1e6,
            self._packed_bytes / 1e6,
        )
        if self.cache_file is not None and self._computed:
            self._write_cache()
        self._cached = {}
        _trim_freed_memory()

    def _quantized_layer(
        self, name: str, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> QuantizedLinear | None:
        out_features, in_features = weight.shape
        if not packable(self.scheme, out_features, in_features):
            self._float.append(f"{name} {out_features}x{in_features}")
            return None
        tensors = self._cached.get(name)
        if tensors is None or not self._fits(tensors, out_features, in_features):
            if tensors is not None:
                _LOGGER.warning(
                    "The cached quantized %s does not fit its weight; quantizing it again", name
                )
            tensors = quantize_weight(weight, self.scheme, self.kernels.activations)
            self._computed = True
        self._layers[name] = tensors
        self._float_bytes += weight.numel() * weight.element_size()
        self._packed_bytes += sum(t.numel() * t.element_size() for t in tensors)
        return QuantizedLinear(*tensors, bias, self.kernels.activations)

    def _fits(
        self, tensors: tuple[torch.Tensor, torch.Tensor], out_features: int, in_features: int
    ) -> bool:
        packed, scales = tensors
        if self.scheme == "int8":
            shapes = (out_features, in_features), (out_features,)
        else:
            group = int4_group(in_features) or 1
            shapes = (out_features, in_features // 2), (in_features // group, out_features, 2)
        dtype = torch.int8 if self.scheme == "int8" else torch.uint8
        return (
            tuple(packed.shape) == shapes[0]
            and tuple(scales.shape) == shapes[1]
            and packed.dtype == dtype
            and scales.dtype == self.kernels.activations
        )

    def _read_cache(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        if self.cache_file is None or not self.cache_file.is_file():
            return {}
        try:
            data = torch.load(self.cache_file, map_location="cpu", mmap=True, weights_only=True)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not quantized weights of this version")
            layers = data["layers"]
            if not all(
                isinstance(pair, (tuple, list)) and len(pair) == 2
                and all(isinstance(t, torch.Tensor) for t in pair)
                for pair in layers.values()
            ):  # fmt: skip
                raise ValueError("its layers are not pairs of tensors")
        except Exception as err:  # noqa: BLE001 - any unreadable file means: quantize again
            _LOGGER.warning(
                "Ignoring the quantized weights in %s (%s); quantizing again", self.cache_file, err
            )
            return {}
        return {name: (pair[0], pair[1]) for name, pair in layers.items()}

    def _write_cache(self) -> None:
        assert self.cache_file is not None
        folder = self.cache_file.parent
        data = {"format": FORMAT, "scheme": self.scheme, "layers": self._layers}
        try:
            save_atomically(data, self.cache_file)
        except OSError as err:
            _LOGGER.warning(
                "Cannot keep the quantized weights in %s (%s); they will be quantized again at the "
                "next start (set --cache-dir to a writable folder)",
                folder,
                err,
            )
            return
        prefix = self.cache_file.name.rsplit("-", 1)[0] + "-"
        for stale in folder.glob(f"{prefix}*.pt"):  # the same checkpoint and scheme, older keys
            if stale != self.cache_file:
                stale.unlink(missing_ok=True)


def cache_file(
    folder: Path, source: str, weights: str, scheme: str, kernels: Kernels
) -> Path | None:
    """Where one checkpoint's weights quantized by ``scheme`` for these kernels are kept:
    ``<folder>/<source>-<scheme>-<key>.pt``. None when the checkpoint's files cannot be told
    apart (``weights`` is empty)."""
    if not weights:
        return None
    key = {
        "format": FORMAT,
        "source": source,
        "weights": weights,
        "scheme": scheme,
        "groups": INT4_GROUPS,
        "capability": kernels.capability,
        "activations": str(kernels.activations),
        "torch": torch.__version__,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9.]+", "_", source).strip("_")[-60:]
    source_digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    return folder / f"{readable}_{source_digest}-{scheme}-{digest}.pt"


def _trim_freed_memory() -> None:
    """Returns freed heap pages to the system (glibc keeps them otherwise, so the freed float
    weights would still count in the process's memory)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc
        return
    trim(0)
