"""What the Wyoming handler calls a protocol error, and what it calls its own bug."""

from __future__ import annotations

import asyncio
import logging

import pytest
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import Synthesize

from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.speech.plan import DeliveryDefaults
from wyoming_qwen_tts.speech.speaker import Speaker, Speaking
from wyoming_qwen_tts.voices.voice import VoiceCatalog, premium_voice
from wyoming_qwen_tts.wyoming.handler import ConnectionLimiter, HandlerOptions, QwenTtsEventHandler
from wyoming_qwen_tts.wyoming.info import VoiceOffer
from wyoming_qwen_tts.wyoming.listener import Listener

from .wyoming_server import read_until


class BrokenScheduler:
    """A scheduler with a bug: submitting raises what no client could have caused."""

    def submit(self, request: object, group: object) -> object:
        raise KeyError("a bug in the server")


async def serving(settings: Settings) -> Listener:
    voices = VoiceOffer(VoiceCatalog([premium_voice("ryan")]))
    connections = ConnectionLimiter(settings.max_connections)

    def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> QwenTtsEventHandler:
        return QwenTtsEventHandler(
            reader,
            writer,
            voices=voices,
            speaking=Speaking(
                Speaker(BrokenScheduler(), None, str, seed=None),  # type: ignore[arg-type]
                DeliveryDefaults(),
            ),
            options=HandlerOptions.from_settings(settings),
            connections=connections,
        )

    listener = Listener("tcp://127.0.0.1:0", handler)
    await listener.start()
    return listener


async def test_a_bug_of_ours_is_an_internal_error_with_a_traceback_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = await serving(Settings())
    try:
        async with AsyncTcpClient("127.0.0.1", listener.port) as client:
            with caplog.at_level(logging.ERROR):
                await client.write_event(Synthesize(text="Hello there.").event())
                events = await read_until(client, ("error",), timeout=10)
        error = events[-1].data
        assert error["code"] == "internal-error"
        assert error["text"].startswith("internal error in the server: KeyError")
        assert "protocol error" not in error["text"]
        [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert record.exc_info is not None and record.exc_info[0] is KeyError
    finally:
        await listener.stop()


@pytest.mark.parametrize(
    "data",
    [
        {"text": 5},
        {"text": "hi", "voice": {"name": 7}},
        {"voice": {"name": "ryan"}},
    ],
    ids=["text-number", "voice-name-number", "no-text"],
)
async def test_a_malformed_event_is_a_protocol_error(data: dict) -> None:
    listener = await serving(Settings())
    try:
        async with AsyncTcpClient("127.0.0.1", listener.port) as client:
            await client.write_event(Event(type="synthesize", data=data))
            events = await read_until(client, ("error",), timeout=10)
            assert events[-1].data["code"] == "bad-event"
            assert events[-1].data["text"].startswith("protocol error: malformed synthesize")
        async with AsyncTcpClient("127.0.0.1", listener.port) as client:  # the server goes on
            await client.write_event(Describe().event())
            assert (await read_until(client, ("info",), timeout=10))[-1].type == "info"
    finally:
        await listener.stop()
