"""``voice add|list|remove|design``: what gets stored, and recordings that must be refused."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml

from wyoming_qwen_tts.app.compose import design_renderer
from wyoming_qwen_tts.cli.say import say
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.text.normalize import normalize_for_speech
from wyoming_qwen_tts.text.sentences import frame_budget
from wyoming_qwen_tts.voices.files import scan_voices_dir
from wyoming_qwen_tts.voices.manage import (
    SAMPLE_TEXTS,
    add_voice,
    format_entries,
    list_voices,
    remove_voice,
)
from wyoming_qwen_tts.voices.recording import (
    MAX_SPEECH_SECONDS,
    MIN_SPEECH_SECONDS,
    SAMPLE_RATE,
    TAIL_SILENCE_SECONDS,
)
from wyoming_qwen_tts.voices.reference import load_reference_audio
from wyoming_qwen_tts.voices.voice import VoiceError, VoiceKind

from .wyoming_server import REPO_ROOT, server_env, write_reference


def speech(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Speech-like noise (syllable-rate envelope) of ``seconds`` at ``rate``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t)
    return (0.3 * envelope * rng.standard_normal(t.shape)).clip(-1, 1).astype(np.float32)


def recording(path: Path, seconds: float, rate: int, lead: float = 0.0, trail: float = 0.0,
              channels: int = 1, subtype: str = "PCM_16") -> Path:  # fmt: skip
    """A recording: ``lead`` s of near-silence, ``seconds`` of speech, ``trail`` of silence."""
    hush = np.random.default_rng(9).normal(0, 1e-4, int((lead + trail) * rate)).astype(np.float32)
    mono = np.concatenate(
        [hush[: int(lead * rate)], speech(seconds, rate), hush[int(lead * rate) :]]
    )
    samples = np.stack([mono, 0.5 * mono], axis=1) if channels == 2 else mono
    soundfile.write(str(path), samples, rate, subtype=subtype)
    return path


def cli(
    *args: str, timeout: float = 120, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_qwen_tts", *args],
        capture_output=True,
        cwd=REPO_ROOT,
        env=server_env(),
        timeout=timeout,
        input=stdin,
    )


# --- voice add ------------------------------------------------------------------------------


def test_add_normalizes_a_stereo_48khz_recording(tmp_path: Path) -> None:
    source = recording(tmp_path / "take.wav", 4.0, 48000, lead=1.0, trail=1.5, channels=2)
    voices = tmp_path / "voices"
    clip = add_voice(voices, "Grandma", source, "  Good morning,\n my dear. ", language="german")
    assert clip == voices / "Grandma.wav"
    info = soundfile.info(str(clip))
    assert (info.samplerate, info.channels, info.subtype) == (24000, 1, "PCM_16")
    audio, _ = soundfile.read(str(clip), dtype="float32")
    tail = int(TAIL_SILENCE_SECONDS * SAMPLE_RATE)
    # silence trimmed to a short margin around the 4 s of speech, then 0.5 s of silence added
    assert 4.0 <= len(audio) / SAMPLE_RATE - TAIL_SILENCE_SECONDS <= 4.0 + 0.2
    assert not audio[-tail:].any()
    assert np.abs(audio[:-tail]).max() > 0.1
    assert (voices / "Grandma.txt").read_text() == "Good morning, my dear.\n"
    assert yaml.safe_load((voices / "Grandma.yaml").read_text()) == {"language": "de"}
    # what the server reads: a voice, and a clip it takes as it is (no resampling at start)
    found, problems = scan_voices_dir(voices)
    assert problems == [] and [(v.name, v.kind, v.language) for v in found] == [
        ("Grandma", VoiceKind.CLONE, "german")
    ]
    assert load_reference_audio(clip)[1] == 24000
    assert not list(voices.glob(".voice-*"))  # no temporary file left


def test_add_without_language_writes_no_yaml(tmp_path: Path) -> None:
    source = recording(tmp_path / "take.flac", 5.0, 16000, subtype="PCM_16")
    add_voice(tmp_path / "v", "bob", source, "Hi, Bob here.")
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["bob.txt", "bob.wav"]


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (2.5, r"holds 2\.[67] s of speech once silence is trimmed; a voice needs at least 3 s"),
        (
            29.8,
            r"holds (29\.9|30\.0) s of speech once silence is trimmed; "
            r"a voice takes at most 29\.5 s",
        ),
    ],
)
def test_add_refuses_too_little_or_too_much_speech(
    tmp_path: Path, seconds: float, message: str
) -> None:
    # Silence around the speech does not count: the file itself is long enough or short enough.
    source = recording(tmp_path / "take.wav", seconds, 24000, lead=1.0, trail=1.0)
    with pytest.raises(VoiceError) as err:
        add_voice(tmp_path / "v", "x", source, "Some words.")
    assert re.match(r"take\.wav " + message, str(err.value))
    assert not (tmp_path / "v").exists()
    assert MIN_SPEECH_SECONDS == 3.0 and MAX_SPEECH_SECONDS == 29.5


def test_add_refuses_a_two_hour_file_from_its_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two hours of near-silence at 8 kHz: 57.6 million samples, a small FLAC file.
    path = tmp_path / "meeting.flac"
    with soundfile.SoundFile(str(path), "w", 8000, 1, subtype="PCM_16", format="FLAC") as file:
        block = np.zeros(8000 * 60, dtype=np.int16)
        block[::8000] = 1  # a faint tick every second
        for _ in range(120):
            file.write(block)
    assert path.stat().st_size < 10_000_000

    def no_samples(*args: object, **kwargs: object) -> None:
        raise AssertionError("the samples of a 2-hour file must not be read")

    monkeypatch.setattr(soundfile, "read", no_samples)
    started = time.monotonic()
    with pytest.raises(VoiceError) as err:
        add_voice(tmp_path / "v", "meeting", path, "Welcome, everyone.")
    assert time.monotonic() - started < 1.0
    assert str(err.value).startswith("meeting.flac is 2:00:00 long; a voice needs 3 to 29.5 s")
    # the server refuses it by its header too
    with pytest.raises(
        VoiceError, match=r"^meeting\.flac is 7200\.0 s long; use a clip of at most"
    ):
        load_reference_audio(path)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 50),
         "is not a readable audio file"),
        (lambda p: p.write_bytes(b""), "is not a readable audio file"),
        (lambda p: p.write_text("name,value\n1,2\n"), "is not a readable audio file"),
        (lambda p: soundfile.write(str(p), speech(6, 4000), 4000), "sampled at 4000 Hz, too low"),
        (lambda p: soundfile.write(str(p), np.zeros(24000 * 5, np.float32), 24000), "is silent"),
        (lambda p: soundfile.write(str(p), np.full(24000 * 5, np.nan, np.float32), 24000,
                                   subtype="FLOAT"), r"contains invalid \(NaN or infinite\)"),
    ],
    ids=["fake-riff", "empty-file", "text", "4khz", "silent", "nan"],
)  # fmt: skip
def test_add_refuses_what_is_not_a_usable_recording(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "clip.wav"
    make(path)
    with pytest.raises(VoiceError, match=message):
        add_voice(tmp_path / "v", "x", path, "Hello.")


def test_add_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match=r"^ghost\.wav is not a readable audio file"):
        add_voice(tmp_path / "v", "x", tmp_path / "ghost.wav", "Hello.")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("x", "", "the transcript is empty"),
        ("x", " \n\t", "the transcript is empty"),
        ("x", "word " * 500, "the transcript has 2500 characters"),
        ("../evil", "Hi.", "'../evil' cannot be a voice name"),
        ("", "Hi.", "'' cannot be a voice name"),
        (".hidden", "Hi.", "cannot be a voice name"),
        ("a" * 65, "Hi.", "cannot be a voice name"),
    ],
)
def test_add_refuses_bad_names_and_transcripts_before_reading(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(VoiceError, match=message):
        add_voice(tmp_path / "v", name, tmp_path / "not-even-there.wav", text)


def test_add_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    voices = tmp_path / "v"
    first = recording(tmp_path / "one.wav", 4.0, 24000)
    second = recording(tmp_path / "two.wav", 6.0, 24000)
    add_voice(voices, "Anna", first, "First take.", language="english")
    with pytest.raises(VoiceError) as err:
        add_voice(voices, "anna", second, "Second take.")
    assert str(err.value) == f"voice 'Anna' exists already in {voices}; pass --force to replace it"
    add_voice(voices, "anna", second, "Second take.", force=True)
    # the old spelling and its language are gone with it
    assert sorted(p.name for p in voices.iterdir()) == ["anna.txt", "anna.wav"]
    assert soundfile.info(str(voices / "anna.wav")).duration > 6.0


# --- voice list, voice remove ---------------------------------------------------------------


def test_list_shows_each_voice_and_what_is_wrong(tmp_path: Path) -> None:
    voices = tmp_path / "v"
    add_voice(voices, "grandma", recording(tmp_path / "a.wav", 4.0, 24000), "Hello dear.",
              language="german")  # fmt: skip
    (voices / "broken.wav").write_bytes(b"junk")
    (voices / "broken.txt").write_text("Junk.")
    write_reference(voices / "orphan.wav", 3.0)
    entries = {entry.name: entry for entry in list_voices(voices)}
    assert entries["grandma"].language == "german"
    assert entries["grandma"].transcript == "Hello dear."
    assert entries["grandma"].problem is None
    assert 4.0 < entries["grandma"].seconds < 4.8
    assert entries["broken"].seconds is None
    assert "is not a readable audio file" in entries["broken"].problem
    assert entries["orphan"].problem == "missing transcript orphan.txt"
    table = format_entries(list(entries.values()))
    assert table.splitlines()[0].split() == ["NAME", "LENGTH", "LANGUAGE", "TRANSCRIPT"]
    assert "grandma" in table and "de" in table and "NOT USABLE: missing transcript" in table
    assert format_entries([]) == "no voices\n"


def test_remove_deletes_every_file_of_the_voice(tmp_path: Path) -> None:
    voices = tmp_path / "v"
    add_voice(
        voices, "Grandma", recording(tmp_path / "a.wav", 4.0, 24000), "Hi.", language="english"
    )
    write_reference(voices / "other.wav", 3.0)
    (voices / "other.txt").write_text("Other.")
    removed = remove_voice(voices, "grandma")
    assert [p.name for p in removed] == ["Grandma.txt", "Grandma.wav", "Grandma.yaml"]
    assert sorted(p.name for p in voices.iterdir()) == ["other.txt", "other.wav"]
    with pytest.raises(VoiceError) as err:
        remove_voice(voices, "grandma")
    assert str(err.value) == f"voice 'grandma' not found in {voices}; voices there: other"


def test_voice_commands_on_the_command_line(tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    source = recording(tmp_path / "take.wav", 4.0, 44100, lead=0.5, channels=2)
    added = cli("voice", "add", "Oma", "--voices-dir", str(voices), "--audio", str(source),
                "--text", "Guten Morgen, mein Schatz.", "--language", "de")  # fmt: skip
    assert added.returncode == 0, added.stderr.decode()
    assert added.stdout.decode() == f"Added voice 'Oma': {voices / 'Oma.wav'}\n"

    listed = cli("voice", "list", "--voices-dir", str(voices))
    assert listed.returncode == 0
    name, length, unit, language, *transcript = listed.stdout.decode().splitlines()[1].split()
    assert (name, unit, language, transcript) == (
        "Oma",
        "s",
        "de",
        ["Guten", "Morgen,", "mein", "Schatz."],
    )
    assert 4.5 <= float(length) <= 4.7  # 4 s of speech, trimmed, and 0.5 s of silence

    again = cli("voice", "add", "oma", "--voices-dir", str(voices), "--audio", str(source),
                "--text", "Hallo.")  # fmt: skip
    assert again.returncode == 1
    assert again.stderr.decode() == (
        f"wyoming-qwen-tts voice add: error: voice 'Oma' exists already in {voices}; "
        "pass --force to replace it\n"
    )
    bad = cli("voice", "add", "x", "--voices-dir", str(voices), "--audio", str(tmp_path),
              "--text", "Hallo.")  # fmt: skip
    assert bad.returncode == 1 and b"Traceback" not in bad.stderr
    assert len(bad.stderr.decode().splitlines()) == 1

    removed = cli("voice", "remove", "OMA", "--voices-dir", str(voices))
    assert removed.returncode == 0
    assert removed.stdout.decode() == "Removed voice 'Oma': Oma.txt, Oma.wav, Oma.yaml\n"
    assert cli("voice", "list", "--voices-dir", str(voices)).stdout == b"no voices\n"


# --- voice design ---------------------------------------------------------------------------


def test_design_renders_what_upstream_generate_voice_design_renders(
    voice_design_checkpoint: Path,
) -> None:
    from wyoming_qwen_tts.engine.compat import import_qwen_tts

    description = "A deep, slow voice of an old sailor, rough and warm."
    text = "Ahoy there. The sea is calm tonight."
    settings = Settings(voice_design_model=str(voice_design_checkpoint), device="cpu", seed=5)
    render = design_renderer(settings)
    ours = render(description, text, "english", None)
    model = import_qwen_tts().Qwen3TTSModel.from_pretrained(
        str(voice_design_checkpoint), device_map="cpu", dtype=torch.float32
    )
    torch.manual_seed(5)
    wavs, rate = model.generate_voice_design(
        text, instruct=description, language="english", max_new_tokens=frame_budget(text)
    )
    assert rate == 24000 and ours.shape == wavs[0].shape
    assert np.abs(ours - wavs[0]).max() <= 1e-4
    # the description is the instruction: another one gives another voice
    other = render("A bright child's voice.", text, "english", None)
    assert other.shape != ours.shape or np.abs(other - ours).max() > 1e-2


def test_design_stores_an_ordinary_cloned_voice(
    tmp_path: Path, voice_design_checkpoint: Path, base_checkpoint: Path
) -> None:
    voices = tmp_path / "voices"
    result = cli(
        "voice", "design", "--voices-dir", str(voices), "--name", "Captain",
        "--description", "A deep, slow voice of an old sailor.", "--language", "de",
        "--voice-design-model", str(voice_design_checkpoint), "--device", "cpu", "--seed", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == f"Designed voice 'Captain': {voices / 'Captain.wav'}\n"
    transcript = (voices / "Captain.txt").read_text().strip()
    assert transcript == normalize_for_speech(SAMPLE_TEXTS["german"], "german")
    assert yaml.safe_load((voices / "Captain.yaml").read_text()) == {
        "language": "de",
        "description": "A deep, slow voice of an old sailor.",
    }
    audio, rate = soundfile.read(str(voices / "Captain.wav"), dtype="float32")
    assert rate == 24000 and audio.ndim == 1
    assert 3.0 <= len(audio) / rate <= 30.0
    assert not audio[-int(TAIL_SILENCE_SECONDS * rate) :].any()
    found, problems = scan_voices_dir(voices)
    assert problems == []
    assert [(v.name, v.kind, v.language, v.description) for v in found] == [
        ("Captain", VoiceKind.CLONE, "german", "Captain (designed voice)")
    ]
    # From now on the Base model speaks it from its clip: the same timbre every time.
    settings = Settings(
        custom_voice_model=None,
        base_model=str(base_checkpoint),
        voices_dir=voices,
        voice="captain",
        cache_dir=tmp_path / "cache",
        device="cpu",
        seed=2,
    )
    first, second = io.BytesIO(), io.BytesIO()
    assert say(settings, "Ahoy! Land in sight.", first) > 0
    say(settings, "Ahoy! Land in sight.", second)
    assert first.getvalue() == second.getvalue()


def test_design_refuses_a_sample_too_short_to_be_a_reference(
    tmp_path: Path, voice_design_checkpoint: Path
) -> None:
    result = cli(
        "voice", "design", "--voices-dir", str(tmp_path), "--name", "x", "--description", "Calm.",
        "--sample-text", "Hi.", "--voice-design-model", str(voice_design_checkpoint),
        "--device", "cpu", "--seed", "1",
    )  # fmt: skip
    assert result.returncode == 1
    message = result.stderr.decode().strip().splitlines()[-1]
    assert re.match(
        r"wyoming-qwen-tts voice design: error: the rendered sample holds 2\.\d s of speech once "
        r"silence is trimmed; a voice needs at least 3 s",
        message,
    )
    assert "render it again with another seed, or a longer sample text" in message
    assert not list(tmp_path.iterdir())


def test_design_refuses_an_empty_description_before_loading(tmp_path: Path) -> None:
    result = cli("voice", "design", "--voices-dir", str(tmp_path), "--name", "x",
                 "--description", "  ", "--voice-design-model", "/nonexistent")  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.decode().startswith(
        "wyoming-qwen-tts voice design: error: the description is empty"
    )
