"""A preallocated KV cache that upstream's attention layers write into through ``update``.

Each batch row owns the slots ``[start, end)`` of its own cache row. A decode step writes every
row's new key at that row's ``end`` (a scatter with a per-row index, so rows of different lengths
step together) and attends over the union of the rows' windows with a per-row mask. Nothing is
allocated per step except what attention itself needs.
"""

from __future__ import annotations

import torch


class StaticKVCache:
    def __init__(
        self,
        *,
        layers: int,
        batch: int,
        kv_heads: int,
        head_dim: int,
        slots: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        shape = (batch, kv_heads, slots, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self._write_index: torch.Tensor | None = None
        self._write_start: int | None = None
        self._prefill: tuple[int, int] | None = None
        self._window = slice(0, slots)

    # Called by upstream's attention for every layer.
    def update(
        self, key: torch.Tensor, value: torch.Tensor, layer_idx: int, cache_kwargs: object = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        if self._prefill is not None:
            row, start = self._prefill
            length = key.shape[2]
            keys[row : row + 1, :, start : start + length] = key
            values[row : row + 1, :, start : start + length] = value
            return (
                keys[row : row + 1, :, start : start + length],
                values[row : row + 1, :, start : start + length],
            )
        rows = key.shape[0]
        if self._write_start is not None:
            end = self._write_start + key.shape[2]
            keys[:rows, :, self._write_start : end] = key
            values[:rows, :, self._write_start : end] = value
        else:
            assert self._write_index is not None
            index = self._write_index.expand(-1, key.shape[1], -1, key.shape[3])
            keys[:rows].scatter_(2, index, key)
            values[:rows].scatter_(2, index, value)
        return keys[:rows, :, self._window], values[:rows, :, self._window]

    def for_prefill(self, row: int, start: int) -> StaticKVCache:
        """Makes the next forward write one row's prompt at ``start`` and attend to it alone."""
        self._prefill = (row, start)
        return self

    def for_step(self, write_slots: torch.Tensor, window: slice) -> StaticKVCache:
        """Makes the next forward over rows ``[0, len(write_slots))`` write row ``i``'s keys at
        ``write_slots[i]`` (shape [rows, queries]) and attend over ``window``."""
        self._prefill = None
        self._write_start = None
        self._write_index = write_slots.view(write_slots.shape[0], 1, -1, 1)
        self._window = window
        return self

    def for_aligned_step(self, start: int, window: slice) -> StaticKVCache:
        """As ``for_step`` when every row writes the same slots, from ``start`` on."""
        self._prefill = None
        self._write_start = start
        self._window = window
        return self

    @property
    def slots(self) -> int:
        return self.keys[0].shape[2]

    def ensure_slots(self, needed: int) -> None:
        """Grows every layer to at least ``needed`` slots (doubling), keeping what is stored."""
        if needed <= self.slots:
            return
        slots = self.slots
        while slots < needed:
            slots *= 2
        for tensors in (self.keys, self.values):
            for i, old in enumerate(tensors):
                grown = old.new_zeros((*old.shape[:2], slots, old.shape[3]))
                grown[:, :, : old.shape[2]] = old
                tensors[i] = grown

    def move_row(self, source: int, target: int, length: int) -> None:
        """Copies a row's first ``length`` slots into another row (compacting the batch)."""
        for keys, values in zip(self.keys, self.values, strict=True):
            keys[target, :, :length] = keys[source, :, :length]
            values[target, :, :length] = values[source, :, :length]
