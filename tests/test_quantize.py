"""Quantized weights (``--quantize int8|int4``): each mode loads, speaks, stops at its budget and
batches exactly; the weights are kept on disk; and it is refused where it cannot run."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from wyoming_qwen_tts.app.compose import load_options
from wyoming_qwen_tts.audio.pcm import pcm16_to_float
from wyoming_qwen_tts.engine import model as model_module
from wyoming_qwen_tts.engine import quantize
from wyoming_qwen_tts.engine.engine import Engine
from wyoming_qwen_tts.engine.interface import (
    CollectingSink,
    ModelKind,
    ModelLoadError,
    SynthesisRequest,
)
from wyoming_qwen_tts.engine.model import GenerationInput, QwenModel
from wyoming_qwen_tts.engine.quantize import Kernels, QuantizedLinear, Quantizer
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.text.sentences import frame_budget
from wyoming_qwen_tts.voices.voice import premium_voice

MODES = ("int8", "int4")
SAMPLES_PER_FRAME = 1920
GIVEN = GenerationInput(language="english", speaker="ryan")
TEXTS = [
    "Room kitchen has a message.",
    "The lights are on in the garage, and the door is open.",
    "Good night.",
]


def load(checkpoint: Path, mode: str, cache: Path, max_batch: int = 1) -> QwenModel:
    settings = Settings(device="cpu", max_batch=max_batch, quantize=mode, cache_dir=cache)
    return QwenModel.load(str(checkpoint), load_options(settings))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quantize_cache")


@pytest.fixture(scope="module")
def models(custom_voice_checkpoint: Path, cache: Path) -> dict[str, QwenModel]:
    return {
        mode: load(custom_voice_checkpoint, mode, cache, max_batch=3) for mode in ("none", *MODES)
    }


def generate(
    model: QwenModel, text: str, max_frames: int, seed: int = 3
) -> tuple[torch.Tensor, bool]:
    """One utterance alone: its frames, and whether it ended by sampling EOS."""
    prompt = model.prompt(text, GIVEN, max_frames)
    utterance = model.frames.add(prompt, torch.Generator().manual_seed(seed))
    frames = []
    while not utterance.finished:
        frames.extend(codes for _, codes in model.frames.step())
    return torch.stack(frames), int(utterance.token.item()) == prompt.eos_token_id


@pytest.mark.parametrize("mode", MODES)
def test_every_linear_layer_of_the_talker_and_predictor_is_quantized_and_its_floats_freed(
    models: dict[str, QwenModel], mode: str
) -> None:
    frames = models[mode].frames
    talker = frames.talker
    assert isinstance(talker.codec_head, QuantizedLinear)
    assert all(isinstance(head, QuantizedLinear) for head in talker.code_predictor.lm_head)
    assert isinstance(talker.text_projection.linear_fc1, QuantizedLinear)
    # The decoder layers' products, fused per layer, live in the frame loop's stacks.
    layers = [*frames.talker_stack.layers, *frames.predictor_stack.layers]
    products = [
        p for layer in layers for p in (layer.qkv, layer.o_proj, layer.gate_up, layer.down_proj)
    ]
    quantized = [m for m in talker.modules() if isinstance(m, QuantizedLinear)] + products
    assert all(isinstance(p, QuantizedLinear) for p in products)
    assert not any(isinstance(m, nn.Linear) and m.weight is not None for m in talker.modules())
    assert all(m.int4 == (mode == "int4") for m in quantized)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_speaks_audible_audio_within_its_budget(
    models: dict[str, QwenModel], mode: str
) -> None:
    engine = Engine({ModelKind.CUSTOM_VOICE: models[mode]}, seed=7)
    text = TEXTS[1]
    sink = CollectingSink()
    engine.synthesize(SynthesisRequest(text=text, voice=premium_voice("ryan")), sink)
    audio = pcm16_to_float(sink.pcm)
    assert np.isfinite(audio).all()
    assert np.abs(audio).max() > 1e-3
    assert 0 < len(audio) <= frame_budget(text) * SAMPLES_PER_FRAME
    assert len(audio) % SAMPLES_PER_FRAME == 0


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_stops_at_its_frame_budget_like_float32(
    models: dict[str, QwenModel], mode: str
) -> None:
    for max_frames, seed in [(6, 1), (12, 2), (20, 3)]:
        exact, exact_eos = generate(models["none"], TEXTS[0], max_frames, seed)
        frames, eos = generate(models[mode], TEXTS[0], max_frames, seed)
        assert not exact_eos and not eos, "random weights seldom sample EOS; pick another seed"
        assert frames.shape == exact.shape
        assert frames.dtype == exact.dtype
        assert 0 <= int(frames.min()) and int(frames.max()) < 2048
    # The quantized codes are not upstream's: the same seed samples others.
    assert not torch.equal(frames, exact)


@pytest.mark.parametrize("mode", MODES)
def test_batched_rows_equal_the_same_rows_alone(models: dict[str, QwenModel], mode: str) -> None:
    model = models[mode]
    alone = {text: generate(model, text, 16)[0] for text in TEXTS}
    together: dict[int, list[torch.Tensor]] = {}
    utterances = {}
    for text in TEXTS:  # join one by one, so that the rows have different lengths
        utterance = model.frames.add(
            model.prompt(text, GIVEN, 16), torch.Generator().manual_seed(3)
        )
        utterances[text] = utterance
        together[id(utterance)] = []
        for u, codes in model.frames.step():
            together[id(u)].append(codes)
    while model.frames.active:
        for u, codes in model.frames.step():
            together[id(u)].append(codes)
    for text, utterance in utterances.items():
        assert torch.equal(torch.stack(together[id(utterance)]), alone[text])


@pytest.mark.parametrize("mode", MODES)
def test_a_restart_reads_the_quantized_weights_from_the_cache(
    custom_voice_checkpoint: Path,
    models: dict[str, QwenModel],
    cache: Path,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = sorted((cache / "quantized").glob(f"*-{mode}-*.pt"))
    assert len(files) == 1

    def refuse(*args: object) -> None:
        raise AssertionError("quantized again despite the cache")

    kernels = quantize.check_kernels(mode)  # its self-check quantizes a small weight: done here
    monkeypatch.setattr(model_module, "check_kernels", lambda scheme: kernels)
    monkeypatch.setattr(quantize, "quantize_weight", refuse)
    with caplog.at_level(logging.INFO, logger="wyoming_qwen_tts.engine.quantize"):
        again = load(custom_voice_checkpoint, mode, cache)
    assert f"Quantized weights ({mode}) from the cache {files[0]}" in caplog.text
    assert torch.equal(generate(again, TEXTS[0], 12)[0], generate(models[mode], TEXTS[0], 12)[0])


def test_a_changed_checkpoint_is_quantized_again_and_its_old_weights_removed(
    custom_voice_checkpoint: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(custom_voice_checkpoint, checkpoint)
    cache = tmp_path / "quantized"
    load(checkpoint, "int4", tmp_path)
    first = list(cache.glob("*.pt"))
    assert len(first) == 1
    first[0].write_bytes(b"not a torch file")
    with caplog.at_level(logging.INFO, logger="wyoming_qwen_tts.engine.quantize"):
        load(checkpoint, "int4", tmp_path)
    assert "Ignoring the quantized weights" in caplog.text
    assert "Quantizing the talker's and code predictor's weights to int4 (once" in caplog.text

    older = cache / f"{first[0].name.rsplit('-', 1)[0]}-0123456789abcdef.pt"
    older.write_bytes(b"an older key")
    (checkpoint / "model.safetensors").touch()  # the fingerprint holds the modification time
    load(checkpoint, "int4", tmp_path)
    remaining = list(cache.glob("*.pt"))
    assert len(remaining) == 1 and remaining[0] not in (first[0], older)


def test_a_layer_whose_shape_the_kernels_cannot_take_stays_float(
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = nn.Sequential(nn.Linear(64, 40), nn.Linear(64, 32, bias=True))
    kernels = quantize.check_kernels("int4")
    quantizer = Quantizer("int4", kernels, root, None)
    with caplog.at_level(logging.INFO, logger="wyoming_qwen_tts.engine.quantize"):
        quantizer.replace_linears(root)
        quantizer.finish()
    assert isinstance(root[0], nn.Linear) and isinstance(root[1], QuantizedLinear)
    assert "Kept 1 linear layers in float" in caplog.text and "0 40x64" in caplog.text
    x = torch.randn(2, 5, 64)
    assert root[1](x).shape == (2, 5, 32)


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps"])
@pytest.mark.parametrize("mode", MODES)
def test_quantized_weights_are_refused_off_the_cpu(
    custom_voice_checkpoint: Path, device: str, mode: str
) -> None:
    options = load_options(Settings(device=device, quantize=mode))
    with pytest.raises(ModelLoadError, match="quantized weights are for the CPU; on a GPU") as err:
        QwenModel.load(str(custom_voice_checkpoint), options)
    assert "--quantize none" in str(err.value)


def test_int4_is_refused_where_torch_lacks_its_kernel(
    custom_voice_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(torch, "_weight_int4pack_mm_for_cpu")
    options = load_options(Settings(device="cpu", quantize="int4"))
    with pytest.raises(ModelLoadError, match="_weight_int4pack_mm_for_cpu") as err:
        QwenModel.load(str(custom_voice_checkpoint), options)
    assert "use --quantize int8, or --quantize none" in str(err.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_kernel_that_computes_something_else_is_refused(
    custom_voice_checkpoint: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "_weight_int4pack_mm_for_cpu" if mode == "int4" else "_weight_int8pack_mm"
    real = getattr(torch, name)
    monkeypatch.setattr(torch, name, lambda x, *rest: real(x, *rest) * 0.5)
    options = load_options(Settings(device="cpu", quantize=mode))
    with pytest.raises(ModelLoadError, match=f"packed {mode} kernel failed its check") as err:
        QwenModel.load(str(custom_voice_checkpoint), options)
    assert "off its float reference" in str(err.value)


def test_the_kernels_follow_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    for capability, machine, activations, vectorized in [
        ("AVX512", "x86_64", torch.bfloat16, True),
        ("AVX2", "x86_64", torch.bfloat16, True),
        ("DEFAULT", "aarch64", torch.float32, True),
        ("DEFAULT", "x86_64", torch.float32, False),
    ]:
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda c=capability: c)
        monkeypatch.setattr(quantize.platform, "machine", lambda m=machine: m)
        assert Kernels.for_this_cpu() == Kernels(capability, activations, vectorized)
