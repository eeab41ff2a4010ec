"""The voices endpoints: list, add a cloned voice, remove one, design one.

An upload goes through exactly what ``voice add`` does (``voices.manage``), into the voices
dir, atomically; then the one voice library is refreshed at once, so Wyoming's Describe lists
the voice before the answer leaves. The upload is read in a streaming way and refused as soon
as it passes the limit, before it is buffered.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import BodyPartReader, web

from wyoming_qwen_tts.http.errors import ApiError
from wyoming_qwen_tts.http.speech import json_object
from wyoming_qwen_tts.voices import manage
from wyoming_qwen_tts.voices.voice import Voice, VoiceCatalog, VoiceError, VoiceKind

_LOGGER = logging.getLogger(__name__)

Refresh = Callable[[], Awaitable[bool]]
AfterChange = Callable[[], Awaitable[dict[str, Any]]]
"""Tells Home Assistant, where it can; returns the ``reload`` part of the answer."""
PREVIEW_TTL_S = 600.0
MAX_PREVIEWS = 8
_FIELD_LIMIT = 64 * 1024
"""Bytes in a text field of the upload form (a transcript is at most 2000 characters)."""


def voice_details(voice: Voice) -> dict[str, Any]:
    kind = "premium" if voice.kind is VoiceKind.PREMIUM else "designed" if voice.designed else "cloned"
    return {
        "name": voice.name,
        "kind": kind,
        "languages": voice.language_codes,
        "styles": [style.name for style in voice.styles],
        "description": voice.description,
    }


def uploaded_details(voice: Voice) -> dict[str, Any]:
    """A cloned voice as vLLM-Omni lists an uploaded one."""
    details: dict[str, Any] = {"name": voice.name, "mime_type": "audio/wav"}
    reference = voice.reference
    if reference is not None:
        details["ref_text"] = reference.transcript
        try:
            stat = reference.audio_path.stat()
        except OSError:
            pass
        else:
            details.update(created_at=int(stat.st_mtime), file_size=stat.st_size)
    return details


@dataclass
class _Preview:
    description: str
    text: str
    language: str | None
    audio: np.ndarray
    made: float


class VoicesEndpoints:
    def __init__(
        self,
        catalog: Callable[[], VoiceCatalog],
        refresh: Refresh,
        after_change: AfterChange,
        *,
        voices_dir: Path | None,
        max_upload_bytes: int,
        render: manage.Renderer | None,
    ) -> None:
        self.catalog = catalog
        self._refresh = refresh
        self._after_change = after_change
        self._voices_dir = voices_dir
        self._max_upload = max_upload_bytes
        self._render = render
        self._writing = asyncio.Lock()
        self._previews: dict[str, _Preview] = {}

    async def list(self, request: web.Request) -> web.Response:
        """vLLM-Omni's ``voices`` and ``uploaded_voices``, and this server's ``details``."""
        voices = list(self.catalog())
        return web.json_response(
            {
                "voices": [voice.name for voice in voices],
                "uploaded_voices": [
                    uploaded_details(voice) for voice in voices if voice.kind is VoiceKind.CLONE
                ],
                "details": [voice_details(voice) for voice in voices],
                "design": self._render is not None and self._voices_dir is not None,
                "can_add": self._voices_dir is not None,
            }
        )

    async def add(self, request: web.Request) -> web.Response:
        voices_dir = self._require_voices_dir()
        if request.content_length is not None and request.content_length > self._max_upload:
            raise _too_large(self._max_upload)
        with tempfile.TemporaryDirectory(prefix="upload-") as folder:
            fields, clip = await self._read_form(request, Path(folder))
            name = fields.get("name", "").strip()
            text = fields.get("text") or fields.get("ref_text") or ""
            language = _language(fields.get("language"))
            if clip is None:
                raise ApiError(400, "no audio: attach the recording as the 'audio' file", "audio")
            async with self._writing:
                try:
                    await _in_thread(
                        manage.add_voice, voices_dir, name, clip, text, language=language
                    )
                except ApiError as err:  # the client's own file name, not our temporary path
                    err.message = err.message.replace(str(clip), clip.name)
                    raise
        return await self._changed(name, 201)

    async def remove(self, request: web.Request) -> web.Response:
        voices_dir = self._require_voices_dir()
        name = request.match_info["name"]
        async with self._writing:
            try:
                removed = await asyncio.to_thread(manage.remove_voice, voices_dir, name)
            except manage.VoiceMissing as err:
                raise ApiError(404, str(err), "name") from None
        await self._refresh()
        reload = await self._after_change()
        message = f"Voice '{removed[0].stem}' deleted"
        return web.json_response({"success": True, "message": message, "reload": reload})

    async def design(self, request: web.Request) -> web.Response:
        """A preview of a designed voice: its reference clip as WAV, kept for a while."""
        render = self._require_design()
        body = await json_object(request)
        description = " ".join(str(body.get("description") or "").split())
        if not description:
            raise ApiError(400, "describe the voice: 'a warm, calm voice ...'", "description")
        language = _language(body.get("language"))
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ApiError(400, "'seed' must be a whole number", "seed")
        text = manage.design_text(language)
        audio = await asyncio.to_thread(render, description, text, language, seed)
        self._forget_old_previews()
        preview_id = secrets.token_urlsafe(12)
        self._previews[preview_id] = _Preview(description, text, language, audio, time.monotonic())
        return web.Response(
            body=manage.wav_bytes(audio),
            content_type="audio/wav",
            headers={"X-Preview-Id": preview_id},
        )

    async def keep(self, request: web.Request) -> web.Response:
        voices_dir = self._require_voices_dir()
        preview = self._previews.get(request.match_info["preview_id"])
        if preview is None:
            raise ApiError(404, "that preview is gone (kept for 10 minutes); design it again")
        body = await json_object(request)
        name = str(body.get("name") or "").strip()
        async with self._writing:
            await _in_thread(
                manage.keep_design,
                voices_dir,
                name,
                preview.audio,
                preview.text,
                language=preview.language,
                description=preview.description,
            )
        return await self._changed(name, 201)

    async def _changed(self, name: str, status: int) -> web.Response:
        await self._refresh()
        reload = await self._after_change()
        try:
            voice = self.catalog().resolve(name)
        except VoiceError:  # stored, but the library could not prepare it: the log says why
            raise ApiError(
                400, f"voice '{name}' was stored but cannot be used; see the server's log", "audio"
            ) from None
        return web.json_response(
            {"success": True, "voice": voice_details(voice), "reload": reload}, status=status
        )

    async def _read_form(
        self, request: web.Request, folder: Path
    ) -> tuple[dict[str, str], Path | None]:
        try:
            reader = await request.multipart()
        except (ValueError, AssertionError, KeyError) as err:
            raise ApiError(400, f"send the voice as multipart/form-data: {err}") from None
        fields: dict[str, str] = {}
        clip: Path | None = None
        total = 0
        while True:
            try:
                part = await reader.next()
            except ValueError as err:
                raise ApiError(400, f"the form is malformed: {err}") from None
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "nested multipart forms are not accepted")
            if part.name in ("audio", "audio_sample"):
                clip = folder / _file_name(part.filename)
                with clip.open("wb") as file:
                    while chunk := await part.read_chunk(64 * 1024):
                        total += len(chunk)
                        if total > self._max_upload:
                            raise _too_large(self._max_upload)
                        file.write(chunk)
            elif part.name:
                value = await part.read(decode=True)
                total += len(value)
                if len(value) > _FIELD_LIMIT or total > self._max_upload:
                    raise ApiError(413, f"the field '{part.name}' is too long", part.name)
                try:
                    fields[part.name] = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise ApiError(400, f"'{part.name}' is not UTF-8 text", part.name) from None
        return fields, clip

    def _require_voices_dir(self) -> Path:
        if self._voices_dir is None:
            raise ApiError(
                409, "this server has no voices folder: start it with --voices-dir to add voices"
            )
        return self._voices_dir

    def _require_design(self) -> manage.Renderer:
        if self._render is None or self._voices_dir is None:
            raise ApiError(409, "voice design needs --voices-dir (and a VoiceDesign model)")
        return self._render

    def _forget_old_previews(self) -> None:
        now = time.monotonic()
        for key, preview in list(self._previews.items()):
            if now - preview.made > PREVIEW_TTL_S:
                del self._previews[key]
        while len(self._previews) >= MAX_PREVIEWS:
            del self._previews[next(iter(self._previews))]


def _language(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "'language' must be a language code such as 'en'", "language")
    try:
        return manage.parse_language(value)
    except VoiceError as err:
        raise ApiError(400, str(err), "language") from None


def _file_name(given: str | None) -> str:
    """The uploaded file's own name, made safe to use as a name in our temporary folder."""
    name = re.sub(r"[^\w.-]", "_", Path(given or "").name).lstrip(".")
    return name[:100] or "recording"


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the upload is over {limit // (1024 * 1024)} MB; send a shorter clip", "audio")


async def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Runs a voices-folder write; its refusals become answers that name the field to fix."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except manage.BadVoiceName as err:
        raise ApiError(400, str(err), "name") from None
    except manage.BadTranscript as err:
        raise ApiError(400, str(err), "text") from None
    except manage.VoiceExists as err:
        raise ApiError(409, str(err).replace("; pass --force to replace it", ""), "name") from None
    except VoiceError as err:
        raise ApiError(400, str(err), "audio") from None

