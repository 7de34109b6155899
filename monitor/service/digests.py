"""The digest component: one APScheduler cron job per watchlist with a digest.

At each scheduled time F the watchlist's next window [last end, F) is claimed
in the database (only one worker can: :mod:`monitor.storage.digests`) and
every due digest is sent.  At start-up, a schedule missed while the service
was down is caught up once: one window from the last end to the latest
scheduled time that has passed.  A watchlist that never had a digest starts
with the period before its first scheduled time.  A digest the SMTP server
refused is tried again after each delay of ``digest.backoff``, then after the
last for ever; after ``fail_after`` attempts it is logged and listed as failed
(``monitor digest list``), and still tried: none is dropped.

The same :class:`DigestSender` serves ``monitor digest send``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from monitor.config import DigestConfig, Settings, WatchlistConfig
from monitor.deliver.digest import build
from monitor.deliver.mail import build_message, deliver, message_id
from monitor.deliver.render import render
from monitor.errors import NotifyError
from monitor.storage import is_transient
from monitor.storage.digests import DigestRow
from monitor.workers import worker_id

if TYPE_CHECKING:
    from monitor.service.core import Service
    from monitor.storage import Store

log = logging.getLogger(__name__)

RETRY_JOB = "digest-retries"
RETRY_POLL = 5  # seconds between looks for digests due again
LEASE = timedelta(minutes=5)
_LOOKBACK = (timedelta(minutes=2), timedelta(hours=2), timedelta(days=2), timedelta(days=400))


def trigger(digest: DigestConfig) -> CronTrigger:
    return CronTrigger.from_crontab(digest.schedule, timezone=ZoneInfo(digest.timezone))


def latest_fire(cron: CronTrigger, before: datetime, *, strict: bool = False) -> datetime | None:
    """The latest scheduled time at or before ``before`` (strictly before with ``strict``)."""
    limit = before - timedelta(microseconds=1) if strict else before
    for back in _LOOKBACK:
        moment = cron.get_next_fire_time(None, limit - back)
        found = None
        while moment is not None and moment <= limit:
            found = moment
            moment = cron.get_next_fire_time(moment, moment + timedelta(seconds=1))
        if found is not None:
            result: datetime = found.astimezone(UTC)
            return result
    return None


def retry_delay(digest: DigestConfig, attempts: int) -> int:
    return digest.backoff[min(max(attempts, 1), len(digest.backoff)) - 1]


class DigestSender:
    """Claims windows and sends digests for one configuration (service and CLI alike)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], datetime] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.env = os.environ if env is None else env
        self.owner = worker_id()

    def watchlists(self) -> dict[str, WatchlistConfig]:
        return {w.name: w for w in self.settings.watchlists if w.digest is not None}

    def open_due(self, watchlist: WatchlistConfig, now: datetime) -> DigestRow | None:
        """Claim the window ending at the latest scheduled time passed, if none did yet."""
        digest = watchlist.digest
        assert digest is not None
        cron = trigger(digest)
        end = latest_fire(cron, now)
        if end is None:
            return None
        start = self.store.digests.last_end(watchlist.name)
        if start is None:
            start = latest_fire(cron, end, strict=True) or end - timedelta(days=1)
        if start >= end:
            return None
        return self._open(watchlist, start, end, now)

    def open_now(self, watchlist: WatchlistConfig, now: datetime) -> DigestRow | None:
        """Claim [last end, now): ``monitor digest send --now``."""
        digest = watchlist.digest
        assert digest is not None
        start = self.store.digests.last_end(watchlist.name)
        if start is None:
            start = latest_fire(trigger(digest), now, strict=True) or now - timedelta(days=1)
        return self._open(watchlist, start, now, now) if start < now else None

    def _open(
        self, watchlist: WatchlistConfig, start: datetime, end: datetime, now: datetime
    ) -> DigestRow | None:
        assert watchlist.digest is not None
        row = self.store.digests.open_window(
            watchlist.name, start, end, now, skip_empty=watchlist.digest.empty == "skip"
        )
        if row is not None:
            log.info(
                "digest %r: window %s to %s claimed, %d matched items%s",
                watchlist.name,
                start.isoformat(),
                end.isoformat(),
                row.items,
                " (empty: skipped)" if row.status == "skipped" else "",
            )
        return row

    def send_due(self, names: list[str] | None = None) -> list[tuple[DigestRow, str | None]]:
        """Send every due digest (of ``names``); each with the error, None when sent."""
        configs = self.watchlists()
        wanted = [n for n in (names or list(configs)) if n in configs]
        results = []
        now = self.clock()
        for row in self.store.digests.due(now, wanted):
            if not self.store.digests.take(row.id, self.owner, now, LEASE):
                continue
            results.append((row, self._send(row, configs[row.watchlist], now)))
        return results

    def _send(self, row: DigestRow, watchlist: WatchlistConfig, now: datetime) -> str | None:
        digest = watchlist.digest
        smtp = self.settings.smtp
        assert digest is not None
        error: str | None = None
        msg_id = None
        try:
            if smtp is None:
                raise NotifyError(
                    f"watchlist {watchlist.name!r} has a digest but the configuration has no "
                    "smtp: section; add one (host: or output:)"
                )
            view = build(
                watchlist.name,
                self.store.digests.contents(row.id),
                row.window_start,
                row.window_end,
                digest.timezone,
                digest.group_by,
            )
            template_dir = digest.template_dir
            if template_dir and not Path(template_dir).is_absolute():
                template_dir = str(self.settings.config_path.parent / template_dir)
            msg_id = message_id(row.id, watchlist.name, row.window_start, smtp.from_)
            message = build_message(
                render(view, template_dir), smtp.from_, digest.to, msg_id=msg_id, date=now
            )
            deliver(message, smtp, digest.to, self.env, self.settings.config_path.parent)
        except NotifyError as exc:
            error = str(exc)
        attempts = row.attempts + 1
        failed = error is not None and attempts >= digest.fail_after
        delay = retry_delay(digest, attempts)
        self.store.digests.record(
            row.id,
            self.owner,
            self.clock(),
            error=error,
            next_attempt_at=now + timedelta(seconds=delay),
            failed=failed,
            message_id=msg_id,
        )
        if error is None:
            log.info(
                "digest %r (%d items) sent to %d recipient(s)",
                watchlist.name,
                row.items,
                len(digest.to),
            )
        elif failed:
            log.error(
                "digest %r of %s failed %d times: %s; tried again in %ds (monitor digest list)",
                watchlist.name,
                row.window_start.isoformat(),
                attempts,
                error,
                delay,
            )
        else:
            log.warning("digest %r not sent (%s); tried again in %ds", watchlist.name, error, delay)
        return error


class DigestScheduler:
    """The ``digests`` component (see the module doc)."""

    name = "digests"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._service: Service | None = None
        self._sender: DigestSender | None = None
        self._jobs: list[str] = []
        self._lock = threading.Lock()

    def start(self, service: Service) -> None:
        self._service = service
        self._sender = DigestSender(self._settings, service.store, clock=service.clock)
        self._schedule(self._settings)
        service.scheduler.add_job(
            self._retries,
            "interval",
            seconds=RETRY_POLL,
            id=RETRY_JOB,
            max_instances=1,
            coalesce=True,
        )
        # the schedules missed while the service was down: once, at start-up
        service.scheduler.add_job(
            self._catch_up, "date", run_date=datetime.now(UTC), id="digest-catch-up"
        )

    def reconfigure(self, settings: Settings) -> None:
        self._settings = settings
        if self._sender is not None:
            self._sender.settings = settings
        if self._service is not None:
            self._schedule(settings)

    def stop(self) -> None:
        self._service = None

    def _schedule(self, settings: Settings) -> None:
        assert self._service is not None
        scheduler = self._service.scheduler
        with self._lock:
            for job in self._jobs:
                if scheduler.get_job(job) is not None:
                    scheduler.remove_job(job)
            self._jobs = []
            if settings.smtp is None and any(w.digest for w in settings.watchlists):
                log.warning("digests are configured but there is no smtp: section; none is sent")
                return
            for watchlist in settings.watchlists:
                if watchlist.digest is None:
                    continue
                job = f"digest:{watchlist.name}"
                scheduler.add_job(
                    self._fire,
                    trigger(watchlist.digest),
                    args=[watchlist.name],
                    id=job,
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=3600,
                )
                self._jobs.append(job)

    def _guarded(self, work: Callable[[], object], what: str) -> None:
        try:
            work()
        except Exception as exc:
            if is_transient(exc):
                log.error("digests: database unreachable (%s); %s tried again later", exc, what)
            else:
                log.exception("digests: %s failed", what)

    def _fire(self, name: str) -> None:
        sender = self._sender
        if sender is None or (self._service is not None and self._service.stop.requested):
            return
        watchlist = sender.watchlists().get(name)
        if watchlist is None:
            return

        def work() -> None:
            sender.open_due(watchlist, sender.clock())
            sender.send_due([name])

        self._guarded(work, f"the digest of {name!r}")

    def _catch_up(self) -> None:
        sender = self._sender
        if sender is None or self._settings.smtp is None:
            return

        def work() -> None:
            now = sender.clock()
            for watchlist in sender.watchlists().values():
                if sender.store.digests.last_end(watchlist.name) is not None:
                    sender.open_due(watchlist, now)
            sender.send_due()

        self._guarded(work, "the catch-up of missed digests")

    def _retries(self) -> None:
        sender = self._sender
        if sender is None or self._settings.smtp is None:
            return
        if self._service is not None and self._service.stop.requested:
            return
        self._guarded(sender.send_due, "sending due digests")
