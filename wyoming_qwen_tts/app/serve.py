"""Starting and stopping the server: models, voices, the Wyoming listener and zeroconf."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlparse

from wyoming.event import async_get_stdin
from wyoming.server import AsyncServer, AsyncTcpServer

from wyoming_qwen_tts.scheduling.scheduler import Scheduler
from wyoming_qwen_tts.settings.settings import Settings
from wyoming_qwen_tts.voices.files import collect_clone_voices
from wyoming_qwen_tts.voices.library import VoiceLibrary
from wyoming_qwen_tts.voices.voice import VoiceError
from wyoming_qwen_tts.wyoming.discovery import ZeroconfAdvertiser
from wyoming_qwen_tts.wyoming.events import EventLimits
from wyoming_qwen_tts.wyoming.handler import (
    ConnectionLimiter,
    HandlerOptions,
    QwenTtsEventHandler,
    VoiceOffer,
)

if TYPE_CHECKING:
    from wyoming_qwen_tts.engine.engine import Engine

_LOGGER = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 1.5

T = TypeVar("T")


class StartupError(Exception):
    """The server cannot start; the message says why and what to do."""


def load_voices(settings: Settings) -> tuple[VoiceLibrary, Engine]:
    """Loads the models the configured voices need and prepares every voice once."""
    from wyoming_qwen_tts.engine.engine import Engine
    from wyoming_qwen_tts.engine.model import LoadOptions, ModelLoadError
    from wyoming_qwen_tts.engine.prompt_cache import PromptCache

    if settings.custom_voice_model is None:
        clones, _ = collect_clone_voices(settings.voices_dir, settings.listed_voices)
        if not clones:
            raise StartupError(
                "no voices: premium voices are disabled (--custom-voice-model none) and no "
                "cloned voices were found; add NAME.wav + NAME.txt to --voices-dir"
            )
    options = LoadOptions.from_settings(settings, max_batch=settings.max_batch)
    try:
        engine = Engine.load(
            custom_voice_model=settings.custom_voice_model,
            base_model=None,  # loaded by the library when there are cloned voices
            options=options,
            seed=settings.seed,
            prompt_cache=PromptCache(settings.prompt_cache_dir),
        )
        library = VoiceLibrary(engine, settings, options)
        library.refresh()
    except ModelLoadError as err:
        raise StartupError(str(err)) from err
    except VoiceError as err:
        raise StartupError(f"--voice: {err}") from err
    catalog = library.catalog
    if catalog.default is None:
        raise StartupError("no usable voices; see the errors above")
    _LOGGER.info("Voices: %s (default: %s)", ", ".join(catalog.names), catalog.default.name)
    return library, engine


async def serve(settings: Settings) -> None:
    """Runs the server until SIGTERM/SIGINT or, for stdio://, the end of input."""
    library, engine = await asyncio.to_thread(load_voices, settings)
    scheduler = Scheduler(
        {kind: engine.batch(kind) for kind in engine.models},
        lambda request: engine.model_kind_for(request.voice),
    )
    voices = VoiceOffer(library.catalog)
    handler_factory = partial(
        QwenTtsEventHandler,
        voices=voices,
        scheduler=scheduler,
        options=HandlerOptions(
            samples_per_chunk=settings.samples_per_chunk,
            language=settings.language,
            max_text_chars=settings.max_text_chars,
            max_sentences=settings.max_sentences,
            idle_timeout=settings.idle_timeout,
            event_limits=EventLimits(max_data_bytes=settings.max_event_bytes),
        ),
        connections=ConnectionLimiter(settings.max_connections),
    )
    watcher = None
    if settings.voices_poll_interval > 0 and library.watches_files:
        watcher = asyncio.create_task(
            _watch_voices(library, engine, scheduler, voices, settings.voices_poll_interval)
        )
    try:
        if urlparse(settings.uri).scheme == "stdio":
            await _serve_stdio(handler_factory)
        else:
            await _serve_socket(settings, handler_factory)
    finally:
        if watcher is not None:
            watcher.cancel()
        scheduler.close(timeout=SHUTDOWN_TIMEOUT_S)
        _LOGGER.debug("Stopped")


async def _watch_voices(
    library: VoiceLibrary,
    engine: Engine,
    scheduler: Scheduler,
    voices: VoiceOffer,
    interval: float,
) -> None:
    """Offers voices added to (or removed from) the voices dir without a restart."""
    served = set(engine.models)
    while True:
        await asyncio.sleep(interval)
        try:
            changed = await _in_daemon_thread(library.refresh)
        except Exception:  # noqa: BLE001 - the next look may succeed; the server goes on
            _LOGGER.exception("Looking for changed voices failed")
            continue
        if not changed:
            continue
        for kind in set(engine.models) - served:  # the Base model, for the first cloned voice
            scheduler.add_backend(kind, engine.batch(kind))
            served.add(kind)
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


async def _serve_socket(settings: Settings, handler_factory: partial[QwenTtsEventHandler]) -> None:
    server = AsyncServer.from_uri(settings.uri)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start(handler_factory)
    advertiser: ZeroconfAdvertiser | None = None
    try:
        if isinstance(server, AsyncTcpServer):
            host, port = _bound_address(server)
            _LOGGER.info("Ready: listening on tcp://%s:%s", host, port)
            if settings.zeroconf_name:
                advertiser = ZeroconfAdvertiser(
                    settings.zeroconf_name,
                    port,
                    bind_host=server.host,
                    advertise_host=settings.zeroconf_host,
                    interfaces=list(settings.zeroconf_interfaces)
                    if settings.zeroconf_interfaces
                    else None,
                )
                try:
                    await advertiser.start()
                except OSError as err:
                    _LOGGER.error("Zeroconf advertisement failed (%s); add the server by host and port", err)
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
            await asyncio.wait_for(_stop_server(server), SHUTDOWN_TIMEOUT_S)


async def _stop_server(server: AsyncServer) -> None:
    handlers = list(server._handlers.values())
    for handler in handlers:
        await handler.disconnect()
    await server.stop()


async def _serve_stdio(handler_factory: partial[QwenTtsEventHandler]) -> None:
    """One connection over stdin/stdout; at the end of input, finishes the answers under way."""
    reader = await async_get_stdin()
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    options = replace(handler_factory.keywords["options"], idle_timeout=None, finish_at_eof=True)
    handler = handler_factory(reader, writer, options=options)
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


def _bound_address(server: AsyncTcpServer) -> tuple[str, int]:
    """The listening address, with the real port when the URI asked for port 0."""
    sockets = server._server.sockets if server._server is not None else []
    port = sockets[0].getsockname()[1] if sockets else server.port
    return server.host, int(port)
