"""Digest windows in the database: each watchlist's digests, sent exactly once.

Why it is exactly once (docs/design.md, "digests"):

* A digest is a row per (watchlist, window start), unique in the database:
  two workers that reach one schedule both try to insert it, one wins.
* Which matches a digest carries is recorded in ``digest_matches``, whose
  primary key is the match id: a match is in one digest at most, and the
  claim (the digest row plus its matches) is one transaction, so two claims
  that would overlap cannot both commit.
* A window takes every match of the watchlist stamped before its end that no
  digest carries yet -- not only those stamped inside it.  ``matched_at`` is set
  before the ingest transaction commits, so a match stamped at T-1s may become
  visible only after the window ending at T was claimed; the next window picks
  it up because it is still unrecorded.  No clock margin is needed, on SQLite
  (one writer at a time) or PostgreSQL (READ COMMITTED: a claim sees every
  match committed before its statement), since membership is decided by what is
  recorded, not by timestamps.  Matches stamped before the watchlist's first
  window are never sent, so configuring a digest does not mail the history.
* Sending takes a lease on the row (a compare-and-set UPDATE); the outcome is
  recorded by the lease holder only.  A crash between the SMTP server's "250"
  and the commit of ``sent`` would send it again after the lease expires: the
  Message-ID is the same, so mail clients show one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from monitor.deliver.digest import DigestItem, Hit
from monitor.storage._sql import chunks
from monitor.storage.schema import Digest, DigestMatch, Feed, FeedItem, Item, WatchMatch

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"


@dataclass(frozen=True, slots=True)
class DigestRow:
    id: int
    watchlist: str
    window_start: datetime
    window_end: datetime
    status: str
    items: int
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


def _row(d: Digest) -> DigestRow:
    return DigestRow(
        d.id,
        d.watchlist,
        d.window_start,
        d.window_end,
        d.status,
        d.items,
        d.attempts,
        d.created_at,
        d.next_attempt_at,
        d.sent_at,
        d.last_error,
    )


class DigestRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def last_end(self, watchlist: str) -> datetime | None:
        """Where the next window of ``watchlist`` starts: the end of its latest one."""
        with self._sessions() as session:
            return session.scalar(
                select(func.max(Digest.window_end)).where(Digest.watchlist == watchlist)
            )

    def open_window(
        self, watchlist: str, start: datetime, end: datetime, now: datetime, *, skip_empty: bool
    ) -> DigestRow | None:
        """Claim the window [``start``, ``end``) of ``watchlist`` with its unsent matches.

        Returns None when another worker (or an earlier run) claimed it already.  An
        empty window is recorded as ``skipped`` when ``skip_empty``, so the next window
        still starts at ``end``."""
        try:
            with self._sessions.begin() as session:
                origin = session.scalar(
                    select(func.min(Digest.window_start)).where(Digest.watchlist == watchlist)
                )
                digest = Digest(
                    watchlist=watchlist,
                    window_start=start,
                    window_end=end,
                    status=PENDING,
                    items=0,
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                )
                session.add(digest)
                session.flush()
                unsent = select(WatchMatch.id, WatchMatch.item_id).where(
                    WatchMatch.watchlist == watchlist,
                    WatchMatch.matched_at < end,
                    WatchMatch.matched_at >= min(origin or start, start),
                    ~exists().where(DigestMatch.match_id == WatchMatch.id),
                )
                rows = session.execute(unsent).all()
                if rows:
                    session.execute(
                        insert(DigestMatch),
                        [{"match_id": m, "digest_id": digest.id} for m, _ in rows],
                    )
                digest.items = len({item for _, item in rows})
                if not rows and skip_empty:
                    digest.status = SKIPPED
                session.flush()
                return _row(digest)
        except IntegrityError:
            return None

    def contents(self, digest_id: int) -> list[DigestItem]:
        """The matched items a digest carries, as :func:`~monitor.deliver.digest.build` wants."""
        query = (
            select(WatchMatch)
            .join(DigestMatch, DigestMatch.match_id == WatchMatch.id)
            .where(DigestMatch.digest_id == digest_id)
        )
        with self._sessions() as session:
            return _items(session, query)

    def preview(self, watchlist: str, since: datetime, until: datetime) -> list[DigestItem]:
        """Items ``watchlist`` matched in [``since``, ``until``), sent or not (nothing recorded)."""
        query = select(WatchMatch).where(
            WatchMatch.watchlist == watchlist,
            WatchMatch.matched_at >= since,
            WatchMatch.matched_at < until,
        )
        with self._sessions() as session:
            return _items(session, query)

    def due(self, now: datetime, watchlists: Sequence[str]) -> list[DigestRow]:
        """Digests to send now: pending or failed, their next attempt due, no live lease."""
        with self._sessions() as session:
            rows = session.scalars(
                select(Digest)
                .where(
                    Digest.watchlist.in_(list(watchlists)),
                    Digest.status.in_((PENDING, FAILED)),
                    Digest.next_attempt_at <= now,
                    or_(Digest.lease_until.is_(None), Digest.lease_until < now),
                )
                .order_by(Digest.window_start)
            )
            return [_row(r) for r in rows]

    def take(self, digest_id: int, owner: str, now: datetime, lease: timedelta) -> bool:
        """Take the lease on a due digest (compare-and-set); False if someone else has it."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(Digest)
                .where(
                    Digest.id == digest_id,
                    Digest.status.in_((PENDING, FAILED)),
                    Digest.next_attempt_at <= now,
                    or_(Digest.lease_until.is_(None), Digest.lease_until < now),
                )
                .values(lease_owner=owner, lease_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def record(
        self,
        digest_id: int,
        owner: str,
        now: datetime,
        *,
        error: str | None,
        next_attempt_at: datetime,
        failed: bool,
        message_id: str | None,
    ) -> bool:
        """The outcome of one attempt, by the lease holder; False if the lease was lost."""
        values: dict[str, object] = {
            "attempts": Digest.attempts + 1,
            "lease_owner": None,
            "lease_until": None,
            "message_id": message_id,
        }
        if error is None:
            values |= {"status": SENT, "sent_at": now, "last_error": None}
        else:
            values |= {
                "status": FAILED if failed else PENDING,
                "last_error": error,
                "next_attempt_at": next_attempt_at,
            }
        with self._sessions.begin() as session:
            result = session.execute(
                update(Digest)
                .where(Digest.id == digest_id, Digest.lease_owner == owner)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def list(self, watchlist: str | None = None, limit: int | None = 100) -> list[DigestRow]:
        """Digests, newest window first."""
        query = select(Digest).order_by(Digest.window_start.desc(), Digest.id.desc())
        if watchlist:
            query = query.where(Digest.watchlist == watchlist)
        if limit:
            query = query.limit(limit)
        with self._sessions() as session:
            return [_row(r) for r in session.scalars(query)]

    def get(self, digest_id: int) -> DigestRow | None:
        with self._sessions() as session:
            row = session.get(Digest, digest_id)
            return _row(row) if row else None


def _items(session: Session, matches: Select[Any]) -> list[DigestItem]:
    hits: defaultdict[int, list[Hit]] = defaultdict(list)
    ordered = matches.order_by(WatchMatch.item_id, WatchMatch.rule_index)
    for m in session.scalars(ordered):
        hits[m.item_id].append(Hit(m.rule_index, m.rule, m.matched, m.snippet))
    ids = list(hits)
    items: dict[int, Item] = {}
    for chunk in chunks(ids):
        items.update({i.id: i for i in session.scalars(select(Item).where(Item.id.in_(chunk)))})
    stories = {i.cluster_id or i.id for i in items.values()}
    feeds: defaultdict[int, list[str]] = defaultdict(list)  # item -> feeds
    outlets: defaultdict[int, list[str]] = defaultdict(list)  # story -> feeds
    story_of = func.coalesce(Item.cluster_id, Item.id)
    for chunk in chunks(list(stories)):
        rows = session.execute(
            select(FeedItem.item_id, story_of, Feed.name)
            .join(Item, Item.id == FeedItem.item_id)
            .join(Feed, Feed.id == FeedItem.feed_id)
            .where(story_of.in_(chunk))
            .order_by(FeedItem.first_seen_at, Feed.name)
        )
        for item_id, story, name in rows:
            if name not in feeds[item_id]:
                feeds[item_id].append(name)
            if name not in outlets[story]:
                outlets[story].append(name)
    return [
        DigestItem(
            item_id=item.id,
            title=item.title,
            url=item.url,
            feeds=tuple(feeds[item.id]),
            published_at=item.published_at,
            fetched_at=item.fetched_at,
            cluster_id=item.cluster_id,
            revision=item.revision,
            hits=tuple(hits[item.id]),
            story_outlets=tuple(outlets[item.cluster_id or item.id]),
        )
        for item in (items[i] for i in ids if i in items)
    ]
