"""``wyoming-qwen-tts say``: streamed WAV to a file or stdout, styles, cloned voices, errors."""

from __future__ import annotations

import io
import logging
import struct
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from wyoming_qwen_tts.audio.pcm import pcm16_to_float
from wyoming_qwen_tts.audio.wav_stream import StreamingWavWriter
from wyoming_qwen_tts.cli.say import SayError, say
from wyoming_qwen_tts.engine.compat import import_qwen_tts
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.text.sentences import frame_budget
from wyoming_qwen_tts.voices.styles import BUILTIN_STYLES, Style

from .wyoming_server import REPO_ROOT, server_env, write_reference

SEED = 4
TEXT = "Good morning. The coffee is ready!"
SENTENCES = ["Good morning.", "The coffee is ready!"]


def upstream_custom_voice(checkpoint: Path, sentences: list[str], **kwargs: object) -> np.ndarray:
    """What qwen-tts' own generate_custom_voice says, sentence by sentence, seeded alike."""
    model = import_qwen_tts().Qwen3TTSModel.from_pretrained(
        str(checkpoint), device_map="cpu", dtype=torch.float32
    )
    pieces = []
    for sentence in sentences:
        torch.manual_seed(SEED)
        wavs, _ = model.generate_custom_voice(
            sentence, max_new_tokens=frame_budget(sentence), **kwargs
        )
        pieces.append(wavs[0])
    return np.concatenate(pieces)


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_qwen_tts", *args],
        capture_output=True,
        cwd=REPO_ROOT,
        env=server_env(),
        timeout=120,
    )


def test_say_writes_a_wav_file_and_streams_to_stdout(
    tmp_path: Path, custom_voice_checkpoint: Path
) -> None:
    common = ["--custom-voice-model", str(custom_voice_checkpoint), "--device", "cpu",
              "--seed", str(SEED), "--voice", "Vivian"]  # fmt: skip
    out = tmp_path / "out.wav"
    to_file = cli("say", TEXT, "-o", str(out), *common)
    assert to_file.returncode == 0, to_file.stderr.decode()
    assert to_file.stdout == b""
    data = out.read_bytes()
    # an ordinary WAV: the sizes were filled in at the end
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert data[36:40] == b"data" and struct.unpack("<I", data[40:44])[0] == len(data) - 44
    audio, rate = soundfile.read(str(out), dtype="float32")
    info = soundfile.info(str(out))
    assert (rate, info.channels, info.subtype) == (24000, 1, "PCM_16")
    expected = upstream_custom_voice(custom_voice_checkpoint, SENTENCES, speaker="vivian")
    assert audio.shape == expected.shape
    assert np.abs(audio - expected).max() <= 1e-4

    to_stdout = cli("say", TEXT, "-o", "-", *common)
    assert to_stdout.returncode == 0, to_stdout.stderr.decode()
    streamed = to_stdout.stdout
    # a streaming header: lengths unknown, so that a player reads to the end of the pipe
    assert streamed[:4] == b"RIFF" and streamed[4:8] == b"\xff\xff\xff\xff"
    assert streamed[40:44] == b"\xff\xff\xff\xff"
    assert streamed[44:] == data[44:]
    decoded, _ = soundfile.read(io.BytesIO(streamed), dtype="float32")
    np.testing.assert_array_equal(decoded, audio)


def test_say_reads_stdin_and_reports_errors_in_one_line(
    tmp_path: Path, custom_voice_checkpoint: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_qwen_tts", "say", "-", "-o", str(tmp_path / "x.wav"),
         "--custom-voice-model", str(custom_voice_checkpoint), "--device", "cpu",
         "--voice", "nobody"],
        input=b"Hello.", capture_output=True, cwd=REPO_ROOT, env=server_env(), timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.decode().splitlines()[-1] == (
        "wyoming-qwen-tts say: error: voice 'nobody' not found; available: dylan, ono_anna, "
        "ryan, vivian"
    )
    assert b"Traceback" not in result.stderr


def test_say_speaks_normalized_sentences(
    custom_voice_checkpoint: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = "**Note:** it is 21.5 °C outside 🌞\n\n```python\nprint('x')\n```\n\n🎉"
    settings = Settings(
        custom_voice_model=str(custom_voice_checkpoint), device="cpu", seed=SEED, voice="ryan"
    )
    output = io.BytesIO()
    with caplog.at_level(logging.DEBUG, logger="wyoming_qwen_tts.cli.say"):
        seconds = say(settings, text, output)
    spoken = [r.args[0] for r in caplog.records if r.getMessage().startswith("Speaking")]
    assert spoken == ["Note: it is twenty-one point five degrees Celsius outside", "Code omitted."]
    assert seconds > 0
    audio, _ = soundfile.read(io.BytesIO(output.getvalue()), dtype="float32")
    expected = upstream_custom_voice(custom_voice_checkpoint, spoken, speaker="ryan")
    assert np.abs(audio - expected).max() <= 1e-4


def test_say_with_a_style_instructs_the_model(custom_voice_1b7_checkpoint: Path) -> None:
    settings = Settings(
        custom_voice_model=str(custom_voice_1b7_checkpoint),
        device="cpu",
        seed=SEED,
        voice="ryan",
        styles=(Style("bedtime", "Speak softly and slowly, like a bedtime story."),),
    )
    whisper = dict((s.name, s.instruct) for s in BUILTIN_STYLES)["whisper"]
    for style, instruct in (("Whisper", whisper), ("bedtime", settings.styles[0].instruct)):
        output = io.BytesIO()
        say(settings, "Sleep well.", output, style=style)
        audio = pcm16_to_float(output.getvalue()[44:])
        expected = upstream_custom_voice(
            custom_voice_1b7_checkpoint, ["Sleep well."], speaker="ryan", instruct=instruct
        )
        assert audio.shape == expected.shape
        assert np.abs(audio - expected).max() <= 1e-4
    plain = io.BytesIO()
    say(settings, "Sleep well.", plain)
    assert plain.getvalue() != output.getvalue()  # the instruction changes the speech

    with pytest.raises(SayError) as err:
        say(settings, "Hi.", io.BytesIO(), style="shouting")
    assert str(err.value) == (
        "voice 'ryan' has no style 'shouting'; available: calm, cheerful, urgent announcement, "
        "whisper, bedtime"
    )


def test_say_refuses_a_style_where_the_model_ignores_instructions(
    custom_voice_checkpoint: Path,
) -> None:
    settings = Settings(custom_voice_model=str(custom_voice_checkpoint), device="cpu", voice="ryan")
    with pytest.raises(SayError, match=r"^voice 'ryan' has no styles \(only the 1\.7B"):
        say(settings, "Hi.", io.BytesIO(), style="calm")


def test_say_in_a_cloned_voice_loads_only_the_base_model(
    tmp_path: Path, base_checkpoint: Path, caplog: pytest.LogCaptureFixture
) -> None:
    voices = tmp_path / "voices"
    voices.mkdir()
    write_reference(voices / "mia.wav", 3.0, seed=2)
    (voices / "mia.txt").write_text("This is Mia, speaking slowly.")
    settings = Settings(
        custom_voice_model="/nonexistent/never/loaded",
        base_model=str(base_checkpoint),
        voices_dir=voices,
        cache_dir=tmp_path / "cache",
        device="cpu",
        seed=SEED,
    )
    output = io.BytesIO()
    with caplog.at_level(logging.INFO):
        assert say(replace(settings, voice="MIA"), "The door is open.", output) > 0
    assert "Computed the clone prompt of 'mia'" in caplog.text
    caplog.clear()
    again = io.BytesIO()
    with caplog.at_level(logging.INFO):
        say(replace(settings, voice="mia"), "The door is open.", again)
    assert "Loaded the clone prompt of 'mia' from the prompt cache" in caplog.text
    assert again.getvalue() == output.getvalue()


def test_streaming_wav_writer_on_a_pipe_keeps_unknown_sizes() -> None:
    class Pipe(io.BytesIO):
        def seekable(self) -> bool:
            return False

    pipe = Pipe()
    wav = StreamingWavWriter(pipe, 24000)
    wav.write(b"\x01\x00" * 10)
    wav.close()
    data = pipe.getvalue()
    assert len(data) == 44 + 20
    assert data[4:8] == data[40:44] == b"\xff\xff\xff\xff"
    assert struct.unpack("<4sIHHIIHH", data[12:36]) == (b"fmt ", 16, 1, 1, 24000, 48000, 2, 16)
