"""The frame loop's contracts: one batch samples alike, and the step CUDA graphs capture is the
eager step (checked on the CPU, where the same callables run without graphs)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from wyoming_qwen_tts.app.compose import load_options
from wyoming_qwen_tts.engine.frames import MixedSamplingError
from wyoming_qwen_tts.engine.model import GenerationInput, QwenModel
from wyoming_qwen_tts.settings.settings import Settings

GIVEN = GenerationInput(language="english", speaker="ryan")


@pytest.fixture(scope="module")
def model(custom_voice_checkpoint: Path) -> QwenModel:
    settings = Settings(custom_voice_model=str(custom_voice_checkpoint), device="cpu", max_batch=3)
    return QwenModel.load(str(custom_voice_checkpoint), load_options(settings))


def test_a_prompt_with_other_sampling_settings_is_refused_not_run_with_row_0s(
    model: QwenModel,
) -> None:
    frames = model.frames
    first = frames.add(model.prompt("The hall light is on.", GIVEN, 20))
    other = model.prompt("The porch light is off.", GIVEN, 20)
    hotter = replace(other, talker=replace(other.talker, temperature=1.3))
    colder = replace(other, subtalker=replace(other.subtalker, top_k=5))
    try:
        for prompt in (hotter, colder):
            with pytest.raises(MixedSamplingError, match="samples with other settings"):
                frames.add(prompt)
        assert frames.active == [first]
        same = frames.add(other)  # the same settings join as before
        assert same in frames.active
    finally:
        for utterance in list(frames.active):
            frames.remove(utterance)
    # once the batch is empty, any settings may start it
    alone = frames.add(hotter)
    frames.remove(alone)


def test_the_masked_talker_step_equals_the_eager_step(model: QwenModel) -> None:
    frames = model.frames
    texts = ["Good night.", "The washing machine is done, and the dryer is next."]
    rows = [frames.add(model.prompt(text, GIVEN, 20), torch.Generator().manual_seed(1)) for text in texts]
    try:
        assert all(not u.finished for u in rows), "pick texts whose first token is not EOS"
        lengths = [u.length for u in rows]
        positions = [u.length + u.rope_delta for u in rows]
        embeds = torch.randn(len(rows), 1, model.frames.talker.config.hidden_size)
        saved = [t.clone() for t in frames.cache_tensors()]
        eager = frames.next_logits(frames._talker_decode(embeds, lengths, positions))
        for tensor, copy in zip(frames.cache_tensors(), saved, strict=True):
            tensor.copy_(copy)
        slots = frames.talker_cache.slots
        visible = torch.arange(slots).unsqueeze(0) <= torch.tensor(lengths).unsqueeze(1)
        _, masked = frames.talker_step_masked(
            embeds,
            torch.tensor(lengths).unsqueeze(1),
            torch.tensor(positions).unsqueeze(1),
            visible,
        )
        assert torch.allclose(masked, eager, atol=1e-4)
    finally:
        for utterance in list(frames.active):
            frames.remove(utterance)
