"""Backfill: apply a new or changed watchlist to the items already stored.

The watch stage is run over stored items (oldest first, in batches) with only
the named watchlist; its matches for each item are replaced by what the
current rules find, so a rule removed from the watchlist also stops matching.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.config import Settings
from monitor.storage import Store
from monitor.watch.matcher import Match
from monitor.watch.stage import WatchStage, feed_tags

BATCH = 200


@dataclass(frozen=True, slots=True)
class BackfillReport:
    items: int
    matched_items: int
    matches: int


def backfill(
    settings: Settings,
    store: Store,
    watchlist: str,
    since: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> BackfillReport:
    """Match ``watchlist`` against stored items (those published since ``since``)."""
    stage = WatchStage(settings.watchlists).only(watchlist)
    if not stage.names:
        raise ValueError(f"no watchlist named {watchlist!r}")
    items = matched_items = total = 0
    pending: list[tuple[int, tuple[str, ...], tuple[Match, ...]]] = []
    now = datetime.now(UTC)
    for item in store.items.iter_all(since=since):
        tags = tuple(dict.fromkeys([*item.feed_tags, *feed_tags(settings.feeds, item.feeds)]))
        matches, evaluated = stage.match(
            title=item.title, text=item.text, author=item.author, feeds=item.feeds, tags=tags
        )
        # Out of scope now: its old matches for this watchlist go too.
        pending.append((item.id, evaluated or stage.names, matches))
        items += 1
        matched_items += bool(matches)
        total += len(matches)
        if len(pending) >= BATCH:
            store.matches.replace_many(pending, now)
            pending.clear()
        if progress:
            progress(1)
    if pending:
        store.matches.replace_many(pending, now)
    return BackfillReport(items, matched_items, total)
