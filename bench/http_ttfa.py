"""First audio and real-time factor over HTTP (``/v1/audio/speech``) beside Wyoming, one server.

Both clients ask the same server for the same sentence in the same voice, in turn (A B A B ...),
so machine drift hits both alike; the figure to read is the difference of the medians.
Target (DESIGN.md): HTTP first audio within 5 ms of Wyoming's.

    python bench/http_ttfa.py                 # tiny random checkpoint, 2 cores: about a minute
    python bench/http_ttfa.py --runs 21 --checkpoint DIR
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeVoice

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._server import ServerProcess  # noqa: E402
from tests.checkpoints import build_checkpoint  # noqa: E402

SAMPLE_BYTES_PER_SECOND = 24000 * 2
_HTTP = re.compile(r"HTTP: web page and speech API on http://[^:]+:(\d+)/")


async def wyoming_once(server: ServerProcess, text: str, voice: str) -> tuple[float, float]:
    """(first audio ms, real-time factor) of one one-shot synthesize."""
    async with AsyncTcpClient(server.host, server.port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        first = None
        audio = 0
        while True:
            event = await client.read_event()
            if event is None or event.type in ("audio-stop", "error"):
                break
            if event.type == "audio-chunk":
                first = first or time.perf_counter()
                audio += len(event.payload or b"")
        elapsed = time.perf_counter() - started
    assert first is not None, "no audio over Wyoming"
    return (first - started) * 1000, audio / SAMPLE_BYTES_PER_SECOND / elapsed


async def http_once(session: aiohttp.ClientSession, url: str, text: str, voice: str) -> tuple[float, float]:
    body = {"input": text, "voice": voice, "response_format": "pcm"}
    started = time.perf_counter()
    first = None
    audio = 0
    async with session.post(url, json=body) as response:
        response.raise_for_status()
        async for chunk in response.content.iter_any():
            first = first or time.perf_counter()
            audio += len(chunk)
    elapsed = time.perf_counter() - started
    assert first is not None, "no audio over HTTP"
    return (first - started) * 1000, audio / SAMPLE_BYTES_PER_SECOND / elapsed


async def measure(server: ServerProcess, http_port: int, args: argparse.Namespace) -> dict:
    url = f"http://127.0.0.1:{http_port}/v1/audio/speech"
    figures: dict[str, list[tuple[float, float]]] = {"wyoming": [], "http": []}
    async with aiohttp.ClientSession() as session:
        await wyoming_once(server, args.text, args.voice)  # warm-up, both paths
        await http_once(session, url, args.text, args.voice)
        for _ in range(args.runs):
            figures["wyoming"].append(await wyoming_once(server, args.text, args.voice))
            figures["http"].append(await http_once(session, url, args.text, args.voice))
    report = {}
    for side, runs in figures.items():
        firsts = sorted(first for first, _ in runs)
        report[side] = {
            "first_audio_ms_median": statistics.median(firsts),
            "first_audio_ms_min": firsts[0],
            "first_audio_ms_max": firsts[-1],
            "rtf_median": statistics.median(rtf for _, rtf in runs),
        }
    report["http_minus_wyoming_ms"] = (
        report["http"]["first_audio_ms_median"] - report["wyoming"]["first_audio_ms_median"]
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="a CustomVoice checkpoint (default: tiny random)")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--voice", default="ryan")
    parser.add_argument("--text", default="The washing machine is done, and the dryer is next.")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    checkpoint = args.checkpoint or build_checkpoint(Path(tempfile.mkdtemp()) / "cv", "custom_voice")
    server = ServerProcess(
        checkpoint, threads=args.threads, seed=7, debug=False,
        extra_args=["--http-host", "127.0.0.1", "--http-port", "0"],
    )  # fmt: skip
    server.start()
    try:
        match = server.wait_for(_HTTP, since=0, timeout=10)
        assert match is not None, "the server did not start its HTTP side"
        report = asyncio.run(measure(server, int(match.group(1)), args))
    finally:
        server.stop()
    print(f"{args.runs} runs each, in turn, same server, voice {args.voice}, {args.text!r}")
    print("side    | first audio median (min-max) ms | real-time factor median")
    for side in ("wyoming", "http"):
        r = report[side]
        print(
            f"{side:7} | {r['first_audio_ms_median']:8.1f} ({r['first_audio_ms_min']:.1f}-"
            f"{r['first_audio_ms_max']:.1f}) | {r['rtf_median']:.2f}"
        )
    difference = report["http_minus_wyoming_ms"]
    verdict = "PASS" if difference <= 5 else "FAIL"
    print(f"{verdict}  HTTP first audio within 5 ms of Wyoming's: {difference:+.1f} ms")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
