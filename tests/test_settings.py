"""Tests for wyoming_qwen_tts.settings: flags -> one frozen Settings object."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from wyoming_qwen_tts.cli.main import parse_args
from wyoming_qwen_tts.settings.flags import settings_from_args
from wyoming_qwen_tts.settings.settings import (
    DEFAULT_BASE_MODEL,
    DEFAULT_CUSTOM_VOICE_MODEL,
    DEFAULT_URI,
    DEFAULT_ZEROCONF_NAME,
    Settings,
)


def settings_for(*argv: str) -> Settings:
    return settings_from_args(parse_args(list(argv)))


def test_default_constants() -> None:
    assert DEFAULT_URI == "tcp://0.0.0.0:10200"
    assert DEFAULT_CUSTOM_VOICE_MODEL == "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"
    assert DEFAULT_BASE_MODEL == "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
    assert DEFAULT_ZEROCONF_NAME == "qwen3-tts"


def test_defaults_from_no_flags() -> None:
    settings = settings_for()
    assert settings == Settings()
    assert settings.uri == "tcp://0.0.0.0:10200"
    assert settings.custom_voice_model == "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"
    assert settings.base_model == "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
    assert settings.zeroconf_name == "qwen3-tts"
    assert settings.zeroconf_host is None
    assert settings.zeroconf_interfaces is None
    assert settings.voices_dir is None
    assert settings.voice is None
    assert settings.language is None
    assert settings.device == "auto"
    assert settings.dtype == "auto"
    assert settings.samples_per_chunk == 1024
    assert settings.data_dir is None
    assert settings.local_files_only is False
    assert settings.seed is None
    assert settings.debug is False
    assert settings.log_format == logging.BASIC_FORMAT


def test_serve_subcommand_explicit_or_implied() -> None:
    assert parse_args([]).command == "serve"
    assert parse_args(["serve"]).command == "serve"
    assert settings_for("serve") == settings_for() == Settings()
    implied = parse_args(["--uri", "stdio://"])
    assert implied.command == "serve"
    assert settings_from_args(implied).uri == "stdio://"
    assert settings_for("serve", "--uri", "stdio://") == settings_from_args(implied)


def test_flag_values_equal_to_the_command_name_are_values() -> None:
    assert settings_for("--voice", "serve").voice == "serve"


@pytest.mark.parametrize("value", ["none", "None", "NONE", " none ", ""])
def test_custom_voice_model_none_disables_premium_voices(value: str) -> None:
    assert settings_for("--custom-voice-model", value).custom_voice_model is None


def test_model_flags() -> None:
    settings = settings_for("--custom-voice-model", "/models/cv", "--base-model", "org/base")
    assert settings.custom_voice_model == "/models/cv"
    assert settings.base_model == "org/base"


def test_no_zeroconf() -> None:
    assert settings_for("--no-zeroconf").zeroconf_name is None
    assert settings_for("--zeroconf", "myname", "--no-zeroconf").zeroconf_name is None


def test_zeroconf_without_a_name_uses_the_default() -> None:
    assert settings_for("--zeroconf").zeroconf_name == "qwen3-tts"
    # a following flag is not taken as the name
    settings = settings_for("--zeroconf", "--uri", "tcp://127.0.0.1:1")
    assert settings.zeroconf_name == "qwen3-tts"
    assert settings.uri == "tcp://127.0.0.1:1"


def test_zeroconf_with_a_name() -> None:
    assert settings_for("--zeroconf", "myname").zeroconf_name == "myname"
    assert settings_for("--zeroconf=kitchen").zeroconf_name == "kitchen"


def test_zeroconf_interface_is_repeatable() -> None:
    settings = settings_for(
        "--zeroconf-interface",
        "192.168.1.5",
        "--zeroconf-interface",
        "10.0.0.2",
        "--zeroconf-host",
        "1.2.3.4",
    )
    assert settings.zeroconf_interfaces == ("192.168.1.5", "10.0.0.2")
    assert isinstance(settings.zeroconf_interfaces, tuple)
    assert settings.zeroconf_host == "1.2.3.4"
    assert settings_for("--zeroconf-interface", "10.0.0.2").zeroconf_interfaces == ("10.0.0.2",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("de", "german"),
        ("en-US", "english"),
        ("pt_BR", "portuguese"),
        ("French", "french"),
        ("auto", None),
    ],
)
def test_language(value: str, expected: str | None) -> None:
    assert settings_for("--language", value).language == expected


def test_bad_language_is_a_value_error() -> None:
    with pytest.raises(
        ValueError, match=r"^language 'klingon' is not supported; use one of: zh, en, "
    ):
        settings_for("--language", "klingon")


@pytest.mark.parametrize("value", ["0", "-1"])
def test_samples_per_chunk_must_be_positive(value: str) -> None:
    with pytest.raises(ValueError, match=r"^--samples-per-chunk must be at least 1$"):
        settings_for("--samples-per-chunk", value)


def test_samples_per_chunk_one_is_fine() -> None:
    assert settings_for("--samples-per-chunk", "1").samples_per_chunk == 1


def test_samples_per_chunk_not_a_number_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--samples-per-chunk", "many"])
    assert exit_info.value.code == 2
    assert "--samples-per-chunk" in capsys.readouterr().err


def test_bad_dtype_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--dtype", "int8"])
    assert exit_info.value.code == 2
    assert "--dtype" in capsys.readouterr().err


def test_every_other_flag(tmp_path: Path) -> None:
    settings = settings_for(
        "serve",
        "--uri", "unix:///tmp/tts.sock",
        "--voices-dir", str(tmp_path / "voices"),
        "--voice", "Alice",
        "--device", "cuda:1",
        "--dtype", "bfloat16",
        "--samples-per-chunk", "512",
        "--data-dir", str(tmp_path / "cache"),
        "--local-files-only",
        "--seed", "42",
        "--debug",
        "--log-format", "%(message)s",
    )  # fmt: skip
    assert settings.uri == "unix:///tmp/tts.sock"
    assert settings.voices_dir == tmp_path / "voices"
    assert isinstance(settings.voices_dir, Path)
    assert settings.voice == "Alice"
    assert settings.device == "cuda:1"
    assert settings.dtype == "bfloat16"
    assert settings.samples_per_chunk == 512
    assert settings.data_dir == tmp_path / "cache"
    assert isinstance(settings.data_dir, Path)
    assert settings.local_files_only is True
    assert settings.seed == 42
    assert settings.debug is True
    assert settings.log_format == "%(message)s"


def test_settings_are_frozen() -> None:
    settings = settings_for()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.uri = "stdio://"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.zeroconf_name = None  # type: ignore[misc]
    changed = dataclasses.replace(settings, uri="stdio://")
    assert changed.uri == "stdio://"
    assert settings.uri == DEFAULT_URI


def test_settings_are_hashable_and_comparable() -> None:
    a = settings_for("--zeroconf-interface", "10.0.0.1")
    b = settings_for("--zeroconf-interface", "10.0.0.1")
    assert a == b
    assert hash(a) == hash(b)
