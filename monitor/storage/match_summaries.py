"""Matches as an analyst reads them: one row per item and watchlist.

``watch_matches`` holds one row per hit (the seed article alone has 22).
A summary groups them in SQL per (item, watchlist) — the first match time and
the number of hits — filters and pages on that (keyset pagination on
``(first match time, item id, watchlist)``, so a row is never shown twice or
skipped while matches arrive), and only for the page's rows reads the hits,
titles, feeds and reviews to build the rules hit and the best snippet.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from monitor.storage._sql import chunks
from monitor.storage.reviews import FILTERS, Review, reviews_for
from monitor.storage.schema import Feed, FeedItem, Item, MatchReview, WatchMatch
from monitor.watch.matcher import Match
from monitor.watch.preview import best_snippet

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class MatchSummary:
    item_id: int
    watchlist: str
    title: str | None
    url: str  # canonical (tracking parameters stripped)
    feeds: tuple[str, ...]  # the feeds (outlets) that carried the item
    language: str | None
    published_at: datetime | None
    matched_at: datetime  # first match of this item for this watchlist
    rules: tuple[str, ...]  # the distinct rules it hit, in rule order
    hits: int
    snippet: str  # the best snippet, plain text
    spans: tuple[tuple[int, int], ...]  # the hits in it: snippet[start:end]
    review: Review | None  # None while open

    @property
    def state(self) -> str:
        return self.review.state if self.review else "open"

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "watchlist": self.watchlist,
            "title": self.title,
            "url": self.url,
            "feeds": list(self.feeds),
            "language": self.language,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "matched_at": self.matched_at.isoformat(),
            "rules": list(self.rules),
            "hits": self.hits,
            "snippet": self.snippet,
            "spans": [list(s) for s in self.spans],
            "state": self.state,
            "review": self.review.as_dict() if self.review else None,
        }


@dataclass(frozen=True, slots=True)
class SummaryPage:
    rows: list[MatchSummary]
    next_cursor: str | None  # opaque; None on the last page


# --- cursors ----------------------------------------------------------------------


def encode_cursor(matched_at: datetime, item_id: int, watchlist: str) -> str:
    raw = json.dumps([matched_at.astimezone(UTC).isoformat(), item_id, watchlist])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int, str]:
    """The position a cursor names; ValueError when it is not one this module made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, item_id, watchlist = json.loads(raw)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(item_id, int) or not isinstance(watchlist, str):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(
            f"bad cursor {cursor[:40]!r}: pass the next_cursor of a previous page"
        ) from exc
    return when, item_id, watchlist


# --- filters ----------------------------------------------------------------------


def _language(code: str) -> ColumnElement[bool]:
    code = code.strip().lower()
    if code == "none":
        return Item.language.is_(None)
    lowered = func.lower(Item.language)
    return or_(lowered == code, lowered.like(f"{code}-%"))


def _tagged_feeds(session: Session, tag: str) -> list[int]:
    """Feed ids with ``tag`` (tags are a JSON list: read in Python, feeds are few)."""
    return [fid for fid, tags in session.execute(select(Feed.id, Feed.tags)) if tag in (tags or ())]


def _grouped(
    session: Session,
    watchlist: str | None,
    feed: str | None,
    tag: str | None,
    language: str | None,
    review: str,
) -> Select[*tuple[Any, ...]]:
    first = func.min(WatchMatch.matched_at)
    query: Select[*tuple[Any, ...]] = select(
        WatchMatch.item_id, WatchMatch.watchlist, first.label("first"), func.count().label("hits")
    ).group_by(WatchMatch.item_id, WatchMatch.watchlist)
    if watchlist is not None:
        query = query.where(WatchMatch.watchlist == watchlist)
    if feed is not None:
        carried = select(FeedItem.item_id).join(Feed, Feed.id == FeedItem.feed_id)
        query = query.where(WatchMatch.item_id.in_(carried.where(Feed.name == feed)))
    if tag is not None:
        ids = _tagged_feeds(session, tag)
        query = query.where(
            WatchMatch.item_id.in_(select(FeedItem.item_id).where(FeedItem.feed_id.in_(ids)))
        )
    if language is not None:
        query = query.where(WatchMatch.item_id.in_(select(Item.id).where(_language(language))))
    if review != "all":
        reviewed = exists().where(
            MatchReview.item_id == WatchMatch.item_id, MatchReview.watchlist == WatchMatch.watchlist
        )
        if review == "open":
            query = query.where(~reviewed)
        else:
            query = query.where(reviewed.where(MatchReview.state == review))
    return query


def summaries(
    session: Session,
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
    """See :meth:`monitor.storage.matches.MatchRepository.summaries`."""
    if review not in FILTERS:
        raise ValueError(f"unknown review filter {review!r}: use one of {', '.join(FILTERS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    query = _grouped(session, watchlist, feed, tag, language, review)
    first = func.min(WatchMatch.matched_at)
    if since is not None:
        query = query.having(first >= since)
    if until is not None:
        query = query.having(first < until)
    if cursor is not None:
        at, item_id, name = decode_cursor(cursor)
        query = query.having(
            or_(
                first < at,
                and_(first == at, WatchMatch.item_id < item_id),
                and_(first == at, WatchMatch.item_id == item_id, WatchMatch.watchlist > name),
            )
        )
    query = query.order_by(first.desc(), WatchMatch.item_id.desc(), WatchMatch.watchlist)
    groups = [(int(i), str(w), f, int(n)) for i, w, f, n in session.execute(query.limit(limit + 1))]
    more = len(groups) > limit
    groups = groups[:limit]
    rows = _build(session, groups)
    last = groups[-1] if groups else None
    next_cursor = encode_cursor(last[2], last[0], last[1]) if more and last else None
    return SummaryPage(rows, next_cursor)


def _build(
    session: Session, groups: Sequence[tuple[int, str, datetime, int]]
) -> list[MatchSummary]:
    """The page's summaries: only now are hits, item text, feeds and reviews read."""
    if not groups:
        return []
    ids = sorted({g[0] for g in groups})
    names = sorted({g[1] for g in groups})
    items: dict[int, Any] = {}
    feeds: defaultdict[int, list[str]] = defaultdict(list)
    found: defaultdict[tuple[int, str], list[Match]] = defaultdict(list)
    for chunk in chunks(ids):
        for row in session.execute(
            select(
                Item.id,
                Item.title,
                Item.canonical_url,
                Item.text,
                Item.author,
                Item.language,
                Item.published_at,
            ).where(Item.id.in_(chunk))
        ):
            items[row.id] = row
        for item_id, name in session.execute(
            select(FeedItem.item_id, Feed.name)
            .join(Feed, Feed.id == FeedItem.feed_id)
            .where(FeedItem.item_id.in_(chunk))
            .order_by(FeedItem.first_seen_at, FeedItem.id)
        ):
            if name not in feeds[item_id]:
                feeds[item_id].append(name)
        for hit in session.scalars(
            select(WatchMatch)
            .where(WatchMatch.item_id.in_(chunk), WatchMatch.watchlist.in_(names))
            .order_by(
                WatchMatch.rule_index, WatchMatch.field, WatchMatch.value_index, WatchMatch.start
            )
        ):
            found[(hit.item_id, hit.watchlist)].append(_record(hit))
    reviews = reviews_for(session, [(g[0], g[1]) for g in groups])
    out = []
    for item_id, name, first, count in groups:
        item = items.get(item_id)
        if item is None:  # pruned between the two reads
            continue
        hits = found[(item_id, name)]
        fields = {"title": item.title or "", "text": item.text or "", "author": item.author or ""}
        snippet, spans = best_snippet(hits, fields)
        rules = tuple(dict.fromkeys(m.rule for m in sorted(hits, key=lambda m: m.rule_index)))
        out.append(
            MatchSummary(
                item_id=item_id,
                watchlist=name,
                title=item.title,
                url=item.canonical_url,
                feeds=tuple(feeds[item_id]),
                language=item.language,
                published_at=item.published_at,
                matched_at=first,
                rules=rules,
                hits=count,
                snippet=snippet,
                spans=spans,
                review=reviews.get((item_id, name)),
            )
        )
    return out


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


def per_day(
    session: Session, watchlist: str | None = None, days: int = 14, zone: str = "UTC"
) -> dict[str, dict[date, int]]:
    """Items matched per watchlist per day in ``zone`` (by each item's first match),
    the last ``days`` days up to today, every day present (0 when none)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {zone!r}: use an IANA name such as Europe/Paris"
        ) from exc
    today = datetime.now(tz).date()
    start_day = today - timedelta(days=days - 1)
    start = datetime.combine(start_day, datetime.min.time(), tz).astimezone(UTC)
    first = func.min(WatchMatch.matched_at)
    query = select(WatchMatch.watchlist, first).group_by(WatchMatch.watchlist, WatchMatch.item_id)
    if watchlist is not None:
        query = query.where(WatchMatch.watchlist == watchlist)
    query = query.having(first >= start)
    counts: dict[str, dict[date, int]] = {}
    if watchlist is not None:
        counts[watchlist] = {}
    for name, at in session.execute(query):
        day = at.astimezone(tz).date()
        if start_day <= day <= today:
            per = counts.setdefault(name, {})
            per[day] = per.get(day, 0) + 1
    return {
        name: {start_day + timedelta(d): per.get(start_day + timedelta(d), 0) for d in range(days)}
        for name, per in sorted(counts.items())
    }
