"""Server settings: one frozen object, built from command-line flags."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .voices import model_language

DEFAULT_URI = "tcp://0.0.0.0:10200"
DEFAULT_CUSTOM_VOICE_MODEL = "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"
DEFAULT_BASE_MODEL = "Qwen/Qwen3-TTS-12Hz-0.6B-Base"
DEFAULT_ZEROCONF_NAME = "qwen3-tts"
DEVICES_HELP = "auto | cpu | cuda | cuda:N | mps"
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Settings:
    uri: str = DEFAULT_URI
    custom_voice_model: str | None = DEFAULT_CUSTOM_VOICE_MODEL
    """None disables premium voices."""
    base_model: str = DEFAULT_BASE_MODEL
    """Loaded only when there are cloned voices."""
    voices_dir: Path | None = None
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
    max_batch: int = 4
    """Sentences generated together per model (one per answer): rooms served at once."""
    data_dir: Path | None = None
    local_files_only: bool = False
    seed: int | None = None
    debug: bool = False
    log_format: str = logging.BASIC_FORMAT


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--uri", default=DEFAULT_URI, help="tcp://HOST:PORT, unix://PATH or stdio://")
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
    parser.add_argument("--device", default="auto", help=DEVICES_HELP)
    parser.add_argument("--dtype", default="auto", choices=DTYPES, help="auto: bfloat16 on GPU, float32 on CPU")
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
        default=4,
        help="sentences generated together per model, one per answer (default: 4)",
    )
    parser.add_argument("--data-dir", type=Path, help="model download cache (default: Hugging Face's)")
    parser.add_argument(
        "--local-files-only", action="store_true", help="never download; use the cache or folders only"
    )
    parser.add_argument("--seed", type=int, help="seed every sentence for reproducible speech")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    parser.add_argument("--log-format", default=logging.BASIC_FORMAT, help="Python logging format")
    parser.add_argument("--version", action="version", version=__version__)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed flags; raises ValueError with a user-facing message."""
    custom_voice = args.custom_voice_model
    if custom_voice is not None and custom_voice.strip().lower() in ("", "none"):
        custom_voice = None
    if args.samples_per_chunk < 1:
        raise ValueError("--samples-per-chunk must be at least 1")
    if args.max_batch < 1:
        raise ValueError("--max-batch must be at least 1")
    return Settings(
        uri=args.uri,
        custom_voice_model=custom_voice,
        base_model=args.base_model,
        voices_dir=args.voices_dir,
        voice=args.voice,
        language=model_language(args.language),
        device=args.device,
        dtype=args.dtype,
        zeroconf_name=None if args.no_zeroconf else args.zeroconf,
        zeroconf_host=args.zeroconf_host,
        zeroconf_interfaces=tuple(args.zeroconf_interface) if args.zeroconf_interface else None,
        samples_per_chunk=args.samples_per_chunk,
        max_batch=args.max_batch,
        data_dir=args.data_dir,
        local_files_only=args.local_files_only,
        seed=args.seed,
        debug=args.debug,
        log_format=args.log_format,
    )
