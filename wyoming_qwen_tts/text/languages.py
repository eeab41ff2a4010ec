"""The languages the model speaks: Home Assistant's codes and the model's own names."""

from __future__ import annotations

# Wyoming/Home Assistant language code -> the model's language name.
LANGUAGES: dict[str, str] = {
    "zh": "chinese",
    "en": "english",
    "ja": "japanese",
    "ko": "korean",
    "de": "german",
    "fr": "french",
    "ru": "russian",
    "pt": "portuguese",
    "es": "spanish",
    "it": "italian",
}
_CODES_BY_NAME = {name: code for code, name in LANGUAGES.items()}


def model_language(value: str | None) -> str | None:
    """Maps 'en', 'en-US', 'English' or 'auto' to the model's language name (None means Auto)."""
    if value is None:
        return None
    key = value.strip().lower().replace("_", "-")
    if key in ("", "auto"):
        return None
    if key in _CODES_BY_NAME:
        return key
    code = key.split("-")[0]
    if code in LANGUAGES:
        return LANGUAGES[code]
    choices = ", ".join([*LANGUAGES, *LANGUAGES.values(), "auto"])
    raise ValueError(f"language '{value}' is not supported; use one of: {choices}")


def language_code(name: str) -> str:
    """The Home Assistant code ('en') of one of the model's language names ('english')."""
    return _CODES_BY_NAME[name]
