"""``wyoming-qwen-tts voice design|add|list|remove``: managing the cloned voices of a voices dir.

A voice is NAME.wav (the reference clip, as ``reference_clip`` prepares it), NAME.txt (exactly
what is said in it) and optionally NAME.yaml (``language``; ``description`` for a designed
voice; ``styles``). A running server picks changes up by itself (``--voices-poll-interval``).

``voice design`` renders the reference with the VoiceDesign checkpoint, the description being
its instruction, and stores it like any recording: from then on the voice is an ordinary cloned
voice, spoken by the Base model from that clip, so its timbre is the same in every answer.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import yaml

from wyoming_qwen_tts.audio.pcm import SAMPLE_RATE
from wyoming_qwen_tts.text.languages import language_code, model_language
from wyoming_qwen_tts.text.normalize import normalize_for_speech
from wyoming_qwen_tts.voices.files import VOICE_SUFFIXES, read_voice_yaml
from wyoming_qwen_tts.voices.recording import prepare_reference, read_recording
from wyoming_qwen_tts.voices.reference import audio_header
from wyoming_qwen_tts.voices.voice import VOICE_NAME_PATTERN, VoiceError

_LOGGER = logging.getLogger(__name__)

MAX_TRANSCRIPT_CHARS = 2_000

# What a designed voice reads for its reference clip, per model language: about ten seconds of
# everyday speech with questions, statements and varied sounds.
SAMPLE_TEXTS: dict[str | None, str] = {
    None: "Hello! It's lovely to meet you. This is how my voice sounds when I read a few "
    "sentences aloud, calmly and clearly. What would you like to hear today?",
    "english": "Hello! It's lovely to meet you. This is how my voice sounds when I read a few "
    "sentences aloud, calmly and clearly. What would you like to hear today?",
    "german": "Hallo! Schön, dich kennenzulernen. So klingt meine Stimme, wenn ich ein paar "
    "Sätze ruhig und deutlich vorlese. Was möchtest du heute hören?",
    "french": "Bonjour ! Ravi de faire votre connaissance. Voici comment sonne ma voix quand je "
    "lis quelques phrases, calmement et clairement. Que voulez-vous entendre aujourd'hui ?",
    "spanish": "¡Hola! Encantado de conocerte. Así suena mi voz cuando leo unas frases en voz "
    "alta, con calma y claridad. ¿Qué te gustaría escuchar hoy?",
    "italian": "Ciao! Piacere di conoscerti. Ecco come suona la mia voce quando leggo qualche "
    "frase ad alta voce, con calma e chiarezza. Che cosa vorresti ascoltare oggi?",
    "portuguese": "Olá! Prazer em conhecer você. É assim que a minha voz soa quando leio "
    "algumas frases em voz alta, com calma e clareza. O que você gostaria de ouvir hoje?",
    "russian": "Здравствуйте! Рад познакомиться. Вот как звучит мой голос, когда я спокойно и "
    "чётко читаю вслух несколько предложений. Что бы вы хотели услышать сегодня?",
    "chinese": "你好！很高兴认识你。这就是我平静而清晰地朗读几句话时的声音。你今天想听点什么呢？",
    "japanese": "こんにちは！お会いできてうれしいです。これは、私がいくつかの文を落ち着いて"
    "はっきりと読み上げるときの声です。今日は何を聞きたいですか？",
    "korean": "안녕하세요! 만나서 반갑습니다. 이것은 제가 몇 문장을 차분하고 또렷하게 소리 내어 "
    "읽을 때의 목소리입니다. 오늘은 무엇을 듣고 싶으세요?",
}


@dataclass(frozen=True)
class VoiceEntry:
    """One voice of a voices dir, as ``voice list`` shows it."""

    name: str
    seconds: float | None
    """None when the clip cannot be read."""
    language: str | None
    transcript: str
    description: str | None = None
    problem: str | None = None


# --- add, design ---------------------------------------------------------------------------


def add_voice(
    voices_dir: Path,
    name: str,
    audio_path: Path,
    transcript: str,
    *,
    language: str | None = None,
    force: bool = False,
) -> Path:
    """Validates and normalizes a recording and stores it as voice ``name``; returns the clip.

    Raises VoiceError (a user-facing message) for a bad name, transcript or recording, and for
    an existing voice unless ``force``.
    """
    check_new_voice(voices_dir, name, transcript, force)
    audio, rate = read_recording(audio_path)
    clip = prepare_reference(audio, rate, audio_path.name)
    return save_voice(voices_dir, name, clip, transcript, language=language, force=force)


Renderer = Callable[[str, str, str | None, int | None], np.ndarray]
"""``(description, text, language, seed) -> float32 samples at 24 kHz``: the VoiceDesign model
speaking ``text`` in the described voice (``app.compose.design_renderer``); a seed of None is
the server's own."""


def design_voice(
    render: Renderer,
    voices_dir: Path,
    name: str,
    description: str,
    *,
    language: str | None = None,
    sample_text: str | None = None,
    force: bool = False,
) -> Path:
    """Renders a voice from its description with ``render`` (the VoiceDesign checkpoint) and
    stores it as voice ``name``; returns the clip. ``language`` is a model language name."""
    description = " ".join(description.split())
    if not description:
        raise VoiceError(
            "the description is empty; describe the voice, for example "
            '--description "a warm, calm female voice in her fifties"'
        )
    text = design_text(language, sample_text)
    check_new_voice(voices_dir, name, text, force)
    audio = render(description, text, language, None)
    return keep_design(
        voices_dir, name, audio, text, language=language, description=description, force=force
    )


def design_text(language: str | None, sample_text: str | None = None) -> str:
    """What a designed voice's reference clip says: the given text, or a sample in its
    language, ready to be spoken."""
    sample = sample_text or SAMPLE_TEXTS.get(language, SAMPLE_TEXTS[None])
    return normalize_for_speech(sample, language)


def keep_design(
    voices_dir: Path,
    name: str,
    audio: np.ndarray,
    text: str,
    *,
    language: str | None,
    description: str,
    force: bool = False,
) -> Path:
    """Stores a rendered design as voice ``name`` (checked and trimmed like a recording)."""
    check_new_voice(voices_dir, name, text, force)
    try:
        clip = prepare_reference(audio, SAMPLE_RATE, "the rendered sample")
    except VoiceError as err:
        raise VoiceError(
            f"{err}. The model stopped early or rambled: render it again with another seed, "
            "or a longer sample text"
        ) from err
    return save_voice(
        voices_dir, name, clip, text, language=language, description=description, force=force
    )


def wav_bytes(samples: np.ndarray) -> bytes:
    """Float samples at 24 kHz as a 16-bit WAV file."""
    output = io.BytesIO()
    soundfile.write(output, samples, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return output.getvalue()


class BadVoiceName(VoiceError):
    """The name cannot be a voice's name."""


class BadTranscript(VoiceError):
    """The transcript is empty or too long."""


class VoiceExists(VoiceError):
    """A voice of that name exists already."""


class VoiceMissing(VoiceError):
    """No voice of that name is in the folder."""


def check_new_voice(voices_dir: Path, name: str, transcript: str, force: bool) -> None:
    """Refuses a bad name or transcript, and an existing voice unless ``force``."""
    if not VOICE_NAME_PATTERN.match(name):
        raise BadVoiceName(
            f"'{name}' cannot be a voice name: start with a letter or digit and use only "
            "letters, digits, spaces, '.', '_' and '-' (64 at most)"
        )
    if not transcript.strip():
        raise BadTranscript("the transcript is empty; pass exactly what is said in the clip")
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        raise BadTranscript(
            f"the transcript has {len(transcript)} characters; a clip of at most 30 s holds "
            f"far fewer (at most {MAX_TRANSCRIPT_CHARS})"
        )
    existing = _voice_files(voices_dir, name)
    if existing and not force:
        raise VoiceExists(
            f"voice '{existing[0].stem}' exists already in {voices_dir}; pass --force to replace it"
        )


def save_voice(
    voices_dir: Path,
    name: str,
    clip: np.ndarray,
    transcript: str,
    *,
    language: str | None = None,
    description: str | None = None,
    force: bool = False,
) -> Path:
    """Writes NAME.txt, NAME.yaml (if there is anything to say) and, last, NAME.wav, each
    atomically, so that a server looking at the folder never reads half a voice."""
    transcript = " ".join(transcript.split())
    check_new_voice(voices_dir, name, transcript, force)
    voices_dir.mkdir(parents=True, exist_ok=True)
    for old in _voice_files(voices_dir, name):  # with --force, also other spellings of the name
        old.unlink()
    _write_atomically(voices_dir / f"{name}.txt", (transcript + "\n").encode())
    metadata: dict[str, str] = {}
    if language is not None:
        metadata["language"] = language_code(language)
    if description is not None:
        metadata["description"] = description
    if metadata:
        text = yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False)
        _write_atomically(voices_dir / f"{name}.yaml", text.encode())
    clip_path = voices_dir / f"{name}.wav"
    handle, temporary = tempfile.mkstemp(dir=voices_dir, prefix=".voice-", suffix=".tmp")
    os.close(handle)
    try:
        soundfile.write(temporary, clip, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        os.replace(temporary, clip_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return clip_path


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".voice-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


# --- list, remove --------------------------------------------------------------------------


def list_voices(voices_dir: Path) -> list[VoiceEntry]:
    """Every NAME.wav of the folder, with what is wrong with it, if anything."""
    if not voices_dir.is_dir():
        raise VoiceError(f"voices dir {voices_dir} does not exist")
    entries: list[VoiceEntry] = []
    for clip in sorted(voices_dir.glob("*.wav"), key=lambda path: path.stem.lower()):
        problem = None
        seconds = None
        try:
            seconds = audio_header(clip).seconds
        except VoiceError as err:
            problem = str(err)
        transcript_path = clip.with_suffix(".txt")
        try:
            transcript = " ".join(transcript_path.read_text(encoding="utf-8").split())
        except FileNotFoundError:
            transcript, problem = "", problem or f"missing transcript {transcript_path.name}"
        except (OSError, UnicodeDecodeError) as err:
            transcript, problem = "", problem or f"cannot read {transcript_path.name}: {err}"
        if not transcript and problem is None:
            problem = f"transcript {transcript_path.name} is empty"
        language = description = None
        try:
            metadata = read_voice_yaml(clip.with_suffix(".yaml"))
            language, description = metadata.language, metadata.description
        except ValueError as err:
            problem = problem or str(err)
        entries.append(VoiceEntry(clip.stem, seconds, language, transcript, description, problem))
    return entries


def remove_voice(voices_dir: Path, name: str) -> list[Path]:
    """Deletes the files of voice ``name`` (case-insensitive); returns them."""
    files = _voice_files(voices_dir, name)
    if not files:
        names = ", ".join(entry.name for entry in list_voices(voices_dir)) or "none"
        raise VoiceMissing(f"voice '{name}' not found in {voices_dir}; voices there: {names}")
    for path in files:
        path.unlink()
    return files


def _voice_files(voices_dir: Path, name: str) -> list[Path]:
    if not voices_dir.is_dir():
        return []
    return sorted(
        path
        for path in voices_dir.iterdir()
        if path.stem.lower() == name.lower() and path.suffix in VOICE_SUFFIXES
    )


def format_entries(entries: list[VoiceEntry]) -> str:
    """``voice list``'s table."""
    if not entries:
        return "no voices\n"
    rows = [("NAME", "LENGTH", "LANGUAGE", "TRANSCRIPT")]
    for entry in entries:
        length = "?" if entry.seconds is None else f"{entry.seconds:.1f} s"
        language = language_code(entry.language) if entry.language else "auto"
        text = entry.transcript if len(entry.transcript) <= 50 else entry.transcript[:49] + "…"
        if entry.problem:
            text = f"NOT USABLE: {entry.problem}"
        elif entry.description:
            text += f"  (designed: {entry.description})"
        rows.append((entry.name, length, language, text))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join([*(row[i].ljust(widths[i]) for i in range(3)), row[3]]).rstrip() for row in rows
    ]
    return "\n".join(lines) + "\n"


def parse_language(value: str | None) -> str | None:
    """``--language`` of the voice commands: a model language name, or None for auto."""
    try:
        return model_language(value)
    except ValueError as err:
        raise VoiceError(str(err)) from None
