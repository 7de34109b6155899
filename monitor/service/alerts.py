"""The alert sender: a service component that POSTs each new match to its webhook.

Every second (a job in the service's scheduler) it queues the matches found
since it last looked for each watchlist with an ``alert:``, takes the lease on
the alerts due, POSTs them and records each outcome (:mod:`monitor.storage.alerts`
says why that is exactly once across workers and restarts).  Polling the
matches table rather than hooking the ingest means matches stored by any
worker, a ``monitor run --once`` or a backfill are seen too, and nothing is
lost when the service was down: the queue is in the database.

A failed POST is tried again after each delay of the watchlist's
``alert.backoff`` in turn, then after the last one for ever; after
``fail_after`` attempts the alert is logged and shown as failed, and still
tried.  The webhook URL is a secret: logs name ``scheme://host/…`` only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.config import AlertConfig, FetchSettings, Settings
from monitor.deliver.alerts import AlertItem, mask_webhook, render
from monitor.deliver.webhook import Delivery, WebhookClient
from monitor.storage import is_transient
from monitor.storage.alerts import Outcome
from monitor.workers import worker_id

if TYPE_CHECKING:
    from monitor.service.core import Service
    from monitor.storage import Store

log = logging.getLogger(__name__)

ALERT_JOB = "send-alerts"
POLL_SECONDS = 1.0
CONCURRENCY = 8  # POSTs in flight at once
# alerts claimed at once: one round of POSTs, so that the lease (two request deadlines
# and a margin) outlasts the batch; a full batch is followed by another at once
BATCH = CONCURRENCY
MAX_BATCHES = 25  # per run, so that the job gives the scheduler back now and then


def retry_delay(alert: AlertConfig, attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed POST (1-based): the
    ``backoff`` delays in turn, then the last one for ever."""
    return alert.backoff[min(max(attempts, 1), len(alert.backoff)) - 1]


def outcome_of(delivery: Delivery, alert: AlertConfig, attempts: int, now: datetime) -> Outcome:
    """What to record after the ``attempts``-th POST (1-based) of one alert."""
    return Outcome(
        ok=delivery.ok,
        status=delivery.status,
        error=delivery.error,
        next_attempt_at=now + timedelta(seconds=retry_delay(alert, attempts)),
        failed=not delivery.ok and attempts >= alert.fail_after,
    )


class AlertSender:
    """The ``alerts`` component (see the module doc)."""

    name = "alerts"

    def __init__(self, settings: Settings, *, poll_seconds: float = POLL_SECONDS) -> None:
        self._settings = settings
        self._poll = poll_seconds
        self._owner = worker_id()
        self._lock = threading.Lock()  # guards _settings
        self._busy = threading.Lock()  # held while a run queues, POSTs and records
        self._begun: frozenset[str] | None = None  # None: not yet told to the database
        self._service: Service | None = None
        self._db_down = False

    # -- the component protocol ----------------------------------------------------

    def start(self, service: Service) -> None:
        self._service = service
        try:  # before the first tick, so that its matches count as found after the start
            self._begin(service.store, self._alerting(self._settings), service.clock())
        except Exception as exc:  # the job tries again every second
            if not is_transient(exc):
                log.exception("alerts: could not record which watchlists alert")
            else:
                log.warning("alerts: database unreachable (%s); trying again every second", exc)
        service.scheduler.add_job(
            self.run_once,
            "interval",
            seconds=self._poll,
            id=ALERT_JOB,
            max_instances=1,
            coalesce=True,
        )

    def reconfigure(self, settings: Settings) -> None:
        with self._lock:
            self._settings = settings

    def stop(self) -> None:
        service = self._service
        if service is None:
            return
        try:
            service.scheduler.remove_job(ALERT_JOB)
        except Exception:  # the scheduler is already shut down: the job went with it
            log.debug("alerts: job already gone")
        # a batch in flight finishes first (its POSTs are bounded by total_timeout), so
        # that what it sent is recorded, not released and sent again by the next start
        if not self._busy.acquire(timeout=service.settings.fetch.total_timeout + 10):
            log.warning("alerts: the batch in flight did not end in time; stopping anyway")
            return
        try:
            service.store.alerts.release(self._owner)
        except Exception as exc:  # the leases run out by themselves
            log.warning("alerts: could not give back the leases held (%s)", exc)
        finally:
            self._busy.release()

    # -- the job ---------------------------------------------------------------------

    def run_once(self) -> int:
        """Queue, claim and POST what is due; returns how many alerts were delivered."""
        service = self._service
        if service is None or service.stop.requested:
            return 0
        with self._busy:
            return self._run_once(service)

    def _run_once(self, service: Service) -> int:
        with self._lock:
            settings = self._settings
        alerting = self._alerting(settings)
        if not alerting and self._begun == frozenset():
            return 0  # no alerts, and the database knows it
        try:
            self._begin(service.store, alerting, service.clock())
            delivered = self._run(service, alerting, settings.fetch) if alerting else 0
        except Exception as exc:
            if not is_transient(exc):
                log.exception("alerts: sending failed; trying again in a second")
                return 0
            if not self._db_down:
                log.error("alerts: database unreachable (%s); trying again every second", exc)
            self._db_down = True
            return 0
        if self._db_down:
            log.warning("alerts: database reachable again")
            self._db_down = False
        return delivered

    @staticmethod
    def _alerting(settings: Settings) -> dict[str, AlertConfig]:
        return {w.name: w.alert for w in settings.watchlists if w.alert is not None}

    def _begin(self, store: Store, alerting: dict[str, AlertConfig], now: datetime) -> None:
        """Tell the database which watchlists alert, when that changed (at start, after
        a reload): their start is recorded, the others' alerts are marked stopped."""
        names = frozenset(alerting)
        if names == self._begun:
            return
        started = store.alerts.begin(names, now)
        for name in sorted(names - (self._begun or frozenset())):
            log.info(
                "alerts: watchlist %r alerts %s of matches found since %s",
                name,
                mask_webhook(alerting[name].webhook),
                f"{started[name]:%Y-%m-%d %H:%M:%S} UTC",
            )
        for name in store.alerts.stop_others(names, now):
            log.info("alerts: watchlist %r has no alert: section any more; alerts stopped", name)
        self._begun = names

    def _run(self, service: Service, alerting: dict[str, AlertConfig], fetch: FetchSettings) -> int:
        store = service.store
        for name, alert in alerting.items():
            store.alerts.enqueue(name, service.clock(), mask_webhook(alert.webhook))
        lease = timedelta(seconds=fetch.total_timeout * 2 + 30)
        delivered = 0
        for _ in range(MAX_BATCHES):
            if service.stop.requested:
                break
            claimed = store.alerts.claim(self._owner, list(alerting), service.clock(), lease, BATCH)
            if claimed:
                delivered += asyncio.run(self._deliver(service, claimed, alerting, fetch))
            if len(claimed) < BATCH:
                break
        return delivered

    async def _deliver(
        self,
        service: Service,
        claimed: list[AlertItem],
        alerting: dict[str, AlertConfig],
        fetch: FetchSettings,
    ) -> int:
        gate = asyncio.Semaphore(CONCURRENCY)
        async with WebhookClient(fetch, CONCURRENCY) as client:

            async def one(item: AlertItem) -> bool:
                alert = alerting[item.watchlist]
                async with gate:
                    delivery = await client.post(
                        alert.webhook,
                        render(item, alert.format),
                        allow_private=alert.allow_private,
                        key=f"monitor-alert-{item.alert_id}",
                    )
                now = service.clock()
                outcome = outcome_of(delivery, alert, item.attempts + 1, now)
                kept = await asyncio.to_thread(
                    service.store.alerts.record, item.alert_id, self._owner, outcome, now
                )
                self._log(item, alert, outcome, kept)
                return delivery.ok and kept

            results = await asyncio.gather(*(one(item) for item in claimed))
        return sum(results)

    @staticmethod
    def _log(item: AlertItem, alert: AlertConfig, outcome: Outcome, kept: bool) -> None:
        target = mask_webhook(alert.webhook)
        attempt = item.attempts + 1
        if not kept:
            log.warning(
                "alerts: alert %d (watchlist %r, item %d) was taken over by another worker "
                "while this one POSTed it to %s",
                item.alert_id,
                item.watchlist,
                item.item_id,
                target,
            )
        elif outcome.ok:
            log.info(
                "alerts: sent alert %d (watchlist %r, item %d %r) to %s: HTTP %s",
                item.alert_id,
                item.watchlist,
                item.item_id,
                item.title,
                target,
                outcome.status,
            )
        else:
            wait = retry_delay(alert, attempt)
            level = logging.ERROR if outcome.failed else logging.WARNING
            state = (
                f"marked failed after {attempt} attempts (see monitor alerts list); still "
                if outcome.failed
                else ""
            )
            log.log(
                level,
                "alerts: alert %d (watchlist %r, item %d) not delivered to %s, attempt %d: "
                "%s; %strying again in %ds",
                item.alert_id,
                item.watchlist,
                item.item_id,
                target,
                attempt,
                outcome.error,
                state,
                wait,
            )
