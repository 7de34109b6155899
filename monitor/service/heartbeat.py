"""The worker's heartbeat: how the other workers and ``monitor status`` know it is alive.

At start the service registers in the ``workers`` table (host, pid, mode
``service``, the version of its feeds.yaml and monitor's version); a job then
refreshes ``seen_at`` every :data:`~monitor.workers.HEARTBEAT_SECONDS`, in the
scheduler's thread pool, so a long poll tick does not delay it.  A clean stop
marks the row stopped.  A worker killed with SIGKILL just falls silent: after
:data:`~monitor.workers.SILENT_AFTER` the other workers take its leases
(:func:`monitor.workers.lease_holder_gone`), long before the leases expire.

A database outage is logged once and the next heartbeat tries again; a row
that has gone (forgotten, or never written because the database was down at
start) is written again by the next heartbeat.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor.config import Settings
from monitor.storage import is_transient
from monitor.workers import HEARTBEAT_SECONDS, config_label, worker_info

if TYPE_CHECKING:
    from monitor.service.core import Service
    from monitor.storage.workers import WorkerInfo

log = logging.getLogger(__name__)

HEARTBEAT_JOB = "worker-heartbeat"


class Heartbeat:
    """Registers the worker, beats, and says when it stopped (see the module doc)."""

    name = "heartbeat"

    def __init__(self, settings: Settings, every: float = HEARTBEAT_SECONDS) -> None:
        self.settings = settings
        self.every = every
        self.beats = 0  # heartbeats written, for tests and the log
        self._service: Service | None = None
        self._info: WorkerInfo | None = None
        self._label = config_label(settings)
        self._failing = False

    def start(self, service: Service) -> None:
        self._service = service
        # the orchestrator's identity is the one its leases carry
        info = replace(worker_info("service", self.settings), id=service.orchestrator.owner)
        self._info = info
        self._register()
        service.scheduler.add_job(
            self.beat,
            "interval",
            seconds=self.every,
            id=HEARTBEAT_JOB,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,  # late is better than skipped: others watch it
        )
        log.info("worker %s registered; heartbeat every %.0fs", info.id, self.every)

    def reconfigure(self, settings: Settings) -> None:
        self.settings = settings
        self._label = config_label(settings)

    def stop(self) -> None:
        if self._service is None or self._info is None:
            return
        try:
            self._service.store.workers.stopped(self._info.id, self._now())
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning(
                "could not mark worker %s stopped (database unreachable: %s); it will be "
                "shown as silent, and its leases are released by their expiry",
                self._info.id,
                exc,
            )

    def beat(self) -> bool:
        """One heartbeat (the scheduler's job; tests call it directly); True if written."""
        assert self._service is not None and self._info is not None, "start() first"
        try:
            found = self._service.store.workers.heartbeat(self._info.id, self._now(), self._label)
            if not found:
                self._register()
        except Exception as exc:
            if not is_transient(exc):
                log.exception("heartbeat failed; the next one tries again")
                return False
            if not self._failing:
                log.error("heartbeat not written (database unreachable: %s); retrying", exc)
            self._failing = True
            return False
        if self._failing:
            log.warning("heartbeat written again")
        self._failing = False
        self.beats += 1
        return True

    def _register(self) -> None:
        assert self._service is not None and self._info is not None
        info = replace(self._info, config_version=self._label)
        try:
            self._service.store.workers.register(info, self._now())
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.error("worker not registered (database unreachable: %s); retrying", exc)
            self._failing = True

    def _now(self) -> datetime:
        return self._service.clock() if self._service is not None else datetime.now(UTC)
