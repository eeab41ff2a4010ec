"""CUDA graphs for the two per-frame hot spots: the 15-pass predictor loop and the talker step.

Per frame the model runs one talker step and 15 small predictor passes with sampling in between:
hundreds of tiny kernels whose launch cost, not their work, sets the speed. Each is captured once
per batch size at start and replayed per frame. Captured work needs fixed addresses and shapes,
so inputs go through static buffers, the talker attends over its whole preallocated cache with a
per-row visibility mask, and the predictor samples from the default CUDA generator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import torch

from wyoming_qwen_tts.engine.sampling import SamplingParams

_LOGGER = logging.getLogger(__name__)

_Outputs = tuple[torch.Tensor, torch.Tensor]
Predict = Callable[[torch.Tensor, torch.Tensor], _Outputs]
"""``(tokens [rows, 1], hidden [rows, 1, hidden]) -> (codes, codec embeddings)``: the predictor
loop with the captured sampling settings (``FrameLoop.predict_codebooks``)."""
TalkerStep = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], _Outputs]
"""``(embeds, write slots, positions, visible) -> (hidden, logits)`` over the whole cache
(``FrameLoop.talker_step_masked``)."""


class CudaGraphs:
    """Captured steps of one frame loop, for every batch size up to ``max_batch``."""

    def __init__(
        self,
        *,
        predict: Predict,
        talker: TalkerStep,
        params: SamplingParams,
        max_batch: int,
        hidden_size: int,
        slots: int,
        caches: Sequence[torch.Tensor],
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        """``slots``: the talker cache's fixed size; ``caches``: the tensors rehearsal and
        capture write into, cleared afterwards."""
        self._predict_step = predict
        self._talker_step = talker
        self._params = params
        self._max_batch = max_batch
        self._caches = list(caches)
        batch = max_batch
        self.visible = torch.zeros(batch, slots, dtype=torch.bool, device=device)
        self._tokens = torch.zeros(batch, 1, dtype=torch.long, device=device)
        self._hidden = torch.zeros(batch, 1, hidden_size, dtype=dtype, device=device)
        self._embeds = torch.zeros(batch, 1, hidden_size, dtype=dtype, device=device)
        self._write_slots = torch.zeros(batch, 1, dtype=torch.long, device=device)
        self._positions = torch.zeros(batch, 1, dtype=torch.long, device=device)
        self._pool = torch.cuda.graph_pool_handle()
        self._predictor: dict[int, tuple[torch.cuda.CUDAGraph, _Outputs]] = {}
        self._talker: dict[int, tuple[torch.cuda.CUDAGraph, _Outputs]] = {}

    def capture(self) -> None:
        """Captures every batch size; call while no utterance is active (it writes the caches)."""
        started = time.monotonic()
        # Rehearsal and capture write into the caches; a visible slot keeps their softmax finite.
        self.visible[:, 0] = True
        for rows in range(1, self._max_batch + 1):
            self._predictor[rows] = self._capture(lambda rows=rows: self._run_predictor(rows))
            self._talker[rows] = self._capture(lambda rows=rows: self._run_talker(rows))
        torch.cuda.synchronize()
        self.visible.zero_()
        for tensor in self._caches:
            tensor.zero_()
        _LOGGER.info(
            "Captured CUDA graphs for batches of 1-%d in %.1f s",
            self._max_batch,
            time.monotonic() - started,
        )

    def covers(self, params: SamplingParams) -> bool:
        return params == self._params

    def predict(self, tokens: torch.Tensor, hidden: torch.Tensor) -> _Outputs:
        rows = tokens.shape[0]
        self._tokens[:rows].copy_(tokens)
        self._hidden[:rows].copy_(hidden)
        graph, (codes, codec_hiddens) = self._predictor[rows]
        graph.replay()
        return codes.clone(), codec_hiddens

    def talker(
        self, embeds: torch.Tensor, lengths: list[int], positions: list[int]
    ) -> _Outputs:
        rows = embeds.shape[0]
        slots = torch.tensor(lengths, dtype=torch.long).unsqueeze(1)
        self._write_slots[:rows].copy_(slots, non_blocking=True)
        self._positions[:rows].copy_(torch.tensor(positions).unsqueeze(1), non_blocking=True)
        self.visible[torch.arange(rows, device=self.visible.device), self._write_slots[:rows, 0]] = True
        self._embeds[:rows].copy_(embeds)
        graph, outputs = self._talker[rows]
        graph.replay()
        return outputs

    def prefilled(self, row: int, length: int) -> None:
        self.visible[row].zero_()
        self.visible[row, :length] = True

    def move_row(self, source: int, target: int) -> None:
        self.visible[target] = self.visible[source]

    def _run_predictor(self, rows: int) -> _Outputs:
        return self._predict_step(self._tokens[:rows], self._hidden[:rows])

    def _run_talker(self, rows: int) -> _Outputs:
        return self._talker_step(
            self._embeds[:rows],
            self._write_slots[:rows],
            self._positions[:rows],
            self.visible[:rows],
        )

    def _capture(self, run: Callable[[], _Outputs]) -> tuple[torch.cuda.CUDAGraph, _Outputs]:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                run()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool):
            outputs = run()
        return graph, outputs
