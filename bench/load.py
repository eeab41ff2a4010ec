#!/usr/bin/env python3
"""Many rooms at once: N concurrent streaming clients against the real server.

Starts ``python -m wyoming_qwen_tts`` on 127.0.0.1 (once per ``--max-batch`` value, so batching on
and off show side by side), then for each client count N runs ``--rounds`` rounds in which N
Home-Assistant-like streaming requests (``synthesize-start``, ~15-character ``synthesize-chunk``s
back to back, the compat ``synthesize`` with the whole text, ``synthesize-stop``; read until
``synthesize-stopped``), each with its own three-sentence text, start at the same moment (or
staggered). Meanwhile a separate client sends ``describe`` every 100 ms on a fresh connection.

Prints per (max-batch, N): time to first audio p50/p95/max, total time p50, the aggregate
real-time factor (audio seconds of all clients / wall time of the round) and Describe latency
(p95, max). It asserts nothing and exits 0 unless something broke.

Usage (see bench/README.md)::

    python bench/load.py                                  # tiny random checkpoint, ~4 min
    python bench/load.py --clients 1,4,8 --max-batch 1,4,8 --rounds 3 --json load.json
    python bench/load.py --checkpoint DIR --threads 2 --server-arg "--samples-per-chunk 2048"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _server import REPO, ServerProcess  # bench/_server.py

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.error import Error  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402
from wyoming.tts import (  # noqa: E402
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from wyoming_qwen_tts.text.sentences import frame_budget, split_sentences  # noqa: E402

# One three-sentence answer per client, the kind an announcement or Assist says. Short sentences
# of similar length keep a round short: the tiny checkpoint never samples end-of-speech, so each
# sentence runs to its frame budget (2 s + 0.13 s per letter, text.frame_budget), about 3.5 s of
# audio here. Client i gets TEXTS[i % len(TEXTS)].
TEXTS = (
    "Dinner is ready. Please come down. The table is set.",
    "The door is locked. The porch light is on. Sleep well.",
    "It is raining now. Take an umbrella. Roads are wet.",
    "The wash is done. Please empty it. Thank you.",
    "A parcel arrived. It is at the door. Bring it in.",
    "The oven is hot. Dinner in ten minutes. Set the table.",
    "Good morning. It is seven. The coffee is ready.",
    "The garage is open. Close it soon. It is getting dark.",
    "Bedtime in five minutes. Brush your teeth. Good night.",
    "The bus is late. It comes at eight. Stay inside.",
    "Music is paused. The baby is asleep. Keep it quiet.",
    "Lights off in the hall. Heating is down. All set.",
)

CONNECT_TIMEOUT_S = 10.0
DESCRIBE_EVERY_S = 0.1
DESCRIBE_TIMEOUT_S = 10.0
START_DELAY_S = 0.05
"""From 'every client is connected' to the common start moment."""
SETTLE_S = 0.5
"""Pause between rounds, so that one round's tail (socket close, cancellation) does not bleed in."""

LEGEND = """\
  TTFA: each client's synthesize-start written -> its first audio-chunk read (ms); p50/p95/max
        over all clients of all rounds (p95: nearest rank, so the max for fewer than 20)
  late TTFA: TTFA of the client that wrote synthesize-start last in each round, max (ms)
  total: synthesize-start written -> synthesize-stopped read, p50 (ms)
  stall: per client, how long in all a player that starts at its first audio-chunk would sit
        with nothing to play (ms; 0 = the audio always arrived ahead of playback); p50 and max
  agg RTF: audio seconds of all clients / wall time of the round (first start -> last
        synthesize-stopped); median of the rounds (min-max)
  1st<fin: rounds in which every client's first audio came before any client had finished
  describe: a separate client, every 100 ms during each round, on a fresh connection:
        connect + describe -> info (ms); p95 and max over all probes
  audio: audio seconds received / expected from the frame budgets (the tiny checkpoint always
        runs each sentence to its budget: budget - 1 frames), all clients of all rounds"""


# ---------------------------------------------------------------------------------------------
# Clients


@dataclass
class ClientRun:
    client: int
    text: str
    start_s: float
    """When it wrote synthesize-start, from the round's common start moment."""
    ttfa_ms: float | None = None
    total_ms: float | None = None
    audio_s: float = 0.0
    expected_audio_s: float = 0.0
    max_gap_ms: float | None = None
    """Longest pause between two audio-chunks after the first."""
    stall_ms: float | None = None
    """Worst lateness of an audio-chunk against real-time playback from the first chunk: how long
    in all a player that starts at the first chunk (and waits whenever it runs dry) would wait."""
    audio_starts: int = 0
    audio_stops: int = 0
    error: str | None = None

    @property
    def first_audio_s(self) -> float | None:
        """First audio, from the round's common start moment."""
        return None if self.ttfa_ms is None else self.start_s + self.ttfa_ms / 1000.0

    @property
    def end_s(self) -> float | None:
        return None if self.total_ms is None else self.start_s + self.total_ms / 1000.0


def text_pieces(text: str, size: int) -> list[str]:
    """``text`` in pieces of ``size`` characters, cut anywhere (an LLM's tokens are not words)."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def expected_audio_s(text: str) -> float:
    """Audio the tiny checkpoint gives for ``text``: every sentence runs to its frame budget.

    A sentence capped by its budget B (``max_new_tokens``) has B - 1 frames, like upstream
    ``generate``: the last sampled token gets no residual codebooks.
    """
    return sum(frame_budget(sentence) - 1 for sentence in split_sentences(text)) / 12.5


async def stream_client(
    host: str,
    port: int,
    run: ClientRun,
    voice: str,
    chunk_chars: int,
    start_at: float,
    deadline: float,
) -> ClientRun:
    """One streaming request on its own connection, like a Home Assistant satellite."""
    client = AsyncTcpClient(host, port)
    try:
        await asyncio.wait_for(client.connect(), CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as err:
        run.error = f"connect: {err!r}"
        return run
    try:
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        wanted = SynthesizeVoice(name=voice)
        t0 = time.perf_counter()
        run.start_s = t0 - (start_at - run.start_s)
        await client.write_event(SynthesizeStart(voice=wanted).event())
        for piece in text_pieces(run.text, chunk_chars):
            await client.write_event(SynthesizeChunk(text=piece).event())
        # Home Assistant repeats the whole text for servers that do not stream.
        await client.write_event(Synthesize(text=run.text, voice=wanted).event())
        await client.write_event(SynthesizeStop().event())
        audio_bytes = 0
        first: float | None = None
        last_chunk: float | None = None
        max_gap = stall = 0.0
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                run.error = "timed out before synthesize-stopped"
                break
            try:
                event = await asyncio.wait_for(client.read_event(), remaining)
            except TimeoutError:
                run.error = "timed out before synthesize-stopped"
                break
            now = time.perf_counter()
            if event is None:
                run.error = "the server closed the connection"
                break
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                if first is None or last_chunk is None:
                    first = now
                    run.ttfa_ms = (now - t0) * 1000.0
                else:
                    max_gap = max(max_gap, now - last_chunk)
                    # A player started at the first chunk has played run.audio_s by now.
                    stall = max(stall, (now - first) - run.audio_s)
                last_chunk = now
                audio_bytes += len(chunk.audio)
                run.audio_s = audio_bytes / (chunk.rate * chunk.width * chunk.channels)
            elif AudioStart.is_type(event.type):
                run.audio_starts += 1
            elif AudioStop.is_type(event.type):
                run.audio_stops += 1
            elif Error.is_type(event.type):
                run.error = f"server error: {Error.from_event(event).text}"
            elif SynthesizeStopped.is_type(event.type):
                run.total_ms = (now - t0) * 1000.0
                break
        if run.ttfa_ms is not None:
            run.max_gap_ms = max_gap * 1000.0
            run.stall_ms = stall * 1000.0
    except (OSError, ConnectionError) as err:
        run.error = f"{type(err).__name__}: {err}"
    finally:
        await client.disconnect()
    return run


async def describe_once(host: str, port: int) -> float:
    """Connect, describe, read until info: milliseconds."""
    t0 = time.perf_counter()
    client = AsyncTcpClient(host, port)
    async with asyncio.timeout(DESCRIBE_TIMEOUT_S):
        await client.connect()
        try:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise ConnectionError("the server closed the connection")
                if Info.is_type(event.type):
                    return (time.perf_counter() - t0) * 1000.0
        finally:
            await client.disconnect()


async def describe_prober(
    host: str, port: int, stop: asyncio.Event, samples: list[float], errors: list[str], limit: int
) -> None:
    """Describe every 100 ms (one at a time) until ``stop`` or ``limit`` probes."""
    for _ in range(limit):
        if stop.is_set():
            return
        started = time.perf_counter()
        try:
            samples.append(await describe_once(host, port))
        except (OSError, ConnectionError, TimeoutError) as err:
            errors.append(f"{type(err).__name__}: {err}")
        wait = DESCRIBE_EVERY_S - (time.perf_counter() - started)
        if wait > 0:
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                pass


# ---------------------------------------------------------------------------------------------
# Rounds


@dataclass
class Round:
    clients: list[ClientRun]
    wall_s: float
    describe_ms: list[float]
    describe_errors: list[str]

    @property
    def audio_s(self) -> float:
        return sum(c.audio_s for c in self.clients)

    @property
    def rtf(self) -> float | None:
        return self.audio_s / self.wall_s if self.wall_s > 0 else None

    @property
    def first_before_finish(self) -> bool | None:
        """Every client's first audio came before any client finished its whole answer."""
        firsts = [c.first_audio_s for c in self.clients]
        ends = [c.end_s for c in self.clients if c.end_s is not None]
        if any(f is None for f in firsts) or not ends:
            return None
        return max(f for f in firsts if f is not None) < min(ends)


async def run_round(
    host: str,
    port: int,
    n: int,
    voice: str,
    chunk_chars: int,
    stagger_s: float,
    timeout_s: float,
) -> Round:
    now = time.perf_counter()
    start_at = now + START_DELAY_S
    deadline = start_at + timeout_s
    runs = [
        ClientRun(
            client=i,
            text=TEXTS[i % len(TEXTS)],
            start_s=i * stagger_s,
            expected_audio_s=expected_audio_s(TEXTS[i % len(TEXTS)]),
        )
        for i in range(n)
    ]
    stop = asyncio.Event()
    describe_ms: list[float] = []
    describe_errors: list[str] = []
    probes = int(timeout_s / DESCRIBE_EVERY_S) + 1
    prober = asyncio.create_task(
        describe_prober(host, port, stop, describe_ms, describe_errors, probes)
    )
    # Each client connects first, then waits for its start moment (connecting is not timed).
    tasks = [
        stream_client(host, port, run, voice, chunk_chars, start_at + run.start_s, deadline)
        for run in runs
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        await asyncio.wait_for(prober, DESCRIBE_TIMEOUT_S + 1.0)
    ends = [r.end_s for r in runs if r.end_s is not None]
    wall = (max(ends) if ends else time.perf_counter() - start_at) - min(r.start_s for r in runs)
    return Round(runs, wall, describe_ms, describe_errors)


@dataclass
class Setting:
    """All rounds at one --max-batch value."""

    max_batch: int
    server_ready_s: float = 0.0
    warmup_ttfa_ms: float | None = None
    warmup_total_ms: float | None = None
    idle_describe_ms: float | None = None
    rounds: dict[int, list[Round]] = field(default_factory=dict)
    problems: list[list[str]] = field(default_factory=list)
    exit_code: int | None = None


async def measure_setting(
    server: ServerProcess, setting: Setting, args: argparse.Namespace, log: Callable[[str], None]
) -> None:
    host, port = server.host, server.port
    setting.idle_describe_ms = await describe_once(host, port)
    # Warm-up: the worker thread, the allocator and the first generate calls (one sentence).
    warm = ClientRun(client=-1, text="Warming up.", start_s=0.0)
    begin = time.perf_counter()
    await stream_client(
        host, port, warm, args.voice, args.chunk_chars, begin, begin + args.round_timeout
    )
    if warm.error:
        raise RuntimeError(f"warm-up failed: {warm.error}")
    setting.warmup_ttfa_ms, setting.warmup_total_ms = warm.ttfa_ms, warm.total_ms
    log(
        f"max-batch {setting.max_batch}: idle describe {setting.idle_describe_ms:.1f} ms; "
        f"warm-up TTFA {warm.ttfa_ms:.0f} ms, total {warm.total_ms:.0f} ms"
    )
    for n in args.clients:
        rounds = setting.rounds.setdefault(n, [])
        for index in range(args.rounds):
            await asyncio.sleep(SETTLE_S)
            rnd = await run_round(
                host,
                port,
                n,
                args.voice,
                args.chunk_chars,
                args.stagger_ms / 1000.0,
                args.round_timeout,
            )
            rounds.append(rnd)
            ttfas = ", ".join(_fmt(c.ttfa_ms, ".0f") for c in rnd.clients)
            bad = [c for c in rnd.clients if c.error]
            log(
                f"max-batch {setting.max_batch} N={n} round {index + 1}/{args.rounds}: "
                f"wall {rnd.wall_s:.1f} s, agg RTF {_fmt(rnd.rtf, '.2f')}, "
                f"TTFA per client [{ttfas}] ms, describe max "
                f"{_fmt(max(rnd.describe_ms, default=None), '.0f')} ms"
                + (f", {len(bad)} client error(s): {bad[0].error}" if bad else "")
            )


# ---------------------------------------------------------------------------------------------
# Report


def _fmt(value: float | None, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (no interpolation): an observed value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100.0 * len(ordered)) - 1)]


def summarize(rounds: list[Round]) -> dict[str, object]:
    clients = [c for r in rounds for c in r.clients]
    ttfa = [c.ttfa_ms for c in clients if c.ttfa_ms is not None]
    totals = [c.total_ms for c in clients if c.total_ms is not None]
    gaps = [c.max_gap_ms for c in clients if c.max_gap_ms is not None]
    stalls = [c.stall_ms for c in clients if c.stall_ms is not None]
    lasts = [max(r.clients, key=lambda c: c.start_s) for r in rounds]
    late = [c.ttfa_ms for c in lasts if c.ttfa_ms is not None]
    rtfs = [r.rtf for r in rounds if r.rtf is not None]
    describe = [d for r in rounds for d in r.describe_ms]
    fbf = [r.first_before_finish for r in rounds]
    return {
        "clients": len(clients),
        "ttfa_p50_ms": percentile(ttfa, 50),
        "ttfa_p95_ms": percentile(ttfa, 95),
        "ttfa_max_ms": max(ttfa, default=None),
        "late_client_ttfa_max_ms": max(late, default=None),
        "total_p50_ms": percentile(totals, 50),
        "total_max_ms": max(totals, default=None),
        "max_gap_ms": max(gaps, default=None),
        "stall_p50_ms": percentile(stalls, 50),
        "stall_max_ms": max(stalls, default=None),
        "agg_rtf_median": statistics.median(rtfs) if rtfs else None,
        "agg_rtf_min": min(rtfs, default=None),
        "agg_rtf_max": max(rtfs, default=None),
        "round_wall_s": [r.wall_s for r in rounds],
        "first_audio_before_any_finish": f"{sum(1 for x in fbf if x)}/{len(fbf)}",
        "describe_probes": len(describe),
        "describe_p95_ms": percentile(describe, 95),
        "describe_max_ms": max(describe, default=None),
        "describe_errors": sum(len(r.describe_errors) for r in rounds),
        "audio_s": sum(c.audio_s for c in clients),
        "expected_audio_s": sum(c.expected_audio_s for c in clients),
        "errors": [c.error for c in clients if c.error],
    }


def build_table(settings: list[Setting]) -> tuple[list[str], list[dict[str, object]]]:
    header = (
        "max-batch",
        "N",
        "runs",
        "TTFA p50",
        "p95",
        "max",
        "late TTFA",
        "total p50",
        "stall p50",
        "max",
        "agg RTF (min-max)",
        "1st<fin",
        "describe p95",
        "max",
        "audio s (exp)",
        "errors",
    )
    rows: list[tuple[str, ...]] = []
    summaries: list[dict[str, object]] = []
    for setting in settings:
        for n, rounds in setting.rounds.items():
            s = summarize(rounds)
            summaries.append({"max_batch": setting.max_batch, "n": n, **s})
            errors = len(s["errors"]) + s["describe_errors"]  # type: ignore[arg-type]
            rows.append(
                (
                    str(setting.max_batch),
                    str(n),
                    str(s["clients"]),
                    _fmt(s["ttfa_p50_ms"]),
                    _fmt(s["ttfa_p95_ms"]),
                    _fmt(s["ttfa_max_ms"]),
                    _fmt(s["late_client_ttfa_max_ms"]),
                    _fmt(s["total_p50_ms"]),
                    _fmt(s["stall_p50_ms"]),
                    _fmt(s["stall_max_ms"]),
                    f"{_fmt(s['agg_rtf_median'], '.2f')} ({_fmt(s['agg_rtf_min'], '.2f')}-"
                    f"{_fmt(s['agg_rtf_max'], '.2f')})",
                    str(s["first_audio_before_any_finish"]),
                    _fmt(s["describe_p95_ms"], ".1f"),
                    _fmt(s["describe_max_ms"], ".1f"),
                    f"{s['audio_s']:.1f} ({s['expected_audio_s']:.1f})",
                    str(errors),
                )
            )
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return " | ".join(c.rjust(widths[i]) for i, c in enumerate(cells))

    return [line(header), "-+-".join("-" * w for w in widths), *map(line, rows)], summaries


# ---------------------------------------------------------------------------------------------


def _int_list(value: str) -> list[int]:
    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {value}"
        ) from err
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError(f"need positive integers: {value}")
    return numbers


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="CustomVoice checkpoint folder (default: build a tiny random one in a temp dir)",
    )
    parser.add_argument(
        "--clients", type=_int_list, default=[1, 4, 8], help="client counts (default: 1,4,8)"
    )
    parser.add_argument(
        "--max-batch",
        type=_int_list,
        default=[1, 8],
        help="the server's --max-batch values; the server restarts for each (default: 1,8)",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds per client count (default: 2)"
    )
    parser.add_argument(
        "--stagger-ms",
        type=float,
        default=0.0,
        help="client i starts i*STAGGER ms after the first (default: 0, all at once)",
    )
    parser.add_argument(
        "--chunk-chars", type=int, default=15, help="characters per synthesize-chunk (default: 15)"
    )
    parser.add_argument("--voice", default="ryan", help="premium voice (default: ryan)")
    parser.add_argument("--device", default="cpu", help="the server's --device (default: cpu)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP_NUM_THREADS (and MKL/OpenBLAS) of the server (default: 1)",
    )
    parser.add_argument("--seed", type=int, default=7, help="the server's --seed (default: 7)")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARGS",
        help="extra server arguments, split like a shell; repeatable "
        '(e.g. --server-arg "--samples-per-chunk 2048" or --server-arg=--debug)',
    )
    parser.add_argument(
        "--round-timeout",
        type=float,
        default=120.0,
        help="seconds a round may take before its clients give up (default: 120)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write all figures as JSON")
    parser.add_argument("--quiet", action="store_true", help="no per-round progress on stderr")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.chunk_chars < 1:
        parser.error("--chunk-chars must be at least 1")
    if args.stagger_ms < 0:
        parser.error("--stagger-ms must not be negative")
    args.server_args = [word for value in args.server_arg for word in shlex.split(value)]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    settings: list[Setting] = []
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            from tests.checkpoints import build_checkpoint

            checkpoint = Path(tmp) / "custom_voice"
            started = time.perf_counter()
            build_checkpoint(checkpoint, "custom_voice")
            log(f"built a tiny custom_voice checkpoint in {time.perf_counter() - started:.1f} s")
        checkpoint = checkpoint.resolve()

        for max_batch in args.max_batch:
            setting = Setting(max_batch)
            settings.append(setting)
            server = ServerProcess(
                checkpoint,
                threads=args.threads,
                seed=args.seed,
                debug=False,
                device=args.device,
                extra_args=["--max-batch", str(max_batch), *args.server_args],
            )
            started = time.perf_counter()
            server.start()
            setting.server_ready_s = time.perf_counter() - started
            log(
                f"max-batch {max_batch}: server READY on {server.host}:{server.port} after "
                f"{setting.server_ready_s:.1f} s"
            )
            try:
                asyncio.run(measure_setting(server, setting, args, log))
            except BaseException:
                print("server log tail:\n" + server.log_tail(), file=sys.stderr)
                raise
            finally:
                setting.exit_code = server.stop()
                setting.problems = server.problems()
                log(
                    f"max-batch {max_batch}: server stopped (exit code {setting.exit_code}), "
                    f"{len(setting.problems)} warning(s)/error(s) logged"
                )
                for record in setting.problems[:5]:
                    for text_line in record[:20]:
                        log(f"  | {text_line}")

    lines, summaries = build_table(settings)
    runtime = time.perf_counter() - began
    print()
    stagger = f", stagger {args.stagger_ms:g} ms" if args.stagger_ms else ", all at once"
    print(
        f"Many rooms at once (127.0.0.1, {args.rounds} round(s) per N{stagger}, voice "
        f"{args.voice}, {args.chunk_chars}-char chunks, OMP_NUM_THREADS={args.threads}, seed "
        f"{args.seed}, {os.cpu_count()} CPUs; checkpoint: "
        f"{args.checkpoint or 'tiny random (tests/checkpoints.py)'}"
        + (f"; server args: {shlex.join(args.server_args)}" if args.server_args else "")
        + ")"
    )
    print(LEGEND)
    print()
    for text_line in lines:
        print(text_line)
    for summary in summaries:
        for error in sorted(set(summary["errors"])):  # type: ignore[arg-type]
            print(f"  max-batch {summary['max_batch']} N={summary['n']}: client error: {error}")
    print(f"\nruntime {runtime:.0f} s")
    if args.json:
        figures = {
            "clients": args.clients,
            "max_batch": args.max_batch,
            "rounds": args.rounds,
            "stagger_ms": args.stagger_ms,
            "chunk_chars": args.chunk_chars,
            "voice": args.voice,
            "threads": args.threads,
            "seed": args.seed,
            "server_args": args.server_args,
            "cpus": os.cpu_count(),
            "checkpoint": str(args.checkpoint) if args.checkpoint else "tiny",
            "runtime_s": runtime,
            "summary": summaries,
            "settings": [
                {
                    "max_batch": s.max_batch,
                    "server_ready_s": s.server_ready_s,
                    "idle_describe_ms": s.idle_describe_ms,
                    "warmup_ttfa_ms": s.warmup_ttfa_ms,
                    "warmup_total_ms": s.warmup_total_ms,
                    "exit_code": s.exit_code,
                    "problems": s.problems,
                    "rounds": {
                        str(n): [
                            {
                                "wall_s": r.wall_s,
                                "audio_s": r.audio_s,
                                "agg_rtf": r.rtf,
                                "first_audio_before_any_finish": r.first_before_finish,
                                "describe_ms": r.describe_ms,
                                "describe_errors": r.describe_errors,
                                "clients": [asdict(c) for c in r.clients],
                            }
                            for r in rounds
                        ]
                        for n, rounds in s.rounds.items()
                    },
                }
                for s in settings
            ],
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
