"""The model options' values: the official checkpoints, number formats, quantization schemes and
prebuffering modes, and their checks."""

from __future__ import annotations

from wyoming_qwen_tts.settings.option import FromAddon, addon_choice

DEFAULT_CUSTOM_VOICE_MODEL = "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"
DEFAULT_BASE_MODEL = "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
DEFAULT_VOICE_DESIGN_MODEL = "Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign"
DTYPES = ("auto", "float32", "bfloat16", "float16")
QUANTIZE_SCHEMES = ("none", "int8", "int4")
MODEL_SIZES = ("0.6B", "1.7B")
PREBUFFER_MODES = ("auto", "off")
MAX_PREBUFFER = 10.0


def prebuffer_check(value: float) -> str | None:
    if 0.0 <= value <= MAX_PREBUFFER:
        return None
    return f"must be 0 to {MAX_PREBUFFER:g} seconds, got {value:g}"


def model_ids(size: str) -> tuple[str, str]:
    """The official (CustomVoice, Base) Hugging Face ids of one model size."""
    if size not in MODEL_SIZES:
        raise ValueError(f"model size '{size}' is not one of {', '.join(MODEL_SIZES)}")
    return f"Qwen/Qwen3-TTS-12Hz-{size}-CustomVoice", f"Qwen/Qwen3-TTS-12Hz-{size}-Base"


def model_of_size(index: int) -> FromAddon:
    """The options-file reader of ``model_size`` for one of the two model ids."""
    choose = addon_choice(MODEL_SIZES)
    return lambda label, value, context: model_ids(choose(label, value))[index]
