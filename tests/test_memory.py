"""What a loaded checkpoint keeps in memory (``engine.memory``): the text embedding mapped from
its file or in bfloat16 where that is exact, and one codec shared by checkpoints whose codec
files are identical."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from wyoming_qwen_tts.app.compose import load_options
from wyoming_qwen_tts.engine.compat import import_qwen_tts
from wyoming_qwen_tts.engine import model as model_module
from wyoming_qwen_tts.engine.memory import UpcastEmbedding
from wyoming_qwen_tts.engine.model import GenerationInput, QwenModel
from wyoming_qwen_tts.settings.settings import Settings

from .checkpoints import build_checkpoint
from .wyoming_server import write_reference

CODEC_SEED = 5


def load(checkpoint: Path, **settings: object) -> QwenModel:
    options = load_options(Settings(device="cpu", max_batch=1, **settings))
    return QwenModel.load(str(checkpoint), options)


def text_table(model: QwenModel) -> torch.nn.Embedding:
    return model.wrapper.model.talker.model.text_embedding


@pytest.fixture(scope="module")
def bf16_custom_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weights stored in bfloat16, as in the published files, with a codec built like Base's."""
    folder = tmp_path_factory.mktemp("bf16_custom_voice")
    return build_checkpoint(folder, "custom_voice", storage_dtype="bfloat16", codec_seed=CODEC_SEED)


@pytest.fixture(scope="module")
def bf16_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bf16_base")
    return build_checkpoint(folder, "base", storage_dtype="bfloat16", codec_seed=CODEC_SEED)


@pytest.fixture
def no_weights_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints whose weight file is not found, so their table cannot be mapped."""
    monkeypatch.setattr(model_module, "_weights_file", lambda source, options: None)


def mapped_file(tensor: torch.Tensor) -> str | None:
    """The file that the memory holding ``tensor`` is mapped from; None for the heap."""
    address = tensor.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start <= address < end:
            return fields[5] if len(fields) == 6 else None
    return None


def test_a_bfloat16_table_upcast_after_the_lookup_gives_the_float32_rows() -> None:
    table = torch.nn.Embedding(50, 8)
    with torch.no_grad():
        table.weight.copy_(table.weight.to(torch.bfloat16).float())
    narrow = UpcastEmbedding(table, table.weight.detach().to(torch.bfloat16))
    ids = torch.tensor([[0, 7, 49, 7]])
    assert narrow.weight.dtype == torch.bfloat16
    assert narrow(ids).dtype == torch.float32
    assert torch.equal(narrow(ids), table(ids))


@pytest.mark.parametrize("stored", ["bfloat16", "float32"])
def test_the_table_is_mapped_from_the_checkpoint_file(
    stored: str, bf16_custom_voice: Path, custom_voice_checkpoint: Path
) -> None:
    checkpoint = bf16_custom_voice if stored == "bfloat16" else custom_voice_checkpoint
    model = load(checkpoint)
    table = text_table(model)
    assert isinstance(table, UpcastEmbedding)
    assert str(table.weight.dtype) == f"torch.{stored}"
    assert mapped_file(table.weight) == str(checkpoint / "model.safetensors")
    assert next(model.wrapper.model.parameters()).dtype == torch.float32
    assert "dtype=torch.float32" in model.identity


def test_without_its_file_a_table_of_bfloat16_values_is_kept_in_bfloat16(
    bf16_custom_voice: Path, no_weights_file: None
) -> None:
    table = text_table(load(bf16_custom_voice))
    assert isinstance(table, UpcastEmbedding)
    assert table.weight.dtype == torch.bfloat16
    assert mapped_file(table.weight) != str(bf16_custom_voice / "model.safetensors")


def test_without_its_file_a_table_of_float32_values_stays_float32(
    custom_voice_checkpoint: Path, no_weights_file: None
) -> None:
    table = text_table(load(custom_voice_checkpoint))
    assert type(table) is torch.nn.Embedding
    assert table.weight.dtype == torch.float32


def test_quantized_weights_keep_even_a_float32_table_in_bfloat16(
    custom_voice_checkpoint: Path, tmp_path: Path, no_weights_file: None
) -> None:
    table = text_table(load(custom_voice_checkpoint, quantize="int8", cache_dir=tmp_path))
    assert isinstance(table, UpcastEmbedding)
    assert table.weight.dtype == torch.bfloat16


def _upstream_codes(wrapper: object, kwargs: dict, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    with torch.inference_mode():
        codes, _ = wrapper.model.generate(**kwargs)  # type: ignore[attr-defined]
    return codes[0]


@pytest.mark.parametrize("mapped", [True, False], ids=["mapped", "bfloat16"])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_codes_equal_those_of_upstream_with_its_float32_table(
    bf16_custom_voice: Path, seed: int, mapped: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upstream's own model as loaded, float32 table and all, against ours and its frame loop."""
    if not mapped:
        monkeypatch.setattr(model_module, "_weights_file", lambda source, options: None)
    ours = load(bf16_custom_voice)
    assert isinstance(text_table(ours), UpcastEmbedding)
    upstream = import_qwen_tts().Qwen3TTSModel.from_pretrained(
        str(bf16_custom_voice), device_map="cpu", dtype=torch.float32, attn_implementation="sdpa"
    )
    assert upstream.model.talker.model.text_embedding.weight.dtype == torch.float32
    text, given = "Please close the window.", GenerationInput(language="english", speaker="dylan")
    kwargs = ours._generate_kwargs(text, given, 20)
    theirs = _upstream_codes(upstream, kwargs, seed)
    assert torch.equal(_upstream_codes(ours.wrapper, kwargs, seed), theirs)
    torch.manual_seed(seed)
    utterance = ours.frames.add(ours.prompt(text, given, 20))
    frames = []
    while not utterance.finished:
        frames.extend(codes for _, codes in ours.frames.step())
    assert torch.equal(torch.stack(frames), theirs)


def test_checkpoints_with_identical_codec_files_share_one_codec(
    bf16_custom_voice: Path, bf16_base: Path, tmp_path: Path
) -> None:
    custom_voice = load(bf16_custom_voice)
    assert custom_voice.wrapper.model.speech_tokenizer.model.encoder is None, (
        "nothing encodes audio with a CustomVoice checkpoint alone"
    )
    base = load(bf16_base)
    assert base.codec is custom_voice.codec
    tokenizer = base.wrapper.model.speech_tokenizer
    assert tokenizer is custom_voice.wrapper.model.speech_tokenizer
    assert tokenizer.model.encoder is not None, "Base encodes its clone references"
    import soundfile

    write_reference(tmp_path / "ref.wav", 1.0, seed=1)
    audio, rate = soundfile.read(str(tmp_path / "ref.wav"), dtype="float32")
    prompt = base.clone_prompt(audio, rate, "A reference.")
    alone = import_qwen_tts().Qwen3TTSModel.from_pretrained(
        str(bf16_base), device_map="cpu", dtype=torch.float32, attn_implementation="sdpa"
    )
    expected = alone.create_voice_clone_prompt(ref_audio=(audio, rate), ref_text="A reference.")
    assert torch.equal(prompt.ref_code, expected[0].ref_code)


def test_a_base_checkpoint_loaded_first_keeps_its_encoder(
    bf16_custom_voice: Path, bf16_base: Path
) -> None:
    base = load(bf16_base)
    custom_voice = load(bf16_custom_voice)
    assert custom_voice.codec is base.codec
    assert base.wrapper.model.speech_tokenizer.model.encoder is not None


def test_checkpoints_with_other_codecs_keep_their_own(
    custom_voice_checkpoint: Path, base_checkpoint: Path
) -> None:
    custom_voice, base = load(custom_voice_checkpoint), load(base_checkpoint)
    assert custom_voice.codec is not base.codec
    assert base.wrapper.model.speech_tokenizer.model.encoder is not None
