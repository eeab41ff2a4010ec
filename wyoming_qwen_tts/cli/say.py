"""``wyoming-qwen-tts say``: speak a text in one voice into a WAV file or to stdout, streaming.

It loads only the model the voice needs (the Base model for a cloned voice, else the CustomVoice
model), or, with ``--remote-url``, asks the remotes, plans the text as the server does
(sentences, the lexicon, the normalizer, sentence silence), and writes the audio of each frame
chunk as soon as it is produced, shaped by the voice's speed and loudness.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import BinaryIO

from wyoming_qwen_tts.app.calibration import PremiumLoudness
from wyoming_qwen_tts.app.compose import one_voice
from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.audio.wav_stream import StreamingWavWriter
from wyoming_qwen_tts.engine.interface import (
    AudioSink,
    ModelLoadError,
    SynthesisCancelled,
    SynthesisRequest,
)
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.speech.plan import AnswerText, DeliveryDefaults, Silence
from wyoming_qwen_tts.speech.shaping import Shaper
from wyoming_qwen_tts.text.pronunciation import Lexicon, LexiconError, load_lexicon
from wyoming_qwen_tts.voices.voice import Voice, VoiceCatalog, VoiceChoice, VoiceError, VoiceKind

_LOGGER = logging.getLogger(__name__)


class SayError(Exception):
    """``say`` cannot speak; the message says why and what to do."""


class _WavSink:
    """The engine's sink: PCM, shaped by the utterance's delivery, into the WAV stream; a closed
    pipe cancels the rest."""

    def __init__(self, wav: StreamingWavWriter) -> None:
        self._wav = wav
        self.shaper = Shaper()
        self.closed = False

    def write(self, pcm: bytes) -> None:
        self.write_shaped(self.shaper.process(pcm))

    def write_shaped(self, pcm: bytes) -> None:
        if self.closed or not pcm:
            return
        try:
            self._wav.write(pcm)
        except (BrokenPipeError, ValueError):  # the reader went away
            self.closed = True

    @property
    def cancelled(self) -> bool:
        return self.closed


def say(
    settings: Settings,
    text: str,
    output: BinaryIO,
    *,
    style: str | None = None,
) -> float:
    """Speaks ``text`` in ``settings.voice`` (a premium or cloned voice; default: the first
    premium voice) into ``output`` as a WAV; returns the seconds of audio written.

    ``settings.language`` (when not Auto) wins over the voice's own language.
    """
    if settings.remote_urls:
        return asyncio.run(_say_remotely(settings, text, output, style))
    try:
        engine, chosen = one_voice(settings)
    except (VoiceError, ModelLoadError) as err:
        raise SayError(str(err)) from err
    defaults = DeliveryDefaults.from_settings(settings)
    if isinstance(settings.loudness_target, float) and chosen.kind is VoiceKind.PREMIUM:
        loudness = PremiumLoudness(settings.loudness_cache_dir)
        loudness.measure(engine, [chosen])
        defaults = DeliveryDefaults.from_settings(settings, loudness)

    async def speak(request: SynthesisRequest, sink: AudioSink) -> None:
        engine.synthesize(request, sink)

    return asyncio.run(_speak(settings, text, output, chosen, style, defaults, speak))


async def _say_remotely(settings: Settings, text: str, output: BinaryIO, style: str | None) -> float:
    """``say`` through the remotes: the voice is theirs, the plan and the shaping ours."""
    from wyoming_qwen_tts.remote.pool import RemotePool
    from wyoming_qwen_tts.remote.server import RemoteError, RemoteServer

    servers = [
        RemoteServer(url, token=settings.remote_token, timeout=settings.remote_timeout)
        for url in settings.remote_urls
    ]
    remote = RemotePool(servers, max_requests=1)
    await remote.start(wait=settings.remote_timeout)
    try:
        if not remote.voices:
            raise SayError(f"no remote answered: {', '.join(settings.remote_urls)}; see the log")
        try:
            chosen = VoiceCatalog(remote.voices).resolve(settings.voice)
        except VoiceError as err:
            raise SayError(str(err)) from err

        async def speak(request: SynthesisRequest, sink: AudioSink) -> None:
            try:
                async for pcm in remote.submit(request, group=0).audio():
                    sink.write(pcm)
            except RemoteError as err:
                raise SayError(str(err)) from err

        defaults = DeliveryDefaults.from_settings(settings)
        return await _speak(settings, text, output, chosen, style, defaults, speak)
    finally:
        await remote.close()


async def _speak(
    settings: Settings,
    text: str,
    output: BinaryIO,
    chosen: Voice,
    style: str | None,
    defaults: DeliveryDefaults,
    speak: Callable[[SynthesisRequest, AudioSink], Awaitable[None]],
) -> float:
    try:
        instruct = chosen.instruct_for(style)
    except VoiceError as err:
        raise SayError(str(err)) from err
    plan = AnswerText(
        VoiceChoice(chosen, settings.language or chosen.language, instruct),
        defaults=defaults,
        lexicon=_lexicon(settings),
    )
    wav = StreamingWavWriter(output, SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH)
    sink = _WavSink(wav)
    started = time.monotonic()
    for part in plan.feed(text) + plan.flush():
        if sink.closed:
            break
        if isinstance(part, Silence):
            sink.write_shaped(part.pcm)
            continue
        _LOGGER.debug("Speaking %r", part.request.text)
        sink.shaper = Shaper(part.speed, part.gain_db)
        try:
            await speak(part.request, sink)
        except SynthesisCancelled:
            break
        sink.write_shaped(sink.shaper.flush())
    if sink.closed:
        raise SayError("the output was closed before the speech ended")
    wav.close()
    seconds = wav.data_bytes / (SAMPLE_WIDTH * CHANNELS * SAMPLE_RATE)
    _LOGGER.info(
        "Spoke %.2f s of audio as %s in %.2f s", seconds, chosen.name, time.monotonic() - started
    )
    return seconds



def _lexicon(settings: Settings) -> Lexicon:
    path = settings.lexicon_path
    if path is None or (settings.lexicon is None and not path.is_file()):
        return Lexicon()
    try:
        return load_lexicon(path)
    except LexiconError as err:
        raise SayError(str(err)) from err
