"""Running ``serve``: the speech from the composition root behind the Wyoming listener (or
stdio), zeroconf, hot-added voices, and a shutdown within the time SIGTERM allows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from functools import partial
from urllib.parse import urlparse

from wyoming.event import async_get_stdin

from wyoming_qwen_tts.app import compose, runtime
from wyoming_qwen_tts.app.home_assistant import HomeAssistantReloader
from wyoming_qwen_tts.app.live import LiveVoices
from wyoming_qwen_tts.http.app import (
    HttpConfig,
    HttpServer,
    HttpStartupError,
    Status,
    build_app,
    check_exposure,
)
from wyoming_qwen_tts.http.speech import SpeechEndpoint
from wyoming_qwen_tts.http.voices import VoicesEndpoints
from wyoming_qwen_tts.scheduling.metrics import SpeechMetrics
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.wyoming.discovery import ZeroconfAdvertiser
from wyoming_qwen_tts.wyoming.handler import ConnectionLimiter, HandlerOptions, QwenTtsEventHandler
from wyoming_qwen_tts.wyoming.info import VoiceOffer
from wyoming_qwen_tts.wyoming.listener import HandlerFactory, Listener

_LOGGER = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 1.5


async def serve(settings: Settings) -> None:
    """Runs the server until SIGTERM/SIGINT or, for stdio://, the end of input."""
    if settings.http_port is not None:
        try:
            check_exposure(http_config(settings))
        except HttpStartupError as err:
            raise compose.StartupError(str(err)) from err
    speech = await asyncio.to_thread(compose.speech, settings)
    voices = VoiceOffer(speech.catalog)
    connections = ConnectionLimiter(settings.max_connections)
    metrics = SpeechMetrics(speech.scheduler, speech.speaking.speaker.cache)

    def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, stdio: bool = False
    ) -> QwenTtsEventHandler:
        return QwenTtsEventHandler(
            reader,
            writer,
            voices=voices,
            speaking=speech.speaking,
            options=HandlerOptions.from_settings(settings, stdio=stdio),
            connections=connections,
            metrics=metrics,
        )

    live = LiveVoices(speech)
    live.listen(voices.update)
    if speech.remote is not None:
        speech.remote.on_change = live.remote_changed
        await speech.remote.start(wait=settings.remote_timeout)
        voices.update(speech.catalog)
    watcher = None
    if settings.voices_poll_interval > 0 and speech.library.watches_files:
        watcher = asyncio.create_task(_watch_voices(live, settings.voices_poll_interval))
    http = None
    try:
        if settings.http_port is not None:
            http = _http_server(settings, speech, live, metrics)
            await http.start()
        if urlparse(settings.uri).scheme == "stdio":
            await _serve_stdio(partial(handler, stdio=True))
        else:
            await _serve_socket(settings, handler)
    finally:
        if watcher is not None:
            watcher.cancel()
        if http is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(http.stop(), SHUTDOWN_TIMEOUT_S)
        speech.close(timeout=SHUTDOWN_TIMEOUT_S)
        if speech.remote is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(speech.remote.close(), SHUTDOWN_TIMEOUT_S)
        _LOGGER.debug("Stopped")


def http_config(settings: Settings) -> HttpConfig:
    assert settings.http_port is not None
    return HttpConfig(
        host=settings.http_host,
        port=settings.http_port,
        token=settings.http_token,
        no_auth=settings.http_no_auth,
        allow=settings.http_allow,
    )


def _http_server(
    settings: Settings, speech: compose.Speech, live: LiveVoices, metrics: SpeechMetrics
) -> HttpServer:
    """The HTTP side over the same scheduler and voices; Home Assistant hears of changes."""
    reloader = HomeAssistantReloader()
    last_reload: dict[str, object] = {"done": False, "hint": None}

    async def tell_home_assistant(catalog: object) -> None:
        outcome = await reloader.reload()
        last_reload.update(done=outcome.done, hint=outcome.hint)

    async def after_change() -> dict[str, object]:
        return dict(last_reload)

    live.listen(tell_home_assistant)
    catalog = lambda: live.catalog  # noqa: E731 - read at each request: the set changes
    speech_api = SpeechEndpoint(
        speech.speaking,
        catalog,
        metrics,
        default_language=settings.language,
        max_text=settings.max_text_chars,
        max_sentences=settings.max_sentences,
    )
    voices_api = VoicesEndpoints(
        catalog,
        live.refresh,
        after_change,
        voices_dir=settings.voices_dir,
        max_upload_bytes=settings.max_upload_bytes,
        render=compose.design_renderer(settings) if speech.library.engine is not None else None,
    )
    config = http_config(settings)
    status = Status(device=speech.device, models=speech.models)
    app = build_app(config, speech_api, voices_api, metrics, status, speech.speaking.lexicon)
    return HttpServer(app, config)


async def _watch_voices(live: LiveVoices, interval: float) -> None:
    """Offers voices added to (or removed from) the voices dir without a restart."""
    while True:
        await asyncio.sleep(interval)
        try:
            await live.refresh()
        except Exception:  # noqa: BLE001 - the next look may succeed; the server goes on
            _LOGGER.exception("Looking for changed voices failed")


async def _serve_socket(settings: Settings, handler: HandlerFactory) -> None:
    listener = Listener(settings.uri, handler)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await listener.start()
    advertiser: ZeroconfAdvertiser | None = None
    try:
        if listener.is_tcp:
            assert listener.host is not None and listener.port is not None
            _LOGGER.info("Ready: listening on tcp://%s:%s", listener.host, listener.port)
            if settings.zeroconf_name:
                advertiser = ZeroconfAdvertiser(
                    settings.zeroconf_name,
                    listener.port,
                    bind_host=listener.host,
                    advertise_host=settings.zeroconf_host,
                    interfaces=list(settings.zeroconf_interfaces)
                    if settings.zeroconf_interfaces
                    else None,
                )
                try:
                    await advertiser.start()
                except OSError as err:
                    _LOGGER.error(
                        "Zeroconf advertisement failed (%s); add the server by host and port", err
                    )
                    advertiser = None
        else:
            _LOGGER.info("Ready: listening on %s", settings.uri)
        with runtime.announced(listener):
            await stop.wait()
        _LOGGER.info("Stopping")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if advertiser is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(advertiser.stop(), SHUTDOWN_TIMEOUT_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(listener.stop(), SHUTDOWN_TIMEOUT_S)


async def _serve_stdio(handler_factory: HandlerFactory) -> None:
    """One connection over stdin/stdout; at the end of input, finishes the answers under way."""
    reader = await async_get_stdin()
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    handler = handler_factory(reader, writer)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    run_task = asyncio.create_task(handler.run())
    stop_task = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        stop_task.cancel()
        run_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run_task
