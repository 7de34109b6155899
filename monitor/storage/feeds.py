"""Feeds: configuration sync, due-feed claims (shared by workers), fetch state, health."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import FeedConfig
from monitor.pipeline.types import Validators
from monitor.storage._sql import insert_ignore
from monitor.storage.schema import Feed, FeedItem


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
    )


def _match_configs(configs: Sequence[FeedConfig], existing: Sequence[Feed]) -> list[Feed | None]:
    """The stored row each configured feed continues: same URL first, else same name."""
    by_url = {f.url: f for f in existing}
    by_name = {f.name: f for f in existing}
    matched: list[Feed | None] = [by_url.get(c.url) for c in configs]
    used = {id(f) for f in matched if f is not None}
    for index, config in enumerate(configs):
        candidate = by_name.get(config.name)
        if matched[index] is None and candidate is not None and id(candidate) not in used:
            matched[index] = candidate
            used.add(id(candidate))
    return matched


class FeedRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def sync(self, configs: Sequence[FeedConfig], now: datetime) -> None:
        """Make the feeds table match the configuration (feeds removed become inactive)."""
        with self._sessions.begin() as session:
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
                feed.name = config.name
                feed.url = config.url
                feed.tags = list(config.tags)
                feed.language = config.language
                feed.interval_seconds = config.interval
                feed.full_text = config.full_text
                feed.allow_private = config.allow_private
                feed.active = True
                session.flush()
                wanted.add(feed.id)
            for feed in existing:
                if feed.id not in wanted and feed.active:
                    feed.active = False

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

    def record(self, feed_id: int, record: FetchRecord, now: datetime) -> None:
        with self._sessions.begin() as session:
            feed = session.get_one(Feed, feed_id)
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

    def next_due(self) -> datetime | None:
        with self._sessions() as session:
            return session.scalar(select(func.min(Feed.next_fetch_at)).where(Feed.active.is_(True)))

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
            return [
                FeedHealth(
                    name=f.name,
                    url=f.url,
                    active=f.active,
                    items=int(n),
                    last_outcome=f.last_outcome,
                    last_status=f.last_status,
                    last_error=f.last_error,
                    consecutive_failures=f.consecutive_failures,
                    last_fetched_at=f.last_fetched_at,
                    last_success_at=f.last_success_at,
                    next_fetch_at=f.next_fetch_at,
                )
                for f, n in session.execute(query)
            ]
