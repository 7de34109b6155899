"""Items: lookup of known entries, idempotent insertion and re-extraction.

The read side (lists, clusters, revisions, exports) is :mod:`monitor.storage.item_queries`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import StorageError
from monitor.pipeline.identity import entry_key
from monitor.pipeline.types import ItemDraft
from monitor.storage import dedup
from monitor.storage._sql import chunks, insert_ignore
from monitor.storage.entries import RetryPlan, add_retry
from monitor.storage.item_queries import ItemQueries
from monitor.storage.matches import replace_matches
from monitor.storage.retention import pruned_entries
from monitor.storage.schema import FeedItem, Item, ItemPage, PageRetry
from monitor.storage.search import Indexed, index_many, reindex
from monitor.watch.matcher import Match


@dataclass(frozen=True, slots=True)
class EntryKey:
    """How an entry is recognised: its GUID within the feed, its canonical link anywhere.

    ``title`` tells a feed that changes an entry's GUID from one poll to the
    next (same link, same title) from one that serves several entries under
    one link (a live page's updates, each with its own GUID and title)."""

    guid: str | None
    url: str | None
    title: str | None = None
    key: str | None = None  # the entry's key in its feed, when not simply its GUID or link

    @property
    def entry_key(self) -> str:
        return self.key or entry_key(self.guid, self.url)

    @property
    def plain(self) -> bool:
        """Known by its GUID or link alone (not one of several entries under them)."""
        return self.key is None or self.key == entry_key(self.guid, self.url)


@dataclass(frozen=True, slots=True)
class Known:
    item_id: int
    linked: bool  # this entry is already recorded for this feed
    entry_updated: datetime | None = None  # the entry's time when this feed last carried it
    pruned: bool = False  # retention pruned the item; its tombstone says the entry was seen


@dataclass(frozen=True, slots=True)
class StoredPage:
    item_id: int
    url: str
    html_z: bytes
    charset: str | None
    extractor_version: str


def _no_nul(value: Any) -> Any:
    """PostgreSQL text refuses NUL; the pipeline drops control characters, this is the
    last guard (a NUL in any field would otherwise lose the item on PostgreSQL only)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    return value


def _item_values(draft: ItemDraft) -> dict[str, Any]:
    return {k: _no_nul(v) for k, v in _raw_values(draft).items()}


def _raw_values(draft: ItemDraft) -> dict[str, Any]:
    return {
        "url": draft.url,
        "canonical_url": draft.canonical_url,
        "guid": draft.guid,
        "title": draft.title,
        "author": draft.author,
        "published_at": draft.published_at,
        "updated_at": draft.updated_at,
        "summary": draft.summary,
        "text": draft.text,
        "language": draft.language,
        "site_name": draft.site_name,
        "categories": list(draft.categories),
        "image_url": draft.image_url,
        "word_count": draft.word_count,
        "content_hash": draft.content_hash,
        "extraction_method": draft.extraction_method,
        "extractor_version": draft.extractor_version,
        "field_sources": draft.field_sources,
        "fetch_status": draft.fetch_status,
        "fetch_error": draft.fetch_error,
    }


@dataclass(frozen=True, slots=True)
class NewItem:
    """One item to store, with the feed that carried it (see :meth:`ItemRepository.add_many`)."""

    feed_id: int
    draft: ItemDraft
    entry_url: str | None
    now: datetime
    # what the watch stage found in the draft, and the watchlists it evaluated
    matches: tuple[Match, ...] = ()
    watchlists: tuple[str, ...] = ()
    # the stored item this entry led to, when the feed re-dated it and it was fetched again
    revisit_of: int | None = None
    # the entry as the feed served it: its title, and the key naming it within the feed
    # (default: its GUID, else its link)
    entry_title: str | None = None
    entry_key: str | None = None
    # the page failed temporarily: the item is stored with the feed's text and its page
    # fetched again later (monitor.storage.entries)
    retry: RetryPlan | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """What became of one item handed to :meth:`ItemRepository.add_many`."""

    item_id: int
    created: bool
    revised: bool
    duplicate_of: int | None
    linked: bool = False  # a feed newly recorded as carrying an item stored before


@dataclass(frozen=True, slots=True)
class _Statements:
    item: Any
    item_by_url: Any
    page: Any
    link: Any


@dataclass(slots=True)
class _Deferred:
    """What a batch writes for its new items in one go, once their rows exist."""

    index: list[Indexed]  # search rows
    pages: list[dict[str, Any]]  # kept pages

    def write(self, session: Session, stmts: _Statements) -> None:
        index_many(session, self.index)
        if self.pages:
            session.connection().execute(stmts.page, self.pages)
        self.index.clear()
        self.pages.clear()


class ItemRepository(ItemQueries):
    #: Keep the full-text index in step with every item write (off only to measure its cost).
    search_upkeep = True

    def __init__(
        self, sessions: sessionmaker[Session], policy: dedup.DedupPolicy | None = None
    ) -> None:
        self._sessions = sessions
        self.policy = policy or dedup.DedupPolicy()
        self._cache: dict[str, _Statements] = {}

    # -- ingest -------------------------------------------------------------------

    def lookup(
        self, feed_id: int, keys: Sequence[EntryKey], now: datetime | None = None
    ) -> list[Known | None]:
        """For each key, the stored item it designates (if any), in one round of queries.

        ``linked`` says the entry itself is recorded for this feed: by its entry
        key (GUID, else link), or by its link when it has no GUID or carries the
        title recorded there (a feed that changes GUIDs between polls).  An
        entry of this feed with a new GUID and title under a known link is a new
        entry of a stored item (``linked`` False): it is recorded, not dropped.
        An entry whose item retention pruned is found by its tombstone (``pruned``):
        seen already, not stored again; ``now`` marks the tombstone seen."""
        entry_keys = sorted({k.entry_key for k in keys})
        urls = sorted({k.url for k in keys if k.url})
        own: dict[str, tuple[int, datetime | None]] = {}
        own_urls: dict[str, list[tuple[str | None, int, datetime | None]]] = {}
        anywhere: dict[str, int] = {}
        columns = (
            FeedItem.entry_key,
            FeedItem.entry_url,
            FeedItem.title,
            FeedItem.item_id,
            FeedItem.entry_updated,
        )
        with self._sessions() as session:
            for chunk in chunks(entry_keys):
                for own_key, _url, _title, item_id, updated in session.execute(
                    select(*columns).where(
                        FeedItem.feed_id == feed_id, FeedItem.entry_key.in_(chunk)
                    )
                ):
                    own[own_key] = (item_id, updated)
            for chunk in chunks(urls):
                for _key, url, title, item_id, updated in session.execute(
                    select(*columns).where(
                        FeedItem.feed_id == feed_id, FeedItem.entry_url.in_(chunk)
                    )
                ):
                    own_urls.setdefault(url or "", []).append((title, item_id, updated))
                for url, item_id in session.execute(
                    select(Item.canonical_url, Item.id).where(Item.canonical_url.in_(chunk))
                ):
                    anywhere[url] = item_id
                for entry_url, linked_id in session.execute(
                    select(FeedItem.entry_url, FeedItem.item_id).where(
                        FeedItem.entry_url.in_(chunk)
                    )
                ):
                    if entry_url:
                        anywhere.setdefault(entry_url, linked_id)
        result: list[Known | None] = []
        for key in keys:
            if key.entry_key in own:
                item_id, updated = own[key.entry_key]
                result.append(Known(item_id, True, updated))
                continue
            rows = own_urls.get(key.url or "", [])
            # the same entry under a changed GUID or key: the same link and title (or, for
            # the only entry without GUID under its link, the same link)
            same = [r for r in rows if (key.guid is None and key.plain) or r[0] == key.title]
            if same:
                result.append(Known(same[0][1], True, same[0][2]))
            elif rows:
                result.append(Known(rows[0][1], False))
            elif key.url and key.url in anywhere:
                result.append(Known(anywhere[key.url], False))
            else:
                result.append(None)
        unknown = [i for i, hit in enumerate(result) if hit is None]
        if unknown:
            pruned = pruned_entries(self._sessions, feed_id, [keys[i] for i in unknown], now)
            for index, pruned_id in zip(unknown, pruned, strict=True):
                if pruned_id is not None:
                    result[index] = Known(pruned_id, True, None, pruned=True)
        return result

    def add(
        self, feed_id: int, draft: ItemDraft, entry_url: str | None, now: datetime
    ) -> tuple[int, bool]:
        """Store a new item (or find the one already stored under its canonical URL) and
        record that ``feed_id`` carried it.  Returns ``(item_id, created)``."""
        stored = self.add_many([NewItem(feed_id, draft, entry_url, now)])[0]
        return stored.item_id, stored.created

    def add_many(self, batch: Sequence[NewItem]) -> list[Stored]:
        """Store a batch of items in one transaction (one commit for many items).

        Each item is, in this order: the stored item of the same canonical URL
        (revised if its text changed), the stored item of the same text (an
        exact copy under another URL), or a new item placed in the cluster of
        its nearest stored duplicate (see :mod:`monitor.storage.dedup`).
        Statements are built once per dialect and executed with parameters, so
        SQLAlchemy compiles each only once; the new items' search rows and kept
        pages are written together at the end of the batch (two or three statements
        for the batch instead of as many per item)."""
        results: list[Stored] = []
        with self._sessions.begin() as session:
            dedup.serialise_writers(session)
            stmts = self._statements(session)
            later = _Deferred([], [])
            for new in batch:  # (a revision indexes again an item of an earlier batch)
                results.append(self._add_one(session, stmts, new, later))
            later.write(session, stmts)
        return results

    def _add_one(
        self, session: Session, stmts: _Statements, new: NewItem, later: _Deferred
    ) -> Stored:
        draft = new.draft
        if new.revisit_of is not None:
            revisited = self._revisit(session, new)
            if revisited is not None:
                return revisited
        conn = session.connection()  # Core execution: no ORM overhead on the hot path
        known = conn.execute(stmts.item_by_url, {"url": draft.canonical_url}).scalar()
        if known is None:
            known = dedup.exact_copy(session, draft, self.policy)
            if known is not None:
                # Recorded under the copy's own URL too, so the next sighting is known.
                entry_url = new.entry_url or draft.canonical_url
                linked = self._link_new(session, new, known, entry_url)
                return Stored(known, created=False, revised=False, duplicate_of=None, linked=linked)
        if known is not None:
            # Another feed (or link) led to an article stored already.  Only a feed that
            # re-dates its entry revises it (see _revisit): two renderings of one page
            # fetched in the same poll are not two versions of the article.
            linked = self._link_new(session, new, known, new.entry_url)
            return Stored(known, created=False, revised=False, duplicate_of=None, linked=linked)
        values = _item_values(draft) | {"fetched_at": new.now}
        item_id = conn.execute(stmts.item, values).scalar()
        if item_id is None:  # another worker stored the same URL a moment ago
            item_id = conn.execute(stmts.item_by_url, {"url": draft.canonical_url}).scalar()
            if item_id is None:
                raise StorageError(
                    f"item {draft.canonical_url} was neither inserted nor found; "
                    "was it deleted by another process meanwhile?"
                )
            linked = self._link_new(session, new, item_id, new.entry_url)
            return Stored(item_id, created=False, revised=False, duplicate_of=None, linked=linked)
        if self.search_upkeep:
            sort_at = values["published_at"] or new.now
            later.index.append(
                (item_id, values["title"], values["text"], values["author"], sort_at)
            )
        placement = dedup.place(session, draft.sketch, self.policy)
        dedup.assign(session, item_id, placement)
        dedup.save_sketch(session, item_id, draft.sketch, self.policy)
        if draft.raw_html is not None:
            later.pages.append(
                {
                    "item_id": item_id,
                    "html_z": draft.raw_html,
                    "charset": draft.page_charset,
                    "fetched_at": new.now,
                }
            )
        self._link_new(session, new, item_id, new.entry_url)
        replace_matches(session, item_id, new.watchlists, new.matches, new.now, fresh=True)
        if new.retry is not None:
            add_retry(session, item_id, new.feed_id, new.retry, new.now)
        return Stored(item_id, created=True, revised=False, duplicate_of=placement.duplicate_of)

    def _revisit(self, session: Session, new: NewItem) -> Stored | None:
        """An entry the feed re-dated was fetched again: revise the item it led to.

        When the entry was linked to that item as an exact copy under another URL
        and its page now says something else, the entry is no longer a copy: its
        link to the item is dropped and None tells the caller to store it as an
        item of its own.  An article moved to a new URL (the entry once pointed
        at the item's own URL) keeps its item, which takes the new URL if no
        other item has it."""
        draft = new.draft
        target = session.get(Item, new.revisit_of)
        if target is None:
            return None
        key = new.entry_key or entry_key(draft.guid, new.entry_url)
        this_entry = (FeedItem.feed_id == new.feed_id, FeedItem.entry_key == key)
        linked_as = session.scalar(select(FeedItem.entry_url).where(*this_entry))
        if target.canonical_url not in (draft.canonical_url, new.entry_url, linked_as):
            session.execute(delete(FeedItem).where(*this_entry))
            return None
        revised = dedup.revise(session, target.id, draft, new.now, self.policy)
        if draft.canonical_url != target.canonical_url:
            taken = session.scalar(select(Item.id).where(Item.canonical_url == draft.canonical_url))
            if taken is None:
                target.canonical_url, target.url = draft.canonical_url, draft.url
        if revised and self.search_upkeep:
            reindex(session, [target.id])
        if revised:  # watch matches are re-evaluated on the new text
            replace_matches(
                session, target.id, new.watchlists, new.matches, new.now, target.revision
            )
        self._link_new(session, new, target.id, new.entry_url)
        return Stored(target.id, created=False, revised=revised, duplicate_of=None)

    def _statements(self, session: Session) -> _Statements:
        dialect = session.get_bind().dialect.name
        if dialect not in self._cache:
            self._cache[dialect] = _Statements(
                item=insert_ignore(session, Item).returning(Item.id),
                item_by_url=select(Item.id).where(Item.canonical_url == bindparam("url")),
                page=insert(ItemPage),
                link=insert_ignore(session, FeedItem).returning(FeedItem.item_id),
            )
        return self._cache[dialect]

    def link(
        self,
        feed_id: int,
        item_id: int,
        guid: str | None,
        entry_url: str | None,
        now: datetime,
        entry_updated: datetime | None = None,
        title: str | None = None,
        key: str | None = None,
    ) -> bool:
        """Record that ``feed_id`` carried an already stored item through this entry;
        False if the entry was recorded already, or the item is gone (pruned)."""
        with self._sessions.begin() as session:
            if session.scalar(select(Item.id).where(Item.id == item_id)) is None:
                return False
            return self._link(
                session, feed_id, item_id, guid, entry_url, now, entry_updated, title, key
            )

    def _link_new(self, session: Session, new: NewItem, item_id: int, url: str | None) -> bool:
        return self._link(
            session,
            new.feed_id,
            item_id,
            new.draft.guid,
            url,
            new.now,
            new.draft.entry_updated,
            new.entry_title,
            new.entry_key,
        )

    def _link(
        self,
        session: Session,
        feed_id: int,
        item_id: int,
        guid: str | None,
        entry_url: str | None,
        now: datetime,
        entry_updated: datetime | None = None,
        title: str | None = None,
        key: str | None = None,
    ) -> bool:
        conn = session.connection()
        key = key or entry_key(guid, entry_url)
        inserted = conn.execute(
            self._statements(session).link,
            {
                "feed_id": feed_id,
                "item_id": item_id,
                "entry_key": key,
                "guid": guid,
                "entry_url": entry_url,
                "title": title,
                "first_seen_at": now,
                "entry_updated": entry_updated,
            },
        ).scalar()
        if inserted is None and entry_updated is not None:
            conn.execute(
                update(FeedItem)
                .where(FeedItem.feed_id == feed_id, FeedItem.entry_key == key)
                .values(entry_updated=entry_updated)
            )
        return inserted is not None

    # -- re-extraction ------------------------------------------------------------

    def pages(
        self, ids: Sequence[int] | None = None, not_version: str | None = None, batch: int = 200
    ) -> Iterator[StoredPage]:
        """Stored pages to re-extract: the given ids, or those whose version differs."""
        last_id = 0
        while True:
            query = (
                select(
                    ItemPage.item_id,
                    Item.url,
                    ItemPage.html_z,
                    ItemPage.charset,
                    Item.extractor_version,
                )
                .join(Item, Item.id == ItemPage.item_id)
                .where(ItemPage.item_id > last_id)
                .order_by(ItemPage.item_id)
                .limit(batch)
            )
            if ids is not None:
                query = query.where(ItemPage.item_id.in_(ids))
            if not_version is not None:
                query = query.where(Item.extractor_version != not_version)
            with self._sessions() as session:
                rows = [StoredPage(*row) for row in session.execute(query)]
            if not rows:
                return
            yield from rows
            last_id = rows[-1].item_id

    def count_pages(self, not_version: str | None = None) -> int:
        query = select(func.count()).select_from(ItemPage).join(Item, Item.id == ItemPage.item_id)
        if not_version is not None:
            query = query.where(Item.extractor_version != not_version)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def upgrade_page(
        self,
        item_id: int,
        draft: ItemDraft,
        watchlists: Sequence[str],
        matches: Sequence[Match],
        now: datetime,
    ) -> bool:
        """The page of an item stored with its feed's text has arrived: take the page's
        text and metadata (with their field sources), keep the page, place the item
        among near-duplicates and evaluate the watchlists again, and end the retry;
        all in one transaction.  False when the item is gone (pruned meanwhile)."""
        values = _item_values(draft)
        for key in ("url", "canonical_url", "guid"):
            values.pop(key)
        with self._sessions.begin() as session:
            dedup.serialise_writers(session)
            item = session.get(Item, item_id)
            session.execute(delete(PageRetry).where(PageRetry.item_id == item_id))
            if item is None:
                return False
            if draft.canonical_url != item.canonical_url:
                taken = session.scalar(
                    select(Item.id).where(Item.canonical_url == draft.canonical_url)
                )
                if taken is None:  # the page redirected: the article's own URL is the key
                    values |= {"url": draft.url, "canonical_url": draft.canonical_url}
            session.execute(update(Item).where(Item.id == item_id).values(**values))
            if draft.raw_html is not None:
                session.execute(delete(ItemPage).where(ItemPage.item_id == item_id))
                session.execute(
                    insert(ItemPage).values(
                        item_id=item_id,
                        html_z=draft.raw_html,
                        charset=draft.page_charset,
                        fetched_at=now,
                    )
                )
            dedup.save_sketch(session, item_id, draft.sketch, self.policy, replace=True)
            if item.cluster_id in (None, item_id):
                members = session.scalar(
                    select(func.count()).where(Item.cluster_id == item_id, Item.id != item_id)
                )
                if not members:
                    dedup.assign(
                        session, item_id, dedup.place(session, draft.sketch, self.policy, item_id)
                    )
            replace_matches(session, item_id, watchlists, matches, now, item.revision)
            if self.search_upkeep:
                reindex(session, [item_id])
            return True

    def update_extraction(self, item_id: int, draft: ItemDraft) -> bool:
        """Replace an item's extracted fields; False when nothing changed."""
        values = _item_values(draft)
        for key in ("url", "canonical_url", "guid", "fetch_status", "fetch_error"):
            values.pop(key)
        with self._sessions.begin() as session:
            item = session.get_one(Item, item_id)
            current = {k: getattr(item, k) for k in values}
            if current == values:
                return False
            session.execute(update(Item).where(Item.id == item_id).values(**values))
            if self.search_upkeep:
                reindex(session, [item_id])
            return True
