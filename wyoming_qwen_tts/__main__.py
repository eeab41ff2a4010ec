"""Command line: ``wyoming-qwen-tts [serve] [flags]`` and ``wyoming-qwen-tts health``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import tempfile
from pathlib import Path

from . import __version__
from .settings import (
    Settings,
    add_serve_arguments,
    explicit_flags,
    materialize_cloned_voices,
    settings_from_args,
)

_LOGGER = logging.getLogger("wyoming_qwen_tts")

COMMANDS = ("serve", "health")
HEALTH_URI = "tcp://127.0.0.1:10200"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-qwen-tts",
        description="Wyoming text-to-speech server for Home Assistant, backed by Qwen3-TTS",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the Wyoming server (the default command)")
    add_serve_arguments(serve)
    health = commands.add_parser(
        "health",
        help="check a running server with a Describe round trip (exit 0 healthy, 1 not)",
    )
    health.add_argument("--uri", default=HEALTH_URI, help=f"the server (default: {HEALTH_URI})")
    health.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the answer (default: 5)"
    )
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv = ["serve", *argv]
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        # Flags given on the command line win over an --options file.
        args.explicit_flags = explicit_flags(argv[1:])
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "health":
        return health(args.uri, args.timeout)
    try:
        settings = settings_from_args(args)
    except ValueError as err:
        print(f"wyoming-qwen-tts: error: {err}", file=sys.stderr)
        return 2
    _setup_logging(settings)
    return _run_server(settings)


def _run_server(settings: Settings) -> int:
    # qwen-tts looks its processor and codec files up without passing cache_dir and
    # local_files_only through: with --data-dir they were fetched into the default cache, and
    # offline every lookup retried the network (about 5 minutes). The Hub's own settings cover
    # every lookup; they must be set before the Hub is first imported, which is below.
    if settings.data_dir is not None:
        os.environ["HF_HUB_CACHE"] = str(settings.data_dir)
    if settings.local_files_only:
        os.environ["HF_HUB_OFFLINE"] = "1"
    from .server import StartupError, serve

    try:
        with tempfile.TemporaryDirectory(prefix="wyoming-qwen-tts-voices-") as voices:
            # Cloned voices listed in the options become a voices folder the server scans.
            settings = materialize_cloned_voices(settings, Path(voices))
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


def health(uri: str, timeout: float) -> int:
    """Describe round trip: 0 when an Info with a TTS program comes back, else 1 and one line."""
    try:
        info = asyncio.run(_describe(uri, timeout))
    except TimeoutError:
        problem = f"no answer to Describe from {uri} within {timeout:g} s"
    except ConnectionRefusedError:
        problem = f"cannot connect to {uri}: connection refused (is the server running?)"
    except EOFError:
        problem = f"{uri} closed the connection without answering Describe"
    except OSError as err:
        problem = f"cannot talk to {uri}: {err}"
    except ValueError as err:
        problem = f"cannot check {uri}: {err}"
    else:
        programs = [program for program in info.tts if program.installed]
        if programs:
            voices = sum(len(program.voices) for program in programs)
            print(f"healthy: {programs[0].name} at {uri}, {voices} voices")
            return 0
        problem = f"{uri} answered Describe but offers no text-to-speech program"
    print(f"wyoming-qwen-tts health: unhealthy: {problem}", file=sys.stderr)
    return 1


async def _describe(uri: str, timeout: float):  # -> wyoming.info.Info
    from wyoming.client import AsyncClient
    from wyoming.info import Describe, Info

    async with asyncio.timeout(timeout):
        async with AsyncClient.from_uri(uri) as client:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise EOFError
                if Info.is_type(event.type):
                    return Info.from_event(event)


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
