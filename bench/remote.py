"""A Wyoming front for a remote engine (``--remote-url``) against the remote's own HTTP.

One run starts a remote (our own server with ``--http-port``; a tiny random checkpoint unless
``--checkpoint DIR``) and a front with ``--remote-url`` in front of it, then in turn (A B A B ...):

- the remote's own first audio byte: ``POST /v1/audio/speech`` with ``stream_format: "audio"``;
- the first ``audio-chunk`` over Wyoming through the front, for the same sentence.

Then it streams ``--streams`` answers through the front at once and reads the front's CPU time
(``/proc/PID/stat``) per second of audio, its RSS, and how long Describe takes meanwhile.

Targets (issue 12): first audio within 10 ms of the remote's first byte; RSS under 150 MB;
under 2 % of one core per real-time stream.

    python bench/remote.py                      # 2 cores: about a minute
    python bench/remote.py --runs 21 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeVoice

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._server import ServerProcess  # noqa: E402
from tests.checkpoints import build_checkpoint  # noqa: E402

BYTES_PER_SECOND = 24000 * 2
_HTTP = re.compile(r"HTTP: web page and speech API on http://[^:]+:(\d+)/")
_UP = re.compile(r"Remote \S+ is up")
TICKS = os.sysconf("SC_CLK_TCK")


async def front_once(front: ServerProcess, text: str, voice: str) -> tuple[float, int]:
    """(first audio ms, audio bytes) of one one-shot synthesize through the front."""
    async with AsyncTcpClient(front.host, front.port) as client:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        first, audio = None, 0
        while True:
            event = await client.read_event()
            if event is None or event.type in ("audio-stop", "error"):
                assert event is not None and event.type == "audio-stop", event
                break
            if event.type == "audio-chunk":
                first = first or time.perf_counter()
                audio += len(event.payload or b"")
    assert first is not None, "no audio through the front"
    return (first - started) * 1000, audio


async def remote_once(session: aiohttp.ClientSession, url: str, text: str, voice: str) -> float:
    body = {"input": text, "voice": voice, "response_format": "pcm", "stream": True,
            "stream_format": "audio"}  # fmt: skip
    started = time.perf_counter()
    first = None
    async with session.post(url, json=body) as response:
        response.raise_for_status()
        async for _ in response.content.iter_any():
            first = first or time.perf_counter()
    assert first is not None, "no audio from the remote"
    return (first - started) * 1000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def describe_ms(front: ServerProcess) -> float:
    async with AsyncTcpClient(front.host, front.port) as client:
        started = time.perf_counter()
        await client.write_event(Describe().event())
        while (event := await client.read_event()) is not None and event.type != "info":
            pass
        return (time.perf_counter() - started) * 1000


async def measure(remote_http: int, front: ServerProcess, args: argparse.Namespace) -> dict:
    url = f"http://127.0.0.1:{remote_http}/v1/audio/speech"
    pairs: list[tuple[float, float]] = []
    async with aiohttp.ClientSession() as session:
        await remote_once(session, url, args.text, args.voice)  # warm-up, both paths
        await front_once(front, args.text, args.voice)
        for _ in range(args.runs):
            own = await remote_once(session, url, args.text, args.voice)
            through, _ = await front_once(front, args.text, args.voice)
            pairs.append((own, through))
    assert front.proc is not None
    pid = front.proc.pid
    cpu_before = cpu_seconds(pid)
    describes: list[float] = []

    async def keep_describing() -> None:
        while True:
            describes.append(await describe_ms(front))
            await asyncio.sleep(0.05)

    looking = asyncio.create_task(keep_describing())
    results = await asyncio.gather(
        *(front_once(front, args.text, args.voice) for _ in range(args.streams))
    )
    looking.cancel()
    audio_seconds = sum(audio for _, audio in results) / BYTES_PER_SECOND
    cpu = cpu_seconds(pid) - cpu_before
    owns = sorted(own for own, _ in pairs)
    throughs = sorted(through for _, through in pairs)
    return {
        "remote_first_byte_ms_median": statistics.median(owns),
        "front_first_audio_ms_median": statistics.median(throughs),
        "front_minus_remote_ms": statistics.median(t - o for o, t in pairs),
        "front_first_audio_ms_range": [throughs[0], throughs[-1]],
        "front_cpu_percent_per_realtime_stream": 100 * cpu / audio_seconds,
        "front_rss_mb": rss_mb(pid),
        "describe_ms_max_under_load": max(describes) if describes else None,
        "describes": len(describes),
        "streams": args.streams,
        "audio_seconds": audio_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="the remote's CustomVoice checkpoint (default: tiny random)")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--streams", type=int, default=4, help="answers streamed at once for CPU, RSS, Describe")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--voice", default="ryan")
    parser.add_argument("--text", default="The washing machine is done, and the dryer is next.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    checkpoint = args.checkpoint or build_checkpoint(Path(tempfile.mkdtemp()) / "cv", "custom_voice")
    remote = ServerProcess(checkpoint, threads=args.threads, seed=7, debug=False,
                           extra_args=["--http-host", "127.0.0.1", "--http-port", "0"])  # fmt: skip
    remote.start()
    front = None
    try:
        match = remote.wait_for(_HTTP, since=0, timeout=10)
        assert match is not None, "the remote did not start its HTTP side"
        http_port = int(match.group(1))
        front = ServerProcess(None, threads=1, seed=7, debug=False,
                              extra_args=["--remote-url", f"http://127.0.0.1:{http_port}/v1"])  # fmt: skip
        front.start()
        assert front.wait_for(_UP, since=0, timeout=10), "the front did not see the remote"
        report = asyncio.run(measure(http_port, front, args))
    finally:
        if front is not None:
            front.stop()
        remote.stop()
    print(f"{args.runs} runs in turn, voice {args.voice}, {args.text!r}")
    print(f"remote's own first byte, median      {report['remote_first_byte_ms_median']:8.1f} ms")
    print(f"first audio through the front, median {report['front_first_audio_ms_median']:8.1f} ms")
    difference = report["front_minus_remote_ms"]
    print(f"{'PASS' if difference <= 10 else 'FAIL'}  within 10 ms of the remote's first byte: {difference:+.1f} ms (median of pairs)")
    rss = report["front_rss_mb"]
    print(f"{'PASS' if rss < 150 else 'FAIL'}  front RSS under 150 MB: {rss:.1f} MB")
    cpu = report["front_cpu_percent_per_realtime_stream"]
    print(f"{'PASS' if cpu < 2 else 'FAIL'}  front CPU under 2 % of a core per real-time stream: {cpu:.2f} %")
    worst = report["describe_ms_max_under_load"]
    if worst is not None:
        print(f"{'PASS' if worst < 100 else 'FAIL'}  Describe under 100 ms while {args.streams} answers stream: worst {worst:.1f} ms of {report['describes']}")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
