"""The option table: each option declared once, and everything generated from it agrees."""

from __future__ import annotations

import dataclasses
import re

import pytest

from wyoming_qwen_tts.cli.main import build_parser, parse_args
from wyoming_qwen_tts.settings.flags import configuration_table, given_fields, settings_from_args
from wyoming_qwen_tts.settings.option import MODELS, SAY, SERVE, SPEAKING
from wyoming_qwen_tts.settings.options_file import FILE_OPTIONS, OPTION_DEFAULTS
from wyoming_qwen_tts.settings.settings import OPTIONS, Settings

from .wyoming_server import REPO_ROOT


def test_the_readme_configuration_table_is_the_option_table() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = configuration_table()
    assert table in readme, "README's table differs from the option table; paste:\n" + table


def test_every_settings_field_is_an_option_with_its_default() -> None:
    fields = dataclasses.fields(Settings)
    assert [o.name for o in OPTIONS] == [f.name for f in fields]
    for declared, field in zip(OPTIONS, fields, strict=True):
        assert declared.default == field.default


@pytest.mark.parametrize("declared", OPTIONS, ids=lambda o: o.name)
def test_each_default_passes_its_own_check(declared) -> None:  # noqa: ANN001
    if declared.check is not None:
        assert declared.check(declared.default) is None


def test_no_flag_is_declared_twice() -> None:
    flags = [o.flag for o in OPTIONS if o.flag] + [o.negation for o in OPTIONS if o.negation]
    assert len(flags) == len(set(flags))


@pytest.mark.parametrize(
    ("argv", "command"),
    [([], SERVE), (["say", "hi", "-o", "-"], SAY)],
)
def test_parsing_nothing_gives_the_defaults(argv: list[str], command: str) -> None:
    args = parse_args(argv)
    assert given_fields(args) == frozenset()
    assert settings_from_args(args) == Settings()
    flags = {action.dest for action in _subparser(command)._actions}
    for declared in OPTIONS:
        if declared.flag is not None and command in declared.commands:
            assert declared.name in flags, declared.flag


def test_options_file_keys_map_onto_flags_of_the_speaking_commands() -> None:
    for declared in FILE_OPTIONS:
        assert declared.addon in OPTION_DEFAULTS
        if declared.flag is not None:
            assert SPEAKING <= declared.commands


def test_runtime_options_reach_every_command_that_loads_a_model() -> None:
    names = ("device", "dtype", "quantize", "data_dir", "cache_dir", "local_files_only", "seed")
    for name in names:
        declared = next(o for o in OPTIONS if o.name == name)
        assert declared.commands == MODELS


def test_each_flag_given_is_given() -> None:
    values = {"int": "3", "float": "2.5"}
    for declared in OPTIONS:
        if declared.flag is None or SERVE not in declared.commands:
            continue
        argv = [declared.flag]
        if declared.kind in ("value", "append"):
            kind = getattr(declared.parse, "__name__", "str")
            default = declared.choices[-1] if declared.choices else "auto"
            argv.append(values.get(kind, "cpu" if declared.name == "device" else default))
        assert given_fields(parse_args(argv)) == {declared.name}, declared.flag


def _subparser(command: str):  # noqa: ANN202
    parser = build_parser()
    for action in parser._actions:
        if action.dest == "command":
            return action.choices[command]
    raise AssertionError("no subcommands")


def test_help_shows_each_default_once() -> None:
    text = _subparser(SERVE).format_help()
    assert re.search(r"--max-text CHARS\s+characters in one request", text)
    assert text.count("(default: 10000)") == 1
