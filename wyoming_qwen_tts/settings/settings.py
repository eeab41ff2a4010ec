"""Server settings: one frozen object, built from command-line flags and/or an options file.

The options file is the Home Assistant add-on's ``/data/options.json`` (or the same keys in a
YAML/JSON file of a standalone user's own, passed with ``--options FILE``). Each option maps onto
``Settings`` one to one; flags given explicitly on the command line win over the file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from wyoming_qwen_tts import __version__
from wyoming_qwen_tts.text.languages import model_language
from wyoming_qwen_tts.voices.styles import Style
from wyoming_qwen_tts.voices.voice import CloneReference, Voice, VoiceKind

_LOGGER = logging.getLogger(__name__)

DEFAULT_URI = "tcp://0.0.0.0:10200"
DEFAULT_CUSTOM_VOICE_MODEL = "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"
DEFAULT_BASE_MODEL = "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
DEFAULT_VOICE_DESIGN_MODEL = "Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign"
DEFAULT_VOICES_POLL_INTERVAL = 5.0
DEFAULT_ZEROCONF_NAME = "qwen3-tts"
DEVICES_HELP = "auto | cpu | cuda | cuda:N | mps"
DTYPES = ("auto", "float32", "bfloat16", "float16")
MODEL_SIZES = ("0.6B", "1.7B")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
VOICE_NAME_PATTERN = re.compile(r"^\w[\w .-]{0,63}$")
"""A cloned voice's name: it becomes a file name and a Wyoming voice name."""


def model_ids(size: str) -> tuple[str, str]:
    """The official (CustomVoice, Base) Hugging Face ids of one model size."""
    if size not in MODEL_SIZES:
        raise ValueError(f"model size '{size}' is not one of {', '.join(MODEL_SIZES)}")
    return f"Qwen/Qwen3-TTS-12Hz-{size}-CustomVoice", f"Qwen/Qwen3-TTS-12Hz-{size}-Base"


@dataclass(frozen=True)
class ClonedVoice:
    """A cloned voice named in the options file: a reference clip and what is said in it."""

    name: str
    audio: Path
    transcript: str
    language: str | None = None
    """The model's language name; None means the server default or Auto."""

    def as_voice(self) -> Voice:
        return Voice(
            name=self.name,
            kind=VoiceKind.CLONE,
            description=f"{self.name} (cloned voice)",
            language=self.language,
            reference=CloneReference(audio_path=self.audio, transcript=self.transcript),
        )


@dataclass(frozen=True)
class Settings:
    uri: str = DEFAULT_URI
    custom_voice_model: str | None = DEFAULT_CUSTOM_VOICE_MODEL
    """None disables premium voices."""
    base_model: str = DEFAULT_BASE_MODEL
    """Loaded only when there are cloned voices."""
    voice_design_model: str = DEFAULT_VOICE_DESIGN_MODEL
    """Loaded only by ``voice design``."""
    voices_dir: Path | None = None
    voices_poll_interval: float = DEFAULT_VOICES_POLL_INTERVAL
    """Seconds between looks at the voices dir for added, changed or removed voices; 0: never."""
    voice: str | None = None
    language: str | None = None
    """The model's language name for voices without their own; None means Auto."""
    device: str = "auto"
    dtype: str = "auto"
    zeroconf_name: str | None = DEFAULT_ZEROCONF_NAME
    """None disables zeroconf."""
    zeroconf_host: str | None = None
    zeroconf_interfaces: tuple[str, ...] | None = None
    samples_per_chunk: int = 1024
    max_batch: int = 8
    """Sentences generated together per model (one per answer): rooms served at once."""
    int8: bool = False
    """CPU only: dynamically quantized int8 weights (faster; codes differ from upstream's)."""
    max_text_chars: int = 10_000
    max_sentences: int = 200
    max_connections: int = 64
    max_event_bytes: int = 256 * 1024
    idle_timeout: float = 120.0
    data_dir: Path | None = None
    cache_dir: Path | None = None
    """Where prepared clone prompts are kept; None means ``default_cache_dir()``."""
    local_files_only: bool = False
    seed: int | None = None
    debug: bool = False
    log_format: str = logging.BASIC_FORMAT
    cloned_voices: tuple[ClonedVoice, ...] = ()
    """Cloned voices listed one by one (the add-on's option), besides those in ``voices_dir``."""
    styles: tuple[Style, ...] = ()
    """User-defined style presets, offered besides the built-in ones (see ``styles``)."""

    @property
    def listed_voices(self) -> list[Voice]:
        """The cloned voices named in the options, as voices."""
        return [voice.as_voice() for voice in self.cloned_voices]

    @property
    def prompt_cache_dir(self) -> Path:
        return (self.cache_dir or default_cache_dir()) / "prompts"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/wyoming-qwen-tts``, else ``~/.cache/wyoming-qwen-tts`` (the image sets
    XDG_CACHE_HOME to /data/cache, the add-on's persistent folder)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wyoming-qwen-tts"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag of ``serve``: voices and runtime (shared with ``say``), and the server's own."""
    parser.add_argument("--uri", default=DEFAULT_URI, help="tcp://HOST:PORT, unix://PATH or stdio://")
    add_voice_arguments(parser)
    add_runtime_arguments(parser)
    parser.add_argument(
        "--voices-poll-interval",
        type=float,
        default=DEFAULT_VOICES_POLL_INTERVAL,
        metavar="SECONDS",
        help="look for added, changed or removed voices in --voices-dir this often; 0: never "
        f"(default: {DEFAULT_VOICES_POLL_INTERVAL:g})",
    )
    parser.add_argument(
        "--zeroconf",
        nargs="?",
        const=DEFAULT_ZEROCONF_NAME,
        default=DEFAULT_ZEROCONF_NAME,
        metavar="NAME",
        help=f"advertise over mDNS as NAME (default: {DEFAULT_ZEROCONF_NAME}; tcp:// only)",
    )
    parser.add_argument("--no-zeroconf", action="store_true", help="do not advertise over mDNS")
    parser.add_argument(
        "--zeroconf-host", help="address to advertise instead of the bound one (Docker, NAT)"
    )
    parser.add_argument(
        "--zeroconf-interface",
        action="append",
        metavar="ADDRESS",
        help="limit mDNS to the interface with this address (repeatable; default: all)",
    )
    parser.add_argument("--samples-per-chunk", type=int, default=1024, help="samples per audio-chunk")
    parser.add_argument(
        "--max-batch",
        type=int,
        default=8,
        help="sentences generated together per model, one per answer (default: 8)",
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-text", type=int, default=10_000, metavar="CHARS", help="characters per request (default: 10000)")
    limits.add_argument("--max-sentences", type=int, default=200, help="sentences waiting per request (default: 200)")
    limits.add_argument("--max-connections", type=int, default=64, help="open connections (default: 64)")
    limits.add_argument("--max-event-bytes", type=int, default=256 * 1024, metavar="BYTES", help="JSON data per event (default: 262144)")
    limits.add_argument("--idle-timeout", type=float, default=120.0, metavar="SECONDS", help="close connections idle this long (default: 120)")
    parser.add_argument("--version", action="version", version=__version__)


def add_voice_arguments(parser: argparse.ArgumentParser) -> None:
    """The models and voices to offer (``serve``, ``say``), and the options file."""
    parser.add_argument(
        "--custom-voice-model",
        default=DEFAULT_CUSTOM_VOICE_MODEL,
        help="CustomVoice checkpoint (Hugging Face id or folder) for the premium speakers; "
        "'none' disables them",
    )
    parser.add_argument(
        "--base-model",
        default=DEFAULT_BASE_MODEL,
        help="Base checkpoint for cloned voices; loaded only if --voices-dir has voices",
    )
    parser.add_argument(
        "--voices-dir", type=Path, help="folder of cloned voices: NAME.wav + NAME.txt [+ NAME.yaml]"
    )
    parser.add_argument("--voice", help="default voice when a request names none")
    parser.add_argument(
        "--language", default="auto", help="default language (en, de, ..., or auto) for voices without one"
    )
    parser.add_argument(
        "--options",
        type=Path,
        metavar="FILE",
        help="read settings from an options file (the add-on's options.json, or the same keys "
        "in YAML); flags given on the command line override it",
    )


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """Where and how models run, and logging (every command that loads a model)."""
    parser.add_argument("--device", default="auto", help=DEVICES_HELP)
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="auto: bfloat16 on GPU, float32 on CPU")
    parser.add_argument(
        "--int8",
        action="store_true",
        help="CPU only, experimental: int8 weights, several times faster, but not upstream's exact "
        "output and not yet checked on real weights",
    )
    parser.add_argument("--data-dir", type=Path, help="model download cache (default: Hugging Face's)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="where prepared cloned voices are kept (default: $XDG_CACHE_HOME/wyoming-qwen-tts, "
        "else ~/.cache/wyoming-qwen-tts)",
    )
    parser.add_argument(
        "--local-files-only", action="store_true", help="never download; use the cache or folders only"
    )
    parser.add_argument("--seed", type=int, help="seed every sentence for reproducible speech")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    parser.add_argument("--log-format", default=logging.BASIC_FORMAT, help="Python logging format")


def explicit_flags(
    argv: list[str],
    add_arguments: Callable[[argparse.ArgumentParser], None] = add_serve_arguments,
) -> frozenset[str]:
    """The ``dest`` of every flag (of those ``add_arguments`` adds) that appears in ``argv``."""
    probe = argparse.ArgumentParser(add_help=False)
    add_arguments(probe)
    # argparse fills in a default only where the namespace lacks the attribute, so whatever
    # still holds the marker afterwards was not on the command line. The marker is a list
    # because "append" flags copy the list they find and add to the copy.
    marker: list[str] = []
    namespace = argparse.Namespace(**dict.fromkeys(vars(probe.parse_args([])), marker))
    known, _ = probe.parse_known_args(argv, namespace=namespace)
    return frozenset(dest for dest, value in vars(known).items() if value is not marker)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed flags, and from ``--options FILE`` where given.

    Raises ValueError with a user-facing message. A flag given explicitly wins over the options
    file; ``args.explicit_flags`` (set by the CLI's ``parse_args``) says which were. Without it,
    every flag whose value differs from its default counts as given.
    """
    flags = _settings_from_flags(args)
    options_file = getattr(args, "options", None)
    if options_file is None:
        return flags
    explicit = getattr(args, "explicit_flags", None)
    if explicit is None:
        explicit = _non_default_flags(args)
    from_file = settings_from_options(options_file, voices_dir=args.voices_dir)
    given = {field for dest in explicit for field in _FLAG_FIELDS.get(dest, ())}
    return replace(
        flags,
        **{field: getattr(from_file, field) for field in OPTION_FIELDS if field not in given},
    )


def _non_default_flags(args: argparse.Namespace) -> frozenset[str]:
    probe = argparse.ArgumentParser(add_help=False)
    add_serve_arguments(probe)
    defaults = vars(probe.parse_args([]))
    return frozenset(
        dest for dest, value in vars(args).items() if dest in defaults and value != defaults[dest]
    )


def _settings_from_flags(args: argparse.Namespace) -> Settings:
    """Settings from the flags a command has (``say`` has fewer than ``serve``); the others keep
    their defaults."""
    given = vars(args)
    fields: dict[str, Any] = {
        field: given[field]
        for field in (
            "uri", "base_model", "voice_design_model", "voices_dir", "voice", "device", "dtype",
            "zeroconf_host", "samples_per_chunk", "max_batch", "int8", "idle_timeout",
            "data_dir", "cache_dir", "local_files_only", "seed", "debug", "log_format",
            "voices_poll_interval", "max_sentences", "max_connections", "max_event_bytes",
        )
        if field in given
    }  # fmt: skip
    if "custom_voice_model" in given:
        custom_voice = args.custom_voice_model
        if custom_voice is not None and custom_voice.strip().lower() in ("", "none"):
            custom_voice = None
        fields["custom_voice_model"] = custom_voice
    if "language" in given:
        fields["language"] = model_language(args.language)
    if "max_text" in given:
        fields["max_text_chars"] = args.max_text
    if "zeroconf" in given:
        fields["zeroconf_name"] = None if args.no_zeroconf else args.zeroconf
    if given.get("zeroconf_interface"):
        fields["zeroconf_interfaces"] = tuple(args.zeroconf_interface)
    if fields.get("samples_per_chunk", 1) < 1:
        raise ValueError("--samples-per-chunk must be at least 1")
    for flag, field in (
        ("--max-batch", "max_batch"),
        ("--max-text", "max_text_chars"),
        ("--max-sentences", "max_sentences"),
        ("--max-connections", "max_connections"),
        ("--max-event-bytes", "max_event_bytes"),
    ):
        if fields.get(field, 1) < 1:
            raise ValueError(f"{flag} must be at least 1")
    if fields.get("idle_timeout", 1) <= 0:
        raise ValueError("--idle-timeout must be more than 0 seconds")
    if fields.get("voices_poll_interval", 0) < 0:
        raise ValueError("--voices-poll-interval must be 0 (never) or more seconds")
    return Settings(**fields)


# --- the options file -------------------------------------------------------------------------

# Every add-on option, its default (as in config.yaml) and the Settings fields it sets.
OPTION_DEFAULTS: dict[str, Any] = {
    "model_size": "0.6B",
    "voice": "ryan",
    "language": "auto",
    "cloned_voices": [],
    "styles": [],
    "device": "auto",
    "dtype": "auto",
    "debug_logging": False,
}
OPTION_FIELDS = (
    "custom_voice_model",
    "base_model",
    "voice",
    "language",
    "cloned_voices",
    "styles",
    "device",
    "dtype",
    "debug",
)
"""The Settings fields an options file sets (``model_size`` sets both model ids)."""

# The serve flags that set a field an options file sets too (argparse dest -> fields): given
# on the command line, they win over the file. Other flags set fields no option touches.
_FLAG_FIELDS: dict[str, tuple[str, ...]] = {
    "custom_voice_model": ("custom_voice_model",),
    "base_model": ("base_model",),
    "voice": ("voice",),
    "language": ("language",),
    "device": ("device",),
    "dtype": ("dtype",),
    "debug": ("debug",),
}

_CLONED_VOICE_KEYS = ("name", "audio", "transcript", "language")
_STYLE_KEYS = ("name", "instruct")


def settings_from_options(
    source: Path | str | Mapping[str, Any], *, voices_dir: Path | None = None
) -> Settings:
    """Settings from an options file (JSON or YAML) or an already-parsed mapping.

    Missing options take their defaults; unknown options and wrong types raise ValueError with
    a message naming the option. A cloned voice's relative ``audio`` path is resolved against
    ``voices_dir`` when given, else against the options file's folder.
    """
    if isinstance(source, Mapping):
        options, base_dir = source, voices_dir
    else:
        path = Path(source)
        options, base_dir = _read_options_file(path), voices_dir or path.parent
    unknown = sorted(set(options) - set(OPTION_DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown option '{unknown[0]}'; the options are: {', '.join(OPTION_DEFAULTS)}"
        )
    merged = {**OPTION_DEFAULTS, **options}

    size = _choice("option 'model_size'", merged["model_size"], MODEL_SIZES)
    custom_voice_model, base_model = model_ids(size)
    device = _string("option 'device'", merged["device"])
    if not DEVICE_PATTERN.match(device):
        raise ValueError(f"option 'device' must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    return Settings(
        custom_voice_model=custom_voice_model,
        base_model=base_model,
        voice=_optional_string("option 'voice'", merged["voice"]),
        language=_language("option 'language'", merged["language"]),
        cloned_voices=_cloned_voices(merged["cloned_voices"], base_dir),
        styles=_styles(merged["styles"]),
        device=device,
        dtype=_choice("option 'dtype'", merged["dtype"], DTYPES),
        debug=_boolean("option 'debug_logging'", merged["debug_logging"]),
    )


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


def _string(label: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label} must be a non-empty string, got {value!r}")
    return value.strip()


def _optional_string(label: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{label} must be a string, got {value!r}")
    return value.strip() or None


def _boolean(label: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{label} must be a boolean, got {value!r}")
    return value


def _choice(label: str, value: Any, choices: Collection[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{label} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _language(label: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{label} must be a language code such as 'en' or 'auto', got {value!r}")
    try:
        return model_language(value)
    except ValueError as err:
        raise ValueError(f"{label}: {err}") from None


def _items(key: str, value: Any, fields: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """A list of mappings with only ``fields`` as keys."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"option '{key}' must be a list, got {value!r}")
    for number, item in enumerate(value, start=1):
        if not isinstance(item, Mapping):
            raise ValueError(
                f"option '{key}' item {number} must be a mapping with the keys "
                f"{', '.join(fields)}, got {item!r}"
            )
        unknown = sorted(set(item) - set(fields))
        if unknown:
            raise ValueError(
                f"option '{key}' item {number}: unknown key '{unknown[0]}'; "
                f"the keys are: {', '.join(fields)}"
            )
    return value


def _cloned_voices(value: Any, base_dir: Path | None) -> tuple[ClonedVoice, ...]:
    voices: list[ClonedVoice] = []
    seen: set[str] = set()
    for number, item in enumerate(_items("cloned_voices", value, _CLONED_VOICE_KEYS), start=1):
        where = f"option 'cloned_voices' item {number}"
        name = _string(f"{where}: 'name'", item.get("name"))
        if not VOICE_NAME_PATTERN.match(name):
            raise ValueError(
                f"{where}: 'name' must start with a letter or digit and hold only letters, "
                f"digits, spaces, '.', '_' and '-' (64 at most), got {name!r}"
            )
        if name.lower() in seen:
            raise ValueError(f"option 'cloned_voices': the name '{name}' is used twice")
        seen.add(name.lower())
        where = f"{where} ('{name}')"
        audio = Path(_string(f"{where}: 'audio'", item.get("audio"))).expanduser()
        if not audio.is_absolute() and base_dir is not None:
            audio = base_dir / audio
        voices.append(
            ClonedVoice(
                name=name,
                audio=audio,
                transcript=_string(f"{where}: 'transcript'", item.get("transcript")),
                language=_language(f"{where}: 'language'", item.get("language")),
            )
        )
    return tuple(voices)


def _styles(value: Any) -> tuple[Style, ...]:
    styles: list[Style] = []
    seen: set[str] = set()
    for number, item in enumerate(_items("styles", value, _STYLE_KEYS), start=1):
        where = f"option 'styles' item {number}"
        name = _string(f"{where}: 'name'", item.get("name"))
        if name.lower() in seen:
            raise ValueError(f"option 'styles': the name '{name}' is used twice")
        seen.add(name.lower())
        styles.append(Style(name, _string(f"{where} ('{name}'): 'instruct'", item.get("instruct"))))
    return tuple(styles)
