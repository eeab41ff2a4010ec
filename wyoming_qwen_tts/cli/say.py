"""``wyoming-qwen-tts say``: speak a text in one voice into a WAV file or to stdout, streaming.

It loads only the model the voice needs (the Base model for a cloned voice, else the CustomVoice
model), plans the text as the server does (sentences, the lexicon, the normalizer, sentence
silence), and writes the audio of each frame chunk as soon as the engine produces it, shaped by
the voice's speed and loudness.
"""

from __future__ import annotations

import logging
import time
from typing import BinaryIO

from wyoming_qwen_tts.app.calibration import PremiumLoudness
from wyoming_qwen_tts.app.compose import one_voice
from wyoming_qwen_tts.audio.pcm import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH
from wyoming_qwen_tts.audio.wav_stream import StreamingWavWriter
from wyoming_qwen_tts.engine.interface import ModelLoadError, SynthesisCancelled
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.speech.plan import AnswerText, DeliveryDefaults, Silence
from wyoming_qwen_tts.speech.shaping import Shaper
from wyoming_qwen_tts.text.pronunciation import Lexicon, LexiconError, load_lexicon
from wyoming_qwen_tts.voices.voice import VoiceChoice, VoiceError, VoiceKind

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
    try:
        engine, chosen = one_voice(settings)
        instruct = chosen.instruct_for(style)
    except (VoiceError, ModelLoadError) as err:
        raise SayError(str(err)) from err
    language = settings.language or chosen.language
    defaults = DeliveryDefaults.from_settings(settings)
    if isinstance(settings.loudness_target, float) and chosen.kind is VoiceKind.PREMIUM:
        loudness = PremiumLoudness(settings.loudness_cache_dir)
        loudness.measure(engine, [chosen])
        defaults = DeliveryDefaults.from_settings(settings, loudness)
    plan = AnswerText(
        VoiceChoice(chosen, language, instruct),
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
            engine.synthesize(part.request, sink)
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
