"""The voices a command offers, and the models that speak them, kept current while it runs.

Premium voices come from the CustomVoice checkpoint; cloned voices from the voices dir (and the
options file's list). ``refresh`` looks at those files and, when something changed, prepares the
voices that are new or changed, forgets the removed ones, and builds a new catalog. The
CustomVoice model is loaded at the first refresh, the Base model when the first cloned voice
appears. Without an engine (a front for remote engines only) the library offers no voices: the
remotes' voices are theirs, and cloned voices go to them (``remote.pool``). Styles are attached here: only to voices whose model follows instructions. A voice is
prepared here, before it is offered, so a request never prepares one on a model's worker.

``refresh`` and ``voice`` block (they load models and encode references): call them off the
event loop. One call at a time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from wyoming_qwen_tts.engine.interface import (
    MODEL_KINDS,
    LoadOptions,
    ModelKind,
    ModelLoadError,
    SynthesisBackend,
    SynthesisRequest,
)
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.voices.files import VOICE_SUFFIXES, collect_clone_voices, voice_files
from wyoming_qwen_tts.voices.reference import with_reference_measures
from wyoming_qwen_tts.voices.styles import offered_styles
from wyoming_qwen_tts.voices.voice import Voice, VoiceCatalog, VoiceError, VoiceNotFoundError

if TYPE_CHECKING:
    from wyoming_qwen_tts.engine.engine import Engine

_LOGGER = logging.getLogger(__name__)

FileState = dict[str, tuple[int, int]]
"""Path -> (size, modification time in ns) of the files voices are made of."""


class VoiceLibrary:
    def __init__(self, engine: Engine | None, settings: Settings, options: LoadOptions) -> None:
        self.engine = engine
        self.settings = settings
        self._options = options
        self._files: FileState | None = None
        self._clones: dict[str, Voice] = {}
        """Prepared cloned voices, by lower-cased name."""
        self._attempts: dict[str, FileState] = {}
        """The files each cloned voice had when it was last prepared (or failed to be)."""
        self.catalog = VoiceCatalog([])

    @property
    def watches_files(self) -> bool:
        clones_here = self.engine is not None and self.settings.base_model is not None
        return clones_here and (self.settings.voices_dir is not None or bool(self.settings.cloned_voices))

    def backends(self) -> dict[ModelKind, SynthesisBackend]:
        """One backend per loaded model (a model loaded by a later refresh adds one)."""
        if self.engine is None:
            return {}
        return {kind: self.engine.batch(kind) for kind in self.engine.models}

    @staticmethod
    def route(request: SynthesisRequest) -> ModelKind:
        """The backend (model kind) that speaks a request."""
        return MODEL_KINDS[request.voice.kind]

    def voice(self, name: str | None) -> Voice:
        """One voice, prepared, loading only the model it needs (for a one-voice command).

        A cloned voice of that name wins; otherwise a premium voice, or the first premium
        voice when ``name`` is None.
        """
        clones, problems = collect_clone_voices(
            self.settings.voices_dir, self.settings.listed_voices
        )
        clone = next((v for v in clones if name and v.name.lower() == name.lower()), None)
        if clone is not None:
            self._load(self.settings.base_model, ModelKind.BASE)
            offered = with_reference_measures(self._with_styles(clone))
            self.engine.prepare_voice(offered)
            return offered
        for problem in problems:
            _LOGGER.warning("Skipping %s", problem)
        if self.settings.custom_voice_model is None:
            raise VoiceError(_not_found(name, clones, []))
        self._load(self.settings.custom_voice_model, ModelKind.CUSTOM_VOICE)
        premium = [self._with_styles(voice) for voice in self.engine.premium_voices()]
        try:
            return VoiceCatalog(premium).resolve(name)
        except VoiceError:
            raise VoiceError(_not_found(name, clones, premium)) from None

    def _load(self, source: str, kind: ModelKind) -> None:
        if kind not in self.engine.models:
            self.engine.add_model(source, kind, self._options)

    def refresh(self) -> bool:
        """Brings the catalog up to date with the files; returns whether it changed.

        The Base model is loaded for the first cloned voice (``engine.models`` then holds it).
        """
        if self.engine is None:
            first, self._files = self._files is None, {}
            return first
        files = self._file_state()
        if files == self._files:
            return False
        first = self._files is None
        if first and self.settings.custom_voice_model is not None:
            self._load(self.settings.custom_voice_model, ModelKind.CUSTOM_VOICE)
        self._files = files
        found, problems = collect_clone_voices(
            self.settings.voices_dir, self.settings.listed_voices
        )
        for problem in problems:
            _LOGGER.error("Skipping %s", problem)
        wanted = {voice.name.lower(): voice for voice in found}
        changed = False
        for key in [key for key in self._clones if key not in wanted]:
            voice = self._clones.pop(key)
            self.engine.forget_voice(voice.name)
            _LOGGER.info("Cloned voice '%s' was removed", voice.name)
            changed = True
        for key in [key for key in self._attempts if key not in wanted]:
            del self._attempts[key]
        pending = [
            voice for key, voice in wanted.items() if self._attempts.get(key) != _state_of(voice)
        ]
        if pending and not self._ensure_base_model(strict=first):
            pending = []
        for voice in pending:
            changed |= self._prepare(voice, first)
        if changed or first:
            self.catalog = self._build_catalog(strict=first)
        return changed or first

    def _file_state(self) -> FileState:
        paths: list[Path] = []
        voices_dir = self.settings.voices_dir
        if voices_dir is not None and voices_dir.is_dir():
            paths.extend(path for path in voices_dir.iterdir() if path.suffix in VOICE_SUFFIXES)
        paths.extend(voice.audio for voice in self.settings.cloned_voices)
        return _stat(paths)

    def _ensure_base_model(self, strict: bool) -> bool:
        """Loads the Base model unless it is loaded; whether it is. At start (``strict``) a
        failure raises ``ModelLoadError``; later it is logged, and retried when files change."""
        if ModelKind.BASE in self.engine.models:
            return True
        source = self.settings.base_model
        if source is None:  # cloned voices go to the remotes, if any (``app.compose``)
            return False
        _LOGGER.info("Loading the Base model %s for cloned voices", source)
        try:
            self._load(source, ModelKind.BASE)
        except ModelLoadError as err:
            if strict:
                raise
            _LOGGER.error("Cloned voices are not available: %s", err)
            return False
        return True

    def _prepare(self, voice: Voice, first: bool) -> bool:
        """Prepares a new or changed cloned voice; returns whether the offered voices changed."""
        key = voice.name.lower()
        self._attempts[key] = _state_of(voice)
        try:
            offered = with_reference_measures(self._with_styles(voice))
            self.engine.prepare_voice(offered)
        except Exception as err:  # noqa: BLE001 - one bad reference must not stop the others
            _LOGGER.error("Skipping cloned voice '%s': %s", voice.name, err)
            dropped = self._clones.pop(key, None)
            if dropped is not None:
                self.engine.forget_voice(dropped.name)
            return dropped is not None
        if not first:
            verb = "changed" if key in self._clones else "added"
            _LOGGER.info("Cloned voice '%s' was %s", voice.name, verb)
        self._clones[key] = offered
        return True

    def _with_styles(self, voice: Voice) -> Voice:
        """The voice offering the built-in, the configured and its own styles where its model
        follows instructions, and none where it does not."""
        follows = self.engine.follows_instructions(voice)
        if voice.styles and not follows:
            _LOGGER.warning(
                "Voice '%s': its styles are not offered, since its model does not follow "
                "instructions (only the 1.7B CustomVoice model does)",
                voice.name,
            )
        return replace(voice, styles=offered_styles(voice.styles, self.settings.styles, follows))

    def _build_catalog(self, strict: bool) -> VoiceCatalog:
        """The premium and the prepared cloned voices. The configured default voice must exist at
        start (``strict``); later, if it is removed, the first voice stands in."""
        premium = [self._with_styles(voice) for voice in self.engine.premium_voices()]
        voices = premium + list(self._clones.values())
        if strict and self.settings.styles and not any(voice.styles for voice in voices):
            _LOGGER.warning(
                "The style presets are not offered: no loaded model follows instructions "
                "(only the 1.7B CustomVoice model does)"
            )
        try:
            catalog = VoiceCatalog(voices, default=self.settings.voice)
        except VoiceNotFoundError:
            if strict:
                raise
            _LOGGER.warning(
                "The default voice '%s' is gone; the first voice stands in", self.settings.voice
            )
            catalog = VoiceCatalog(voices)
        return catalog




def _not_found(name: str | None, clones: list[Voice], premium: list[Voice]) -> str:
    names = sorted(voice.name for voice in [*premium, *clones])
    if not name:
        return "no voice given; pass --voice NAME (" + (", ".join(names) or "none") + ")"
    return f"voice '{name}' not found; available: {', '.join(names) or 'none'}"


def _state_of(voice: Voice) -> FileState:
    return _stat(voice_files(voice))


def _stat(paths: list[Path]) -> FileState:
    state: FileState = {}
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError:
            continue
        state[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return state
