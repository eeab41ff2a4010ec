"""Random-weight Qwen3-TTS checkpoints, built offline with the real ``qwen_tts`` classes.

``build_checkpoint(out_dir, kind, size=...)`` writes a folder that
``qwen_tts.Qwen3TTSModel.from_pretrained(out_dir)`` loads without any network access:

- ``config.json`` + ``model.safetensors``: a ``Qwen3TTSForConditionalGeneration`` of one kind
  (``custom_voice`` | ``base`` | ``voice_design``);
- a Qwen2-style byte-level BPE text tokenizer (``tokenizer.json``, ``vocab.json``, ``merges.txt``,
  ``tokenizer_config.json``, ...), trained here in milliseconds;
- ``generation_config.json`` with the published checkpoints' sampling defaults;
- ``speech_tokenizer/``: the 12 Hz codec (``Qwen3TTSTokenizerV2Model``: a Mimi encoder and the
  Qwen decoder) with its ``preprocessor_config.json`` (``EncodecFeatureExtractor``).

Sizes:

- ``"tiny"``: small widths and depths, but every interface dimension of the real model: 16 code
  groups of 2048 entries (talker vocabulary 3072), the real codec special/language/speaker ids,
  1920 samples per frame at 24 kHz, the codec decoder's real upsample rates and its sliding window
  of 72. Build + save takes about 0.3 s and loading 0.1 s; a 30-frame generate call about 0.7 s
  on one thread.
- ``"0.6B"`` / ``"1.7B"``: the published architecture sizes, for benchmarks (about 20 s / 35 s to
  build on two cores, 2.1 / 3.9 GB). Weights are random and stored in bfloat16, like the
  published files. The text tokenizer stays the small one; the text embedding keeps Qwen's
  151936 rows, most of them unused.

Weight initialisation (see FACTS.md, "Building a tiny model offline"), all from ``seed``:

- talker and code predictor: linear and embedding weights ~ N(0, 0.5) for ``tiny`` (so that the
  speaker, instruction or reference changes the codes), N(0, 0.02) for the real sizes;
- codec (encoder and decoder): variance-preserving random weights and random codebooks, so that
  every code decodes to noise of about 0.15 RMS that changes with the code, and the encoder maps
  different audio frames to different codes (HF's std 0.02 gives ~1e-8; torch's defaults give a
  code-independent signal set by the biases);
- speaker encoder (``base``): torch's defaults.

Random weights sample EOS at random and rarely: with ``max_new_tokens`` unset a call runs to the
checkpoint's 8192 frames, so always pass it.

Use: ``from tests.checkpoints import build_checkpoint`` (the conftest's session fixtures
``custom_voice_checkpoint``, ``base_checkpoint`` and ``voice_design_checkpoint`` build tiny ones).
Manual: ``python tests/checkpoints.py OUT_DIR --kind custom_voice --size 0.6B``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

KINDS = ("custom_voice", "base", "voice_design")
SIZES = ("tiny", "0.6B", "1.7B")

SAMPLE_RATE = 24000
FRAME_SAMPLES = 1920  # one 12.5 Hz codec frame at 24 kHz
NUM_CODE_GROUPS = 16
CODEBOOK_SIZE = 2048
TALKER_VOCAB = CODEBOOK_SIZE + 1024  # codec special, language and speaker ids live in the top 1024

# Codec-side special ids, languages and premium speakers of the published checkpoints.
CODEC_IDS = {
    "codec_pad_id": 2148,
    "codec_bos_id": 2149,
    "codec_eos_token_id": 2150,
    "codec_think_id": 2154,
    "codec_nothink_id": 2155,
    "codec_think_bos_id": 2156,
    "codec_think_eos_id": 2157,
}
LANGUAGE_IDS = {
    "chinese": 2055,
    "english": 2050,
    "german": 2053,
    "italian": 2070,
    "portuguese": 2071,
    "spanish": 2054,
    "japanese": 2058,
    "korean": 2064,
    "french": 2061,
    "russian": 2069,
}
DIALECT_IDS = {"beijing_dialect": 2074, "sichuan_dialect": 2062}
PREMIUM_SPEAKER_IDS = {
    "serena": 3066,
    "vivian": 3065,
    "uncle_fu": 3010,
    "ryan": 3061,
    "aiden": 2861,
    "ono_anna": 2873,
    "sohee": 2864,
    "eric": 2875,
    "dylan": 2878,
}
SPEAKER_DIALECTS = {"dylan": "beijing_dialect", "eric": "sichuan_dialect"}

GENERATION_CONFIG = {
    "do_sample": True,
    "top_k": 50,
    "top_p": 1.0,
    "temperature": 0.9,
    "repetition_penalty": 1.05,
    "subtalker_dosample": True,
    "subtalker_top_k": 50,
    "subtalker_top_p": 1.0,
    "subtalker_temperature": 0.9,
    "max_new_tokens": 8192,
}

# Qwen2's pre-tokenizer regex (the one in Qwen's tokenizer.json).
_QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# In Qwen's order and relative positions (151643..); ids here follow the trained vocabulary.
_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tts_pad>",
    "<tts_text_bos>",
    "<tts_text_eod>",
)
_CORPUS = (
    "<|im_start|>assistant\nHello, this is a test of the speech system.<|im_end|>\n",
    "<|im_start|>user\nSpeak in a calm, warm voice.<|im_end|>\n",
    "The quick brown fox jumps over the lazy dog. Good morning! How are you today?",
    "Turn on the kitchen lights and set the thermostat to 21 degrees.",
    "It is 7:30 in the evening; the weather is sunny with a light breeze.",
    "She said she would be here by noon, but the train was late again.",
    "A voice assistant answers questions, reads announcements and tells the time.",
    "Guten Tag. Bonjour, ça va? Hola, ¿qué tal? Buongiorno. Olá. Привет, как дела?",
    "你好，欢迎使用语音合成。今天天气很好。こんにちは、元気ですか。안녕하세요.",
    "0123456789 + - * / = % $ € & @ # ( ) [ ] { } < > \" ' : ; , . ! ?",
)


def _sizes(size: str) -> dict[str, Any]:
    """Architecture hyper-parameters per size (everything but ids and vocabularies)."""
    if size == "tiny":
        return {
            "init_std": 0.5,
            "storage_dtype": "float32",
            "talker": dict(
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                head_dim=16,
                text_hidden_size=64,
                mrope_section=[3, 3, 2],  # sums to head_dim / 2
            ),
            "predictor": dict(
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                head_dim=16,
            ),
            "speaker_encoder": dict(
                enc_channels=[32, 32, 32, 32, 96],
                enc_attention_channels=16,
                enc_se_channels=16,
                enc_res2net_scale=8,
            ),
            "codec_decoder": dict(
                codebook_dim=16,
                latent_dim=32,
                hidden_size=32,
                intermediate_size=64,
                num_attention_heads=2,
                num_key_value_heads=2,
                head_dim=16,
                num_hidden_layers=2,
                decoder_dim=32,  # divisible by 2**len(upsample_rates)
            ),
            "codec_encoder": dict(
                hidden_size=16,
                num_filters=4,
                intermediate_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                num_key_value_heads=2,
                head_dim=8,
                codebook_dim=16,
                num_quantizers=NUM_CODE_GROUPS,
                vector_quantization_hidden_dimension=16,
                upsample_groups=16,
            ),
        }
    hidden, mlp = (1024, 3072) if size == "0.6B" else (2048, 6144)
    return {
        "init_std": 0.02,
        "storage_dtype": "bfloat16",
        "talker": dict(
            hidden_size=hidden,
            intermediate_size=mlp,
            num_hidden_layers=28,
            num_attention_heads=16,
            num_key_value_heads=8,
            head_dim=128,
            text_hidden_size=2048,
            mrope_section=[24, 20, 20],
        ),
        "predictor": dict(
            hidden_size=1024,
            intermediate_size=3072,
            num_hidden_layers=5,
            num_attention_heads=16,
            num_key_value_heads=8,
            head_dim=128,
        ),
        "speaker_encoder": dict(
            enc_channels=[512, 512, 512, 512, 1536],
            enc_attention_channels=128,
            enc_se_channels=128,
            enc_res2net_scale=8,
        ),
        "codec_decoder": dict(
            codebook_dim=512,
            latent_dim=1024,
            hidden_size=512,
            intermediate_size=1024,
            num_attention_heads=16,
            num_key_value_heads=16,
            head_dim=64,
            num_hidden_layers=8,
            decoder_dim=1536,
        ),
        "codec_encoder": dict(  # transformers' MimiConfig defaults (Kyutai's Mimi)
            hidden_size=512,
            num_filters=64,
            intermediate_size=2048,
            num_hidden_layers=8,
            num_attention_heads=8,
            num_key_value_heads=8,
            head_dim=64,
            codebook_dim=256,
            num_quantizers=32,
            vector_quantization_hidden_dimension=256,
            upsample_groups=512,
        ),
    }


# ---------------------------------------------------------------------------------------------
# Text tokenizer


def _build_text_tokenizer():
    """A Qwen2TokenizerFast over a byte-level BPE trained on a small built-in corpus."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )
    from transformers import Qwen2TokenizerFast

    backend = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    backend.normalizer = normalizers.NFC()
    # transformers replaces pre_tokenizer[0] when loading with fix_mistral_regex=True (qwen_tts
    # does), so this must be a Sequence whose first element is the regex Split.
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel(
        add_prefix_space=False, trim_offsets=False, use_regex=False
    )
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    # "assistant" and "user" must become single tokens: generate() slices "<|im_start|>assistant\n"
    # as exactly three ids.
    corpus = [line.replace("<|im_start|>", "").replace("<|im_end|>", "") for line in _CORPUS]
    corpus += ["assistant\nuser\nsystem\n"] * 20
    backend.train_from_iterator(corpus, trainer=trainer)
    # After the learned vocabulary and in Qwen's order, as in Qwen's tokenizer (151643, ...).
    backend.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in _SPECIAL_TOKENS]
    )

    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=backend,
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        errors="replace",
        model_max_length=131072,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        add_prefix_space=False,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(_SPECIAL_TOKENS[1:])})
    for piece in ("<|im_start|>assistant\n", "<|im_start|>user\n"):
        n = len(tokenizer(piece)["input_ids"])
        if n != 3:
            raise AssertionError(f"{piece!r} tokenizes to {n} tokens, expected 3")
    return tokenizer


# ---------------------------------------------------------------------------------------------
# Configs


def _speaker_tables(kind: str, speakers: Sequence[str]) -> tuple[dict, dict, dict]:
    """spk_id, spk_is_dialect and codec_language_id for one kind."""
    languages = dict(LANGUAGE_IDS)
    if kind != "custom_voice":
        return {}, {}, languages
    languages.update(DIALECT_IDS)
    names = [s.lower() for s in speakers]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate speakers: {list(speakers)}")
    if not names:
        raise ValueError("a custom_voice checkpoint needs at least one speaker")
    taken = set(CODEC_IDS.values()) | set(languages.values()) | set(PREMIUM_SPEAKER_IDS.values())
    free = (i for i in range(TALKER_VOCAB - 1, CODEBOOK_SIZE, -1) if i not in taken)
    spk_id: dict[str, int] = {}
    spk_is_dialect: dict[str, Any] = {}
    for name in names:
        spk_id[name] = PREMIUM_SPEAKER_IDS[name] if name in PREMIUM_SPEAKER_IDS else next(free)
        spk_is_dialect[name] = SPEAKER_DIALECTS.get(name, False)
    return spk_id, spk_is_dialect, languages


def _model_config(
    kind: str, size: str, speakers: Sequence[str], tokenizer, size_tag: str | None = None
) -> dict[str, Any]:
    """Keyword arguments of ``Qwen3TTSConfig``."""
    dims = _sizes(size)
    talker = dict(dims["talker"])
    mrope_section = talker.pop("mrope_section")
    text_hidden_size = talker.pop("text_hidden_size")
    if size == "tiny":
        text_vocab_size = int(math.ceil(len(tokenizer) / 64) * 64)
    else:
        text_vocab_size = 151936  # Qwen's; rows past the small tokenizer's vocabulary are unused
    spk_id, spk_is_dialect, languages = _speaker_tables(kind, speakers)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _SPECIAL_TOKENS}
    predictor = dict(
        dims["predictor"],
        vocab_size=CODEBOOK_SIZE,
        num_code_groups=NUM_CODE_GROUPS,
        max_position_embeddings=65536,
        rope_theta=1000000,
        rms_norm_eps=1e-6,
        hidden_act="silu",
        initializer_range=dims["init_std"],
        use_sliding_window=False,
        attention_bias=False,
    )
    talker_config = dict(
        talker,
        code_predictor_config=predictor,
        vocab_size=TALKER_VOCAB,
        text_vocab_size=text_vocab_size,
        text_hidden_size=text_hidden_size,
        num_code_groups=NUM_CODE_GROUPS,
        hidden_act="silu",
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        rope_theta=1000000,
        rope_scaling={"interleaved": True, "mrope_section": mrope_section, "rope_type": "default"},
        initializer_range=dims["init_std"],
        attention_bias=False,
        use_sliding_window=False,
        spk_id=spk_id,
        spk_is_dialect=spk_is_dialect,
        codec_language_id=languages,
        **CODEC_IDS,
    )
    speaker_encoder_config = dict(
        dims["speaker_encoder"],
        mel_dim=128,
        enc_dim=talker["hidden_size"],
        enc_kernel_sizes=[5, 3, 3, 3, 1],
        enc_dilations=[1, 2, 3, 4, 1],
        sample_rate=SAMPLE_RATE,
    )
    return dict(
        talker_config=talker_config,
        speaker_encoder_config=speaker_encoder_config,
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size=size_tag or ("1b7" if size == "1.7B" else "0b6"),
        tts_model_type=kind,
        im_start_token_id=ids["<|im_start|>"],
        im_end_token_id=ids["<|im_end|>"],
        tts_pad_token_id=ids["<tts_pad>"],
        tts_bos_token_id=ids["<tts_text_bos>"],
        tts_eos_token_id=ids["<tts_text_eod>"],
        architectures=["Qwen3TTSForConditionalGeneration"],
        dtype=dims["storage_dtype"],
    )


def _codec_config(size: str) -> dict[str, Any]:
    """Keyword arguments of ``Qwen3TTSTokenizerV2Config`` (the 12 Hz codec)."""
    dims = _sizes(size)
    decoder = dict(
        dims["codec_decoder"],
        codebook_size=CODEBOOK_SIZE,
        num_quantizers=NUM_CODE_GROUPS,
        num_semantic_quantizers=1,
        semantic_codebook_size=4096,
        upsample_rates=[8, 5, 4, 3],
        upsampling_ratios=[2, 2],
        sliding_window=72,
        max_position_embeddings=8000,
        rope_theta=10000,
        rms_norm_eps=1e-5,
        layer_scale_initial_scale=0.01,
        attention_bias=False,
        attention_dropout=0.0,
        hidden_act="silu",
    )
    encoder = dict(
        dims["codec_encoder"],
        sampling_rate=SAMPLE_RATE,
        frame_rate=12.5,
        audio_channels=1,
        codebook_size=CODEBOOK_SIZE,
        num_semantic_quantizers=1,
        num_residual_layers=1,
        upsampling_ratios=[8, 6, 5, 4],
        kernel_size=7,
        last_kernel_size=3,
        residual_kernel_size=3,
        dilation_growth_rate=2,
        use_causal_conv=True,
        pad_mode="constant",
        compress=2,
        trim_right_ratio=1.0,
        use_conv_shortcut=False,
        hidden_act="gelu",
        max_position_embeddings=8000,
        norm_eps=1e-5,
        use_cache=False,
        use_streaming=False,
        rope_theta=10000.0,
        sliding_window=250,
        layer_scale_initial_scale=0.01,
        attention_bias=False,
    )
    return dict(
        encoder_config=encoder,
        decoder_config=decoder,
        encoder_valid_num_quantizers=NUM_CODE_GROUPS,
        input_sample_rate=SAMPLE_RATE,
        output_sample_rate=SAMPLE_RATE,
        decode_upsample_rate=FRAME_SAMPLES,
        encode_downsample_rate=FRAME_SAMPLES,
        architectures=["Qwen3TTSTokenizerV2Model"],
        dtype=dims["storage_dtype"],
    )


# ---------------------------------------------------------------------------------------------
# Weight initialisation


def _init_weights(
    root, mode: str, generator, *, std: float = 0.02, gains: dict[str, float] | None = None
) -> set[int]:
    """Initialise every parameter and codebook under ``root`` from ``generator``.

    Linear, embedding and conv weights by ``mode``:

    - ``"normal"``: N(0, std) and zero biases (HF's scheme; the talker, with a large std for tiny
      checkpoints so that the speaker id changes the codes).
    - ``"torch"``: torch's defaults, U(+-1/sqrt(fan_in)) for weights and biases.
    - ``"audible"``: variance-preserving N(0, gain^2/fan_in) with zero biases, where a transposed
      conv's fan-in counts the taps that reach one output, and the codec decoder's residual
      branches end in gain 0.3. The codec decoder then turns every code into noise that changes
      with each code, rather than a code-independent signal set by the biases (torch defaults)
      or ~1e-8 (HF's std 0.02); the encoder maps different frames to different codes.
      ``gains`` overrides the gain of named modules (the decoder's output conv).

    Norms get weight 1 / bias 0, module-specific parameters their constructors' values, and
    codebooks random N(0, 1) entries. Raises on a parameter it does not know.
    """
    import torch
    from torch import nn

    if mode not in ("normal", "torch", "audible"):
        raise ValueError(mode)

    def randn_(t, scale):
        t.normal_(0.0, scale, generator=generator)

    def uniform_(t, bound):
        t.uniform_(-bound, bound, generator=generator)

    modules = dict(root.named_modules())
    gains = gains or {}
    unknown = set(gains) - set(modules)
    if unknown:
        raise ValueError(f"no such modules: {sorted(unknown)}")

    done: set[int] = set()
    with torch.no_grad():
        for name, module in modules.items():
            own = dict(module.named_parameters(recurse=False))
            cls = type(module).__name__
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv3d, nn.ConvTranspose1d)):
                weight, bias = module.weight, module.bias
                if isinstance(module, nn.Linear):
                    fan_in = weight.shape[1]
                elif isinstance(module, nn.ConvTranspose1d):
                    fan_in = weight.shape[1] * module.groups * math.prod(weight.shape[2:])
                else:
                    fan_in = weight.shape[1] * math.prod(weight.shape[2:])
                if mode == "normal":
                    randn_(weight, std)
                    if bias is not None:
                        bias.zero_()
                elif mode == "torch":
                    bound = 1.0 / math.sqrt(fan_in)
                    uniform_(weight, bound)
                    if bias is not None:
                        uniform_(bias, bound)
                else:
                    if isinstance(module, nn.ConvTranspose1d):
                        fan_in = (
                            weight.shape[0] * weight.shape[2] / module.stride[0] / module.groups
                        )
                    gain = 0.3 if cls == "Conv1d" and name.endswith("conv2.conv") else 1.0
                    gain = gains.get(name, gain)
                    randn_(weight, gain / math.sqrt(fan_in))
                    if bias is not None:
                        bias.zero_()
            elif isinstance(module, nn.Embedding):
                randn_(module.weight, std if mode == "normal" else 1.0)
            elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)):
                if module.weight is not None:
                    module.weight.fill_(1.0)
                if module.bias is not None:
                    module.bias.zero_()
                if isinstance(module, nn.BatchNorm1d):
                    module.reset_running_stats()
            elif cls.endswith("RMSNorm"):
                module.weight.fill_(1.0)
            elif cls == "SnakeBeta":
                module.alpha.zero_()
                module.beta.zero_()
            elif cls.endswith("LayerScale"):
                module.scale.fill_(0.01)  # layer_scale_initial_scale, codec encoder and decoder
            elif cls.endswith("ConvNeXtBlock"):
                module.gamma.fill_(1e-6)
                own = {"gamma": module.gamma}
            elif cls == "EuclideanCodebook":  # codec decoder
                randn_(module.embedding_sum, 1.0)
                module.cluster_usage.fill_(1.0)
            elif cls == "MimiEuclideanCodebook":  # codec encoder; these are buffers
                randn_(module.embed_sum, 1.0)
                module.cluster_usage.fill_(1.0)
                module.initialized.fill_(1.0)
                module._embed = None
            done.update(id(p) for p in own.values())
    missing = [n for n, p in root.named_parameters() if id(p) not in done]
    if missing:
        raise RuntimeError(f"parameters left uninitialised: {missing[:10]}")
    return done


# ---------------------------------------------------------------------------------------------
# Build


def build_checkpoint(
    out_dir: Path,
    kind: str,
    *,
    size: str = "tiny",
    speakers: Sequence[str] = ("vivian", "ryan", "ono_anna", "dylan"),
    seed: int = 0,
    size_tag: str | None = None,
    brief: bool = False,
    storage_dtype: str | None = None,
    codec_seed: int | None = None,
) -> Path:
    """Write a random-weight Qwen3-TTS checkpoint of ``kind`` and ``size`` into ``out_dir``.

    ``speakers`` names the premium speakers of a ``custom_voice`` checkpoint (lower-cased; the
    published names get their published codec ids, others free ids); ``base`` and
    ``voice_design`` checkpoints have none, like the published ones. ``size_tag`` overrides the
    config's ``tts_model_size`` ("0b6" | "1b7"), which qwen-tts reads to decide whether a
    CustomVoice checkpoint follows instructions: a tiny checkpoint tagged "1b7" does. A
    ``brief`` checkpoint's talker head gives every code but end-of-speech a zero logit and
    end-of-speech a large one of random sign, so an utterance ends after about two frames
    instead of running to its frame budget: long texts are then cheap to speak.
    ``storage_dtype`` ("float32" | "bfloat16") overrides the size's dtype of the saved weights.
    With a ``codec_seed`` the codec is initialised from a generator of its own, so checkpoints of
    any kind built with the same ``codec_seed`` and size have identical codec files, as the
    published ones do. Returns ``out_dir``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, not {size!r}")
    if isinstance(speakers, str):
        raise ValueError("speakers must be a sequence of names, not a string")

    import torch
    from transformers import EncodecFeatureExtractor
    from transformers.modeling_utils import no_init_weights

    from wyoming_qwen_tts.engine.compat import import_qwen_tts

    import_qwen_tts()  # before any qwen_tts import: stubs its unused optional dependencies
    from qwen_tts.core import Qwen3TTSTokenizerV2Config, Qwen3TTSTokenizerV2Model
    from qwen_tts.core.models import (
        Qwen3TTSConfig,
        Qwen3TTSForConditionalGeneration,
        Qwen3TTSProcessor,
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dims = _sizes(size)
    if storage_dtype is not None:
        dims["storage_dtype"] = storage_dtype
    storage = getattr(torch, dims["storage_dtype"])

    tokenizer = _build_text_tokenizer()
    model_config = _model_config(kind, size, speakers, tokenizer, size_tag)
    codec_config_kwargs = _codec_config(size)
    model_config["dtype"] = codec_config_kwargs["dtype"] = dims["storage_dtype"]
    config = Qwen3TTSConfig(**model_config)
    codec_config = Qwen3TTSTokenizerV2Config(**codec_config_kwargs)

    generator = torch.Generator().manual_seed(seed)
    previous_dtype = torch.get_default_dtype()
    try:
        # Allocate without initialising (HF init and torch.nn.init are skipped), straight in the
        # storage dtype; _init_weights below then sets every parameter from `generator`.
        torch.set_default_dtype(storage)
        with no_init_weights():
            model = Qwen3TTSForConditionalGeneration(config)
            codec = Qwen3TTSTokenizerV2Model(codec_config)
    finally:
        torch.set_default_dtype(previous_dtype)
    done = _init_weights(model.talker, "normal", generator, std=dims["init_std"])
    if model.speaker_encoder is not None:
        done |= _init_weights(model.speaker_encoder, "torch", generator)
    if codec_seed is not None:
        generator = torch.Generator().manual_seed(codec_seed)
    # The codec encoder (Mimi) also needs activations of about unit size, or every frame
    # quantises to the same codes.
    done |= _init_weights(codec.encoder, "audible", generator)
    output_conv = f"decoder.{len(codec.decoder.decoder) - 1}.conv"
    done |= _init_weights(codec.decoder, "audible", generator, gains={output_conv: 0.07})
    for root in (model, codec):
        missing = [n for n, p in root.named_parameters() if id(p) not in done]
        if missing:
            raise RuntimeError(f"parameters left uninitialised: {missing[:10]}")
    if brief:
        with torch.no_grad():
            head = model.talker.codec_head.weight
            eos = config.talker_config.codec_eos_token_id
            eos_row = head[eos].clone() * 1000.0
            head.zero_()
            head[eos] = eos_row
    model.eval()
    codec.eval()

    model.save_pretrained(out_dir, safe_serialization=True)
    _fix_saved_config(out_dir / "config.json")
    (out_dir / "generation_config.json").write_text(json.dumps(GENERATION_CONFIG, indent=2) + "\n")
    processor = Qwen3TTSProcessor(tokenizer=tokenizer)
    processor.save_pretrained(out_dir)

    (out_dir / "preprocessor_config.json").write_text(
        json.dumps({"processor_class": "Qwen3TTSProcessor"}, indent=2) + "\n"
    )

    codec_dir = out_dir / "speech_tokenizer"
    codec.save_pretrained(codec_dir, safe_serialization=True)
    _fix_saved_config(codec_dir / "config.json")
    generation = codec_dir / "generation_config.json"
    if generation.exists():
        generation.unlink()
    EncodecFeatureExtractor(
        feature_size=1,
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        padding_side="right",
        return_attention_mask=True,
    ).save_pretrained(codec_dir)
    return out_dir


def _fix_saved_config(path: Path) -> None:
    """Undo what save_pretrained writes that from_pretrained cannot read back.

    Sub-configs without a model_type (the speaker encoder's, the codec decoder's) are saved with
    ``"model_type": ""``; reloading the speaker encoder's then fails.
    """
    data = json.loads(path.read_text())
    for value in data.values():
        if isinstance(value, dict) and value.get("model_type", None) == "":
            del value["model_type"]
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--kind", choices=KINDS, default="custom_voice")
    parser.add_argument("--size", choices=SIZES, default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speakers", default="vivian,ryan,ono_anna,dylan")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    build_checkpoint(
        args.out_dir,
        args.kind,
        size=args.size,
        speakers=[s for s in args.speakers.split(",") if s],
        seed=args.seed,
    )
    print(f"built {args.size} {args.kind} in {time.perf_counter() - start:.2f} s: {args.out_dir}")


if __name__ == "__main__":
    _main()
