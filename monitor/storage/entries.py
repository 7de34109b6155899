"""Entries not (yet) stored as they should be: rejections with their reasons, page retries.

Nothing a feed served vanishes: an entry is an item (``feed_items``), or a
rejection here with the reason, or an item whose page is still being fetched
(``page_retries``).  Rejections that may heal (an internal error on one entry)
are tried again at the next polls and become permanent after
:data:`MAX_ATTEMPTS`; those that cannot heal (a ``javascript:`` link) are
permanent at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage._sql import chunks, insert_ignore
from monitor.storage.schema import EntryRejection, Feed, Item, PageRetry

MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Rejection:
    feed: str
    entry_key: str
    guid: str | None
    link: str | None
    title: str | None
    reason: str
    permanent: bool
    attempts: int
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """A page to fetch again for an item being stored (see :class:`~.items.NewItem`)."""

    url: str
    error: str
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class DueRetry:
    """A page retry whose time has come, with what is needed to rebuild the entry."""

    item_id: int
    feed_id: int
    feed_url: str
    feed_title: str | None
    feed_language: str | None
    allow_private: bool
    url: str
    attempts: int
    first_failed_at: datetime
    last_error: str | None


def add_retry(session: Session, item_id: int, feed_id: int, plan: RetryPlan, now: datetime) -> None:
    """Record, in the item's own transaction, that its page is to be fetched again."""
    session.execute(
        insert_ignore(session, PageRetry).values(
            item_id=item_id,
            feed_id=feed_id,
            url=plan.url,
            attempts=1,
            first_failed_at=now,
            next_attempt_at=plan.next_attempt_at,
            last_error=plan.error,
        )
    )


class EntryRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- rejections -----------------------------------------------------------------

    def reject(
        self,
        feed_id: int,
        key: str,
        guid: str | None,
        link: str | None,
        title: str | None,
        reason: str,
        now: datetime,
        *,
        permanent: bool,
    ) -> bool:
        """Record that an entry was not stored and why; True once it is permanent."""
        with self._sessions.begin() as session:
            row = session.scalar(
                select(EntryRejection).where(
                    EntryRejection.feed_id == feed_id, EntryRejection.entry_key == key
                )
            )
            if row is None:
                session.execute(
                    insert_ignore(session, EntryRejection).values(
                        feed_id=feed_id,
                        entry_key=key,
                        guid=guid,
                        link=link,
                        title=title,
                        reason=reason,
                        permanent=permanent,
                        attempts=1,
                        first_seen_at=now,
                        last_seen_at=now,
                    )
                )
                return permanent
            row.attempts += 1
            row.reason, row.last_seen_at = reason, now
            row.permanent = row.permanent or permanent or row.attempts >= MAX_ATTEMPTS
            return row.permanent

    def permanently_rejected(self, feed_id: int, keys: Sequence[str]) -> set[str]:
        """Which of these entry keys were rejected for good (not to be tried again)."""
        found: set[str] = set()
        with self._sessions() as session:
            for chunk in chunks(sorted(set(keys))):
                found.update(
                    session.scalars(
                        select(EntryRejection.entry_key).where(
                            EntryRejection.feed_id == feed_id,
                            EntryRejection.permanent.is_(True),
                            EntryRejection.entry_key.in_(chunk),
                        )
                    )
                )
        return found

    def forget_rejections(self, feed_id: int, keys: Sequence[str]) -> None:
        """Entries stored after all (a temporary failure that healed)."""
        with self._sessions.begin() as session:
            for chunk in chunks(sorted(set(keys))):
                session.execute(
                    delete(EntryRejection).where(
                        EntryRejection.feed_id == feed_id,
                        EntryRejection.permanent.is_(False),
                        EntryRejection.entry_key.in_(chunk),
                    )
                )

    def rejections(self, feed: str | None = None, limit: int | None = 100) -> list[Rejection]:
        query = (
            select(EntryRejection, Feed.name)
            .join(Feed, Feed.id == EntryRejection.feed_id)
            .order_by(EntryRejection.last_seen_at.desc(), EntryRejection.id.desc())
        )
        if feed:
            query = query.where(Feed.name == feed)
        if limit:
            query = query.limit(limit)
        with self._sessions() as session:
            return [
                Rejection(
                    name,
                    r.entry_key,
                    r.guid,
                    r.link,
                    r.title,
                    r.reason,
                    r.permanent,
                    r.attempts,
                    r.first_seen_at,
                    r.last_seen_at,
                )
                for r, name in session.execute(query)
            ]

    # -- page retries ---------------------------------------------------------------

    def claim_retries(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        *,
        feed_ids: Sequence[int] | None = None,
        limit: int = 200,
    ) -> list[DueRetry]:
        """Lease page retries whose time has come (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""
        with self._sessions.begin() as session:
            query = (
                select(PageRetry, Feed)
                .join(Feed, Feed.id == PageRetry.feed_id)
                .where(
                    PageRetry.next_attempt_at <= now,
                    or_(
                        PageRetry.lease_until.is_(None),
                        PageRetry.lease_until < now,
                        PageRetry.lease_owner == owner,
                    ),
                )
                .order_by(PageRetry.next_attempt_at, PageRetry.item_id)
                .limit(limit)
            )
            if feed_ids is not None:
                query = query.where(PageRetry.feed_id.in_(feed_ids))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=PageRetry)
            due = []
            for retry, feed in session.execute(query):
                retry.lease_owner, retry.lease_until = owner, now + lease
                due.append(
                    DueRetry(
                        retry.item_id,
                        feed.id,
                        feed.url,
                        feed.title,
                        feed.language,
                        feed.allow_private,
                        retry.url,
                        retry.attempts,
                        retry.first_failed_at,
                        retry.last_error,
                    )
                )
            return due

    def reschedule(self, item_id: int, error: str, next_attempt_at: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(PageRetry)
                .where(PageRetry.item_id == item_id)
                .values(
                    attempts=PageRetry.attempts + 1,
                    last_error=error,
                    next_attempt_at=next_attempt_at,
                    lease_owner=None,
                    lease_until=None,
                )
            )

    def give_up(self, item_id: int, reason: str) -> None:
        """The page will not be fetched again; the item keeps its feed text and says why."""
        with self._sessions.begin() as session:
            session.execute(delete(PageRetry).where(PageRetry.item_id == item_id))
            session.execute(update(Item).where(Item.id == item_id).values(fetch_error=reason))

    def release_retries(self, owner: str) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(PageRetry)
                .where(PageRetry.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
