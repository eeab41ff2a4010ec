"""The tiny random checkpoints load and run through upstream qwen_tts, for every kind.

These pin what the rest of the suite relies on: ``Qwen3TTSModel.from_pretrained`` reads the
folder offline, each kind's generate call returns 1-D float32 audio at 24 kHz in whole 1920-sample
frames, the audio is finite and audible, and it depends on the voice (speaker, instruction or
reference clip). Random weights sample EOS at random, so lengths are bounded, never pinned.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from .checkpoints import (
    CODEBOOK_SIZE,
    FRAME_SAMPLES,
    GENERATION_CONFIG,
    LANGUAGE_IDS,
    NUM_CODE_GROUPS,
    SAMPLE_RATE,
    TALKER_VOCAB,
    build_checkpoint,
)

SEED = 1234
MAX_NEW_TOKENS = 30
TEXT = "Hello there, the kitchen lights are on."
SPEAKERS = ["vivian", "ryan", "ono_anna", "dylan"]


def _load(path: Path):
    import torch

    from wyoming_qwen_tts.engine.compat import import_qwen_tts

    qwen_tts = import_qwen_tts()
    return qwen_tts.Qwen3TTSModel.from_pretrained(str(path), device_map="cpu", dtype=torch.float32)


@pytest.fixture(scope="module")
def custom_voice(custom_voice_checkpoint: Path):
    return _load(custom_voice_checkpoint)


@pytest.fixture(scope="module")
def base(base_checkpoint: Path):
    return _load(base_checkpoint)


@pytest.fixture(scope="module")
def voice_design(voice_design_checkpoint: Path):
    return _load(voice_design_checkpoint)


def _generate(method, **kwargs) -> np.ndarray:
    import torch

    torch.manual_seed(SEED)
    wavs, sr = method(max_new_tokens=MAX_NEW_TOKENS, **kwargs)
    assert sr == SAMPLE_RATE
    assert isinstance(wavs, list) and len(wavs) == 1
    return wavs[0]


def _check_audio(wav: np.ndarray, *, icl: bool = False) -> int:
    """Check one generated waveform; return its length in frames."""
    assert isinstance(wav, np.ndarray)
    assert wav.ndim == 1
    assert wav.dtype == np.float32
    # Upstream drops the ICL reference's share of the decoded audio with
    # int(ref_len / total_len * n_samples), which float rounding can leave one sample short of a
    # frame boundary; everything else is whole frames.
    remainder = len(wav) % FRAME_SAMPLES
    assert remainder == 0 or (icl and remainder == 1), len(wav)
    frames = len(wav) // FRAME_SAMPLES
    # At least one frame (upstream sets min_new_tokens=2); at most one per new token.
    assert 1 <= frames <= MAX_NEW_TOKENS
    assert np.isfinite(wav).all()
    assert np.abs(wav).max() <= 1.0  # the codec clamps
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64))))
    assert rms > 1e-2, f"silent: rms {rms}"
    return frames


def _differ(a: np.ndarray, b: np.ndarray) -> bool:
    n = min(len(a), len(b))
    return len(a) != len(b) or not np.allclose(a[:n], b[:n], atol=1e-3)


def _reference_clip(seed: int, seconds: float = 1.5) -> np.ndarray:
    """A 24 kHz reference 'voice': noise-modulated harmonics. At 24 kHz, so no resampling."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = rng.uniform(90.0, 260.0)
    wave = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
    wave = wave * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2.0, 5.0) * t)) * 0.2
    wave += 0.02 * rng.standard_normal(t.shape)
    return wave.astype(np.float32)


# --- build ------------------------------------------------------------------------------------


def test_bad_kind_or_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        build_checkpoint(tmp_path / "a", "premium")
    with pytest.raises(ValueError, match="size"):
        build_checkpoint(tmp_path / "b", "base", size="7B")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_same_seed_same_files_other_seed_other_weights(tmp_path: Path) -> None:
    def digests(path: Path) -> dict[str, str]:
        return {
            p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*"))
            if p.is_file()
        }

    one = digests(build_checkpoint(tmp_path / "one", "voice_design", seed=7))
    two = digests(build_checkpoint(tmp_path / "two", "voice_design", seed=7))
    other = digests(build_checkpoint(tmp_path / "other", "voice_design", seed=8))
    assert one == two
    assert {name for name in one if one[name] != other[name]} == {
        "model.safetensors",
        "speech_tokenizer/model.safetensors",
    }


@pytest.mark.parametrize("kind", ["custom_voice", "base", "voice_design"])
def test_config_is_shaped_like_the_published_one(kind: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(f"{kind}_checkpoint")
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "qwen3_tts"
    assert config["tts_model_type"] == kind
    assert config["tts_model_size"] == "0b6"
    assert config["tokenizer_type"] == "qwen3_tts_tokenizer_12hz"
    talker = config["talker_config"]
    assert talker["vocab_size"] == TALKER_VOCAB == CODEBOOK_SIZE + 1024
    assert talker["num_code_groups"] == NUM_CODE_GROUPS
    assert talker["code_predictor_config"]["vocab_size"] == CODEBOOK_SIZE
    assert talker["code_predictor_config"]["num_code_groups"] == NUM_CODE_GROUPS
    assert sum(talker["rope_scaling"]["mrope_section"]) * 2 == talker["head_dim"]
    assert LANGUAGE_IDS.items() <= talker["codec_language_id"].items()
    if kind == "custom_voice":
        assert sorted(talker["spk_id"]) == sorted(SPEAKERS)
        assert talker["spk_is_dialect"] == {
            "vivian": False,
            "ryan": False,
            "ono_anna": False,
            "dylan": "beijing_dialect",
        }
        assert "beijing_dialect" in talker["codec_language_id"]
    else:
        assert talker["spk_id"] == {} and talker["spk_is_dialect"] == {}
    if kind == "base":
        encoder = config["speaker_encoder_config"]
        assert encoder["mel_dim"] == 128 and encoder["enc_dim"] == talker["hidden_size"]
        assert "model_type" not in encoder
    assert json.loads((path / "generation_config.json").read_text()) == GENERATION_CONFIG

    codec = json.loads((path / "speech_tokenizer" / "config.json").read_text())
    assert codec["model_type"] == "qwen3_tts_tokenizer_12hz"
    assert codec["output_sample_rate"] == codec["input_sample_rate"] == SAMPLE_RATE
    assert codec["decode_upsample_rate"] == codec["encode_downsample_rate"] == FRAME_SAMPLES
    decoder = codec["decoder_config"]
    assert decoder["codebook_size"] == CODEBOOK_SIZE
    assert decoder["num_quantizers"] == NUM_CODE_GROUPS
    assert decoder["sliding_window"] == 72
    assert np.prod(decoder["upsample_rates"] + decoder["upsampling_ratios"]) == FRAME_SAMPLES
    assert decoder["decoder_dim"] % 2 ** len(decoder["upsample_rates"]) == 0
    features = json.loads((path / "speech_tokenizer" / "preprocessor_config.json").read_text())
    assert features["feature_extractor_type"] == "EncodecFeatureExtractor"
    assert features["sampling_rate"] == SAMPLE_RATE


@pytest.mark.parametrize(
    ("size", "params"),
    [("0.6B", 905_788_672), ("1.7B", 1_916_676_352)],
)
def test_real_sizes_have_the_published_architecture(size: str, params: int) -> None:
    """Builds the real-size modules on the meta device (no weights) and counts parameters."""
    import torch

    from wyoming_qwen_tts.engine.compat import import_qwen_tts

    from . import checkpoints

    import_qwen_tts()
    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration

    tokenizer = checkpoints._build_text_tokenizer()
    config = Qwen3TTSConfig(**checkpoints._model_config("custom_voice", size, SPEAKERS, tokenizer))
    with torch.device("meta"):
        model = Qwen3TTSForConditionalGeneration(config)
    talker = config.talker_config
    assert (talker.num_hidden_layers, talker.num_attention_heads, talker.num_key_value_heads) == (
        28,
        16,
        8,
    )
    assert talker.hidden_size == (1024 if size == "0.6B" else 2048)
    assert talker.code_predictor_config.num_hidden_layers == 5
    assert config.tts_model_size == ("0b6" if size == "0.6B" else "1b7")
    assert sum(p.numel() for p in model.parameters()) == params


# --- generate ---------------------------------------------------------------------------------


def test_loads_offline_with_speakers_and_languages(custom_voice, base, voice_design) -> None:
    assert custom_voice.get_supported_speakers() == sorted(SPEAKERS)
    assert base.get_supported_speakers() == []
    assert voice_design.get_supported_speakers() == []
    expected = sorted(["auto", *LANGUAGE_IDS])
    for model in (custom_voice, base, voice_design):
        assert model.get_supported_languages() == expected
        assert model.generate_defaults == GENERATION_CONFIG
        assert model.model.speech_tokenizer.get_output_sample_rate() == SAMPLE_RATE


def test_custom_voice_depends_on_the_speaker_and_the_seed_only(custom_voice) -> None:
    vivian = _generate(
        custom_voice.generate_custom_voice, text=TEXT, speaker="Vivian", language="English"
    )
    again = _generate(
        custom_voice.generate_custom_voice, text=TEXT, speaker="vivian", language="English"
    )
    ryan = _generate(
        custom_voice.generate_custom_voice, text=TEXT, speaker="ryan", language="English"
    )
    for wav in (vivian, ryan):
        _check_audio(wav)
    np.testing.assert_array_equal(vivian, again)
    assert _differ(vivian, ryan)


def test_custom_voice_dialect_speaker_with_auto_language(custom_voice) -> None:
    # Auto (or Chinese) with a dialect speaker takes upstream's codec_language_id[dialect] path.
    _check_audio(
        _generate(custom_voice.generate_custom_voice, text="你好，今天天气很好。", speaker="dylan")
    )


def test_custom_voice_rejects_an_unknown_speaker(custom_voice) -> None:
    with pytest.raises(ValueError, match="Unsupported speakers"):
        custom_voice.generate_custom_voice(text=TEXT, speaker="serena", max_new_tokens=2)


def test_voice_design_depends_on_the_instruction(voice_design) -> None:
    calm = _generate(
        voice_design.generate_voice_design, text=TEXT, instruct="A calm, warm female voice."
    )
    gruff = _generate(
        voice_design.generate_voice_design,
        text=TEXT,
        instruct="A gruff old man, shouting.",
        language="English",
    )
    for wav in (calm, gruff):
        _check_audio(wav)
    assert _differ(calm, gruff)


def test_voice_clone_icl_and_x_vector_prompts(base) -> None:
    import torch

    ref = _reference_clip(1)
    icl = base.create_voice_clone_prompt(ref_audio=(ref, SAMPLE_RATE), ref_text="This is my voice.")
    xvec = base.create_voice_clone_prompt(ref_audio=(ref, SAMPLE_RATE), x_vector_only_mode=True)
    assert icl[0].icl_mode and not icl[0].x_vector_only_mode
    assert icl[0].ref_code.shape == (-(-len(ref) // FRAME_SAMPLES), NUM_CODE_GROUPS)
    assert len(torch.unique(icl[0].ref_code[:, 0])) > 1  # the codec encoder tells frames apart
    assert xvec[0].x_vector_only_mode and xvec[0].ref_code is None
    assert icl[0].ref_spk_embedding.shape == (base.model.config.talker_config.hidden_size,)
    torch.testing.assert_close(icl[0].ref_spk_embedding, xvec[0].ref_spk_embedding)

    # Prompts survive a save/load round trip (a cloned voice is prepared once).
    buffer = io.BytesIO()
    torch.save(icl, buffer)
    buffer.seek(0)
    icl = torch.load(buffer, weights_only=False)

    from_icl = _generate(base.generate_voice_clone, text=TEXT, voice_clone_prompt=icl)
    from_xvec = _generate(base.generate_voice_clone, text=TEXT, voice_clone_prompt=xvec)
    _check_audio(from_icl, icl=True)
    _check_audio(from_xvec)
    assert _differ(from_icl, from_xvec)


def test_voice_clone_depends_on_the_reference(base) -> None:
    one, two = _reference_clip(1), _reference_clip(2)
    first = _generate(
        base.generate_voice_clone, text=TEXT, ref_audio=(one, SAMPLE_RATE), x_vector_only_mode=True
    )
    second = _generate(
        base.generate_voice_clone, text=TEXT, ref_audio=(two, SAMPLE_RATE), x_vector_only_mode=True
    )
    for wav in (first, second):
        _check_audio(wav)
    assert _differ(first, second)


def test_each_kind_refuses_the_other_kinds_calls(custom_voice, base, voice_design) -> None:
    with pytest.raises(ValueError, match="does not support"):
        base.generate_custom_voice(text=TEXT, speaker="vivian")
    with pytest.raises(ValueError, match="does not support"):
        custom_voice.generate_voice_design(text=TEXT, instruct="calm")
    with pytest.raises(ValueError, match="does not support"):
        voice_design.create_voice_clone_prompt(ref_audio=(_reference_clip(1), SAMPLE_RATE))
