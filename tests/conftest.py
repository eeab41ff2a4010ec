"""Shared fixtures: tiny random checkpoints built with the real qwen_tts classes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .checkpoints import build_checkpoint


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)  # tiny models run 5-40x faster on one thread here (FACTS.md)


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Servers and engines started by the tests keep their prompt caches out of the user's."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg_cache"))


@pytest.fixture(scope="session", autouse=True)
def _private_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Servers started by the tests announce their addresses (app/runtime.py) out of the user's."""
    os.environ["XDG_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("xdg_runtime"))


@pytest.fixture(scope="session")
def custom_voice_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_checkpoint(tmp_path_factory.mktemp("custom_voice"), "custom_voice")


@pytest.fixture(scope="session")
def brief_custom_voice_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CustomVoice checkpoint whose utterances end after a few frames (long texts)."""
    return build_checkpoint(tmp_path_factory.mktemp("custom_voice_brief"), "custom_voice", brief=True)


@pytest.fixture(scope="session")
def base_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_checkpoint(tmp_path_factory.mktemp("base"), "base")


@pytest.fixture(scope="session")
def voice_design_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_checkpoint(tmp_path_factory.mktemp("voice_design"), "voice_design")


@pytest.fixture(scope="session")
def custom_voice_1b7_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CustomVoice checkpoint tagged 1.7B: it follows instructions (styles)."""
    return build_checkpoint(
        tmp_path_factory.mktemp("custom_voice_1b7"), "custom_voice", size_tag="1b7"
    )
