"""Where a model's codec chunks are decoded: on a thread of their own, or on the model's.

On a thread of their own the frame loop goes on generating while a chunk decodes. That pays
where the two do not compete for the same cores: on a GPU (a decode is mostly the CPU launching
small kernels, while the GPU would idle) and on a CPU with a core for every intra-op thread of
both. Measured on 2 cores with torch's 2 intra-op threads (``bench/codec_speed.py
--pipeline``: the real-size codec, a memory-bound stand-in for the frame loop): the two
threads' intra-op teams contend, the process uses 1.75 cores instead of 2, and frames plus
decode take 93 ms per frame against 78 ms one after the other. torch's thread count cannot be
set per thread (``torch.set_num_threads`` in one thread changes it for ATen's and MKL's kernels
in every thread; only oneDNN's keep the caller's), so the cores cannot be split between the two.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch


def decode_thread_pays(device: torch.device) -> bool:
    """Whether chunks should decode on a thread of their own for a model on ``device``."""
    if device.type != "cpu":
        return True
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores >= 2 * torch.get_num_threads()


class DecodeRunner:
    """Runs submitted calls one at a time in submission order: on a thread of its own when
    ``threaded``, else at once on the caller's.

    The thread lives while there is work: ``stop`` ends it once its calls are done, and the
    next ``submit`` starts another.
    """

    def __init__(self, name: str, threaded: bool) -> None:
        self.name = name
        self.threaded = threaded
        self._executor: ThreadPoolExecutor | None = None

    def submit(self, call: Callable[..., None], *args: Any) -> Future[None]:
        if self.threaded:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix=self.name)
            return self._executor.submit(_in_inference_mode, call, *args)
        future: Future[None] = Future()
        try:
            call(*args)
        except BaseException as err:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(err)
        else:
            future.set_result(None)
        return future

    def stop(self, wait: bool) -> None:
        """Lets the thread end after the calls submitted so far; ``wait``: until it has."""
        if self._executor is not None:
            self._executor.shutdown(wait=wait)
            self._executor = None


def _in_inference_mode(call: Callable[..., None], *args: Any) -> None:
    with torch.inference_mode():
        call(*args)
