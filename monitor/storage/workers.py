"""Workers seen by the database, their heartbeats, and the service's state at a glance.

Every ``monitor run`` process has a row in ``workers`` (id ``host:pid:start``, as
in :mod:`monitor.workers`): a service refreshes ``seen_at`` every few seconds
(:mod:`monitor.service.heartbeat`), a ``run --once`` only registers and says when
it ends.  Two questions are answered from these rows:

* whether a lease holder is gone (:meth:`WorkerRepository.gone`), so that a
  worker killed on another machine loses its leases long before they expire;
* what ``monitor status`` shows (:meth:`WorkerRepository.overview`): workers,
  leases, due, overdue and failing feeds, page retries.  The overview reads the
  feeds and page retries too: it is one picture of the service, taken in one
  place, rather than a method on every repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage._sql import insert_ignore
from monitor.storage.schema import Feed, PageRetry, Worker

FORGET_AFTER = timedelta(days=7)  # rows of workers not seen for this long are deleted
FAILING_SHOWN = 10  # failing feeds listed by name in the overview; the rest are counted


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What a worker says of itself when it registers."""

    id: str
    host: str
    pid: int
    mode: str  # "service" (heartbeats) or "once" (no heartbeat: plain lease expiry)
    config_version: str | None = None
    software: str | None = None


@dataclass(frozen=True, slots=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    mode: str
    started_at: datetime
    seen_at: datetime
    stopped_at: datetime | None
    config_version: str | None
    software: str | None


@dataclass(frozen=True, slots=True)
class LeaseRow:
    """The live leases one worker holds."""

    owner: str
    feeds: int
    until: datetime  # the latest expiry among them


@dataclass(frozen=True, slots=True)
class FailingFeed:
    name: str
    failures: int
    last_error: str | None
    last_success_at: datetime | None


@dataclass(frozen=True, slots=True)
class Overview:
    """The service as the database sees it at ``now`` (``monitor status``)."""

    now: datetime
    workers: list[WorkerRow]
    leases: list[LeaseRow]
    active_feeds: int
    polled_feeds: int  # active feeds polled at least once
    due: int  # active, enabled, due now and not leased
    overdue: int  # of those, due for longer than the ``overdue`` bound
    oldest_due: datetime | None
    failing: int
    failing_shown: list[FailingFeed]
    disabled: int  # by a 410
    last_success_at: datetime | None
    retries_pending: int
    retries_due: int


def _row(worker: Worker) -> WorkerRow:
    return WorkerRow(
        id=worker.id,
        host=worker.host,
        pid=worker.pid,
        mode=worker.mode,
        started_at=worker.started_at,
        seen_at=worker.seen_at,
        stopped_at=worker.stopped_at,
        config_version=worker.config_version,
        software=worker.software,
    )


class WorkerRepository:
    """``store.workers``: registration, heartbeats, and the overview."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def register(self, info: WorkerInfo, now: datetime) -> None:
        """Record ``info`` as started now (again, if the row exists); forget rows of
        workers not seen for :data:`FORGET_AFTER`."""
        with self._sessions.begin() as session:
            session.execute(delete(Worker).where(Worker.seen_at < now - FORGET_AFTER))
            session.execute(
                insert_ignore(session, Worker).values(
                    id=info.id[:200],
                    host=info.host[:200],
                    pid=info.pid,
                    mode=info.mode,
                    started_at=now,
                    seen_at=now,
                    config_version=_cut(info.config_version, 100),
                    software=_cut(info.software, 32),
                )
            )
            session.execute(
                update(Worker)
                .where(Worker.id == info.id[:200])
                .values(
                    mode=info.mode,
                    seen_at=now,
                    stopped_at=None,
                    config_version=_cut(info.config_version, 100),
                    software=_cut(info.software, 32),
                )
            )

    def heartbeat(self, worker: str, now: datetime, config_version: str | None = None) -> bool:
        """Refresh ``worker``'s ``seen_at`` (and its config version when given); False
        when it has no row (never registered, or forgotten): register it then."""
        values: dict[str, object] = {"seen_at": now}
        if config_version is not None:
            values["config_version"] = _cut(config_version, 100)
        with self._sessions.begin() as session:
            result = session.execute(update(Worker).where(Worker.id == worker).values(**values))
            return bool(getattr(result, "rowcount", 0))

    def stopped(self, worker: str, now: datetime) -> None:
        """``worker`` ended cleanly: its leases are released, it is not waited for."""
        with self._sessions.begin() as session:
            session.execute(
                update(Worker).where(Worker.id == worker).values(seen_at=now, stopped_at=now)
            )

    def gone(self, worker: str, now: datetime, silent_after: timedelta) -> bool:
        """True when ``worker`` said it stopped, or is a service whose heartbeat is older
        than ``silent_after``.  A worker without a row, or a ``run --once`` (no heartbeat)
        still running, is not known to be gone: its leases run to their expiry."""
        with self._sessions() as session:
            row = session.get(Worker, worker)
        if row is None:
            return False
        if row.stopped_at is not None:
            return True
        return row.mode == "service" and row.seen_at < now - silent_after

    def get(self, worker: str) -> WorkerRow | None:
        with self._sessions() as session:
            row = session.get(Worker, worker)
            return _row(row) if row is not None else None

    def seen(self, since: datetime) -> list[WorkerRow]:
        """Workers seen since ``since``, or not stopped, newest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(Worker)
                .where(or_(Worker.seen_at >= since, Worker.stopped_at.is_(None)))
                .order_by(Worker.seen_at.desc(), Worker.id)
            )
            return [_row(r) for r in rows]

    def leases(self, now: datetime) -> list[LeaseRow]:
        """The live feed leases, by holder."""
        with self._sessions() as session:
            rows = session.execute(
                select(Feed.lease_owner, func.count(), func.max(Feed.lease_until))
                .where(Feed.lease_owner.is_not(None), Feed.lease_until >= now)
                .group_by(Feed.lease_owner)
                .order_by(Feed.lease_owner)
            )
            return [LeaseRow(str(o), int(n), until) for o, n, until in rows if o and until]

    def overview(self, now: datetime, overdue: timedelta, since: datetime) -> Overview:
        """Everything ``monitor status`` shows, read at ``now``: workers seen since
        ``since`` (and those not stopped), feeds due for longer than ``overdue``."""
        workers = self.seen(since)
        leases = self.leases(now)
        enabled = (Feed.active.is_(True), Feed.disabled_reason.is_(None))
        due_now = (
            *enabled,
            or_(Feed.next_fetch_at.is_(None), Feed.next_fetch_at <= now),
            or_(Feed.lease_until.is_(None), Feed.lease_until < now),
        )
        with self._sessions() as session:
            active = session.scalar(select(func.count()).where(Feed.active.is_(True))) or 0
            polled = session.scalar(
                select(func.count()).where(Feed.active.is_(True), Feed.last_fetched_at.is_not(None))
            )
            due, oldest = session.execute(
                select(func.count(), func.min(Feed.next_fetch_at)).where(*due_now)
            ).one()
            late = session.scalar(
                select(func.count()).where(
                    *due_now,
                    or_(
                        Feed.next_fetch_at < now - overdue,
                        Feed.next_fetch_at.is_(None) & (Feed.created_at < now - overdue),
                    ),
                )
            )
            failing_where = (*enabled, Feed.consecutive_failures > 0)
            failing = session.scalar(select(func.count()).where(*failing_where)) or 0
            shown = session.execute(
                select(Feed.name, Feed.consecutive_failures, Feed.last_error, Feed.last_success_at)
                .where(*failing_where)
                .order_by(Feed.consecutive_failures.desc(), Feed.name)
                .limit(FAILING_SHOWN)
            )
            failing_shown = [FailingFeed(n, int(c), e, s) for n, c, e, s in shown]
            disabled = session.scalar(
                select(func.count()).where(Feed.active.is_(True), Feed.disabled_reason.is_not(None))
            )
            last_success = session.scalar(
                select(func.max(Feed.last_success_at)).where(Feed.active.is_(True))
            )
            retries = session.scalar(select(func.count()).select_from(PageRetry)) or 0
            retries_due = session.scalar(
                select(func.count()).where(PageRetry.next_attempt_at <= now)
            )
        return Overview(
            now=now,
            workers=workers,
            leases=leases,
            active_feeds=int(active),
            polled_feeds=int(polled or 0),
            due=int(due or 0),
            overdue=int(late or 0),
            oldest_due=oldest,
            failing=int(failing),
            failing_shown=failing_shown,
            disabled=int(disabled or 0),
            last_success_at=last_success,
            retries_pending=int(retries),
            retries_due=int(retries_due or 0),
        )


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None
