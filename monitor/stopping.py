"""Stopping cleanly: a stop request lets work in flight finish, then halts the rest.

SIGTERM during a poll used to shut the process pool under the pages still
being fetched, and their items were lost.  Now a stop request (a signal, or
:meth:`StopSignal.request` from another thread) means: start no new work, let
what is in flight finish for ``grace`` seconds, then cancel what is left with
:class:`Stopped`.  The orchestrator treats stopped work as not done, so the
feed is read again at the next start and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
STOP_GRACE = 5.0  # seconds in-flight work may take to finish after a stop request


class Stopped(Exception):
    """The work was left for later: a stop was requested, or the poll's budget ran out."""


class StopSignal:
    """A stop request shared by the threads of a process and the event loop of a poll."""

    def __init__(self, grace: float = STOP_GRACE) -> None:
        self.grace = grace
        self._requested = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()
        self._halt = asyncio.Event()

    def request(self) -> None:
        """Stop soon.  Safe to call from a signal handler or another thread."""
        self._requested.set()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopping.set)

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested (True), or ``timeout`` passes (False)."""
        return self._requested.wait(timeout)

    @property
    def stopping(self) -> bool:
        """True in the event loop once a stop was requested: start no new work."""
        return self._stopping.is_set() or self._requested.is_set()

    @asynccontextmanager
    async def attached(self, signals: bool = False) -> AsyncIterator[None]:
        """Bind to the running loop for one poll; ``signals`` makes SIGTERM and SIGINT
        request a stop (only where the loop runs in the main thread)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stopping, self._halt = asyncio.Event(), asyncio.Event()
        if self._requested.is_set():
            self._stopping.set()
        signals = signals and threading.current_thread() is threading.main_thread()
        if signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._on_signal, signum)
        watcher = asyncio.create_task(self._halt_after_grace())
        try:
            yield
        finally:
            watcher.cancel()
            if signals:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
            self._loop = None

    async def guard(self, work: Awaitable[T]) -> T:
        """``work``, unless the grace period after a stop request ends first
        (then it is cancelled and :class:`Stopped` raised)."""
        task = asyncio.ensure_future(work)
        halt = asyncio.ensure_future(self._halt.wait())
        try:
            await asyncio.wait({task, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise Stopped("stopping: left for the next poll")

    def _on_signal(self, signum: int) -> None:
        log.warning(
            "received %s: finishing the work in flight (up to %.0fs), leaving the rest for "
            "the next poll",
            signal.Signals(signum).name,
            self.grace,
        )
        self.request()

    async def _halt_after_grace(self) -> None:
        await self._stopping.wait()
        await asyncio.sleep(self.grace)
        self._halt.set()
