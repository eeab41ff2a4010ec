"""``POST /v1/audio/speech``: OpenAI's request body (and vLLM-Omni's extras), answered with audio
that leaves while it is generated.

``wav`` and ``pcm`` stream sentence by sentence, frame chunk by frame chunk (a streamed WAV's
header gives its sizes as unknown, as a pipe's does); ``flac``, ``mp3`` and ``opus`` are whole
files and leave when the last sentence is spoken. ``stream_format: "sse"`` wraps the same bytes
in ``speech.audio.delta`` / ``speech.audio.done`` events, framed as vLLM-Omni frames them
(``event:`` and ``data:`` lines, a ``speech.audio.error`` event when speaking fails mid-way).

Where OpenAI and vLLM-Omni differ, this follows vLLM-Omni 0.30 (``protocol/audio.py``): ``stream:
true`` without a ``stream_format`` means SSE, and ``stream_format: "audio"`` means raw bytes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import struct
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile
from aiohttp import web

from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, pcm16_to_float
from wyoming_qwen_tts.audio.wav_stream import UNKNOWN_SIZE
from wyoming_qwen_tts.engine.interface import SynthesisCancelled
from wyoming_qwen_tts.http.errors import ApiError
from wyoming_qwen_tts.scheduling.metrics import HTTP, SpeechMetrics
from wyoming_qwen_tts.settings.delivery_options import MAX_SPEED, MIN_SPEED
from wyoming_qwen_tts.speech.plan import Part
from wyoming_qwen_tts.speech.speaker import Speaking, Take
from wyoming_qwen_tts.text.languages import model_language
from wyoming_qwen_tts.text.ssml import SsmlError
from wyoming_qwen_tts.voices.voice import VoiceCatalog, VoiceChoice, VoiceError, choose_voice

_LOGGER = logging.getLogger(__name__)

STREAMED_FORMATS = ("wav", "pcm")
WHOLE_FORMATS = {"flac": ("FLAC", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS")}
CONTENT_TYPES = {
    "wav": "audio/wav",
    "pcm": "audio/pcm",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg; codecs=opus",
}
TASK_TYPES = {"CustomVoice": "premium", "Base": "clone", "VoiceDesign": "design"}
"""vLLM-Omni's ``task_type``: which kind of model (here: of voice) the request is for."""


def writable_formats() -> tuple[str, ...]:
    """The response formats this machine's libsndfile can write, streamed ones first."""
    available = soundfile.available_formats()
    whole = []
    for name, (container, subtype) in WHOLE_FORMATS.items():
        if container in available and subtype in soundfile.available_subtypes(container):
            whole.append(name)
    return (*STREAMED_FORMATS, *whole)


@dataclass(frozen=True)
class SpeechParams:
    input: str
    voice: str | None
    instructions: str | None
    response_format: str
    stream_format: str
    language: str | None
    """The model's language name; None: the voice's own, else the server's."""
    model: str | None
    speed: float = 1.0
    """A factor on the voice's own speed."""
    ssml: bool = False
    """``text_format: "ssml"`` (this server's extension, as on Wyoming)."""

    @classmethod
    def parse(cls, body: Mapping[str, Any], *, max_text: int, formats: tuple[str, ...]) -> SpeechParams:
        text = _string(body, "input", required=True)
        if not text.strip():
            raise ApiError(400, "'input' is empty: give the text to speak", "input")
        if len(text) > max_text:
            raise ApiError(
                400, f"'input' has {len(text)} characters; the server's limit is {max_text}", "input"
            )
        response_format = _string(body, "response_format") or "wav"
        if response_format not in formats:
            raise ApiError(
                400,
                f"response_format '{response_format}' is not supported here; use one of: "
                f"{', '.join(formats)}",
                "response_format",
            )
        for flag in ("stream",):
            if body.get(flag) is not None and not isinstance(body[flag], bool):
                raise ApiError(400, f"'{flag}' must be true or false", flag)
        stream_format = _string(body, "stream_format") or ("sse" if body.get("stream") else "audio")
        if stream_format not in ("audio", "sse"):
            raise ApiError(400, "stream_format must be 'audio' or 'sse'", "stream_format")
        speed = body.get("speed", 1.0)
        if (
            isinstance(speed, bool)
            or not isinstance(speed, int | float)
            or not MIN_SPEED <= speed <= MAX_SPEED
        ):
            raise ApiError(
                400, f"'speed' must be a number from {MIN_SPEED:g} to {MAX_SPEED:g}", "speed"
            )
        text_format = _string(body, "text_format") or "text"
        if text_format not in ("text", "ssml"):
            raise ApiError(400, "'text_format' must be 'text' or 'ssml'", "text_format")
        try:
            language = model_language(_string(body, "language"))
        except ValueError as err:
            raise ApiError(400, str(err), "language") from None
        return cls(
            input=text,
            voice=_string(body, "voice"),
            instructions=_string(body, "instructions"),
            response_format=response_format,
            stream_format=stream_format,
            language=language,
            model=_string(body, "model"),
            speed=float(speed),
            ssml=text_format == "ssml",
        )


class SpeechEndpoint:
    def __init__(
        self,
        speaking: Speaking,
        catalog: Callable[[], VoiceCatalog],
        metrics: SpeechMetrics,
        *,
        default_language: str | None,
        max_text: int,
        max_sentences: int,
    ) -> None:
        self._speaking = speaking
        self._catalog = catalog
        self._metrics = metrics
        self._default_language = default_language
        self._max_text = max_text
        self._max_sentences = max_sentences
        self.formats = writable_formats()
        self.in_progress = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await json_object(request)
        params = SpeechParams.parse(body, max_text=self._max_text, formats=self.formats)
        choice = self._choose(params, body.get("task_type"))
        parts = self._parts(params, choice)
        started = time.perf_counter()
        response = web.StreamResponse(headers={"Content-Type": self._content_type(params)})
        response.enable_chunked_encoding()
        outcome = "error"
        sent = 0
        self.in_progress += 1
        try:
            await response.prepare(request)
            # Closed at once on the way out, so that a client gone cancels its sentences now.
            async with contextlib.aclosing(self._encoded(params, parts)) as chunks:
                async for data in chunks:
                    if sent == 0:
                        self._metrics.first_audio_after(HTTP, time.perf_counter() - started)
                    await response.write(data)
                    sent += len(data)
            await response.write_eof()
            outcome = "ok"
        except (ConnectionError, asyncio.CancelledError):
            outcome = "cancelled"
            _LOGGER.info("HTTP: speech request cancelled by the client after %d bytes", sent)
            raise
        finally:
            self.in_progress -= 1
            self._metrics.request_done(HTTP, outcome)
        return response

    def _choose(self, params: SpeechParams, task_type: Any) -> VoiceChoice:
        try:
            choice = choose_voice(
                self._catalog(),
                params.voice,
                style=params.instructions,
                language=params.language,
                default_language=self._default_language,
                free_instructions=True,
            )
        except VoiceError as err:
            param = "instructions" if params.instructions and "style" in str(err) else "voice"
            raise ApiError(400 if param == "instructions" else 404, str(err), param) from None
        if task_type is not None and TASK_TYPES.get(task_type) != choice.voice.kind:
            raise ApiError(
                400,
                f"task_type '{task_type}' does not fit voice '{choice.voice.name}' "
                f"({choice.voice.kind}); leave task_type out",
                "task_type",
            )
        return choice

    def _parts(self, params: SpeechParams, choice: VoiceChoice) -> list[Part]:
        """What the input says; malformed SSML, or an SSML voice that does not exist, is a 400
        before any audio."""

        def resolve(name: str) -> VoiceChoice:
            return choose_voice(
                self._catalog(),
                name,
                language=params.language,
                default_language=self._default_language,
            )

        answer = self._speaking.answer(
            choice, ssml=params.ssml, resolve=resolve, speed=params.speed
        )
        try:
            return answer.feed(params.input) + answer.flush()
        except (SsmlError, VoiceError, ValueError) as err:
            raise ApiError(400, str(err), "input") from None

    def _content_type(self, params: SpeechParams) -> str:
        if params.stream_format == "sse":
            return "text/event-stream"
        return CONTENT_TYPES[params.response_format]

    async def _encoded(self, params: SpeechParams, parts: list[Part]) -> AsyncIterator[bytes]:
        if params.stream_format == "audio":
            async with contextlib.aclosing(self._audio(params, parts)) as chunks:
                async for data in chunks:
                    yield data
            return
        try:
            async with contextlib.aclosing(self._audio(params, parts)) as chunks:
                async for data in chunks:
                    audio = base64.b64encode(data).decode()
                    yield _sse(
                        {
                            "type": "speech.audio.delta",
                            "audio": audio,
                            "response_format": params.response_format,
                        }
                    )
        except Exception as err:  # noqa: BLE001 - told in the stream, as vLLM-Omni does
            _LOGGER.exception("HTTP: speaking failed mid-stream")
            error = {"message": str(err), "type": "server_error", "param": None, "code": 500}
            yield _sse({"type": "speech.audio.error", "error": error})
            return
        words = len(params.input.split())
        usage = {"input_tokens": words, "output_tokens": 0, "total_tokens": words}
        yield _sse({"type": "speech.audio.done", "usage": usage})

    async def _audio(self, params: SpeechParams, parts: list[Part]) -> AsyncIterator[bytes]:
        async with contextlib.aclosing(self.pcm(parts)) as pcm:
            if params.response_format in STREAMED_FORMATS:
                chunks = _with_wav_header(pcm) if params.response_format == "wav" else pcm
            else:
                chunks = _whole_file(pcm, params.response_format)
            async for data in chunks:
                yield data

    async def pcm(self, parts: list[Part]) -> AsyncIterator[bytes]:
        """The parts' audio, sentence after sentence as it is generated.

        At most ``max_sentences`` parts wait in the scheduler; a client that goes away cancels
        every one of them (the one speaking leaves the batch at the next frame).
        """
        group = object()
        jobs: list[Take] = []
        speaker = self._speaking.speaker
        try:
            for index in range(len(parts)):
                while len(jobs) < len(parts) and len(jobs) - index < self._max_sentences:
                    jobs.append(speaker.say(parts[len(jobs)], group=group))
                async for data in jobs[index].audio():
                    self._metrics.audio_sent(HTTP, len(data))
                    yield data
        except SynthesisCancelled:
            return
        finally:
            for job in jobs:
                job.cancel()



async def _with_wav_header(pcm: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    block = CHANNELS * SAMPLE_WIDTH
    fmt = struct.pack(
        "<IHHIIHH", 16, 1, CHANNELS, SAMPLE_RATE, SAMPLE_RATE * block, block, 8 * SAMPLE_WIDTH
    )
    unknown = struct.pack("<I", UNKNOWN_SIZE)
    yield b"RIFF" + unknown + b"WAVEfmt " + fmt + b"data" + unknown
    async for data in pcm:
        yield data


async def _whole_file(pcm: AsyncIterator[bytes], response_format: str) -> AsyncIterator[bytes]:
    samples = pcm16_to_float(b"".join([data async for data in pcm]))
    container, subtype = WHOLE_FORMATS[response_format]
    yield await asyncio.to_thread(_encode, samples, container, subtype)


def _encode(samples: np.ndarray, container: str, subtype: str) -> bytes:
    output = io.BytesIO()
    soundfile.write(output, samples, SAMPLE_RATE, format=container, subtype=subtype)
    return output.getvalue()


def _sse(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, separators=(",", ":"))
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


async def json_object(request: web.Request) -> Mapping[str, Any]:
    """The request's JSON body, which must be an object."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, f"the body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _string(body: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(400, f"'{key}' is required", key)
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"'{key}' must be a string, got {type(value).__name__}", key)
    return value
