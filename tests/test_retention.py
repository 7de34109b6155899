"""Retention: pruning by age in batches, tombstones, ``monitor prune`` and the service's
job; every test on SQLite and on PostgreSQL (``db_url``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.orchestrator import Orchestrator
from monitor.storage import Store
from monitor.storage.items import EntryKey, Known
from monitor.storage.retention import PruneReport, RetentionPolicy, prunable
from monitor.storage.schema import FeedItem, Item, ItemRevision, Tombstone, WatchMatch
from tests.conftest import Site
from tests.test_nothing_lost import Entry, rss
from tests.test_service import _monitor, _wait_for
from tests.test_storage import add_feeds, draft

DAY = 86400
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WriteConfig = Callable[..., Path]


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


def _add(store: Store, feed_id: int, name: str, age_days: float, guid: str | None = None) -> int:
    url = f"https://example.com/{name}"
    item_id, created = store.items.add(
        feed_id, draft(url, guid=guid or name), url, NOW - timedelta(days=age_days)
    )
    assert created
    return item_id


def _ids(store: Store) -> set[int]:
    with Session(store.engine) as session:
        return set(session.scalars(select(Item.id)))


def _tombstones(store: Store) -> list[Tombstone]:
    with Session(store.engine) as session:
        return list(session.scalars(select(Tombstone).order_by(Tombstone.id)))


# -- the rules, without a database -----------------------------------------------------


def test_the_longest_retention_of_an_items_feeds_applies() -> None:
    policy = RetentionPolicy(20 * DAY, {"A": 10 * DAY, "B": 30 * DAY, "Forever": None})
    old = NOW - timedelta(days=15)
    assert prunable(policy, old, ["A"], False, NOW)
    assert not prunable(policy, old, ["A", "B"], False, NOW)  # B keeps it 30 days
    assert not prunable(policy, old, ["Removed"], False, NOW)  # the global 20 days
    assert prunable(policy, NOW - timedelta(days=21), ["Removed"], False, NOW)
    assert prunable(policy, NOW - timedelta(days=21), [], False, NOW)  # carried by none
    assert not prunable(policy, NOW - timedelta(days=999), ["A", "Forever"], False, NOW)
    # matched items: kept for ever by default, else at least matched_retention
    assert not prunable(policy, NOW - timedelta(days=999), ["A"], True, NOW)
    policy = RetentionPolicy(20 * DAY, {"A": 10 * DAY}, matched=60 * DAY)
    assert not prunable(policy, NOW - timedelta(days=59), ["A"], True, NOW)
    assert prunable(policy, NOW - timedelta(days=61), ["A"], True, NOW)
    assert RetentionPolicy(None, {"A": None}).shortest is None
    assert policy.shortest == 10 * DAY


# -- pruning on the database -----------------------------------------------------------


def test_old_items_are_pruned_the_young_kept_per_feed_and_shared(store: Store) -> None:
    ids = add_feeds(store, "A", "B", "C")
    a_old = _add(store, ids["A"], "a-old", 15)
    a_young = _add(store, ids["A"], "a-young", 5)
    c_old = _add(store, ids["C"], "c-old", 25)
    c_mid = _add(store, ids["C"], "c-mid", 15)  # C follows the global 20 days
    shared = _add(store, ids["A"], "shared", 15)
    assert store.items.link(ids["B"], shared, "b-shared", "https://example.com/shared", NOW)
    shared_old = _add(store, ids["A"], "shared-old", 35)
    assert store.items.link(ids["B"], shared_old, "b-old", "https://example.com/shared-old", NOW)
    policy = RetentionPolicy(20 * DAY, {"A": 10 * DAY, "B": 30 * DAY})

    dry = store.retention.prune(policy, NOW, dry_run=True)
    assert (dry.items, dry.entries, dry.dry_run) == (3, 4, True)
    assert len(_ids(store)) == 6 and _tombstones(store) == []  # nothing deleted

    report = store.retention.prune(policy, NOW)
    assert _ids(store) == {a_young, c_mid, shared}
    assert (report.items, report.entries) == (3, 4)
    assert report.scanned == 5  # older than the shortest retention (10 days)
    stones = {(t.feed_id, t.entry_key, t.canonical_url, t.item_id) for t in _tombstones(store)}
    assert stones == {
        (ids["A"], "a-old", "https://example.com/a-old", a_old),
        (ids["C"], "c-old", "https://example.com/c-old", c_old),
        (ids["A"], "shared-old", "https://example.com/shared-old", shared_old),
        (ids["B"], "b-old", "https://example.com/shared-old", shared_old),
    }
    with Session(store.engine) as session:  # what hung on them went with them
        assert session.scalar(select(func.count()).select_from(FeedItem)) == 4
    # the lookup knows the pruned entries (by key, or by link) as seen; a GUID names an
    # entry only within its feed
    assert store.items.lookup(ids["A"], [EntryKey("a-old", None)]) == [
        Known(a_old, True, None, pruned=True)
    ]
    assert store.items.lookup(ids["A"], [EntryKey(None, "https://example.com/a-old")]) == [
        Known(a_old, True, None, pruned=True)
    ]
    assert store.items.lookup(ids["B"], [EntryKey("a-old", None)]) == [None]
    # a second prune finds nothing more
    assert store.retention.prune(policy, NOW).items == 0


def test_revised_items_age_from_their_first_storage(store: Store) -> None:
    feed = add_feeds(store, "A")["A"]
    item = _add(store, feed, "revised", 1)  # fetched_at moved by a revision, a day ago
    with Session(store.engine) as session, session.begin():
        session.add(
            ItemRevision(
                item_id=item,
                number=1,
                text="first text",
                extractor_version="feed/1",
                fetched_at=NOW - timedelta(days=40),
                replaced_at=NOW - timedelta(days=1),
            )
        )
    report = store.retention.prune(RetentionPolicy(30 * DAY), NOW)
    assert (report.items, report.revisions) == (1, 1)
    assert _ids(store) == set()


def test_matched_items_are_kept_and_clusters_get_a_new_representative(store: Store) -> None:
    feed = add_feeds(store, "A")["A"]
    rep = _add(store, feed, "rep", 40)
    copy = _add(store, feed, "copy", 5)
    matched = _add(store, feed, "matched", 40)
    with Session(store.engine) as session, session.begin():
        session.execute(update(Item).where(Item.id == rep).values(cluster_id=rep))
        session.execute(
            update(Item)
            .where(Item.id == copy)
            .values(cluster_id=rep, duplicate_of=rep, similarity=0.9)
        )
        session.add(
            WatchMatch(
                item_id=matched,
                watchlist="Axis",
                rule_index=0,
                rule="Title",
                field="title",
                matched="Title",
                start=0,
                end=5,
                snippet="Title",
                matched_at=NOW,
            )
        )
    report = store.retention.prune(RetentionPolicy(30 * DAY), NOW)
    assert (report.items, report.kept_matched, report.clusters) == (1, 1, 1)
    assert _ids(store) == {copy, matched}
    with Session(store.engine) as session:
        survivor = session.get_one(Item, copy)
        assert (survivor.cluster_id, survivor.duplicate_of, survivor.similarity) == (
            copy,
            None,
            None,
        )
    # with matched_retention, matched items go once older than it
    report = store.retention.prune(RetentionPolicy(30 * DAY, matched=35 * DAY), NOW)
    assert (report.items, report.matches) == (1, 1)


def test_pruning_goes_in_batches(store: Store) -> None:
    feed = add_feeds(store, "A")["A"]
    for n in range(5):
        _add(store, feed, f"old-{n}", 40)
    young = _add(store, feed, "young", 1)
    seen: list[int] = []
    report = store.retention.prune(RetentionPolicy(30 * DAY), NOW, batch=2, progress=seen.append)
    assert (report.items, report.batches, seen) == (5, 3, [2, 2, 1])
    assert _ids(store) == {young}
    # a stop request ends the prune between batches, what was done is kept
    for n in range(5):
        _add(store, feed, f"again-{n}", 40)
    calls = iter([False, True])
    stopped = store.retention.prune(
        RetentionPolicy(30 * DAY), NOW, batch=2, should_stop=lambda: next(calls, True)
    )
    assert (stopped.items, stopped.stopped) == (2, True)
    assert len(_ids(store)) == 4


def test_several_workers_prune_at_once_without_double_work(store: Store, db_url: str) -> None:
    feed = add_feeds(store, "A")["A"]
    for n in range(60):
        _add(store, feed, f"old-{n}", 40)
    reports: list[PruneReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def work() -> None:
        with Store.open(db_url, migrate=False) as own:
            start.wait()
            try:
                reports.append(own.retention.prune(RetentionPolicy(30 * DAY), NOW, batch=5))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(r.items for r in reports) == 60  # each item pruned once, by one of them
    assert sum(r.entries for r in reports) == 60
    assert _ids(store) == set()
    assert len(_tombstones(store)) == 60


# -- tombstones against a real poll ------------------------------------------------------


def test_a_pruned_entry_still_in_its_feed_is_not_stored_again(
    site: Site, write_config: WriteConfig
) -> None:
    first, second, third = (
        Entry(f"Story {n}", site.url(f"/story/{n}/"), guid=f"story-{n}") for n in (1, 2, 3)
    )
    site.serve("/feed.xml", rss([first, second]), "application/rss+xml")
    config = write_config(
        [{"name": "Wire", "url": site.url("/feed.xml"), "full_text": False, "retention": "7d"}],
        housekeeping={"tombstone_ttl": "10d"},
    )
    settings = load_settings(config)
    now = datetime.now(UTC)
    clock = {"now": now - timedelta(days=9)}
    with (
        Store.from_settings(settings) as store,
        Orchestrator(settings, store, clock=lambda: clock["now"]) as orchestrator,
    ):
        assert orchestrator.run_once().new == 2  # stored nine days ago
        policy = RetentionPolicy.of(settings)
        pruned = store.retention.prune(policy, now, tombstone_ttl=10 * DAY)
        assert (pruned.items, pruned.entries) == (2, 2)
        # the feed still lists both, and a new one: only the new one is stored
        site.serve("/feed.xml", rss([third, second, first]), "application/rss+xml")
        clock["now"] = now + timedelta(hours=5)
        report = orchestrator.run_once()
        assert (report.new, report.seen) == (1, 2), report
        assert [i.canonical_url for i in store.items.iter_all()] == [third.link]
        # later it lists the second only: the first is gone from the feed
        site.serve("/feed.xml", rss([third, second]), "application/rss+xml")
        clock["now"] = now + timedelta(hours=7)
        assert orchestrator.run_once().new == 0
        # ten days on, the first's tombstone goes (the feed was read after and did not
        # list it); the second's stays, the feed listed it at the last read
        later = now + timedelta(days=10, hours=6)
        expired = store.retention.prune(policy, later, tombstone_ttl=10 * DAY)
        assert expired.tombstones_expired == 1
        left = {t.entry_key for t in _tombstones(store)}
        assert "story-2" in left and "story-1" not in left


# -- the command and the service ---------------------------------------------------------


def _old_items(settings: Any, age: timedelta) -> None:
    with (
        Store.from_settings(settings) as store,
        Orchestrator(settings, store, clock=lambda: datetime.now(UTC) - age) as orchestrator,
    ):
        assert orchestrator.run_once().new == 3


def _cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(
        app, ["--config", str(config), *args], catch_exceptions=False, env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def _table_counts(output: str) -> dict[str, int]:
    counts = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 2 and cells[1].isdigit():
            counts[cells[0]] = int(cells[1])
    return counts


def test_monitor_prune_dry_run_counts_without_deleting(
    site: Site, write_config: WriteConfig
) -> None:
    config = write_config(
        [{"name": "Levant Ledger", "url": site.url("/feed/")}],
        housekeeping={"retention": "7d", "prune_batch": 2},
    )
    settings = load_settings(config)
    _old_items(settings, timedelta(days=8))
    output = _cli(config, "prune", "--dry-run")
    assert "dry run: nothing deleted" in output
    dry = _table_counts(output)
    assert dry["items that would be pruned"] == 3
    assert dry["items old enough to look at"] == 3
    with Store.from_settings(settings, migrate=False) as store:
        assert store.items.count() == 3 and store.retention.count() == 0
    done = _table_counts(_cli(config, "prune"))
    assert done["items pruned"] == 3
    assert done["their feed entries (one tombstone each)"] == 3
    assert done["batches"] == 2
    with Store.from_settings(settings, migrate=False) as store:
        assert store.items.count() == 0 and store.retention.count() == 3
    assert _table_counts(_cli(config, "prune"))["items pruned"] == 0


@pytest.mark.slow
def test_the_service_prunes_on_its_schedule(site: Site, write_config: WriteConfig) -> None:
    config = write_config(
        [{"name": "Levant Ledger", "url": site.url("/feed/")}],
        housekeeping={"retention": "7d", "prune_every": "10s"},
    )
    settings = load_settings(config)
    _old_items(settings, timedelta(days=8))
    process = _monitor(config, "-v", "run", "--tick", "1")
    try:
        with Store.from_settings(settings, migrate=False) as store:
            _wait_for(lambda: store.retention.count() == 3, timeout=60)
            assert store.items.count() == 0
            time.sleep(2)  # the ticks go on polling; what was pruned stays pruned
            assert store.items.count() == 0
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "housekeeping: pruning every 10s" in err
    assert "housekeeping: pruned 3 items" in err
