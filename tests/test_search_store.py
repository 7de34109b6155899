"""Search on real databases (SQLite and PostgreSQL): agreement with the watchlist matcher
on a corpus, cursor pagination, filters, errors, the index upkeep, and the migration."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.orm import Session

from monitor.config import FeedConfig
from monitor.pipeline.types import ItemDraft
from monitor.storage import Store
from monitor.storage.items import NewItem
from monitor.storage.retention import RetentionPolicy
from monitor.storage.schema import Base, Feed, FeedItem, Item, not_search_index
from monitor.storage.search import SearchHit, decode_cursor
from monitor.watch.matcher import Document, Matcher, Rule
from monitor.watch.query import QueryError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEEDS = ("Levant Ledger", "Gulf Wire", "Tehran Times")

# Words of the corpus: names in several spellings, Arabic and Persian variants, filler.
NAMES = ["Qassem", "Qāsem", "Soleimani", "Haniyeh", "Hamas", "al-Baghdadi", "Nasrallah"]
ARABIC = ["سليماني", "سلیمانی", "سُليمانى", "الجمهورية", "الإسلامية", "طهـــران", "طهران"]
FILLER = [
    *("the", "of", "in", "on", "a", "to", "and", "officials", "said", "week", "city"),
    *("border", "talks", "truce", "crowd", "funeral", "commander", "parliament", "vote"),
    *("airport", "Baghdad", "Tehran", "Gaza", "Beirut", "delegation", "strike"),
]
QUERIES = [
    "Soleimani",
    "Qassem Soleimani",
    '"Qasem Soleimani"',
    "Solei*",
    "Hamas AND Gaza AND NOT Beirut",
    "(Haniyeh OR Nasrallah) AND truce",
    "Haniyeh NEAR/3 Hamas",
    '"al Baghdadi" NEAR/0 airport',
    "title:Tehran",
    "text:(funeral AND crowd)",
    "author:Haddad",
    'feed:"Gulf Wire" AND commander',
    "feed:Tehran OR Nasrallah",
    "feed:(Levant NOT Gulf) AND vote",
    "سلیمانی",
    "الجمهوريه الاسلاميه",
    "title:طهران",
    "طهر*",
    "Hamas NOT (Gaza OR truce)",
    "Baghdad AND NOT al-Baghdadi",
]


def corpus(seed: int = 7, size: int = 80) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for n in range(size):
        words = rng.choices(FILLER, k=rng.randint(20, 60))
        for pool in (NAMES, ARABIC):
            for _ in range(rng.randint(0, 3)):
                words.insert(rng.randrange(len(words) + 1), rng.choice(pool))
        title = " ".join(rng.choices(FILLER + NAMES + ARABIC, k=rng.randint(3, 8)))
        docs.append(
            {
                "title": title,
                "text": " ".join(words) + ".",
                "author": rng.choice(["Nadia Haddad", "Karim Saadeh", None]),
                "feeds": tuple(rng.sample(FEEDS, rng.randint(1, 2))),
                # some share a time, so the id breaks ties
                "published": NOW - timedelta(hours=n // 3) if n % 5 else None,
                "language": rng.choice(["en", "ar", None]),
            }
        )
    return docs


def draft(n: int, doc: dict[str, Any]) -> ItemDraft:
    return ItemDraft(
        url=f"https://news.example/{n}",
        canonical_url=f"https://news.example/{n}",
        guid=f"g-{n}",
        title=doc["title"],
        author=doc["author"],
        published_at=doc["published"],
        updated_at=None,
        summary=None,
        text=doc["text"],
        language=doc["language"],
        site_name=None,
        categories=(),
        image_url=None,
        word_count=len(doc["text"].split()),
        content_hash=f"hash-{n}",
        extraction_method="feed-content",
        extractor_version="feed/1",
        field_sources={"text": "feed_content"},
    )


def fill(store: Store, docs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Store the corpus through ItemRepository.add_many; item id -> document."""
    configs = [FeedConfig(name=f, url=f"https://{i}.example/feed") for i, f in enumerate(FEEDS)]
    store.feeds.sync(configs, NOW)
    with Session(store.engine) as session:
        feed_ids = {f.name: f.id for f in session.scalars(select(Feed))}
    stored: dict[int, dict[str, Any]] = {}
    for n, doc in enumerate(docs):
        for i, name in enumerate(doc["feeds"]):
            new = NewItem(feed_ids[name], draft(n, doc), f"https://news.example/{n}?f={i}", NOW)
            result = store.items.add_many([new])[0]
        stored[result.item_id] = doc
    return stored


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


@pytest.fixture
def filled(store: Store) -> dict[int, dict[str, Any]]:
    return fill(store, corpus())


def all_hits(store: Store, query: str, limit: int = 7, **filters: Any) -> list[SearchHit]:
    hits: list[SearchHit] = []
    cursor = None
    for _ in range(1000):
        page = store.search.search(query, limit=limit, cursor=cursor, **filters)
        assert len(page.hits) <= limit
        hits += page.hits
        cursor = page.next_cursor
        if cursor is None:
            return hits
        assert len(page.hits) == limit  # only the last page is short
    raise AssertionError("pagination never ended")


def expected(query: str, stored: dict[int, dict[str, Any]]) -> set[int]:
    """What a watchlist with this rule matches."""
    matcher = Matcher([Rule("watch", 0, query)])
    return {
        item_id
        for item_id, doc in stored.items()
        if matcher.match(Document(doc["title"], doc["text"], doc["author"] or "", doc["feeds"]))
    }


def newest_first(hits: list[SearchHit]) -> bool:
    keys = [(h.item.published_at or h.item.fetched_at, h.item.id) for h in hits]
    return keys == sorted(keys, reverse=True)


def test_search_agrees_with_the_watchlist_matcher_on_a_corpus(
    store: Store, filled: dict[int, dict[str, Any]]
) -> None:
    found_any = 0
    for query in QUERIES:
        hits = all_hits(store, query)
        ids = [h.item.id for h in hits]
        assert len(ids) == len(set(ids)), f"{query}: an item twice"
        assert set(ids) == expected(query, filled), query
        assert newest_first(hits), query
        found_any += bool(ids)
    assert found_any >= len(QUERIES) - 2  # the corpus exercises nearly every query


def test_pagination_gives_every_hit_once_whatever_the_page_size(
    store: Store, filled: dict[int, dict[str, Any]]
) -> None:
    whole = [h.item.id for h in all_hits(store, "the", limit=500)]
    assert len(whole) > 40
    for limit in (1, 3, 10, 49):
        assert [h.item.id for h in all_hits(store, "the", limit=limit)] == whole


def test_hits_carry_the_item_with_feeds_a_snippet_and_spans(
    store: Store, filled: dict[int, dict[str, Any]]
) -> None:
    page = store.search.search("Haniyeh", limit=50)
    assert page.hits
    for hit in page.hits:
        assert set(hit.item.feeds) == set(filled[hit.item.id]["feeds"])
        assert hit.hits >= 1 and hit.spans
        assert len(hit.snippet) <= 200
        for start, end in hit.spans:
            assert hit.snippet[start:end] == "Haniyeh"


def test_filters_by_feed_language_and_time(store: Store, filled: dict[int, dict[str, Any]]) -> None:
    everything = expected("the", filled)
    in_feed = {i for i in everything if "Gulf Wire" in filled[i]["feeds"]}
    assert {h.item.id for h in all_hits(store, "the", feed="Gulf Wire")} == in_feed
    arabic = {i for i in everything if filled[i]["language"] == "ar"}
    assert {h.item.id for h in all_hits(store, "the", language="ar")} == arabic
    since, until = NOW - timedelta(hours=10), NOW - timedelta(hours=3)
    window = {h.item.id for h in all_hits(store, "the", since=since, until=until)}
    assert window
    for item_id in everything:
        when = filled[item_id]["published"] or NOW
        assert (item_id in window) == (since <= when < until)


def test_bad_queries_and_cursors_raise_the_documented_errors(
    store: Store, filled: dict[int, dict[str, Any]]
) -> None:
    for query, column in (('"Soleimani', 1), ("Hamas AND", 10), ("NOT Hamas", 1), ("x:y", 1)):
        with pytest.raises(QueryError) as caught:
            store.search.search(query)
        assert caught.value.column == column, query
    for cursor in ("nonsense", "eyJ0IjogMX0", "", "e30"):
        if cursor:
            with pytest.raises(ValueError, match="cursor"):
                store.search.search("Hamas", cursor=cursor)
    with pytest.raises(ValueError, match="limit"):
        store.search.search("Hamas", limit=0)
    good = store.search.search("the", limit=2).next_cursor
    assert good is not None and decode_cursor(good)[1] > 0


def index_rows(store: Store) -> int:
    name = "item_fts" if store.dialect == "sqlite" else "item_search"
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())


def test_every_item_is_indexed_pruning_removes_rows_and_rebuild_restores(
    store: Store, filled: dict[int, dict[str, Any]]
) -> None:
    assert index_rows(store) == len(filled)
    assert store.search.rebuild() == len(filled)
    assert index_rows(store) == len(filled)
    report = store.retention.prune(RetentionPolicy(default=1), NOW + timedelta(days=30))
    assert report.items == len(filled)
    assert index_rows(store) == 0
    assert store.search.search("the").hits == []


def test_models_and_migrations_agree_leaving_out_the_search_index(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert ("item_fts" if store.dialect == "sqlite" else "item_search") in tables
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "target_metadata": Base.metadata,
                "include_name": not_search_index,
            },
        )
        assert compare_metadata(context, Base.metadata) == []


OLD_FEED = {
    "name": "Old Feed",
    "url": "https://old.example/feed",
    "tags": [],
    "interval_seconds": 900,
    "full_text": True,
    "allow_private": False,
    "active": True,
    "consecutive_failures": 0,
    "last_new_items": 0,
    "created_at": NOW,
    "pending_new": 0,
    "busy_new": 0,
    "busy_polls": 0,
    "quiet_polls": 0,
}


def old_item(n: int) -> dict[str, Any]:
    """An item row as the schema before the search migration stores it."""
    body = "Mourners for Qāsem Soleimani" if n % 100 == 7 else "Quiet day"
    doc = {"title": f"Story {n}", "author": None, "language": "en", "text": body}
    values = draft(n, doc | {"published": NOW - timedelta(minutes=n)})
    row = {c.name: getattr(values, c.name) for c in Item.__table__.c if hasattr(values, c.name)}
    return row | {"fetched_at": NOW, "revision": 1, "categories": []}


def test_the_migration_indexes_existing_items_and_downgrades(db_url: str) -> None:
    with Store.open(db_url, migrate=False) as store:
        store.upgrade("a5c0d5e7f105")
        feeds, items = Feed.__table__, Item.__table__
        with store.engine.begin() as conn:
            feed_id = conn.execute(insert(feeds).returning(feeds.c.id), OLD_FEED).scalar_one()
            for n in range(1203):  # more than two batches of the migration
                item_id = conn.execute(insert(items).returning(items.c.id), old_item(n))
                link = {"feed_id": feed_id, "entry_key": f"g-{n}", "first_seen_at": NOW}
                conn.execute(insert(FeedItem.__table__), link | {"item_id": item_id.scalar_one()})
        store.upgrade()
        wanted = {f"Story {n}" for n in range(1203) if n % 100 == 7}
        titles = [h.item.title for h in all_hits(store, "Qasem Soleimani", limit=5)]
        assert set(titles) == wanted and len(titles) == len(wanted)
        assert all_hits(store, "feed:old")[0].item.feeds == ("Old Feed",)
        store.downgrade("a5c0d5e7f105")
        tables = set(inspect(store.engine).get_table_names())
        assert not {"item_fts", "item_search"} & tables
        store.upgrade()
        assert {h.item.title for h in all_hits(store, "Soleimani")} == wanted


def test_re_extraction_and_a_late_page_are_indexed_again(store: Store) -> None:
    docs = [
        {"title": "Summit", "text": "Feed summary about Nasrallah.", "author": None,
         "feeds": ("Gulf Wire",), "published": NOW, "language": "en"},
    ]  # fmt: skip
    (item_id,) = fill(store, docs)
    assert [h.item.id for h in store.search.search("Nasrallah").hits] == [item_id]
    reextracted = replace(draft(0, docs[0]), text="The page names Haniyeh instead.", title="Talks")
    assert store.items.update_extraction(item_id, reextracted)
    assert store.search.search("Nasrallah").hits == []
    assert [h.item.id for h in store.search.search("title:Talks AND Haniyeh").hits] == [item_id]
    page = replace(reextracted, text="The late page quotes Soleimani.", author="Karim Saadeh")
    assert store.items.upgrade_page(item_id, page, (), (), NOW)
    assert store.search.search("Haniyeh").hits == []
    assert [h.item.id for h in store.search.search("Soleimani AND author:Saadeh").hits] == [item_id]
    assert index_rows(store) == 1


def test_phrases_past_the_engines_position_limits_are_still_found(store: Store) -> None:
    """PostgreSQL keeps 256 positions a lexeme and clamps them at 16,383: an item past
    either is marked and its phrases are left to the matcher, not missed."""
    repeated = "war talks " * 300 + "war crimes tribunal"  # the 301st "war" starts the phrase
    long = " ".join(f"w{n}" for n in range(17_000)) + " Gaza truce holds"
    docs = [
        {"title": "Repeated", "text": repeated, "author": None, "feeds": ("Gulf Wire",),
         "published": NOW, "language": "en"},
        {"title": "Long", "text": long, "author": None, "feeds": ("Gulf Wire",),
         "published": NOW - timedelta(hours=1), "language": "en"},
        {"title": "Short", "text": "Gaza holds that a truce failed; war crimes are alleged.",
         "author": None, "feeds": ("Gulf Wire",), "published": NOW, "language": "en"},
    ]  # fmt: skip
    ids = list(fill(store, docs))
    assert [h.item.id for h in store.search.search('"war crimes tribunal"').hits] == [ids[0]]
    assert [h.item.id for h in store.search.search('"Gaza truce holds"').hits] == [ids[1]]
    assert [h.item.id for h in store.search.search("holds NEAR/1 truce").hits] == [ids[1]]
    assert [h.item.id for h in store.search.search('"war crimes"').hits] == [ids[2], ids[0]]
