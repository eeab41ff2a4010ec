"""The HTTP side: the web page, the OpenAI-compatible speech API and the voices API, on the
same event loop as the Wyoming server and over the same scheduler and voices.

Every endpoint but ``/health`` and the page's own files asks for ``Authorization: Bearer TOKEN``
when a token is set.
``--http-allow`` limits who may connect at all (the add-on: only the Supervisor's ingress
proxy, which has authenticated the user already).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wyoming_qwen_tts import __version__
from wyoming_qwen_tts.http.errors import ApiError
from wyoming_qwen_tts.http.speech import SpeechEndpoint
from wyoming_qwen_tts.http.voices import VoicesEndpoints
from wyoming_qwen_tts.scheduling.metrics import SpeechMetrics
from wyoming_qwen_tts.text.languages import language_code
from wyoming_qwen_tts.text.pronunciation import Lexicon

_LOGGER = logging.getLogger(__name__)

STATIC = files("wyoming_qwen_tts.http") / "static"
HEADER_TIMEOUT_S = 10.0
"""A client that has not sent a request by then (or after its last answer) is cut off."""
_OPEN_PATHS = frozenset({"/", "/health"})
"""Besides the page's static files: nothing secret; the page asks for the token itself."""


class HttpStartupError(Exception):
    """The HTTP side must not start as configured; the message says what to change."""


@dataclass(frozen=True)
class HttpConfig:
    host: str
    port: int
    token: str | None
    no_auth: bool
    allow: tuple[str, ...] | None


@dataclass(frozen=True)
class Status:
    """What ``/health`` reports besides the voices."""

    device: str
    models: Callable[[], list[str]]


def check_exposure(config: HttpConfig) -> None:
    """Refuses to open voice upload to a network without a token, unless told to."""
    if config.token or config.no_auth:
        return
    if _is_loopback(config.host):
        return
    if config.allow and all(_is_loopback(address) for address in config.allow):
        return
    raise HttpStartupError(
        f"the HTTP side would listen on {config.host} without a token: anyone on the network "
        "could add voices. Set --http-token (or WYOMING_QWEN_TTS_HTTP_TOKEN), bind it to "
        "127.0.0.1 with --http-host, or pass --http-no-auth if another layer protects it"
    )


def build_app(
    config: HttpConfig,
    speech: SpeechEndpoint,
    voices: VoicesEndpoints,
    metrics: SpeechMetrics,
    status: Status,
    lexicon: Callable[[], Lexicon] = Lexicon,
) -> web.Application:
    """``lexicon`` gives the pronunciation lexicon in force (``GET /v1/lexicon``)."""
    app = web.Application(
        middlewares=[_errors, _access(config)], client_max_size=1024 * 1024
    )
    started = int(time.time())

    async def health(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "version": __version__,
                "device": status.device,
                "models": status.models(),
                "voices": len(voices.catalog()),
                "requests_in_progress": speech.in_progress,
            }
        )

    async def models(request: web.Request) -> web.Response:
        """vLLM's model list: what the front of a remote reads to name the remote's model."""
        data = [
            {"id": model, "object": "model", "created": started, "owned_by": "wyoming-qwen-tts"}
            for model in status.models()
        ]
        return web.json_response({"object": "list", "data": data})

    async def metrics_text(request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def lexicon_entries(request: web.Request) -> web.Response:
        entries = [
            {
                "word": entry.word,
                "say": entry.say,
                "language": language_code(entry.language) if entry.language else None,
                "case_sensitive": entry.case_sensitive,
            }
            for entry in lexicon().entries
        ]
        return web.json_response({"entries": entries})

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(Path(str(STATIC / "index.html")))

    app.router.add_get("/", page)
    app.router.add_static("/static/", Path(str(STATIC)))
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/v1/lexicon", lexicon_entries)
    app.router.add_post("/v1/audio/speech", speech.handle)
    app.router.add_get("/v1/audio/voices", voices.list)
    app.router.add_post("/v1/audio/voices", voices.add)
    app.router.add_delete("/v1/audio/voices/{name}", voices.remove)
    app.router.add_post("/v1/audio/voices/design", voices.design)
    app.router.add_post("/v1/audio/voices/design/{preview_id}/keep", voices.keep)
    return app


class HttpServer:
    """Runs the app on its own port of the server's event loop."""

    def __init__(self, app: web.Application, config: HttpConfig) -> None:
        # The keep-alive timeout also closes a connection that sends no request in time.
        self._runner = web.AppRunner(
            app,
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=1.0,
            keepalive_timeout=HEADER_TIMEOUT_S,
        )
        self._config = config
        self.port: int | None = None

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._config.host, self._config.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        _LOGGER.info("HTTP: web page and speech API on http://%s:%s/", self._config.host, self.port)

    async def stop(self) -> None:
        await self._runner.cleanup()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return err.response()
    except web.HTTPRequestEntityTooLarge as err:
        return ApiError(413, f"the request is too large: {err.text}").response()


def _access(config: HttpConfig) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    allowed = {ipaddress.ip_address(address) for address in config.allow or ()}
    expected = f"Bearer {config.token}".encode() if config.token else None

    @web.middleware
    async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
        if allowed and _peer(request) not in allowed:
            _LOGGER.warning("HTTP: refusing %s (not in --http-allow)", request.remote)
            raise ApiError(403, "this address may not use the HTTP side")
        open_path = request.path in _OPEN_PATHS or request.path.startswith("/static/")
        if expected is not None and not open_path:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise ApiError(401, "a valid API key is needed: Authorization: Bearer TOKEN")
        return await handler(request)

    return access


def _peer(request: web.Request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(request.remote or "")
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
