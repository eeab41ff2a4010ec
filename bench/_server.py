"""The real server as a subprocess, for the benchmarks (``ttfa.py``, ``load.py``).

``ServerProcess(checkpoint, threads=..., seed=..., extra_args=[...]).start()`` runs
``python -m wyoming_qwen_tts --uri tcp://127.0.0.1:0 --custom-voice-model DIR --no-zeroconf
--device cpu --seed N --log-format ... [--debug] [extra args]`` with ``OMP_NUM_THREADS=threads``,
waits for its "Ready: listening on tcp://HOST:PORT" line and collects its stderr line by line
(``mark``/``wait_for`` to look for log lines, ``problems`` for warnings and errors). ``stop``
sends SIGTERM, waits, then SIGKILLs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 10.0

_READY = re.compile(r"(?:READY |Ready: listening on )tcp://([^:\s]+):(\d+)")
LOG_FORMAT = "%(created).6f %(levelname)s:%(name)s:%(message)s"
"""The server's --log-format: wall-clock times, to place its log lines on a client's clock."""
_RECORD = re.compile(r"^[0-9]+\.[0-9]{6} [A-Z]+:")


class ServerProcess:
    """``python -m wyoming_qwen_tts`` on 127.0.0.1:0, with its stderr collected line by line."""

    def __init__(
        self,
        checkpoint: Path | None,
        *,
        threads: int,
        seed: int,
        debug: bool = True,
        device: str = "cpu",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.checkpoint = checkpoint
        self.device = device
        self.extra_args = list(extra_args)
        self.threads = threads
        self.seed = seed
        self.debug = debug
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._eof = False

    def start(self) -> None:
        env = dict(os.environ)
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(self.threads)
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        cmd = [sys.executable, "-m", "wyoming_qwen_tts", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf"]
        if self.checkpoint is not None:  # None: a front for remotes (``extra_args`` name them)
            cmd += ["--custom-voice-model", str(self.checkpoint), "--device", self.device]
            cmd += ["--seed", str(self.seed)]
        cmd += ["--log-format", LOG_FORMAT]  # wall-clock times; ``problems`` parses them
        # The benches repeat their sentences: with the sentence cache they would time the cache
        # (bench/cached_ttfa.py does, and turns it back on in extra_args, which come last).
        cmd += ["--audio-cache-mb", "0"]
        if self.debug:
            cmd += ["--debug"]
        cmd += self.extra_args
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_stderr, name="server-stderr", daemon=True)
        self._reader.start()
        match = self.wait_for(_READY, since=0, timeout=READY_TIMEOUT_S)
        if match is None:
            tail = "".join(self._lines[-30:])
            self.stop()
            raise RuntimeError(
                f"the server did not print READY within {READY_TIMEOUT_S:.0f} s:\n{tail}"
            )
        self.host, self.port = match.group(1), int(match.group(2))

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def mark(self) -> int:
        """The position in the log from which a later ``wait_for`` looks."""
        with self._cond:
            return len(self._lines)

    def wait_for(
        self, pattern: re.Pattern[str], *, since: int, timeout: float
    ) -> re.Match[str] | None:
        """The first log line from ``since`` on that matches, waiting at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            position = since
            while True:
                while position < len(self._lines):
                    match = pattern.search(self._lines[position])
                    position += 1
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.5))

    def problems(self) -> list[list[str]]:
        """Log records at WARNING or above, each with its continuation lines (tracebacks)."""
        records: list[list[str]] = []
        current: list[str] | None = None
        with self._cond:
            lines = list(self._lines)
        for line in lines:
            if _RECORD.match(line):
                current = None
                if re.match(r"\S+ (WARNING|ERROR|CRITICAL):", line):
                    current = [line.rstrip()]
                    records.append(current)
            elif current is not None:
                current.append(line.rstrip())
        return records

    def log_tail(self, n: int = 20) -> str:
        with self._cond:
            return "".join(self._lines[-n:])

    def stop(self) -> int | None:
        """SIGTERM, a bounded wait, then SIGKILL; returns the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                print(
                    f"server did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM; killing it",
                    file=sys.stderr,
                )
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_S)
        return proc.returncode
