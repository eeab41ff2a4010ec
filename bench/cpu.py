#!/usr/bin/env python3
"""CPU speed, memory, batching, playback and quality of each ``--quantize`` mode, in one run.

Issue 14's benchmark. Side by side on one checkpoint (default: a tiny random one; ``--size 0.6B``
builds the real-size random 0.6B CustomVoice):

1. over Wyoming, the real server per mode (``--quantize MODE --prebuffer off --audio-cache-mb 0
   --seed 7``): first audio, ms per 80 ms frame, x real time, RSS after load and after the
   answers; beside upstream's own ``generate_custom_voice`` (in this process) and the speedup;
2. the codec's cost per frame, amortized over the server's chunk schedule, with 1 and 4 streams;
3. the frame loop's frames per second with a batch of 4 against 1 (in this process), and its
   first chunk;
4. a playback simulation of a 3-sentence answer, ``--prebuffer off`` against ``auto``: a player
   that starts at the first audio-chunk and plays in real time; its gaps;
5. quality under teacher forcing against fp32: KL divergence and top-1 agreement of codebook 0
   (and of codebooks 1-15), and a free run: no NaN, not silent, stops at its frame budget;
6. the roofline: bytes of linear weights read per frame over the memory bandwidth measured here.

It prints PASS/FAIL lines for the issue's targets and asserts nothing. Usage (bench/README.md)::

    python bench/cpu.py --threads 1                   # tiny random checkpoint, about 35 s
    python bench/cpu.py --size 0.6B --threads 2 --out cpu-0.6B-2threads-quantize.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import torch  # noqa: E402
from _server import ServerProcess  # noqa: E402  (bench/_server.py)
from torch import nn  # noqa: E402
from wyoming.audio import AudioChunk, AudioStop  # noqa: E402
from wyoming.client import AsyncTcpClient  # noqa: E402
from wyoming.error import Error  # noqa: E402
from wyoming.tts import Synthesize, SynthesizeVoice  # noqa: E402

from tests.checkpoints import build_checkpoint  # noqa: E402
from wyoming_qwen_tts.app.compose import load_options  # noqa: E402
from wyoming_qwen_tts.engine import frames as frames_module  # noqa: E402
from wyoming_qwen_tts.engine.codec import chunk_schedule_for  # noqa: E402
from wyoming_qwen_tts.engine.model import GenerationInput, QwenModel  # noqa: E402
from wyoming_qwen_tts.engine.quantize import Kernels, int4_group, packable  # noqa: E402
from wyoming_qwen_tts.settings.settings import Settings  # noqa: E402
from wyoming_qwen_tts.text.sentences import frame_budget  # noqa: E402

FRAME_S = 0.08
SAMPLES_PER_FRAME = 1920
SENTENCE = "Turn on the kitchen lights, please."
ANSWER = (
    "The front door is locked. The garage door is still open. "
    "Shall I close it for you now?"
)
GAP_S = 0.02
"""An underrun longer than this counts as a gap."""
RUN_TIMEOUT_S = 900.0
SERVER_MODES = ("none", "int8", "int4")

TARGETS = """\
  fp32 >= 2.5x upstream, first audio <= 800 ms; int8 >= 5x; int4 >= 7x and <= 100 ms per frame
  (goal 80), first audio <= 400 ms with prebuffer off; codec <= 15 ms per frame; over Wyoming
  within 10 % of the frame loop plus the codec; int4 batch of 4 >= 3.5x the frames/s of 1;
  prebuffer auto: no gap; RSS int8 <= 2.0 GB, int4 <= 1.5 GB (0.6B CustomVoice)"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Over Wyoming


@dataclass
class Answer:
    """One one-shot answer: each audio-chunk's arrival (s after the request) and its seconds."""

    arrivals: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    total_s: float = 0.0

    @property
    def audio_s(self) -> float:
        return sum(self.seconds)

    @property
    def first_audio_ms(self) -> float:
        return 1000 * self.arrivals[0]

    @property
    def ms_per_frame(self) -> float:
        return 1000 * self.total_s / (self.audio_s / FRAME_S)


async def _speak(host: str, port: int, text: str, voice: str) -> Answer:
    client = AsyncTcpClient(host, port)
    await asyncio.wait_for(client.connect(), 10.0)
    answer = Answer()
    try:
        started = time.perf_counter()
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        while True:
            remaining = started + RUN_TIMEOUT_S - time.perf_counter()
            event = await asyncio.wait_for(client.read_event(), max(remaining, 0.001))
            now = time.perf_counter() - started
            if event is None:
                raise ConnectionError("the server closed the connection")
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                answer.arrivals.append(now)
                answer.seconds.append(len(chunk.audio) / (chunk.rate * chunk.width * chunk.channels))
            elif Error.is_type(event.type):
                raise RuntimeError(f"server error: {Error.from_event(event).text}")
            elif AudioStop.is_type(event.type):
                answer.total_s = now
                break
    finally:
        await client.disconnect()
    if not answer.arrivals:
        raise RuntimeError("the answer had no audio")
    return answer


def speak(server: ServerProcess, text: str, voice: str) -> Answer:
    return asyncio.run(_speak(server.host, server.port, text, voice))


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0]) / 1024
    return figures


def playback(answer: Answer) -> dict[str, float]:
    """A player that starts at the first chunk and plays in real time: its underruns."""
    gaps: list[float] = []
    runs_out = answer.arrivals[0]
    for arrival, seconds in zip(answer.arrivals, answer.seconds, strict=True):
        if arrival > runs_out:
            if arrival - runs_out > GAP_S:
                gaps.append(arrival - runs_out)
            runs_out = arrival
        runs_out += seconds
    return {
        "first_audio_ms": answer.first_audio_ms,
        "gaps": len(gaps),
        "gap_s": sum(gaps),
        "longest_gap_ms": 1000 * max(gaps, default=0.0),
        "audio_s": answer.audio_s,
        "total_s": answer.total_s,
    }


def server_args(mode: str, prebuffer: str, cache_dir: Path) -> list[str]:
    return ["--quantize", mode, "--prebuffer", prebuffer, "--cache-dir", str(cache_dir)]


def measure_wire(
    args: argparse.Namespace, checkpoint: Path, mode: str, cache_dir: Path
) -> dict[str, Any]:
    """One server with ``--quantize mode --prebuffer off``: one warm-up, then ``--runs`` runs;
    the playback answer too when ``mode`` is the playback mode."""
    server = ServerProcess(
        checkpoint, threads=args.threads, seed=7, extra_args=server_args(mode, "off", cache_dir)
    )
    started = time.perf_counter()
    server.start()
    assert server.proc is not None
    result: dict[str, Any] = {"start_s": time.perf_counter() - started}
    try:
        result["rss_after_load_mb"] = rss_mb(server.proc.pid)
        speak(server, args.sentence, args.voice)
        answers = []
        for run in range(args.runs):
            answer = speak(server, args.sentence, args.voice)
            answers.append(answer)
            log(f"  wire {mode} run {run}: first audio {answer.first_audio_ms:.0f} ms, "
                f"{answer.ms_per_frame:.1f} ms/frame")  # fmt: skip
        result["rss_after_answer_mb"] = rss_mb(server.proc.pid)
        result["runs"] = [asdict(a) for a in answers]
        result["first_audio_ms"] = statistics.median(a.first_audio_ms for a in answers)
        result["first_audio_min_ms"] = min(a.first_audio_ms for a in answers)
        result["ms_per_frame"] = statistics.median(a.ms_per_frame for a in answers)
        result["audio_s"] = answers[0].audio_s
        result["rtf"] = FRAME_S * 1000 / result["ms_per_frame"]
        if not args.skip_playback and mode == args.playback_mode:
            result["playback_off"] = playback(speak(server, args.answer, args.voice))
        result["problems"] = server.problems()
    finally:
        server.stop()
    return result


def measure_playback_auto(args: argparse.Namespace, checkpoint: Path, cache_dir: Path) -> dict[str, Any]:
    server = ServerProcess(
        checkpoint,
        threads=args.threads,
        seed=7,
        extra_args=server_args(args.playback_mode, "auto", cache_dir),
    )
    server.start()
    try:
        speak(server, args.sentence, args.voice)  # as the other servers, one answer first
        result = playback(speak(server, args.answer, args.voice))
        result["problems"] = server.problems()  # type: ignore[assignment]
        return result
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# In this process


def load(checkpoint: Path, mode: str, cache_dir: Path) -> QwenModel:
    settings = Settings(device="cpu", max_batch=4, quantize=mode, cache_dir=cache_dir)
    return QwenModel.load(str(checkpoint), load_options(settings))


def free(model: QwenModel | None) -> None:
    del model
    gc.collect()
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).malloc_trim(0)


def given(args: argparse.Namespace) -> GenerationInput:
    return GenerationInput(language="english", speaker=args.voice)


@torch.inference_mode()
def measure_upstream(model: QwenModel, args: argparse.Namespace) -> dict[str, Any]:
    """``generate_custom_voice`` for the one-shot sentence, to the server's frame budget."""
    budget = frame_budget(args.sentence)

    def run(frames: int) -> tuple[float, int]:
        torch.manual_seed(7)
        started = time.perf_counter()
        wavs, _ = model.wrapper.generate_custom_voice(
            [args.sentence], speaker=args.voice, language="english", max_new_tokens=frames
        )
        return time.perf_counter() - started, sum(len(w) for w in wavs) // SAMPLES_PER_FRAME

    run(4)  # warm-up
    runs = []
    for index in range(args.runs):
        seconds, frames = run(budget)
        runs.append({"seconds": seconds, "frames": frames, "ms_per_frame": 1000 * seconds / frames})
        log(f"  upstream run {index}: {runs[-1]['ms_per_frame']:.1f} ms/frame ({frames} frames)")
    ms = statistics.median(r["ms_per_frame"] for r in runs)
    return {
        "runs": runs,
        "ms_per_frame": ms,
        "frames_per_s": 1000 / ms,
        "rtf": FRAME_S * 1000 / ms,
        "first_audio_ms": statistics.median(1000 * r["seconds"] for r in runs),
    }


@torch.inference_mode()
def measure_codec(model: QwenModel, codes: torch.Tensor) -> dict[str, Any]:
    """The codec's decode over the server's chunk schedule, per frame, for 1 and 4 streams
    decoded in turn (as one model's codec thread does), and its first 2-frame chunk."""
    codec = model.codec
    schedule = chunk_schedule_for(model.device)
    sizes, total = [], 0
    while total < len(codes):
        sizes.append(min(next(schedule), len(codes) - total))
        total += sizes[-1]
    codec.new_stream().decode(codes[: sizes[0]])  # warm-up
    result: dict[str, Any] = {"frames": len(codes), "chunks": sizes}
    for streams in (1, 4):
        decoders = [codec.new_stream() for _ in range(streams)]
        chunk_ms = []
        started = time.perf_counter()
        offset = 0
        for size in sizes:
            t0 = time.perf_counter()
            for decoder in decoders:
                decoder.decode(codes[offset : offset + size])
            chunk_ms.append(1000 * (time.perf_counter() - t0) / streams)
            offset += size
        seconds = time.perf_counter() - started
        result[f"batch_{streams}"] = {
            "ms_per_frame": 1000 * seconds / (streams * len(codes)),
            "chunk_ms": chunk_ms,
        }
    result["first_chunk_ms"] = result["batch_1"]["chunk_ms"][0]
    return result


@torch.inference_mode()
def measure_loop(model: QwenModel, args: argparse.Namespace) -> dict[str, Any]:
    """Frames per second of the frame loop with 1 and 4 rows, and the first chunk of one row
    (prompt, prefill, two frames and their decode)."""
    loop = model.frames
    result: dict[str, Any] = {}
    steps = args.batch_steps
    for rows in (1, 1, 4):  # the first round warms up
        utterances = []
        for row in range(rows):
            generator = torch.Generator().manual_seed(7 + row)
            utterances.append(loop.add(model.prompt(args.sentence, given(args), steps + 2), generator))
        loop.step()
        frames = 0
        started = time.perf_counter()
        for _ in range(steps):
            frames += len(loop.step())
        seconds = time.perf_counter() - started
        for utterance in utterances:
            loop.remove(utterance)
        result[f"batch_{rows}"] = {"frames": frames, "frames_per_s": frames / seconds,
                                   "ms_per_frame": 1000 * seconds / frames}  # fmt: skip
    result["batch_4_over_1"] = result["batch_4"]["frames_per_s"] / result["batch_1"]["frames_per_s"]
    firsts = []
    for _ in range(max(args.runs, 1)):
        started = time.perf_counter()
        utterance = loop.add(model.prompt(args.sentence, given(args), 8), torch.Generator().manual_seed(7))
        pending = [codes for _ in range(2) for _, codes in loop.step()]
        model.codec.new_stream().decode(torch.stack(pending))
        firsts.append(1000 * (time.perf_counter() - started))
        loop.remove(utterance)
    result["first_chunk_ms"] = statistics.median(firsts)
    return result


class LogitsTap:
    """Records the raw logits the frame loop samples each token from, in call order, and with
    ``forced`` returns those tokens instead of what it samples (teacher forcing).

    A bench-side patch of ``engine.frames``' module functions ``process_logits`` and ``sample``
    while in use; the engine is not changed. One row at a time: codebook 0 once per frame (and
    at the prefill), codebooks 1-15 from the predictor in between.
    """

    def __init__(self, forced: list[int] | None = None) -> None:
        self.forced = forced
        self.logits: list[tuple[str, torch.Tensor]] = []
        self.tokens: list[int] = []

    @contextlib.contextmanager
    def active(self) -> Iterator[LogitsTap]:
        process, sample = frames_module.process_logits, frames_module.sample

        def tapped_process(scores: torch.Tensor, params: Any, **kwargs: Any) -> torch.Tensor:
            kind = "talker" if "banned" in kwargs else "predictor"
            self.logits.append((kind, scores[0].detach().double().clone()))
            return process(scores, params, **kwargs)

        def tapped_sample(scores: torch.Tensor, params: Any, generators: Any = None) -> torch.Tensor:
            tokens = sample(scores, params, generators)
            index = len(self.tokens)
            if self.forced is not None and index < len(self.forced):
                tokens = torch.tensor([self.forced[index]], device=tokens.device)
            self.tokens.append(int(tokens[0]))
            return tokens

        frames_module.process_logits, frames_module.sample = tapped_process, tapped_sample
        try:
            yield self
        finally:
            frames_module.process_logits, frames_module.sample = process, sample


@torch.inference_mode()
def generate(
    model: QwenModel, args: argparse.Namespace, budget: int, tap: LogitsTap
) -> tuple[torch.Tensor, int]:
    """One row to its end with ``tap`` active: its frames [frames, 16] and its EOS token."""
    loop = model.frames
    out = []
    prompt = model.prompt(args.sentence, given(args), budget)
    with tap.active():
        utterance = loop.add(prompt, torch.Generator().manual_seed(7))
        while not utterance.finished:
            out.extend(codes for _, codes in loop.step())
    codes = torch.stack(out) if out else torch.empty(0, loop.num_code_groups, dtype=torch.long)
    return codes, prompt.eos_token_id


def free_run(model: QwenModel, args: argparse.Namespace) -> dict[str, Any]:
    """Sampled as the server does, to ``--quality-frames``: finite logits, frames against the
    budget, and the decoded audio's level."""
    budget = args.quality_frames
    tap = LogitsTap()
    codes, eos = generate(model, args, budget, tap)
    finite = all(bool(torch.isfinite(logits).all()) for _, logits in tap.logits)
    with torch.inference_mode():
        wav = model.codec.new_stream().decode(codes) if len(codes) else torch.zeros(0)
    ended_by_eos = tap.tokens[-1] == eos if tap.tokens else False
    return {
        "budget": budget,
        "frames": len(codes),
        "ended": "eos" if ended_by_eos else "budget",
        "stops_at_budget": len(codes) == budget - 1 or (ended_by_eos and len(codes) < budget),
        "logits_finite": finite,
        "audio_nan": bool(torch.isnan(wav).any()),
        "audio_rms": float(wav.double().pow(2).mean().sqrt()) if len(wav) else 0.0,
    }


def compare(reference: LogitsTap, forced: LogitsTap) -> dict[str, Any]:
    """KL(fp32 || quantized) of the softmax of the raw logits, and top-1 agreement, per kind."""
    result: dict[str, Any] = {}
    for kind in ("talker", "predictor"):
        pairs = [
            (p, q) for (k, p), (_, q) in zip(reference.logits, forced.logits, strict=False)
            if k == kind
        ]  # fmt: skip
        if not pairs:
            continue
        kls = []
        agree = 0
        for p, q in pairs:
            log_p, log_q = torch.log_softmax(p, -1), torch.log_softmax(q, -1)
            kls.append(float((log_p.exp() * (log_p - log_q)).sum()))
            agree += int(p.argmax() == q.argmax())
        result[kind] = {"positions": len(pairs), "kl_mean": statistics.fmean(kls),
                        "kl_max": max(kls), "top1": agree / len(pairs)}  # fmt: skip
    result["same_calls"] = [k for k, _ in reference.logits] == [k for k, _ in forced.logits]
    return result


def linear_weights(model: QwenModel) -> dict[str, list[tuple[int, int]]]:
    """[out, in] of the linear products one frame runs: the talker's step once, the code
    predictor's layers and projection 15 times, each of its 15 heads once."""
    talker = model.frames.talker
    predictor = model.frames.predictor

    def shapes(module: nn.Module) -> list[tuple[int, int]]:
        return [tuple(m.weight.shape) for m in module.modules() if isinstance(m, nn.Linear)]  # type: ignore[misc]

    passes = model.frames.num_code_groups - 1
    project = predictor.small_to_mtp_projection
    per_pass = shapes(predictor.model) + ([] if isinstance(project, nn.Identity) else shapes(project))
    return {
        "talker": shapes(talker.model) + shapes(talker.codec_head),
        "predictor": per_pass * passes + [s for head in predictor.lm_head for s in shapes(head)],
    }


def weight_bytes(shape: tuple[int, int], mode: str, scale_bytes: int) -> float:
    """Bytes one product reads for a [out, in] weight: fp32, or packed values and scales as
    ``engine.quantize`` stores them (shapes the kernels do not take stay fp32)."""
    out_features, in_features = shape
    if mode == "none" or not packable(mode, out_features, in_features):
        return 4.0 * out_features * in_features
    if mode == "int8":
        return out_features * in_features + scale_bytes * out_features
    group = int4_group(in_features) or in_features
    return out_features * in_features / 2 + 2 * scale_bytes * out_features * in_features / group


def measure_bandwidth(megabytes: int) -> dict[str, float]:
    """Read bandwidth (a sum over a large float tensor) and copy bandwidth, best of 5, GB/s."""
    x = torch.ones(megabytes * 2**20 // 4)
    y = torch.empty_like(x)
    nbytes = x.numel() * 4

    def best(run: Callable[[], Any]) -> float:
        run()
        times = []
        for _ in range(5):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return min(times)

    read = nbytes / best(lambda: x.sum()) / 1e9
    copy = 2 * nbytes / best(lambda: y.copy_(x)) / 1e9
    del x, y
    return {"read_gb_s": read, "copy_gb_s": copy, "megabytes": megabytes}


# ---------------------------------------------------------------------------------------------
# The run


def run_in_process(
    args: argparse.Namespace, checkpoint: Path, modes: list[str], cache_dir: Path, report: dict[str, Any]
) -> None:
    """Per mode, one model at a time: fp32 first (upstream, the codec, the weights' shapes and
    the teacher-forcing reference), then each quantized mode."""
    torch.set_num_threads(args.threads)
    if not args.skip_roofline:
        section(report, "bandwidth", lambda: measure_bandwidth(args.bandwidth_mb))
    reference: LogitsTap | None = None
    quantized = [m for m in modes if m in ("int8", "int4")]
    wanted = ["none"] if "none" in modes or "upstream" in modes or not args.skip_quality else []
    for mode in wanted + quantized:
        log(f"in-process: loading {mode}")
        model = load(checkpoint, mode, cache_dir)
        per_mode = report.setdefault("in_process", {}).setdefault(mode, {})
        if mode == "none":
            if not args.skip_roofline:
                section(report, "roofline", lambda m=model: roofline(m, report, modes))
            if "upstream" in modes:
                section(report, "upstream", lambda m=model: measure_upstream(m, args))
            if not args.skip_quality:
                reference = LogitsTap()
                generate(model, args, args.quality_frames, reference)
                per_mode["free_run"] = free_run(model, args)
            if not args.skip_codec:
                count = max(args.codec_frames, 2)
                codes = torch.randint(0, 2048, (count, model.frames.num_code_groups))
                section(report, "codec", lambda m=model, c=codes: measure_codec(m, c))
        if mode in modes and not args.skip_batching:
            section(per_mode, "loop", lambda m=model: measure_loop(m, args))
        if mode != "none" and not args.skip_quality and reference is not None:
            def quality(m: QwenModel = model) -> dict[str, Any]:
                forced = LogitsTap(forced=reference.tokens)
                generate(m, args, args.quality_frames, forced)
                result = compare(reference, forced)
                result["free_run"] = free_run(m, args)
                return result

            section(per_mode, "quality", quality)
        free(model)


def section(report: dict[str, Any], name: str, run: Callable[[], Any]) -> None:
    started = time.perf_counter()
    try:
        report[name] = run()
    except Exception:  # noqa: BLE001 - keep measuring the rest
        report[name] = {"error": traceback.format_exc()}
        log(f"{name} FAILED:\n{report[name]['error']}")
    else:
        log(f"  {name}: {time.perf_counter() - started:.1f} s")


def roofline(model: QwenModel, report: dict[str, Any], modes: list[str]) -> dict[str, Any]:
    """Per mode, the bytes of linear weights one frame reads, and the least ms per frame that
    takes at the measured read bandwidth."""
    bandwidth = report["bandwidth"]["read_gb_s"]
    shapes = linear_weights(model)
    scale_bytes = torch.finfo(Kernels.for_this_cpu().activations).bits // 8
    result: dict[str, Any] = {"products_per_frame": {k: len(v) for k, v in shapes.items()}}
    for mode in [m for m in SERVER_MODES if m in modes or m == "none"]:
        total = sum(weight_bytes(s, mode, scale_bytes) for kind in shapes.values() for s in kind)
        result[mode] = {"bytes_per_frame": total, "min_ms_per_frame": 1000 * total / (bandwidth * 1e9)}
    return result


def roofline_ms(report: dict[str, Any], mode: str) -> float | None:
    return report.get("roofline", {}).get(mode, {}).get("min_ms_per_frame")


def fmt(value: Any, spec: str = ".0f") -> str:
    return "-" if value is None else format(value, spec)


def print_report(report: dict[str, Any], modes: list[str]) -> None:
    print(f"\n{report['checkpoint']} ({report['size']}), {report['threads']} threads, "
          f"torch {report['torch']}, {report['cpu']}, kernels {report['kernels']}")  # fmt: skip
    up = report.get("upstream", {})
    up_fps = up.get("frames_per_s")
    wire = report.get("wire", {})
    codec = report.get("codec", {})
    codec_ms = codec.get("batch_1", {}).get("ms_per_frame")
    header = ("mode", "first audio ms", "ms/frame", "x real time", "x upstream", "RSS load MB",
              "RSS answer MB", "peak MB", "loop ms/frame", "loop+codec", "wire/(loop+codec)",
              "roofline ms")  # fmt: skip
    rows = []
    if "ms_per_frame" in up:
        rows.append(("upstream", fmt(up["first_audio_ms"]), fmt(up["ms_per_frame"], ".1f"),
                     fmt(up["rtf"], ".2f"), "1.00", "-", "-", "-", "-", "-", "-",
                     fmt(roofline_ms(report, "none"), ".1f")))  # fmt: skip
    for mode in [m for m in modes if m in SERVER_MODES]:
        w = wire.get(mode, {})
        loop = report.get("in_process", {}).get(mode, {}).get("loop", {}).get("batch_1", {})
        loop_ms = loop.get("ms_per_frame")
        both = loop_ms + codec_ms if loop_ms is not None and codec_ms is not None else None
        ms = w.get("ms_per_frame")
        rows.append((
            "fp32" if mode == "none" else mode,
            fmt(w.get("first_audio_ms")), fmt(ms, ".1f"), fmt(w.get("rtf"), ".2f"),
            fmt(1000 / ms / up_fps if ms and up_fps else None, ".2f"),
            fmt(w.get("rss_after_load_mb", {}).get("VmRSS")),
            fmt(w.get("rss_after_answer_mb", {}).get("VmRSS")),
            fmt(w.get("rss_after_answer_mb", {}).get("VmHWM")),
            fmt(loop_ms, ".1f"), fmt(both, ".1f"), fmt(ms / both if ms and both else None, ".2f"),
            fmt(roofline_ms(report, mode), ".1f"),
        ))  # fmt: skip
    table(header, rows)
    print("  first audio, ms/frame (whole answer's wall time / its 80 ms frames), x real time and\n"
          "  RSS: over Wyoming (--prebuffer off), medians; upstream: generate_custom_voice in this\n"
          "  process, first audio = the whole call; loop: the in-process frame loop, batch 1;\n"
          "  roofline: bytes of linear weights per frame / measured read bandwidth")  # fmt: skip
    if codec:
        if "error" in codec:
            print("\ncodec: FAILED (see the log)")
        else:
            print(f"\ncodec ({codec['frames']} frames in chunks {codec['chunks']}): "
                  f"{codec['batch_1']['ms_per_frame']:.1f} ms/frame for 1 stream, "
                  f"{codec['batch_4']['ms_per_frame']:.1f} ms/frame for 4 streams; first 2-frame "
                  f"chunk {codec['first_chunk_ms']:.0f} ms")  # fmt: skip
    batch_rows = []
    for mode in [m for m in modes if m in SERVER_MODES]:
        loop = report.get("in_process", {}).get(mode, {}).get("loop", {})
        if "batch_4" in loop:
            batch_rows.append(("fp32" if mode == "none" else mode,
                               fmt(loop["batch_1"]["frames_per_s"], ".2f"),
                               fmt(loop["batch_4"]["frames_per_s"], ".2f"),
                               fmt(loop["batch_4_over_1"], ".2f"), fmt(loop["first_chunk_ms"])))  # fmt: skip
    if batch_rows:
        print("\nbatching, in-process frame loop:")
        table(("mode", "frames/s batch 1", "batch 4", "4 over 1", "first chunk ms"), batch_rows)
    play = [(name, result) for name, result in (
        ("off", wire.get(report["playback_mode"], {}).get("playback_off")),
        ("auto", report.get("playback_auto")),
    ) if result and "gaps" in result]  # fmt: skip
    if play:
        print(f"\nplayback of a {report['answer_sentences']}-sentence answer, {report['playback_mode']}, "
              f"player starting at the first chunk (gap: an underrun > {1000 * GAP_S:.0f} ms):")  # fmt: skip
        table(("prebuffer", "first audio ms", "gaps", "gap s", "longest ms", "audio s", "total s"),
              [(name, fmt(r["first_audio_ms"]), str(r["gaps"]), fmt(r["gap_s"], ".2f"),
                fmt(r["longest_gap_ms"]), fmt(r["audio_s"], ".1f"), fmt(r["total_s"], ".1f"))
               for name, r in play])  # fmt: skip
    quality_rows = []
    for mode, per_mode in report.get("in_process", {}).items():
        q = per_mode.get("quality", {})
        free_run_ = q.get("free_run") or per_mode.get("free_run")
        if not free_run_:
            continue
        t, p = q.get("talker", {}), q.get("predictor", {})
        quality_rows.append((
            "fp32" if mode == "none" else mode, fmt(t.get("kl_mean"), ".4f"), fmt(t.get("top1"), ".2f"),
            fmt(p.get("kl_mean"), ".4f"), fmt(p.get("top1"), ".2f"),
            f"{free_run_['frames']}/{free_run_['budget']} ({free_run_['ended']})",
            str(free_run_["logits_finite"] and not free_run_["audio_nan"]),
            fmt(free_run_["audio_rms"], ".3f"),
        ))  # fmt: skip
    if quality_rows:
        print(f"\nquality against fp32, teacher-forced on fp32's codes ({report['quality_frames']}-frame budget):")
        table(("mode", "cb0 KL", "cb0 top-1", "cb1-15 KL", "cb1-15 top-1", "free run frames",
               "finite", "audio RMS"), quality_rows)  # fmt: skip
    bandwidth = report.get("bandwidth", {})
    if "read_gb_s" in bandwidth:
        print(f"\nmemory bandwidth: read {bandwidth['read_gb_s']:.1f} GB/s, copy {bandwidth['copy_gb_s']:.1f} "
              f"GB/s ({bandwidth['megabytes']} MB, {report['threads']} threads)")  # fmt: skip
        for mode in SERVER_MODES:
            r = report.get("roofline", {}).get(mode)
            if r is None:
                continue
            print(f"  {'fp32' if mode == 'none' else mode}: {r['bytes_per_frame'] / 1e6:.1f} MB of "
                  f"weights per frame -> at least {r['min_ms_per_frame']:.1f} ms per frame")  # fmt: skip
    print_targets(report)


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(" | ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def print_targets(report: dict[str, Any]) -> None:
    checks: list[tuple[str, bool | None]] = []
    wire = report.get("wire", {})
    up_fps = report.get("upstream", {}).get("frames_per_s")

    def speedup(mode: str) -> float | None:
        ms = wire.get(mode, {}).get("ms_per_frame")
        return 1000 / ms / up_fps if ms and up_fps else None

    def check(name: str, value: float | None, ok: Callable[[float], bool]) -> None:
        checks.append((f"{name}: {fmt(value, '.2f')}", None if value is None else ok(value)))

    check("fp32 x upstream >= 2.5", speedup("none"), lambda v: v >= 2.5)
    check("fp32 first audio <= 800 ms", wire.get("none", {}).get("first_audio_ms"), lambda v: v <= 800)
    check("int8 x upstream >= 5", speedup("int8"), lambda v: v >= 5)
    check("int4 x upstream >= 7", speedup("int4"), lambda v: v >= 7)
    check("int4 ms/frame <= 100", wire.get("int4", {}).get("ms_per_frame"), lambda v: v <= 100)
    check("int4 ms/frame <= 80 (goal)", wire.get("int4", {}).get("ms_per_frame"), lambda v: v <= 80)
    check("int4 first audio <= 400 ms (prebuffer off)", wire.get("int4", {}).get("first_audio_ms"),
          lambda v: v <= 400)  # fmt: skip
    check("codec ms/frame <= 15", report.get("codec", {}).get("batch_1", {}).get("ms_per_frame"),
          lambda v: v <= 15)  # fmt: skip
    codec_ms = report.get("codec", {}).get("batch_1", {}).get("ms_per_frame")
    for mode, per_mode in report.get("in_process", {}).items():
        loop_ms = per_mode.get("loop", {}).get("batch_1", {}).get("ms_per_frame")
        ms = wire.get(mode, {}).get("ms_per_frame")
        ratio = ms / (loop_ms + codec_ms) if ms and loop_ms and codec_ms else None
        label = "fp32" if mode == "none" else mode
        check(f"{label} over Wyoming / (loop + codec) <= 1.10", ratio, lambda v: v <= 1.10)
        four = per_mode.get("loop", {}).get("batch_4_over_1")
        if mode == "int4":
            check("int4 batch 4 / batch 1 frames/s >= 3.5", four, lambda v: v >= 3.5)
        q = per_mode.get("quality", {}).get("free_run")
        if q:
            sound = q["logits_finite"] and not q["audio_nan"] and q["audio_rms"] > 1e-3
            checks.append((f"{label}: no NaN, not silent (RMS {q['audio_rms']:.3f})", sound))
            checks.append((f"{label}: stops at its frame budget ({q['frames']}/{q['budget']})",
                           q["stops_at_budget"]))  # fmt: skip
    auto = report.get("playback_auto")
    if auto and "gaps" in auto:
        check("prebuffer auto: gaps == 0", float(auto["gaps"]), lambda v: v == 0)
    for mode, limit in (("int8", 2000), ("int4", 1500)):
        w = wire.get(mode, {})
        for when in ("rss_after_load_mb", "rss_after_answer_mb"):
            value = w.get(when, {}).get("VmRSS")
            check(f"{mode} {when.removeprefix('rss_').removesuffix('_mb').replace('_', ' ')} RSS <= "
                  f"{limit} MB", value, lambda v, limit=limit: v <= limit)  # fmt: skip
    note = "" if report["size"] == "0.6B" else f" (a {report['size']} checkpoint: the targets are for 0.6B)"
    print(f"\ntargets{note}:\n{TARGETS}")
    for text, ok in checks:
        print(f"{'SKIP' if ok is None else 'PASS' if ok else 'FAIL'} {text}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="a CustomVoice checkpoint folder (built "
                        "there with --size if it has no config.json)")  # fmt: skip
    parser.add_argument("--size", default="tiny", choices=["tiny", "0.6B"],
                        help="the random checkpoint to build without --checkpoint (default tiny)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--modes", default="upstream,none,int8,int4")
    parser.add_argument("--sentence", default=SENTENCE, help="the one-shot sentence")
    parser.add_argument("--sentences", dest="answer", default=ANSWER,
                        help="the answer of the playback simulation (three sentences)")  # fmt: skip
    parser.add_argument("--voice", default="ryan")
    parser.add_argument("--runs", type=int, default=2, help="timed runs per mode (after a warm-up)")
    parser.add_argument("--playback-mode", default="int4", choices=SERVER_MODES)
    parser.add_argument("--batch-steps", type=int, default=12, help="timed frame-loop steps")
    parser.add_argument("--codec-frames", type=int, default=48)
    parser.add_argument("--quality-frames", type=int, default=24, help="frame budget of the "
                        "teacher-forced and free runs")  # fmt: skip
    parser.add_argument("--bandwidth-mb", type=int, default=1024)
    parser.add_argument("--cache-dir", type=Path, help="the servers' --cache-dir (quantized "
                        "weights; default: a temporary folder)")  # fmt: skip
    for part in ("wire", "upstream", "codec", "batching", "playback", "quality", "roofline"):
        parser.add_argument(f"--skip-{part}", action="store_true")
    parser.add_argument("--json", action="store_true", help="also print every figure as JSON")
    parser.add_argument("--out", type=Path, help="write every figure there (a bare name: under bench/results/)")
    args = parser.parse_args(argv)
    if args.skip_upstream:
        args.modes = ",".join(m for m in args.modes.split(",") if m != "upstream")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    temp = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    try:
        return run(args, temp)
    finally:
        shutil.rmtree(temp, ignore_errors=True)  # a built checkpoint, the quantized weights


def run(args: argparse.Namespace, temp: Path) -> int:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in ("upstream", *SERVER_MODES)]
    if unknown:
        raise SystemExit(f"--modes: unknown {unknown}; use upstream, none, int8, int4")
    started = time.perf_counter()
    checkpoint = args.checkpoint or temp / f"custom_voice-{args.size}"
    if not (checkpoint / "config.json").exists():
        t0 = time.perf_counter()
        build_checkpoint(checkpoint, "custom_voice", size=args.size)
        log(f"built a {args.size} checkpoint in {checkpoint} in {time.perf_counter() - t0:.1f} s")
    cache_dir = args.cache_dir or temp / "cache"
    size = args.size if args.checkpoint is None else _size(checkpoint)
    report: dict[str, Any] = {
        "checkpoint": str(checkpoint), "size": size, "threads": args.threads, "modes": modes,
        "torch": torch.__version__, "cpu": _cpu_name(), "cores": len(os.sched_getaffinity(0)),
        "kernels": str(Kernels.for_this_cpu()), "sentence": args.sentence, "answer": args.answer,
        "answer_sentences": args.answer.count(".") + args.answer.count("?") + args.answer.count("!"),
        "playback_mode": args.playback_mode, "quality_frames": args.quality_frames,
        "budget": frame_budget(args.sentence), "machine": platform.machine(),
    }  # fmt: skip
    server_modes = [m for m in modes if m in SERVER_MODES]
    if not args.skip_wire:
        for mode in server_modes:
            log(f"over Wyoming: {mode}")
            section(report.setdefault("wire", {}), mode, lambda m=mode: measure_wire(args, checkpoint, m, cache_dir))
        if not args.skip_playback and args.playback_mode in server_modes:
            log(f"over Wyoming: playback, {args.playback_mode}, prebuffer auto")
            section(report, "playback_auto", lambda: measure_playback_auto(args, checkpoint, cache_dir))
    run_in_process(args, checkpoint, modes, cache_dir, report)
    report["wall_s"] = time.perf_counter() - started
    print_report(report, modes)
    print(f"\n(the whole run took {report['wall_s']:.0f} s)")
    data = json.dumps(report, indent=2, default=str)
    if args.json:
        print(data)
    if args.out:
        out = args.out if args.out.parent != Path() else REPO / "bench" / "results" / args.out
        out.write_text(data)
        log(f"wrote {out}")
    return 0


def _size(checkpoint: Path) -> str:
    """0.6B, 1.7B or the talker's width (a tiny checkpoint's config says 0b6 too)."""
    talker = json.loads((checkpoint / "config.json").read_text())["talker_config"]
    return {1024: "0.6B", 2048: "1.7B"}.get(talker["hidden_size"], f"hidden {talker['hidden_size']}")


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


if __name__ == "__main__":
    sys.exit(main())
