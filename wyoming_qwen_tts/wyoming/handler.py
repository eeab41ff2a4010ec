"""Wyoming events to and from the scheduler, one handler per connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker
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

from wyoming_qwen_tts import __version__
from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.engine.interface import SynthesisRequest
from wyoming_qwen_tts.scheduling.scheduler import Job, Scheduler
from wyoming_qwen_tts.text.languages import model_language
from wyoming_qwen_tts.text.spoken import SpokenSentences
from wyoming_qwen_tts.voices.voice import Voice, VoiceCatalog, VoiceError
from wyoming_qwen_tts.wyoming.events import EventLimits, ProtocolError, read_event

_LOGGER = logging.getLogger(__name__)

QWEN_ATTRIBUTION = Attribution(name="Qwen (Alibaba Cloud)", url="https://github.com/QwenLM/Qwen3-TTS")


def build_info(catalog: VoiceCatalog) -> Info:
    voices = [
        TtsVoice(
            name=voice.name,
            description=voice.description,
            attribution=QWEN_ATTRIBUTION,
            installed=True,
            version=__version__,
            languages=voice.language_codes,
            speakers=[TtsVoiceSpeaker(name=style.name) for style in voice.styles] or None,
        )
        for voice in catalog
    ]
    program = TtsProgram(
        name="qwen3-tts",
        description="Qwen3-TTS: premium, cloned and designed voices, streamed as they are generated",
        attribution=QWEN_ATTRIBUTION,
        installed=True,
        version=__version__,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


class VoiceOffer:
    """The voices every handler offers now: a catalog and its Info event, replaced as one when
    voices are added or removed while the server runs (on the event loop)."""

    def __init__(self, catalog: VoiceCatalog) -> None:
        self.update(catalog)

    def update(self, catalog: VoiceCatalog) -> None:
        self._current = (catalog, build_info(catalog).event())

    @property
    def catalog(self) -> VoiceCatalog:
        return self._current[0]

    @property
    def info_event(self) -> Event:
        return self._current[1]


@dataclass(frozen=True)
class HandlerOptions:
    samples_per_chunk: int = 1024
    language: str | None = None
    """The server's default model language for voices that have none; None means Auto."""
    max_text_chars: int = 10_000
    """Text in one request: one synthesize, or all the chunks of one stream."""
    max_sentences: int = 200
    """Sentences one request may have queued or speaking at once."""
    idle_timeout: float | None = 120.0
    """Seconds without an event, while no answer is being written, before disconnecting."""
    finish_at_eof: bool = False
    """At the end of input, write the answers under way before closing (stdio)."""
    event_limits: EventLimits = field(default_factory=EventLimits)


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
    """One answer on a connection: its jobs in order, and the task that writes their audio."""

    def __init__(self, streaming: bool) -> None:
        self.streaming = streaming
        self.jobs: asyncio.Queue[Job | None] = asyncio.Queue()
        self.submitted: list[Job] = []
        self.task: asyncio.Task[None] | None = None
        self.error: str | None = None
        self.closed = False
        """No more jobs are accepted: all were submitted, or the answer failed."""
        self.text_chars = 0
        self.written = 0
        """Sentences whose audio has been written."""

    @property
    def outstanding(self) -> int:
        return len(self.submitted) - self.written

    def add(self, job: Job) -> None:
        self.submitted.append(job)
        self.jobs.put_nowait(job)

    def close(self, error: str | None = None) -> None:
        if not self.closed:
            self.closed = True
            self.error = error
            self.jobs.put_nowait(None)

    def cancel_jobs(self) -> None:
        for job in self.submitted:
            job.cancel()


@dataclass
class _Stream:
    """One request: a synthesize (fed whole) or a synthesize-start ... -stop stream."""

    answer: _Answer
    text: SpokenSentences
    voice: Voice | None = None
    """None when the request named a voice or style that does not exist (the answer failed)."""
    language: str | None = None
    instruct: str | None = None


class QwenTtsEventHandler(AsyncEventHandler):
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        voices: VoiceOffer,
        scheduler: Scheduler,
        options: HandlerOptions,
        connections: ConnectionLimiter,
    ) -> None:
        super().__init__(reader, writer)
        self._connections = connections
        self._voices = voices
        self._scheduler = scheduler
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
            while (event := await read_event(self.reader, self.options.event_limits)) is not None:
                self._last_activity = asyncio.get_running_loop().time()
                try:
                    keep_going = await self.handle_event(event)
                except (KeyError, TypeError, ValueError, AttributeError) as err:
                    raise ProtocolError(f"malformed {event.type} event: {err!r}") from err
                if not keep_going:
                    break
            else:
                if self.options.finish_at_eof:
                    await self.finish()
        except ProtocolError as err:
            _LOGGER.warning("Closing a connection: %s", err)
            await self._write(Error(text=f"protocol error: {err}", code="bad-event").event())
        except (ConnectionError, OSError) as err:
            _LOGGER.debug("Client went away: %s", err)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            self._connections.release()
            await self.disconnect()
            self.writer.close()

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
        if Describe.is_type(event.type):
            await self._write(self._voices.info_event)
        elif Ping.is_type(event.type):
            await self._write(Pong(text=Ping.from_event(event).text).event())
        elif SynthesizeStart.is_type(event.type):
            self._start_stream(SynthesizeStart.from_event(event).voice)
        elif SynthesizeChunk.is_type(event.type):
            self._feed_stream(SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(event.type):
            self._stop_stream()
        elif Synthesize.is_type(event.type):
            # Inside a stream, Home Assistant repeats the whole text for older servers: ignore it.
            if self._stream is None:
                synthesize = Synthesize.from_event(event)
                self._speak_once(synthesize.text, synthesize.voice)
        else:
            _LOGGER.debug("Ignoring event type %s", event.type)
        return True

    async def disconnect(self) -> None:
        for answer in list(self._answers):
            answer.cancel_jobs()
            if answer.task is not None:
                answer.task.cancel()

    async def finish(self) -> None:
        """Waits until every answer accepted so far has been written."""
        for answer in list(self._answers):
            if answer.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await answer.task

    # One-shot synthesize: one audio-start, the audio of every sentence, one audio-stop.
    def _speak_once(self, text: str, requested: SynthesizeVoice | None) -> None:
        stream = self._open(requested, streaming=False)
        self._feed(stream, text)
        self._finish(stream)

    # Streaming: a sentence is submitted as soon as it is complete in the incoming text.
    def _start_stream(self, requested: SynthesizeVoice | None) -> None:
        if self._stream is not None:  # a new stream replaces an unfinished one
            self._stream.answer.cancel_jobs()
            self._stream.answer.close(error="replaced by a new synthesize-start")
        self._stream = self._open(requested, streaming=True)

    def _feed_stream(self, text: str) -> None:
        if self._stream is not None:
            self._feed(self._stream, text)

    def _stop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._finish(stream)

    def _open(self, requested: SynthesizeVoice | None, streaming: bool) -> _Stream:
        answer = self._new_answer(streaming)
        try:
            voice, language, instruct = self._resolve(requested)
        except (VoiceError, ValueError) as err:
            answer.close(error=str(err))
            return _Stream(answer, SpokenSentences(None))
        return _Stream(answer, SpokenSentences(language), voice, language, instruct)

    def _feed(self, stream: _Stream, text: str) -> None:
        answer = stream.answer
        if answer.closed:
            return
        text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON escapes
        answer.text_chars += len(text)
        limit = self.options.max_text_chars
        if answer.text_chars > limit:
            self._reject(answer, f"text is over {limit} characters (the server's limit)")
            return
        self._submit_sentences(stream, stream.text.feed(text))

    def _finish(self, stream: _Stream) -> None:
        if not stream.answer.closed:
            self._submit_sentences(stream, stream.text.flush())
            stream.answer.close()

    def _submit_sentences(self, stream: _Stream, sentences: Iterable[str]) -> None:
        answer = stream.answer
        assert stream.voice is not None
        for sentence in sentences:
            if answer.outstanding >= self.options.max_sentences:
                limit = self.options.max_sentences
                self._reject(answer, f"more than {limit} sentences are waiting (the server's limit)")
                return
            answer.add(self._submit(answer, sentence, stream))

    def _reject(self, answer: _Answer, message: str) -> None:
        answer.cancel_jobs()
        answer.close(error=message)

    def _submit(self, answer: _Answer, sentence: str, stream: _Stream) -> Job:
        assert stream.voice is not None
        _LOGGER.debug(
            "Submitting %r in voice %s (%s)",
            sentence,
            stream.voice.name,
            stream.language or "auto",
        )
        request = SynthesisRequest(
            text=sentence, voice=stream.voice, language=stream.language, instruct=stream.instruct
        )
        return self._scheduler.submit(request, group=answer)

    def _resolve(
        self, requested: SynthesizeVoice | None
    ) -> tuple[Voice, str | None, str | None]:
        """The voice, the model language and the style's instruction of a request."""
        voice = self._voices.catalog.resolve(requested.name if requested else None)
        instruct = voice.instruct_for(requested.speaker if requested else None)
        language = model_language(requested.language) if requested and requested.language else None
        return voice, language or voice.language or self.options.language, instruct

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
        try:
            while (job := await answer.jobs.get()) is not None:
                async for pcm in job.audio():
                    if not started:
                        await self._write(self._audio_start())
                        started = True
                    await self._write_audio(pcm, samples)
                    samples += len(pcm) // (SAMPLE_WIDTH * CHANNELS)
                answer.written += 1
        except Exception as err:  # noqa: BLE001 - reported to the client; the connection lives on
            answer.cancel_jobs()
            answer.close(error=f"synthesis failed: {err}")
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


def _ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE
