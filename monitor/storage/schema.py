"""SQLAlchemy 2 models: the source of truth for the Alembic migrations.

What must never happen twice is enforced here, by the database:

* one item per canonical URL (``uq_items_canonical_url``);
* one ``feed_items`` row per (feed, entry), the entry named by its GUID or link;
* one revision number per item (``item_revisions``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: monitor stores aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    interval_seconds: Mapped[int] = mapped_column(Integer)
    full_text: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    title: Mapped[str | None] = mapped_column(Text)
    site_url: Mapped[str | None] = mapped_column(Text)
    # fetch state
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_fetched_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_items: Mapped[int] = mapped_column(Integer, default=0)
    last_duration: Mapped[float | None] = mapped_column(Float)
    # scheduling state (several workers share it)
    next_fetch_at: Mapped[datetime | None] = mapped_column(index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # adaptive schedule, moves and 410s (migration a1c0d5e7f101; monitor/schedule.py)
    min_interval_seconds: Mapped[int | None] = mapped_column(Integer)  # per feed, else schedule:
    max_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    current_interval: Mapped[int | None] = mapped_column(Integer)  # None: interval_seconds
    interval_reason: Mapped[str | None] = mapped_column(Text)
    entry_rate: Mapped[float | None] = mapped_column(Float)  # new entries an hour, smoothed
    observed_at: Mapped[datetime | None]  # the last poll counted in entry_rate
    pending_new: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    busy_new: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    busy_polls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    quiet_polls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    moved_from: Mapped[str | None] = mapped_column(Text)  # the URL a 301/308 moved it from
    disabled_reason: Mapped[str | None] = mapped_column(Text)  # a 410: not polled any more
    disabled_at: Mapped[datetime | None]

    links: Mapped[list[FeedItem]] = relationship(back_populates="feed", passive_deletes=True)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    guid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime | None]
    summary: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    site_name: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(default=list)
    image_url: Mapped[str | None] = mapped_column(Text)
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    extraction_method: Mapped[str] = mapped_column(String(32))
    extractor_version: Mapped[str] = mapped_column(String(64))
    field_sources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fetch_status: Mapped[int | None] = mapped_column(Integer)
    fetch_error: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(index=True)
    # deduplication: the cluster's representative (its own id when it is one), the item
    # this one was found to copy and how similar they are, and the text's revision number
    cluster_id: Mapped[int | None] = mapped_column(
        ForeignKey("items.id", ondelete="SET NULL"), index=True
    )
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("items.id", ondelete="SET NULL"), index=True
    )
    similarity: Mapped[float | None] = mapped_column(Float)
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    links: Mapped[list[FeedItem]] = relationship(back_populates="item", passive_deletes=True)


class FeedItem(Base):
    """Every entry a feed served that led to an item: the entry's own GUID, link and title.

    One feed may carry one item through several entries (a live page whose
    updates are entries of their own, an article listed twice under two links,
    a copy of a stored story): each is its own row, so no entry's GUID, URL or
    title is lost.  ``entry_key`` says which entry a row is (its GUID, else
    ``url:`` and its link) and is unique per feed."""

    __tablename__ = "feed_items"
    __table_args__ = (
        UniqueConstraint("feed_id", "entry_key"),
        Index("ix_feed_items_entry_url", "entry_url"),
        Index("ix_feed_items_item_id", "item_id"),
        Index("ix_feed_items_feed_id_item_id", "feed_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(Text)
    guid: Mapped[str | None] = mapped_column(Text)
    entry_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    # the entry's updated (else published) time as the feed gave it: a later one means
    # the article may have been revised
    entry_updated: Mapped[datetime | None]

    feed: Mapped[Feed] = relationship(back_populates="links")
    item: Mapped[Item] = relationship(back_populates="links")


class EntryRejection(Base):
    """An entry a feed served that was not stored, with the reason (nothing vanishes)."""

    __tablename__ = "entry_rejections"
    __table_args__ = (UniqueConstraint("feed_id", "entry_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(Text)
    guid: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    # a rejection is permanent when the entry cannot be stored whatever happens (a
    # javascript: link), or after repeated failures; until then the entry is tried again
    permanent: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class PageRetry(Base):
    """An item stored with its feed's text whose page failed temporarily: fetch it again.

    The item is upgraded with the page's text and metadata when the page
    arrives; after ``fetch.page_retry_for`` the retry is given up and the
    reason is written to the item's ``fetch_error``."""

    __tablename__ = "page_retries"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]


class ItemPage(Base):
    """The compressed article page, kept so items can be re-extracted later."""

    __tablename__ = "item_pages"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    html_z: Mapped[bytes] = mapped_column(LargeBinary)
    charset: Mapped[str | None] = mapped_column(String(40))
    fetched_at: Mapped[datetime]


class ItemSketch(Base):
    """An item's MinHash signature (see monitor/pipeline/sketch.py)."""

    __tablename__ = "item_sketches"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[str] = mapped_column(String(40))


class SketchBand(Base):
    """The LSH index: one row per (band key, item).  Lookup probes the primary key."""

    __tablename__ = "sketch_bands"
    __table_args__ = (Index("ix_sketch_bands_item_id", "item_id"), {"sqlite_with_rowid": False})

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )


class ItemRevision(Base):
    """An earlier text of an item, kept when the same URL came back with changed text."""

    __tablename__ = "item_revisions"
    __table_args__ = (UniqueConstraint("item_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    extractor_version: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[datetime]
    replaced_at: Mapped[datetime]


class WatchMatch(Base):
    """One hit of one watchlist rule in one item, as found at ingest or by a backfill."""

    __tablename__ = "watch_matches"
    __table_args__ = (
        UniqueConstraint(
            "item_id",
            "watchlist",
            "rule_index",
            "field",
            "value_index",
            "start",
            name="uq_watch_matches_hit",
        ),
        Index("ix_watch_matches_watchlist_matched_at", "watchlist", "matched_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    watchlist: Mapped[str] = mapped_column(String(200))
    rule_index: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(16))
    value_index: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    snippet: Mapped[str] = mapped_column(Text)
    fuzzy: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    matched_at: Mapped[datetime]


# --- adaptive schedule and fetch history (migration a1c0d5e7f101) ---------------------


class FetchHistory(Base):
    """One poll of one feed, kept for the last ``housekeeping.history`` polls
    (``monitor feeds show NAME``)."""

    __tablename__ = "fetch_history"
    __table_args__ = (Index("ix_fetch_history_feed_id_id", "feed_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    fetched_at: Mapped[datetime]
    url: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[float | None] = mapped_column(Float)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    interval_seconds: Mapped[int | None] = mapped_column(Integer)  # after this poll
    reason: Mapped[str | None] = mapped_column(Text)  # why that interval
    note: Mapped[str | None] = mapped_column(Text)  # moved (301/308), gone (410)


# --- retention: tombstones (migration a2c0d5e7f102) ------------------------------------


class Tombstone(Base):
    """An entry whose item retention pruned (monitor/storage/retention.py).

    While its feed still lists the entry, the lookup finds this row and the
    entry counts as already seen: a pruned article is not stored again.  Found
    by the entry's key in its feed, or by its link (the entry's URL or the
    item's canonical URL) as the live ``feed_items`` are.  ``last_seen_at`` is
    moved on (at most hourly) while the feed lists the entry; the row goes
    ``housekeeping.tombstone_ttl`` after the entry was last seen, once a later
    read of the feed shows it is no longer listed."""

    __tablename__ = "tombstones"
    __table_args__ = (
        UniqueConstraint("feed_id", "entry_key"),
        Index("ix_tombstones_feed_id_entry_url", "feed_id", "entry_url"),
        Index("ix_tombstones_feed_id_canonical_url", "feed_id", "canonical_url"),
        Index("ix_tombstones_last_seen_at", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(Text)
    guid: Mapped[str | None] = mapped_column(Text)
    entry_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text)
    item_id: Mapped[int] = mapped_column(Integer)  # the pruned item's id (gone: no key)
    stored_at: Mapped[datetime]  # when the item was first stored
    pruned_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


# --- workers and the configuration version (migration a3c0d5e7f103) -------------------


class Worker(Base):
    """A ``monitor run`` process as the database has seen it: its heartbeat and the
    configuration version it runs.  ``monitor status`` reads these."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid:start
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))  # "service" or "once"
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None]
    config_version: Mapped[str | None] = mapped_column(String(100))
    software: Mapped[str | None] = mapped_column(String(32))  # monitor's version


class ServiceState(Base):
    """Service-wide values shared by every worker, by key (the configuration version the
    database follows, for one)."""

    __tablename__ = "service_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(200))


# --- digests (migration a4c0d5e7f104) ---------------------------------------------------


class Digest(Base):
    """One digest of one watchlist: the window [``window_start``, ``window_end``) it covers.

    Unique per (watchlist, window start): two workers that reach the same
    schedule both try to insert the row and the database lets one win, so only
    one sends.  ``status`` is ``pending`` until the SMTP server accepts it
    (``sent``), ``failed`` after ``FAIL_AFTER`` refused attempts (still retried at
    ``next_attempt_at``), ``skipped`` when the window was empty and the watchlist
    says ``empty: skip``.  A worker holds the lease while it sends."""

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("watchlist", "window_start"),
        Index("ix_digests_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    watchlist: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    items: Mapped[int] = mapped_column(Integer, default=0)  # matched items in the window
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]


class DigestMatch(Base):
    """A match carried by a digest: at most one digest per match, by its primary key.

    A match whose transaction committed after its window was closed (its
    ``matched_at`` is inside that window, the row was not yet visible) has no
    row here, so the next digest takes it.  Deleting the match (the item was
    re-evaluated, or pruned) deletes this row too, so a new match that reuses a
    deleted row's id on SQLite is never taken for one already sent."""

    __tablename__ = "digest_matches"

    match_id: Mapped[int] = mapped_column(
        ForeignKey("watch_matches.id", ondelete="CASCADE"), primary_key=True
    )
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"), index=True)


# --- alerts (migration a5c0d5e7f105) ----------------------------------------------------


class AlertWatchlist(Base):
    """When a watchlist's alerts began, and how far its matches have been queued.

    Only matches found from ``started_at`` on are alerted, so configuring an alert
    (or configuring it again after it was removed) does not send the watchlist's
    history.  ``scanned_until`` is where the
    next look for new matches starts (less a margin for transactions still open)."""

    __tablename__ = "alert_watchlists"

    watchlist: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime]
    scanned_until: Mapped[datetime]
    # set when a configuration without this watchlist's alert ran: alerts that begin
    # again start afresh instead of sending what was matched meanwhile
    stopped_at: Mapped[datetime | None]


class Alert(Base):
    """One alert: one item for one watchlist, unique, so two workers never both send it.

    ``status`` is ``pending`` until a POST is accepted (``sent``); after the
    watchlist's ``fail_after`` attempts it is ``failed``, and still tried again at
    ``next_attempt_at``.  A worker holds the lease while it POSTs."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("item_id", "watchlist"),
        Index("ix_alerts_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    watchlist: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(Text)  # scheme://host/… : never the whole URL
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]


# --- full-text search (migration a6c0d5e7f106; monitor.storage.search) ----------------
#
# Not models: SQLite's index is an FTS5 virtual table (``item_fts``, rowid = item id;
# FTS5 makes shadow tables ``item_fts_*``; ``item_fts_sort`` keeps each item's time beside
# it), PostgreSQL's a table of tsvectors
# (``item_search``, item id -> ``doc``, a GIN index, ON DELETE CASCADE).  The migration
# creates them with SQL; the model/migration comparison leaves them out
# (:func:`not_search_index`).

SEARCH_FTS_TABLE = "item_fts"  # SQLite
SEARCH_FTS_SORT_TABLE = "item_fts_sort"  # SQLite: item id -> its time, to order hits by
SEARCH_PG_TABLE = "item_search"  # PostgreSQL
SEARCH_PG_INDEX = "ix_item_search_doc"


def not_search_index(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name`` hook: False for the search index's tables (not models)."""
    if type_ != "table" or name is None:
        return True
    return name != SEARCH_PG_TABLE and not name.startswith(SEARCH_FTS_TABLE)


# --- end of full-text search ----------------------------------------------------------


# --- triage of matches (migration a7c0d5e7f107; monitor.storage.reviews) --------------


class MatchReview(Base):
    """The triage state of one item's matches in one watchlist: ``reviewed`` or
    ``dismissed`` (no row: open), with a note, who and when.

    Not tied to the ``watch_matches`` rows: an item re-evaluated keeps its
    review.  Every change is also a :class:`MatchReviewChange` row."""

    __tablename__ = "match_reviews"
    __table_args__ = (Index("ix_match_reviews_watchlist_state", "watchlist", "state"),)

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    watchlist: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime]


class MatchReviewChange(Base):
    """One triage change, kept for good: the state (``open`` when reopened), the note as
    it then was, who and when.  A note overwritten stays here."""

    __tablename__ = "match_review_changes"
    __table_args__ = (Index("ix_match_review_changes_item_id_watchlist", "item_id", "watchlist"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    watchlist: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime]


# One row per item and watchlist (monitor.storage.match_summaries) groups a watchlist's
# hits by item: this index gives the groups and their first match time without the rows.
Index(
    "ix_watch_matches_watchlist_item_id_matched_at",
    WatchMatch.watchlist,
    WatchMatch.item_id,
    WatchMatch.matched_at,
)


# --- end of triage ---------------------------------------------------------------------
