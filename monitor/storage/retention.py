"""Retention: items older than their retention pruned in batches, and tombstones.

The rules (docs/design.md, "Retention"):

* **Age** counts from when the item was first stored (``items.fetched_at``, or
  the first revision's ``fetched_at`` when the text was revised since, which
  moves ``fetched_at``), never from the publication date the feed claims:
  back-dated or undated entries would otherwise be pruned the moment they come.
* **Whose retention**: a feed's ``retention:``, else ``housekeeping.retention``;
  None is for ever.  An item carried by several feeds is kept as long as the
  longest retention among them (one of them keeping it for ever keeps it);
  an item no feed carries any more follows the global one.  Items a watchlist
  matched are kept at least ``housekeeping.matched_retention`` (default: for
  ever): they are the analysts' clippings, what a digest or alert pointed at.
* **Batches**: each batch of ``housekeeping.prune_batch`` items is its own
  transaction, taken in turn with ingest (:func:`monitor.storage.dedup.serialise_writers`),
  so a long prune holds ingest up for one batch at a time and a crash loses
  at most the batch in flight, which is rolled back whole.  Deleting an item
  deletes what hangs on it by the foreign keys (``ON DELETE CASCADE``: feed
  entries, pages, sketches and bands, revisions, watch matches, page retries,
  alerts).  A cluster whose representative is pruned gets its oldest
  surviving member as representative, so the cluster stays one story.
* **Tombstones**: each pruned entry (feed + entry key, its link, the item's
  canonical URL) leaves a :class:`~monitor.storage.schema.Tombstone`; the
  lookup of known entries finds it (:func:`pruned_entries`), so a feed still
  listing the entry does not bring the article back.  A tombstone goes once
  its entry has not been seen in its feed for ``housekeeping.tombstone_ttl``
  *and* a read of the feed since then shows the entry is gone (a feed that
  answers 304 for months still lists what it listed).
* **Several workers**: on PostgreSQL a run holds a session advisory lock,
  tried without waiting: a second worker's run is skipped, not doubled; the
  batch's rows are taken ``FOR UPDATE SKIP LOCKED``.  On SQLite each batch
  takes the write lock first, so two processes pruning take turns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, false, func, or_, select, text, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from monitor.storage import dedup
from monitor.storage._sql import chunks, insert_ignore
from monitor.storage.schema import (
    Feed,
    FeedItem,
    Item,
    ItemPage,
    ItemRevision,
    PageRetry,
    Tombstone,
    WatchMatch,
)

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.storage.items import EntryKey

log = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(hours=1)  # a tombstone's last_seen_at is moved on at most this often
# a read of the feed this long after a tombstone's last_seen_at would have moved it on,
# had the feed still listed the entry
EVIDENCE_MARGIN = 2 * TOUCH_EVERY
PRUNE_LOCK = 0x6D6F6E707275  # "monpru": the advisory lock one prune run holds


# -- the rules (pure) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long items are kept, in seconds; None is for ever."""

    default: int | None = None  # housekeeping.retention
    per_feed: Mapping[str, int | None] = field(default_factory=dict)  # by feed name
    matched: int | None = None  # housekeeping.matched_retention

    @classmethod
    def of(cls, settings: Settings) -> RetentionPolicy:
        keeping = settings.housekeeping
        return cls(
            keeping.retention,
            {
                f.name: f.retention if f.retention is not None else keeping.retention
                for f in settings.feeds
            },
            keeping.matched_retention,
        )

    def for_feed(self, name: str | None) -> int | None:
        """A feed's retention; a feed not in feeds.yaml (removed) follows the global one."""
        if name is None or name not in self.per_feed:
            return self.default
        return self.per_feed[name]

    def keep_for(self, feeds: Sequence[str], matched: bool) -> int | None:
        """How long an item carried by ``feeds`` is kept (None: for ever)."""
        retentions = [self.for_feed(name) for name in feeds] or [self.default]
        if any(r is None for r in retentions):
            return None
        keep = max(r for r in retentions if r is not None)
        if matched:
            if self.matched is None:
                return None
            keep = max(keep, self.matched)
        return keep

    @property
    def shortest(self) -> int | None:
        """The shortest finite retention: nothing younger is ever pruned."""
        finite = [r for r in (self.default, *self.per_feed.values()) if r is not None]
        return min(finite) if finite else None

    def describe(self) -> str:
        overrides = sum(1 for r in self.per_feed.values() if r != self.default)
        parts = [f"retention {_days(self.default)}"]
        if overrides:
            parts.append(f"{overrides} feed(s) with their own")
        parts.append(f"matched items {_days(self.matched)}")
        return ", ".join(parts)


def prunable(
    policy: RetentionPolicy, stored_at: datetime, feeds: Sequence[str], matched: bool, now: datetime
) -> bool:
    keep = policy.keep_for(feeds, matched)
    return keep is not None and now - stored_at > timedelta(seconds=keep)


def _days(seconds: int | None) -> str:
    if seconds is None:
        return "for ever"
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    return f"{seconds}s"


@dataclass(slots=True)
class PruneReport:
    """What a prune did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    scanned: int = 0  # items old enough for the shortest retention, looked at
    items: int = 0
    entries: int = 0  # feed entries of the pruned items: one tombstone each
    pages: int = 0
    revisions: int = 0
    matches: int = 0
    retries: int = 0
    clusters: int = 0  # clusters given a new representative
    kept_matched: int = 0  # old enough, kept because a watchlist matched them
    tombstones_expired: int = 0
    batches: int = 0
    stopped: bool = False
    skipped: str | None = None  # why nothing was done

    @property
    def kept(self) -> int:
        return self.scanned - self.items


# -- the tombstones at lookup -------------------------------------------------------------


def pruned_entries(
    sessions: sessionmaker[Session],
    feed_id: int,
    keys: Sequence[EntryKey],
    now: datetime | None = None,
) -> list[int | None]:
    """For each entry key, the id of the pruned item its tombstone names, if any.

    Matched as live entries are (:meth:`~monitor.storage.items.ItemRepository.lookup`):
    by the entry's key in this feed, or by its link when it has no GUID or has
    the title recorded.  With ``now``, the tombstones found are marked seen
    (at most every :data:`TOUCH_EVERY`), which keeps them from expiring."""
    if not keys:
        return []
    entry_keys = sorted({k.entry_key for k in keys})
    urls = sorted({k.url for k in keys if k.url})
    by_key: dict[str, tuple[int, int, datetime]] = {}
    by_url: dict[str, list[tuple[str | None, int, int, datetime]]] = {}
    columns = (
        Tombstone.id,
        Tombstone.entry_key,
        Tombstone.entry_url,
        Tombstone.canonical_url,
        Tombstone.title,
        Tombstone.item_id,
        Tombstone.last_seen_at,
    )
    with sessions() as session:
        for chunk in chunks(entry_keys):
            query = select(*columns).where(
                Tombstone.feed_id == feed_id, Tombstone.entry_key.in_(chunk)
            )
            for row_id, name, _url, _canonical, _title, item_id, seen in session.execute(query):
                by_key[name] = (row_id, item_id, seen)
        for chunk in chunks(urls):
            query = select(*columns).where(
                Tombstone.feed_id == feed_id,
                or_(Tombstone.entry_url.in_(chunk), Tombstone.canonical_url.in_(chunk)),
            )
            for row_id, _key, url, canonical, title, item_id, seen in session.execute(query):
                for link in {url, canonical} - {None}:
                    by_url.setdefault(str(link), []).append((title, row_id, item_id, seen))
    found: list[int | None] = []
    stale: set[int] = set()
    for key in keys:
        hit: tuple[int, int, datetime] | None = by_key.get(key.entry_key)
        if hit is None:
            rows = by_url.get(key.url or "", [])
            same = [r for r in rows if (key.guid is None and key.plain) or r[0] == key.title]
            hit = same[0][1:] if same else None
        if hit is None:
            found.append(None)
            continue
        row_id, item_id, seen = hit
        found.append(item_id)
        if now is not None and seen < now - TOUCH_EVERY:
            stale.add(row_id)
    if stale and now is not None:
        with sessions.begin() as session:
            for ids in chunks(sorted(stale)):
                session.execute(
                    update(Tombstone).where(Tombstone.id.in_(ids)).values(last_seen_at=now)
                )
    return found


# -- pruning ------------------------------------------------------------------------------


def _ids(values: Sequence[int] | set[int]) -> Any:
    """An IN list of integers rendered inline: no limit on the number of parameters."""
    return bindparam("ids", sorted(values), expanding=True, literal_execute=True, unique=True)


@dataclass(frozen=True, slots=True)
class _Candidate:
    item_id: int
    stored_at: datetime
    cluster_id: int | None
    canonical_url: str


class RetentionRepository:
    """Pruning by age and the tombstones it leaves (``store.retention``)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @property
    def _dialect(self) -> str:
        return str(self._sessions.kw["bind"].dialect.name)

    def count_candidates(self, policy: RetentionPolicy, now: datetime) -> int:
        """Items old enough for the shortest retention: what a prune will look at."""
        window = _window(policy, now)
        if window is None:
            return 0
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).where(_old(window))) or 0)

    def prune(
        self,
        policy: RetentionPolicy,
        now: datetime,
        *,
        batch: int = 1000,
        tombstone_ttl: int | None = None,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> PruneReport:
        """Prune what ``policy`` says is too old, ``batch`` items a transaction; then
        expire tombstones older than ``tombstone_ttl`` whose entry left its feed.
        ``dry_run`` counts the same and deletes nothing."""
        report = PruneReport(dry_run=dry_run)
        stop = should_stop or (lambda: False)
        with self._run_lock(dry_run) as held:
            if not held:
                report.skipped = "another worker is pruning this database now"
                return report
            window = _window(policy, now)
            if window is not None:
                self._prune_items(policy, now, window, batch, dry_run, report, progress, stop)
            if tombstone_ttl is not None and not report.stopped:
                self._expire(now, timedelta(seconds=tombstone_ttl), batch, dry_run, report, stop)
        return report

    @contextmanager
    def _run_lock(self, dry_run: bool) -> Iterator[bool]:
        if dry_run or self._dialect != "postgresql":
            yield True
            return
        engine = self._sessions.kw["bind"]
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": PRUNE_LOCK}))
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PRUNE_LOCK})

    def _take_turn(self, session: Session) -> None:
        """Take the write turn before reading the batch: ingest's on PostgreSQL, SQLite's
        write lock (a write that changes nothing) there, so what is read stays true."""
        if self._dialect == "postgresql":
            dedup.serialise_writers(session)
        else:
            session.execute(delete(Tombstone).where(false()))

    def _prune_items(
        self,
        policy: RetentionPolicy,
        now: datetime,
        window: datetime,
        batch: int,
        dry_run: bool,
        report: PruneReport,
        progress: Callable[[int], None] | None,
        stop: Callable[[], bool],
    ) -> None:
        with self._sessions() as session:
            names = {int(i): str(n) for i, n in session.execute(select(Feed.id, Feed.name))}
            last = session.scalar(select(func.max(Item.id)).where(_old(window)))
        after = 0
        while last is not None and after < last:
            if stop():
                report.stopped = True
                return
            with self._sessions.begin() as session:
                if not dry_run:
                    self._take_turn(session)
                found = self._candidates(session, window, after, last, batch, dry_run)
                if not found:
                    return
                after = found[-1].item_id
                doomed = self._judge(session, policy, now, names, found, report)
                if doomed:
                    self._count(session, doomed, report)
                    if not dry_run:
                        self._delete(session, doomed, now)
                report.scanned += len(found)
                report.batches += 1
            if progress:
                progress(len(found))

    def _candidates(
        self,
        session: Session,
        window: datetime,
        after: int,
        last: int,
        batch: int,
        dry_run: bool,
    ) -> list[_Candidate]:
        first = aliased(ItemRevision)
        query = (
            select(Item.id, Item.fetched_at, first.fetched_at, Item.cluster_id, Item.canonical_url)
            .outerjoin(first, and_(first.item_id == Item.id, first.number == 1))
            .where(Item.id > after, Item.id <= last, _old(window))
            .order_by(Item.id)
            .limit(batch)
        )
        if self._dialect == "postgresql" and not dry_run:
            query = query.with_for_update(skip_locked=True, of=Item)
        return [
            _Candidate(item_id, min(fetched, revised or fetched), cluster_id, url)
            for item_id, fetched, revised, cluster_id, url in session.execute(query)
        ]

    def _judge(
        self,
        session: Session,
        policy: RetentionPolicy,
        now: datetime,
        names: Mapping[int, str],
        found: Sequence[_Candidate],
        report: PruneReport,
    ) -> list[_Candidate]:
        """The candidates to prune, by :func:`prunable` on their feeds and matches."""
        ids = [c.item_id for c in found]
        feeds: dict[int, list[str]] = {}
        for item_id, feed_id in session.execute(
            select(FeedItem.item_id, FeedItem.feed_id).where(FeedItem.item_id.in_(_ids(ids)))
        ):
            feeds.setdefault(item_id, []).append(names.get(feed_id, ""))
        matched = set(
            session.scalars(
                select(WatchMatch.item_id).where(WatchMatch.item_id.in_(_ids(ids))).distinct()
            )
        )
        doomed = []
        for candidate in found:
            carried = feeds.get(candidate.item_id, [])
            hit = candidate.item_id in matched
            if prunable(policy, candidate.stored_at, carried, hit, now):
                doomed.append(candidate)
            elif hit and prunable(policy, candidate.stored_at, carried, False, now):
                report.kept_matched += 1
        return doomed

    def _count(self, session: Session, doomed: Sequence[_Candidate], report: PruneReport) -> None:
        ids = [c.item_id for c in doomed]
        report.items += len(ids)
        for attribute, table, column in (
            ("entries", FeedItem, FeedItem.item_id),
            ("pages", ItemPage, ItemPage.item_id),
            ("revisions", ItemRevision, ItemRevision.item_id),
            ("matches", WatchMatch, WatchMatch.item_id),
            ("retries", PageRetry, PageRetry.item_id),
        ):
            count = session.scalar(
                select(func.count()).select_from(table).where(column.in_(_ids(ids)))
            )
            setattr(report, attribute, getattr(report, attribute) + int(count or 0))
        report.clusters += len(self._successors(session, ids))

    def _successors(self, session: Session, ids: Sequence[int]) -> dict[int, int]:
        """Each pruned representative with surviving members -> its oldest survivor."""
        query = (
            select(Item.cluster_id, func.min(Item.id))
            .where(Item.cluster_id.in_(_ids(ids)), Item.id.not_in(_ids(ids)))
            .group_by(Item.cluster_id)
        )
        return {int(old): int(new) for old, new in session.execute(query) if old is not None}

    def _delete(self, session: Session, doomed: Sequence[_Candidate], now: datetime) -> None:
        ids = [c.item_id for c in doomed]
        by_id = {c.item_id: c for c in doomed}
        entries = session.execute(
            select(
                FeedItem.feed_id,
                FeedItem.item_id,
                FeedItem.entry_key,
                FeedItem.guid,
                FeedItem.entry_url,
                FeedItem.title,
            ).where(FeedItem.item_id.in_(_ids(ids)))
        ).all()
        if entries:
            session.execute(
                insert_ignore(session, Tombstone),
                [
                    {
                        "feed_id": feed_id,
                        "entry_key": key,
                        "guid": guid,
                        "entry_url": url,
                        "title": title,
                        "canonical_url": by_id[item_id].canonical_url,
                        "item_id": item_id,
                        "stored_at": by_id[item_id].stored_at,
                        "pruned_at": now,
                        "last_seen_at": now,
                    }
                    for feed_id, item_id, key, guid, url, title in entries
                ],
            )
        for old, new in self._successors(session, ids).items():
            session.execute(
                update(Item)
                .where(Item.cluster_id == old, Item.id.not_in(_ids(ids)))
                .values(cluster_id=new)
            )
            session.execute(
                update(Item).where(Item.id == new).values(duplicate_of=None, similarity=None)
            )
        session.execute(
            update(Item)
            .where(Item.duplicate_of.in_(_ids(ids)), Item.id.not_in(_ids(ids)))
            .values(duplicate_of=None, similarity=None)
        )
        # the rest goes by ON DELETE CASCADE (SQLite runs with foreign_keys=ON)
        session.execute(delete(Item).where(Item.id.in_(_ids(ids))))

    # -- tombstones expire ------------------------------------------------------------

    def _expire(
        self,
        now: datetime,
        ttl: timedelta,
        batch: int,
        dry_run: bool,
        report: PruneReport,
        stop: Callable[[], bool],
    ) -> None:
        """Tombstones not seen for ``ttl`` go once a later read of their feed proves the
        entry gone: a new entry recorded, or another tombstone of the feed seen, at
        least :data:`EVIDENCE_MARGIN` after this one was last seen.  Feeds no longer
        polled (removed from feeds.yaml, or gone with a 410) prove nothing: their
        tombstones go after ``ttl`` alone, or they would pile up for ever."""
        cutoff = now - ttl
        with self._sessions() as session:
            feed_ids = list(
                session.scalars(
                    select(Tombstone.feed_id).where(Tombstone.last_seen_at < cutoff).distinct()
                )
            )
        for feed_id in feed_ids:
            if stop():
                report.stopped = True
                return
            limit = self._expiry_limit(feed_id, cutoff)
            if limit is None:
                continue
            while True:
                with self._sessions.begin() as session:
                    if not dry_run:
                        self._take_turn(session)
                    ids = list(
                        session.scalars(
                            select(Tombstone.id)
                            .where(Tombstone.feed_id == feed_id, Tombstone.last_seen_at < limit)
                            .order_by(Tombstone.id)
                            .limit(batch)
                        )
                    )
                    if dry_run:
                        report.tombstones_expired += int(
                            session.scalar(
                                select(func.count()).where(
                                    Tombstone.feed_id == feed_id, Tombstone.last_seen_at < limit
                                )
                            )
                            or 0
                        )
                        break
                    if ids:
                        session.execute(delete(Tombstone).where(Tombstone.id.in_(_ids(ids))))
                    report.tombstones_expired += len(ids)
                if len(ids) < batch:
                    break

    def _expiry_limit(self, feed_id: int, cutoff: datetime) -> datetime | None:
        """Tombstones of this feed last seen before the returned time may go."""
        with self._sessions() as session:
            polled = session.scalar(
                select(Feed.id).where(
                    Feed.id == feed_id, Feed.active.is_(True), Feed.disabled_reason.is_(None)
                )
            )
            if polled is None:
                return cutoff
            evidence = [
                session.scalar(
                    select(func.max(FeedItem.first_seen_at)).where(FeedItem.feed_id == feed_id)
                ),
                session.scalar(
                    select(func.max(Tombstone.last_seen_at)).where(Tombstone.feed_id == feed_id)
                ),
            ]
        read = max((e for e in evidence if e is not None), default=None)
        if read is None:
            return None
        return min(cutoff, read - EVIDENCE_MARGIN)

    def count(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Tombstone)) or 0)


def _window(policy: RetentionPolicy, now: datetime) -> datetime | None:
    shortest = policy.shortest
    return None if shortest is None else now - timedelta(seconds=shortest)


def _old(window: datetime) -> Any:
    """Items first stored before ``window``: by ``fetched_at``, or, for an item revised
    since (which moves ``fetched_at``), by its first revision's."""
    revised = select(ItemRevision.item_id).where(
        ItemRevision.number == 1, ItemRevision.fetched_at < window
    )
    return or_(Item.fetched_at < window, Item.id.in_(revised))
