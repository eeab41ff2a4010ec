"""The one set of voices every interface offers, kept current.

The voices-dir poller and the HTTP side's own writes both refresh it here, one refresh at a
time, and the remotes say when theirs change; whoever listens (the Wyoming side's Info, Home
Assistant) hears of each change at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from wyoming_qwen_tts.app.compose import Speech
from wyoming_qwen_tts.voices.voice import VoiceCatalog

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
Listener = Callable[[VoiceCatalog], Awaitable[None] | None]


class LiveVoices:
    def __init__(self, speech: Speech) -> None:
        self.speech = speech
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._announcing: set[asyncio.Task[None]] = set()

    @property
    def catalog(self) -> VoiceCatalog:
        return self.speech.catalog

    def remote_changed(self) -> None:
        """The remotes' voices changed (on the event loop): tells the listeners soon."""
        task = asyncio.get_running_loop().create_task(self._announce_locked())
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    async def _announce_locked(self) -> None:
        async with self._lock:
            await self._announce()

    async def _announce(self) -> None:
        _LOGGER.info("Voices: %s", ", ".join(self.catalog.names) or "none")
        for listener in self._listeners:
            result = listener(self.catalog)
            if result is not None:
                await result

    def listen(self, listener: Listener) -> None:
        """Calls ``listener`` with the new catalog after every change (a coroutine is awaited)."""
        self._listeners.append(listener)

    async def refresh(self) -> bool:
        """Brings the voices up to date with their files; returns whether they changed."""
        async with self._lock:
            changed = await _in_daemon_thread(self.speech.library.refresh)
            if changed:
                self.speech.add_new_backends()
                await self._announce()
            return changed


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
