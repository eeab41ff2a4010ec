"""The composition root: ``Settings`` in, what a command needs out.

``serve``, ``say`` and ``voice design`` build their engine, voice library and scheduler here and
nowhere else. The local engine's torch modules are imported only when a command needs a local
model, so that importing the rest of the package never imports torch.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from wyoming_qwen_tts.app.calibration import PremiumLoudness
from wyoming_qwen_tts.app.library import VoiceLibrary
from wyoming_qwen_tts.audio.pcm import pcm16_to_float
from wyoming_qwen_tts.engine.interface import (
    CollectingSink,
    LoadOptions,
    ModelKind,
    ModelLoadError,
    SynthesisRequest,
)
from wyoming_qwen_tts.audio.sentence_cache import SentenceCache
from wyoming_qwen_tts.scheduling.scheduler import Scheduler
from wyoming_qwen_tts.speech.plan import DeliveryDefaults
from wyoming_qwen_tts.speech.speaker import Speaker, Speaking
from wyoming_qwen_tts.text.pronunciation import Lexicon, LexiconFile
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.voices.files import collect_clone_voices
from wyoming_qwen_tts.voices.manage import Renderer
from wyoming_qwen_tts.voices.voice import Voice, VoiceError, VoiceKind

if TYPE_CHECKING:
    from wyoming_qwen_tts.engine.engine import Engine

_LOGGER = logging.getLogger(__name__)


class StartupError(Exception):
    """A command cannot start; the message says why and what to do."""


def load_options(settings: Settings) -> LoadOptions:
    """How the settings say checkpoints are loaded: the one translation of the two."""
    return LoadOptions(
        device=settings.device,
        dtype=settings.dtype,
        cache_dir=settings.data_dir,
        local_files_only=settings.local_files_only,
        max_batch=settings.max_batch,
        int8=settings.int8,
    )


def local_engine(settings: Settings) -> Engine:
    """An engine with no model loaded yet, seeded and with the prompt cache of the settings."""
    from wyoming_qwen_tts.engine.engine import Engine
    from wyoming_qwen_tts.engine.prompt_cache import PromptCache

    return Engine({}, seed=settings.seed, prompt_cache=PromptCache(settings.prompt_cache_dir))


@dataclass
class Speech:
    """What ``serve`` speaks with: the voices (and their models), the scheduler over them, and
    how answers are planned and spoken (``speaking``)."""

    library: VoiceLibrary
    scheduler: Scheduler
    speaking: Speaking

    @property
    def device(self) -> str:
        """Where the models run ("cpu", "cuda:0", ...), or "none" before one is loaded."""
        models = list(self.library.engine.models.values())
        return str(models[0].device) if models else "none"

    def models(self) -> list[str]:
        return [str(kind) for kind in self.library.engine.models]

    def add_new_backends(self) -> None:
        """Starts a worker for each model a refresh loaded (the Base model, for a first clone)."""
        self.scheduler.add_backends(self.library.backends())

    def close(self, timeout: float) -> None:
        self.scheduler.close(timeout=timeout)


def speech(settings: Settings) -> Speech:
    """Loads the models the configured voices need and prepares every voice once (blocking)."""
    if settings.custom_voice_model is None:
        clones, _ = collect_clone_voices(settings.voices_dir, settings.listed_voices)
        if not clones:
            raise StartupError(
                "no voices: premium voices are disabled (--custom-voice-model none) and no "
                "cloned voices were found; add NAME.wav + NAME.txt to --voices-dir"
            )
    library = VoiceLibrary(local_engine(settings), settings, load_options(settings))
    try:
        library.refresh()
    except ModelLoadError as err:
        raise StartupError(str(err)) from err
    except VoiceError as err:
        raise StartupError(f"--voice: {err}") from err
    catalog = library.catalog
    if catalog.default is None:
        raise StartupError("no usable voices; see the errors above")
    _LOGGER.info("Voices: %s (default: %s)", ", ".join(catalog.names), catalog.default.name)
    defaults = DeliveryDefaults.from_settings(settings)
    if isinstance(settings.loudness_target, float):
        # Before the scheduler's workers drive the engine: this speaks on it directly.
        loudness = PremiumLoudness(settings.loudness_cache_dir)
        loudness.measure(library.engine, library.engine.premium_voices())
        defaults = DeliveryDefaults.from_settings(settings, loudness)
    scheduler = Scheduler(library.backends(), library.route)
    return Speech(library, scheduler, speaking(settings, library, scheduler, defaults))


def speaking(
    settings: Settings, library: VoiceLibrary, scheduler: Scheduler, defaults: DeliveryDefaults
) -> Speaking:
    """The lexicon file and the sentence cache of the settings, over ``scheduler``."""
    identities: dict[ModelKind, str] = {}

    def model_identity(request: SynthesisRequest) -> str:
        kind = library.route(request)
        if kind not in identities:
            identities[kind] = f"{library.engine.models[kind].identity} int8={settings.int8}"
        return identities[kind]

    cache = None
    if settings.audio_cache_mb > 0:
        cache = SentenceCache(settings.audio_cache_dir, settings.audio_cache_mb * 1024 * 1024)
    speaker = Speaker(scheduler, cache, model_identity, settings.seed)
    lexicon_path = settings.lexicon_path
    if lexicon_path is None:
        return Speaking(speaker, defaults)
    lexicon_file = LexiconFile(lexicon_path)

    def lexicon() -> Lexicon:
        lexicon_file.refresh()
        return lexicon_file.lexicon

    return Speaking(speaker, defaults, lexicon)


def one_voice(settings: Settings) -> tuple[Engine, Voice]:
    """An engine with only the model ``settings.voice`` needs, and that voice, prepared, for a
    command that speaks alone (``say``). Raises VoiceError or ModelLoadError."""
    engine = local_engine(settings)
    library = VoiceLibrary(engine, settings, load_options(replace(settings, max_batch=1)))
    return engine, library.voice(settings.voice)


def design_renderer(settings: Settings) -> Renderer:
    """What ``voice design`` renders with: the VoiceDesign checkpoint, loaded on first use.

    Its output is exactly what qwen-tts' ``generate_voice_design`` returns for the same seed.
    """
    engine = local_engine(settings)
    one_at_a_time = threading.Lock()

    def render(description: str, text: str, language: str | None, seed: int | None) -> np.ndarray:
        with one_at_a_time:
            if ModelKind.VOICE_DESIGN not in engine.models:
                options = load_options(replace(settings, max_batch=1))
                engine.add_model(settings.voice_design_model, ModelKind.VOICE_DESIGN, options)
            engine.seed = settings.seed if seed is None else seed
            voice = Voice(name="design", kind=VoiceKind.DESIGN, description=description)
            sink = CollectingSink()
            request = SynthesisRequest(
                text=text, voice=voice, language=language, instruct=description
            )
            engine.synthesize(request, sink)
            return pcm16_to_float(sink.pcm)

    return render
