"""The server as a user starts it: stdio, signals, zeroconf, and start-up errors."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from .wyoming_server import (
    REPO_ROOT,
    ServerProcessClient,
    audio_of,
    read_until,
    server_env,
    start_server,
)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_qwen_tts", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=server_env(),
        timeout=timeout,
    )


async def test_stdio_speaks_the_protocol(tmp_path: Path, custom_voice_checkpoint: Path) -> None:
    args = ["--custom-voice-model", str(custom_voice_checkpoint), "--device", "cpu", "--seed", "3"]
    client = ServerProcessClient(args, tmp_path / "stderr.log")
    async with client:
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, ("info",), timeout=180))[-1])
        assert {v.name for v in info.tts[0].voices} == {"vivian", "ryan", "ono_anna", "dylan"}

        await client.write_event(Synthesize(text="One. Two!", voice=SynthesizeVoice(name="ryan")).event())
        one_shot = await read_until(client, ("audio-stop",))
        assert one_shot[0].type == "audio-start"

        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="ryan")).event())
        await client.write_event(SynthesizeChunk(text="One. T").event())
        await client.write_event(SynthesizeChunk(text="wo!").event())
        await client.write_event(SynthesizeStop().event())
        streamed = await read_until(client, ("synthesize-stopped",))
    assert audio_of(streamed) == audio_of(one_shot) != b""
    assert client.process is not None and client.process.returncode == 0


def test_sigterm_exits_cleanly_and_unregisters_zeroconf(
    tmp_path: Path, custom_voice_checkpoint: Path
) -> None:
    zeroconf = pytest.importorskip("zeroconf")
    name = f"qwen-test-{uuid.uuid4().hex[:8]}"
    server = start_server(
        [
            "--uri", "tcp://127.0.0.1:0",
            "--custom-voice-model", str(custom_voice_checkpoint),
            "--device", "cpu",
            "--zeroconf", name,
            "--zeroconf-interface", "127.0.0.1",
        ],
        tmp_path / "server.log",
    )  # fmt: skip
    browser = zeroconf.Zeroconf(interfaces=["127.0.0.1"])
    try:
        try:
            server.wait_for_log("Advertising|advertis", timeout=15)
        except AssertionError:
            server.stop()
            pytest.skip(f"mDNS advertisement did not start on loopback:\n{server.log()[-2000:]}")
        service = f"{name}._wyoming._tcp.local."
        info = browser.get_service_info("_wyoming._tcp.local.", service, timeout=5000)
        assert info is not None, "the service is not visible over mDNS on loopback"
        assert info.port == server.port
        assert "127.0.0.1" in info.parsed_addresses()

        seconds = server.stop()
        print(f"SIGTERM to exit: {seconds:.2f} s")
        assert server.process.returncode == 0
        assert seconds < 2.0
        browser.cache.async_expire(0)  # forget the record; only a fresh answer may bring it back
        assert browser.get_service_info("_wyoming._tcp.local.", service, timeout=1500) is None
    finally:
        browser.close()
        if server.process.poll() is None:
            server.process.kill()


def test_sigint_exits_cleanly(tmp_path: Path, custom_voice_checkpoint: Path) -> None:
    server = start_server(
        [
            "--uri", "tcp://127.0.0.1:0",
            "--custom-voice-model", str(custom_voice_checkpoint),
            "--device", "cpu",
            "--no-zeroconf",
        ],
        tmp_path / "server.log",
    )  # fmt: skip
    import signal
    import time

    started = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(10) == 0
    assert time.monotonic() - started < 2.0
    assert "Traceback" not in server.log()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--custom-voice-model", "/nonexistent/model", "--local-files-only"],
            "cannot load model '/nonexistent/model'",
        ),
        (["--custom-voice-model", "none"], "no voices"),
        (["--language", "klingon"], "language 'klingon' is not supported"),
    ],
)
def test_startup_errors_are_one_clear_line(args: list[str], message: str) -> None:
    result = run_cli("--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu", *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1, result.stderr


def test_unknown_default_voice_is_one_clear_line(custom_voice_checkpoint: Path) -> None:
    result = run_cli("--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu",
                     "--custom-voice-model", str(custom_voice_checkpoint), "--voice", "nobody")  # fmt: skip
    assert result.returncode == 1
    assert "--voice: voice 'nobody' not found; available: dylan, ono_anna, ryan, vivian" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_checkpoint_kind_is_refused(base_checkpoint: Path) -> None:
    result = run_cli("--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu",
                     "--custom-voice-model", str(base_checkpoint))  # fmt: skip
    assert result.returncode == 1
    assert "is a base checkpoint, but a custom_voice checkpoint is needed" in result.stderr
    assert "Traceback" not in result.stderr


def test_version() -> None:
    from wyoming_qwen_tts import __version__

    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == __version__
