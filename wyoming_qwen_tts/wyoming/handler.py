"""Wyoming events to and from the scheduler, one handler per connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.scheduling.metrics import WYOMING, SpeechMetrics
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.speech.plan import AnswerText, Part, Silence
from wyoming_qwen_tts.speech.speaker import Speaking, Take
from wyoming_qwen_tts.text.languages import model_language
from wyoming_qwen_tts.text.ssml import SsmlError
from wyoming_qwen_tts.voices.voice import VoiceChoice, VoiceError, choose_voice
from wyoming_qwen_tts.wyoming.events import EventLimits, ProtocolError, Skipped, read_event
from wyoming_qwen_tts.wyoming.info import VoiceOffer

_LOGGER = logging.getLogger(__name__)

@dataclass(frozen=True)
class HandlerOptions:
    """What a connection's handler takes from the settings, and how the connection ends."""

    samples_per_chunk: int
    language: str | None
    """The server's default model language for voices that have none; None means Auto."""
    max_text_chars: int
    """Text in one synthesize. A stream has no total limit: backpressure bounds it."""
    max_sentences: int
    """Sentences one answer may have queued or speaking at once; with that many waiting, the
    handler stops reading the connection until one has been spoken (TCP holds the client)."""
    idle_timeout: float | None
    """Seconds without an event, while no answer is being written, before disconnecting."""
    event_limits: EventLimits
    finish_at_eof: bool
    """At the end of input, write the answers under way before closing (stdio)."""

    @classmethod
    def from_settings(cls, settings: Settings, *, stdio: bool = False) -> HandlerOptions:
        """Over stdio there is one connection, which never idles out and ends with its input."""
        return cls(
            samples_per_chunk=settings.samples_per_chunk,
            language=settings.language,
            max_text_chars=settings.max_text_chars,
            max_sentences=settings.max_sentences,
            idle_timeout=None if stdio else settings.idle_timeout,
            event_limits=EventLimits(max_data_bytes=settings.max_event_bytes),
            finish_at_eof=stdio,
        )


class ConnectionLimiter:
    """Counts open connections against a maximum (shared by all handlers of a server)."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.open = 0

    def acquire(self) -> bool:
        if self.open >= self.maximum:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1


class _Answer:
    """One answer on a connection: its takes in order, and the task that writes their audio."""

    def __init__(self, streaming: bool) -> None:
        self.streaming = streaming
        self.jobs: asyncio.Queue[Take | None] = asyncio.Queue()
        self.pending: deque[Take] = deque()
        """Submitted jobs whose audio is not written yet, in order (bounded: backpressure)."""
        self._progress = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.error: str | None = None
        self.closed = False
        """No more jobs are accepted: all were submitted, or the answer failed."""
        self.text_chars = 0

    @property
    def outstanding(self) -> int:
        return len(self.pending)

    def add(self, job: Take) -> None:
        self.pending.append(job)
        self.jobs.put_nowait(job)

    def spoken(self) -> None:
        """The oldest job's audio has been written."""
        self.pending.popleft()
        self._progress.set()

    async def room(self, limit: int) -> None:
        """Returns once fewer than ``limit`` jobs are outstanding, or the answer is closed."""
        while not self.closed and self.outstanding >= limit:
            self._progress.clear()
            await self._progress.wait()

    def close(self, error: str | None = None) -> None:
        """No more jobs; ``error``, even after the last job was submitted, fails the answer."""
        if error is not None and self.error is None:
            self.error = error
        if not self.closed:
            self.closed = True
            self.jobs.put_nowait(None)
        self._progress.set()

    def cancel_jobs(self) -> None:
        for job in self.pending:
            job.cancel()


@dataclass
class _Stream:
    """One request: a synthesize (fed whole) or a synthesize-start ... -stop stream."""

    answer: _Answer
    text: AnswerText | None = None
    """None when the request named a voice or style that does not exist (the answer failed)."""


class QwenTtsEventHandler(AsyncEventHandler):
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        voices: VoiceOffer,
        speaking: Speaking,
        options: HandlerOptions,
        connections: ConnectionLimiter,
        metrics: SpeechMetrics | None = None,
    ) -> None:
        super().__init__(reader, writer)
        self._metrics = metrics
        self._connections = connections
        self._voices = voices
        self._speaking = speaking
        self.options = options
        self._write_lock = asyncio.Lock()
        self._answers: list[_Answer] = []
        self._stream: _Stream | None = None
        self._gone = False
        self._last_activity = 0.0

    async def run(self) -> None:
        """Reads events until the client leaves, breaks the protocol, or idles out."""
        if not self._connections.acquire():
            limit = self._connections.maximum
            _LOGGER.warning("Refusing a connection: %d are open already", limit)
            message = f"server busy: {limit} connections are open; try again later"
            await self._write(Error(text=message, code="busy").event())
            self.writer.close()
            return
        self._last_activity = asyncio.get_running_loop().time()
        watchdog = None
        if self.options.idle_timeout is not None:
            watchdog = asyncio.create_task(self._close_when_idle(self.options.idle_timeout))
        try:
            limits = self.options.event_limits
            while (event := await read_event(self.reader, limits, self._skip)) is not None:
                self._last_activity = asyncio.get_running_loop().time()
                if isinstance(event, Skipped):
                    _LOGGER.debug("Skipped a %s of %d bytes", event.type, event.skipped_bytes)
                    continue
                if not await self.handle_event(event):
                    break
            else:
                if self.options.finish_at_eof:
                    await self.finish()
        except ProtocolError as err:
            _LOGGER.warning("Closing a connection: %s", err)
            await self._write(Error(text=f"protocol error: {err}", code="bad-event").event())
        except (ConnectionError, OSError) as err:
            _LOGGER.debug("Client went away: %s", err)
        except Exception as err:  # noqa: BLE001 - a bug of ours: logged, told, this connection ends
            _LOGGER.exception("Internal error while serving a connection")
            message = f"internal error in the server: {err!r}; see its log"
            await self._write(Error(text=message, code="internal-error").event())
        finally:
            if watchdog is not None:
                watchdog.cancel()
            self._connections.release()
            await self.disconnect()
            self.writer.close()

    def _skip(self, event_type: str) -> bool:
        """Inside a stream, Home Assistant repeats the whole text in a ``synthesize`` for older
        servers: it is read past unbuffered, whatever its size."""
        return self._stream is not None and Synthesize.is_type(event_type)

    def _busy(self) -> bool:
        return any(answer.task is not None and not answer.task.done() for answer in self._answers)

    async def _close_when_idle(self, timeout: float) -> None:
        """Closes the connection after ``timeout`` s without events while nothing is written."""
        loop = asyncio.get_running_loop()
        while True:
            if self._busy():
                self._last_activity = loop.time()
            idle = loop.time() - self._last_activity
            if idle >= timeout:
                _LOGGER.info("Closing a connection idle for %.0f s", idle)
                self.writer.close()
                return
            await asyncio.sleep(min(timeout - idle, 1.0))

    async def handle_event(self, event: Event) -> bool:
        message = _parse(event)
        if isinstance(message, Describe):
            await self._write(self._voices.info_event)
        elif isinstance(message, Ping):
            await self._write(Pong(text=message.text).event())
        elif isinstance(message, SynthesizeStart):
            self._start_stream(message.voice, _is_ssml(message.text_format))
        elif isinstance(message, SynthesizeChunk):
            await self._feed_stream(message.text)
        elif isinstance(message, SynthesizeStop):
            await self._stop_stream()
        elif isinstance(message, Synthesize):
            # Inside a stream, Home Assistant repeats the whole text for older servers: ignore it.
            if self._stream is None:
                await self._speak_once(message.text, message.voice, _is_ssml(message.text_format))
        else:
            _LOGGER.debug("Ignoring event type %s", event.type)
        return True

    async def disconnect(self) -> None:
        for answer in list(self._answers):
            answer.cancel_jobs()
            answer.close(error="the connection ended")
            if answer.task is not None:
                answer.task.cancel()

    async def finish(self) -> None:
        """Waits until every answer accepted so far has been written."""
        for answer in list(self._answers):
            if answer.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await answer.task

    # One-shot synthesize: one audio-start, the audio of every sentence, one audio-stop.
    async def _speak_once(self, text: str, requested: SynthesizeVoice | None, ssml: bool) -> None:
        stream = self._open(requested, streaming=False, ssml=ssml)
        await self._feed(stream, text)
        await self._finish(stream)

    # Streaming: a sentence is submitted as soon as it is complete in the incoming text.
    def _start_stream(self, requested: SynthesizeVoice | None, ssml: bool) -> None:
        if self._stream is not None:  # a new stream replaces an unfinished one
            self._stream.answer.cancel_jobs()
            self._stream.answer.close(error="replaced by a new synthesize-start")
        self._stream = self._open(requested, streaming=True, ssml=ssml)

    async def _feed_stream(self, text: str) -> None:
        if self._stream is not None:
            await self._feed(self._stream, text)

    async def _stop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await self._finish(stream)

    def _open(self, requested: SynthesizeVoice | None, streaming: bool, ssml: bool) -> _Stream:
        answer = self._new_answer(streaming)
        try:
            choice = self._resolve(requested)
        except (VoiceError, ValueError) as err:
            answer.close(error=str(err))
            return _Stream(answer)
        text = self._speaking.answer(choice, ssml=ssml, resolve=self._resolve_name(requested))
        return _Stream(answer, text)

    async def _feed(self, stream: _Stream, text: str) -> None:
        answer = stream.answer
        if answer.closed:
            return
        text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON escapes
        answer.text_chars += len(text)
        limit = self.options.max_text_chars
        if not answer.streaming and answer.text_chars > limit:
            self._reject(answer, f"text is over {limit} characters (the server's limit)")
            return
        await self._submit_parts(stream, lambda text_of: text_of.feed(text))

    async def _finish(self, stream: _Stream) -> None:
        if not stream.answer.closed:
            await self._submit_parts(stream, AnswerText.flush)
            stream.answer.close()

    async def _submit_parts(
        self, stream: _Stream, parts_of: Callable[[AnswerText], list[Part]]
    ) -> None:
        """Submits each part once the answer has room: until then nothing more is read from
        this connection (backpressure), so what waits stays bounded. Malformed SSML, or an
        SSML voice that does not exist, fails the answer."""
        answer = stream.answer
        assert stream.text is not None
        try:
            parts = parts_of(stream.text)
        except (SsmlError, VoiceError, ValueError) as err:
            self._reject(answer, str(err))
            return
        for part in parts:
            await answer.room(self.options.max_sentences)
            if answer.closed:
                return
            answer.add(self._submit(answer, part))

    def _reject(self, answer: _Answer, message: str) -> None:
        answer.cancel_jobs()
        answer.close(error=message)

    def _submit(self, answer: _Answer, part: Part) -> Take:
        if isinstance(part, Silence):
            _LOGGER.debug("Submitting %.3f s of silence", part.seconds)
        else:
            request = part.request
            _LOGGER.debug(
                "Submitting %r in voice %s (%s)",
                request.text,
                request.voice.name,
                request.language or "auto",
            )
        return self._speaking.speaker.say(part, group=answer)

    def _resolve(self, requested: SynthesizeVoice | None) -> VoiceChoice:
        """The voice, the model language and the style's instruction of a request."""
        language = requested.language if requested else None
        return choose_voice(
            self._voices.catalog,
            requested.name if requested else None,
            style=requested.speaker if requested else None,
            language=model_language(language) if language else None,
            default_language=self.options.language,
        )

    def _resolve_name(self, requested: SynthesizeVoice | None) -> Callable[[str], VoiceChoice]:
        """How an SSML ``voice name`` is found: as if the request had named it, in the
        request's language."""
        language = requested.language if requested else None

        def resolve(name: str) -> VoiceChoice:
            return choose_voice(
                self._voices.catalog,
                name,
                language=model_language(language) if language else None,
                default_language=self.options.language,
            )

        return resolve

    def _new_answer(self, streaming: bool) -> _Answer:
        answer = _Answer(streaming)
        previous = self._answers[-1].task if self._answers else None
        self._answers.append(answer)
        answer.task = asyncio.create_task(self._write_answer(answer, previous))
        answer.task.add_done_callback(lambda _task: self._answers.remove(answer))
        return answer

    async def _write_answer(self, answer: _Answer, previous: asyncio.Task[None] | None) -> None:
        """Writes one answer after the previous one on this connection has been written."""
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await previous
        samples = 0
        started = False
        asked = time.perf_counter()
        try:
            while (job := await answer.jobs.get()) is not None:
                async for pcm in job.audio():
                    if not started:
                        await self._write(self._audio_start())
                        started = True
                        if self._metrics is not None:
                            self._metrics.first_audio_after(WYOMING, time.perf_counter() - asked)
                    await self._write_audio(pcm, samples)
                    samples += len(pcm) // (SAMPLE_WIDTH * CHANNELS)
                answer.spoken()
        except Exception as err:  # noqa: BLE001 - reported to the client; the connection lives on
            answer.cancel_jobs()
            answer.close(error=f"synthesis failed: {err}")
        if self._metrics is not None:
            outcome = "cancelled" if self._gone else "error" if answer.error else "ok"
            self._metrics.request_done(WYOMING, outcome)
            self._metrics.audio_sent(WYOMING, samples * SAMPLE_WIDTH * CHANNELS)
        if answer.error is None:
            if not started:
                await self._write(self._audio_start())
            await self._write(AudioStop(timestamp=_ms(samples)).event())
        else:
            _LOGGER.warning("Answering with an error: %s", answer.error)
            if started:
                await self._write(AudioStop(timestamp=_ms(samples)).event())
            await self._write(Error(text=answer.error, code="tts-failed").event())
        if answer.streaming:
            await self._write(SynthesizeStopped().event())

    async def _write_audio(self, pcm: bytes, samples_before: int) -> None:
        step = self.options.samples_per_chunk * SAMPLE_WIDTH * CHANNELS
        for start in range(0, len(pcm), step):
            await self._write(
                AudioChunk(
                    rate=SAMPLE_RATE,
                    width=SAMPLE_WIDTH,
                    channels=CHANNELS,
                    audio=pcm[start : start + step],
                    timestamp=_ms(samples_before + start // (SAMPLE_WIDTH * CHANNELS)),
                ).event()
            )

    def _audio_start(self) -> Event:
        return AudioStart(rate=SAMPLE_RATE, width=SAMPLE_WIDTH, channels=CHANNELS).event()

    async def _write(self, event: Event) -> None:
        """Writes one event; once the client is gone, drops everything and cancels its work."""
        if self._gone:
            return
        try:
            async with self._write_lock:
                await self.write_event(event)
        except (ConnectionError, OSError) as err:
            _LOGGER.debug("Client went away while writing: %s", err)
            self._gone = True
            for answer in self._answers:
                answer.cancel_jobs()


_MESSAGES = (Describe, Ping, SynthesizeStart, SynthesizeChunk, SynthesizeStop, Synthesize)


def _parse(event: Event) -> object | None:
    """The event as its wyoming message class, or None for a type this server ignores.

    Only what reading the event's fields raises is a protocol error: everything after it is
    the server's own code, whose errors are not the client's fault.
    """
    for message in _MESSAGES:
        if message.is_type(event.type):
            try:
                parsed = message.from_event(event)
                _check_fields(parsed)
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise ProtocolError(f"malformed {event.type} event: {err!r}") from err
            return parsed
    return None


def _check_fields(message: object) -> None:
    """wyoming's ``from_event`` takes any JSON value: text must be a string, a voice a voice."""
    text = getattr(message, "text", None)
    if text is not None and not isinstance(text, str):
        raise TypeError(f"'text' must be a string, got {type(text).__name__}")
    voice = getattr(message, "voice", None)
    if voice is not None:
        if not isinstance(voice, SynthesizeVoice):
            raise TypeError("'voice' must be an object")
        for key in ("name", "speaker", "language"):
            value = getattr(voice, key)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"'voice.{key}' must be a string, got {type(value).__name__}")


def _is_ssml(text_format: object) -> bool:
    """Whether a request's ``text_format`` (a ``SynthesizeTextFormat``, a string, or None) is
    SSML; any other value is plain text."""
    value = getattr(text_format, "value", text_format)
    return isinstance(value, str) and value.lower() == "ssml"


def _ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE
