"""Command-line flags, generated from the option table, and Settings from parsed flags.

Every settings flag defaults to ``argparse.SUPPRESS``: a parsed namespace holds exactly the
flags that were given, so "was this flag given" has one answer (``given_fields``), and a flag
given explicitly wins over the options file even when it equals its default.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from wyoming_qwen_tts.settings.option import SPEAKING, Option
from wyoming_qwen_tts.settings.options_file import file_values
from wyoming_qwen_tts.settings.remote_options import remote_leaves_out_models
from wyoming_qwen_tts.settings.settings import OPTIONS, Settings

_COMMAND = "settings_command"
_NEGATED = "negated:"
OPTIONS_FLAG_HELP = (
    "read settings from an options file (below); flags given on the command line win"
)


def add_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """Adds the flags of every option ``command`` has (and ``--options`` where it reads one)."""
    parser.set_defaults(**{_COMMAND: command})
    groups: dict[str, argparse._ArgumentGroup] = {}
    for declared in _options_of(command):
        assert declared.flag is not None
        target = parser
        if declared.group is not None:
            if declared.group not in groups:
                groups[declared.group] = parser.add_argument_group(declared.group)
            target = groups[declared.group]
        target.add_argument(declared.flag, **_argument(declared))
        if declared.negation is not None:
            target.add_argument(
                declared.negation,
                dest=_NEGATED + declared.name,
                action="store_true",
                default=argparse.SUPPRESS,
                help=declared.negation_help,
            )
    if command in SPEAKING:
        parser.add_argument(
            "--options", type=Path, metavar="FILE", help=_plain(OPTIONS_FLAG_HELP)
        )


def given_fields(args: argparse.Namespace) -> frozenset[str]:
    """The Settings fields whose flags were given on the command line."""
    command = getattr(args, _COMMAND)
    return frozenset(
        declared.name
        for declared in _options_of(command)
        if hasattr(args, declared.name) or hasattr(args, _NEGATED + declared.name)
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed flags (``add_flags``) and from ``--options FILE`` where given.

    Flags given explicitly win over an option's environment variable, which wins over the
    file; the file's options win over the defaults.
    Raises ValueError with a user-facing message.
    """
    values = {}
    options_file = getattr(args, "options", None)
    if options_file is not None:
        values.update(file_values(options_file, voices_dir=getattr(args, "voices_dir", None)))
    given = given_fields(args)
    command = getattr(args, _COMMAND)
    for declared in OPTIONS:
        if declared.name in given:
            values[declared.name] = _flag_value(declared, args)
        elif declared.env and os.environ.get(declared.env) and command in declared.commands:
            values[declared.name] = os.environ[declared.env]
    return replace(Settings(), **remote_leaves_out_models(values))


def _flag_value(declared: Option, args: argparse.Namespace) -> object:
    if getattr(args, _NEGATED + declared.name, False):
        return None
    value = getattr(args, declared.name)
    if declared.convert is not None:
        value = declared.convert(value)
    problem = declared.check(value) if declared.check is not None else None
    if problem is not None:
        raise ValueError(f"{declared.flag} {problem}")
    return value


def _options_of(command: str) -> list[Option]:
    return [o for o in OPTIONS if o.flag is not None and command in o.commands]


def _argument(declared: Option) -> dict[str, object]:
    help_text = _plain(declared.help)
    if declared.env is not None:
        help_text += f"; or the environment variable {declared.env}"
    if declared.kind != "switch":
        help_text += f" (default: {_plain(declared.default_text)})"
    argument: dict[str, object] = {
        "dest": declared.name,
        "default": argparse.SUPPRESS,
        "help": help_text,
    }
    if declared.kind == "switch":
        argument["action"] = "store_true"
    elif declared.kind == "append":
        argument["action"] = "append"
    elif declared.kind == "optional_value":
        argument["nargs"] = "?"
        argument["const"] = declared.const
    for key in ("choices", "metavar"):
        if getattr(declared, key) is not None:
            argument[key] = getattr(declared, key)
    if declared.parse is not None:
        argument["type"] = declared.parse
    return argument


def _plain(markdown: str) -> str:
    """README text as ``--help`` says it: no backticks, no pointer to the README's sections."""
    return markdown.replace(" (below)", "").replace("`", "")


def configuration_table() -> str:
    """The README's table of ``serve`` flags, from the option table."""
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    for declared in _options_of("serve"):
        flag = f"`{declared.flag}`"
        if declared.kind == "optional_value":
            flag = f"`{declared.flag} [{declared.metavar}]`"
        meaning = declared.help
        if declared.env is not None:
            meaning += f"; or the environment variable `{declared.env}`"
        rows.append(f"| {flag} | {declared.default_text} | {meaning} |")
        if declared.negation is not None:
            rows.append(f"| `{declared.negation}` | | {declared.negation_help} |")
    rows.append(f"| `--options FILE` | none | {OPTIONS_FLAG_HELP} |")
    rows.append("| `--version` | | print the version |")
    return "\n".join(rows)
