"""The voices a running server offers, kept current while it runs.

Premium voices come from the CustomVoice checkpoint; cloned voices from the voices dir (and the
options file's list). ``refresh`` looks at those files and, when something changed, prepares the
voices that are new or changed, forgets the removed ones, and builds a new catalog. The Base
model is loaded when the first cloned voice appears. Styles are attached here: only to voices
whose model follows instructions.

``refresh`` blocks (it loads models and encodes references): call it off the event loop. One
call at a time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.voices.files import collect_clone_voices, voice_files
from wyoming_qwen_tts.voices.styles import offered_styles
from wyoming_qwen_tts.voices.voice import Voice, VoiceCatalog, VoiceNotFoundError

if TYPE_CHECKING:
    from wyoming_qwen_tts.engine.engine import Engine
    from wyoming_qwen_tts.engine.model import LoadOptions

_LOGGER = logging.getLogger(__name__)

FileState = dict[str, tuple[int, int]]
"""Path -> (size, modification time in ns) of the files voices are made of."""


class VoiceLibrary:
    def __init__(self, engine: Engine, settings: Settings, options: LoadOptions) -> None:
        self._engine = engine
        self._settings = settings
        self._options = options
        self._files: FileState | None = None
        self._clones: dict[str, Voice] = {}
        """Prepared cloned voices, by lower-cased name."""
        self._attempts: dict[str, FileState] = {}
        """The files each cloned voice had when it was last prepared (or failed to be)."""
        self.catalog = VoiceCatalog([])

    @property
    def watches_files(self) -> bool:
        return self._settings.voices_dir is not None or bool(self._settings.cloned_voices)

    def refresh(self) -> bool:
        """Brings the catalog up to date with the files; returns whether it changed.

        The Base model is loaded for the first cloned voice (``engine.models`` then holds it).
        """
        files = self._file_state()
        if files == self._files:
            return False
        first = self._files is None
        self._files = files
        found, problems = collect_clone_voices(
            self._settings.voices_dir, self._settings.listed_voices
        )
        for problem in problems:
            _LOGGER.error("Skipping %s", problem)
        wanted = {voice.name.lower(): voice for voice in found}
        changed = False
        for key in [key for key in self._clones if key not in wanted]:
            voice = self._clones.pop(key)
            self._engine.forget_voice(voice.name)
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
        voices_dir = self._settings.voices_dir
        if voices_dir is not None and voices_dir.is_dir():
            paths.extend(path for path in voices_dir.iterdir() if path.suffix in _VOICE_SUFFIXES)
        paths.extend(voice.audio for voice in self._settings.cloned_voices)
        return _stat(paths)

    def _ensure_base_model(self, strict: bool) -> bool:
        """Loads the Base model unless it is loaded; whether it is. At start (``strict``) a
        failure raises ``ModelLoadError``; later it is logged, and retried when files change."""
        from wyoming_qwen_tts.engine.model import ModelKind, ModelLoadError

        if ModelKind.BASE in self._engine.models:
            return True
        source = self._settings.base_model
        _LOGGER.info("Loading the Base model %s for cloned voices", source)
        try:
            self._engine.add_model(source, ModelKind.BASE, self._options)
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
        offered = self._with_styles(voice)
        try:
            self._engine.prepare_voice(offered)
        except Exception as err:  # noqa: BLE001 - one bad reference must not stop the others
            _LOGGER.error("Skipping cloned voice '%s': %s", voice.name, err)
            dropped = self._clones.pop(key, None)
            if dropped is not None:
                self._engine.forget_voice(dropped.name)
            return dropped is not None
        if not first:
            verb = "changed" if key in self._clones else "added"
            _LOGGER.info("Cloned voice '%s' was %s", voice.name, verb)
        self._clones[key] = offered
        return True

    def _with_styles(self, voice: Voice) -> Voice:
        """The voice offering the built-in, the configured and its own styles where its model
        follows instructions, and none where it does not."""
        follows = self._engine.follows_instructions(voice)
        if voice.styles and not follows:
            _LOGGER.warning(
                "Voice '%s': its styles are not offered, since its model does not follow "
                "instructions (only the 1.7B CustomVoice model does)",
                voice.name,
            )
        return replace(voice, styles=offered_styles(voice.styles, self._settings.styles, follows))

    def _build_catalog(self, strict: bool) -> VoiceCatalog:
        """The premium and the prepared cloned voices. The configured default voice must exist at
        start (``strict``); later, if it is removed, the first voice stands in."""
        premium = [self._with_styles(voice) for voice in self._engine.premium_voices()]
        voices = premium + list(self._clones.values())
        if strict and self._settings.styles and not any(voice.styles for voice in voices):
            _LOGGER.warning(
                "The style presets are not offered: no loaded model follows instructions "
                "(only the 1.7B CustomVoice model does)"
            )
        try:
            catalog = VoiceCatalog(voices, default=self._settings.voice)
        except VoiceNotFoundError:
            if strict:
                raise
            _LOGGER.warning(
                "The default voice '%s' is gone; the first voice stands in", self._settings.voice
            )
            catalog = VoiceCatalog(voices)
        return catalog


_VOICE_SUFFIXES = (".wav", ".txt", ".yaml")


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
