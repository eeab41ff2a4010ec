"""Hostile and careless clients: the server answers or hangs up, and keeps serving everyone."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from .wyoming_server import RunningServer, audio_of, read_until, start_server

MAX_TEXT = 300
MAX_SENTENCES = 3
MAX_CONNECTIONS = 6
IDLE_TIMEOUT = 1.5
MAX_EVENT_BYTES = 4096


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, custom_voice_checkpoint: Path) -> RunningServer:
    running = start_server(
        [
            "--uri", "tcp://127.0.0.1:0",
            "--custom-voice-model", str(custom_voice_checkpoint),
            "--no-zeroconf", "--device", "cpu",
            "--max-text", str(MAX_TEXT),
            "--max-sentences", str(MAX_SENTENCES),
            "--max-connections", str(MAX_CONNECTIONS),
            "--idle-timeout", str(IDLE_TIMEOUT),
            "--max-event-bytes", str(MAX_EVENT_BYTES),
        ],
        tmp_path_factory.mktemp("hostile") / "server.log",
    )  # fmt: skip
    yield running
    assert "Traceback" not in running.log(), running.log()[-3000:]
    running.stop()


async def send_raw(server: RunningServer, data: bytes, timeout: float = 10) -> bytes:
    """Sends bytes, then reads whatever comes back until the server hangs up.

    A server that hangs up on unread input makes TCP reset the connection: that is a hang-up too.
    """
    reader, writer = await asyncio.open_connection(server.host, server.port)
    received = b""
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                received += chunk
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    return received


async def assert_still_serving(server: RunningServer, speak: bool = False) -> None:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Describe().event())
        assert (await read_until(client, ("info",), timeout=10))[-1].type == "info"
        if speak:
            await client.write_event(Synthesize(text="Still here.", voice=SynthesizeVoice(name="ryan")).event())
            events = await read_until(client, ("audio-stop", "error"), timeout=60)
            assert events[-1].type == "audio-stop" and audio_of(events)


def header(**fields: object) -> bytes:
    return json.dumps(fields).encode() + b"\n"


HOSTILE = {
    "garbage header": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "invalid json": b"{not json}\n",
    "json but not an object": b"[1, 2, 3]\n",
    "type not a string": header(type=5),
    "negative data length": header(type="describe", data_length=-5),
    "huge data length": header(type="describe", data_length=99_999_999_999),
    "huge payload length": header(type="audio-chunk", payload_length=2**40),
    "float length": header(type="describe", payload_length=1e30),
    "string length": header(type="describe", data_length="12"),
    "data over the cap": header(type="synthesize", data_length=MAX_EVENT_BYTES + 1),
    "text not a string": header(type="synthesize", data={"text": 5}),
    "voice not an object": header(type="synthesize", data={"text": "hi", "voice": "ryan"}),
    "non-utf-8 data": header(type="synthesize", data_length=10) + b"\xff\xfe" * 5,
    "binary noise": os.urandom(8192),
    "deeply nested json": b"[" * 50_000 + b"\n",
    "endless header line": b"x" * 200_000,
    "cut off mid-event": header(type="synthesize", data_length=40) + b'{"text": "partial',
}


@pytest.mark.parametrize("payload", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_bytes_end_only_that_connection(server: RunningServer, payload: bytes) -> None:
    answer = await send_raw(server, payload)
    # Hung up, answered with an error, or (for what the wyoming library can read) answered.
    assert answer == b"" or b'"type": "error"' in answer or b'"type": "audio-stop"' in answer
    await assert_still_serving(server)


async def test_unknown_event_types_are_ignored(server: RunningServer) -> None:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Event(type="frobnicate", data={"x": 1}))
        await client.write_event(Describe().event())
        assert (await read_until(client, ("info",), timeout=10))[-1].type == "info"


@pytest.mark.parametrize(
    "text",
    ["\x00\x01\x07Hello\x1b[31m there.\x7f", "😀🎉👍", "Hi \ud800 there.", "\u202e\u200b\ufeff"],
    ids=["control characters", "emoji only", "lone surrogate", "invisible marks"],
)
async def test_odd_text_gets_an_answer(server: RunningServer, text: str) -> None:
    # Sent as escaped JSON: the wyoming client itself cannot encode a lone surrogate.
    request = json.dumps({"text": text, "voice": {"name": "ryan"}}).encode()
    answer = await send_raw(server, header(type="synthesize", data_length=len(request)) + request, timeout=60)
    assert b'"type": "audio-stop"' in answer
    await assert_still_serving(server)


async def test_a_megabyte_of_text_is_refused(server: RunningServer) -> None:
    request = json.dumps({"text": "word " * 200_000}).encode()
    try:
        answer = await send_raw(server, header(type="synthesize", data_length=len(request)) + request)
    except (BrokenPipeError, ConnectionResetError):  # hung up before taking the rest
        answer = b""
    assert answer == b"" or b"over the limit" in answer
    server.wait_for_log(f"'data_length' of {len(request)} bytes is over the limit of {MAX_EVENT_BYTES}")
    await assert_still_serving(server, speak=True)


async def test_text_over_the_limit_is_refused(server: RunningServer) -> None:
    long_text = "This is a sentence. " * 20
    assert MAX_EVENT_BYTES > len(long_text) > MAX_TEXT
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Synthesize(text=long_text).event())
        events = await read_until(client, ("error",), timeout=10)
        assert f"over {MAX_TEXT} characters" in events[-1].data["text"]

        # A stream has no total limit (tests/test_long_answers.py): it is spoken.
        await client.write_event(SynthesizeStart().event())
        for _ in range(20):  # one run-on sentence
            await client.write_event(SynthesizeChunk(text="and the lights are ").event())
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, ("synthesize-stopped",), timeout=120)
    assert not [e for e in events if e.type == "error"] and audio_of(events)


async def test_more_sentences_than_may_wait_are_all_spoken(server: RunningServer) -> None:
    # Past MAX_SENTENCES the server stops reading until one is spoken (backpressure).
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeChunk(text="One. Two! Three? Four. Five. Six.").event())
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, ("synthesize-stopped",), timeout=120)
    assert not [e for e in events if e.type == "error"] and audio_of(events)
    await assert_still_serving(server, speak=True)


async def test_connections_over_the_limit_are_turned_away(server: RunningServer) -> None:
    await asyncio.sleep(0.2)  # let earlier tests' connections close
    opened = [await asyncio.open_connection(server.host, server.port) for _ in range(MAX_CONNECTIONS)]
    try:
        await asyncio.sleep(0.2)
        answer = await send_raw(server, b"")
        assert b"server busy" in answer
    finally:
        for _, writer in opened:
            writer.close()
    await asyncio.sleep(0.2)
    await assert_still_serving(server)


async def test_idle_connections_are_closed(server: RunningServer) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        async with asyncio.timeout(IDLE_TIMEOUT + 5):
            assert await reader.read() == b""
    finally:
        writer.close()


async def test_a_thousand_rapid_connections(server: RunningServer) -> None:
    async with asyncio.timeout(120):
        for _ in range(1000):
            _, writer = await asyncio.open_connection(server.host, server.port)
            writer.close()
            await writer.wait_closed()
    await asyncio.sleep(0.5)
    await assert_still_serving(server, speak=True)


_events = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda type_, data: header(type=type_, data=data),
        st.sampled_from(
            ["describe", "synthesize", "synthesize-start", "synthesize-chunk", "synthesize-stop",
             "ping", "audio-chunk", "error", "x"]
        ),
        st.dictionaries(
            st.sampled_from(["text", "voice", "name", "speaker"]),
            st.one_of(st.text(max_size=40), st.integers(), st.none(), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)),
            max_size=3,
        ),
    ),
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=st.lists(_events, max_size=8))
def test_fuzzed_event_streams(server: RunningServer, stream: list[bytes]) -> None:
    async def exchange() -> None:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(b"".join(stream))
            await writer.drain()
            writer.write_eof()
            async with asyncio.timeout(30):
                await reader.read()
        except (ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()
        await assert_still_serving(server)

    asyncio.run(exchange())
