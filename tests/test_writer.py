"""The group-commit writer: batches share a transaction, one bad item fails alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence

import pytest

from monitor.storage import Store
from monitor.storage.items import NewItem, Stored
from monitor.writer import BatchWriter
from tests.test_storage import NOW, add_feeds, draft


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


def test_concurrent_items_are_written_in_few_batches(store: Store) -> None:
    feed_id = add_feeds(store, "Alpha")["Alpha"]
    items = [NewItem(feed_id, draft(f"https://a.example/{n}"), None, NOW) for n in range(40)]

    async def main() -> tuple[list[Stored], int]:
        async with BatchWriter(store.items.add_many, max_batch=16) as writer:
            results = await asyncio.gather(*(writer.add(item) for item in items))
        return list(results), writer.batches

    results, batches = asyncio.run(main())
    assert all(stored.created for stored in results)
    assert len({stored.item_id for stored in results}) == 40
    assert batches <= 4  # 40 items queued at once, at most 16 per batch (the first may be 1)
    assert len(list(store.items.iter_all())) == 40


@pytest.mark.parametrize("linger", [0.0, 5.0])
def test_items_that_trickle_in_wait_for_company(store: Store, linger: float) -> None:
    """Items arriving 20 ms apart (as extraction hands them over) share a commit
    when the writer lingers; without lingering each pays its own."""
    feed_id = add_feeds(store, "Alpha")["Alpha"]
    items = [NewItem(feed_id, draft(f"https://a.example/{n}"), None, NOW) for n in range(8)]

    async def main() -> int:
        async with BatchWriter(store.items.add_many, max_batch=8, linger=linger) as writer:

            async def later(n: int) -> Stored:
                await asyncio.sleep(0.02 * n)
                return await writer.add(items[n])

            await asyncio.gather(*(later(n) for n in range(8)))
        return writer.batches

    started = time.monotonic()
    batches = asyncio.run(main())
    if linger:
        assert batches == 1
        assert time.monotonic() - started < 4  # a full batch goes at once, not after 5 s
    else:
        assert batches > 1
    assert len(list(store.items.iter_all())) == 8


def test_a_failing_item_fails_alone_and_the_rest_of_its_batch_is_stored(store: Store) -> None:
    feed_id = add_feeds(store, "Alpha")["Alpha"]
    good = [NewItem(feed_id, draft(f"https://a.example/{n}"), None, NOW) for n in range(5)]
    bad = NewItem(feed_id + 999, draft("https://a.example/orphan"), None, NOW)  # no such feed
    calls: list[int] = []

    def add_many(batch: Sequence[NewItem]) -> list[Stored]:
        calls.append(len(batch))
        return store.items.add_many(batch)

    async def main() -> list[Stored | BaseException]:
        async with BatchWriter(add_many) as writer:
            return await asyncio.gather(
                *(writer.add(item) for item in [*good[:3], bad, *good[3:]]),
                return_exceptions=True,
            )

    results = asyncio.run(main())
    assert isinstance(results[3], Exception)
    assert all(isinstance(r, Stored) and r.created for i, r in enumerate(results) if i != 3)
    stored = {item.canonical_url for item in store.items.iter_all()}
    assert stored == {f"https://a.example/{n}" for n in range(5)}
    assert max(calls) > 1 and calls.count(1) >= 6  # one batch, then item by item


def test_add_outside_the_block_is_refused(store: Store) -> None:
    writer = BatchWriter(store.items.add_many)
    item = NewItem(1, draft("https://a.example/x"), None, NOW)
    with pytest.raises(RuntimeError, match="async with"):
        asyncio.run(writer.add(item))
