"""The HTTP side of the real server: the official OpenAI client, the voices API seen from
Wyoming, streaming, auth, Home Assistant's reload, and every kind of bad input."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import numpy as np
import openai
import pytest
import soundfile
from aiohttp import web
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from .wyoming_server import (
    REPO_ROOT,
    RunningServer,
    audio_of,
    read_until,
    server_env,
    start_server,
    write_reference,
)

SEED = 6
TOKEN = "s3cret-key"
TEXT = "The porch light is on. The back door is locked."
MAX_UPLOAD = 1_000_000


@pytest.fixture(scope="module")
def voices_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("http_voices")


def _args(custom: Path, base: Path, voices: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu", "--seed", str(SEED),
        "--custom-voice-model", str(custom), "--base-model", str(base),
        "--voices-dir", str(voices), "--voices-poll-interval", "0", "--cache-dir", str(cache),
        "--http-host", "127.0.0.1", "--http-port", "0",
        "--max-upload-bytes", str(MAX_UPLOAD), "--max-text", "2000", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    custom_voice_checkpoint: Path,
    base_checkpoint: Path,
    voice_design_checkpoint: Path,
    voices_dir: Path,
) -> Iterator[RunningServer]:
    cache = tmp_path_factory.mktemp("http_cache")
    running = start_server(
        _args(
            custom_voice_checkpoint, base_checkpoint, voices_dir, cache,
            "--voice-design-model", str(voice_design_checkpoint),
        ),
        tmp_path_factory.mktemp("http_server") / "server.log",
    )  # fmt: skip
    yield running
    running.stop()


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, custom_voice_checkpoint: Path, base_checkpoint: Path
) -> Iterator[RunningServer]:
    """A server with a token, accepting HTTP only from 127.0.0.1."""
    running = start_server(
        _args(
            custom_voice_checkpoint,
            base_checkpoint,
            tmp_path_factory.mktemp("guarded_voices"),
            tmp_path_factory.mktemp("guarded_cache"),
            "--http-allow", "127.0.0.1",
        ),
        tmp_path_factory.mktemp("guarded_server") / "server.log",
        env={"WYOMING_QWEN_TTS_HTTP_TOKEN": TOKEN},
    )  # fmt: skip
    yield running
    running.stop()


def url(server: RunningServer, path: str = "") -> str:
    return f"http://127.0.0.1:{server.http_port}/{path}"


async def wyoming_audio(server: RunningServer, text: str, voice: str) -> bytes:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        return audio_of(await read_until(client, ("audio-stop", "error")))


async def describe_names(server: RunningServer) -> list[str]:
    async with AsyncTcpClient(server.host, server.port) as client:
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, ("info",)))[-1])
    return [voice.name for voice in info.tts[0].voices]


def clip_bytes(seconds: float = 3.0, seed: int = 1) -> bytes:
    path = io.BytesIO()
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 24000)) / 24000
    wave = 0.3 * (0.5 + 0.5 * np.sin(8 * np.pi * t)) * (np.sin(2 * np.pi * 180 * t) + 0.3 * rng.standard_normal(t.shape))
    soundfile.write(path, wave.astype(np.float32), 24000, format="WAV", subtype="PCM_16")
    return path.getvalue()


def form(name: str, text: str = "This is a new voice, speaking clearly.", audio: bytes | None = None, **more: str) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("name", name)
    data.add_field("text", text)
    for key, value in more.items():
        data.add_field(key, value)
    data.add_field("audio", audio if audio is not None else clip_bytes(), filename="clip.wav", content_type="audio/wav")
    return data


async def error_of(response: aiohttp.ClientResponse) -> dict:
    body = await response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == response.status
    return body["error"]


# --- the official OpenAI client ------------------------------------------------------------


def test_openai_client_gets_a_wav(server: RunningServer) -> None:
    client = openai.OpenAI(base_url=url(server, "v1"), api_key="unused")
    response = client.audio.speech.create(model="qwen3-tts", voice="ryan", input=TEXT)
    samples, rate = soundfile.read(io.BytesIO(response.read()))
    assert rate == 24000 and samples.ndim == 1 and len(samples) > 0


async def test_openai_streaming_pcm_arrives_before_generation_ends(server: RunningServer) -> None:
    client = openai.AsyncOpenAI(base_url=url(server, "v1"), api_key="unused")
    text = " ".join(["The kitchen timer rang and the bread is ready to come out."] * 4)
    async with client.audio.speech.with_streaming_response.create(
        model="qwen3-tts", voice="ryan", input=text, response_format="pcm"
    ) as response:
        chunks = response.iter_bytes()
        first = await anext(chunks)
        async with aiohttp.ClientSession() as session:
            async with session.get(url(server, "health")) as health:
                in_progress = (await health.json())["requests_in_progress"]
        rest = b"".join([chunk async for chunk in chunks])
    assert first and rest  # more came after the first bytes ...
    assert in_progress == 1  # ... which left while the request was still generating


async def test_a_client_that_leaves_cancels_its_generation(server: RunningServer) -> None:
    text = " ".join(["The garden sprinklers start at six in the morning, every day."] * 6)
    mark = len(server.log())
    reader, writer = await asyncio.open_connection("127.0.0.1", server.http_port)
    body = json.dumps({"input": text, "voice": "ryan", "response_format": "pcm"}).encode()
    writer.write(
        b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    await writer.drain()
    async with asyncio.timeout(60):
        assert b"200 OK" in await reader.readuntil(b"\r\n\r\n")
        assert await reader.read(1000)  # audio is flowing
    writer.close()
    cancelled = await asyncio.to_thread(server.wait_for_log, r"Cancelled 'The garden.*' after \d+ frames", 30)
    assert cancelled.start() >= mark


def test_a_wrong_key_is_an_authentication_error(guarded: RunningServer) -> None:
    wrong = openai.OpenAI(base_url=url(guarded, "v1"), api_key="wrong")
    with pytest.raises(openai.AuthenticationError):
        wrong.audio.speech.create(model="qwen3-tts", voice="ryan", input="Hi there.")
    right = openai.OpenAI(base_url=url(guarded, "v1"), api_key=TOKEN)
    assert right.audio.speech.create(model="m", voice="ryan", input="Hi there.").read()[:4] == b"RIFF"


# --- the same audio as Wyoming --------------------------------------------------------------


async def test_http_audio_equals_wyoming_audio(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        body = {"input": TEXT, "voice": "vivian", "response_format": "pcm"}
        async with session.post(url(server, "v1/audio/speech"), json=body) as response:
            assert response.status == 200 and response.content_type == "audio/pcm"
            http = await response.read()
        body["stream_format"] = "sse"
        async with session.post(url(server, "v1/audio/speech"), json=body) as response:
            assert response.content_type == "text/event-stream"
            events = [
                json.loads(line.removeprefix(b"data: "))
                async for line in response.content
                if line.startswith(b"data: ")
            ]
    assert http and http == await wyoming_audio(server, TEXT, "vivian")
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done"
    assert b"".join(base64.b64decode(e["audio"]) for e in events[:-1]) == http


async def test_wav_streams_with_an_open_header_and_holds_the_pcm(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(url(server, "v1/audio/speech"), json={"input": "Hello.", "voice": "ryan", "response_format": "pcm"}) as r:
            pcm = await r.read()
        async with session.post(url(server, "v1/audio/speech"), json={"input": "Hello.", "voice": "ryan"}) as r:
            wav = await r.read()
    assert wav[:4] == b"RIFF" and wav[4:8] == b"\xff\xff\xff\xff" and wav[44:] == pcm


# --- voices over HTTP are Wyoming's voices at once -------------------------------------------


async def test_an_uploaded_voice_is_in_describe_at_once_and_gone_after_delete(
    server: RunningServer, voices_dir: Path
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(url(server, "v1/audio/voices"), data=form("Oma Erna", language="de")) as response:
            assert response.status == 201, await response.text()
            body = await response.json()
        assert body["voice"]["name"] == "Oma Erna" and body["voice"]["kind"] == "cloned"
        assert body["voice"]["languages"] == ["de"]
        assert body["reload"]["done"] is False and "Wyoming" in body["reload"]["hint"]
        assert "Oma Erna" in await describe_names(server)
        async with session.get(url(server, "v1/audio/voices")) as response:
            listed = await response.json()
        assert "Oma Erna" in listed["voices"]
        assert await wyoming_audio(server, "Guten Morgen.", "Oma Erna")
        async with session.delete(url(server, "v1/audio/voices/Oma Erna")) as response:
            assert response.status == 200 and (await response.json())["success"] is True
        async with session.delete(url(server, "v1/audio/voices/Oma Erna")) as response:
            assert response.status == 404 and (await error_of(response))["param"] == "name"
    assert "Oma Erna" not in await describe_names(server)
    assert not list(voices_dir.glob("Oma Erna.*"))


async def test_a_designed_preview_is_kept_as_a_voice(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(url(server, "v1/audio/voices")) as response:
            assert (await response.json())["design"] is True
        body = {"description": "A deep, slow voice of an old sailor.", "language": "de", "seed": 3}
        async with session.post(url(server, "v1/audio/voices/design"), json=body) as response:
            assert response.status == 200, await response.text()
            preview_id = response.headers["X-Preview-Id"]
            samples, rate = soundfile.read(io.BytesIO(await response.read()))
        assert rate == 24000 and len(samples) / rate >= 3.0
        keep = url(server, f"v1/audio/voices/design/{preview_id}/keep")
        async with session.post(keep, json={"name": "Captain"}) as response:
            assert response.status == 201, await response.text()
            voice = (await response.json())["voice"]
        assert voice["kind"] == "designed" and voice["languages"] == ["de"]
        assert "Captain" in await describe_names(server)
        async with session.post(keep, json={"name": "Captain"}) as response:
            assert response.status == 409  # the name is taken now
        async with session.post(url(server, "v1/audio/voices/design/nope/keep"), json={"name": "x"}) as r:
            assert r.status == 404
        async with session.delete(url(server, "v1/audio/voices/Captain")) as response:
            assert response.status == 200


async def test_two_uploads_under_one_name_one_wins(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:

        async def upload() -> int:
            async with session.post(url(server, "v1/audio/voices"), data=form("twin")) as response:
                return response.status

        statuses = sorted(await asyncio.gather(upload(), upload()))
        async with session.delete(url(server, "v1/audio/voices/twin")):
            pass
    assert statuses == [201, 409]


# --- bad input: a clear 4xx, nothing lost, and the server goes on ---------------------------


@pytest.mark.parametrize(
    ("fields", "status", "param"),
    [
        ({"name": "../evil"}, 400, "name"),
        ({"name": "a/b"}, 400, "name"),
        ({"name": "bad\x01name"}, 400, "name"),
        ({"name": "quiet", "text": "   "}, 400, "text"),
        ({"name": "wordy", "text": "word " * 1000}, 400, "text"),
        ({"name": "babel", "language": "klingon"}, 400, "language"),
        ({"name": "noise", "audio": b"this is not audio at all" * 10}, 400, "audio"),
        ({"name": "blip", "audio": clip_bytes(0.5)}, 400, "audio"),
    ],
    ids=["dotdot", "slash", "control", "empty-text", "long-text", "language", "not-audio", "too-short"],
)
async def test_a_bad_upload_names_the_field_and_writes_nothing(
    server: RunningServer, voices_dir: Path, fields: dict, status: int, param: str
) -> None:
    before = sorted(p.name for p in voices_dir.parent.rglob("*"))
    async with aiohttp.ClientSession() as session:
        async with session.post(url(server, "v1/audio/voices"), data=form(**fields)) as response:
            assert response.status == status
            assert (await error_of(response))["param"] == param
    assert sorted(p.name for p in voices_dir.parent.rglob("*")) == before


async def test_an_upload_over_the_limit_is_refused_before_it_is_buffered(server: RunningServer) -> None:
    big = b"\0" * (MAX_UPLOAD + 1)
    async with aiohttp.ClientSession() as session:
        async with session.post(url(server, "v1/audio/voices"), data=form("huge", audio=big)) as response:
            assert response.status == 413  # from Content-Length

        async def chunked() -> Iterator[bytes]:  # no Content-Length: caught while streaming
            boundary = b"--xyz\r\n"
            yield boundary + b'Content-Disposition: form-data; name="name"\r\n\r\nhuge\r\n'
            yield boundary + b'Content-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
            for _ in range(40):
                yield b"\0" * 65536

        headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
        async with session.post(url(server, "v1/audio/voices"), data=chunked(), headers=headers) as response:
            assert response.status == 413
            assert (await error_of(response))["param"] == "audio"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"[1, 2]", 400, None),
        (b"{not json", 400, None),
        (b'{"input": 5}', 400, "input"),
        (b'{"input": ""}', 400, "input"),
        (json.dumps({"input": "x" * 2001}).encode(), 400, "input"),
        (b'{"input": "Hi.", "voice": "nobody"}', 404, "voice"),
        (b'{"input": "Hi.", "voice": "ryan", "instructions": "shout"}', 400, "instructions"),
        (b'{"input": "Hi.", "response_format": "aac"}', 400, "response_format"),
        (b'{"input": "Hi.", "stream_format": "ws"}', 400, "stream_format"),
        (b'{"input": "Hi.", "speed": 3.0}', 400, "speed"),
        (b'{"input": "Hi.", "speed": "fast"}', 400, "speed"),
        (b'{"input": "Hi.", "text_format": "html"}', 400, "text_format"),
        (b'{"input": "Hi.", "language": "xx"}', 400, "language"),
        (b'{"input": "Hi.", "voice": "ryan", "task_type": "Base"}', 400, "task_type"),
    ],
)
async def test_a_bad_speech_request_is_a_clear_4xx(
    server: RunningServer, body: bytes, status: int, param: str | None
) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"Content-Type": "application/json"}
        async with session.post(url(server, "v1/audio/speech"), data=body, headers=headers) as response:
            assert response.status == status
            error = await error_of(response)
    assert error["param"] == param and error["message"]


async def test_malformed_multipart_is_a_400(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"Content-Type": "multipart/form-data; boundary=abc"}
        async with session.post(url(server, "v1/audio/voices"), data=b"garbage", headers=headers) as response:
            assert response.status == 400
        async with session.post(url(server, "v1/audio/voices"), json={"name": "x"}) as response:
            assert response.status == 400


async def test_a_client_that_sends_headers_slowly_is_cut_off(server: RunningServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.http_port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # ... and never the rest
    await writer.drain()
    async with asyncio.timeout(30):
        assert await reader.read() == b""  # closed by the server
    writer.close()
    async with aiohttp.ClientSession() as session:
        async with session.get(url(server, "health")) as response:
            assert response.status == 200


def _rss_kib(server: RunningServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


async def test_a_thousand_bad_keys_leave_memory_flat(guarded: RunningServer) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer nope"}) as session:

        async def batch(count: int) -> list[int]:
            statuses = []
            for _ in range(count):
                async with session.post(url(guarded, "v1/audio/speech"), json={"input": "x"}) as r:
                    statuses.append(r.status)
            return statuses

        await batch(100)  # warm up allocators
        before = _rss_kib(guarded)
        assert set(await batch(1000)) == {401}
        after = _rss_kib(guarded)
    assert after - before < 8 * 1024, f"RSS grew by {after - before} KiB over 1000 requests"


async def test_health_is_open_and_an_address_not_allowed_is_refused(guarded: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(url(guarded, "health")) as response:
            assert response.status == 200 and (await response.json())["status"] == "ok"
        async with session.get(url(guarded, "v1/audio/voices")) as response:
            assert response.status == 401
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=other) as session:
        async with session.get(url(guarded, "health")) as response:
            assert response.status == 403


async def test_metrics_count_requests_by_interface(server: RunningServer) -> None:
    await wyoming_audio(server, "Hello.", "ryan")
    async with aiohttp.ClientSession() as session:
        async with session.post(url(server, "v1/audio/speech"), json={"input": "Hi.", "voice": "ryan"}) as r:
            await r.read()
        async with session.get(url(server, "metrics")) as response:
            text = await response.text()
    assert 'qwen_tts_requests_total{interface="http",outcome="ok"}' in text
    assert 'qwen_tts_requests_total{interface="wyoming",outcome="ok"}' in text
    assert 'qwen_tts_first_audio_seconds_count{interface="wyoming"}' in text
    assert 'qwen_tts_real_time_factor{model="custom_voice"}' in text


def test_no_token_off_loopback_is_refused_at_start() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_qwen_tts", "--http-port", "0", "--http-host", "0.0.0.0",
         "--custom-voice-model", "/never/loaded"],
        capture_output=True, cwd=REPO_ROOT, env=server_env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert b"without a token" in result.stderr and b"--http-token" in result.stderr
    assert b"Loading" not in result.stderr  # refused before any model was loaded


# --- Home Assistant is told to reload the voices --------------------------------------------


async def test_home_assistant_reloads_this_add_ons_wyoming_entry(
    tmp_path: Path, custom_voice_checkpoint: Path, base_checkpoint: Path
) -> None:
    reloaded: list[str] = []

    async def addon_info(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer supervisor-token"
        return web.json_response({"result": "ok", "data": {"name": "Qwen3-TTS"}})

    async def entries(request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"entry_id": "piper1", "domain": "wyoming", "source": "hassio", "title": "Piper"},
                {"entry_id": "ours1", "domain": "wyoming", "source": "hassio", "title": "Qwen3-TTS"},
                {"entry_id": "other", "domain": "hue", "source": "user", "title": "Qwen3-TTS"},
            ]
        )

    async def reload(request: web.Request) -> web.Response:
        reloaded.append(request.match_info["entry_id"])
        return web.json_response({"require_restart": False})

    supervisor = web.Application()
    supervisor.router.add_get("/addons/self/info", addon_info)
    supervisor.router.add_get("/core/api/config/config_entries/entry", entries)
    supervisor.router.add_post("/core/api/config/config_entries/entry/{entry_id}/reload", reload)
    runner = web.AppRunner(supervisor)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    voices = tmp_path / "voices"
    voices.mkdir()
    running = await asyncio.to_thread(
        start_server,
        _args(custom_voice_checkpoint, base_checkpoint, voices, tmp_path / "cache"),
        tmp_path / "server.log",
        env={
            "SUPERVISOR_TOKEN": "supervisor-token",
            "WYOMING_QWEN_TTS_SUPERVISOR_URL": f"http://127.0.0.1:{port}",
        },
    )
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(url(running, "v1/audio/voices"), data=form("mia")) as response:
                assert response.status == 201, await response.text()
                body = await response.json()
    finally:
        running.stop()
        await runner.cleanup()
    assert reloaded == ["ours1"]
    assert body["reload"] == {"done": True, "hint": None}
