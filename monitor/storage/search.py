"""Full-text search over every stored item, in the watchlists' query language.

The index holds each item's *folded* title, text and author words
(:mod:`monitor.watch.fts`): SQLite's FTS5 table ``item_fts``, PostgreSQL's
``item_search`` tsvectors.  It is written in the item's own transaction by
:mod:`monitor.storage.items` (:func:`index_many`, :func:`reindex`) and loses an
item's row with the item (a trigger on SQLite, the foreign key on PostgreSQL),
so index and items never disagree.

A search runs in two steps: the engine returns candidates (a superset of the
hits: see :func:`monitor.watch.fts.candidates`), newest first, and each is
confirmed with the real :class:`~monitor.watch.matcher.Matcher` on the item's
title, text, author and feeds, which also gives the hits and the snippet.  A
search and a watchlist rule of the same text therefore find the same items.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    and_,
    bindparam,
    cast,
    column,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage.item_queries import ItemQueries, StoredItem
from monitor.storage.schema import (
    SEARCH_FTS_SORT_TABLE,
    SEARCH_FTS_TABLE,
    SEARCH_PG_TABLE,
    Feed,
    FeedItem,
    Item,
    UTCDateTime,
)
from monitor.watch import fts
from monitor.watch.matcher import Document, Match, Matcher, Rule
from monitor.watch.query import Field, Phrase, Term, parse_rule, to_query

__all__ = ["SearchHit", "SearchPage", "SearchRepository", "index_many", "reindex"]

SNIPPET_WIDTH: Final = 160
_MAX_BATCH: Final = 2000
_SPACE: Final = re.compile(r"\s+")
_FIELD_ORDER: Final = {"text": 0, "title": 1, "author": 2, "feed": 3}


@dataclass(frozen=True, slots=True)
class SearchHit:
    item: StoredItem  # with its feeds
    snippet: str  # the best ~160 characters, plain
    spans: tuple[tuple[int, int], ...]  # the hits inside ``snippet``, to highlight
    hits: int  # how many hits in the item


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[SearchHit]
    next_cursor: str | None  # opaque; None on the last page


# --- index upkeep (called inside the item's transaction) ------------------------------

_FTS_INSERT: Final = text(
    f"INSERT INTO {SEARCH_FTS_TABLE} (rowid, title, text, author) "
    "VALUES (:id, :title, :text, :author)"
)
_FTS_DELETE: Final = text(f"DELETE FROM {SEARCH_FTS_TABLE} WHERE rowid = :id")
_FTS_SORT_UPSERT: Final = text(
    f"INSERT OR REPLACE INTO {SEARCH_FTS_SORT_TABLE} (item_id, sort_at) VALUES (:id, :sort_at)"
).bindparams(bindparam("sort_at", type_=UTCDateTime()))
_PG_UPSERT: Final = text(
    f"INSERT INTO {SEARCH_PG_TABLE} (item_id, sort_at, doc) "
    "VALUES (:id, :sort_at, CAST(:doc AS tsvector)) "
    "ON CONFLICT (item_id) DO UPDATE SET doc = excluded.doc, sort_at = excluded.sort_at"
)

#: What is indexed of one item: id, title, text, author, and its time (published, else
#: fetched: kept beside the index, to order the hits without reading items).
Indexed = tuple[int, str | None, str | None, str | None, datetime]


def _rows(values: Sequence[Indexed], dialect: str) -> Any:
    if dialect == "sqlite":
        return [
            {
                "id": item_id,
                "title": fts.fts5_text(title),
                "text": fts.fts5_text(body),
                "author": fts.fts5_text(author),
            }
            for item_id, title, body, author, _ in values
        ]
    return [
        {"id": item_id, "sort_at": when, "doc": fts.tsvector_literal(title, body, author)}
        for item_id, title, body, author, when in values
    ]


def index_many(session: Session, values: Sequence[Indexed]) -> None:
    """Index items just inserted (in their transaction), in one statement."""
    if not values:
        return
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    if dialect == "sqlite":
        conn.execute(_FTS_INSERT, _rows(values, dialect))
        conn.execute(_FTS_SORT_UPSERT, _sort_rows(values))
    else:
        conn.execute(_PG_UPSERT, _rows(values, dialect))


def _sort_rows(values: Sequence[Indexed]) -> list[dict[str, Any]]:
    return [{"id": value[0], "sort_at": value[4]} for value in values]


def reindex(session: Session, ids: Sequence[int]) -> None:
    """Index items again from their stored fields (a revision, a re-extraction, a late page)."""
    if not ids:
        return
    session.flush()
    conn = session.connection()
    dialect = conn.dialect.name
    columns = (Item.id, Item.title, Item.text, Item.author, Item.published_at, Item.fetched_at)
    rows = conn.execute(select(*columns).where(Item.id.in_(list(ids)))).all()
    values = [(r[0], r[1], r[2], r[3], r[4] or r[5]) for r in rows]
    if dialect == "sqlite":
        conn.execute(_FTS_DELETE, [{"id": i} for i in ids])
        if values:
            conn.execute(_FTS_INSERT, _rows(values, dialect))
            conn.execute(_FTS_SORT_UPSERT, _sort_rows(values))
    elif values:
        conn.execute(_PG_UPSERT, _rows(values, dialect))


# --- cursors ---------------------------------------------------------------------------


def _sort_key(item: StoredItem) -> tuple[datetime, int]:
    return (item.published_at or item.fetched_at, item.id)


def encode_cursor(key: tuple[datetime, int]) -> str:
    raw = json.dumps({"t": key[0].astimezone(UTC).isoformat(), "i": key[1]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position a cursor names; ``ValueError`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        when = datetime.fromisoformat(data["t"])
        item_id = data["i"]
        if when.tzinfo is None or not isinstance(item_id, int) or isinstance(item_id, bool):
            raise TypeError("bad fields")
        return when, item_id
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(
            f"bad cursor {cursor[:40]!r}: pass the next_cursor of the previous page unchanged"
        ) from exc


# --- snippets --------------------------------------------------------------------------


def _field_value(item: StoredItem, match: Match) -> str:
    if match.field == "feed":
        return item.feeds[match.value_index]
    return getattr(item, match.field) or ""


def best_snippet(
    item: StoredItem, matches: Sequence[Match], width: int = SNIPPET_WIDTH
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """About ``width`` characters around the hit with most others near it (the text first,
    then the title, author, feed), whitespace collapsed, and where the hits are in it."""
    field = min(matches, key=lambda m: _FIELD_ORDER[m.field])
    same = [m for m in matches if (m.field, m.value_index) == (field.field, field.value_index)]
    value = _field_value(item, field)

    def near(m: Match) -> int:
        return sum(1 for o in same if o.start >= m.start and o.end <= m.start + width)

    anchor = max(same, key=lambda m: (near(m), -m.start))
    room = max(0, width - (anchor.end - anchor.start)) // 4  # a little context before
    lo = max(0, anchor.start - room)
    hi = min(len(value), max(anchor.end, lo + width))
    if lo > 0 and (space := value.find(" ", lo, anchor.start)) >= 0:
        lo = space + 1
    if hi < len(value) and (space := value.rfind(" ", anchor.end, hi)) >= 0:
        hi = space
    inside = sorted({(m.start, m.end) for m in same if m.start >= lo and m.end <= hi})
    out, spans, pos = ["…" if lo > 0 else ""], [], lo
    length = len(out[0])
    for start, end in inside:
        if start < pos:
            continue  # overlaps the previous hit
        gap = _SPACE.sub(" ", value[pos:start])
        if length == len(out[0]):
            gap = gap.lstrip()
        hit = _SPACE.sub(" ", value[start:end])
        out += [gap, hit]
        spans.append((length + len(gap), length + len(gap) + len(hit)))
        length += len(gap) + len(hit)
        pos = end
    out.append(_SPACE.sub(" ", value[pos:hi]).rstrip())
    out.append("…" if hi < len(value) else "")
    return "".join(out), tuple(spans)


# --- the repository --------------------------------------------------------------------


class SearchRepository(ItemQueries):
    """``search`` and ``rebuild``; see the module docstring."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def search(
        self,
        query: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        feed: str | None = None,
        language: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> SearchPage:
        """Items matching ``query`` (the watchlists' language: a plain query is a phrase),
        newest first (published, else fetched; then by id), ``limit`` a page.

        Raises :class:`~monitor.watch.query.QueryError` for a bad query and
        ``ValueError`` for a bad cursor or limit."""
        node = parse_rule(query)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        after = decode_cursor(cursor) if cursor else None
        matcher = Matcher([Rule("search", 0, query)])
        hits: list[tuple[SearchHit, tuple[datetime, int]]] = []
        with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            base, item_id, sort, checked = self._candidates(
                session, fts.candidates(node, dialect), dialect, feed, language
            )
            if since is not None:
                base = base.where(sort >= since)
            if until is not None:
                base = base.where(sort < until)
            batch = min(_MAX_BATCH, limit + 1)
            while len(hits) <= limit:
                page = base.order_by(sort.desc(), item_id.desc()).limit(batch)
                if after is not None:
                    page = page.where(
                        or_(sort < after[0], and_(sort == after[0], item_id < after[1]))
                    )
                if checked:
                    page = self._checked(page, checked)
                rows = session.execute(page).all()
                ids = [row[0] for row in rows if not checked or row[2]]
                done = 0
                while done < len(ids) and len(hits) <= limit:  # no more than the page needs
                    step = max(8, limit + 1 - len(hits))
                    hits += self._confirm(session, matcher, ids[done : done + step])
                    done += step
                if len(rows) < batch or len(hits) > limit:
                    break
                after = (rows[-1][1], rows[-1][0])
                batch = min(_MAX_BATCH, batch * 2)
        more = len(hits) > limit
        shown = hits[:limit]
        return SearchPage(
            [hit for hit, _ in shown], encode_cursor(shown[-1][1]) if more and shown else None
        )

    @staticmethod
    def _checked(page: Select[Any], check: str) -> Select[Any]:
        """The batch's (id, time, check) rows: the check (a phrase tsquery, which reads
        each tsvector again) computed on the batch only, outside its LIMIT: in the same
        SELECT, PostgreSQL computes it for every candidate before the sort."""
        batch = page.subquery()
        flag = batch.c.doc.op("@@")(cast(literal(f"({check}) | '{fts.LONG}'"), TSQUERY))
        query: Select[Any] = select(batch.c.item_id, batch.c.sort_at, flag)
        return query.order_by(batch.c.sort_at.desc(), batch.c.item_id.desc())

    def _candidates(
        self,
        session: Session,
        part: fts.Candidates,
        dialect: str,
        feed: str | None,
        language: str | None,
    ) -> tuple[Select[Any], ColumnElement[int], ColumnElement[datetime], str | None]:
        """The candidates' (id, time[, doc]) query, its id and time columns, and the
        check of each batch's candidates (:meth:`_checked`; then it selects ``doc``).

        When the engine query is the whole tree or one of its AND-ed parts, the
        query orders by the time kept beside the index (``item_search.sort_at``,
        ``item_fts_sort.sort_at``) without reading ``items``: joined to it, the
        engine read every candidate's item row to sort them.  On PostgreSQL a
        phrase or NEAR is then checked by positions (``Fts.check``) only on the
        page's candidates, newest first: checked on all of them by the GIN index,
        every item with the words would have its tsvector read."""
        languages = [language] if language else []
        driver = part if isinstance(part, fts.Fts) else None
        rest: list[fts.Candidates] = []
        if isinstance(part, fts.AllOf):
            driver = next((p for p in part.parts if isinstance(p, fts.Fts)), None)
            rest = [p for p in part.parts if p is not driver]
        if dialect != "postgresql" or driver is None:
            sort: ColumnElement[datetime] = func.coalesce(Item.published_at, Item.fetched_at)
            query: Select[Any] = select(Item.id, sort)  # type: ignore[assignment]
            query = query.where(self._condition(session, part, dialect))
            return self._filter(query, feed, None, languages), Item.__table__.c.id, sort, None
        if dialect == "sqlite":
            return self._sqlite_driven(session, driver, rest, feed, languages)
        index = table(
            SEARCH_PG_TABLE,
            column("item_id", Integer),
            column("sort_at", DateTime(timezone=True)),
            column("doc"),
        )
        item_id: ColumnElement[int] = index.c.item_id
        sort_at: ColumnElement[datetime] = index.c.sort_at
        doc: ColumnElement[Any] = index.c.doc
        columns = (item_id, sort_at, doc) if driver.check else (item_id, sort_at)
        query = select(*columns)
        query = query.where(doc.op("@@")(cast(literal(driver.query), TSQUERY)))
        for other in rest:
            condition = self._condition(session, other, dialect)
            query = query.where(item_id.in_(select(Item.id).where(condition)))
        if feed or languages:
            query = query.where(item_id.in_(self._filter(select(Item.id), feed, None, languages)))
        return query, item_id, sort_at, driver.check

    def _sqlite_driven(
        self,
        session: Session,
        driver: fts.Fts,
        rest: list[fts.Candidates],
        feed: str | None,
        languages: list[str],
    ) -> tuple[Select[Any], ColumnElement[int], ColumnElement[datetime], None]:
        """The FTS5 candidates ordered by ``item_fts_sort`` (see :meth:`_candidates`)."""
        index = table(
            SEARCH_FTS_SORT_TABLE,
            column("item_id", Integer),
            column("sort_at", UTCDateTime()),
        )
        item_id: ColumnElement[int] = index.c.item_id
        sort_at: ColumnElement[datetime] = index.c.sort_at
        query: Select[Any] = select(item_id, sort_at)  # type: ignore[assignment]
        query = query.where(item_id.in_(self._engine_ids(driver.query, "sqlite")))
        for other in rest:
            condition = self._condition(session, other, "sqlite")
            query = query.where(item_id.in_(select(Item.id).where(condition)))
        if feed or languages:
            query = query.where(item_id.in_(self._filter(select(Item.id), feed, None, languages)))
        return query, item_id, sort_at, None

    def _confirm(
        self, session: Session, matcher: Matcher, ids: list[int]
    ) -> list[tuple[SearchHit, tuple[datetime, int]]]:
        if not ids:
            return []
        rows = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(ids)))}
        info = self._feed_info(session, ids)
        found = []
        for item_id in ids:
            if item_id not in rows:
                continue
            item = self._stored(rows[item_id], info[item_id])
            document = Document(item.title or "", item.text or "", item.author or "", item.feeds)
            matches = matcher.match(document)
            if matches:
                snippet, spans = best_snippet(item, matches)
                found.append((SearchHit(item, snippet, spans, len(matches)), _sort_key(item)))
        return found

    def _condition(
        self, session: Session, part: fts.Candidates, dialect: str
    ) -> ColumnElement[bool]:
        """The SQL condition on ``items`` for a candidate tree."""
        match part:
            case fts.Fts(query):
                return Item.id.in_(self._engine_ids(query, dialect))
            case fts.FeedHas(leaf):
                ids = self._feeds_matching(session, leaf)
                if not ids:
                    return false()
                return Item.id.in_(select(FeedItem.item_id).where(FeedItem.feed_id.in_(ids)))
            case fts.AllOf(parts):
                return and_(*(self._condition(session, p, dialect) for p in parts))
            case fts.AnyOf(parts):
                return or_(*(self._condition(session, p, dialect) for p in parts))
            case fts.NoneOf(inner):
                return not_(self._condition(session, inner, dialect))
        return true()

    @staticmethod
    def _engine_ids(query: str, dialect: str) -> Any:
        if dialect == "sqlite":
            index = table(SEARCH_FTS_TABLE)
            return (
                select(literal_column("rowid"))
                .select_from(index)
                .where(literal_column(SEARCH_FTS_TABLE).op("MATCH")(query))
            )
        index = table(SEARCH_PG_TABLE)
        doc: ColumnElement[Any] = literal_column("doc")
        return (
            select(literal_column("item_id"))
            .select_from(index)
            .where(doc.op("@@")(cast(literal(query), TSQUERY)))
        )

    @staticmethod
    def _feeds_matching(session: Session, leaf: Term | Phrase) -> list[int]:
        """The feeds whose name has this term or phrase, by the matcher itself."""
        matcher = Matcher([Rule("feed", 0, to_query(Field("feed", leaf)))])
        return [
            feed_id
            for feed_id, name in session.execute(select(Feed.id, Feed.name))
            if matcher.match(Document("", "", "", (name,)))
        ]

    def rebuild(self) -> int:
        """Index every item again (after a change of folding, or to repair); returns the
        number of items indexed.  Batch by batch, each its own transaction, so searches
        keep working meanwhile; rows of items that are gone are dropped at the end."""
        last, total = 0, 0
        while True:
            with self._sessions.begin() as session:
                ids = list(
                    session.scalars(
                        select(Item.id).where(Item.id > last).order_by(Item.id).limit(500)
                    )
                )
                if not ids:
                    break
                reindex(session, ids)
            total += len(ids)
            last = ids[-1]
        with self._sessions.begin() as session:
            if session.get_bind().dialect.name == "sqlite":
                orphans = (
                    f"DELETE FROM {SEARCH_FTS_TABLE} WHERE rowid NOT IN (SELECT id FROM items)"
                )
                session.execute(
                    text(
                        f"DELETE FROM {SEARCH_FTS_SORT_TABLE} "
                        "WHERE item_id NOT IN (SELECT id FROM items)"
                    )
                )
            else:
                orphans = (
                    f"DELETE FROM {SEARCH_PG_TABLE} WHERE item_id NOT IN (SELECT id FROM items)"
                )
            session.execute(text(orphans))
        return total
