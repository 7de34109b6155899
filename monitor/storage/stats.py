"""Read-only figures for ``/healthz`` and ``/metrics``: queue depths, failing feeds, a probe.

Scrapes and health checks must answer quickly even when the database does
not: on PostgreSQL these queries run on an engine of their own, without a
pool, with a short connect timeout and statement timeout, so a server that
is down or unreachable costs a scrape a few seconds at most and never holds
a connection of the pipeline's pool.  On SQLite (a local file, readers never
blocked in WAL mode) the store's own sessions are used.  Errors are raised:
the caller (:mod:`monitor.service.http`) caches the last figures and reports
an outage in ``/healthz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, create_engine, func, or_, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from monitor.storage.schema import Feed, PageRetry

CONNECT_TIMEOUT = 3  # seconds; libpq's minimum useful value is 2
STATEMENT_TIMEOUT_MS = 5000


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The work waiting, as the database holds it (every worker's, not only this one's)."""

    feeds_active: int  # polled feeds: active in the config, not disabled by a 410
    feeds_due: int  # due now and not leased by any worker: the feed queue's depth
    feeds_leased: int  # being polled by some worker now
    feeds_failing: int  # active, their last poll(s) failed (consecutive_failures > 0)
    feeds_disabled: int  # disabled by a 410 (or by hand)
    page_retries_pending: int  # article pages waiting to be fetched again
    page_retries_due: int  # of those, due now and not leased
    last_success_at: datetime | None  # the latest successful poll of any active feed


class StatsRepository:
    """Counts for the service's endpoint; see the module docstring."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._quick: sessionmaker[Session] | None = None

    def _session(self) -> Session:
        if self._quick is None:
            bind: Engine = self._sessions.kw["bind"]
            if bind.dialect.name == "postgresql":
                options: dict[str, Any] = {
                    "connect_timeout": CONNECT_TIMEOUT,
                    "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                }
                engine = create_engine(bind.url, poolclass=NullPool, connect_args=options)
                self._quick = sessionmaker(engine)
            else:
                self._quick = self._sessions
        return self._quick()

    def ping(self) -> None:
        """Raise unless the database answers a query now (within the short timeouts)."""
        with self._session() as session:
            session.execute(text("SELECT 1")).scalar()

    def queues(self, now: datetime) -> QueueStats:
        polled = and_(Feed.active.is_(True), Feed.disabled_reason.is_(None))
        free = or_(Feed.lease_until.is_(None), Feed.lease_until < now)
        due = or_(Feed.next_fetch_at.is_(None), Feed.next_fetch_at <= now)
        retry_free = or_(PageRetry.lease_until.is_(None), PageRetry.lease_until < now)
        feeds = select(
            _count(polled),
            _count(and_(polled, due, free)),
            _count(and_(polled, ~free)),
            _count(and_(polled, Feed.consecutive_failures > 0)),
            _count(Feed.disabled_reason.is_not(None)),
        )
        last_success = select(func.max(Feed.last_success_at)).where(polled)
        retries = select(
            func.count(), _count(and_(PageRetry.next_attempt_at <= now, retry_free))
        ).select_from(PageRetry)
        with self._session() as session:
            active, due_now, leased, failing, disabled = session.execute(feeds).one()
            last = session.scalar(last_success)
            pending, retries_due = session.execute(retries).one()
        return QueueStats(
            feeds_active=int(active),
            feeds_due=int(due_now),
            feeds_leased=int(leased),
            feeds_failing=int(failing),
            feeds_disabled=int(disabled),
            page_retries_pending=int(pending),
            page_retries_due=int(retries_due),
            last_success_at=last,
        )


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """The number of rows where ``condition`` holds (0 for no rows, not NULL)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
