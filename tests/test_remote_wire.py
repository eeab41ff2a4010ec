"""vLLM-Omni's speech API on the wire, as the front reads it.

The fixtures are shaped exactly as vLLM-Omni writes its answers:

- ``vllm_omni/entrypoints/openai/serving_speech.py`` of the 0.30.0 release,
  ``_generate_audio_sse_events`` (lines 1817-1890): ``event: NAME`` then ``data: JSON`` with
  compact separators, a ``speech.audio.delta`` per chunk with ``audio`` (base64 PCM) and
  ``response_format``, then ``speech.audio.done`` with ``usage``, or ``speech.audio.error``
  instead; no ``[DONE]``.
- raw streaming (``stream_format: "audio"``; ``stream: true`` at upstream main
  0342827dd787296b8a6b1e9f523ebaa24d13c714, lines 3800-3829): 16-bit PCM in chunks cut anywhere.
- errors: vLLM's ``ErrorResponse`` (``{"error": {"message", "type", "param", "code": int}}``) and
  its API-key middleware's ``{"error": "Unauthorized"}``.
- ``GET /v1/audio/voices`` (``api_server.py``): ``voices`` and ``uploaded_voices``; 0.30.0 lists
  ``default`` too.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wyoming_qwen_tts.engine.interface import SynthesisRequest
from wyoming_qwen_tts.remote.wire import (
    PcmStream,
    SseAudio,
    WireError,
    error_message,
    parse_model,
    parse_voices,
    speech_body,
)
from wyoming_qwen_tts.voices.voice import Voice, VoiceKind

PCM = bytes(range(256)) * 9 + b"\x01\x02"
"""2306 bytes: 1153 samples."""


def _event(payload: dict) -> bytes:
    data = json.dumps(payload, separators=(",", ":"))
    return f"event: {payload['type']}\ndata: {data}\n\n".encode()


def _delta(pcm: bytes, response_format: str = "pcm") -> bytes:
    audio = base64.b64encode(pcm).decode()
    return _event({"type": "speech.audio.delta", "audio": audio, "response_format": response_format})


USAGE = {
    "input_tokens": 12,
    "output_tokens": 40,
    "total_tokens": 52,
    "input_token_details": {"text_tokens": 12, "audio_tokens": 0},
}
DONE = _event({"type": "speech.audio.done", "usage": USAGE})
SSE = _delta(PCM[:1001]) + _delta(PCM[1001:1800]) + _delta(PCM[1800:]) + DONE


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def _read_sse(chunks: list[bytes]) -> bytes:
    sse = SseAudio()
    out = b"".join(sse.feed(chunk) for chunk in chunks)
    sse.end()
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_sse_deltas_cut_anywhere_give_the_same_pcm(cuts: list[int]) -> None:
    assert _read_sse(_cut(SSE, cuts)) == PCM


def test_sse_cut_at_every_single_byte() -> None:
    assert _read_sse([SSE[i : i + 1] for i in range(len(SSE))]) == PCM


def test_sse_with_crlf_lines_and_comments() -> None:
    stream = b": keep-alive\r\n\r\n" + SSE.replace(b"\n", b"\r\n")
    assert _read_sse([stream]) == PCM


def test_sse_wav_stream_drops_the_header_only_delta() -> None:
    header = b"RIFF\xff\xff\xff\xffWAVEfmt " + bytes(20) + b"data\xff\xff\xff\xff"
    assert len(header) == 44
    stream = _delta(header, "wav") + _delta(PCM, "wav") + DONE
    assert _read_sse([stream]) == PCM


def test_sse_error_event_raises_its_message() -> None:
    error = {
        "type": "speech.audio.error",
        "error": {
            "message": "codec budget exhausted",
            "type": "server_error",
            "param": None,
            "code": 500,
            "partial_audio": True,
            "action": "discard",
        },
    }
    sse = SseAudio()
    assert sse.feed(_delta(PCM[:100])) == PCM[:100]
    with pytest.raises(WireError, match="codec budget exhausted"):
        sse.feed(_event(error))


def test_an_empty_sse_stream_is_an_error() -> None:
    with pytest.raises(WireError, match="before speech.audio.done"):
        _read_sse([b""])


def test_an_sse_stream_cut_before_done_is_an_error() -> None:
    with pytest.raises(WireError, match="before speech.audio.done"):
        _read_sse([SSE[: len(SSE) - len(DONE)]])


def test_sse_rejects_what_is_not_its_protocol() -> None:
    with pytest.raises(WireError, match="not JSON"):
        SseAudio().feed(b"data: {oops\n\n")
    with pytest.raises(WireError, match="not base64"):
        SseAudio().feed(_event({"type": "speech.audio.delta", "audio": "!!"}))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3000), max_size=30))
def test_raw_pcm_cut_anywhere_keeps_whole_samples(cuts: list[int]) -> None:
    stream = PcmStream()
    pieces = [stream.feed(chunk) for chunk in _cut(PCM, cuts)]
    stream.end()
    assert all(len(piece) % 2 == 0 for piece in pieces)
    assert b"".join(pieces) == PCM


def test_raw_pcm_ending_inside_a_sample_is_an_error() -> None:
    stream = PcmStream()
    stream.feed(PCM[:5])
    with pytest.raises(WireError, match="inside a sample"):
        stream.end()


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            b'{"error":{"message":"Invalid voice \'anna\'. Supported: aiden, dylan","type":'
            b'"BadRequestError","param":null,"code":400}}',
            "Invalid voice 'anna'. Supported: aiden, dylan",
        ),
        (
            404,
            b'{"error":{"message":"The model `x` does not exist.","type":"NotFoundError",'
            b'"param":"model","code":404}}',
            "The model `x` does not exist.",
        ),
        (401, b'{"error":"Unauthorized"}', "Unauthorized"),
        (400, b'{"object":"error","message":"old shape","type":"x","code":400}', "old shape"),
        (502, b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (500, b"", "HTTP 500"),
    ],
)
def test_error_bodies(status: int, body: bytes, message: str) -> None:
    assert error_message(status, body) == message


def test_vllm_omni_voice_list() -> None:
    answer = {
        "voices": ["aiden", "default", "grandma", "ryan", "vivian"],
        "uploaded_voices": [
            {
                "name": "grandma",
                "consent": "ok",
                "created_at": 1760000000,
                "file_size": 120000,
                "mime_type": "audio/wav",
                "embedding_source": "audio",
                "embedding_dim": 1024,
                "ref_text": "Hello.",
            }
        ],
    }
    listed = parse_voices(answer, where="gpu-box:8091")
    kinds = {voice.name: voice.kind for voice in listed.voices}
    assert kinds == {
        "aiden": VoiceKind.PREMIUM,
        "grandma": VoiceKind.CLONE,
        "ryan": VoiceKind.PREMIUM,
        "vivian": VoiceKind.PREMIUM,
    }
    assert all(voice.remote for voice in listed.voices)
    assert listed.voices[0].description == "aiden (on gpu-box:8091)"
    assert listed.accepts_uploads


def test_our_own_voice_list_gives_languages_and_styles() -> None:
    answer = {
        "voices": ["ryan", "oma"],
        "uploaded_voices": [{"name": "oma", "ref_text": "Hallo."}],
        "details": [
            {"name": "ryan", "kind": "premium", "languages": ["en", "de"], "styles": ["calm"],
             "description": "Ryan (Qwen3-TTS premium speaker)"},
            {"name": "oma", "kind": "cloned", "languages": ["de"], "styles": [], "description": ""},
        ],
        "can_add": False,
    }  # fmt: skip
    ryan, oma = parse_voices(answer, where="box").voices
    assert (ryan.kind, ryan.language, [s.name for s in ryan.styles]) == (VoiceKind.PREMIUM, None, ["calm"])
    assert (oma.kind, oma.language) == (VoiceKind.CLONE, "german")
    assert not parse_voices(answer, where="box").accepts_uploads


@pytest.mark.parametrize("answer", [[], {}, {"voices": "ryan"}])
def test_a_voice_list_that_is_not_one(answer: object) -> None:
    with pytest.raises(WireError, match="'voices'"):
        parse_voices(answer, where="box")


def test_model_list() -> None:
    answer = {"object": "list", "data": [{"id": "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice",
                                           "object": "model", "owned_by": "vllm"}]}  # fmt: skip
    assert parse_model(answer) == "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice"
    with pytest.raises(WireError):
        parse_model({"object": "list", "data": []})


def test_the_request_asks_for_raw_pcm_in_every_version() -> None:
    clone = Voice(name="Oma", kind=VoiceKind.CLONE, description="", remote=True)
    body = speech_body(SynthesisRequest(text="Hallo.", voice=clone, language="german"))
    assert body == {
        "input": "Hallo.",
        "voice": "Oma",
        "response_format": "pcm",
        "stream": True,
        "stream_format": "audio",
        "task_type": "Base",
        "language": "German",
    }
    premium = Voice(name="ryan", kind=VoiceKind.PREMIUM, description="", remote=True)
    body = speech_body(SynthesisRequest(text="Hi.", voice=premium, instruct="calm"))
    assert body["task_type"] == "CustomVoice" and body["instructions"] == "calm"
    assert "language" not in body
