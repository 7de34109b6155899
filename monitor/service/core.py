"""The service: one APScheduler, the poll tick, and the components around it.

A database outage does not stop the service: the tick logs it and the next
tick tries again.  SIGTERM and SIGINT stop it cleanly: the tick in flight is
asked to stop (its items in flight finish for a few seconds, the rest is left
for the next start), the components stop, then the pool is shut down.

A new configuration (see :mod:`monitor.service.reload`) is handed to
:meth:`Service.apply`; the next tick starts with an orchestrator built on it
(the extraction pool is kept), and every component is told.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Protocol

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler

from monitor.config import Settings
from monitor.events import NO_EVENTS, Events
from monitor.orchestrator import Orchestrator, utcnow
from monitor.pool import WorkerPool, worker_count
from monitor.reports import RunReport
from monitor.service.alerts import AlertSender
from monitor.service.digests import DigestScheduler
from monitor.service.heartbeat import Heartbeat
from monitor.service.housekeeping import Housekeeping
from monitor.service.http import HttpEndpoint
from monitor.service.reload import ConfigReloader
from monitor.service.web import WebConsole
from monitor.stopping import STOP_GRACE, StopSignal
from monitor.storage import Store, is_transient

log = logging.getLogger(__name__)

POLL_JOB = "poll-due-feeds"


class Component(Protocol):
    """A part of the service with its own jobs or threads (reload, HTTP, digests, ...).

    ``start`` runs in the main thread before the scheduler starts (so it may install
    signal handlers and add jobs to ``service.scheduler``); ``reconfigure`` after a
    new configuration was applied; ``stop`` once, when the service stops.
    """

    name: str

    def start(self, service: Service) -> None: ...

    def reconfigure(self, settings: Settings) -> None: ...

    def stop(self) -> None: ...


@dataclass(slots=True)
class ServiceHealth:
    """What the service knows of itself, for ``/healthz`` and the metrics."""

    started_at: datetime = field(default_factory=utcnow)
    database_ok: bool = True
    database_error: str | None = None
    ticks: int = 0
    last_tick_at: datetime | None = None
    last_tick_seconds: float | None = None
    last_report: RunReport | None = None
    last_successful_poll_at: datetime | None = None  # a feed fetched without failure


class Service:
    """Polls due feeds every ``tick_seconds`` until SIGINT or SIGTERM; see the module doc."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        tick_seconds: int = 30,
        stop: StopSignal | None = None,
        pool: WorkerPool | None = None,
        clock: Callable[[], datetime] = utcnow,
        events: Events = NO_EVENTS,
    ) -> None:
        self.settings = settings
        self.events = events  # replaced by the metrics component before the first tick
        self.store = store
        self.tick_seconds = tick_seconds
        self.stop = stop or StopSignal()
        self.clock = clock
        self._own_pool = pool is None
        self.pool = pool or WorkerPool(worker_count(settings.extract.workers))
        self.orchestrator = self._orchestrator(settings)
        self.scheduler = BlockingScheduler(timezone="UTC")
        self.health = ServiceHealth(started_at=clock())
        self.components: list[Component] = []
        self._pending: Settings | None = None
        self._lock = threading.Lock()  # guards _pending and the orchestrator swap
        self._idle = threading.Event()
        self._idle.set()

    def _orchestrator(self, settings: Settings) -> Orchestrator:
        return Orchestrator(
            settings,
            self.store,
            clock=self.clock,
            pool=self.pool,
            stop=self.stop,
            events=self.events,
        )

    def add(self, component: Component) -> None:
        self.components.append(component)

    def observe(self, events: Events) -> None:
        """Send the pipeline's events to ``events`` from the next tick on."""
        self.events = events
        with self._lock:
            self.orchestrator.events = events

    # -- configuration -------------------------------------------------------------

    def apply(self, settings: Settings) -> None:
        """Use ``settings`` from the next tick on; tell every component now.  Safe from any
        thread (not from a signal handler: components may take locks)."""
        with self._lock:
            self._pending = settings
            self.settings = settings
        for component in self.components:
            try:
                component.reconfigure(settings)
            except Exception:
                log.exception("%s: could not apply the new configuration", component.name)

    def _take_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self.orchestrator = self._orchestrator(pending)

    # -- the poll tick -------------------------------------------------------------

    def tick(self) -> RunReport | None:
        """Poll the due feeds once (a scheduler job; tests call it directly)."""
        if self.stop.requested:
            return None
        self._idle.clear()
        started = time.perf_counter()
        try:
            self._take_pending()
            report = self.orchestrator.run_once(due_only=True)
        except Exception as exc:
            if not is_transient(exc):
                log.exception("tick failed; the service goes on and tries again at the next tick")
                return None
            log.error(
                "database unreachable (%s); the service keeps running and tries again in %ds",
                exc,
                self.tick_seconds,
            )
            self.health.database_ok, self.health.database_error = False, str(exc)
            return None
        finally:
            self._idle.set()
            self.health.ticks += 1
            self.health.last_tick_at = self.clock()
            self.health.last_tick_seconds = time.perf_counter() - started
        if not self.health.database_ok:
            log.warning("database reachable again; polling resumes")
        self.health.database_ok, self.health.database_error = True, None
        self.health.last_report = report
        if any(not f.failed for f in report.feeds):
            self.health.last_successful_poll_at = self.clock()
        if report.feeds or report.pages.tried:
            log.info(
                "tick: %d feeds polled, %d failed, %d new items, %d pages fetched again "
                "(%d upgraded), %.1fs",
                len(report.feeds),
                len(report.failed),
                report.new,
                report.pages.tried,
                report.pages.upgraded,
                report.elapsed,
            )
        return report

    # -- running -------------------------------------------------------------------

    def run(self) -> None:
        """Start the components and the scheduler; return when stopped."""

        received: list[int] = []

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            # a handler runs between two bytecodes of the main thread, which may hold the
            # scheduler's or the logging lock then: it only records and requests; the
            # thread below logs and shuts the scheduler down
            received.append(signum)
            self.stop.request()

        def stop_the_scheduler() -> None:
            self.stop.wait()
            if received:
                log.info(
                    "received %s: finishing the work in flight (up to %.0fs) and stopping",
                    signal.Signals(received[0]).name,
                    STOP_GRACE,
                )
            with contextlib.suppress(SchedulerNotRunningError):
                self.scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        threading.Thread(target=stop_the_scheduler, name="stop", daemon=True).start()
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.tick_seconds,
            id=POLL_JOB,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),  # first tick at once
        )
        started: list[Component] = []
        try:
            for component in self.components:
                component.start(self)
                started.append(component)
            log.info("monitor service started; polling due feeds every %ds", self.tick_seconds)
            if not self.stop.requested:  # a signal during start-up: nothing to schedule
                self.scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.stop.request()
            if not self._idle.wait(timeout=STOP_GRACE + 20):
                log.warning("the tick in flight did not end in time; stopping anyway")
            for component in reversed(started):
                try:
                    component.stop()
                except Exception:
                    log.exception("%s: error while stopping", component.name)
            self.close()
            log.info("monitor service stopped")

    def close(self) -> None:
        self.orchestrator.close()
        if self._own_pool:
            self.pool.close()


def default_components(settings: Settings) -> list[Component]:
    """The components ``monitor run`` starts, in order (each stops in reverse)."""
    components: list[Component] = []
    components.append(HttpEndpoint(settings))  # /healthz, /metrics: first up, last down
    components.append(Heartbeat(settings))  # the workers table: alive, then stopped
    components.append(ConfigReloader(settings))  # SIGHUP and feeds.yaml checks
    components.append(Housekeeping(settings))  # retention: the prune job
    components.append(AlertSender(settings))  # webhook alerts of new matches
    components.append(DigestScheduler(settings))  # digest e-mails on their schedules
    components.append(WebConsole(settings))  # the analysts' console (web.enabled)
    return components
