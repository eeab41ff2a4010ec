"""Checks and conversions of the remote-engine options (``--remote-url`` and the add-on's
``remote_url``)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from wyoming_qwen_tts.settings.option import AddonContext


def remote_url(value: str) -> str:
    """A remote's base URL, without a trailing slash: ``http://gpu-box:8091/v1``.

    Raises ValueError saying what a base URL looks like.
    """
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"'{value}' is not an http:// or https:// base URL; give one such as "
            "http://gpu-box:8091/v1"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"'{value}': a base URL has no '?' or '#' part")
    if parts.path.endswith("/audio/speech"):
        raise ValueError(
            f"'{value}' is the speech endpoint; give the base URL before /audio/speech "
            f"({url[: -len('/audio/speech')]})"
        )
    return url


def remote_urls(values: list[str]) -> tuple[str, ...]:
    """Every ``--remote-url``, checked, each once."""
    return tuple(dict.fromkeys(remote_url(value) for value in values))


def addon_remote_urls(label: str, value: Any, context: AddonContext | None = None) -> tuple[str, ...]:
    """The add-on's ``remote_url``: one base URL, or several separated by commas or spaces."""
    if value is None:
        return ()
    if not isinstance(value, str):
        raise ValueError(f"{label} must be a URL such as http://gpu-box:8091/v1, got {value!r}")
    try:
        return remote_urls([part for part in re.split(r"[,\s]+", value) if part])
    except ValueError as err:
        raise ValueError(f"{label}: {err}") from None


LOCAL_MODELS = ("custom_voice_model", "base_model")
"""The fields that load a model here: with a remote, only where they are given."""


def remote_leaves_out_models(values: dict[str, object]) -> dict[str, object]:
    """With a remote (``remote_urls``), the local models nobody asked for are off: the remote
    speaks. ``values`` holds the fields that were given (flags, or the options file)."""
    if not values.get("remote_urls"):
        return values
    return {**{name: None for name in LOCAL_MODELS}, **values}
