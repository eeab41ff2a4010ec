"""Runs synthesis jobs on one worker thread per model, off the event loop.

Handlers on the event loop submit one job per sentence as soon as the sentence is known, and read
each job's audio later, in order. A model's jobs run one at a time, in order of submission,
because the model keeps per-call state. A cancelled job is skipped if it is still queued, and a
running one stops at its next frame.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Hashable

from .synthesis import AudioSink, SynthesisCancelled, SynthesisRequest

_LOGGER = logging.getLogger(__name__)

Synthesizer = Callable[[SynthesisRequest, AudioSink], None]

_DONE = object()


class Job:
    """One submitted request: iterate it on the event loop to get its PCM."""

    def __init__(self, request: SynthesisRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self._loop = loop
        self._items: asyncio.Queue[object] = asyncio.Queue()
        self._cancel = threading.Event()

    # AudioSink, called from the worker thread.
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def write(self, pcm: bytes) -> None:
        self._put(pcm)

    def cancel(self) -> None:
        self._cancel.set()

    async def audio(self) -> AsyncIterator[bytes]:
        """The job's PCM as it is produced; raises what the synthesizer raised."""
        while (item := await self._items.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item

    def _put(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self._cancel.set()


class Scheduler:
    """Routes each request to the worker thread of its model."""

    def __init__(self, synthesize: Synthesizer, route: Callable[[SynthesisRequest], Hashable]) -> None:
        self._synthesize = synthesize
        self._route = route
        self._workers: dict[Hashable, tuple[queue.SimpleQueue[Job | None], threading.Thread]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, request: SynthesisRequest) -> Job:
        job = Job(request, asyncio.get_running_loop())
        self._queue_for(self._route(request)).put(job)
        return job

    def close(self, timeout: float = 1.0) -> None:
        """Stops the workers after their current job; cancel running jobs first."""
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
        for jobs, _thread in workers:
            jobs.put(None)
        for _jobs, thread in workers:
            thread.join(timeout)

    def _queue_for(self, key: Hashable) -> queue.SimpleQueue[Job | None]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            if key not in self._workers:
                jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
                thread = threading.Thread(
                    target=self._serve, args=(jobs,), name=f"model-{key}", daemon=True
                )
                self._workers[key] = (jobs, thread)
                thread.start()
            return self._workers[key][0]

    def _serve(self, jobs: queue.SimpleQueue[Job | None]) -> None:
        while (job := jobs.get()) is not None:
            if job.cancelled:
                continue
            try:
                self._synthesize(job.request, job)
            except SynthesisCancelled as err:
                job._put(err)
            except Exception as err:  # noqa: BLE001 - reported to the request; the worker lives on
                _LOGGER.exception("Synthesis of %r failed", job.request.text[:80])
                job._put(err)
            else:
                job._put(_DONE)
