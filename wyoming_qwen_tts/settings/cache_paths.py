"""Where the server keeps what it computes once: prepared voices, loudness measurements, spoken
sentences and quantized weights, all under ``--cache-dir``."""

from __future__ import annotations

import os
from pathlib import Path


class CachePaths:
    """The cache folders of ``Settings`` (its ``cache_dir`` field)."""

    cache_dir: Path | None

    @property
    def prompt_cache_dir(self) -> Path:
        return (self.cache_dir or default_cache_dir()) / "prompts"

    @property
    def loudness_cache_dir(self) -> Path:
        return (self.cache_dir or default_cache_dir()) / "loudness"

    @property
    def audio_cache_dir(self) -> Path:
        return (self.cache_dir or default_cache_dir()) / "sentences"

    @property
    def quantized_cache_dir(self) -> Path:
        return (self.cache_dir or default_cache_dir()) / "quantized"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/wyoming-qwen-tts``, else ``~/.cache/wyoming-qwen-tts`` (the image sets
    XDG_CACHE_HOME to /data/cache, the add-on's persistent folder)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wyoming-qwen-tts"
