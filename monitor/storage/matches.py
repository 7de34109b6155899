"""Watch matches: stored per item and watchlist, replaced when an item is re-evaluated."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage._sql import chunks
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


def _record(row: WatchMatch) -> Match:
    return Match(
        watchlist=row.watchlist,
        rule_index=row.rule_index,
        rule=row.rule,
        field=row.field,
        matched=row.matched,
        start=row.start,
        end=row.end,
        snippet=row.snippet,
        fuzzy=row.fuzzy,
        value_index=row.value_index,
    )


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
