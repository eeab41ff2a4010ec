"""CPU cost of speech control: TempoStream (speed) and GainStream (loudness), per audio second.

Feeds 30 s of synthetic speech-like audio (tests/speechlike.py) in 80 ms chunks, as the engine
emits it, through each stream and reports the process time it took as a percentage of one core
(CPU seconds per audio second). Each figure is the best of ``--runs`` runs. The target: at most
2 % of one core each.

    python bench/speech_control_cost.py
    python bench/speech_control_cost.py --seconds 60 --runs 5 --json

Also prints the audio each stream holds back (latency): the most input not yet answered by
output while streaming, in ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.speechlike import SAMPLE_RATE, speech_like, to_pcm  # noqa: E402
from wyoming_qwen_tts.audio.loudness import GainStream  # noqa: E402
from wyoming_qwen_tts.audio.tempo import TempoStream  # noqa: E402

CHUNK_MS = 80
TARGET_PERCENT = 2.0


def run_once(make: Callable[[], TempoStream | GainStream], chunks: list[bytes], rate: float):
    stream = make()
    fed = out = 0
    held = 0.0
    started = time.process_time()
    for chunk in chunks:
        fed += len(chunk) // 2
        out += len(stream.process(chunk)) // 2
        held = max(held, fed - out * rate)
    out += len(stream.flush()) // 2
    return time.process_time() - started, held, out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="audio length (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="runs per stream; the best counts")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()

    pcm = to_pcm(speech_like(args.seconds, seed=0))
    step = 2 * SAMPLE_RATE * CHUNK_MS // 1000
    chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
    audio_seconds = len(pcm) / 2 / SAMPLE_RATE

    cases: list[tuple[str, Callable[[], TempoStream | GainStream], float]] = [
        ("TempoStream 0.8", lambda: TempoStream(0.8), 0.8),
        ("TempoStream 1.25", lambda: TempoStream(1.25), 1.25),
        ("GainStream +6 dB", lambda: GainStream(6.0), 1.0),
    ]
    print(
        f"{audio_seconds:.0f} s of speech-like audio at {SAMPLE_RATE} Hz in {CHUNK_MS} ms chunks,"
        f" best of {args.runs} runs"
    )
    print("stream            | CPU % of one core | ms CPU per audio s | held back ms | out s")
    report: dict[str, dict[str, float]] = {}
    for name, make, rate in cases:
        best = None
        for _ in range(args.runs):
            cpu, held, out = run_once(make, chunks, rate)
            best = cpu if best is None else min(best, cpu)
        assert best is not None
        percent = 100 * best / audio_seconds
        held_ms = 1000 * held / SAMPLE_RATE
        print(
            f"{name:17s} | {percent:17.2f} | {1000 * best / audio_seconds:18.2f} |"
            f" {held_ms:12.1f} | {out / SAMPLE_RATE:5.1f}"
        )
        report[name] = {
            "cpu_percent": percent,
            "held_ms": held_ms,
            "out_seconds": out / SAMPLE_RATE,
        }
        verdict = "PASS" if percent <= TARGET_PERCENT else "MISS"
        print(f"{verdict}  {name}: {percent:.2f} % of one core (target <= {TARGET_PERCENT} %)")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
