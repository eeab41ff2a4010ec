"""The remotes as one place to send sentences: which voices they offer now, which remote speaks
each sentence, and fairness between rooms.

A sentence goes to the remote with the fewest outstanding requests among those that are up and
offer its voice, and an answer stays on the remote its first sentence went to while that remote
is up. Each answer has at most ``AHEAD`` sentences in flight (the one playing and the next, so
that there is no gap between them), and each remote at most ``max_requests``. When a remote's
slot frees, the answer served least recently goes first among those with the fewest sentences
in flight: a new room's first sentence goes before anyone's second.

Everything here runs on the event loop; nothing in it blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Hashable

from wyoming_qwen_tts.engine.interface import SynthesisCancelled, SynthesisRequest
from wyoming_qwen_tts.remote.server import RemoteError, RemoteServer, RemoteUnavailable
from wyoming_qwen_tts.scheduling.scheduler import DONE, queued_audio
from wyoming_qwen_tts.voices.voice import Voice

_LOGGER = logging.getLogger(__name__)

AHEAD = 2
"""Sentences of one answer in flight at once: the one playing, and the next."""
CHECK_INTERVAL_S = 10.0
"""Seconds between looks at an up remote's voices (its health check)."""
HOMES = 4096
"""Answers whose remote is remembered (the most recent), so a pause between an LLM's sentences
does not move an answer to another remote."""
BACKOFF_S = (0.5, 10.0)
"""The first and the longest wait before a down remote is tried again (doubling between)."""


class RemoteJob:
    """One sentence sent to a remote: iterate ``audio()`` for its PCM as it arrives."""

    def __init__(self, request: SynthesisRequest, group: Hashable) -> None:
        self.request = request
        self.group = group
        self._items: asyncio.Queue[object] = asyncio.Queue()
        self._cancelled = False
        self.task: asyncio.Task[None] | None = None
        self.tried: list[RemoteServer] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Stops the sentence: a request under way is closed, so the remote stops generating."""
        if self._cancelled:
            return
        self._cancelled = True
        if self.task is not None:
            self.task.cancel()
        self._items.put_nowait(SynthesisCancelled())

    def audio(self) -> AsyncIterator[bytes]:
        """The sentence's PCM as the remote sends it; raises what went wrong."""
        return queued_audio(self._items)

    def _put(self, item: object) -> None:
        if not self._cancelled:
            self._items.put_nowait(item)


class RemotePool:
    def __init__(
        self,
        servers: list[RemoteServer],
        *,
        max_requests: int,
        on_change: Callable[[], None] = lambda: None,
        clones: Callable[[], list[Voice]] | None = None,
    ) -> None:
        """``on_change`` is called when the voices the remotes offer change. ``clones`` lists
        our own cloned voices, given to each remote that takes them (a Base model)."""
        self.servers = servers
        self._clones = clones
        self._refused: set[tuple[str, str, tuple[int, int]]] = set()
        self._max_requests = max_requests
        self.on_change = on_change
        self._waiting: dict[Hashable, deque[RemoteJob]] = {}
        self._in_flight: dict[Hashable, int] = {}
        self._last_served: dict[Hashable, int] = {}
        self._home: OrderedDict[Hashable, RemoteServer] = OrderedDict()
        self._clock = itertools.count()
        self._watchers: list[asyncio.Task[None]] = []
        self._offered: tuple[Voice, ...] = ()

    # --- voices -------------------------------------------------------------------------------

    @property
    def voices(self) -> tuple[Voice, ...]:
        """The voices of the remotes that are up (the first remote's description wins)."""
        return self._offered

    def model_of(self, voice: Voice) -> str:
        """The model a remote voice is spoken with (part of the sentence cache's key)."""
        offering = self._offering(voice)
        return offering[0].model if offering else "unknown model"

    def _update_voices(self) -> None:
        offered: dict[str, Voice] = {}
        for server in self.servers:
            if server.up:
                for key, voice in server.voices.items():
                    offered.setdefault(key, voice)
        voices = tuple(offered.values())
        if voices != self._offered:
            self._offered = voices
            _LOGGER.info("Remote voices: %s", ", ".join(v.name for v in voices) or "none")
            self.on_change()

    # --- health ------------------------------------------------------------------------------

    async def start(self, wait: float) -> None:
        """Looks at every remote (waiting at most ``wait`` seconds for the first answers), then
        keeps looking in the background."""
        first = [asyncio.create_task(self._check(server)) for server in self.servers]
        await asyncio.wait(first, timeout=wait)
        for task in first:
            task.cancel()
        self._watchers = [asyncio.create_task(self._watch(server)) for server in self.servers]

    async def close(self) -> None:
        for task in self._watchers:
            task.cancel()
        for jobs in self._waiting.values():
            for job in jobs:
                job.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        await asyncio.gather(*(server.close() for server in self.servers), return_exceptions=True)

    async def _check(self, server: RemoteServer) -> bool:
        try:
            await server.check()
            if await self._give_clones(server):
                await server.check()
        except (RemoteError, RemoteUnavailable) as err:
            if server.up or server.failures == 0:
                _LOGGER.warning("Remote %s is down: %s", server.url, err)
            server.mark_down()
        else:
            if server.failures or not server.was_up:
                _LOGGER.info(
                    "Remote %s is up: %s (%d voices)", server.url, server.model, len(server.voices)
                )
            server.mark_up()
        self._update_voices()
        self._pump()
        return server.up

    async def _give_clones(self, server: RemoteServer) -> bool:
        """Uploads the cloned voices the remote lacks (or has an older clip of); whether any."""
        if self._clones is None or not server.accepts_uploads:
            return False
        given = False
        for voice in await asyncio.to_thread(self._clones):
            reference = voice.reference
            assert reference is not None
            key = voice.name.lower()
            try:
                stat = reference.audio_path.stat()
            except OSError:
                continue
            state = (stat.st_size, stat.st_mtime_ns)
            if key in server.voices and server.uploaded.setdefault(key, state) == state:
                continue
            if (server.url, key, state) in self._refused:
                continue
            try:
                if key in server.voices:
                    await server.remove(voice.name)
                await server.upload(voice.name, reference.audio_path, reference.transcript)
            except RemoteUnavailable:
                raise
            except RemoteError as err:
                _LOGGER.error("Remote %s did not take voice '%s': %s", server.url, voice.name, err)
                self._refused.add((server.url, key, state))
                continue
            _LOGGER.info("Gave cloned voice '%s' to remote %s", voice.name, server.url)
            server.uploaded[key] = state
            given = True
        return given

    async def _watch(self, server: RemoteServer) -> None:
        """Checks an up remote every ``CHECK_INTERVAL_S`` (or at once when a request to it
        failed), a down one after a backoff that doubles with each failure."""
        while True:
            if server.up:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                # that arrives as the wait ends, and the pool could not close.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CHECK_INTERVAL_S):
                        await server.wake.wait()
            if not server.up:
                first, longest = BACKOFF_S
                await asyncio.sleep(min(longest, first * 2 ** max(0, server.failures - 1)))
            server.wake.clear()
            await self._check(server)

    # --- scheduling --------------------------------------------------------------------------

    def submit(self, request: SynthesisRequest, group: Hashable) -> RemoteJob:
        """Queues one sentence of the answer ``group`` (on the event loop)."""
        job = RemoteJob(request, group)
        if not self._offering(request.voice):
            job._put(RemoteError(_unavailable(request.voice)))
            return job
        self._waiting.setdefault(group, deque()).append(job)
        self._pump()
        return job

    def _offering(self, voice: Voice, exclude: tuple[RemoteServer, ...] = ()) -> list[RemoteServer]:
        key = voice.name.lower()
        return [s for s in self.servers if s.up and key in s.voices and s not in exclude]

    def _pump(self) -> None:
        """Sends waiting sentences while remotes have room."""
        while True:
            ready = []
            for group, jobs in list(self._waiting.items()):
                while jobs and jobs[0].cancelled:
                    jobs.popleft()
                if not jobs:
                    del self._waiting[group]
                    self._forget_if_idle(group)
                elif self._in_flight.get(group, 0) < AHEAD:
                    ready.append(group)
            ready.sort(key=lambda g: (self._in_flight.get(g, 0), self._last_served.get(g, -1)))
            for group in ready:
                jobs = self._waiting[group]
                job = jobs[0]
                offering = self._offering(job.request.voice, exclude=tuple(job.tried))
                if not offering:
                    jobs.popleft()
                    job._put(RemoteError(_unavailable(job.request.voice)))
                    break
                server = self._place(job.group, offering)
                if server is None:
                    continue
                jobs.popleft()
                self._send(job, server)
                break
            else:
                return

    def _place(self, group: Hashable, offering: list[RemoteServer]) -> RemoteServer | None:
        """The remote for an answer's next sentence now, or None while the ones it may use are
        all full (an answer waits for its own remote while that remote is up)."""
        home = self._home.get(group)
        if home in offering:
            return home if home.outstanding < self._max_requests else None
        free = [s for s in offering if s.outstanding < self._max_requests]
        return min(free, key=lambda s: s.outstanding) if free else None

    def _send(self, job: RemoteJob, server: RemoteServer) -> None:
        group = job.group
        self._in_flight[group] = self._in_flight.get(group, 0) + 1
        self._last_served[group] = next(self._clock)
        self._home[group] = server
        self._home.move_to_end(group)
        if len(self._home) > HOMES:
            self._home.popitem(last=False)
        server.outstanding += 1
        job.tried.append(server)
        job.task = asyncio.create_task(self._speak(job, server))

    async def _speak(self, job: RemoteJob, server: RemoteServer) -> None:
        sent = False
        retry = False
        try:
            async for pcm in server.speak(job.request):
                sent = True
                job._put(pcm)
            job._put(DONE)
        except (RemoteUnavailable, RemoteError) as err:
            if isinstance(err, RemoteUnavailable):
                _LOGGER.warning("Remote %s failed: %s", server.url, err)
                server.mark_down()
                server.wake.set()
                self._update_voices()
            retry = (
                not sent
                and err.retryable
                and len(job.tried) == 1
                and bool(self._offering(job.request.voice, exclude=tuple(job.tried)))
            )
            if retry:
                _LOGGER.info("Retrying %r on another remote", job.request.text[:60])
            else:
                job._put(err)
        finally:
            server.outstanding -= 1
            self._in_flight[job.group] -= 1
            if retry and not job.cancelled:
                self._home.pop(job.group, None)
                self._waiting.setdefault(job.group, deque()).appendleft(job)
            self._forget_if_idle(job.group)
            self._pump()

    def _forget_if_idle(self, group: Hashable) -> None:
        if group not in self._waiting and not self._in_flight.get(group):
            self._in_flight.pop(group, None)
            self._last_served.pop(group, None)


def _unavailable(voice: Voice) -> str:
    return f"voice '{voice.name}' is not offered by any remote that is up now; try again shortly"
