"""The database side of near-duplicate detection: minimum length, candidate ranking."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.pipeline.sketch import sketch_text
from monitor.pipeline.text import normalised_text_hash, word_count
from monitor.storage import Store
from monitor.storage.dedup import MAX_CANDIDATES, DedupPolicy
from monitor.storage.items import NewItem, Stored
from monitor.storage.schema import SketchBand
from tests.test_storage import NOW, add_feeds, draft

FOOTER = (
    "This article is available to subscribers only. Subscribe today for unlimited access "
    "to our reporting from the region, the newsletter and the archive of the last ten years."
)
WORDS = [
    "minister",
    "border",
    "talks",
    "convoy",
    "parliament",
    "ceasefire",
    "envoy",
    "budget",
    "harbour",
    "refinery",
    "drought",
    "election",
    "tribunal",
    "militia",
    "pipeline",
    "embassy",
    "sanctions",
    "refugees",
    "harvest",
    "strike",
    "currency",
    "coalition",
    "protest",
    "summit",
    "reservoir",
    "airport",
    "frontier",
    "delegation",
    "verdict",
    "inflation",
]


def text_draft(url: str, text: str, **fields: Any) -> Any:
    return draft(
        url,
        text=text,
        word_count=word_count(text),
        content_hash=normalised_text_hash(text),
        sketch=sketch_text(text),
        **fields,
    )


def story(seed: int, words: int = 120) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url, dedup=DedupPolicy(threshold=0.5, min_words=40)) as opened:
        yield opened


def test_short_teasers_sharing_a_paywall_notice_are_not_copies(store: Store) -> None:
    feed = add_feeds(store, "Alpha")["Alpha"]
    first = text_draft("https://a.example/1", "Talks resumed in Doha on Monday. " + FOOTER)
    second = text_draft("https://a.example/2", "Floods closed the port of Basra. " + FOOTER)
    stored = store.items.add_many(
        [NewItem(feed, first, None, NOW), NewItem(feed, second, None, NOW)]
    )
    assert [s.created for s in stored] == [True, True]
    assert stored[1].duplicate_of is None
    with store.engine.connect() as conn:  # too short to be indexed at all
        assert conn.scalar(select(func.count()).select_from(SketchBand)) == 0


def test_a_copy_is_found_among_many_items_sharing_a_footer(store: Store) -> None:
    """An outlet's fixed footer puts every article in a few shared buckets; the copy,
    which shares nearly all of its buckets, must still be among the candidates checked."""
    feed = add_feeds(store, "Alpha")["Alpha"]
    fillers = [
        NewItem(feed, text_draft(f"https://a.example/f{n}", story(n, 60) + " " + FOOTER), None, NOW)
        for n in range(MAX_CANDIDATES * 3)
    ]
    original_text = story(10_000) + " " + FOOTER
    original = NewItem(feed, text_draft("https://a.example/original", original_text), None, NOW)
    stored = store.items.add_many([original, *fillers])
    copy_text = "Republished with permission. " + original_text.replace("minister", "ministers", 1)
    copy = NewItem(feed, text_draft("https://b.example/copy", copy_text), None, NOW)
    (result,) = store.items.add_many([copy])
    assert result.created
    assert result.duplicate_of == stored[0].item_id


def test_two_workers_storing_copies_at_the_same_instant_group_them(
    store: Store, db_url: str
) -> None:
    """Several `monitor run` workers share one PostgreSQL: two copies of a story stored
    at once by two of them must still land in one cluster, not start two."""
    if store.dialect != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL deployment; SQLite has one writer")
    feed_id = add_feeds(store, "Alpha")["Alpha"]
    stories = [story(1000 + n) for n in range(12)]
    barrier = threading.Barrier(2)
    results: list[list[Stored]] = [[], []]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            with Store(db_url, dedup=DedupPolicy(threshold=0.5, min_words=40)) as own:
                for n, text in enumerate(stories):
                    copy = text if index == 0 else f"{text[:-1]} reported by agency {index}."
                    item = NewItem(
                        feed_id, text_draft(f"https://w{index}.example/{n}", copy), None, NOW
                    )
                    barrier.wait(timeout=10)
                    results[index].extend(own.items.add_many([item]))
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    for first, second in zip(*results, strict=True):
        assert first.created and second.created
        assert {first.duplicate_of, second.duplicate_of} in (
            {None, second.item_id},
            {None, first.item_id},
        ), (first, second)
