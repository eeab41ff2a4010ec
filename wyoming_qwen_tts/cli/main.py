"""Command line: ``wyoming-qwen-tts [serve] [flags]``, ``say``, ``voice design|add|list|remove``
and ``health``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from pathlib import Path

from wyoming_qwen_tts import __version__
from wyoming_qwen_tts.app import runtime
from wyoming_qwen_tts.app.compose import StartupError, design_renderer
from wyoming_qwen_tts.app.serve import serve
from wyoming_qwen_tts.cli.health import health
from wyoming_qwen_tts.cli.say import SayError, say
from wyoming_qwen_tts.engine.interface import ModelLoadError
from wyoming_qwen_tts.settings.flags import add_flags, settings_from_args
from wyoming_qwen_tts.settings.option import DESIGN, SAY, SERVE
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.voices import manage as commands
from wyoming_qwen_tts.voices.voice import VoiceError

_LOGGER = logging.getLogger("wyoming_qwen_tts")

COMMANDS = ("serve", "say", "voice", "health")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-qwen-tts",
        description="Wyoming text-to-speech server for Home Assistant, backed by Qwen3-TTS",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the Wyoming server (the default command)")
    add_flags(serve, SERVE)
    serve.add_argument("--version", action="version", version=__version__)
    say = commands.add_parser(
        "say",
        help="speak a text in one voice into a WAV file or to stdout, streaming",
        description="Speak TEXT in one voice. The audio is written as it is generated: to a WAV "
        "file (its header is completed at the end), or with -o - to stdout as a WAV whose "
        "header gives its length as unknown (0xFFFFFFFF), which players read to the end.",
    )
    add_say_arguments(say)
    voice = commands.add_parser("voice", help="design, add, list or remove cloned voices")
    add_voice_command_parsers(voice)
    health = commands.add_parser(
        "health",
        help="check a running server with a Describe round trip (exit 0 healthy, 1 not)",
    )
    health.add_argument(
        "--uri",
        help="the server (default: the one running on this machine, from the address it "
        f"announces in {runtime.runtime_dir()})",
    )
    health.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the answer (default: 5)"
    )
    return parser


def add_say_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="what to say; - reads it from stdin")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="the WAV file to write, or - for stdout (streaming WAV)",
    )
    parser.add_argument(
        "--style", help="a style of the voice (calm, cheerful, ...; 1.7B CustomVoice only)"
    )
    add_flags(parser, SAY)


def add_voice_command_parsers(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    voices_dir = argparse.ArgumentParser(add_help=False)
    voices_dir.add_argument(
        "--voices-dir", type=Path, required=True, help="the voices folder (NAME.wav + NAME.txt)"
    )
    language = argparse.ArgumentParser(add_help=False)
    language.add_argument("--language", help="the language the voice speaks (en, de, ...)")
    force = argparse.ArgumentParser(add_help=False)
    force.add_argument("--force", action="store_true", help="replace a voice of the same name")

    design = actions.add_parser(
        "design",
        parents=[voices_dir, language, force],
        help="create a voice from a description (VoiceDesign model)",
        description="Render a reference clip in the described voice with the VoiceDesign "
        "model and store it as a cloned voice: from then on its timbre stays the same.",
    )
    design.add_argument("--name", required=True, help="the new voice's name")
    design.add_argument(
        "--description", required=True, help='what the voice sounds like: "a warm, calm ..."'
    )
    design.add_argument(
        "--sample-text", help="what the reference clip says (default: a few sentences)"
    )
    add_flags(design, DESIGN)

    add = actions.add_parser(
        "add",
        parents=[voices_dir, language, force],
        help="add a voice from a recording and its transcript",
        description="Check and normalize a recording (mono, 24 kHz, silence trimmed, half a "
        "second of silence appended; 3 to 29.5 s of speech) and store it as a cloned voice.",
    )
    add.add_argument("name", help="the new voice's name")
    add.add_argument("--audio", type=Path, required=True, help="the recording (WAV, FLAC, OGG)")
    add.add_argument("--text", required=True, help="exactly what is said in the recording")

    actions.add_parser("list", parents=[voices_dir], help="list the voices of a voices dir")
    remove = actions.add_parser("remove", parents=[voices_dir], help="delete a voice")
    remove.add_argument("name", help="the voice to delete")


def parse_args(argv: list[str]) -> argparse.Namespace:
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv = ["serve", *argv]
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "health":
        return health(args.uri, args.timeout)
    if args.command == "voice" and args.action in ("add", "list", "remove"):
        logging.basicConfig(level=logging.INFO)
        return _run_voice_command(args, None)
    try:
        settings = settings_from_args(args)
    except ValueError as err:
        print(f"wyoming-qwen-tts: error: {err}", file=sys.stderr)
        return 2
    _configure_hub(settings)
    _setup_logging(settings)
    if args.command == "say":
        return _run_say(args, settings)
    if args.command == "voice":
        return _run_voice_command(args, settings)
    return _run_server(settings)


def _configure_hub(settings: Settings) -> None:
    # qwen-tts looks its processor and codec files up without passing cache_dir and
    # local_files_only through: with --data-dir they were fetched into the default cache, and
    # offline every lookup retried the network (about 5 minutes). The Hub's own settings cover
    # every lookup; they must be set before the Hub is first imported (by the commands).
    if settings.data_dir is not None:
        os.environ["HF_HUB_CACHE"] = str(settings.data_dir)
    if settings.local_files_only:
        os.environ["HF_HUB_OFFLINE"] = "1"


def _run_say(args: argparse.Namespace, settings: Settings) -> int:
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        if args.output == "-":
            say(settings, text, sys.stdout.buffer, style=args.style)
        else:
            with open(args.output, "wb") as output:
                say(settings, text, output, style=args.style)
    except (SayError, ModelLoadError, OSError) as err:
        print(f"wyoming-qwen-tts say: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _run_voice_command(args: argparse.Namespace, settings: Settings | None) -> int:
    try:
        sys.stdout.write(_voice_action(args, settings))
    except (VoiceError, OSError) as err:
        print(f"wyoming-qwen-tts voice {args.action}: error: {err}", file=sys.stderr)
        return 1
    return 0


def _voice_action(args: argparse.Namespace, settings: Settings | None) -> str:
    """Runs one ``voice`` action; returns what to print. Raises VoiceError or OSError."""
    if args.action == "list":
        return commands.format_entries(commands.list_voices(args.voices_dir))
    if args.action == "remove":
        removed = commands.remove_voice(args.voices_dir, args.name)
        return f"Removed voice '{removed[0].stem}': {', '.join(p.name for p in removed)}\n"
    language = commands.parse_language(args.language)
    if args.action == "add":
        clip = commands.add_voice(
            args.voices_dir, args.name, args.audio, args.text, language=language, force=args.force
        )
        return f"Added voice '{args.name}': {clip}\n"
    assert settings is not None
    try:
        clip = commands.design_voice(
            design_renderer(settings),
            args.voices_dir,
            args.name,
            args.description,
            language=language,
            sample_text=args.sample_text,
            force=args.force,
        )
    except ModelLoadError as err:
        raise VoiceError(str(err)) from err
    return f"Designed voice '{args.name}': {clip}\n"


def _run_server(settings: Settings) -> int:
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
    # The Hub adds a handler of its own to its logger on import; records also reach the root
    # logger's, so each of its warnings (a retry, say) was printed twice, once unformatted.
    # Importing it here is safe: _configure_hub has set its environment.
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.get_logger().handlers.clear()


def run() -> None:
    status = main()
    # At exit the collector would walk every torch/transformers object (about 1 s); the OS frees
    # them anyway, and SIGTERM must finish within 2 s.
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
