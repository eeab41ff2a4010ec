"""What the server tells clients about itself: the Info event with every voice offered."""

from __future__ import annotations

from wyoming.event import Event
from wyoming.info import Attribution, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker

from wyoming_qwen_tts import __version__
from wyoming_qwen_tts.voices.voice import VoiceCatalog

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
