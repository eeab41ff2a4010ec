"""Token sampling, operation for operation what transformers' ``generate`` does for Qwen3-TTS.

Upstream samples codebook 0 with repetition penalty, suppressed special tokens, a minimum of two
new tokens, temperature, top-k and top-p, and codebooks 1-15 with the subtalker's temperature,
top-k and top-p. The same float operations in the same order, and one ``torch.multinomial`` per
row, give the same tokens for the same random state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

_NEG_INF = float("-inf")


@dataclass(frozen=True)
class SamplingParams:
    do_sample: bool = True
    top_k: int = 50
    top_p: float = 1.0
    temperature: float = 0.9
    repetition_penalty: float = 1.0

    @classmethod
    def talker(cls, kwargs: Mapping[str, Any]) -> SamplingParams:
        """Codebook 0's settings, from upstream's generation keyword arguments."""
        return cls(
            do_sample=kwargs["do_sample"],
            top_k=kwargs["top_k"],
            top_p=kwargs["top_p"],
            temperature=kwargs["temperature"],
            repetition_penalty=kwargs["repetition_penalty"],
        )

    @classmethod
    def subtalker(cls, kwargs: Mapping[str, Any]) -> SamplingParams:
        """Codebooks 1-15's settings (the ``subtalker_*`` arguments)."""
        return cls(
            do_sample=kwargs["subtalker_dosample"],
            top_k=kwargs["subtalker_top_k"],
            top_p=kwargs["subtalker_top_p"],
            temperature=kwargs["subtalker_temperature"],
        )


def process_logits(
    scores: torch.Tensor,
    params: SamplingParams,
    *,
    seen: torch.Tensor | None = None,
    banned: torch.Tensor | None = None,
) -> torch.Tensor:
    """Applies upstream's logits processors to float32 ``scores`` [rows, vocab].

    ``seen`` [rows, vocab] marks tokens already generated (repetition penalty); ``banned``
    [rows, vocab] marks tokens that must not be sampled now (suppressed ids, early EOS).
    """
    if params.repetition_penalty != 1.0 and seen is not None:
        penalized = torch.where(
            scores < 0, scores * params.repetition_penalty, scores / params.repetition_penalty
        )
        scores = torch.where(seen, penalized, scores)
    if banned is not None:
        scores = torch.where(banned, _NEG_INF, scores)
    if not params.do_sample:
        return scores
    if params.temperature != 1.0:
        scores = scores / params.temperature
    if params.top_k:
        top_k = min(params.top_k, scores.size(-1))
        threshold = torch.topk(scores, top_k)[0][..., -1, None]
        scores = scores.masked_fill(scores < threshold, _NEG_INF)
    if params.top_p < 1.0:
        sorted_scores, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        sorted_remove = cumulative <= (1 - params.top_p)
        sorted_remove[..., -1:] = False
        remove = sorted_remove.scatter(1, sorted_indices, sorted_remove)
        scores = scores.masked_fill(remove, _NEG_INF)
    return scores


def sample(
    scores: torch.Tensor,
    params: SamplingParams,
    generators: list[torch.Generator | None] | None = None,
) -> torch.Tensor:
    """One token per row from processed ``scores``; each row may draw from its own generator."""
    if not params.do_sample:
        return torch.argmax(scores, dim=-1)
    probs = torch.softmax(scores, dim=-1)
    if generators is None or all(g is None for g in generators) and len(generators) == 1:
        return torch.multinomial(probs, num_samples=1).squeeze(1)
    return torch.cat(
        [
            torch.multinomial(probs[row : row + 1], num_samples=1, generator=generator).squeeze(1)
            for row, generator in enumerate(generators)
        ]
    )
