"""Command line: ``wyoming-qwen-tts [serve] [flags]``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys

from . import __version__
from .settings import Settings, add_serve_arguments, settings_from_args

_LOGGER = logging.getLogger("wyoming_qwen_tts")

COMMANDS = ("serve",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-qwen-tts",
        description="Wyoming text-to-speech server for Home Assistant, backed by Qwen3-TTS",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the Wyoming server (the default command)")
    add_serve_arguments(serve)
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv = ["serve", *argv]
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = settings_from_args(args)
    except ValueError as err:
        print(f"wyoming-qwen-tts: error: {err}", file=sys.stderr)
        return 2
    _setup_logging(settings)
    return _run_server(settings)


def _run_server(settings: Settings) -> int:
    from .server import StartupError, serve

    try:
        asyncio.run(serve(settings))
    except StartupError as err:
        _LOGGER.error("%s", err)
        return 1
    except ModuleNotFoundError as err:
        if err.name != "qwen_tts":
            raise
        _LOGGER.error("qwen-tts is not installed; run: pip install --no-deps qwen-tts==0.1.1")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=logging.DEBUG if settings.debug else logging.INFO, format=settings.log_format)
    if not settings.debug:
        # transformers warns about pad_token_id on every generate call
        logging.getLogger("transformers").setLevel(logging.ERROR)
        for noisy in ("qwen_tts", "httpx", "huggingface_hub", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def run() -> None:
    status = main()
    # At exit the collector would walk every torch/transformers object (about 1 s); the OS frees
    # them anyway, and SIGTERM must finish within 2 s.
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
