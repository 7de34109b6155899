"""Triage: a match marked reviewed or dismissed, with a note, who and when, every change kept.

Items and matches come from ``monitor run --once`` over the fixture site, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from monitor.config import load_settings
from monitor.storage import Store
from monitor.storage.schema import MatchReview
from tests.conftest import Site
from tests.test_match_summaries import FUNERAL, feeds, item_id, monitor

WATCHLISTS = [{"name": "Iran", "rules": ["Soleimani"]}, {"name": "Gaza", "rules": ["truce"]}]


@pytest.fixture
def store(site: Site, write_config: Callable[..., Path]) -> Iterator[Store]:
    config = write_config(feeds(site), watchlists=WATCHLISTS)
    monitor(config, "run", "--once")
    with Store.open(load_settings(config).database_url) as opened:
        yield opened


def test_set_get_and_history_keep_who_when_and_every_note(store: Store) -> None:
    funeral = item_id(store, FUNERAL)
    assert store.reviews.get(funeral, "Iran") is None  # never triaged: open
    assert store.reviews.history(funeral, "Iran") == []
    before = datetime.now(UTC)
    first = store.reviews.set(funeral, "Iran", "reviewed", by="ana", note="sent to the desk")
    assert (first.state, first.by, first.note) == ("reviewed", "ana", "sent to the desk")
    assert first.at.tzinfo is not None and before <= first.at <= datetime.now(UTC)
    assert store.reviews.get(funeral, "Iran") == first
    later = first.at + timedelta(minutes=5)
    second = store.reviews.set(funeral, "Iran", "dismissed", by="bo", note="duplicate", now=later)
    current = store.reviews.get(funeral, "Iran")
    assert current is not None and (current.state, current.by, current.note) == (
        "dismissed",
        "bo",
        "duplicate",
    )
    assert current.at == later
    kept = store.reviews.set(funeral, "Iran", "reviewed", by="cy", now=later + timedelta(1))
    assert kept.note == "duplicate"  # note=None keeps the note
    cleared = store.reviews.set(funeral, "Iran", "reviewed", by="cy", note="")
    assert cleared.note is None  # "" removes it
    reopened = store.reviews.set(funeral, "Iran", "open", by="ana")
    assert reopened.state == "open"
    assert store.reviews.get(funeral, "Iran") is None  # open again
    history = store.reviews.history(funeral, "Iran")
    assert [(h.state, h.by, h.note) for h in history] == [
        ("reviewed", "ana", "sent to the desk"),
        ("dismissed", "bo", "duplicate"),
        ("reviewed", "cy", "duplicate"),
        ("reviewed", "cy", None),
        ("open", "ana", None),
    ]
    assert history[0] == first and history[1] == second
    # another watchlist of the same item is its own triage
    assert store.reviews.history(funeral, "Gaza") == []


def test_one_current_row_per_item_and_watchlist(store: Store) -> None:
    funeral = item_id(store, FUNERAL)
    for state in ("reviewed", "dismissed", "reviewed"):
        store.reviews.set(funeral, "Iran", state, by="ana")
    with store.engine.connect() as conn:
        rows = list(conn.execute(select(MatchReview.state).where(MatchReview.item_id == funeral)))
    assert rows == [("reviewed",)]
    names = set(inspect(store.engine).get_table_names())
    assert {"match_reviews", "match_review_changes"} <= names


def test_lookup_and_value_errors(store: Store) -> None:
    funeral = item_id(store, FUNERAL)
    with pytest.raises(LookupError, match="no match in watchlist 'Nope'"):
        store.reviews.set(funeral, "Nope", "reviewed", by="ana")
    with pytest.raises(LookupError, match="item 999999"):
        store.reviews.set(999_999, "Iran", "reviewed", by="ana")
    unmatched = next(i.id for i in store.items.iter_all() if not store.matches.hits(i.id, "Iran"))
    with pytest.raises(LookupError):
        store.reviews.set(unmatched, "Iran", "reviewed", by="ana")
    with pytest.raises(ValueError, match="unknown review state 'done'"):
        store.reviews.set(funeral, "Iran", "done", by="ana")
    with pytest.raises(ValueError, match="who"):
        store.reviews.set(funeral, "Iran", "reviewed", by=" ")
    assert store.reviews.history(funeral, "Iran") == []  # nothing was written


def test_reviews_survive_a_backfill(site: Site, write_config: Callable[..., Path]) -> None:
    config = write_config(feeds(site), watchlists=WATCHLISTS)
    monitor(config, "run", "--once")
    with Store.open(load_settings(config).database_url) as store:
        funeral = item_id(store, FUNERAL)
        store.reviews.set(funeral, "Iran", "reviewed", by="ana", note="ok")
    monitor(config, "watchlists", "backfill", "Iran")
    with Store.open(load_settings(config).database_url) as store:
        review = store.reviews.get(funeral, "Iran")
        assert review is not None and review.note == "ok"
        assert store.reviews.many([(funeral, "Iran"), (funeral, "Gaza")]) == {
            (funeral, "Iran"): review
        }
