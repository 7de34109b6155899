"""Housekeeping: the service's prune job, every ``housekeeping.prune_every``.

The job is ``monitor prune`` run by the scheduler (:mod:`monitor.storage.retention`
does the work, in batches each its own transaction).  It runs once soon after
start, then at the interval; a reload that changes the interval reschedules it.
A prune in flight when the service stops ends after its current batch.  A
database outage is logged and the next run tries again.  A worker whose
feeds.yaml is older than the one the database follows does not prune: its
retention settings may be the ones the newer file changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from monitor.config import Settings
from monitor.storage import Store, is_transient
from monitor.storage.config_version import ConfigVersion, Verdict, decide
from monitor.storage.retention import PruneReport, RetentionPolicy

if TYPE_CHECKING:
    from monitor.service.core import Service

log = logging.getLogger(__name__)

PRUNE_JOB = "housekeeping-prune"
FIRST_RUN_DELAY = 3.0  # seconds after start: let the first poll tick claim its feeds first


def older_config(store: Store, settings: Settings) -> str | None:
    """Why this feeds.yaml must not prune (older than the database's), else None."""
    followed = store.config_version.current()
    if followed is None:
        return None
    try:
        mine = ConfigVersion.of_file(settings.config_path, settings.config_version)
    except OSError:
        mine = ConfigVersion("", settings.config_version, 0, str(settings.config_path))
    if decide(mine, followed, "") is not Verdict.OLDER:
        return None
    return (
        f"{settings.config_path} ({mine.describe()}) is older than the feeds.yaml the "
        f"database follows ({followed.version.describe()}, written by "
        f"{followed.updated_by or 'an unknown worker'}); its retention settings may be "
        "out of date, so it does not prune. Use the newer file (or raise its config_version:)"
    )


def prune(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PruneReport:
    """One prune with ``settings``' retention rules (the CLI and the job share it)."""
    keeping = settings.housekeeping
    return store.retention.prune(
        RetentionPolicy.of(settings),
        now,
        batch=keeping.prune_batch,
        tombstone_ttl=keeping.tombstone_ttl,
        dry_run=dry_run,
        progress=progress,
        should_stop=should_stop,
    )


def summary(report: PruneReport) -> str:
    verb = "would prune" if report.dry_run else "pruned"
    return (
        f"{verb} {report.items} items ({report.entries} feed entries tombstoned, "
        f"{report.pages} pages, {report.revisions} revisions, {report.matches} watch "
        f"matches, {report.retries} page retries; {report.clusters} clusters given a new "
        f"representative) of {report.scanned} old enough to look at, "
        f"{report.kept_matched} kept as watchlist matches; "
        f"{report.tombstones_expired} tombstones expired; {report.batches} batches"
    )


class Housekeeping:
    """The prune job (see the module doc)."""

    name = "housekeeping"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runs = 0  # prunes finished, for tests and the log
        self.last_report: PruneReport | None = None
        self._service: Service | None = None
        self._every = settings.housekeeping.prune_every

    def start(self, service: Service) -> None:
        self._service = service
        service.scheduler.add_job(
            self.run,
            "interval",
            seconds=self._every,
            id=PRUNE_JOB,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=FIRST_RUN_DELAY),
        )
        log.info(
            "housekeeping: pruning every %ds (%s)",
            self._every,
            RetentionPolicy.of(self.settings).describe(),
        )

    def reconfigure(self, settings: Settings) -> None:
        self.settings = settings
        every = settings.housekeeping.prune_every
        if every != self._every and self._service is not None:
            self._every = every
            self._service.scheduler.reschedule_job(PRUNE_JOB, trigger="interval", seconds=every)
            log.info("housekeeping: pruning every %ds from now on", every)

    def stop(self) -> None:
        """Nothing to release: a prune in flight stops after its batch (the stop signal)."""

    def run(self) -> PruneReport | None:
        """One prune (the scheduler's job; tests call it directly)."""
        assert self._service is not None, "start() first"
        service = self._service
        if service.stop.requested:
            return None
        settings = self.settings
        started = time.perf_counter()
        try:
            refused = older_config(service.store, settings)
            if refused:
                log.warning("housekeeping: %s", refused)
                return None
            report = prune(
                service.store,
                settings,
                service.clock(),
                should_stop=lambda: service.stop.requested,
            )
        except Exception as exc:
            if not is_transient(exc):
                log.exception("housekeeping: the prune failed; it is tried again at the next run")
                return None
            log.error(
                "housekeeping: database unreachable (%s); the prune is tried again in %ds",
                exc,
                self._every,
            )
            return None
        self.runs += 1
        self.last_report = report
        if report.skipped:
            log.info("housekeeping: prune skipped: %s", report.skipped)
        else:
            log.info(
                "housekeeping: %s, %.1fs%s",
                summary(report),
                time.perf_counter() - started,
                " (stopped early: the service is stopping)" if report.stopped else "",
            )
        return report
