"""What one option is: declared once, on its ``Settings`` field, with everything that uses it.

``option(default, ...)`` is a dataclass field whose metadata holds an ``Option``. From those the
package generates the command-line flags (``settings.flags``), the options-file mapping and its
defaults (``settings.options_file``), and the README's configuration table.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wyoming_qwen_tts.text.languages import model_language

SERVE = "serve"
SAY = "say"
DESIGN = "design"
"""``voice design``."""
MODELS = frozenset({SERVE, SAY, DESIGN})
"""Every command that loads a model."""
SPEAKING = frozenset({SERVE, SAY})
"""The commands that offer voices (and read an options file)."""

FlagKind = Literal["value", "switch", "append", "optional_value"]
Check = Callable[[Any], str | None]
"""A problem with a field's value ("must be at least 1"), or None when it is fine."""


@dataclass(frozen=True)
class AddonContext:
    """What reading an options-file value may depend on besides the value."""

    base_dir: Path | None
    """Where a cloned voice's relative ``audio`` path is resolved."""


FromAddon = Callable[[str, Any, AddonContext], Any]
"""``(label, value, context) -> field value``; raises ValueError whose message starts with
``label`` ("option 'voice' must be a string, got 7")."""


@dataclass(frozen=True)
class Option:
    help: str
    """What it does, in the README's words (backticks are dropped in ``--help``)."""
    flag: str | None = None
    """``--max-text``; None: not on the command line."""
    commands: frozenset[str] = frozenset({SERVE})
    group: str | None = None
    """The ``--help`` section it is listed in (None: the main one)."""
    kind: FlagKind = "value"
    parse: Callable[[str], Any] | None = None
    """argparse's ``type``: a flag value that it rejects is a usage error."""
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    const: Any = None
    """The value of an ``optional_value`` flag given without one."""
    negation: str | None = None
    """A flag (``--no-zeroconf``) that sets the field to None, whatever else is given."""
    negation_help: str = ""
    convert: Callable[[Any], Any] | None = None
    """Flag value -> field value; may raise ValueError with a message for the user."""
    check: Check | None = None
    """Applied to the field's value from a flag or the options file, with its label."""
    env: str | None = None
    """An environment variable that sets the option when its flag is not given (secrets)."""
    addon: str | None = None
    """The key in the add-on's options file; None: the file does not carry it."""
    addon_default: Any = None
    """The value ``config.yaml`` gives the key (used where the file lacks it)."""
    from_addon: FromAddon | None = None
    shown_default: str | None = None
    """The default as the README and ``--help`` say it; None: the value itself."""
    name: str = ""
    """The ``Settings`` field (filled in by ``options()``)."""
    default: Any = None
    """The field's default (filled in by ``options()``)."""

    @property
    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return f"`{self.default}`" if isinstance(self.default, str) else str(self.default)


def option(default: Any, help: str, **declaration: Any) -> Any:  # noqa: A002 - argparse's word
    """A ``Settings`` field that is an option (see ``Option`` for the keywords)."""
    return dataclasses.field(
        default=default, metadata={"option": Option(help=help, **declaration)}
    )


def options(settings_class: type) -> tuple[Option, ...]:
    """The options of a dataclass whose fields were declared with ``option``, in field order."""
    found = []
    for field in dataclasses.fields(settings_class):
        declared = field.metadata.get("option")
        if declared is None:
            raise TypeError(f"field '{field.name}' is not declared with option()")
        found.append(dataclasses.replace(declared, name=field.name, default=field.default))
    return tuple(found)


# --- checks and conversions shared by several options ------------------------------------------


def at_least(minimum: int) -> Check:
    def check(value: Any) -> str | None:
        return None if value >= minimum else f"must be at least {minimum}"

    return check


def positive_seconds(value: float) -> str | None:
    return None if value > 0 else "must be more than 0 seconds"


def zero_or_more_seconds(value: float) -> str | None:
    return None if value >= 0 else "must be 0 (never) or more seconds"


DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def device_check(value: str) -> str | None:
    if DEVICE_PATTERN.match(value):
        return None
    return f"must be auto, cpu, cuda, cuda:N or mps, got {value!r}"


def port_check(value: int | None) -> str | None:
    return None if value is None or 0 <= value <= 65535 else "must be a port, 0 to 65535"


def optional_model(value: str) -> str | None:
    """``none`` (or nothing) disables a model."""
    return None if value.strip().lower() in ("", "none") else value


def addon_string(label: str, value: Any, context: AddonContext | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label} must be a non-empty string, got {value!r}")
    return value.strip()


def addon_optional_string(label: str, value: Any, context: AddonContext | None = None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{label} must be a string, got {value!r}")
    return value.strip() or None


def addon_boolean(label: str, value: Any, context: AddonContext | None = None) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{label} must be a boolean, got {value!r}")
    return value


def addon_number(low: float, high: float) -> FromAddon:
    def read(label: str, value: Any, context: AddonContext | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ValueError(f"{label} must be a number from {low:g} to {high:g}, got {value!r}")
        return float(value)

    return read


def addon_choice(choices: Collection[str]) -> FromAddon:
    def read(label: str, value: Any, context: AddonContext | None = None) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{label} must be one of {', '.join(choices)}, got {value!r}")
        return value

    return read


def addon_language(label: str, value: Any, context: AddonContext | None = None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{label} must be a language code such as 'en' or 'auto', got {value!r}")
    try:
        return model_language(value)
    except ValueError as err:
        raise ValueError(f"{label}: {err}") from None


def addon_items(label: str, value: Any, keys: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """A list of mappings with only ``keys`` as keys."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{label} must be a list, got {value!r}")
    for number, item in enumerate(value, start=1):
        if not isinstance(item, Mapping):
            raise ValueError(
                f"{label} item {number} must be a mapping with the keys "
                f"{', '.join(keys)}, got {item!r}"
            )
        unknown = sorted(set(item) - set(keys))
        if unknown:
            raise ValueError(
                f"{label} item {number}: unknown key '{unknown[0]}'; "
                f"the keys are: {', '.join(keys)}"
            )
    return value
