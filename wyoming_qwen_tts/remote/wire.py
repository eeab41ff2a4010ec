"""vLLM-Omni's OpenAI-compatible speech API on the wire: the request body a sentence becomes,
and the pieces of the answers (streamed PCM, SSE events, error bodies, the voice list).

Followed: vLLM-Omni ``vllm_omni/entrypoints/openai/protocol/audio.py`` and
``serving_speech.py``, upstream main at 0342827dd787296b8a6b1e9f523ebaa24d13c714 and the
0.30.0 release. A sentence is asked for with ``stream: true`` and ``stream_format: "audio"``:
raw 24 kHz 16-bit mono PCM in both (0.30.0 answers ``stream: true`` alone with SSE, earlier
versions refuse ``"sse"``); an SSE answer is read all the same. Our own server speaks the same.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from wyoming_qwen_tts.engine.interface import SynthesisRequest
from wyoming_qwen_tts.text.languages import LANGUAGES, model_language
from wyoming_qwen_tts.voices.styles import Style
from wyoming_qwen_tts.voices.voice import Voice, VoiceKind

TASK_TYPES = {VoiceKind.PREMIUM: "CustomVoice", VoiceKind.CLONE: "Base", VoiceKind.DESIGN: "VoiceDesign"}
NOT_A_VOICE = frozenset({"default"})
"""vLLM-Omni 0.30.0 lists "default" among the voices: the model's first speaker again."""


class WireError(Exception):
    """The remote answered with an error, or with something that is not its protocol."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def speech_body(request: SynthesisRequest) -> dict[str, Any]:
    """The ``POST /audio/speech`` body that streams one sentence as raw PCM."""
    body: dict[str, Any] = {
        "input": request.text,
        "voice": request.voice.name,
        "response_format": "pcm",
        "stream": True,
        "stream_format": "audio",
        "task_type": TASK_TYPES[request.voice.kind],
    }
    if request.language is not None:
        body["language"] = request.language.capitalize()  # "English", as vLLM-Omni lists them
    if request.instruct is not None:
        body["instructions"] = request.instruct
    return body


class PcmStream:
    """Whole 16-bit samples out of byte chunks cut anywhere."""

    def __init__(self) -> None:
        self._odd = b""

    def feed(self, data: bytes) -> bytes:
        data = self._odd + data
        cut = len(data) - len(data) % 2
        self._odd = data[cut:]
        return data[:cut]

    def end(self) -> None:
        """Raises WireError if the stream ended inside a sample."""
        if self._odd:
            raise WireError("the remote's audio ended inside a sample")


class SseAudio:
    """PCM out of vLLM-Omni's (and OpenAI's) speech SSE events, fed bytes cut anywhere.

    ``speech.audio.delta`` carries base64 audio, ``speech.audio.done`` ends the stream and
    ``speech.audio.error`` (vLLM-Omni) ends it with an error. A WAV stream's header is dropped.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._pcm = PcmStream()
        self._header_left = 0
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """The audio completed by ``data``; raises WireError on an error event."""
        self._buffer += data.replace(b"\r\n", b"\n")
        audio = []
        while not self.done:
            end = self._buffer.find(b"\n\n")
            if end < 0:
                break
            block, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
            audio.append(self._event(block))
        return self._pcm.feed(b"".join(audio))

    def end(self) -> None:
        """Raises WireError if the stream stopped before its done event."""
        if not self.done:
            raise WireError("the remote's event stream ended before speech.audio.done")
        self._pcm.end()

    def _event(self, block: bytes) -> bytes:
        lines = [line for line in block.split(b"\n") if line and not line.startswith(b":")]
        data = b"\n".join(line[5:].lstrip(b" ") for line in lines if line.startswith(b"data:"))
        if not data:
            return b""
        try:
            event = json.loads(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise WireError(f"the remote sent an event that is not JSON: {err}") from None
        if not isinstance(event, dict):
            raise WireError("the remote sent an event that is not a JSON object")
        kind = event.get("type")
        if kind == "speech.audio.delta":
            return self._delta(event)
        if kind == "speech.audio.done":
            self.done = True
        elif kind == "speech.audio.error":
            raise WireError(_message(event.get("error")) or "the remote failed mid-stream")
        return b""

    def _delta(self, event: dict[str, Any]) -> bytes:
        try:
            audio = base64.b64decode(event.get("audio") or "", validate=True)
        except (binascii.Error, TypeError):
            raise WireError("the remote sent audio that is not base64") from None
        if event.get("response_format") == "wav" and audio.startswith(b"RIFF"):
            self._header_left = 44
        if self._header_left:
            skipped = min(self._header_left, len(audio))
            self._header_left -= skipped
            audio = audio[skipped:]
        return audio


def error_message(status: int, body: bytes) -> str:
    """What an error answer says: vLLM's ``{"error": {"message": ...}}``, its 401's
    ``{"error": "Unauthorized"}``, or the body's text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    message = _message(parsed.get("error")) if isinstance(parsed, dict) else None
    if message is None and isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        message = parsed["message"]  # vLLM's older flat {"object": "error", "message": ...}
    return message or text[:300] or f"HTTP {status}"


def _message(error: Any) -> str | None:
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return None


@dataclass(frozen=True)
class RemoteVoices:
    """What a remote's ``GET /audio/voices`` lists."""

    voices: tuple[Voice, ...]
    accepts_uploads: bool
    """Whether ``POST /audio/voices`` may add a cloned voice (a Base model, or our server)."""


def parse_voices(answer: Any, *, where: str) -> RemoteVoices:
    """The voices of a voice list: vLLM-Omni's ``voices`` and ``uploaded_voices``, and our own
    server's ``details`` (kinds, languages, styles) where they are given.

    ``where`` (the remote's address) goes into each voice's description. Raises WireError.
    """
    if not isinstance(answer, dict) or not isinstance(answer.get("voices"), list):
        raise WireError("the voice list has no 'voices' list")
    names = [n for n in answer["voices"] if isinstance(n, str) and n.lower() not in NOT_A_VOICE]
    uploaded = {
        item["name"].lower(): item
        for item in answer.get("uploaded_voices") or []
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    }
    details = {
        item["name"].lower(): item
        for item in answer.get("details") or []
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    }
    voices = [_voice(name, details.get(name.lower()), name.lower() in uploaded, where) for name in names]
    if "can_add" in answer:
        accepts = answer.get("can_add") is True
    else:
        accepts = bool(uploaded) or not any(v.kind is VoiceKind.PREMIUM for v in voices)
    return RemoteVoices(tuple(voices), accepts)


def _voice(name: str, details: dict[str, Any] | None, uploaded: bool, where: str) -> Voice:
    kind = VoiceKind.CLONE if uploaded else VoiceKind.PREMIUM
    description = f"{name} (on {where})"
    language = None
    styles: tuple[Style, ...] = ()
    if details is not None:
        kind = VoiceKind.PREMIUM if details.get("kind") == "premium" else VoiceKind.CLONE
        if isinstance(details.get("description"), str) and details["description"]:
            description = f"{details['description']} (on {where})"
        codes = [c for c in details.get("languages") or [] if c in LANGUAGES]
        if len(codes) == 1:
            language = model_language(codes[0])
        # The remote knows each style's instruction; asked by name, it applies it.
        styles = tuple(
            Style(name=style, instruct=style)
            for style in details.get("styles") or []
            if isinstance(style, str) and style
        )
    return Voice(
        name=name,
        kind=kind,
        description=description,
        language=language,
        speaker=name.lower() if kind is VoiceKind.PREMIUM else None,
        styles=styles,
        remote=True,
    )


def parse_model(answer: Any) -> str:
    """The served model's id from ``GET /models`` (vLLM's ModelList); raises WireError."""
    data = answer.get("data") if isinstance(answer, dict) else None
    ids = [item.get("id") for item in data or [] if isinstance(item, dict)]
    ids = [i for i in ids if isinstance(i, str) and i]
    if not ids:
        raise WireError("the model list names no model")
    return " + ".join(ids)
