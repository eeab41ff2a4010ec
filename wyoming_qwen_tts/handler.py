"""Wyoming events to and from the scheduler, one handler per connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
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

from . import __version__
from .audio import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from .scheduler import Job, Scheduler
from .synthesis import SynthesisRequest
from .text import SentenceStream, split_sentences
from .voices import Voice, VoiceCatalog, VoiceError, model_language

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


@dataclass(frozen=True)
class HandlerOptions:
    samples_per_chunk: int = 1024
    language: str | None = None
    """The server's default model language for voices that have none; None means Auto."""


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
    answer: _Answer
    voice: Voice | None = None
    language: str | None = None
    text: SentenceStream | None = None


class QwenTtsEventHandler(AsyncEventHandler):
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        info: Info,
        catalog: VoiceCatalog,
        scheduler: Scheduler,
        options: HandlerOptions,
    ) -> None:
        super().__init__(reader, writer)
        self._info_event = info.event()
        self._catalog = catalog
        self._scheduler = scheduler
        self._options = options
        self._write_lock = asyncio.Lock()
        self._answers: list[_Answer] = []
        self._stream: _Stream | None = None
        self._gone = False

    async def run(self) -> None:
        try:
            await super().run()
        except (ConnectionError, OSError) as err:
            _LOGGER.debug("Client went away: %s", err)

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self._write(self._info_event)
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
        answer = self._new_answer(streaming=False)
        try:
            voice, language = self._resolve(requested)
        except (VoiceError, ValueError) as err:
            answer.close(error=str(err))
            return
        for sentence in split_sentences(text):
            answer.add(self._submit(answer, sentence, voice, language))
        answer.close()

    # Streaming: a sentence is submitted as soon as it is complete in the incoming text.
    def _start_stream(self, requested: SynthesizeVoice | None) -> None:
        if self._stream is not None:  # a new stream replaces an unfinished one
            self._stream.answer.cancel_jobs()
            self._stream.answer.close(error="replaced by a new synthesize-start")
        stream = _Stream(answer=self._new_answer(streaming=True))
        self._stream = stream
        try:
            stream.voice, stream.language = self._resolve(requested)
        except (VoiceError, ValueError) as err:
            stream.answer.close(error=str(err))
            return
        stream.text = SentenceStream()

    def _feed_stream(self, text: str) -> None:
        stream = self._stream
        if stream is None or stream.text is None or stream.answer.closed:
            return
        self._submit_sentences(stream, stream.text.feed(text))

    def _stop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None or stream.text is None or stream.answer.closed:
            return
        self._submit_sentences(stream, stream.text.flush())
        stream.answer.close()

    def _submit_sentences(self, stream: _Stream, sentences: Iterable[str]) -> None:
        assert stream.voice is not None
        for sentence in sentences:
            stream.answer.add(self._submit(stream.answer, sentence, stream.voice, stream.language))

    def _submit(self, answer: _Answer, sentence: str, voice: Voice, language: str | None) -> Job:
        _LOGGER.debug("Submitting %r in voice %s (%s)", sentence, voice.name, language or "auto")
        request = SynthesisRequest(text=sentence, voice=voice, language=language)
        return self._scheduler.submit(request, group=answer)

    def _resolve(self, requested: SynthesizeVoice | None) -> tuple[Voice, str | None]:
        voice = self._catalog.resolve(requested.name if requested else None)
        language = model_language(requested.language) if requested and requested.language else None
        return voice, language or voice.language or self._options.language

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
        step = self._options.samples_per_chunk * SAMPLE_WIDTH * CHANNELS
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
