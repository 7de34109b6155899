"""The JSON API's response and request models: what /openapi.json promises.

Plain pydantic models built from the storage layer's dataclasses by the
``of`` class methods, so the storage types stay free of web concerns.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from monitor.storage.feeds import FeedDetails, FeedHealth, HistoryRow
from monitor.storage.item_queries import EntryRecord, Revision, StoredItem
from monitor.storage.match_summaries import MatchSummary
from monitor.storage.reviews import Review
from monitor.watch.matcher import Match


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000), which text cannot hold")
    return value


#: A string from a client: no NUL (PostgreSQL text cannot hold one, YAML should not).
Text = Annotated[str, AfterValidator(_no_nul)]


def _rule_text(value: str) -> str:
    for column, char in enumerate(value, 1):
        if ord(char) < 32 or 127 <= ord(char) < 160:
            raise ValueError(
                f"column {column}: control character U+{ord(char):04X} in a rule; "
                "write each rule on one line, without tabs or control characters"
            )
    return value


#: A watchlist rule as a client sends it: one line, no control characters.
RuleText = Annotated[str, AfterValidator(_rule_text)]

ReviewState = Literal["reviewed", "dismissed", "open"]
ReviewFilter = Literal["all", "open", "reviewed", "dismissed"]


class ItemOut(BaseModel):
    id: int
    url: str
    canonical_url: str
    title: str | None
    author: str | None
    published_at: datetime | None
    updated_at: datetime | None
    fetched_at: datetime
    feeds: list[str]
    feed_tags: list[str]
    language: str | None
    site_name: str | None
    categories: list[str]
    image_url: str | None
    summary: str | None
    word_count: int
    extraction_method: str
    cluster_id: int | None
    duplicate_of: int | None
    similarity: float | None
    revision: int

    @classmethod
    def of(cls, item: StoredItem) -> ItemOut:
        return cls(
            id=item.id,
            url=item.url,
            canonical_url=item.canonical_url,
            title=item.title,
            author=item.author,
            published_at=item.published_at,
            updated_at=item.updated_at,
            fetched_at=item.fetched_at,
            feeds=list(item.feeds),
            feed_tags=list(item.feed_tags),
            language=item.language,
            site_name=item.site_name,
            categories=list(item.categories),
            image_url=item.image_url,
            summary=item.summary,
            word_count=item.word_count,
            extraction_method=item.extraction_method,
            cluster_id=item.cluster_id,
            duplicate_of=item.duplicate_of,
            similarity=item.similarity,
            revision=item.revision,
        )


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None = Field(description="pass as cursor= for the next page")


class HitOut(BaseModel):
    watchlist: str
    rule: str
    rule_index: int
    field: str
    matched: str
    start: int
    end: int
    snippet: str
    fuzzy: bool

    @classmethod
    def of(cls, m: Match) -> HitOut:
        return cls(
            watchlist=m.watchlist,
            rule=m.rule,
            rule_index=m.rule_index,
            field=m.field,
            matched=m.matched,
            start=m.start,
            end=m.end,
            snippet=m.snippet,
            fuzzy=m.fuzzy,
        )


class RevisionOut(BaseModel):
    number: int
    title: str | None
    text: str | None
    word_count: int
    fetched_at: datetime
    replaced_at: datetime

    @classmethod
    def of(cls, r: Revision) -> RevisionOut:
        return cls(
            number=r.number,
            title=r.title,
            text=r.text,
            word_count=r.word_count,
            fetched_at=r.fetched_at,
            replaced_at=r.replaced_at,
        )


class EntryOut(BaseModel):
    feed: str
    guid: str | None
    url: str | None
    title: str | None
    first_seen_at: datetime

    @classmethod
    def of(cls, e: EntryRecord) -> EntryOut:
        return cls(
            feed=e.feed, guid=e.guid, url=e.url, title=e.title, first_seen_at=e.first_seen_at
        )


class ReviewOut(BaseModel):
    item_id: int
    watchlist: str
    state: str
    note: str | None
    by: str
    at: datetime

    @classmethod
    def of(cls, r: Review) -> ReviewOut:
        return cls(
            item_id=r.item_id, watchlist=r.watchlist, state=r.state, note=r.note, by=r.by, at=r.at
        )


class ItemDetail(BaseModel):
    item: ItemOut
    text: str | None
    field_sources: dict[str, str] = Field(description="field -> where its value came from")
    matches: list[HitOut]
    reviews: list[ReviewOut]
    revisions: list[RevisionOut] = Field(description="earlier texts, oldest first")
    entries: list[EntryOut] = Field(description="the feed entries that carried the item")
    cluster: list[ItemOut] = Field(description="the same story elsewhere (its duplicates)")


class SearchHitOut(BaseModel):
    item: ItemOut
    snippet: str
    spans: list[tuple[int, int]]
    hits: int


class SearchPageOut(BaseModel):
    query: str
    hits: list[SearchHitOut]
    next_cursor: str | None


class MatchSummaryOut(BaseModel):
    item_id: int
    watchlist: str
    title: str | None
    url: str
    feeds: list[str]
    language: str | None
    published_at: datetime | None
    matched_at: datetime
    rules: list[str]
    hits: int
    snippet: str
    spans: list[tuple[int, int]]
    state: str
    review: ReviewOut | None

    @classmethod
    def of(cls, s: MatchSummary) -> MatchSummaryOut:
        return cls(
            item_id=s.item_id,
            watchlist=s.watchlist,
            title=s.title,
            url=s.url,
            feeds=list(s.feeds),
            language=s.language,
            published_at=s.published_at,
            matched_at=s.matched_at,
            rules=list(s.rules),
            hits=s.hits,
            snippet=s.snippet,
            spans=[(a, b) for a, b in s.spans],
            state=s.state,
            review=ReviewOut.of(s.review) if s.review else None,
        )


class MatchPageOut(BaseModel):
    watchlist: str | None
    rows: list[MatchSummaryOut]
    next_cursor: str | None


class ReviewIn(BaseModel):
    state: ReviewState
    note: Text | None = Field(
        default=None, max_length=4000, description="null keeps the note, '' removes it"
    )


class FeedOut(BaseModel):
    name: str
    url: str
    active: bool
    items: int
    last_outcome: str | None
    last_status: int | None
    last_error: str | None
    consecutive_failures: int
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    next_fetch_at: datetime | None
    interval: int | None
    interval_reason: str | None
    configured_interval: int | None
    disabled_reason: str | None
    moved_from: str | None

    @classmethod
    def of(cls, h: FeedHealth) -> FeedOut:
        return cls(
            name=h.name,
            url=h.url,
            active=h.active,
            items=h.items,
            last_outcome=h.last_outcome,
            last_status=h.last_status,
            last_error=h.last_error,
            consecutive_failures=h.consecutive_failures,
            last_fetched_at=h.last_fetched_at,
            last_success_at=h.last_success_at,
            next_fetch_at=h.next_fetch_at,
            interval=h.interval,
            interval_reason=h.interval_reason,
            configured_interval=h.configured_interval,
            disabled_reason=h.disabled_reason,
            moved_from=h.moved_from,
        )


class PollOut(BaseModel):
    fetched_at: datetime
    url: str
    outcome: str
    status: int | None
    error: str | None
    duration: float | None
    entries: int
    new_items: int
    interval: int | None
    reason: str | None
    note: str | None

    @classmethod
    def of(cls, r: HistoryRow) -> PollOut:
        return cls(
            fetched_at=r.fetched_at,
            url=r.url,
            outcome=r.outcome,
            status=r.status,
            error=r.error,
            duration=r.duration,
            entries=r.entries,
            new_items=r.new_items,
            interval=r.interval,
            reason=r.reason,
            note=r.note,
        )


class FeedDetailOut(BaseModel):
    feed: FeedOut
    tags: list[str]
    language: str | None
    full_text: bool
    title: str | None
    site_url: str | None
    entry_rate: float | None
    history: list[PollOut] = Field(description="the latest polls, newest first")

    @classmethod
    def of(cls, d: FeedDetails) -> FeedDetailOut:
        return cls(
            feed=FeedOut.of(d.health),
            tags=list(d.tags),
            language=d.language,
            full_text=d.full_text,
            title=d.title,
            site_url=d.site_url,
            entry_rate=d.entry_rate,
            history=[PollOut.of(r) for r in d.history],
        )


class WatchlistOut(BaseModel):
    name: str
    rules: list[str]
    feeds: list[str]
    tags: list[str]
    fuzzy: bool
    matched_items: int
    per_day: dict[date, int] = Field(
        description="items first matched each day, in the reader's zone "
        "(the tz cookie, web.timezone, else UTC)"
    )
    atom: str = Field(description="the path of its Atom feed")


class WatchlistDetail(WatchlistOut):
    config: dict[str, Any] = Field(description="the watchlist as feeds.yaml says it")


class PreviewIn(BaseModel):
    rules: list[RuleText] = Field(min_length=1, max_length=100)
    since: str = Field(
        default="7d", description="items fetched since: an age (7d, 12h) or an ISO date"
    )
    fuzzy: bool = False
    case_sensitive: bool = False
    limit: int = Field(default=50, ge=1, le=500)


class ProblemOut(BaseModel):
    rule_index: int
    column: int
    message: str


class PreviewHitOut(BaseModel):
    item_id: int
    title: str | None
    url: str
    published_at: datetime | None
    rules: list[int]
    hits: int
    snippet: str
    spans: list[tuple[int, int]]


class PreviewOut(BaseModel):
    problems: list[ProblemOut]
    items: int = Field(description="items checked")
    matched: int = Field(description="items any rule matched")
    per_rule: list[int]
    hits: list[PreviewHitOut]
