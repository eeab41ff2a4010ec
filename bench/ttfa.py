#!/usr/bin/env python3
"""Time to first audio (TTFA) over Wyoming, against the engine's own first chunk.

Measures the two Wyoming targets of DESIGN.md ("Targets"):

- first audio over Wyoming no later than the engine's own first chunk plus 5 ms;
- first audio for a ten-sentence text within 1.2x that of a one-sentence text.

It starts the real server (``python -m wyoming_qwen_tts``) on 127.0.0.1 with a free port, talks
to it like Home Assistant does (one-shot ``synthesize``, and streaming ``synthesize-start`` /
``synthesize-chunk`` ... / ``synthesize`` / ``synthesize-stop``), then stops it and times the
engine in this process on the same sentence. It prints figures and PASS/FAIL lines only; it
asserts nothing, and exits 0 unless something broke.

Usage (see bench/README.md)::

    python bench/ttfa.py                       # tiny random checkpoint, built in a temp dir
    python bench/ttfa.py --checkpoint DIR --runs 9 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from _server import ServerProcess  # noqa: E402  (bench/_server.py)
from wyoming.audio import AudioChunk  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.error import Error  # noqa: E402
from wyoming.event import Event  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402
from wyoming.tts import (  # noqa: E402
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

# Ten sentences of the kind a voice assistant says, 8-15 words each. The one-sentence text is the
# first of them, so that with --seed the first sentence's audio is identical in both scenarios.
SENTENCES = (
    "The kitchen lights are now on and set to sixty percent brightness.",
    "Tomorrow looks mostly sunny with a high of twenty two degrees.",
    "Your package from the hardware store should arrive before noon on Friday.",
    "I have added milk, eggs and fresh bread to your shopping list.",
    "The front door is locked, but the garage door is still open.",
    "Your next meeting starts in fifteen minutes in the small conference room.",
    "Traffic on the way to work is light, so expect about twenty minutes.",
    "The washing machine finished its cycle a few minutes ago.",
    "I have set a timer for eight minutes, starting right now.",
    "Good night, and remember that the alarm is set for six thirty.",
)
ONE_SENTENCE = SENTENCES[0]
TEN_SENTENCES = " ".join(SENTENCES)

RUN_TIMEOUT_S = 300.0
"""Upper bound for one request, connection to last event."""
LOG_TIMEOUT_S = 10.0
"""How long to wait for the server's debug log line about a request after its answer."""
SETTLE_S = 0.2
"""Pause between runs, so that one run's tail (socket close, cancellation) does not bleed in."""

_SPOKE = re.compile(r"Spoke .* first audio after ([0-9.]+) s")
_SUBMITTING = re.compile(r"^([0-9]+\.[0-9]+) .*Submitting ")
_CANCELLED = re.compile(r"Cancelled ")

LEGEND = """\
  TTFA: first request event written (the first synthesize-chunk when streaming) -> first
        audio-chunk read, on a fresh connection per run; median and min over the runs
  engine 1st chunk: Engine.synthesize in this process -> its first write, same first sentence,
        median over runs interleaved with the Wyoming runs; overhead = TTFA med - that
  srv log 1st: the server's own engine 'first audio after' (--debug log, 1 ms steps), median;
        ovh vs log: median over runs of (TTFA - srv log 1st) of the same run
  req->submit: first request event -> the server's 'Submitting' log line for the first sentence
        (wall clocks of both processes), median
  total, RTF: first request event -> last event, and audio seconds / wall seconds, over the runs
        read to the end ("full runs"); the other runs disconnect after the first audio"""

OVERHEAD_TARGET_MS = 5.0
TEN_OVER_ONE_TARGET = 1.2


# ---------------------------------------------------------------------------------------------
# Wyoming client runs


@dataclass
class Run:
    ttfa_ms: float
    total_ms: float | None = None
    """First request event to the last event of the answer; None if the run was cut short."""
    audio_s: float | None = None
    server_first_ms: float | None = None
    """The engine's first audio as the server logged it (--debug, 1 ms resolution)."""
    submit_ms: float | None = None
    """First request event to the server's log line submitting the first sentence (wall clock)."""
    t0_wall: float = 0.0

    @property
    def rtf(self) -> float | None:
        """Real-time factor: seconds of audio per second of wall time (higher is faster)."""
        if self.total_ms is None or self.audio_s is None or self.total_ms <= 0:
            return None
        return self.audio_s / (self.total_ms / 1000.0)


def llm_pieces(text: str, low: int = 8, high: int = 20, seed: int = 0) -> list[str]:
    """``text`` cut into pieces of ``low``-``high`` characters, anywhere (mid-word too)."""
    rng = random.Random(seed)
    pieces: list[str] = []
    i = 0
    while i < len(text):
        n = rng.randint(low, high)
        pieces.append(text[i : i + n])
        i += n
    return pieces


async def _read_answer(
    client: AsyncTcpClient, t0_box: list[float], last_type: str, deadline: float, cut: bool
) -> tuple[float, float | None, float | None]:
    """Reads events until ``last_type``; returns (first audio, end, audio seconds) times.

    ``t0_box[0]`` is the time the first request event was written (set by the sender). With
    ``cut``, returns right after the first audio chunk, with end and audio None.
    """
    first: float | None = None
    audio_bytes = 0
    bytes_per_second = 0
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError(f"no {last_type} within {RUN_TIMEOUT_S:.0f} s")
        event: Event | None = await asyncio.wait_for(client.read_event(), remaining)
        now = time.perf_counter()
        if event is None:
            raise ConnectionError("the server closed the connection")
        if AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            if first is None:
                first = now
                if cut:
                    return first, None, None
            audio_bytes += len(chunk.audio)
            bytes_per_second = chunk.rate * chunk.width * chunk.channels
        elif Error.is_type(event.type):
            raise RuntimeError(f"server error: {Error.from_event(event).text}")
        elif event.type == last_type:
            if first is None:
                raise RuntimeError("the answer had no audio")
            audio_s = audio_bytes / bytes_per_second if bytes_per_second else 0.0
            return first, now, audio_s


async def run_once(
    host: str,
    port: int,
    text: str,
    voice: str,
    *,
    streaming: bool,
    cut: bool,
    chunk_delay_s: float = 0.0,
) -> Run:
    """One request on a fresh connection, like Home Assistant makes one per announcement."""
    deadline = time.perf_counter() + RUN_TIMEOUT_S
    client = AsyncTcpClient(host, port)
    await asyncio.wait_for(client.connect(), 10.0)
    t0_box = [0.0, 0.0]
    wanted = SynthesizeVoice(name=voice)
    try:
        if streaming:
            await client.write_event(SynthesizeStart(voice=wanted).event())

            async def send() -> None:
                pieces = llm_pieces(text)
                t0_box[:] = time.perf_counter(), time.time()
                for piece in pieces:
                    await client.write_event(SynthesizeChunk(text=piece).event())
                    if chunk_delay_s:
                        await asyncio.sleep(chunk_delay_s)
                # Home Assistant repeats the whole text for servers that do not stream.
                await client.write_event(Synthesize(text=text, voice=wanted).event())
                await client.write_event(SynthesizeStop().event())

            last_type = SynthesizeStopped().event().type
        else:

            async def send() -> None:
                t0_box[:] = time.perf_counter(), time.time()
                await client.write_event(Synthesize(text=text, voice=wanted).event())

            last_type = "audio-stop"
        sender = asyncio.create_task(send())
        try:
            first, end, audio_s = await _read_answer(client, t0_box, last_type, deadline, cut)
            if not cut:
                await sender  # long done: the server answers only after synthesize-stop
        finally:
            if not sender.done():
                sender.cancel()
                try:
                    await sender
                except asyncio.CancelledError:
                    pass
    finally:
        await client.disconnect()
    t0 = t0_box[0]
    return Run(
        ttfa_ms=(first - t0) * 1000.0,
        total_ms=None if end is None else (end - t0) * 1000.0,
        audio_s=audio_s,
        t0_wall=t0_box[1],
    )


async def describe_voices(host: str, port: int) -> tuple[list[str], float]:
    client = AsyncTcpClient(host, port)
    await asyncio.wait_for(client.connect(), 10.0)
    try:
        t0 = time.perf_counter()
        await client.write_event(Describe().event())
        deadline = t0 + 10.0
        while True:
            event = await asyncio.wait_for(
                client.read_event(), max(0.01, deadline - time.perf_counter())
            )
            if event is None:
                raise ConnectionError("the server closed the connection")
            if Info.is_type(event.type):
                elapsed = (time.perf_counter() - t0) * 1000.0
                info = Info.from_event(event)
                return [v.name for p in info.tts for v in p.voices], elapsed
    finally:
        await client.disconnect()


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass
class Scenario:
    name: str
    text: str
    streaming: bool
    sentences: int
    full_runs: int
    """Runs read to the end (for total time and RTF); later ones disconnect after first audio."""
    runs: list[Run] = field(default_factory=list)
    cut_runs: int = 0


async def measure_over_wyoming(
    server: ServerProcess,
    scenarios: list[Scenario],
    runs: int,
    voice: str,
    chunk_delay_s: float,
    engine: EngineTimer,
    log: Callable[[str], None],
) -> dict[str, object]:
    voices, describe_ms = await describe_voices(server.host, server.port)
    if voice not in voices:
        raise SystemExit(f"voice '{voice}' is not offered; the server has: {', '.join(voices)}")
    log(f"Describe answered in {describe_ms:.1f} ms (idle server); voices: {', '.join(voices)}")

    # Warm-up: the worker thread, the allocator and the first generate call.
    mark = server.mark()
    warm = await run_once(server.host, server.port, ONE_SENTENCE, voice, streaming=False, cut=False)
    warm.server_first_ms = _server_first(server, mark)
    log(
        f"warm-up (cold) one-shot one sentence: TTFA {warm.ttfa_ms:.1f} ms, "
        f"total {warm.total_ms:.0f} ms, {warm.audio_s:.2f} s audio"
    )

    # The in-process engine gets the same warm-up, while the server idles.
    await asyncio.sleep(SETTLE_S)
    log(f"engine warm-up (cold, in this process): first chunk {engine.warm_up():.1f} ms")

    # Round-robin over the engine and the scenarios, so that drift of the machine's load (a
    # shared 2-core machine is noisy) hits all of them alike. The server idles while the engine in
    # this process runs, and the other way round.
    for index in range(runs):
        await asyncio.sleep(SETTLE_S)
        log(f"run {index + 1}/{runs} engine in this process: first chunk {engine.measure():.1f} ms")
        for scenario in scenarios:
            cut = index >= scenario.full_runs
            await asyncio.sleep(SETTLE_S)
            mark = server.mark()
            run = await run_once(
                server.host,
                server.port,
                scenario.text,
                voice,
                streaming=scenario.streaming,
                cut=cut,
                chunk_delay_s=chunk_delay_s,
            )
            submitted = server.wait_for(_SUBMITTING, since=mark, timeout=LOG_TIMEOUT_S)
            if submitted is not None:
                run.submit_ms = (float(submitted.group(1)) - run.t0_wall) * 1000.0
            if cut:
                scenario.cut_runs += 1
                # The server cancels the rest on disconnect; wait until it has, so that the next
                # run does not queue behind a sentence still being generated.
                if server.wait_for(_CANCELLED, since=mark, timeout=LOG_TIMEOUT_S) is None:
                    log(f"  (no 'Cancelled' log line within {LOG_TIMEOUT_S:.0f} s after a cut run)")
            else:
                run.server_first_ms = _server_first(server, mark)
            scenario.runs.append(run)
            detail = (
                "cut after first audio"
                if cut
                else f"total {run.total_ms:.0f} ms, {run.audio_s:.2f} s audio, RTF {run.rtf:.2f}"
            )
            srv = (
                ""
                if run.server_first_ms is None
                else f", server log first audio {run.server_first_ms:.0f} ms"
            )
            sub = "" if run.submit_ms is None else f", submitted after {run.submit_ms:.1f} ms"
            head = f"run {index + 1}/{runs} {scenario.name}"
            log(f"{head}: TTFA {run.ttfa_ms:.1f} ms{sub}{srv}; {detail}")
    return {"describe_ms": describe_ms, "warmup": _run_dict(warm)}


def _server_first(server: ServerProcess, mark: int) -> float | None:
    match = server.wait_for(_SPOKE, since=mark, timeout=LOG_TIMEOUT_S)
    return None if match is None else float(match.group(1)) * 1000.0


# ---------------------------------------------------------------------------------------------
# The engine in this process


class _FirstChunkSink:
    """Records the first ``write``; cancels right after it, unless ``full``."""

    def __init__(self, full: bool) -> None:
        self.full = full
        self.started = time.perf_counter()
        self.first: float | None = None
        self.samples = 0

    def write(self, pcm: bytes) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        self.samples += len(pcm) // 2

    @property
    def cancelled(self) -> bool:
        return not self.full and self.first is not None


class EngineTimer:
    """The engine loaded in this process, timing its own first chunk for one sentence."""

    def __init__(
        self, checkpoint: Path, voice_name: str, text: str, seed: int, threads: int, device: str
    ) -> None:
        import torch

        from wyoming_qwen_tts.app.compose import load_options
        from wyoming_qwen_tts.engine.engine import Engine
        from wyoming_qwen_tts.engine.interface import (
            ModelKind,
            SynthesisCancelled,
            SynthesisRequest,
        )
        from wyoming_qwen_tts.settings.settings import Settings
        from wyoming_qwen_tts.voices.voice import premium_voice

        torch.set_num_threads(threads)
        self._cancelled_error = SynthesisCancelled
        self.engine = Engine({}, seed=seed)
        options = load_options(Settings(device=device, max_batch=1))
        self.engine.add_model(str(checkpoint), ModelKind.CUSTOM_VOICE, options)
        self.request = SynthesisRequest(text=text, voice=premium_voice(voice_name))
        self.firsts_ms: list[float] = []
        self.warmup_ms: float | None = None

    def once(self, full: bool = False) -> float:
        """Milliseconds from ``Engine.synthesize`` to its first ``write``.

        Unless ``full``, the sink cancels right after the first chunk: what follows it cannot
        change it, and a whole sentence of the tiny checkpoint takes seconds.
        """
        sink = _FirstChunkSink(full)
        sink.started = time.perf_counter()
        try:
            self.engine.synthesize(self.request, sink)
        except self._cancelled_error:
            pass
        if sink.first is None:
            raise RuntimeError("the engine wrote no audio")
        return (sink.first - sink.started) * 1000.0

    def warm_up(self) -> float:
        self.warmup_ms = self.once(full=True)  # like the server's warm-up: one whole sentence
        return self.warmup_ms

    def measure(self) -> float:
        self.firsts_ms.append(self.once())
        return self.firsts_ms[-1]


# ---------------------------------------------------------------------------------------------
# Report


def _run_dict(run: Run) -> dict[str, object]:
    figures = asdict(run) | {"rtf": run.rtf}
    figures.pop("t0_wall")
    return figures


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def build_report(
    scenarios: list[Scenario], engine_ms: list[float]
) -> tuple[list[str], dict[str, object]]:
    engine_median = _median(engine_ms)
    rows = []
    summary: dict[str, dict[str, object]] = {}
    for s in scenarios:
        ttfa = [r.ttfa_ms for r in s.runs]
        srv = [r.server_first_ms for r in s.runs if r.server_first_ms is not None]
        srv_overhead = [
            r.ttfa_ms - r.server_first_ms for r in s.runs if r.server_first_ms is not None
        ]
        submits = [r.submit_ms for r in s.runs if r.submit_ms is not None]
        rtfs = [r.rtf for r in s.runs if r.rtf is not None]
        totals = [r.total_ms for r in s.runs if r.total_ms is not None]
        med = _median(ttfa)
        overhead = None if med is None or engine_median is None else med - engine_median
        summary[s.name] = {
            "ttfa_median_ms": med,
            "ttfa_min_ms": min(ttfa) if ttfa else None,
            "engine_first_chunk_median_ms": engine_median,
            "overhead_ms": overhead,
            "server_log_first_audio_median_ms": _median(srv),
            "overhead_vs_server_log_median_ms": _median(srv_overhead),
            "request_to_submit_median_ms": _median(submits),
            "total_median_ms": _median(totals),
            "rtf_median": _median(rtfs),
            "full_runs": len(totals),
            "cut_runs": s.cut_runs,
            "runs": [_run_dict(r) for r in s.runs],
        }
        rows.append(
            (
                s.name,
                _fmt(med),
                _fmt(min(ttfa) if ttfa else None),
                _fmt(engine_median),
                _fmt(overhead, "+.1f"),
                _fmt(_median(srv), ".0f"),
                _fmt(_median(srv_overhead), "+.1f"),
                _fmt(_median(submits), ".2f"),
                _fmt(_median(totals), ".0f"),
                _fmt(_median(rtfs), ".2f"),
                f"{len(totals)}/{len(s.runs)}",
            )
        )
    header = (
        "scenario",
        "TTFA med (ms)",
        "min",
        "engine 1st chunk (ms)",
        "overhead (ms)",
        "srv log 1st (ms)",
        "ovh vs log",
        "req->submit",
        "total med (ms)",
        "RTF",
        "full runs",
    )
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return " | ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells)
        )

    out = [line(header), "-+-".join("-" * w for w in widths), *(line(row) for row in rows)]

    out.append("")
    out.append("Target checks (DESIGN.md, Targets; printed only, nothing is asserted):")
    checks: dict[str, object] = {}
    for s in scenarios:
        med = summary[s.name]["ttfa_median_ms"]
        if med is None or engine_median is None:
            continue
        limit = engine_median + OVERHEAD_TARGET_MS
        ok = med <= limit
        checks[f"overhead {s.name}"] = ok
        out.append(
            f"  {'PASS' if ok else 'FAIL'}  first audio over Wyoming <= engine first chunk + "
            f"{OVERHEAD_TARGET_MS:.0f} ms  [{s.name}]: {med:.1f} ms vs {limit:.1f} ms"
        )
    for mode in ("one-shot", "streaming"):
        one = next((s for s in scenarios if s.sentences == 1 and s.name.endswith(mode)), None)
        ten = next((s for s in scenarios if s.sentences == 10 and s.name.endswith(mode)), None)
        if one is None or ten is None:
            continue
        one_med = summary[one.name]["ttfa_median_ms"]
        ten_med = summary[ten.name]["ttfa_median_ms"]
        if not one_med or ten_med is None:
            continue
        ratio = ten_med / one_med
        ok = ratio <= TEN_OVER_ONE_TARGET
        checks[f"ten vs one {mode}"] = ok
        out.append(
            f"  {'PASS' if ok else 'FAIL'}  first audio for ten sentences <= "
            f"{TEN_OVER_ONE_TARGET}x one sentence  [{mode}]: "
            f"{ten_med:.1f} / {one_med:.1f} ms = {ratio:.2f}x"
        )
    return out, {"scenarios": summary, "engine_first_chunk_ms": engine_ms, "checks": checks}


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="CustomVoice checkpoint folder (default: build a tiny random one in a temp dir)",
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="measured runs per scenario (default: 5)"
    )
    parser.add_argument("--voice", default="ryan", help="premium voice (default: ryan)")
    parser.add_argument("--device", default="cpu", help="the server's --device (default: cpu)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads, here and in the server via OMP_NUM_THREADS (default: 1)",
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="the server's and the engine's --seed (default: 7)"
    )
    parser.add_argument(
        "--ten-full-runs",
        type=int,
        default=1,
        help="ten-sentence runs read to the end for total time and RTF; the other runs disconnect "
        "after the first audio, which the server answers by cancelling (default: 1; the tiny "
        "checkpoint never stops early, so a full ten-sentence answer takes ~30 s on 2 cores)",
    )
    parser.add_argument(
        "--chunk-delay-ms",
        type=float,
        default=0.0,
        help="pause between streamed text chunks (default: 0, back to back)",
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--quiet", action="store_true", help="no per-run progress on stderr")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    args.ten_full_runs = max(0, min(args.ten_full_runs, args.runs))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="ttfa-") as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            from tests.checkpoints import build_checkpoint

            checkpoint = Path(tmp) / "custom_voice"
            started = time.perf_counter()
            build_checkpoint(checkpoint, "custom_voice")
            log(f"built a tiny custom_voice checkpoint in {time.perf_counter() - started:.1f} s")
        checkpoint = checkpoint.resolve()

        scenarios = [
            Scenario("1 sentence, one-shot", ONE_SENTENCE, False, 1, args.runs),
            Scenario("1 sentence, streaming", ONE_SENTENCE, True, 1, args.runs),
            Scenario("10 sentences, one-shot", TEN_SENTENCES, False, 10, args.ten_full_runs),
            Scenario("10 sentences, streaming", TEN_SENTENCES, True, 10, args.ten_full_runs),
        ]
        engine = EngineTimer(
            checkpoint, args.voice, ONE_SENTENCE, args.seed, args.threads, args.device
        )
        server = ServerProcess(
            checkpoint, threads=args.threads, seed=args.seed, device=args.device
        )
        started = time.perf_counter()
        server.start()
        elapsed = time.perf_counter() - started
        log(f"server READY on {server.host}:{server.port} after {elapsed:.1f} s")
        try:
            extra = asyncio.run(
                measure_over_wyoming(
                    server,
                    scenarios,
                    args.runs,
                    args.voice,
                    args.chunk_delay_ms / 1000.0,
                    engine,
                    log,
                )
            )
        except BaseException:
            print("server log tail:\n" + server.log_tail(), file=sys.stderr)
            raise
        finally:
            code = server.stop()
            log(f"server stopped (exit code {code})")
            problems = server.problems()
            log(f"server logged {len(problems)} warning(s)/error(s)")
            for record in problems[:5]:
                for line in record[:40]:
                    log(f"  | {line}")
        engine_ms = engine.firsts_ms

    lines, figures = build_report(scenarios, engine_ms)
    print()
    print(
        f"TTFA over Wyoming (127.0.0.1, {args.runs} runs per scenario, voice {args.voice}, "
        f"{args.threads} torch thread(s), seed {args.seed}, {os.cpu_count()} CPUs)"
    )
    print(f"checkpoint: {args.checkpoint or 'tiny random (tests/checkpoints.py)'}")
    print(LEGEND)
    print()
    for text_line in lines:
        print(text_line)
    if args.json:
        figures |= {
            "runs": args.runs,
            "voice": args.voice,
            "threads": args.threads,
            "seed": args.seed,
            "cpus": os.cpu_count(),
            "checkpoint": str(args.checkpoint) if args.checkpoint else "tiny",
            "engine_warmup_first_chunk_ms": engine.warmup_ms,
            **extra,
        }
        print()
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
