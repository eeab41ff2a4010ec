#!/usr/bin/env python3
"""First audio over Wyoming for a sentence from the sentence cache, against an uncached one.

Starts the real server with the sentence cache in a fresh folder, speaks N new sentences (misses:
the model generates them), waits a second, and speaks them again (hits). Prints the
medians and PASS/MISS against the target: a cached first audio within 5 ms. Asserts nothing.

Usage (see bench/README.md)::

    python bench/cached_ttfa.py                  # tiny random checkpoint
    python bench/cached_ttfa.py --checkpoint DIR --runs 21 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from _server import ServerProcess  # noqa: E402  (bench/_server.py)
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.tts import Synthesize, SynthesizeVoice  # noqa: E402

from tests.checkpoints import build_checkpoint  # noqa: E402

TARGET_MS = 5.0
ROOMS = ("kitchen", "hall", "garage", "attic", "porch", "cellar", "study", "nursery")


async def first_audio_ms(server: ServerProcess, text: str, voice: str) -> float:
    async with AsyncTcpClient(server.host, server.port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        first = None
        while True:
            event = await client.read_event()
            if event is None or event.type in ("audio-stop", "error"):
                break
            if event.type == "audio-chunk" and first is None:
                first = time.perf_counter()
    assert first is not None, "no audio"
    return (first - started) * 1000


async def measure(server: ServerProcess, args: argparse.Namespace) -> dict:
    await first_audio_ms(server, "Warming up.", args.voice)
    texts = [f"The {ROOMS[run % len(ROOMS)]} light number {run} is on." for run in range(args.runs)]
    misses = [await first_audio_ms(server, text, args.voice) for text in texts]
    await asyncio.sleep(1.0)  # the model's worker settles, as between two announcements
    hits = [await first_audio_ms(server, text, args.voice) for text in texts]
    return {
        "uncached_first_audio_ms_median": statistics.median(misses),
        "cached_first_audio_ms_median": statistics.median(hits),
        "cached_first_audio_ms_max": max(hits),
        "runs": args.runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, help="a CustomVoice checkpoint (default: tiny)")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--voice", default="ryan")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    checkpoint = args.checkpoint or build_checkpoint(folder / "cv", "custom_voice")
    server = ServerProcess(
        checkpoint, threads=args.threads, seed=7, debug=False,
        extra_args=["--cache-dir", str(folder / "cache"), "--audio-cache-mb", "64"],
    )  # fmt: skip
    server.start()
    try:
        report = asyncio.run(measure(server, args))
    finally:
        server.stop()
    print(f"uncached first audio: {report['uncached_first_audio_ms_median']:.1f} ms (median)")
    print(
        f"cached first audio:   {report['cached_first_audio_ms_median']:.2f} ms (median), "
        f"{report['cached_first_audio_ms_max']:.2f} ms max, over {args.runs} runs"
    )
    verdict = "PASS" if report["cached_first_audio_ms_median"] <= TARGET_MS else "MISS"
    print(f"{verdict}: cached first audio <= {TARGET_MS:g} ms")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
