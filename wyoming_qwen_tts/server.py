"""Starting and stopping the server: models, voices, the Wyoming listener and zeroconf."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from wyoming.event import async_get_stdin
from wyoming.server import AsyncServer, AsyncTcpServer

from .discovery import ZeroconfAdvertiser
from .handler import ConnectionLimiter, HandlerOptions, QwenTtsEventHandler, build_info
from .protocol import EventLimits
from .scheduler import Scheduler
from .settings import Settings
from .voices import Voice, VoiceCatalog, VoiceError, scan_voices_dir

if TYPE_CHECKING:
    from .engine.engine import Engine

_LOGGER = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 1.5


class StartupError(Exception):
    """The server cannot start; the message says why and what to do."""


def load_catalog_and_engine(settings: Settings) -> tuple[VoiceCatalog, Engine]:
    """Loads the models the configured voices need and prepares every voice once."""
    from .engine.engine import Engine
    from .engine.model import LoadOptions, ModelLoadError

    clones: list[Voice] = []
    if settings.voices_dir is not None:
        clones, problems = scan_voices_dir(settings.voices_dir)
        for problem in problems:
            _LOGGER.error("Skipping %s", problem)
    if settings.custom_voice_model is None and not clones:
        raise StartupError(
            "no voices: premium voices are disabled (--custom-voice-model none) and no cloned "
            "voices were found; add NAME.wav + NAME.txt to --voices-dir"
        )
    options = LoadOptions(
        device=settings.device,
        dtype=settings.dtype,
        cache_dir=settings.data_dir,
        local_files_only=settings.local_files_only,
        max_batch=settings.max_batch,
        int8=settings.int8,
    )
    try:
        engine = Engine.load(
            custom_voice_model=settings.custom_voice_model,
            base_model=settings.base_model if clones else None,
            options=options,
            seed=settings.seed,
        )
    except ModelLoadError as err:
        raise StartupError(str(err)) from err

    usable: list[Voice] = []
    for voice in clones:
        try:
            engine.prepare_voice(voice)
        except Exception as err:  # noqa: BLE001 - one bad reference must not stop the server
            _LOGGER.error("Skipping cloned voice '%s': %s", voice.name, err)
        else:
            usable.append(voice)
    voices = engine.premium_voices() + usable
    if not voices:
        raise StartupError("no usable voices; see the errors above")
    try:
        catalog = VoiceCatalog(voices, default=settings.voice)
    except VoiceError as err:
        raise StartupError(f"--voice: {err}") from err
    _LOGGER.info("Voices: %s (default: %s)", ", ".join(catalog.names), catalog.default.name)
    return catalog, engine


async def serve(settings: Settings) -> None:
    """Runs the server until SIGTERM/SIGINT or, for stdio://, the end of input."""
    catalog, engine = await asyncio.to_thread(load_catalog_and_engine, settings)
    scheduler = Scheduler(
        {kind: engine.batch(kind) for kind in engine.models},
        lambda request: engine.model_kind_for(request.voice),
    )
    handler_factory = partial(
        QwenTtsEventHandler,
        info=build_info(catalog),
        catalog=catalog,
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
    try:
        if urlparse(settings.uri).scheme == "stdio":
            await _serve_stdio(handler_factory)
        else:
            await _serve_socket(settings, handler_factory)
    finally:
        scheduler.close(timeout=SHUTDOWN_TIMEOUT_S)
        _LOGGER.debug("Stopped")


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
