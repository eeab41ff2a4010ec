"""Running ``serve``: the speech from the composition root behind the Wyoming listener (or
stdio), zeroconf, hot-added voices, and a shutdown within the time SIGTERM allows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import TypeVar
from urllib.parse import urlparse

from wyoming.event import async_get_stdin

from wyoming_qwen_tts.app import compose
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.wyoming.discovery import ZeroconfAdvertiser
from wyoming_qwen_tts.wyoming.handler import ConnectionLimiter, HandlerOptions, QwenTtsEventHandler
from wyoming_qwen_tts.wyoming.info import VoiceOffer
from wyoming_qwen_tts.wyoming.listener import HandlerFactory, Listener

_LOGGER = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 1.5

T = TypeVar("T")


async def serve(settings: Settings) -> None:
    """Runs the server until SIGTERM/SIGINT or, for stdio://, the end of input."""
    speech = await asyncio.to_thread(compose.speech, settings)
    voices = VoiceOffer(speech.library.catalog)
    connections = ConnectionLimiter(settings.max_connections)

    def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, stdio: bool = False
    ) -> QwenTtsEventHandler:
        return QwenTtsEventHandler(
            reader,
            writer,
            voices=voices,
            scheduler=speech.scheduler,
            options=HandlerOptions.from_settings(settings, stdio=stdio),
            connections=connections,
        )

    watcher = None
    if settings.voices_poll_interval > 0 and speech.library.watches_files:
        watcher = asyncio.create_task(
            _watch_voices(speech, voices, settings.voices_poll_interval)
        )
    try:
        if urlparse(settings.uri).scheme == "stdio":
            await _serve_stdio(partial(handler, stdio=True))
        else:
            await _serve_socket(settings, handler)
    finally:
        if watcher is not None:
            watcher.cancel()
        speech.close(timeout=SHUTDOWN_TIMEOUT_S)
        _LOGGER.debug("Stopped")


async def _watch_voices(speech: compose.Speech, voices: VoiceOffer, interval: float) -> None:
    """Offers voices added to (or removed from) the voices dir without a restart."""
    library = speech.library
    while True:
        await asyncio.sleep(interval)
        try:
            changed = await _in_daemon_thread(library.refresh)
        except Exception:  # noqa: BLE001 - the next look may succeed; the server goes on
            _LOGGER.exception("Looking for changed voices failed")
            continue
        if not changed:
            continue
        speech.add_new_backends()
        voices.update(library.catalog)
        _LOGGER.info("Voices: %s", ", ".join(library.catalog.names) or "none")


async def _in_daemon_thread(function: Callable[[], T]) -> T:
    """Runs ``function`` on a daemon thread: unlike ``asyncio.to_thread``, a shutdown does not
    wait for it (a refresh may be loading a model)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = function(), None
        except BaseException as err:  # noqa: BLE001 - handed to the awaiting task
            result, error = None, err
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="voice-refresh", daemon=True).start()
    return await future


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
