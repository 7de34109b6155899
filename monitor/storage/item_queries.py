"""Items, the read side: lists, clusters, revisions and exports of stored items."""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.pipeline.types import ParsedEntry
from monitor.storage._sql import chunks
from monitor.storage.schema import Feed, FeedItem, Item, ItemPage, ItemRevision, PageRetry
from monitor.watch.matcher import Document

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    url: str
    canonical_url: str
    guid: str | None
    title: str | None
    author: str | None
    published_at: datetime | None
    updated_at: datetime | None
    fetched_at: datetime
    summary: str | None
    text: str | None
    language: str | None
    site_name: str | None
    categories: tuple[str, ...]
    image_url: str | None
    word_count: int
    content_hash: str | None
    extraction_method: str
    extractor_version: str
    field_sources: dict[str, str]
    fetch_status: int | None
    fetch_error: str | None
    feeds: tuple[str, ...] = ()
    feed_tags: tuple[str, ...] = ()
    has_page: bool = False
    cluster_id: int | None = None
    duplicate_of: int | None = None
    similarity: float | None = None
    revision: int = 1

    def as_entry(self, link: str | None = None) -> ParsedEntry:
        """The feed entry this item was made from, as far as the item tells, to assemble
        it again from a page (re-extraction, a page that arrived late).  The text counts
        as the feed's content when it came from the feed's full content."""
        return ParsedEntry(
            link=link or self.url,
            guid=self.guid,
            title=self.title,
            author=self.author,
            published=self.published_at,
            updated=self.updated_at,
            summary=self.summary,
            content_text=self.text if self.extraction_method == "feed-content" else None,
            categories=self.categories,
            image=self.image_url,
            language=self.language,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "guid": self.guid,
            "title": self.title,
            "author": self.author,
            "published_at": _iso(self.published_at),
            "updated_at": _iso(self.updated_at),
            "fetched_at": _iso(self.fetched_at),
            "feeds": list(self.feeds),
            "feed_tags": list(self.feed_tags),
            "language": self.language,
            "site_name": self.site_name,
            "categories": list(self.categories),
            "image_url": self.image_url,
            "summary": self.summary,
            "text": self.text,
            "word_count": self.word_count,
            "content_hash": self.content_hash,
            "extraction_method": self.extraction_method,
            "extractor_version": self.extractor_version,
            "field_sources": self.field_sources,
            "fetch_status": self.fetch_status,
            "fetch_error": self.fetch_error,
            "cluster_id": self.cluster_id,
            "duplicate_of": self.duplicate_of,
            "similarity": self.similarity,
            "revision": self.revision,
        }


@dataclass(frozen=True, slots=True)
class Revision:
    number: int
    title: str | None
    text: str | None
    word_count: int
    fetched_at: datetime
    replaced_at: datetime


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """One entry through which a feed carried an item: its own GUID, link and title."""

    feed: str
    guid: str | None
    url: str | None
    title: str | None
    first_seen_at: datetime


@dataclass(slots=True)
class _FeedInfo:
    names: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class ItemQueries:
    """Read-only queries over stored items (the base of ``ItemRepository``)."""

    _sessions: sessionmaker[Session]

    def _feed_info(self, session: Session, ids: Sequence[int]) -> dict[int, _FeedInfo]:
        info: defaultdict[int, _FeedInfo] = defaultdict(_FeedInfo)
        for chunk in chunks(ids):
            rows = session.execute(
                select(FeedItem.item_id, Feed.name, Feed.tags)
                .join(Feed, Feed.id == FeedItem.feed_id)
                .where(FeedItem.item_id.in_(chunk))
                .order_by(FeedItem.first_seen_at, Feed.name)
            )
            for item_id, name, tags in rows:
                entry = info[item_id]
                if name in entry.names:  # one feed carrying the item through several entries
                    continue
                entry.names.append(name)
                entry.tags.extend(t for t in tags or () if t not in entry.tags)
        return info

    def _select(
        self, feed: str | None, since: datetime | None, languages: Sequence[str] = ()
    ) -> Select[Any]:
        return self._filter(select(Item), feed, since, languages)

    @staticmethod
    def _filter(
        query: S, feed: str | None, since: datetime | None, languages: Sequence[str] = ()
    ) -> S:
        """``languages``: ISO codes (``ar`` also takes ``ar-SA``); ``none``: no language."""
        if languages:
            wanted: list[ColumnElement[bool]] = []
            for code in {c.strip().lower() for c in languages if c.strip()}:
                if code == "none":
                    wanted.append(Item.language.is_(None))
                else:
                    lowered = func.lower(Item.language)
                    wanted.append(or_(lowered == code, lowered.like(f"{code}-%")))
            query = query.where(or_(*wanted))
        if feed:
            query = query.where(
                Item.id.in_(
                    select(FeedItem.item_id)
                    .join(Feed, Feed.id == FeedItem.feed_id)
                    .where(Feed.name == feed)
                )
            )
        if since:
            query = query.where(func.coalesce(Item.published_at, Item.fetched_at) >= since)
        return query

    def _stored(self, item: Item, info: _FeedInfo, has_page: bool = False) -> StoredItem:
        return StoredItem(
            id=item.id,
            url=item.url,
            canonical_url=item.canonical_url,
            guid=item.guid,
            title=item.title,
            author=item.author,
            published_at=item.published_at,
            updated_at=item.updated_at,
            fetched_at=item.fetched_at,
            summary=item.summary,
            text=item.text,
            language=item.language,
            site_name=item.site_name,
            categories=tuple(item.categories or ()),
            image_url=item.image_url,
            word_count=item.word_count,
            content_hash=item.content_hash,
            extraction_method=item.extraction_method,
            extractor_version=item.extractor_version,
            field_sources=dict(item.field_sources or {}),
            fetch_status=item.fetch_status,
            fetch_error=item.fetch_error,
            feeds=tuple(info.names),
            feed_tags=tuple(info.tags),
            has_page=has_page,
            cluster_id=item.cluster_id,
            duplicate_of=item.duplicate_of,
            similarity=item.similarity,
            revision=item.revision,
        )

    def list_clusters(
        self,
        feed: str | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
        *,
        languages: Sequence[str] = (),
    ) -> list[tuple[StoredItem, int]]:
        """One row per story: each cluster's representative and how many of its items match,
        newest story first."""
        cluster = func.coalesce(Item.cluster_id, Item.id)
        newest = func.max(func.coalesce(Item.published_at, Item.fetched_at))
        groups = self._filter(
            select(cluster.label("cluster"), func.count().label("size")).select_from(Item),
            feed,
            since,
            languages,
        )
        groups = groups.group_by(cluster).order_by(newest.desc(), cluster.desc())
        if limit:
            groups = groups.limit(limit)
        with self._sessions() as session:
            sizes = {int(row[0]): int(row[1]) for row in session.execute(groups)}
            items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(sizes)))}
            info = self._feed_info(session, list(items))
            return [
                (self._stored(items[cluster_id], info[cluster_id]), size)
                for cluster_id, size in sizes.items()
                if cluster_id in items
            ]

    def cluster(self, item_id: int) -> list[StoredItem]:
        """The other items of ``item_id``'s cluster (the same story elsewhere), oldest first."""
        with self._sessions() as session:
            item = session.get(Item, item_id)
            if item is None:
                return []
            cluster_id = item.cluster_id or item.id
            members = list(
                session.scalars(
                    select(Item)
                    .where(Item.cluster_id == cluster_id, Item.id != item_id)
                    .order_by(Item.id)
                )
            )
            info = self._feed_info(session, [m.id for m in members])
            return [self._stored(m, info[m.id]) for m in members]

    def entries(self, item_ids: Sequence[int]) -> dict[int, list[EntryRecord]]:
        """Every feed entry that led to each item, first seen first."""
        found: dict[int, list[EntryRecord]] = {i: [] for i in item_ids}
        with self._sessions() as session:
            for chunk in chunks(list(item_ids)):
                rows = session.execute(
                    select(
                        FeedItem.item_id,
                        Feed.name,
                        FeedItem.guid,
                        FeedItem.entry_url,
                        FeedItem.title,
                        FeedItem.first_seen_at,
                    )
                    .join(Feed, Feed.id == FeedItem.feed_id)
                    .where(FeedItem.item_id.in_(chunk))
                    .order_by(FeedItem.first_seen_at, FeedItem.id)
                )
                for item_id, feed, guid, url, title, seen in rows:
                    found[item_id].append(EntryRecord(feed, guid, url, title, seen))
        return found

    def pending_ids(self) -> set[int]:
        """Items whose article page is still to be fetched again."""
        with self._sessions() as session:
            return set(session.scalars(select(PageRetry.item_id)))

    def revisions(self, item_id: int) -> list[Revision]:
        """Earlier texts of an item, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(ItemRevision)
                .where(ItemRevision.item_id == item_id)
                .order_by(ItemRevision.number)
            )
            return [
                Revision(r.number, r.title, r.text, r.word_count, r.fetched_at, r.replaced_at)
                for r in rows
            ]

    def list(
        self,
        feed: str | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
        *,
        pending: bool = False,
        languages: Sequence[str] = (),
        before: tuple[datetime, int] | None = None,
    ) -> list[StoredItem]:
        """Items, newest first; ``pending``: only those whose page is still awaited;
        ``before``: (time, id) of the last item of a previous page (keyset paging)."""
        query = self._select(feed, since, languages)
        if before is not None:
            moment = func.coalesce(Item.published_at, Item.fetched_at)
            query = query.where(
                or_(moment < before[0], and_(moment == before[0], Item.id < before[1]))
            )
        if pending:
            query = query.where(Item.id.in_(select(PageRetry.item_id)))
        query = query.order_by(
            func.coalesce(Item.published_at, Item.fetched_at).desc(), Item.id.desc()
        )
        if limit:
            query = query.limit(limit)
        with self._sessions() as session:
            items = list(session.scalars(query))
            info = self._feed_info(session, [i.id for i in items])
            return [self._stored(i, info[i.id]) for i in items]

    def count(
        self,
        since: datetime | None = None,
        feed: str | None = None,
        *,
        languages: Sequence[str] = (),
    ) -> int:
        query = self._filter(select(func.count()).select_from(Item), feed, since, languages)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def get(self, item_id: int) -> StoredItem | None:
        with self._sessions() as session:
            item = session.get(Item, item_id)
            if item is None:
                return None
            has_page = session.get(ItemPage, item_id) is not None
            return self._stored(item, self._feed_info(session, [item_id])[item_id], has_page)

    def get_many(self, item_ids: Sequence[int]) -> builtins.list[StoredItem]:
        """The items of ``item_ids`` that exist, in that order."""
        found: dict[int, StoredItem] = {}
        with self._sessions() as session:
            for chunk in chunks(list(dict.fromkeys(item_ids))):
                items = list(session.scalars(select(Item).where(Item.id.in_(chunk))))
                info = self._feed_info(session, [i.id for i in items])
                found |= {i.id: self._stored(i, info[i.id]) for i in items}
        return [found[i] for i in dict.fromkeys(item_ids) if i in found]

    def iter_all(
        self,
        since: datetime | None = None,
        feed: str | None = None,
        batch: int = 500,
        *,
        languages: Sequence[str] = (),
    ) -> Iterator[StoredItem]:
        """Every matching item, oldest first, read in batches (keyset pagination)."""
        last_id = 0
        while True:
            query = self._select(feed, since, languages)
            query = query.where(Item.id > last_id).order_by(Item.id)
            with self._sessions() as session:
                items = list(session.scalars(query.limit(batch)))
                if not items:
                    return
                info = self._feed_info(session, [i.id for i in items])
                stored = [self._stored(i, info[i.id]) for i in items]
            yield from stored
            last_id = items[-1].id

    def iter_documents(
        self, since: datetime | None = None, batch: int = 500
    ) -> Iterator[tuple[int, Document]]:
        """(item id, the fields a watchlist matches) of every item fetched since ``since``,
        oldest first, in batches: for a preview of rules not yet saved.

        The document is what the watch stage and a backfill match (title, text,
        author, the names of the feeds that carried the item, in the order
        :meth:`list` gives them), so the preview finds what saving would store.
        Only those columns are read, never a whole row."""
        last_id = 0
        while True:
            query = select(Item.id, Item.title, Item.text, Item.author).where(Item.id > last_id)
            if since is not None:
                query = query.where(Item.fetched_at >= since)
            with self._sessions() as session:
                rows = list(session.execute(query.order_by(Item.id).limit(batch)))
                if not rows:
                    return
                info = self._feed_info(session, [r.id for r in rows])
            for row in rows:
                yield (
                    row.id,
                    Document(
                        title=row.title or "",
                        text=row.text or "",
                        author=row.author or "",
                        feeds=tuple(info[row.id].names),
                    ),
                )
            last_id = rows[-1].id
