"""The long-running service: APScheduler ticks, the database says which feeds are due.

Scheduling state (``next_fetch_at``, leases) lives in the database, so a
restart or a second worker on another machine picks up where things stand;
every tick is the same work as ``monitor run --once --due``.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from monitor.orchestrator import Orchestrator

log = logging.getLogger(__name__)


def serve(orchestrator: Orchestrator, tick_seconds: int = 30) -> None:
    """Poll due feeds every ``tick_seconds`` until SIGINT or SIGTERM."""
    scheduler = BlockingScheduler(timezone="UTC")

    def tick() -> None:
        report = orchestrator.run_once(due_only=True)
        if report.feeds:
            log.info(
                "tick: %d feeds polled, %d failed, %d new items, %.1fs",
                len(report.feeds),
                len(report.failed),
                report.new,
                report.elapsed,
            )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s, finishing the current tick and stopping", signal.Signals(signum).name
        )
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
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
        orchestrator.close()
