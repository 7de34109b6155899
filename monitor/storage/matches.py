"""Watch matches: stored per item and watchlist, replaced when an item is re-evaluated.

Read one row per hit (:meth:`MatchRepository.hits`, ``list``) or one row per item and
watchlist (:meth:`MatchRepository.summaries`, in :mod:`monitor.storage.match_summaries`)."""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage._sql import chunks
from monitor.storage.match_summaries import SummaryPage, per_day, summaries
from monitor.storage.match_summaries import _record as _record
from monitor.storage.schema import Item, WatchMatch
from monitor.watch.matcher import Match


def match_as_dict(match: Match) -> dict[str, Any]:
    """A match as exported (JSON lines) and shown."""
    return {
        "watchlist": match.watchlist,
        "rule": match.rule,
        "rule_index": match.rule_index,
        "field": match.field,
        "matched": match.matched,
        "start": match.start,
        "end": match.end,
        "snippet": match.snippet,
        "fuzzy": match.fuzzy,
    }


@dataclass(frozen=True, slots=True)
class StoredMatch:
    item_id: int
    item_title: str | None
    item_url: str
    matched_at: datetime
    record: Match


def _key(record: Match) -> tuple[str, int, str, int, int]:
    return (record.watchlist, record.rule_index, record.field, record.value_index, record.start)


def _row(item_id: int, record: Match, revision: int, now: datetime) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "watchlist": record.watchlist,
        "rule_index": record.rule_index,
        "rule": record.rule,
        "field": record.field,
        "value_index": record.value_index,
        "matched": record.matched,
        "start": record.start,
        "end": record.end,
        "snippet": record.snippet,
        "fuzzy": record.fuzzy,
        "revision": revision,
        "matched_at": now,
    }


def replace_matches(
    session: Session,
    item_id: int,
    watchlists: Iterable[str],
    records: Sequence[Match],
    now: datetime,
    revision: int = 1,
    *,
    fresh: bool = False,
) -> int:
    """Make ``item_id``'s matches for ``watchlists`` exactly ``records`` (in ``session``).

    A stored hit that is found again unchanged keeps its row, so ``matched_at``
    and ``revision`` say when it was *first* found: re-evaluating an item (a
    revision, a backfill, another feed carrying it) never makes an old hit look
    new.  ``fresh`` says the item was stored in this transaction and has no
    matches yet (the ingest hot path), which saves looking.  Returns how many
    hits are new."""
    names = sorted(set(watchlists))
    if not names:
        return 0
    wanted = {_key(r): r for r in records if r.watchlist in names}
    if not fresh:
        stale = []
        for row in session.scalars(
            select(WatchMatch).where(WatchMatch.item_id == item_id, WatchMatch.watchlist.in_(names))
        ):
            stored = _record(row)
            if wanted.get(_key(stored)) == stored:
                del wanted[_key(stored)]
            else:
                stale.append(row.id)
        for chunk in chunks(stale):
            session.execute(delete(WatchMatch).where(WatchMatch.id.in_(chunk)))
    if wanted:
        session.execute(
            insert(WatchMatch), [_row(item_id, r, revision, now) for r in wanted.values()]
        )
    return len(wanted)


class MatchRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def replace(
        self,
        item_id: int,
        watchlists: Iterable[str],
        records: Sequence[Match],
        now: datetime,
    ) -> int:
        """:func:`replace_matches` in a transaction of its own; returns how many hits are new."""
        with self._sessions.begin() as session:
            revision = session.scalar(select(Item.revision).where(Item.id == item_id)) or 1
            return replace_matches(session, item_id, watchlists, records, now, revision)

    def replace_many(
        self, entries: Sequence[tuple[int, Sequence[str], Sequence[Match]]], now: datetime
    ) -> None:
        """:meth:`replace` for many items (item id, watchlists evaluated, matches) at once."""
        with self._sessions.begin() as session:
            ids = [item_id for item_id, _, _ in entries]
            revisions = {
                row[0]: row[1]
                for row in session.execute(select(Item.id, Item.revision).where(Item.id.in_(ids)))
            }
            for item_id, watchlists, records in entries:
                replace_matches(
                    session, item_id, watchlists, records, now, revisions.get(item_id, 1)
                )

    def for_items(self, item_ids: Sequence[int]) -> dict[int, list[Match]]:
        found: defaultdict[int, list[Match]] = defaultdict(list)
        with self._sessions() as session:
            for chunk in chunks(item_ids):
                rows = session.scalars(
                    select(WatchMatch)
                    .where(WatchMatch.item_id.in_(chunk))
                    .order_by(WatchMatch.item_id, WatchMatch.watchlist, WatchMatch.start)
                )
                for row in rows:
                    found[row.item_id].append(_record(row))
        return dict(found)

    def list(
        self,
        watchlist: str | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
    ) -> list[StoredMatch]:
        """Matches, newest first."""
        query = (
            select(WatchMatch, Item.title, Item.url)
            .join(Item, Item.id == WatchMatch.item_id)
            .order_by(WatchMatch.matched_at.desc(), WatchMatch.item_id.desc(), WatchMatch.start)
        )
        if watchlist:
            query = query.where(WatchMatch.watchlist == watchlist)
        if since:
            query = query.where(WatchMatch.matched_at >= since)
        if limit:
            query = query.limit(limit)
        with self._sessions() as session:
            return [
                StoredMatch(row.item_id, title, url, row.matched_at, _record(row))
                for row, title, url in session.execute(query)
            ]

    def counts(self) -> dict[str, int]:
        """Matched items per watchlist."""
        with self._sessions() as session:
            rows = session.execute(
                select(
                    WatchMatch.watchlist, func.count(func.distinct(WatchMatch.item_id))
                ).group_by(WatchMatch.watchlist)
            )
            return {name: int(count) for name, count in rows}

    def summaries(
        self,
        watchlist: str | None = None,
        *,
        feed: str | None = None,
        tag: str | None = None,
        language: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        review: str = "all",
        limit: int = 50,
        cursor: str | None = None,
    ) -> SummaryPage:
        """One row per item and watchlist, the newest first match first.

        ``feed``: carried by that feed; ``tag``: by a feed with that tag;
        ``language``: ISO code (``ar`` takes ``ar-SA``; ``none``: unknown);
        ``since``/``until``: the first match time, ``[since, until)``;
        ``review``: ``all``, ``open``, ``reviewed`` or ``dismissed``;
        ``cursor``: a previous page's ``next_cursor``.  ValueError on a bad
        cursor, review filter or limit (1 to 1000)."""
        with self._sessions() as session:
            return summaries(
                session,
                watchlist,
                feed=feed,
                tag=tag,
                language=language,
                since=since,
                until=until,
                review=review,
                limit=limit,
                cursor=cursor,
            )

    def hits(self, item_id: int, watchlist: str | None = None) -> builtins.list[Match]:
        """Every single hit of one item (in one watchlist), by watchlist, rule, field and
        position."""
        query = select(WatchMatch).where(WatchMatch.item_id == item_id)
        if watchlist is not None:
            query = query.where(WatchMatch.watchlist == watchlist)
        query = query.order_by(
            WatchMatch.watchlist,
            WatchMatch.rule_index,
            WatchMatch.field,
            WatchMatch.value_index,
            WatchMatch.start,
        )
        with self._sessions() as session:
            return [_record(row) for row in session.scalars(query)]

    def stored_hits(self, keys: Sequence[tuple[int, str]]) -> builtins.list[StoredMatch]:
        """Every hit of the (item id, watchlist) pairs ``keys``, in the order of ``keys``
        (a summary page's), then by rule, field and position: ``matches list --hits``."""
        wanted = {key: n for n, key in enumerate(dict.fromkeys(keys))}
        found: builtins.list[tuple[int, StoredMatch]] = []
        ids = sorted({item_id for item_id, _ in wanted})
        names = sorted({name for _, name in wanted})
        with self._sessions() as session:
            for chunk in chunks(ids):
                rows = session.execute(
                    select(WatchMatch, Item.title, Item.url)
                    .join(Item, Item.id == WatchMatch.item_id)
                    .where(WatchMatch.item_id.in_(chunk), WatchMatch.watchlist.in_(names))
                    .order_by(
                        WatchMatch.rule_index,
                        WatchMatch.field,
                        WatchMatch.value_index,
                        WatchMatch.start,
                    )
                )
                for row, title, url in rows:
                    position = wanted.get((row.item_id, row.watchlist))
                    if position is not None:
                        stored = StoredMatch(row.item_id, title, url, row.matched_at, _record(row))
                        found.append((position, stored))
        found.sort(key=lambda pair: pair[0])  # stable: rule order kept within a pair
        return [stored for _, stored in found]

    def per_day(
        self, watchlist: str | None = None, days: int = 14, zone: str = "UTC"
    ) -> dict[str, dict[date, int]]:
        """Items matched per watchlist per local day (each item counted on the day of its
        first match), the last ``days`` days in ``zone``, every day present.  Only
        watchlists with matches appear, except ``watchlist`` when named."""
        with self._sessions() as session:
            return per_day(session, watchlist, days, zone)
