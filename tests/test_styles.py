"""Styles: instruction presets offered as Wyoming speakers, only where the model follows them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from wyoming_qwen_tts.audio.pcm import pcm16_to_float
from wyoming_qwen_tts.engine.compat import import_qwen_tts
from wyoming_qwen_tts.text.sentences import frame_budget
from wyoming_qwen_tts.voices.files import read_voice_yaml
from wyoming_qwen_tts.voices.styles import BUILTIN_STYLES, Style, merge_styles, offered_styles
from wyoming_qwen_tts.voices.voice import Voice, VoiceError, VoiceKind

from .wyoming_server import RunningServer, audio_of, read_until, start_server, write_reference

SEED = 6
BUILTIN_NAMES = ["calm", "cheerful", "urgent announcement", "whisper"]
INSTRUCTS = {style.name: style.instruct for style in BUILTIN_STYLES}


# --- the presets ----------------------------------------------------------------------------


def test_builtin_styles_are_real_instructions() -> None:
    assert [style.name for style in BUILTIN_STYLES] == BUILTIN_NAMES
    for style in BUILTIN_STYLES:
        assert len(style.instruct.split()) >= 8, style  # a sentence the model can act on
        assert style.instruct.endswith(".")


def test_later_styles_replace_earlier_ones_of_the_same_name_in_place() -> None:
    mine = Style("Calm", "Speak very calmly.")
    merged = merge_styles(BUILTIN_STYLES, [Style("bedtime", "Softly.")], [mine])
    assert [s.name for s in merged] == [
        "Calm",
        "cheerful",
        "urgent announcement",
        "whisper",
        "bedtime",
    ]
    assert merged[0] is mine


def test_offered_only_where_instructions_are_followed() -> None:
    own = [Style("pirate", "Talk like a pirate.")]
    configured = [Style("bedtime", "Softly.")]
    assert offered_styles(own, configured, follows_instructions=False) == ()
    assert [s.name for s in offered_styles(own, configured, follows_instructions=True)] == [
        *BUILTIN_NAMES, "bedtime", "pirate"
    ]  # fmt: skip


def test_a_request_names_a_style_case_insensitively() -> None:
    voice = Voice("ryan", VoiceKind.PREMIUM, "Ryan", styles=BUILTIN_STYLES)
    assert voice.instruct_for(None) is None
    assert voice.instruct_for("") is None
    assert voice.instruct_for("WHISPER") == INSTRUCTS["whisper"]
    assert voice.instruct_for(" urgent announcement ") == INSTRUCTS["urgent announcement"]
    with pytest.raises(VoiceError) as err:
        voice.instruct_for("shouting")
    assert str(err.value) == (
        "voice 'ryan' has no style 'shouting'; available: calm, cheerful, urgent announcement, "
        "whisper"
    )
    plain = Voice("anna", VoiceKind.CLONE, "Anna")
    with pytest.raises(VoiceError, match=r"^voice 'anna' has no styles \(only the 1\.7B"):
        plain.instruct_for("calm")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("styles: calm\n", "'styles' must be a list"),
        ("styles:\n  - calm\n", "style 1 needs a 'name' and an 'instruct'"),
        ("styles:\n  - name: calm\n", "style 1 needs a 'name' and an 'instruct'"),
        ("styles:\n  - {name: '', instruct: x}\n", "style 1 needs a 'name' and an 'instruct'"),
        ("description: 5\n", "'description' must be a string"),
    ],
)
def test_voice_yaml_styles_are_checked(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_voice_yaml(path)


def test_voice_yaml_styles_and_description(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(
        "language: de\ndescription: ' A calm voice. '\n"
        "styles:\n  - name: story\n    instruct: Read like a story.\n"
    )
    metadata = read_voice_yaml(path)
    assert metadata.language == "german"
    assert metadata.description == "A calm voice."
    assert metadata.styles == (Style("story", "Read like a story."),)


# --- the server -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    custom_voice_1b7_checkpoint: Path,
    base_checkpoint: Path,
) -> RunningServer:
    folder = tmp_path_factory.mktemp("styles")
    voices = folder / "voices"
    voices.mkdir()
    write_reference(voices / "anna.wav", 3.0)
    (voices / "anna.txt").write_text("This is how Anna sounds.")
    (voices / "anna.yaml").write_text("styles:\n  - name: story\n    instruct: Tell a story.\n")
    options = folder / "options.yaml"
    options.write_text(
        "styles:\n  - name: bedtime\n    instruct: Speak softly and slowly, like a bedtime story.\n"
        "  - name: calm\n    instruct: Speak very calmly, almost sleepily.\n"
    )
    running = start_server(
        [
            "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu", "--seed", str(SEED),
            "--custom-voice-model", str(custom_voice_1b7_checkpoint),
            "--base-model", str(base_checkpoint), "--voices-dir", str(voices),
            "--options", str(options), "--voices-poll-interval", "0",
        ],
        folder / "server.log",
    )  # fmt: skip
    yield running
    running.stop()


def client(server: RunningServer) -> AsyncTcpClient:
    return AsyncTcpClient(server.host, server.port)


async def test_styles_are_the_speakers_of_voices_that_follow_instructions(
    server: RunningServer,
) -> None:
    async with client(server) as c:
        await c.write_event(Describe().event())
        info = Info.from_event((await read_until(c, ("info",)))[-1])
    voices = {voice.name: voice for voice in info.tts[0].voices}
    for name in ("vivian", "ryan", "ono_anna", "dylan"):
        assert [s.name for s in voices[name].speakers] == [*BUILTIN_NAMES, "bedtime"]
    # cloned voices are spoken by the Base model, which takes no instructions: no speakers
    assert voices["anna"].speakers is None
    assert "Voice 'anna': its styles are not offered" in server.log()


async def test_a_speaker_is_the_instruction_of_the_request(
    server: RunningServer, custom_voice_1b7_checkpoint: Path
) -> None:
    text = "Time for bed, little one."
    async with client(server) as c:
        voice = SynthesizeVoice(name="ryan", speaker="Calm")
        await c.write_event(Synthesize(text=text, voice=voice).event())
        events = await read_until(c, ("audio-stop", "error"))
    model = import_qwen_tts().Qwen3TTSModel.from_pretrained(
        str(custom_voice_1b7_checkpoint), device_map="cpu", dtype=torch.float32
    )
    torch.manual_seed(SEED)
    wavs, _ = model.generate_custom_voice(
        text,
        speaker="ryan",
        instruct="Speak very calmly, almost sleepily.",  # the options file's "calm" wins
        max_new_tokens=frame_budget(text),
    )
    ours = pcm16_to_float(audio_of(events))
    assert ours.shape == wavs[0].shape
    assert np.abs(ours - wavs[0]).max() <= 1e-4


async def test_an_unknown_speaker_is_an_error_naming_the_styles(server: RunningServer) -> None:
    async with client(server) as c:
        voice = SynthesizeVoice(name="vivian", speaker="shouting")
        await c.write_event(SynthesizeStart(voice=voice).event())
        await c.write_event(SynthesizeChunk(text="Hello there.").event())
        await c.write_event(SynthesizeStop().event())
        events = await read_until(c, ("synthesize-stopped",))
    assert [e.type for e in events] == ["error", "synthesize-stopped"]
    assert events[0].data["text"] == (
        "voice 'vivian' has no style 'shouting'; available: calm, cheerful, urgent announcement, "
        "whisper, bedtime"
    )
    async with client(server) as c:
        await c.write_event(
            Synthesize(text="Hi.", voice=SynthesizeVoice(name="anna", speaker="story")).event()
        )
        events = await read_until(c, ("audio-stop", "error"))
    assert events[-1].type == "error"
    assert events[-1].data["text"].startswith("voice 'anna' has no styles")
