"""The codec decode on the CPU: ms per 80 ms frame, and what a decode thread costs or gains.

Builds only the real-size 12 Hz codec decoder (random weights, as ``tests/checkpoints.py``
initialises it; a couple of seconds) and measures, with ``--threads`` torch threads:

- one streamed decode call per chunk size (2 to 16 frames), continuing a stream;
- the amortized cost per frame of a sentence of ``--frames`` frames decoded over the server's
  CPU chunk schedule (``codec.chunk_schedule_for``), float32 and bfloat16 products;
- ``--pipeline``: a memory-bound stand-in for the frame loop (matrix-vector products over 600 MB
  of weights, ``--passes`` per frame) with the codec decoding either on the same thread after
  each chunk, or on a thread of its own: ms per frame, each thread's busy time, process cores.

    python bench/codec_speed.py --threads 2
    python bench/codec_speed.py --threads 2 --pipeline

Each figure is the best of ``--repeats`` runs. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import queue
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from wyoming_qwen_tts.engine.codec import (  # noqa: E402
    StreamingCodecDecoder,
    chunk_schedule_for,
    compute_dtype_for,
)
from wyoming_qwen_tts.engine.compat import import_qwen_tts  # noqa: E402

CPU = torch.device("cpu")


def build_decoder() -> Any:
    """The real-size codec decoder with ``tests/checkpoints.py``'s random weights, float32."""
    import_qwen_tts()
    from qwen_tts.core import Qwen3TTSTokenizerV2Config
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2Decoder,
    )
    from transformers.modeling_utils import no_init_weights

    from tests.checkpoints import _codec_config, _init_weights

    config = Qwen3TTSTokenizerV2Config(**_codec_config("0.6B")).decoder_config
    with no_init_weights():
        decoder = Qwen3TTSTokenizerV2Decoder(config)
    output = f"decoder.{len(decoder.decoder) - 1}.conv"
    _init_weights(decoder, "audible", torch.Generator().manual_seed(0), gains={output: 0.07})
    return decoder.float().eval()


def codes_of(frames: int) -> torch.Tensor:
    return torch.randint(0, 2048, (frames, 16), generator=torch.Generator().manual_seed(1))


def best(repeats: int, run: Any) -> float:
    return min(run() for _ in range(repeats))


def per_call_ms(codec: StreamingCodecDecoder, size: int, repeats: int) -> float:
    stream = codec.new_stream()
    codes = codes_of(8 + size * repeats)
    stream.decode(codes[:8])
    position = [8]

    def run() -> float:
        start = position[0]
        started = time.perf_counter()
        stream.decode(codes[start : start + size])
        position[0] += size
        return 1000 * (time.perf_counter() - started)

    return best(repeats, run)


def sentence_ms_per_frame(codec: StreamingCodecDecoder, frames: int, repeats: int) -> float:
    codes = codes_of(frames)

    def run() -> float:
        stream, sizes, position = codec.new_stream(), chunk_schedule_for(CPU), 0
        started = time.perf_counter()
        while position < frames:
            size = next(sizes)
            stream.decode(codes[position : position + size])
            position += size
        return 1000 * (time.perf_counter() - started) / frames

    return best(repeats, run)


def pipeline(
    codec: StreamingCodecDecoder, frames: int, passes: int, threaded: bool
) -> dict[str, float]:
    """Frames of a stand-in frame loop, their chunks decoded inline or on a decode thread."""
    weights = [torch.randn(3072, 1024) * 0.01 for _ in range(48)]
    x = torch.randn(1, 1024)
    codes = codes_of(frames)
    stream, sizes = codec.new_stream(), chunk_schedule_for(CPU)
    chunks: queue.SimpleQueue[torch.Tensor | None] = queue.SimpleQueue()
    busy = {"model": 0.0, "codec": 0.0}

    def decode(chunk: torch.Tensor) -> None:
        started = time.perf_counter()
        stream.decode(chunk)
        busy["codec"] += time.perf_counter() - started

    def decode_thread() -> None:
        with torch.inference_mode():
            while (chunk := chunks.get()) is not None:
                decode(chunk)

    thread = threading.Thread(target=decode_thread) if threaded else None
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if thread is not None:
        thread.start()
    target, pending, position = next(sizes), 0, 0
    for frame in range(frames):
        step = time.perf_counter()
        for _ in range(passes):
            for weight in weights:
                torch.nn.functional.linear(x, weight)
        busy["model"] += time.perf_counter() - step
        pending += 1
        if pending == target or frame == frames - 1:
            chunk = codes[position : position + pending]
            position, pending, target = position + pending, 0, next(sizes)
            if thread is not None:
                chunks.put(chunk)
            else:
                decode(chunk)
    if thread is not None:
        chunks.put(None)
        thread.join()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {
        "ms_per_frame": 1000 * wall / frames,
        "model_busy_ms": 1000 * busy["model"] / frames,
        "codec_busy_ms": 1000 * busy["codec"] / frames,
        "cores": cpu / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--frames", type=int, default=62, help="frames of a sentence (5 s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pipeline", action="store_true", help="also the decode-thread run")
    parser.add_argument("--passes", type=int, default=3, help="stand-in passes per frame")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    decoder = build_decoder()
    dtypes = [torch.float32]
    if compute_dtype_for("cpu", quantized=True) == torch.bfloat16:
        dtypes.append(torch.bfloat16)
    print(f"real-size codec decoder, {args.threads} torch threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")  # fmt: skip
    with torch.inference_mode():
        for dtype in dtypes:
            codec = StreamingCodecDecoder(decoder, dtype)
            codec.new_stream().decode(codes_of(2))  # warm-up
            calls = "  ".join(
                f"{size}: {per_call_ms(codec, size, args.repeats):.0f} ms"
                for size in (2, 4, 8, 16)
            )
            amortized = sentence_ms_per_frame(codec, args.frames, args.repeats)
            name = str(dtype).removeprefix("torch.")
            print(f"{name:9s} one call per chunk size: {calls}")
            print(f"{name:9s} {args.frames}-frame sentence over the CPU schedule: "
                  f"{amortized:.1f} ms per frame")  # fmt: skip
            if args.pipeline:
                for threaded in (False, True):
                    r = pipeline(codec, 48, args.passes, threaded)
                    how = "decode thread" if threaded else "inline       "
                    print(f"{name:9s} pipeline, {how}: {r['ms_per_frame']:.1f} ms per frame; "
                          f"busy per frame: frame loop {r['model_busy_ms']:.1f} ms, codec "
                          f"{r['codec_busy_ms']:.1f} ms; process {r['cores']:.2f} cores")  # fmt: skip


if __name__ == "__main__":
    main()
