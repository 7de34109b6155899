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


def replace_matches(
    session: Session,
    item_id: int,
    watchlists: Iterable[str],
    records: Sequence[Match],
    now: datetime,
    revision: int = 1,
) -> None:
    """Make ``item_id``'s matches for ``watchlists`` exactly ``records`` (in ``session``)."""
    names = sorted(set(watchlists))
    if not names:
        return
    session.execute(
        delete(WatchMatch).where(WatchMatch.item_id == item_id, WatchMatch.watchlist.in_(names))
    )
    rows = {
        (r.watchlist, r.rule_index, r.field, r.value_index, r.start): r
        for r in records
        if r.watchlist in names
    }
    if rows:
        session.execute(
            insert(WatchMatch),
            [
                {
                    "item_id": item_id,
                    "watchlist": r.watchlist,
                    "rule_index": r.rule_index,
                    "rule": r.rule,
                    "field": r.field,
                    "value_index": r.value_index,
                    "matched": r.matched,
                    "start": r.start,
                    "end": r.end,
                    "snippet": r.snippet,
                    "fuzzy": r.fuzzy,
                    "revision": revision,
                    "matched_at": now,
                }
                for r in rows.values()
            ],
        )


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
    ) -> None:
        with self._sessions.begin() as session:
            revision = session.scalar(select(Item.revision).where(Item.id == item_id)) or 1
            replace_matches(session, item_id, watchlists, records, now, revision)

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
