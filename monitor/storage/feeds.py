"""Feeds: configuration sync, due-feed claims (shared by workers), fetch state, health.

Besides what ``feeds.yaml`` says, a feed row carries what its server said: a
301/308 moves its URL (``moved_from`` keeps the URL it moved from, so a sync
from a config still naming that URL does not undo the move), a 410 disables it
(``disabled_reason``; a changed URL in the config, or ``monitor feeds enable``,
brings it back), and its adaptive schedule (:mod:`monitor.schedule`).  Each
poll adds a ``fetch_history`` row; the oldest beyond ``housekeeping.history``
are deleted in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import FeedConfig
from monitor.pipeline.types import Validators
from monitor.schedule import Cadence, starting
from monitor.storage._sql import insert_ignore
from monitor.storage.schema import Feed, FeedItem, FetchHistory


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed as the orchestrator needs it: its settings and its fetch state."""

    id: int
    name: str
    url: str
    tags: tuple[str, ...]
    language: str | None
    interval_seconds: int
    full_text: bool
    title: str | None
    validators: Validators
    consecutive_failures: int
    allow_private: bool = False
    cadence: Cadence | None = None  # None: the configured interval, nothing learnt yet
    min_interval: int | None = None  # per feed; None: schedule.min_interval
    max_interval: int | None = None


@dataclass(frozen=True, slots=True)
class FeedHealth:
    name: str
    url: str
    active: bool
    items: int
    last_outcome: str | None
    last_status: int | None
    last_error: str | None
    consecutive_failures: int
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    next_fetch_at: datetime | None
    interval: int | None = None  # the current (adaptive) interval
    interval_reason: str | None = None
    configured_interval: int | None = None
    disabled_reason: str | None = None
    moved_from: str | None = None


@dataclass(frozen=True, slots=True)
class FeedDetails:
    """``monitor feeds show``: a feed's settings and state, and its latest polls."""

    health: FeedHealth
    tags: tuple[str, ...]
    language: str | None
    full_text: bool
    allow_private: bool
    min_interval: int | None
    max_interval: int | None
    entry_rate: float | None
    last_duration: float | None
    title: str | None
    site_url: str | None
    history: list[HistoryRow]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One poll of the fetch history."""

    fetched_at: datetime
    url: str
    outcome: str
    status: int | None
    error: str | None
    duration: float | None
    entries: int
    new_items: int
    interval: int | None
    reason: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """What one poll of a feed changed in its state."""

    outcome: str
    status: int | None
    error: str | None
    validators: Validators
    title: str | None
    site_url: str | None
    new_items: int
    duration: float
    failed: bool
    next_fetch_at: datetime
    entries: int = 0
    url: str | None = None  # the URL polled (the feed's, before a move)
    cadence: Cadence | None = None  # the adaptive schedule after this poll
    moved_to: str | None = None  # a 301/308: the feed's URL from now on
    gone: str | None = None  # a 410: the reason it is disabled
    note: str | None = None  # for the history: what else happened
    history: int = 50  # fetch_history rows kept for this feed (housekeeping.history)


def _cadence(feed: Feed) -> Cadence | None:
    if feed.current_interval is None:
        return None
    return Cadence(
        interval=feed.current_interval,
        reason=feed.interval_reason or "",
        rate=feed.entry_rate,
        observed_at=feed.observed_at,
        pending=feed.pending_new,
        busy_new=feed.busy_new,
        busy_polls=feed.busy_polls,
        quiet_polls=feed.quiet_polls,
    )


def _store_cadence(feed: Feed, cadence: Cadence) -> None:
    feed.current_interval = cadence.interval
    feed.interval_reason = cadence.reason
    feed.entry_rate = cadence.rate
    feed.observed_at = cadence.observed_at
    feed.pending_new = cadence.pending
    feed.busy_new = cadence.busy_new
    feed.busy_polls = cadence.busy_polls
    feed.quiet_polls = cadence.quiet_polls


def _restart_cadence(feed: Feed, configured: int, why: str) -> None:
    _store_cadence(feed, starting(configured, why))
    feed.current_interval = None  # the configured interval until the next poll counts


def _state(feed: Feed) -> FeedState:
    return FeedState(
        id=feed.id,
        name=feed.name,
        url=feed.url,
        tags=tuple(feed.tags or ()),
        language=feed.language,
        interval_seconds=feed.interval_seconds,
        full_text=feed.full_text,
        title=feed.title,
        validators=Validators(feed.etag, feed.last_modified, feed.body_hash),
        consecutive_failures=feed.consecutive_failures,
        allow_private=feed.allow_private,
        cadence=_cadence(feed),
        min_interval=feed.min_interval_seconds,
        max_interval=feed.max_interval_seconds,
    )


def _health(feed: Feed, items: int) -> FeedHealth:
    return FeedHealth(
        name=feed.name,
        url=feed.url,
        active=feed.active,
        items=items,
        last_outcome=feed.last_outcome,
        last_status=feed.last_status,
        last_error=feed.last_error,
        consecutive_failures=feed.consecutive_failures,
        last_fetched_at=feed.last_fetched_at,
        last_success_at=feed.last_success_at,
        next_fetch_at=feed.next_fetch_at,
        interval=feed.current_interval or feed.interval_seconds,
        interval_reason=feed.interval_reason or "configured interval",
        configured_interval=feed.interval_seconds,
        disabled_reason=feed.disabled_reason,
        moved_from=feed.moved_from,
    )


def _match_configs(configs: Sequence[FeedConfig], existing: Sequence[Feed]) -> list[Feed | None]:
    """The stored row each configured feed continues: same URL first (or the URL it
    moved from), else same name."""
    by_url = {f.moved_from: f for f in existing if f.moved_from}
    by_url.update({f.url: f for f in existing})
    by_name = {f.name: f for f in existing}
    matched: list[Feed | None] = [by_url.get(c.url) for c in configs]
    used = {id(f) for f in matched if f is not None}
    for index, config in enumerate(configs):
        candidate = by_name.get(config.name)
        if matched[index] is None and candidate is not None and id(candidate) not in used:
            matched[index] = candidate
            used.add(id(candidate))
    return matched


# what sync() reads to decide whether it has anything to do (_in_step)
_SYNCED_COLUMNS = (
    Feed.id,
    Feed.name,
    Feed.url,
    Feed.moved_from,
    Feed.tags,
    Feed.language,
    Feed.interval_seconds,
    Feed.min_interval_seconds,
    Feed.max_interval_seconds,
    Feed.full_text,
    Feed.allow_private,
    Feed.active,
)


def _in_step(configs: Sequence[FeedConfig], rows: Sequence[Any]) -> bool:
    """Whether :meth:`FeedRepository.sync` would leave every row as it is (pure): each
    configured feed has its row, found as the sync finds it (by URL or the URL it moved
    from), active, with every configured column equal, and every other row inactive and
    named otherwise.  Anything else, even a difference the sync would not write, means
    a full sync."""
    by_url = {row.moved_from: row for row in rows if row.moved_from}
    by_url.update({row.url: row for row in rows})
    matched: set[int] = set()
    for config in configs:
        row = by_url.get(config.url)
        if row is None or row.id in matched or not row.active:
            return False
        if row.url == config.url and row.moved_from is not None:
            return False  # the sync forgets the move: the config caught up with it
        if (
            row.name != config.name
            or row.tags != list(config.tags)
            or row.language != config.language
            or row.interval_seconds != config.interval
            or row.min_interval_seconds != config.min_interval
            or row.max_interval_seconds != config.max_interval
            or row.full_text != config.full_text
            or row.allow_private != config.allow_private
        ):
            return False
        matched.add(row.id)
    names = {config.name for config in configs}
    return all(row.id in matched or (not row.active and row.name not in names) for row in rows)


def _sync_all(session: Session, configs: Sequence[FeedConfig], now: datetime) -> None:
    """The sync itself, row by row through the ORM."""
    existing = list(session.scalars(select(Feed)))
    matched = _match_configs(configs, existing)
    # Free names first, so that feeds can swap or hand down names without a
    # unique clash; a removed feed keeps its items under a name marked removed.
    wanted_names = {c.name for c in configs}
    renamed = {id(f): c.name for c, f in zip(configs, matched, strict=True) if f}
    for row in existing:
        target = renamed.get(id(row))
        if target is not None and row.name != target:
            row.name = f"~renaming-{row.id}"
        elif target is None and row.name in wanted_names:
            row.name = f"{row.name} (removed #{row.id})"
    session.flush()
    wanted: set[int] = set()
    for config, feed in zip(configs, matched, strict=True):
        if feed is None:
            # Another worker may be adding the same feed at this moment.
            session.execute(
                insert_ignore(session, Feed).values(
                    name=config.name,
                    url=config.url,
                    tags=list(config.tags),
                    interval_seconds=config.interval,
                    full_text=config.full_text,
                    active=True,
                    consecutive_failures=0,
                    last_new_items=0,
                    created_at=now,
                    next_fetch_at=now,
                )
            )
            feed = session.scalars(select(Feed).where(Feed.url == config.url)).one()
        _follow_config(feed, config, now)
        feed.name = config.name
        feed.tags = list(config.tags)
        feed.language = config.language
        if feed.interval_seconds != config.interval:
            why = f"configured interval changed to {config.interval}s: starting again"
            _restart_cadence(feed, config.interval, why)
            feed.interval_seconds = config.interval
            if feed.next_fetch_at is not None and feed.consecutive_failures == 0:
                feed.next_fetch_at = min(
                    feed.next_fetch_at, now + timedelta(seconds=config.interval)
                )
        feed.min_interval_seconds = config.min_interval
        feed.max_interval_seconds = config.max_interval
        feed.full_text = config.full_text
        feed.allow_private = config.allow_private
        feed.active = True
        session.flush()
        wanted.add(feed.id)
    for feed in existing:
        if feed.id not in wanted and feed.active:
            feed.active = False


class FeedRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def sync(self, configs: Sequence[FeedConfig], now: datetime) -> None:
        """Make the feeds table match the configuration (feeds removed become inactive).

        Most syncs change nothing (``monitor run --once`` syncs on every run): the rows'
        configured columns are read first, without the ORM, and when they already say
        what the configuration says the sync ends there."""
        with self._sessions.begin() as session:
            if not _in_step(configs, session.execute(select(*_SYNCED_COLUMNS)).all()):
                _sync_all(session, configs, now)

    def enable(self, name: str, now: datetime) -> bool:
        """Poll again a feed disabled by a 410 (``monitor feeds enable``); False if no
        such feed.  Its failures are forgotten and it is due at once."""
        with self._sessions.begin() as session:
            feed = session.scalars(select(Feed).where(Feed.name == name)).one_or_none()
            if feed is None:
                return False
            feed.disabled_reason = None
            feed.disabled_at = None
            feed.consecutive_failures = 0
            feed.next_fetch_at = now
            return True

    def claim(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        *,
        names: Sequence[str] | None = None,
        due_only: bool = True,
        limit: int | None = None,
        is_dead: Callable[[str], bool] | None = None,
        reclaim_own: bool = False,
    ) -> list[FeedState]:
        """Lease feeds to ``owner``: due ones (or all active ones) that no live lease holds.

        A lease is live until it expires, unless ``reclaim_own`` and ``owner``
        holds it (left by an earlier poll of this process that could not record
        its end, say in a database outage; a process polls once at a time) or
        ``is_dead`` says its holder is gone (a worker of this host killed with
        SIGKILL): those are taken over at once.  On
        PostgreSQL the rows are locked with ``FOR UPDATE SKIP LOCKED``, so
        several workers can claim at once without taking the same feed.
        """
        with self._sessions.begin() as session:
            free = [owner] if reclaim_own else []
            if is_dead is not None:
                holders = session.scalars(
                    select(Feed.lease_owner)
                    .where(Feed.lease_until >= now, Feed.lease_owner.is_not(None))
                    .distinct()
                )
                free += [h for h in holders if h and h != owner and is_dead(h)]
            query = select(Feed).where(
                Feed.active.is_(True),
                Feed.disabled_reason.is_(None),
                or_(
                    Feed.lease_until.is_(None),
                    Feed.lease_until < now,
                    Feed.lease_owner.in_(free),
                ),
            )
            if due_only:
                query = query.where(or_(Feed.next_fetch_at.is_(None), Feed.next_fetch_at <= now))
            if names:
                query = query.where(Feed.name.in_(names))
            query = query.order_by(Feed.next_fetch_at.is_(None).desc(), Feed.next_fetch_at, Feed.id)
            if limit:
                query = query.limit(limit)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            feeds = list(session.scalars(query))
            for feed in feeds:
                feed.lease_owner = owner
                feed.lease_until = now + lease
            return [_state(f) for f in feeds]

    def release(self, owner: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(Feed)
                .where(Feed.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def record(self, feed_id: int, record: FetchRecord, now: datetime) -> str | None:
        """Store one poll's outcome and its history row.  Returns why a 301/308 move
        was not applied (another feed already has that URL), else None."""
        return self.record_many([(feed_id, record, now)])[0]

    def record_many(self, polls: Sequence[tuple[int, FetchRecord, datetime]]) -> list[str | None]:
        """:meth:`record` for several polls in one transaction (the orchestrator's batch
        writer groups the feeds of a tick); one result per poll, in order."""
        results: list[str | None] = []
        with self._sessions.begin() as session:
            ids = sorted({feed_id for feed_id, _, _ in polls})
            feeds = {f.id: f for f in session.scalars(select(Feed).where(Feed.id.in_(ids)))}
            keep = 1
            for feed_id, record, now in polls:
                feed = feeds.get(feed_id)
                if feed is None:  # removed meanwhile (a config sync by another worker)
                    results.append(None)
                    continue
                results.append(_apply(session, feed, record, now))
                keep = max(keep, record.history)
            session.flush()
            _prune_histories(session, ids, keep)
        return results

    def next_due(self) -> datetime | None:
        with self._sessions() as session:
            return session.scalar(
                select(func.min(Feed.next_fetch_at)).where(
                    Feed.active.is_(True), Feed.disabled_reason.is_(None)
                )
            )

    def names(self) -> list[str]:
        with self._sessions() as session:
            return list(session.scalars(select(Feed.name).order_by(Feed.name)))

    def health(self, include_inactive: bool = False) -> list[FeedHealth]:
        counts = (
            select(FeedItem.feed_id, func.count(func.distinct(FeedItem.item_id)).label("n"))
            .group_by(FeedItem.feed_id)
            .subquery()
        )
        query = (
            select(Feed, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, and_(counts.c.feed_id == Feed.id))
            .order_by(Feed.name)
        )
        if not include_inactive:
            query = query.where(Feed.active.is_(True))
        with self._sessions() as session:
            return [_health(f, int(n)) for f, n in session.execute(query)]

    def details(self, name: str, history: int = 50) -> FeedDetails | None:
        """A feed's settings, state and last ``history`` polls, newest first; None if
        no feed has that name."""
        with self._sessions() as session:
            feed = session.scalars(select(Feed).where(Feed.name == name)).one_or_none()
            if feed is None:
                return None
            items = session.scalar(
                select(func.count(func.distinct(FeedItem.item_id))).where(
                    FeedItem.feed_id == feed.id
                )
            )
            rows = session.scalars(
                select(FetchHistory)
                .where(FetchHistory.feed_id == feed.id)
                .order_by(FetchHistory.id.desc())
                .limit(history)
            )
            return FeedDetails(
                health=_health(feed, int(items or 0)),
                tags=tuple(feed.tags or ()),
                language=feed.language,
                full_text=feed.full_text,
                allow_private=feed.allow_private,
                min_interval=feed.min_interval_seconds,
                max_interval=feed.max_interval_seconds,
                entry_rate=feed.entry_rate,
                last_duration=feed.last_duration,
                title=feed.title,
                site_url=feed.site_url,
                history=[
                    HistoryRow(
                        fetched_at=r.fetched_at,
                        url=r.url,
                        outcome=r.outcome,
                        status=r.status,
                        error=r.error,
                        duration=r.duration,
                        entries=r.entries,
                        new_items=r.new_items,
                        interval=r.interval_seconds,
                        reason=r.reason,
                        note=r.note,
                    )
                    for r in rows
                ],
            )


def _follow_config(feed: Feed, config: FeedConfig, now: datetime) -> None:
    """Take the configured URL, unless the feed moved (301/308) from it: a config still
    naming the old URL does not undo the move.  A new URL in the config also brings
    back a feed a 410 disabled."""
    if config.url == feed.url:
        feed.moved_from = None  # the config caught up with the move
        return
    if feed.moved_from is not None and config.url == feed.moved_from:
        return
    feed.url = config.url
    feed.moved_from = None
    if feed.disabled_reason is not None:
        feed.disabled_reason = None
        feed.disabled_at = None
        feed.consecutive_failures = 0
        feed.next_fetch_at = now


def _move(session: Session, feed: Feed, url: str) -> str | None:
    """Point ``feed`` at ``url`` after a permanent redirect; why not, if it cannot be."""
    holder = session.scalar(select(Feed.name).where(Feed.url == url, Feed.id != feed.id))
    if holder is not None:
        return f"moved to {url}, which feed {holder!r} already polls: URL kept"
    if feed.moved_from is None:
        feed.moved_from = feed.url
    feed.url = url
    if feed.moved_from == url:  # moved back where the config points
        feed.moved_from = None
    return None


def _apply(session: Session, feed: Feed, record: FetchRecord, now: datetime) -> str | None:
    """One poll's outcome on its feed row, and its history row; why a move was refused."""
    refused: str | None = None
    polled_url = record.url or feed.url
    if record.moved_to and record.moved_to != feed.url:
        refused = _move(session, feed, record.moved_to)
    if record.gone:
        feed.disabled_reason = record.gone
        feed.disabled_at = now
    if record.cadence is not None:
        _store_cadence(feed, record.cadence)
    feed.last_fetched_at = now
    feed.last_outcome = record.outcome
    feed.last_status = record.status
    feed.last_error = record.error
    feed.last_duration = record.duration
    feed.next_fetch_at = record.next_fetch_at
    feed.lease_owner = None
    feed.lease_until = None
    feed.etag = record.validators.etag
    feed.last_modified = record.validators.last_modified
    feed.body_hash = record.validators.body_hash
    if record.failed:
        feed.consecutive_failures += 1
    else:
        feed.consecutive_failures = 0
        feed.last_success_at = now
        feed.last_new_items = record.new_items
    if record.title:
        feed.title = record.title
    if record.site_url:
        feed.site_url = record.site_url
    note = "; ".join(n for n in (record.note, refused) if n) or None
    session.add(
        FetchHistory(
            feed_id=feed.id,
            fetched_at=now,
            url=polled_url,
            outcome=record.outcome,
            status=record.status,
            error=record.error,
            duration=record.duration,
            entries=record.entries,
            new_items=record.new_items,
            interval_seconds=feed.current_interval or feed.interval_seconds,
            reason=feed.interval_reason,
            note=note,
        )
    )
    return refused


def _prune_histories(session: Session, feed_ids: Sequence[int], keep: int) -> None:
    """Delete the history rows of these feeds beyond each one's ``keep`` newest, in one
    statement for the batch (a window function: SQLite 3.25+ and PostgreSQL)."""
    ranked = (
        select(
            FetchHistory.id,
            func.row_number()
            .over(partition_by=FetchHistory.feed_id, order_by=FetchHistory.id.desc())
            .label("rank"),
        )
        .where(FetchHistory.feed_id.in_(feed_ids))
        .subquery()
    )
    session.execute(
        delete(FetchHistory).where(
            FetchHistory.id.in_(select(ranked.c.id).where(ranked.c.rank > max(keep, 1)))
        )
    )
