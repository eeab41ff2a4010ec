"""Long answers are never cut: no total length for a stream, backpressure instead of a queue,
and Home Assistant's compatibility ``synthesize`` skipped inside a stream whatever its size."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from .wyoming_server import RunningServer, audio_of, read_until, start_server

MAX_SENTENCES = 3
MAX_EVENT_BYTES = 4096
MAX_TEXT = 500


def _start(log_dir: Path, checkpoint: Path) -> RunningServer:
    return start_server(
        [
            "--uri", "tcp://127.0.0.1:0",
            "--custom-voice-model", str(checkpoint),
            "--no-zeroconf", "--device", "cpu", "--seed", "3", "--debug",
            "--max-sentences", str(MAX_SENTENCES),
            "--max-event-bytes", str(MAX_EVENT_BYTES),
            "--max-text", str(MAX_TEXT),
        ],
        log_dir / "server.log",
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, custom_voice_checkpoint: Path) -> RunningServer:
    running = _start(tmp_path_factory.mktemp("long_answers"), custom_voice_checkpoint)
    yield running
    assert "Traceback" not in running.log(), running.log()[-3000:]
    running.stop()


@pytest.fixture(scope="module")
def brief_server(
    tmp_path_factory: pytest.TempPathFactory, brief_custom_voice_checkpoint: Path
) -> RunningServer:
    """Its utterances end after a few frames, so that 30 000 characters are spoken in minutes."""
    running = _start(tmp_path_factory.mktemp("long_answers_brief"), brief_custom_voice_checkpoint)
    yield running
    assert "Traceback" not in running.log(), running.log()[-3000:]
    running.stop()


def rss_bytes(server: RunningServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))


def header(**fields: object) -> bytes:
    return json.dumps(fields).encode() + b"\n"


def long_answer(chars: int) -> tuple[str, str]:
    """About ``chars`` characters of long sentences, and the last sentence, spoken as written."""
    words = "the kitchen lights are on and the heating is set to a comfortable level for the evening"
    sentence = f"Then {words} while {words} as {words}. "
    last = "This is the very last sentence of the answer."
    return sentence * -(-chars // len(sentence)) + last, last


async def test_a_30000_character_stream_is_spoken_to_its_last_sentence(
    brief_server: RunningServer,
) -> None:
    server = brief_server
    text, last = long_answer(30_000)
    assert len(text) >= 30_000 > 3 * MAX_TEXT
    chunks = [text[i : i + 40] for i in range(0, len(text), 40)]  # token-sized, as from an LLM
    rss: list[int] = []
    async with AsyncTcpClient(server.host, server.port) as client:

        async def send() -> None:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="ryan")).event())
            for chunk in chunks:
                await client.write_event(SynthesizeChunk(text=chunk).event())
            await client.write_event(SynthesizeStop().event())

        sender = asyncio.create_task(send())
        events = []
        async with asyncio.timeout(600):
            while (event := await client.read_event()) is not None:
                events.append(event)
                if event.type == "audio-chunk" and len(rss) < 1:
                    rss.append(rss_bytes(server))
                if event.type == "synthesize-stopped":
                    break
        await sender
    rss.append(rss_bytes(server))
    types = [event.type for event in events]
    assert "error" not in types, [e.data for e in events if e.type == "error"]
    assert types[0] == "audio-start" and types[-2:] == ["audio-stop", "synthesize-stopped"]
    assert audio_of(events)
    server.wait_for_log(f"Submitting '{last}'")
    assert rss[-1] - rss[0] < 64 * 1024 * 1024, rss


async def test_an_oversize_compatibility_synthesize_inside_a_stream_is_skipped(
    server: RunningServer,
) -> None:
    repeated = json.dumps({"text": "Hello there. How are you today? " * 4000}).encode()
    assert len(repeated) > 10 * MAX_EVENT_BYTES
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(header(type="synthesize-start", data={"voice": {"name": "ryan"}}))
        writer.write(header(type="synthesize-chunk", data={"text": "Hello there. How are you today?"}))
        writer.write(header(type="synthesize", data_length=len(repeated)) + repeated)
        writer.write(header(type="synthesize-stop"))
        writer.write(header(type="describe"))
        await writer.drain()
        received = b""
        async with asyncio.timeout(120):
            while b'"type": "info"' not in received or b"synthesize-stopped" not in received:
                chunk = await reader.read(65536)
                assert chunk, f"connection closed: {received[-500:]!r}"
                received += chunk
    finally:
        writer.close()
    assert b'"type": "error"' not in received
    assert b'"audio-chunk"' in received
    server.wait_for_log(f"Skipped a synthesize of {len(repeated)} bytes")


async def test_a_one_shot_synthesize_keeps_its_limits(server: RunningServer) -> None:
    async with AsyncTcpClient(server.host, server.port) as client:
        from wyoming.tts import Synthesize

        await client.write_event(Synthesize(text="This is a sentence. " * 40).event())
        events = await read_until(client, ("error",), timeout=30)
        assert f"over {MAX_TEXT} characters" in events[-1].data["text"]


async def test_a_client_that_does_not_read_is_held_back(server: RunningServer) -> None:
    """Text for thousands of sentences, and no audio read: the server stops reading once
    MAX_SENTENCES are waiting, so the client's writes stall instead of the server queueing."""
    before = rss_bytes(server)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock.connect((server.host, server.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    chunk = header(type="synthesize-chunk", data={"text": "Turn it on. Now turn it off. " * 100})
    total = 64 * 1024 * 1024
    sent = 0
    try:
        writer.write(header(type="synthesize-start", data={"voice": {"name": "ryan"}}))
        stalled = False
        while sent < total:  # bounded: at most 64 MB
            writer.write(chunk)
            sent += len(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 10)
            except TimeoutError:
                stalled = True
                break
        assert stalled, "the server read 64 MB of text without speaking it"
        assert sent < total / 2
        assert rss_bytes(server) - before < 64 * 1024 * 1024
    finally:
        writer.transport.abort()
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Describe().event())
        assert (await read_until(client, ("info",), timeout=30))[-1].type == "info"
