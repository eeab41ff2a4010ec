"""The composition root: ``Settings`` in, what a command needs out.

``serve``, ``say`` and ``voice design`` build their engine, voice library and scheduler here and
nowhere else. The local engine's torch modules are imported only when a command needs a local
model, so that importing the rest of the package never imports torch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from wyoming_qwen_tts.app.calibration import PremiumLoudness
from wyoming_qwen_tts.app.library import VoiceLibrary
from wyoming_qwen_tts.app.warm_up import warm_up
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
from wyoming_qwen_tts.speech.prebuffer import Meters
from wyoming_qwen_tts.speech.speaker import Prebuffer, Speaker, Speaking
from wyoming_qwen_tts.text.pronunciation import Lexicon, LexiconFile
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.voices.files import collect_clone_voices
from wyoming_qwen_tts.voices.manage import Renderer
from wyoming_qwen_tts.voices.voice import (
    Voice,
    VoiceCatalog,
    VoiceError,
    VoiceKind,
    VoiceNotFoundError,
)

if TYPE_CHECKING:
    from wyoming_qwen_tts.engine.engine import Engine
    from wyoming_qwen_tts.remote.pool import RemotePool

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
        quantize=settings.quantize,
        quantized_cache_dir=settings.quantized_cache_dir,
    )


def local_engine(settings: Settings) -> Engine:
    """An engine with no model loaded yet, seeded and with the prompt cache of the settings."""
    from wyoming_qwen_tts.engine.engine import Engine
    from wyoming_qwen_tts.engine.prompt_cache import PromptCache

    return Engine({}, seed=settings.seed, prompt_cache=PromptCache(settings.prompt_cache_dir))


@dataclass
class Speech:
    """What ``serve`` speaks with: the voices (and their models), the remotes, the scheduler over
    both, and how answers are planned and spoken (``speaking``)."""

    library: VoiceLibrary
    scheduler: Scheduler
    speaking: Speaking
    remote: RemotePool | None = None
    default_voice: str | None = None

    @property
    def catalog(self) -> VoiceCatalog:
        """The voices offered now: the local ones, then the remotes' (a local voice wins a
        name both have). The default voice, where it is gone, gives way to the first."""
        if self.remote is None:
            return self.library.catalog
        local = list(self.library.catalog)
        names = {voice.name.lower() for voice in local}
        voices = local + [v for v in self.remote.voices if v.name.lower() not in names]
        try:
            return VoiceCatalog(voices, default=self.default_voice)
        except VoiceNotFoundError:
            return VoiceCatalog(voices)

    @property
    def device(self) -> str:
        """Where the models run ("cpu", "cuda:0", ...), "remote" for a front of remotes only,
        or "none" before one is loaded."""
        engine = self.library.engine
        models = list(engine.models.values()) if engine is not None else []
        if models:
            return str(models[0].device)
        return "remote" if self.remote is not None else "none"

    def models(self) -> list[str]:
        engine = self.library.engine
        local = [str(kind) for kind in engine.models] if engine is not None else []
        remote = [f"{s.model} at {s.url}" for s in self.remote.servers if s.up] if self.remote else []
        return local + remote

    def add_new_backends(self) -> None:
        """Starts a worker for each model a refresh loaded (the Base model, for a first clone)."""
        self.scheduler.add_backends(self.library.backends())

    def close(self, timeout: float) -> None:
        self.scheduler.close(timeout=timeout)


def speech(settings: Settings) -> Speech:
    """Loads the models the configured voices need and prepares every voice once (blocking).

    With remotes, the remotes are looked at later, on the event loop (``Speech.remote.start``).
    """
    if settings.remote_urls:
        return _front(settings)
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
    meters = _measured_speeds(settings, library)
    scheduler = Scheduler(library.backends(), library.route)
    return Speech(
        library, scheduler, speaking(settings, library, scheduler, defaults, meters=meters)
    )


def _measured_speeds(settings: Settings, library: VoiceLibrary) -> Meters:
    """Each loaded model's speed, from a short warm-up (before the scheduler's workers drive
    the models: this speaks on them directly)."""
    meters = Meters()
    models = library.engine.models

    def voice_for(kind: Hashable) -> Voice | None:
        voices = (v for v in library.catalog if library.route(SynthesisRequest("", v)) == kind)
        return next(voices, None)

    warm_up(
        library.backends(),
        voice_for,
        meters,
        where=lambda kind: str(models[kind].device),  # type: ignore[index]
        prebuffer=settings.prebuffer == "auto",
    )
    return meters


def _front(settings: Settings) -> Speech:
    """A front for the remotes, speaking with local models too where their flags ask for them."""
    from wyoming_qwen_tts.remote.pool import RemotePool
    from wyoming_qwen_tts.remote.server import RemoteServer

    local = settings.custom_voice_model is not None or settings.base_model is not None
    library = VoiceLibrary(local_engine(settings) if local else None, settings, load_options(settings))
    try:
        library.refresh()
    except ModelLoadError as err:
        raise StartupError(str(err)) from err
    clones = None
    if settings.base_model is None:
        clones = lambda: collect_clone_voices(settings.voices_dir, settings.listed_voices)[0]  # noqa: E731
        _LOGGER.info("Cloned voices in the voices dir go to the remotes that take them")
    servers = [
        RemoteServer(url, token=settings.remote_token, timeout=settings.remote_timeout)
        for url in settings.remote_urls
    ]
    remote = RemotePool(servers, max_requests=settings.remote_max_requests, clones=clones)
    _LOGGER.info("Remotes: %s", ", ".join(settings.remote_urls))
    scheduler = Scheduler(library.backends(), library.route, remote)
    defaults = DeliveryDefaults.from_settings(settings)
    return Speech(
        library,
        scheduler,
        speaking(settings, library, scheduler, defaults, remote),
        remote,
        settings.voice,
    )


def speaking(
    settings: Settings,
    library: VoiceLibrary,
    scheduler: Scheduler,
    defaults: DeliveryDefaults,
    remote: RemotePool | None = None,
    meters: Meters | None = None,
) -> Speaking:
    """The lexicon file, the sentence cache and the prebuffering of the settings, over
    ``scheduler``; ``meters`` holds the models' speeds measured so far."""
    identities: dict[ModelKind, str] = {}

    def model_identity(request: SynthesisRequest) -> str:
        if request.voice.remote:
            assert remote is not None
            return f"remote {remote.model_of(request.voice)}"
        kind = library.route(request)
        if kind not in identities:
            identity = library.engine.models[kind].identity
            identities[kind] = f"{identity} quantize={settings.quantize}"
        return identities[kind]

    cache = None
    if settings.audio_cache_mb > 0:
        cache = SentenceCache(settings.audio_cache_dir, settings.audio_cache_mb * 1024 * 1024)

    def meter_of(request: SynthesisRequest) -> Hashable:
        return model_identity(request) if request.voice.remote else library.route(request)

    prebuffer = Prebuffer(
        meters or Meters(),
        meter_of,
        enabled=settings.prebuffer == "auto",
        max_seconds=settings.max_prebuffer,
    )
    speaker = Speaker(scheduler, cache, model_identity, settings.seed, prebuffer)
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
