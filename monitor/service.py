"""The long-running service: APScheduler ticks, the database says which feeds are due.

Scheduling state (``next_fetch_at``, leases) lives in the database, so a
restart or a second worker on another machine picks up where things stand;
every tick is the same work as ``monitor run --once --due``.

A database outage does not stop the service: the tick logs it and the next
tick tries again.  SIGTERM and SIGINT stop it cleanly: the tick in flight is
asked to stop (its items in flight finish for a few seconds, the rest is left
for the next start), then the pool is shut down.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from monitor.orchestrator import Orchestrator
from monitor.stopping import STOP_GRACE
from monitor.storage import is_transient

log = logging.getLogger(__name__)


def serve(orchestrator: Orchestrator, tick_seconds: int = 30) -> None:
    """Poll due feeds every ``tick_seconds`` until SIGINT or SIGTERM."""
    scheduler = BlockingScheduler(timezone="UTC")
    idle = threading.Event()
    idle.set()
    outage = False

    def tick() -> None:
        nonlocal outage
        if orchestrator.stop_requested:
            return
        idle.clear()
        try:
            report = orchestrator.run_once(due_only=True)
        except Exception as exc:
            if not is_transient(exc):
                log.exception("tick failed; the service goes on and tries again at the next tick")
                return
            log.error(
                "database unreachable (%s); the service keeps running and tries again in %ds",
                exc,
                tick_seconds,
            )
            outage = True
            return
        finally:
            idle.set()
        if outage:
            log.warning("database reachable again; polling resumes")
            outage = False
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

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing the work in flight (up to %.0fs) and stopping",
            signal.Signals(signum).name,
            STOP_GRACE,
        )
        orchestrator.request_stop()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.add_job(
        tick,
        "interval",
        seconds=tick_seconds,
        id="poll-due-feeds",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),  # first tick at once
    )
    log.info("monitor service started; polling due feeds every %ds", tick_seconds)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        orchestrator.request_stop()
        if not idle.wait(timeout=STOP_GRACE + 20):
            log.warning("the tick in flight did not end in time; stopping anyway")
        orchestrator.close()
        log.info("monitor service stopped")
