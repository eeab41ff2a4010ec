"""Upstream qwen_tts generation against our engine, side by side in one run.

Measures, on random-weight checkpoints of the real sizes (per-step cost does not depend on the
weights) or on the tiny test checkpoint:

- upstream ``generate_custom_voice``: ms per frame and real-time factor;
- our frame loop: ms per frame (with the predictor loop, the talker step and the codec decode
  apart), first-chunk time (prompt, prefill, two frames, their decode), real-time factor;
- batches of several sentences at once: aggregate frames per second and real-time factor;
- exactness: whether our codes equal upstream's for the same seeds.

    python bench/engine_speed.py --size tiny --device cpu --threads 1
    python bench/engine_speed.py --size 0.6B --device cpu --frames 8 --batches 1,4
    python bench/engine_speed.py --size 0.6B --device cuda --batches 1,4,8

Prints a table; ``--json FILE`` also writes every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from tests.checkpoints import build_checkpoint  # noqa: E402
from wyoming_qwen_tts.app.compose import load_options  # noqa: E402
from wyoming_qwen_tts.engine.model import GenerationInput, QwenModel  # noqa: E402
from wyoming_qwen_tts.settings.settings import Settings  # noqa: E402

FRAME_SECONDS = 0.08
TEXT = "The washing machine has finished, and the laundry is ready to be hung up outside."
SPEAKER = "ryan"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(device: str, run: Any) -> tuple[float, Any]:
    sync(device)
    started = time.perf_counter()
    result = run()
    sync(device)
    return time.perf_counter() - started, result


def measure_upstream(model: QwenModel, args: argparse.Namespace, rows: int = 1) -> dict[str, float]:
    """Upstream generation of ``rows`` sentences in one call (its own batching)."""
    wrapper = model.wrapper

    def run() -> int:
        wavs, _ = wrapper.generate_custom_voice(
            [TEXT] * rows, speaker=SPEAKER, language="english", max_new_tokens=args.frames + 1
        )
        return sum(len(wav) for wav in wavs) // 1920

    run()  # warm-up
    times, frames = [], 0
    for _ in range(args.runs):
        seconds, frames = timed(args.device, run)
        times.append(seconds)
    best = min(times)
    return {
        "frames": frames,
        "ms_per_frame": 1000 * best / frames,
        "rtf": frames * FRAME_SECONDS / best,
        "first_audio_ms": 1000 * best,  # upstream decodes only after the last frame
    }


def upstream_codes(model: QwenModel, seed: int, frames: int) -> torch.Tensor:
    kwargs = model._generate_kwargs(TEXT, GenerationInput(language="english", speaker=SPEAKER), frames)
    torch.manual_seed(seed)
    with torch.inference_mode():
        codes, _ = model.wrapper.model.generate(**kwargs)
    return codes[0].cpu()


def our_codes(model: QwenModel, seed: int, frames: int) -> torch.Tensor:
    prompt = model.prompt(TEXT, GenerationInput(language="english", speaker=SPEAKER), frames)
    torch.manual_seed(seed)
    utterance = model.frames.add(prompt)
    out = []
    while not utterance.finished:
        out.extend(codes for _, codes in model.frames.step())
    return torch.stack(out).cpu() if out else torch.empty(0, 16, dtype=torch.long)


def measure_exactness(model: QwenModel, args: argparse.Namespace) -> dict[str, Any]:
    results = []
    for seed in range(args.seeds):
        theirs = upstream_codes(model, seed, args.frames + 1)
        ours = our_codes(model, seed, args.frames + 1)
        same = theirs.shape == ours.shape and torch.equal(theirs, ours)
        first_diff = None
        if not same:
            n = min(len(theirs), len(ours))
            diffs = (theirs[:n] != ours[:n]).any(dim=1).nonzero()
            first_diff = int(diffs[0]) if len(diffs) else n
        results.append({"seed": seed, "equal": same, "frames": len(theirs), "first_diff": first_diff})
    return {"equal": sum(r["equal"] for r in results), "of": len(results), "runs": results}


@torch.inference_mode()
def measure_ours(model: QwenModel, args: argparse.Namespace, rows: int) -> dict[str, float]:
    """``rows`` sentences at once; frames per second over the steps after the prefills."""
    given = GenerationInput(language="english", speaker=SPEAKER)
    loop = model.frames

    def run() -> dict[str, float]:
        sync(args.device)
        started = time.perf_counter()
        utterances = [loop.add(model.prompt(TEXT, given, args.frames + 1)) for _ in range(rows)]
        sync(args.device)
        prefilled = time.perf_counter()
        stream = model.codec.new_stream()
        pending: list[torch.Tensor] = []
        first_chunk = None
        frames = 0
        step_times = []
        while any(not u.finished for u in utterances):
            t0 = time.perf_counter()
            produced = loop.step()
            sync(args.device)
            step_times.append(time.perf_counter() - t0)
            frames += len(produced)
            if first_chunk is None:
                pending.extend(codes for u, codes in produced if u is utterances[0])
                if len(pending) >= 2:
                    stream.decode(torch.stack(pending[:2]))
                    sync(args.device)
                    first_chunk = time.perf_counter() - started
        total = time.perf_counter() - started
        return {
            "frames": frames,
            "steps": len(step_times),
            "ms_per_step": 1000 * sorted(step_times)[len(step_times) // 2],
            "ms_per_frame_aggregate": 1000 * sum(step_times) / max(frames, 1),
            "prefill_ms": 1000 * (prefilled - started),
            "first_chunk_ms": 1000 * (first_chunk or total),
            "rtf_aggregate": frames * FRAME_SECONDS / total,
            "frames_per_s": frames / sum(step_times),
        }

    run()
    results = [run() for _ in range(args.runs)]
    return min(results, key=lambda r: r["first_chunk_ms"])


@torch.inference_mode()
def measure_parts(model: QwenModel, args: argparse.Namespace) -> dict[str, float]:
    """Per-frame parts for one sentence: predictor loop, talker step, codec decode per chunk."""
    loop = model.frames
    given = GenerationInput(language="english", speaker=SPEAKER)
    utterance = loop.add(model.prompt(TEXT, given, args.frames + 1))
    loop.step()
    tokens = utterance.token.unsqueeze(1)
    hidden = utterance.hidden
    params = utterance.prompt.subtalker
    repeats = 20
    graphs = loop.graphs if loop.graphs is not None and loop.graphs.covers(params) else None

    def predictor() -> Any:
        if graphs is not None:
            return graphs.predict(tokens, hidden)
        return loop._predict_codebooks(tokens, hidden, params, None)

    predictor()
    seconds, (codes, codec_hiddens) = timed(args.device, lambda: [predictor() for _ in range(repeats)][-1])
    embeds = codec_hiddens.sum(1, keepdim=True)

    def talker() -> Any:
        if graphs is not None:
            return graphs.talker(embeds, [utterance.length], [utterance.length + utterance.rope_delta])
        return loop._talker_decode(embeds, [utterance.length], [utterance.length + utterance.rope_delta])

    talker()
    talker_seconds, _ = timed(args.device, lambda: [talker() for _ in range(repeats)])
    loop.remove(utterance)
    parts = {
        "predictor_ms": 1000 * seconds / repeats,
        "talker_ms": 1000 * talker_seconds / repeats,
    }
    frames = torch.stack([codes[0]] * 16)
    for size in (2, 4, 8, 16):
        stream = model.codec.new_stream()
        stream.decode(frames[:size])
        decode_seconds, _ = timed(args.device, lambda: stream.decode(frames[:size]))
        parts[f"codec_{size}_frames_ms"] = 1000 * decode_seconds
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="tiny", choices=["tiny", "0.6B", "1.7B"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--checkpoint", type=Path, help="reuse a checkpoint folder")
    parser.add_argument("--frames", type=int, default=60, help="frames per sentence")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the exactness check")
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--no-graphs", action="store_true", help="eager steps on CUDA")
    parser.add_argument(
        "--quantize", default="none", choices=["none", "int8", "int4"],
        help="quantized weights (CPU); upstream is then not measured: its layers lose their weights",
    )  # fmt: skip
    parser.add_argument("--skip-upstream", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    report: dict[str, Any] = {
        "size": args.size,
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "frames": args.frames,
    }
    folder = args.checkpoint or Path(tempfile.mkdtemp()) / f"custom_voice-{args.size}"
    if not (folder / "config.json").exists():
        seconds, _ = timed("cpu", lambda: build_checkpoint(folder, "custom_voice", size=args.size))
        print(f"built {args.size} checkpoint in {seconds:.1f} s", flush=True)
    settings = Settings(device=args.device, dtype=args.dtype, max_batch=max(batches), quantize=args.quantize)
    options = replace(load_options(settings), cuda_graphs=not args.no_graphs)
    seconds, model = timed(args.device, lambda: QwenModel.load(str(folder), options))
    report["load_s"] = seconds
    report["graphs"] = model.frames.graphs is not None
    report["quantize"] = args.quantize
    print(f"loaded in {seconds:.1f} s (graphs: {report['graphs']})", flush=True)

    def section(name: str, run: Any) -> None:
        try:
            report[name] = run()
            print(name, json.dumps(report[name]), flush=True)
        except Exception:  # noqa: BLE001 - keep measuring the rest
            report[name] = {"error": traceback.format_exc()}
            print(name, "FAILED", report[name]["error"], flush=True)

    if not args.skip_upstream and args.quantize == "none":
        section("upstream", lambda: measure_upstream(model, args))
        for rows in batches[1:]:
            section(f"upstream_batch_{rows}", lambda rows=rows: measure_upstream(model, args, rows))
    section("exactness", lambda: measure_exactness(model, args))
    section("parts", lambda: measure_parts(model, args))
    for rows in batches:
        section(f"ours_batch_{rows}", lambda rows=rows: measure_ours(model, args, rows))
    print_table(report, batches)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def print_table(report: dict[str, Any], batches: list[int]) -> None:
    print(f"\n{report['size']} on {report['device_name']} (torch {report['torch']}, "
          f"{report['threads']} threads, graphs {report['graphs']}, quantize {report['quantize']}), "
          f"{report['frames']} frames")
    up = report.get("upstream", {})
    if "ms_per_frame" in up:
        print(f"upstream generate: {up['ms_per_frame']:.1f} ms/frame, {up['rtf']:.2f}x real time, "
              f"first audio after {up['first_audio_ms']:.0f} ms (decodes at the end)")
    for rows in batches[1:]:
        batch = report.get(f"upstream_batch_{rows}", {})
        if "ms_per_frame" in batch:
            print(f"upstream batch {rows}: {batch['rtf']:.2f}x real time aggregate")
    parts = report.get("parts", {})
    if "predictor_ms" in parts:
        print("ours per frame: predictor loop {predictor_ms:.2f} ms, talker step {talker_ms:.2f} ms; "
              "codec 2/4/8/16 frames: {codec_2_frames_ms:.1f}/{codec_4_frames_ms:.1f}/"
              "{codec_8_frames_ms:.1f}/{codec_16_frames_ms:.1f} ms".format(**parts))
    for rows in batches:
        r = report.get(f"ours_batch_{rows}", {})
        if "frames_per_s" in r:
            print(f"ours batch {rows}: {r['ms_per_step']:.1f} ms/step, {r['frames_per_s']:.1f} frames/s "
                  f"({r['frames_per_s'] * FRAME_SECONDS:.2f}x real time aggregate), first chunk "
                  f"{r['first_chunk_ms']:.0f} ms (prefill {r['prefill_ms']:.0f} ms)")
    ex = report.get("exactness", {})
    if "equal" in ex:
        print(f"exactness: codes equal upstream's for {ex['equal']}/{ex['of']} seeds "
              f"{[r['first_diff'] for r in ex['runs']]}")


if __name__ == "__main__":
    main()
