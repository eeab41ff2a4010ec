"""``wyoming-qwen-tts say``: speak a text in one voice into a WAV file or to stdout, streaming.

It loads only the model the voice needs (the Base model for a cloned voice, else the CustomVoice
model), cuts the text into sentences, normalizes each for speech, and writes the audio of each
frame chunk as soon as the engine produces it, like the server does.
"""

from __future__ import annotations

import logging
import time
from typing import BinaryIO

from wyoming_qwen_tts.app.compose import one_voice
from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.audio.wav_stream import StreamingWavWriter
from wyoming_qwen_tts.engine.interface import ModelLoadError, SynthesisCancelled, SynthesisRequest
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.text.spoken import spoken_sentences
from wyoming_qwen_tts.voices.voice import VoiceError

_LOGGER = logging.getLogger(__name__)


class SayError(Exception):
    """``say`` cannot speak; the message says why and what to do."""


class _WavSink:
    """The engine's sink: PCM into the WAV stream; a closed pipe cancels the rest."""

    def __init__(self, wav: StreamingWavWriter) -> None:
        self._wav = wav
        self.closed = False

    def write(self, pcm: bytes) -> None:
        if self.closed:
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
    try:
        engine, chosen = one_voice(settings)
        instruct = chosen.instruct_for(style)
    except (VoiceError, ModelLoadError) as err:
        raise SayError(str(err)) from err
    language = settings.language or chosen.language

    wav = StreamingWavWriter(output, SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH)
    sink = _WavSink(wav)
    started = time.monotonic()
    for sentence in spoken_sentences(text, language):
        if sink.closed:
            break
        _LOGGER.debug("Speaking %r", sentence)
        request = SynthesisRequest(sentence, chosen, language=language, instruct=instruct)
        try:
            engine.synthesize(request, sink)
        except SynthesisCancelled:
            break
    if sink.closed:
        raise SayError("the output was closed before the speech ended")
    wav.close()
    seconds = wav.data_bytes / (SAMPLE_WIDTH * CHANNELS * SAMPLE_RATE)
    _LOGGER.info(
        "Spoke %.2f s of audio as %s in %.2f s", seconds, chosen.name, time.monotonic() - started
    )
    return seconds

