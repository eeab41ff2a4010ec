"""The options file: the Home Assistant add-on's ``/data/options.json``, or the same keys in a
YAML/JSON file of a standalone user's own (``--options FILE``).

Its keys, their defaults (as in ``config.yaml``) and the fields they set all come from the option
table (``Settings``). A key may set several fields (``model_size`` sets both model ids).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from wyoming_qwen_tts.settings.option import AddonContext, Option
from wyoming_qwen_tts.settings.remote_options import LOCAL_MODELS, remote_leaves_out_models
from wyoming_qwen_tts.settings.settings import OPTIONS, Settings

FILE_OPTIONS: tuple[Option, ...] = tuple(o for o in OPTIONS if o.addon is not None)
"""The options an options file sets."""


def _defaults() -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for declared in FILE_OPTIONS:
        assert declared.addon is not None
        if defaults.setdefault(declared.addon, declared.addon_default) != declared.addon_default:
            raise TypeError(f"options sharing the key '{declared.addon}' disagree on its default")
    return defaults


OPTION_DEFAULTS: dict[str, Any] = _defaults()
"""Every add-on option and its default, as ``config.yaml`` must give them."""


def file_values(
    source: Path | str | Mapping[str, Any], *, voices_dir: Path | None = None
) -> dict[str, Any]:
    """The field values an options file (JSON or YAML) or an already-parsed mapping sets.

    Missing keys take their defaults; unknown keys and wrong types raise ValueError with a
    message naming the option. A cloned voice's relative ``audio`` path is resolved against
    ``voices_dir`` when given, else against the options file's folder.
    """
    if isinstance(source, Mapping):
        given, base_dir = source, voices_dir
    else:
        path = Path(source)
        given, base_dir = _read_options_file(path), voices_dir or path.parent
    unknown = sorted(set(given) - set(OPTION_DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown option '{unknown[0]}'; the options are: {', '.join(OPTION_DEFAULTS)}"
        )
    merged = {**OPTION_DEFAULTS, **given}
    context = AddonContext(base_dir=base_dir)
    values: dict[str, Any] = {}
    for declared in FILE_OPTIONS:
        assert declared.addon is not None and declared.from_addon is not None
        label = f"option '{declared.addon}'"
        value = declared.from_addon(label, merged[declared.addon], context)
        problem = declared.check(value) if declared.check is not None else None
        if problem is not None:
            raise ValueError(f"{label} {problem}")
        values[declared.name] = value
    if values.get("remote_urls"):  # the add-on's model_size is for a model of its own
        values = {name: value for name, value in values.items() if name not in LOCAL_MODELS}
    return values


def settings_from_options(
    source: Path | str | Mapping[str, Any], *, voices_dir: Path | None = None
) -> Settings:
    """Settings from an options file alone: what the file sets, defaults for the rest."""
    return replace(Settings(), **remote_leaves_out_models(file_values(source, voices_dir=voices_dir)))


def _read_options_file(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"options file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read options file {path}: {err}") from err
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"options file {path} is not valid JSON (line {err.lineno})") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"options file {path} is not valid YAML{line}") from err
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"options file {path} must hold a mapping of option names to values")
    return data
