"""Per-host politeness: how many requests at once, how far apart, and Retry-After.

Every request of a poll, feed or article page, passes through its host's
:class:`HostGate` (one per host name, held by the :class:`~monitor.pipeline.fetch.Fetcher`):

* at most ``fetch.per_host`` requests to one host are in flight at once;
* two request starts to one host are at least ``fetch.per_host_delay`` seconds
  apart (the start is reserved before sleeping, so waiters queue in order);
* a ``429`` or ``503`` with ``Retry-After`` pauses the whole host for that long
  (at most :data:`MAX_PAUSE`).  A pause of up to :data:`WAIT_OUT` seconds is
  waited out; a longer one makes the request fail at once as temporary with
  the time left as its ``retry_after``, so the poll is not held for an hour
  and the feed or page is scheduled again after the pause.

Pauses outlive one poll (:class:`HostPauses`, kept by the orchestrator), since
the next tick may poll another feed of the same host; the semaphores do not,
being bound to one event loop.  The clock is ``time.monotonic``: these are real
request times, whatever clock the schedule runs on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

MAX_PAUSE = 3600.0  # a Retry-After longer than an hour is read as an hour
WAIT_OUT = 10.0  # a pause this short is slept through inside the poll


@dataclass(slots=True)
class HostPauses:
    """Until when each host asked not to be contacted (monotonic seconds), and why."""

    clock: Callable[[], float] = time.monotonic
    _until: dict[str, tuple[float, str]] = field(default_factory=dict)

    def pause(self, host: str, seconds: float, why: str) -> None:
        """Pause ``host`` for ``seconds`` (bounded by :data:`MAX_PAUSE`); a longer pause
        already in place is kept."""
        until = self.clock() + min(max(seconds, 0.0), MAX_PAUSE)
        if until > self._until.get(host, (0.0, ""))[0]:
            self._until[host] = (until, why)

    def left(self, host: str) -> tuple[float, str]:
        """Seconds of pause left for ``host`` (0 when none) and the reason."""
        until, why = self._until.get(host, (0.0, ""))
        remaining = until - self.clock()
        if remaining <= 0:
            self._until.pop(host, None)
            return 0.0, ""
        return remaining, why


class HostBusy(Exception):
    """The host is paused for longer than :data:`WAIT_OUT`: the request is not sent."""

    def __init__(self, host: str, seconds: float, why: str) -> None:
        super().__init__(
            f"not sent: host {host} asked for a pause ({why}), {seconds:.0f}s left; "
            "tried again after it"
        )
        self.seconds = seconds


class HostGate:
    """One host's limit on concurrent requests and spacing of request starts."""

    def __init__(
        self, host: str, per_host: int, delay: float, pauses: HostPauses, *, wait_out: float
    ) -> None:
        self.host = host
        self._slots = asyncio.Semaphore(per_host)
        self._delay = delay
        self._pauses = pauses
        self._next_start = 0.0
        self._wait_out = wait_out

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the host's slots from the request's start to its end.

        Raises :class:`HostBusy` (before taking a slot, or after waiting for one)
        when the host is paused for longer than the gate waits out."""
        self._check()
        async with self._slots:
            while True:
                self._check()
                now = self._pauses.clock()
                paused, _why = self._pauses.left(self.host)
                if paused > 0:  # a short pause: waited out, then looked at again
                    await asyncio.sleep(paused)
                    continue
                if self._next_start <= now:
                    self._next_start = now + self._delay
                    break
                wait = self._next_start - now
                self._next_start += self._delay  # this request's start is reserved
                await asyncio.sleep(wait)
                if self._pauses.left(self.host)[0] <= 0:
                    break
            yield

    def _check(self) -> None:
        paused, why = self._pauses.left(self.host)
        if paused > self._wait_out:
            raise HostBusy(self.host, paused, why)


class HostGates:
    """The gates of one poll, one per host name, created on first use."""

    def __init__(
        self, per_host: int, delay: float, pauses: HostPauses, *, wait_out: float = WAIT_OUT
    ) -> None:
        self._per_host = per_host
        self._delay = delay
        self.pauses = pauses
        self._wait_out = wait_out
        self._gates: dict[str, HostGate] = {}

    def __getitem__(self, host: str) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = HostGate(host, self._per_host, self._delay, self.pauses, wait_out=self._wait_out)
            self._gates[host] = gate
        return gate
