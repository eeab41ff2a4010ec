"""Running the real server as a subprocess, and speaking Wyoming to it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from wyoming.client import AsyncClient
from wyoming.event import Event

REPO_ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"Ready: listening on tcp://([^:]+):(\d+)")


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"  # tiny models run far faster on one thread (FACTS.md)
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def http_port(self) -> int:
        """The port of the HTTP side (``--http-port 0`` picks a free one)."""
        return int(self.wait_for_log(r"HTTP: web page and speech API on http://[^:]+:(\d+)/").group(1))

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := re.search(pattern, self.log()):
                return match
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not logged within {timeout} s:\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 10.0) -> float:
        """Sends SIGTERM; returns the seconds the server took to exit."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"server ignored SIGTERM for {timeout} s") from None
        return time.monotonic() - started


def start_server(
    args: list[str], log_path: Path, timeout: float = 180.0, env: dict[str, str] | None = None
) -> RunningServer:
    """Starts ``python -m wyoming_qwen_tts ARGS`` and waits until it listens on TCP."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "wyoming_qwen_tts", *args],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
        env={**server_env(), **(env or {})},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if match := READY.search(log_path.read_text(errors="replace")):
            return RunningServer(process, match.group(1), int(match.group(2)), log_path)
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"server not ready within {timeout} s:\n{log_path.read_text()}")


async def read_until(client: AsyncClient, last_types: tuple[str, ...], timeout: float = 60.0) -> list[Event]:
    """Events up to and including the first whose type is in ``last_types``."""
    events: list[Event] = []
    async with asyncio.timeout(timeout):
        while True:
            event = await client.read_event()
            assert event is not None, f"connection closed after {[e.type for e in events]}"
            events.append(event)
            if event.type in last_types:
                return events


def audio_of(events: list[Event]) -> bytes:
    return b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")


def write_reference(path: Path, seconds: float, *, amplitude: float = 0.3, seed: int = 0) -> None:
    """A 24 kHz speech-like clip: noise shaped by a syllable-rate envelope over a few tones."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 24000)) / 24000
    tones = sum(np.sin(2 * np.pi * f * t) for f in (140.0, 280.0, 560.0))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t)
    wave = amplitude * envelope * (0.6 * tones / 3 + 0.4 * rng.standard_normal(t.shape))
    soundfile.write(str(path), np.clip(wave, -1, 1).astype(np.float32), 24000, subtype="PCM_16")


class ServerProcessClient(AsyncClient):
    """Runs ``python -m wyoming_qwen_tts --uri stdio:// ARGS`` and talks to its stdin/stdout."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        super().__init__()
        self._args = args
        self._log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def connect(self) -> None:
        with self._log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "wyoming_qwen_tts", "--uri", "stdio://", *self._args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                cwd=REPO_ROOT,
                env=server_env(),
            )  # fmt: skip
        self._reader = self.process.stdout
        self._writer = self.process.stdin  # type: ignore[assignment]

    async def disconnect(self) -> None:
        """Closes stdin (end of input) and waits for the server to exit by itself."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            raise
