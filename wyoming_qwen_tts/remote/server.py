"""One remote speech API (vLLM-Omni, or another server of ours): its voices, its health, and
sentences streamed from it.

Connecting may take ``CONNECT_TIMEOUT_S``. After that the remote may stay silent for at most
``timeout`` seconds: before a sentence's first audio (its prompt is being processed) and between
two pieces of it (a stalled stream). Leaving a stream early closes the connection, which is how
vLLM-Omni and our server learn that the client went away: both stop generating.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp

from wyoming_qwen_tts.engine.interface import SynthesisRequest
from wyoming_qwen_tts.remote.wire import (
    PcmStream,
    SseAudio,
    WireError,
    error_message,
    parse_model,
    parse_voices,
    speech_body,
)
from wyoming_qwen_tts.voices.voice import Voice

_LOGGER = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0
READ_BYTES = 16 * 1024
UPLOAD_CONSENT = "the voice's owner recorded it for this household"
"""vLLM-Omni's upload asks for a consent statement; our server ignores it."""


class RemoteError(Exception):
    """A remote refused or failed a request; the message says which and why."""

    retryable = False
    """Whether another remote may succeed where this one failed (before any audio)."""


class RemoteUnavailable(RemoteError):
    """A remote could not be reached, timed out or broke off: it is taken out for a while."""

    retryable = True


class RemoteServer:
    def __init__(self, url: str, *, token: str | None, timeout: float) -> None:
        """``url``: the API's base URL, such as ``http://gpu-box:8091/v1``."""
        self.url = url
        self.name = urlsplit(url).netloc
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self.up = False
        self.was_up = False
        self.failures = 0
        """Checks or requests failed in a row."""
        self.wake = asyncio.Event()
        """Set to check the remote now (a request failed)."""
        self.outstanding = 0
        """Sentences sent and not yet finished."""
        self.voices: dict[str, Voice] = {}
        """By lower-cased name."""
        self.model = "unknown model"
        self.accepts_uploads = False
        self.uploaded: dict[str, tuple[int, int]] = {}
        """Cloned voices of ours this remote has been given: name -> (size, mtime) of the clip."""

    def mark_up(self) -> None:
        self.up = self.was_up = True
        self.failures = 0

    def mark_down(self) -> None:
        self.up = False
        self.failures += 1

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=self._timeout
            )
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                timeout=timeout, connector=connector, headers=self._headers
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def check(self) -> None:
        """Reads the remote's model and voices (its health check). Raises RemoteError."""
        model = parse_model(await self._get_json("/models"))
        listed = parse_voices(await self._get_json("/audio/voices"), where=self.name)
        self.model = model
        self.voices = {voice.name.lower(): voice for voice in listed.voices}
        self.accepts_uploads = listed.accepts_uploads
        self.uploaded = {k: v for k, v in self.uploaded.items() if k in self.voices}

    async def _get_json(self, path: str) -> object:
        try:
            async with self._client().get(self.url + path) as response:
                body = await response.read()
                if response.status != 200:
                    raise _refused(response.status, body, path)
                return await response.json(content_type=None)
        except WireError as err:
            raise RemoteUnavailable(f"{path}: {err}") from None
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise RemoteUnavailable(_described(err)) from None

    async def upload(self, name: str, clip: Path, transcript: str) -> None:
        """Gives the remote one of our cloned voices (``POST /audio/voices``, once)."""
        form = aiohttp.FormData()
        form.add_field("name", name)
        form.add_field("consent", UPLOAD_CONSENT)
        form.add_field("ref_text", transcript)
        form.add_field(
            "audio_sample", clip.read_bytes(), filename=clip.name, content_type="audio/wav"
        )
        try:
            async with self._client().post(self.url + "/audio/voices", data=form) as response:
                body = await response.read()
                if response.status not in (200, 201):
                    raise _refused(response.status, body, "/audio/voices")
        except (aiohttp.ClientError, TimeoutError) as err:
            raise RemoteUnavailable(_described(err)) from None

    async def remove(self, name: str) -> None:
        """Removes a voice we gave the remote (before giving it a changed clip)."""
        try:
            async with self._client().delete(f"{self.url}/audio/voices/{quote(name, safe='')}") as response:
                body = await response.read()
                if response.status not in (200, 204, 404):
                    raise _refused(response.status, body, "/audio/voices")
        except (aiohttp.ClientError, TimeoutError) as err:
            raise RemoteUnavailable(_described(err)) from None

    async def speak(self, request: SynthesisRequest) -> AsyncIterator[bytes]:
        """One sentence's PCM as the remote streams it. Raises RemoteError; leaving early (or
        being cancelled) closes the request."""
        try:
            async with self._client().post(
                self.url + "/audio/speech", json=speech_body(request)
            ) as response:
                if response.status != 200:
                    raise _refused(response.status, await response.read(), "/audio/speech")
                sse = response.content_type == "text/event-stream"
                stream: SseAudio | PcmStream = SseAudio() if sse else PcmStream()
                async for data in response.content.iter_any():
                    if pcm := stream.feed(data):
                        yield pcm
                stream.end()
        except WireError as err:
            raise RemoteError(f"{self.name}: {err}") from None
        except (aiohttp.ClientError, TimeoutError) as err:
            raise RemoteUnavailable(f"{self.name}: {_described(err)}") from None


def _refused(status: int, body: bytes, path: str) -> RemoteError:
    message = error_message(status, body)
    if status == 401:
        message += " (set --remote-token to the remote's API key)"
    error: RemoteError
    if status >= 500:
        error = RemoteUnavailable(f"{path} answered {status}: {message}")
    else:
        error = RemoteError(f"{path} answered {status}: {message}")
    return error


def _described(err: BaseException) -> str:
    if isinstance(err, TimeoutError | asyncio.TimeoutError):
        return "no answer in time"
    return str(err) or type(err).__name__
