"""Storage on real databases: every test runs on SQLite and on PostgreSQL (``db_url``)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from monitor.config import FeedConfig
from monitor.pipeline.types import ItemDraft, Validators
from monitor.storage import Store
from monitor.storage.engine import head_revision
from monitor.storage.feeds import FetchRecord
from monitor.storage.items import EntryKey, Known
from monitor.storage.schema import Base, Feed, FeedItem, Item, not_search_index

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)
TABLES = {"feeds", "items", "feed_items", "item_pages"}


def draft(canonical_url: str, guid: str | None = None, **fields: Any) -> ItemDraft:
    values: dict[str, Any] = {
        "url": canonical_url,
        "canonical_url": canonical_url,
        "guid": guid,
        "title": f"Title of {canonical_url}",
        "author": None,
        "published_at": NOW - timedelta(hours=1),
        "updated_at": None,
        "summary": None,
        "text": "Some body text.",
        "language": "en",
        "site_name": None,
        "categories": ("news",),
        "image_url": None,
        "word_count": 3,
        "content_hash": None,
        "extraction_method": "feed-content",
        "extractor_version": "feed/1",
        "field_sources": {"text": "feed_content"},
    }
    values.update(fields)
    return ItemDraft(**values)


def feed_config(name: str, url: str, **fields: Any) -> FeedConfig:
    return FeedConfig(name=name, url=url, **fields)


def record(**fields: Any) -> FetchRecord:
    values: dict[str, Any] = {
        "outcome": "ok",
        "status": 200,
        "error": None,
        "validators": Validators('"etag-1"', "Sun, 01 Mar 2026 11:00:00 GMT", "h" * 64),
        "title": "Feed Title",
        "site_url": "https://example.com/",
        "new_items": 3,
        "duration": 0.25,
        "failed": False,
        "next_fetch_at": NOW + timedelta(minutes=30),
    }
    values.update(fields)
    return FetchRecord(**values)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


def add_feeds(store: Store, *names: str, now: datetime = NOW) -> dict[str, int]:
    store.feeds.sync([feed_config(n, f"https://{n.lower()}.example/feed") for n in names], now)
    with Session(store.engine) as session:
        return {f.name: f.id for f in session.scalars(select(Feed))}


def feeds_by_url(store: Store) -> dict[str, Feed]:
    with Session(store.engine) as session:
        return {f.url: f for f in session.scalars(select(Feed))}


# -- schema and migrations --------------------------------------------------------


def test_migrations_upgrade_downgrade_upgrade(db_url: str) -> None:
    with Store(db_url) as store:
        assert store.current_revision() is None
        store.upgrade()
        assert head_revision() is not None
        assert store.current_revision() == head_revision()
        assert set(inspect(store.engine).get_table_names()) >= TABLES
        store.downgrade("base")
        assert store.current_revision() is None
        assert not TABLES & set(inspect(store.engine).get_table_names())
        store.upgrade()
        assert store.current_revision() == head_revision()
        assert set(inspect(store.engine).get_table_names()) >= TABLES
        store.upgrade()  # already at head: nothing to do
        assert store.current_revision() == head_revision()


def test_models_and_migrations_agree(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "target_metadata": Base.metadata,
                "include_name": not_search_index,  # FTS tables are not models
            },
        )
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_is_in_wal_mode_with_foreign_keys(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def _item(canonical_url: str) -> Item:
    return Item(
        url=canonical_url,
        canonical_url=canonical_url,
        extraction_method="feed-content",
        extractor_version="feed/1",
        fetched_at=NOW,
    )


def test_database_enforces_one_item_per_canonical_url(store: Store) -> None:
    with Session(store.engine) as session:
        session.add(_item("https://example.com/a"))
        session.commit()
        session.add(_item("https://example.com/a"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_database_enforces_one_item_per_feed_and_guid(store: Store) -> None:
    feed_id = add_feeds(store, "Alpha")["Alpha"]
    with Session(store.engine) as session:
        first, second = _item("https://example.com/a"), _item("https://example.com/b")
        session.add_all([first, second])
        session.flush()
        session.add(
            FeedItem(
                feed_id=feed_id, item_id=first.id, entry_key="g-1", guid="g-1", first_seen_at=NOW
            )
        )
        session.commit()
        session.add(
            FeedItem(
                feed_id=feed_id, item_id=second.id, entry_key="g-1", guid="g-1", first_seen_at=NOW
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()


def test_database_enforces_foreign_keys(store: Store) -> None:
    with Session(store.engine) as session:
        item = _item("https://example.com/a")
        session.add(item)
        session.flush()
        session.add(
            FeedItem(feed_id=9999, item_id=item.id, entry_key="g", guid="g", first_seen_at=NOW)
        )
        with pytest.raises(IntegrityError):
            session.commit()


# -- items ------------------------------------------------------------------------


def test_add_is_idempotent(store: Store) -> None:
    feed_id = add_feeds(store, "Alpha")["Alpha"]
    item = draft("https://example.com/a", guid="g-1", raw_html=b"zz", page_charset="utf-8")
    first_id, created = store.items.add(feed_id, item, "https://example.com/a", NOW)
    assert created
    again_id, created_again = store.items.add(feed_id, item, "https://example.com/a", NOW)
    assert (again_id, created_again) == (first_id, False)
    assert store.items.count() == 1
    stored = store.items.get(first_id)
    assert stored is not None
    assert stored.feeds == ("Alpha",)
    assert stored.has_page
    with Session(store.engine) as session:
        assert len(list(session.scalars(select(FeedItem)))) == 1


def test_same_canonical_url_from_a_second_feed_links_both(store: Store) -> None:
    ids = add_feeds(store, "Alpha", "Beta")
    url = "https://example.com/shared"
    item_id, created = store.items.add(ids["Alpha"], draft(url, guid="a-1"), url, NOW)
    assert created
    later = NOW + timedelta(minutes=5)
    other_id, other_created = store.items.add(ids["Beta"], draft(url, guid="b-7"), url, later)
    assert (other_id, other_created) == (item_id, False)
    assert store.items.count() == 1
    stored = store.items.get(item_id)
    assert stored is not None
    assert stored.feeds == ("Alpha", "Beta")
    assert [i.id for i in store.items.list(feed="Beta")] == [item_id]
    assert {h.name: h.items for h in store.feeds.health()} == {"Alpha": 1, "Beta": 1}


def test_link_is_idempotent(store: Store) -> None:
    ids = add_feeds(store, "Alpha", "Beta")
    url = "https://example.com/a"
    item_id, _ = store.items.add(ids["Alpha"], draft(url, guid="a-1"), url, NOW)
    assert store.items.link(ids["Beta"], item_id, "b-1", url, NOW)
    assert not store.items.link(ids["Beta"], item_id, "b-1", url, NOW)


def test_lookup(store: Store) -> None:
    ids = add_feeds(store, "Alpha", "Beta")
    alpha, beta = ids["Alpha"], ids["Beta"]
    # the entry link redirected: the feed's link is recorded as entry_url
    entry_url = "https://feeds.example.com/r/123"
    canonical = "https://example.com/2026/story"
    item_id, _ = store.items.add(alpha, draft(canonical, guid="g-1"), entry_url, NOW)

    assert store.items.lookup(alpha, [EntryKey("g-1", None)]) == [Known(item_id, True)]
    # a GUID is only meaningful within its feed
    assert store.items.lookup(beta, [EntryKey("g-1", None)]) == [None]
    # the canonical URL is known anywhere; in Alpha, an entry without GUID under it is
    # another entry than g-1 (which came through the redirecting link): not yet recorded
    assert store.items.lookup(alpha, [EntryKey(None, canonical)]) == [Known(item_id, False)]
    assert store.items.lookup(beta, [EntryKey(None, canonical)]) == [Known(item_id, False)]
    # so is a previously recorded entry URL
    assert store.items.lookup(beta, [EntryKey("other", entry_url)]) == [Known(item_id, False)]
    assert store.items.lookup(alpha, [EntryKey(None, entry_url)]) == [Known(item_id, True)]
    # several keys at once, in order, unknown ones None
    keys = [
        EntryKey("nope", "https://example.com/unknown"),
        EntryKey("g-1", "https://example.com/unknown"),
        EntryKey(None, None),
        EntryKey(None, canonical),
    ]
    assert store.items.lookup(alpha, keys) == [
        None,
        Known(item_id, True),
        None,
        Known(item_id, False),
    ]
    assert store.items.lookup(alpha, []) == []

    # once Beta carries it, it is linked for Beta too
    store.items.link(beta, item_id, "b-9", canonical, NOW)
    assert store.items.lookup(beta, [EntryKey("b-9", None)]) == [Known(item_id, True)]
    assert store.items.lookup(beta, [EntryKey(None, canonical)]) == [Known(item_id, True)]


def test_lookup_prefers_the_guid_within_the_feed(store: Store) -> None:
    feed_id = add_feeds(store, "Alpha")["Alpha"]
    first, _ = store.items.add(feed_id, draft("https://example.com/1", guid="g-1"), None, NOW)
    second, _ = store.items.add(feed_id, draft("https://example.com/2", guid="g-2"), None, NOW)
    found = store.items.lookup(feed_id, [EntryKey("g-1", "https://example.com/2")])
    assert found == [Known(first, True)]
    assert second != first


# -- feeds: sync ------------------------------------------------------------------


def test_sync_inserts_updates_and_deactivates(store: Store) -> None:
    store.feeds.sync(
        [
            feed_config("Alpha", "https://alpha.example/feed", tags=("a",), interval=600),
            feed_config("Beta", "https://beta.example/feed", language="fr", full_text=False),
        ],
        NOW,
    )
    feeds = feeds_by_url(store)
    alpha = feeds["https://alpha.example/feed"]
    assert (alpha.name, alpha.tags, alpha.interval_seconds, alpha.active) == (
        "Alpha",
        ["a"],
        600,
        True,
    )
    assert alpha.next_fetch_at == NOW
    assert alpha.created_at == NOW
    beta = feeds["https://beta.example/feed"]
    assert (beta.language, beta.full_text) == ("fr", False)

    later = NOW + timedelta(hours=1)
    store.feeds.sync(
        [feed_config("Alpha", "https://alpha.example/feed", tags=("a", "b"), interval=900)],
        later,
    )
    feeds = feeds_by_url(store)
    alpha2 = feeds["https://alpha.example/feed"]
    assert alpha2.id == alpha.id
    assert (alpha2.tags, alpha2.interval_seconds, alpha2.active) == (["a", "b"], 900, True)
    assert alpha2.created_at == NOW  # not re-created
    assert not feeds["https://beta.example/feed"].active
    assert store.feeds.names() == ["Alpha", "Beta"]
    assert [h.name for h in store.feeds.health()] == ["Alpha"]
    assert [h.name for h in store.feeds.health(include_inactive=True)] == ["Alpha", "Beta"]

    # a removed feed that comes back is reactivated, not duplicated
    store.feeds.sync(
        [
            feed_config("Alpha", "https://alpha.example/feed"),
            feed_config("Beta", "https://beta.example/feed"),
        ],
        later,
    )
    feeds = feeds_by_url(store)
    assert len(feeds) == 2
    assert feeds["https://beta.example/feed"].id == beta.id
    assert feeds["https://beta.example/feed"].active


def test_sync_renames_a_feed_with_the_same_url(store: Store) -> None:
    ids = add_feeds(store, "Alpha")
    url = "https://alpha.example/feed"
    store.feeds.sync([feed_config("Alpha News", url)], NOW)
    feeds = feeds_by_url(store)
    assert len(feeds) == 1
    assert (feeds[url].id, feeds[url].name, feeds[url].active) == (ids["Alpha"], "Alpha News", True)


def test_sync_moves_a_feed_to_a_new_url_by_name(store: Store) -> None:
    ids = add_feeds(store, "Alpha")
    store.feeds.sync([feed_config("Alpha", "https://alpha.example/new-feed")], NOW)
    feeds = feeds_by_url(store)
    assert list(feeds) == ["https://alpha.example/new-feed"]
    assert feeds["https://alpha.example/new-feed"].id == ids["Alpha"]


def test_sync_two_feeds_swap_names(store: Store) -> None:
    ids = add_feeds(store, "Alpha", "Beta")
    store.feeds.sync(
        [
            feed_config("Beta", "https://alpha.example/feed"),
            feed_config("Alpha", "https://beta.example/feed"),
        ],
        NOW,
    )
    feeds = feeds_by_url(store)
    assert len(feeds) == 2
    assert feeds["https://alpha.example/feed"].name == "Beta"
    assert feeds["https://alpha.example/feed"].id == ids["Alpha"]
    assert feeds["https://beta.example/feed"].name == "Alpha"
    assert feeds["https://beta.example/feed"].id == ids["Beta"]
    assert all(f.active for f in feeds.values())


def test_sync_rename_to_the_name_of_a_removed_feed(store: Store) -> None:
    """Beta is dropped from the config and Alpha takes its name in the same edit."""
    ids = add_feeds(store, "Alpha", "Beta")
    store.feeds.sync([feed_config("Beta", "https://alpha.example/feed")], NOW)
    feeds = feeds_by_url(store)
    assert feeds["https://alpha.example/feed"].id == ids["Alpha"]
    assert feeds["https://alpha.example/feed"].name == "Beta"
    assert feeds["https://alpha.example/feed"].active
    assert not feeds["https://beta.example/feed"].active


def test_sync_old_name_reused_by_a_new_feed(store: Store) -> None:
    """Alpha is renamed "Alpha Archive" and a new feed at a new URL is called "Alpha"."""
    ids = add_feeds(store, "Alpha")
    store.feeds.sync(
        [
            feed_config("Alpha", "https://alpha.example/v2/feed"),
            feed_config("Alpha Archive", "https://alpha.example/feed"),
        ],
        NOW,
    )
    feeds = feeds_by_url(store)
    assert set(feeds) == {"https://alpha.example/feed", "https://alpha.example/v2/feed"}
    assert feeds["https://alpha.example/feed"].id == ids["Alpha"]
    assert feeds["https://alpha.example/feed"].name == "Alpha Archive"
    assert feeds["https://alpha.example/v2/feed"].name == "Alpha"


# -- feeds: claims ----------------------------------------------------------------


def claimed_names(states: list[Any]) -> set[str]:
    return {s.name for s in states}


def test_claim_due_only_respects_next_fetch_at(store: Store) -> None:
    ids = add_feeds(store, "Alpha", "Beta")
    store.feeds.record(ids["Beta"], record(next_fetch_at=NOW + timedelta(hours=1)), NOW)
    got = store.feeds.claim("w1", NOW, LEASE)
    assert claimed_names(got) == {"Alpha"}
    alpha = got[0]
    assert (alpha.id, alpha.url, alpha.interval_seconds) == (
        ids["Alpha"],
        "https://alpha.example/feed",
        1800,
    )
    store.feeds.release("w1")
    assert claimed_names(store.feeds.claim("w1", NOW, LEASE, due_only=False)) == {"Alpha", "Beta"}
    store.feeds.release("w1")
    later = NOW + timedelta(hours=1)
    assert claimed_names(store.feeds.claim("w1", later, LEASE)) == {"Alpha", "Beta"}


def test_claim_filters_by_name_and_limit(store: Store) -> None:
    add_feeds(store, "Alpha", "Beta", "Gamma")
    assert claimed_names(store.feeds.claim("w1", NOW, LEASE, names=["Beta"])) == {"Beta"}
    assert len(store.feeds.claim("w1", NOW, LEASE, limit=1)) == 1
    assert len(store.feeds.claim("w1", NOW, LEASE)) == 1  # the last free one


def test_claim_skips_inactive_feeds(store: Store) -> None:
    add_feeds(store, "Alpha", "Beta")
    store.feeds.sync([feed_config("Alpha", "https://alpha.example/feed")], NOW)
    assert claimed_names(store.feeds.claim("w1", NOW, LEASE, due_only=False)) == {"Alpha"}


def test_claim_leases(store: Store) -> None:
    add_feeds(store, "Alpha", "Beta")
    assert claimed_names(store.feeds.claim("w1", NOW, LEASE)) == {"Alpha", "Beta"}
    # a live lease held by another owner is skipped
    assert store.feeds.claim("w2", NOW + timedelta(minutes=1), LEASE) == []
    assert store.feeds.claim("w2", NOW, LEASE, due_only=False) == []
    # release frees only the owner's leases
    store.feeds.release("w2")
    assert store.feeds.claim("w3", NOW, LEASE) == []
    store.feeds.release("w1")
    assert claimed_names(store.feeds.claim("w2", NOW, LEASE)) == {"Alpha", "Beta"}
    # an expired lease is taken over
    expired = NOW + LEASE + timedelta(seconds=1)
    assert claimed_names(store.feeds.claim("w3", expired, LEASE)) == {"Alpha", "Beta"}
    with Session(store.engine) as session:
        owners = {f.lease_owner for f in session.scalars(select(Feed))}
        untils = {f.lease_until for f in session.scalars(select(Feed))}
    assert owners == {"w3"}
    assert untils == {expired + LEASE}


def test_record_clears_the_lease(store: Store) -> None:
    ids = add_feeds(store, "Alpha")
    store.feeds.claim("w1", NOW, LEASE)
    store.feeds.record(ids["Alpha"], record(next_fetch_at=NOW), NOW)
    assert claimed_names(store.feeds.claim("w2", NOW, LEASE)) == {"Alpha"}


def _claim_in_threads(url: str, workers: int, limit: int | None) -> list[list[int]]:
    barrier = threading.Barrier(workers)
    results: list[list[int]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            with Store(url) as own:
                barrier.wait(timeout=10)
                while True:
                    got = own.feeds.claim(f"worker-{index}", NOW, LEASE, limit=limit)
                    if not got:
                        return
                    results[index].extend(s.id for s in got)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


@pytest.mark.parametrize(("workers", "limit"), [(2, None), (4, 2), (8, 1)])
def test_concurrent_claims_never_share_a_feed(
    store: Store, db_url: str, workers: int, limit: int | None
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("row locks (FOR UPDATE SKIP LOCKED) are a PostgreSQL feature")
    ids = set(add_feeds(store, *(f"Feed{n:02d}" for n in range(24))).values())
    for _ in range(3):
        results = _claim_in_threads(db_url, workers, limit)
        seen = Counter(i for result in results for i in result)
        assert max(seen.values()) == 1, "a feed was claimed twice"
        for a in range(workers):
            for b in range(a + 1, workers):
                assert not set(results[a]) & set(results[b])
        assert set(seen) == ids  # every feed claimed by exactly one worker
        for index in range(workers):
            store.feeds.release(f"worker-{index}")


# -- feeds: record ----------------------------------------------------------------


def test_record_updates_validators_failures_and_success(store: Store) -> None:
    feed_id = add_feeds(store, "Alpha")["Alpha"]
    store.feeds.record(feed_id, record(), NOW)
    [state] = store.feeds.claim("w1", NOW + timedelta(hours=1), LEASE)
    assert state.validators == Validators('"etag-1"', "Sun, 01 Mar 2026 11:00:00 GMT", "h" * 64)
    assert state.consecutive_failures == 0
    assert state.title == "Feed Title"
    [health] = store.feeds.health()
    assert health.last_success_at == NOW
    assert health.last_fetched_at == NOW
    assert (health.last_outcome, health.last_status) == ("ok", 200)
    assert health.next_fetch_at == NOW + timedelta(minutes=30)

    t1, t2 = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    failure = record(
        outcome="hard",
        status=404,
        error="HTTP 404",
        failed=True,
        title=None,
        site_url=None,
        new_items=0,
        validators=Validators('"etag-1"', None, None),
        next_fetch_at=t2,
    )
    store.feeds.record(feed_id, failure, t1)
    store.feeds.record(feed_id, failure, t2)
    [health] = store.feeds.health()
    assert health.consecutive_failures == 2
    assert health.last_success_at == NOW  # unchanged by failures
    assert health.last_fetched_at == t2
    assert (health.last_outcome, health.last_status, health.last_error) == (
        "hard",
        404,
        "HTTP 404",
    )
    [state] = store.feeds.claim("w1", t2, LEASE)
    assert state.validators == Validators('"etag-1"', None, None)
    assert state.title == "Feed Title"  # a missing title does not erase the known one

    t3 = NOW + timedelta(hours=3)
    store.feeds.record(feed_id, record(validators=Validators(), next_fetch_at=t3), t3)
    [health] = store.feeds.health()
    assert health.consecutive_failures == 0
    assert health.last_success_at == t3
    assert health.last_error is None
    with Session(store.engine) as session:
        feed = session.get_one(Feed, feed_id)
        assert (feed.etag, feed.last_modified, feed.body_hash) == (None, None, None)
        assert (feed.lease_owner, feed.lease_until) == (None, None)
        assert feed.last_new_items == 3
        assert feed.site_url == "https://example.com/"


# -- datetimes --------------------------------------------------------------------

PLUS_FIVE = timezone(timedelta(hours=5, minutes=30))


def assert_utc(value: datetime | None, expected: datetime) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)
    assert value == expected


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    local_now = NOW.astimezone(PLUS_FIVE)
    feed_id = add_feeds(store, "Alpha", now=local_now)["Alpha"]
    published = datetime(2026, 2, 28, 23, 30, tzinfo=PLUS_FIVE)
    item_id, _ = store.items.add(
        feed_id,
        draft("https://example.com/a", published_at=published, updated_at=published),
        None,
        local_now,
    )
    stored = store.items.get(item_id)
    assert stored is not None
    assert_utc(stored.published_at, published)
    assert_utc(stored.updated_at, published)
    assert_utc(stored.fetched_at, NOW)
    assert stored.published_at is not None
    assert stored.published_at.hour == 18
    [listed] = store.items.list(since=published - timedelta(seconds=1))
    assert_utc(listed.published_at, published)
    assert store.items.list(since=published + timedelta(seconds=1)) == []

    store.feeds.record(feed_id, record(next_fetch_at=local_now + timedelta(hours=1)), local_now)
    [health] = store.feeds.health()
    assert_utc(health.next_fetch_at, NOW + timedelta(hours=1))
    assert_utc(health.last_fetched_at, NOW)
    assert_utc(health.last_success_at, NOW)
    assert_utc(store.feeds.next_due(), NOW + timedelta(hours=1))
    with Session(store.engine) as session:
        feed = session.get_one(Feed, feed_id)
        assert_utc(feed.created_at, NOW)
        link = session.scalars(select(FeedItem)).one()
        assert_utc(link.first_seen_at, NOW)


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        store.feeds.sync([feed_config("Alpha", "https://alpha.example/feed")], naive)
    assert store.feeds.names() == []
    feed_id = add_feeds(store, "Alpha")["Alpha"]
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        store.items.add(feed_id, draft("https://example.com/a", published_at=naive), None, NOW)
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        store.items.add(feed_id, draft("https://example.com/a"), None, naive)
    assert store.items.count() == 0
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        store.feeds.claim("w1", naive, LEASE)
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        store.items.list(since=naive)
