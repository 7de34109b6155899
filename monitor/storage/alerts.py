"""Alerts: each matched item alerted once per watchlist, whatever the number of workers.

Exactly once is the database's job, not Python's:

* an alert is a row of ``alerts``, unique per (item, watchlist)
  (``uq_alerts_item_id_watchlist``); every worker queues new matches with
  ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, so a match is queued once
  however many workers look at it;
* a worker POSTs an alert only while it holds the row's lease, taken by a
  compare-and-set on the owner it saw (:meth:`AlertRepository.claim`), and
  records the outcome only if it still holds it.  A lease runs out, or is taken
  over at once when its owner is a dead process of this host, so a worker that
  died mid-POST holds nothing up; the receiver then sees that alert again with
  the same ``Idempotency-Key``.

Only matches found after a watchlist's alert began are queued
(``alert_watchlists.started_at``), and only for items stored since then, so
neither configuring an alert nor a backfill floods the receiver with history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, literal, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.deliver.alerts import AlertItem
from monitor.storage._sql import chunks, insert_ignore
from monitor.storage.schema import (
    Alert,
    AlertWatchlist,
    Feed,
    FeedItem,
    Item,
    UTCDateTime,
    WatchMatch,
)
from monitor.workers import is_dead_local

# Matches are stamped when found and committed a moment later: each look for new ones
# goes back this far before the last, so a slow transaction's matches are not missed
# (the unique constraint makes looking twice harmless).
SCAN_MARGIN = timedelta(minutes=10)
PENDING, SENT, FAILED = "pending", "sent", "failed"
STATUSES = (PENDING, SENT, FAILED)


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert as ``monitor alerts list`` shows it."""

    id: int
    item_id: int
    watchlist: str
    title: str | None
    url: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_status: int | None
    last_error: str | None
    target: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one POST, for :meth:`AlertRepository.record`."""

    ok: bool
    status: int | None
    error: str | None
    next_attempt_at: datetime  # when to try again if not ok
    failed: bool  # not ok, and the watchlist's fail_after attempts are used up


class AlertRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- when alerts began ---------------------------------------------------------

    def begin(self, watchlists: Iterable[str], now: datetime) -> dict[str, datetime]:
        """Record ``now`` as the start of alerts for each of ``watchlists`` that has none
        yet, or whose alert was stopped (:meth:`stop_others`); return every one's start
        (the earliest worker's ``now`` wins)."""
        names = sorted(set(watchlists))
        if not names:
            return {}
        with self._sessions.begin() as session:
            session.execute(
                insert_ignore(session, AlertWatchlist),
                [{"watchlist": n, "started_at": now, "scanned_until": now} for n in names],
            )
            session.execute(
                update(AlertWatchlist)
                .where(AlertWatchlist.watchlist.in_(names), AlertWatchlist.stopped_at.is_not(None))
                .values(started_at=now, scanned_until=now, stopped_at=None)
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(
                select(AlertWatchlist.watchlist, AlertWatchlist.started_at).where(
                    AlertWatchlist.watchlist.in_(names)
                )
            )
            return {str(row[0]): row[1] for row in rows}

    def stop_others(self, alerting: Iterable[str], now: datetime) -> list[str]:
        """Mark the alerts of every watchlist not in ``alerting`` as stopped (the
        configuration no longer has them); returns the names newly stopped."""
        with self._sessions.begin() as session:
            query = update(AlertWatchlist).where(AlertWatchlist.stopped_at.is_(None))
            names = sorted(set(alerting))
            if names:
                query = query.where(AlertWatchlist.watchlist.not_in(names))
            rows = session.execute(query.values(stopped_at=now).returning(AlertWatchlist.watchlist))
            return sorted(str(row[0]) for row in rows)

    # -- queueing new matches ------------------------------------------------------

    def enqueue(self, watchlist: str, now: datetime, target: str) -> int:
        """Queue an alert for every item ``watchlist`` matched since it was last looked
        at (see :data:`SCAN_MARGIN`); returns how many were queued.  :meth:`begin` first."""
        with self._sessions.begin() as session:
            state = session.get(AlertWatchlist, watchlist)
            if state is None:
                return 0
            since = max(state.started_at, state.scanned_until - SCAN_MARGIN)
            queued = (
                select(
                    WatchMatch.item_id,
                    literal(watchlist),
                    literal(PENDING),
                    literal(0),
                    literal(now, UTCDateTime()),
                    literal(now, UTCDateTime()),
                    literal(target),
                )
                .join(Item, Item.id == WatchMatch.item_id)
                .where(
                    WatchMatch.watchlist == watchlist,
                    WatchMatch.matched_at >= since,
                    Item.fetched_at >= state.started_at,
                    ~exists().where(
                        Alert.item_id == WatchMatch.item_id, Alert.watchlist == watchlist
                    ),
                )
                .distinct()
            )
            result = session.execute(
                insert_ignore(session, Alert)
                .from_select(
                    [
                        "item_id",
                        "watchlist",
                        "status",
                        "attempts",
                        "created_at",
                        "next_attempt_at",
                        "target",
                    ],
                    queued,
                )
                .returning(Alert.id)  # rowcount of INSERT ... SELECT is -1 on psycopg
            )
            count = len(result.all())
            state.scanned_until = max(state.scanned_until, now)
            return count

    # -- delivering ------------------------------------------------------------------

    def claim(
        self,
        owner: str,
        watchlists: Sequence[str],
        now: datetime,
        lease: timedelta,
        limit: int = 50,
    ) -> list[AlertItem]:
        """Take the lease on up to ``limit`` alerts of ``watchlists`` that are due and
        return what to send; another worker's live lease is left alone."""
        if not watchlists:
            return []
        with self._sessions.begin() as session:
            candidates = session.execute(
                select(Alert.id, Alert.lease_owner, Alert.lease_until)
                .where(
                    Alert.status != SENT,
                    Alert.next_attempt_at <= now,
                    Alert.watchlist.in_(sorted(set(watchlists))),
                    # free, run out, or held by a process of this host that may be dead
                    or_(
                        Alert.lease_owner.is_(None),
                        Alert.lease_until <= now,
                        Alert.lease_owner.startswith(owner.rsplit(":", 2)[0] + ":"),
                    ),
                )
                .order_by(Alert.next_attempt_at, Alert.id)
                .limit(limit * 4)
            ).all()
        claimed: list[int] = []
        for alert_id, holder, until in candidates:
            if len(claimed) >= limit:
                break
            free = holder is None or until is None or until <= now or is_dead_local(holder)
            if not free:
                continue
            with self._sessions.begin() as session:
                same_holder = (
                    Alert.lease_owner.is_(None) if holder is None else (Alert.lease_owner == holder)
                )
                result = session.execute(
                    update(Alert)
                    .where(Alert.id == alert_id, Alert.status != SENT, same_holder)
                    .values(lease_owner=owner, lease_until=now + lease)
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) == 1:
                    claimed.append(alert_id)
        return self.items(claimed)

    def items(self, alert_ids: Sequence[int]) -> list[AlertItem]:
        """The alerts ``alert_ids`` with their item, outlet and the rules that hit."""
        if not alert_ids:
            return []
        found: list[AlertItem] = []
        with self._sessions() as session:
            for chunk in chunks(list(alert_ids)):
                rows = session.execute(
                    select(Alert.id, Alert.watchlist, Alert.attempts, Item)
                    .join(Item, Item.id == Alert.item_id)
                    .where(Alert.id.in_(chunk))
                    .order_by(Alert.id)
                ).all()
                item_ids = [item.id for *_, item in rows]
                outlets = _outlets(session, item_ids)
                hits = _hits(session, [(item.id, watchlist) for _, watchlist, _, item in rows])
                for alert_id, watchlist, attempts, item in rows:
                    rules, snippet, matched_at = hits.get((item.id, watchlist), ((), None, None))
                    found.append(
                        AlertItem(
                            alert_id=alert_id,
                            item_id=item.id,
                            watchlist=watchlist,
                            title=item.title,
                            url=item.url,
                            outlet=outlets.get(item.id) or item.site_name,
                            published=item.published_at,
                            rules=rules,
                            snippet=snippet,
                            matched_at=matched_at or item.fetched_at,
                            attempts=attempts,
                        )
                    )
        return found

    def record(self, alert_id: int, owner: str, outcome: Outcome, now: datetime) -> bool:
        """Write what one POST did and give the lease back; False when ``owner`` had lost
        the lease meanwhile (another worker's record stands)."""
        values: dict[str, object] = {
            "attempts": Alert.attempts + 1,
            "last_attempt_at": now,
            "last_status": outcome.status,
            "lease_owner": None,
            "lease_until": None,
        }
        if outcome.ok:
            values |= {"status": SENT, "sent_at": now, "last_error": None}
        else:
            values |= {
                "status": FAILED if outcome.failed else PENDING,
                "last_error": outcome.error,
                "next_attempt_at": outcome.next_attempt_at,
            }
        with self._sessions.begin() as session:
            result = session.execute(
                update(Alert)
                .where(Alert.id == alert_id, Alert.lease_owner == owner, Alert.status != SENT)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return getattr(result, "rowcount", 0) == 1

    def release(self, owner: str) -> None:
        """Give back every lease ``owner`` holds (the service stopping mid-batch)."""
        with self._sessions.begin() as session:
            session.execute(
                update(Alert)
                .where(Alert.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )

    # -- reading -----------------------------------------------------------------------

    def list(
        self, status: str | None = None, watchlist: str | None = None, limit: int | None = 100
    ) -> list[AlertRow]:
        """Alerts, newest first."""
        query = (
            select(Alert, Item.title, Item.url)
            .join(Item, Item.id == Alert.item_id)
            .order_by(Alert.created_at.desc(), Alert.id.desc())
        )
        if status:
            query = query.where(Alert.status == status)
        if watchlist:
            query = query.where(Alert.watchlist == watchlist)
        if limit:
            query = query.limit(limit)
        with self._sessions() as session:
            return [
                AlertRow(
                    id=row.id,
                    item_id=row.item_id,
                    watchlist=row.watchlist,
                    title=title,
                    url=url,
                    status=row.status,
                    attempts=row.attempts,
                    created_at=row.created_at,
                    next_attempt_at=row.next_attempt_at,
                    sent_at=row.sent_at,
                    last_status=row.last_status,
                    last_error=row.last_error,
                    target=row.target,
                )
                for row, title, url in session.execute(query)
            ]

    def counts(self, watchlist: str | None = None) -> dict[str, int]:
        """Alerts per status."""
        query = select(Alert.status, func.count()).group_by(Alert.status)
        if watchlist:
            query = query.where(Alert.watchlist == watchlist)
        with self._sessions() as session:
            return {status: int(n) for status, n in session.execute(query)}

    def started(self) -> dict[str, datetime]:
        """When each watchlist's alerts began."""
        with self._sessions() as session:
            rows = session.execute(select(AlertWatchlist.watchlist, AlertWatchlist.started_at))
            return {str(row[0]): row[1] for row in rows}


def _outlets(session: Session, item_ids: Sequence[int]) -> dict[int, str]:
    """The feed that first carried each item."""
    rows = session.execute(
        select(FeedItem.item_id, Feed.name)
        .join(Feed, Feed.id == FeedItem.feed_id)
        .where(FeedItem.item_id.in_(item_ids))
        .order_by(FeedItem.item_id, FeedItem.first_seen_at, FeedItem.id)
    )
    outlets: dict[int, str] = {}
    for item_id, name in rows:
        outlets.setdefault(item_id, name)
    return outlets


def _hits(
    session: Session, pairs: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], tuple[tuple[str, ...], str | None, datetime | None]]:
    """Per (item, watchlist): the rules that hit in rule order, the first hit's snippet
    (the text's before the title's) and when the first hit was found."""
    if not pairs:
        return {}
    wanted = set(pairs)
    rows = session.scalars(
        select(WatchMatch)
        .where(
            WatchMatch.item_id.in_(sorted({i for i, _ in pairs})),
            WatchMatch.watchlist.in_(sorted({w for _, w in pairs})),
        )
        .order_by(
            WatchMatch.item_id, WatchMatch.rule_index, WatchMatch.value_index, WatchMatch.start
        )
    )
    grouped: defaultdict[tuple[int, str], list[WatchMatch]] = defaultdict(list)
    for row in rows:
        if (row.item_id, row.watchlist) in wanted:
            grouped[(row.item_id, row.watchlist)].append(row)
    result: dict[tuple[int, str], tuple[tuple[str, ...], str | None, datetime | None]] = {}
    for key, matches in grouped.items():
        rules = tuple(dict.fromkeys(m.rule for m in matches))
        first = next((m for m in matches if m.field != "title"), matches[0])
        result[key] = (rules, first.snippet, min(m.matched_at for m in matches))
    return result
