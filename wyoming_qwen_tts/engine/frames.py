"""The frame loop: one talker step and one 15-pass predictor loop per 80 ms frame.

Upstream runs transformers' ``generate`` twice nested (the talker, and inside each talker step the
code predictor), with a growing cache and per-step Python overhead. This loop runs the same
upstream modules with preallocated caches and samples exactly as upstream does, so for the same
random state it produces upstream's codes. Requests join and leave the batch between steps.

The prompt (text, speaker, language, clone reference) is built by upstream's own ``generate``,
stopped just before it would start the talker: there is one definition of the prompt, upstream's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from wyoming_qwen_tts.engine.kv_cache import StaticKVCache
from wyoming_qwen_tts.engine.layers import DecoderStack, RotaryTable, fused_linear, linear
from wyoming_qwen_tts.engine.sampling import SamplingParams, process_logits, sample

if TYPE_CHECKING:
    from wyoming_qwen_tts.engine.quantize import Quantizer


class _PromptCaptured(Exception):
    pass


class MixedSamplingError(ValueError):
    """A prompt samples with other settings than the utterances already in the batch."""


_Outputs = tuple[torch.Tensor, torch.Tensor]


class StepGraphs(Protocol):
    """Captured versions of the per-frame steps (``cuda_graphs.CudaGraphs``)."""

    def covers(self, params: SamplingParams) -> bool: ...

    def predict(self, tokens: torch.Tensor, hidden: torch.Tensor) -> _Outputs: ...

    def talker(self, embeds: torch.Tensor, lengths: list[int], positions: list[int]) -> _Outputs: ...

    def prefilled(self, row: int, length: int) -> None: ...

    def move_row(self, source: int, target: int) -> None: ...


@dataclass(frozen=True)
class Prompt:
    """Everything upstream passes to the talker's ``generate`` for one utterance."""

    embeds: torch.Tensor
    """[1, P, hidden] prefill input."""
    attention_mask: torch.Tensor
    trailing_text: torch.Tensor
    """[1, T, hidden] text fed one position per step after the prefill."""
    pad: torch.Tensor
    """[1, 1, hidden] fed once the trailing text is used up."""
    talker: SamplingParams
    subtalker: SamplingParams
    max_new_tokens: int
    min_new_tokens: int
    eos_token_id: int
    suppress_tokens: tuple[int, ...]


def capture_prompt(model: nn.Module, generate_kwargs: dict[str, Any]) -> Prompt:
    """Runs upstream ``Qwen3TTSForConditionalGeneration.generate`` up to the talker call."""
    captured: dict[str, Any] = {}

    def capture(**kwargs: Any) -> None:
        captured.update(kwargs)
        raise _PromptCaptured

    model.talker.generate = capture
    try:
        model.generate(**generate_kwargs)
    except _PromptCaptured:
        pass
    finally:
        del model.talker.generate
    return Prompt(
        embeds=captured["inputs_embeds"],
        attention_mask=captured["attention_mask"],
        trailing_text=captured["trailing_text_hidden"],
        pad=captured["tts_pad_embed"],
        talker=SamplingParams.talker(captured),
        subtalker=SamplingParams.subtalker(captured),
        max_new_tokens=captured["max_new_tokens"],
        min_new_tokens=captured["min_new_tokens"],
        eos_token_id=captured["eos_token_id"],
        suppress_tokens=tuple(captured["suppress_tokens"]),
    )


@dataclass(eq=False)
class Utterance:
    """One request in the batch; a handle for the caller."""

    prompt: Prompt
    generator: torch.Generator | None
    length: int = 0
    """Talker cache slots in use."""
    rope_delta: int = 0
    steps: int = 0
    """Talker decode steps done: the index of the next trailing-text position."""
    sampled: int = 0
    """Codebook-0 tokens sampled so far."""
    finished: bool = False
    token: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    """[1] the codebook-0 token whose frame the next step completes."""
    hidden: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    """[1, 1, hidden] the talker's last hidden state."""
    seen: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    banned: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    eos_banned: torch.Tensor = field(default_factory=lambda: torch.empty(0))


class FrameLoop:
    """Generates frames for up to ``max_batch`` utterances at once on one upstream model."""

    def __init__(
        self,
        model: nn.Module,
        *,
        max_batch: int = 1,
        slots: int = 512,
        quantizer: Quantizer | None = None,
    ) -> None:
        """``quantizer``: quantize every linear layer of the talker and the code predictor,
        heads included (CPU)."""
        self.model = model
        self.talker = model.talker
        self.predictor = model.talker.code_predictor
        parameter = next(self.talker.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        talker_config = self.talker.config
        predictor_config = self.predictor.config
        self.num_code_groups = talker_config.num_code_groups
        self.max_batch = max_batch
        self.talker_cache = StaticKVCache(
            layers=talker_config.num_hidden_layers,
            batch=max_batch,
            kv_heads=talker_config.num_key_value_heads,
            head_dim=_head_dim(talker_config),
            slots=slots,
            dtype=self.dtype,
            device=self.device,
        )
        self.predictor_cache = StaticKVCache(
            layers=predictor_config.num_hidden_layers,
            batch=max_batch,
            kv_heads=predictor_config.num_key_value_heads,
            head_dim=_head_dim(predictor_config),
            slots=self.num_code_groups + 1,
            dtype=self.dtype,
            device=self.device,
        )
        project = fused_linear if quantizer is None else quantizer.fused
        self.talker_stack = DecoderStack(self.talker.model, project=project)
        self.predictor_stack = DecoderStack(self.predictor.model, project=project)
        if quantizer is not None:
            quantizer.replace_linears(self.talker)
            quantizer.finish()
        self.talker_rotary = RotaryTable(self.talker.model.rotary_emb, multimodal=True, dtype=self.dtype)
        self.predictor_rotary = RotaryTable(
            self.predictor.model.rotary_emb, multimodal=False, dtype=self.dtype
        )
        self.predictor_rotary.ensure(self.num_code_groups + 1)
        # Every row runs the predictor at the same positions: pass 0 prefills slots 0-1, pass g
        # writes slot g + 1. Their rotary tables are fixed.
        self._predictor_passes = [
            (start, slice(0, group + 2), self.predictor_rotary.lookup(
                torch.arange(start, group + 2, device=self.device).unsqueeze(0)
            ))
            for group in range(self.num_code_groups - 1)
            for start in [group + 1 if group else 0]
        ]  # fmt: skip
        self.graphs: StepGraphs | None = None
        self.active: list[Utterance] = []
        vocab = talker_config.vocab_size
        self._vocab_ids = torch.arange(vocab, device=self.device)

    @torch.inference_mode()
    def add(self, prompt: Prompt, generator: torch.Generator | None = None) -> Utterance:
        """Prefills a new utterance and samples its first token; it joins the next ``step``."""
        if len(self.active) >= self.max_batch:
            raise RuntimeError("the batch is full")
        if self.active and _sampling(prompt) != _sampling(self.active[0].prompt):
            raise MixedSamplingError(
                "this sentence samples with other settings than the sentences being spoken "
                f"({_sampling(prompt)} against {_sampling(self.active[0].prompt)}); one batch "
                "samples every row alike"
            )
        needed = prompt.embeds.shape[1] + prompt.max_new_tokens
        if self.graphs is not None and needed > self.talker_cache.slots:
            raise ValueError(
                f"this sentence needs {needed} cache slots; {self.talker_cache.slots} are captured"
            )
        self.talker_cache.ensure_slots(needed)
        self.talker_rotary.ensure(needed + 1)
        utterance = Utterance(prompt=prompt, generator=generator)
        utterance.banned = torch.isin(
            self._vocab_ids, torch.tensor(prompt.suppress_tokens, device=self.device)
        ).unsqueeze(0)
        utterance.eos_banned = utterance.banned | (self._vocab_ids == prompt.eos_token_id)
        utterance.seen = torch.zeros_like(utterance.banned)

        mask = prompt.attention_mask
        position_ids, rope_deltas = self.talker.get_rope_index(mask)
        utterance.rope_delta = int((rope_deltas - (1 - mask).sum(dim=-1).unsqueeze(1)).item())
        row = len(self.active)
        cache = self.talker_cache.for_prefill(row, 0)
        cos, sin = self.talker_rotary.lookup(position_ids[0].long())
        hidden = self.talker_stack.forward(prompt.embeds, cos, sin, cache)
        utterance.length = prompt.embeds.shape[1]
        if self.graphs is not None:
            self.graphs.prefilled(row, utterance.length)
        self.active.append(utterance)
        logits = self.next_logits(hidden)
        utterance.hidden = hidden[:, -1:, :]
        self._sample_first_codebook([utterance], logits)
        if utterance.finished:
            self.remove(utterance)
        return utterance

    def remove(self, utterance: Utterance) -> None:
        """Drops an utterance from the batch (finished or cancelled)."""
        if utterance not in self.active:
            return
        row = self.active.index(utterance)
        last = len(self.active) - 1
        if row != last:
            moved = self.active[last]
            self.talker_cache.move_row(last, row, moved.length)
            if self.graphs is not None:
                self.graphs.move_row(last, row)
            self.active[row] = moved
        self.active.pop()
        utterance.finished = True

    @torch.inference_mode()
    def step(self) -> list[tuple[Utterance, torch.Tensor]]:
        """One frame for every active utterance: [(utterance, codes [num_code_groups])].

        Utterances that reach their end are removed and marked ``finished`` after their last frame.
        """
        batch = list(self.active)
        if not batch:
            return []
        tokens = torch.cat([u.token for u in batch]).unsqueeze(1)
        hidden = torch.cat([u.hidden for u in batch])
        params = batch[0].prompt.subtalker  # add() keeps every row's settings alike
        graphs = self.graphs if self.graphs is not None and self.graphs.covers(params) else None
        if graphs is not None:
            codes, codec_hiddens = graphs.predict(tokens, hidden)
        else:
            codes, codec_hiddens = self.predict_codebooks(
                tokens, hidden, params, [u.generator for u in batch]
            )

        embeds = codec_hiddens.sum(1, keepdim=True)
        text = [
            u.prompt.trailing_text[:, u.steps] if u.steps < u.prompt.trailing_text.shape[1]
            else u.prompt.pad[:, 0]
            for u in batch
        ]  # fmt: skip
        embeds = embeds + torch.stack(text)
        lengths = [u.length for u in batch]
        positions = [u.length + u.rope_delta for u in batch]
        if graphs is not None:
            hidden, logits = graphs.talker(embeds, lengths, positions)
        else:
            hidden = self._talker_decode(embeds, lengths, positions)
            logits = self.next_logits(hidden)
        for i, utterance in enumerate(batch):
            utterance.hidden = hidden[i : i + 1, -1:, :].clone()
            utterance.steps += 1
            utterance.length += 1
        self._sample_first_codebook(batch, logits)
        for utterance in batch:
            if utterance.finished:
                self.remove(utterance)
        return [(u, codes[i]) for i, u in enumerate(batch)]

    def _sample_first_codebook(self, batch: list[Utterance], logits: torch.Tensor) -> None:
        params = batch[0].prompt.talker  # add() keeps every row's settings alike
        seen = torch.cat([u.seen for u in batch])
        banned = torch.cat(
            [u.eos_banned if u.sampled < u.prompt.min_new_tokens else u.banned for u in batch]
        )
        scores = process_logits(logits, params, seen=seen, banned=banned)
        tokens = sample(scores, params, [u.generator for u in batch])
        for i, utterance in enumerate(batch):
            token = tokens[i : i + 1]
            utterance.seen[0, token] = True
            utterance.sampled += 1
            utterance.token = token
            if (
                int(token.item()) == utterance.prompt.eos_token_id
                or utterance.sampled >= utterance.prompt.max_new_tokens
            ):
                utterance.finished = True

    def predict_codebooks(
        self,
        tokens: torch.Tensor,
        hidden: torch.Tensor,
        params: SamplingParams,
        generators: list[torch.Generator | None] | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Codebooks 1-15 for each row: the predictor's prefill of 2 positions, then 14 steps.

        Returns the frames [rows, groups] and the embeddings of their codes [rows, groups, hidden].
        """
        predictor = self.predictor
        first_embed = self.talker.get_input_embeddings()(tokens)
        codec_hiddens = [first_embed]
        codes = [tokens[:, 0]]
        inputs = torch.cat((hidden, first_embed), dim=1)
        embeddings = predictor.get_input_embeddings()
        project = predictor.small_to_mtp_projection
        if isinstance(project, nn.Identity):
            project = None
        for group, (start, window, (cos, sin)) in enumerate(self._predictor_passes):
            cache = self.predictor_cache.for_aligned_step(start, window)
            out = self.predictor_stack.forward(
                inputs if project is None else project(inputs), cos, sin, cache
            )
            logits = self._head(predictor.lm_head[group], out)[:, -1, :].float()
            token = sample(process_logits(logits, params), params, generators)
            codes.append(token)
            inputs = F.embedding(token.unsqueeze(1), embeddings[group].weight)
            codec_hiddens.append(inputs)
        return torch.stack(codes, dim=1), torch.cat(codec_hiddens, dim=1)

    def next_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Codebook 0's float32 logits [rows, vocab] after the last position of ``hidden``."""
        return self._head(self.talker.codec_head, hidden)[:, -1, :].float()

    def talker_step_masked(
        self,
        embeds: torch.Tensor,
        write_slots: torch.Tensor,
        positions: torch.Tensor,
        visible: torch.Tensor,
    ) -> _Outputs:
        """One talker step over the whole cache, ``visible`` [rows, slots] saying which slots
        each row attends to: fixed shapes, as a CUDA graph needs. Returns (hidden, logits)."""
        cache = self.talker_cache.for_step(write_slots, slice(0, self.talker_cache.slots))
        cos, sin = self.talker_rotary.lookup(positions)
        hidden = self.talker_stack.forward(embeds, cos, sin, cache, visible[:, None, None, :])
        return hidden, self.next_logits(hidden)

    def cache_tensors(self) -> list[torch.Tensor]:
        """Every key and value tensor of the talker's and the predictor's caches."""
        return [
            tensor
            for cache in (self.talker_cache, self.predictor_cache)
            for tensor in (*cache.keys, *cache.values)
        ]

    @staticmethod
    def _head(head: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        """A linear head through ``layers.linear`` (a quantized head is called as it is)."""
        if isinstance(head, nn.Linear):
            return linear(hidden, head.weight, head.bias)
        return head(hidden)

    def _talker_decode(
        self, embeds: torch.Tensor, lengths: list[int], positions: list[int]
    ) -> torch.Tensor:
        """One talker step for rows whose caches hold ``lengths`` slots; eager, exact windows."""
        slots = torch.tensor(lengths, device=self.device).unsqueeze(1)
        window = max(lengths) + 1
        attention_mask = None
        if len(set(lengths)) > 1:
            visible = torch.arange(window, device=self.device).unsqueeze(0) <= slots
            attention_mask = visible[:, None, None, :]
        cache = self.talker_cache.for_step(slots, slice(0, window))
        cos, sin = self.talker_rotary.lookup(torch.tensor(positions, device=self.device).unsqueeze(1))
        return self.talker_stack.forward(embeds, cos, sin, cache, attention_mask)


def _sampling(prompt: Prompt) -> tuple[SamplingParams, SamplingParams]:
    return prompt.talker, prompt.subtalker


def _head_dim(config: Any) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
