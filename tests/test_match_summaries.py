"""Match summaries: one row per item and watchlist, over items stored by ``monitor run --once``.

The funeral report of the fixture site is the seed-like article: the seed
watchlist "Iran and its allies" (fuzzy) hits it more than twenty times, in
its title and text; a summary is one row with its title and the hit count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.storage import Store
from tests.conftest import Site

runner = CliRunner()
FUNERAL = "/2020/01/07/funeral-report/"
SEED: dict[str, Any] = {
    "name": "Iran and its allies",
    "rules": [
        "Qassem Soleimani",
        "Quds Force",
        "Hezbollah OR Hizballah OR حزب الله",
        '"Revolutionary Guards" AND (Iran OR Tehran)',
        "Haniyeh NEAR/10 Hamas",
        "sanction* AND title:Iran",
        {"query": "IRGC", "case_sensitive": True},
    ],
    "fuzzy": True,
    "variants": {"Soleimani": ["سليماني", "سلیمانی"]},
}


def monitor(config: Path, *args: str) -> str:
    result = runner.invoke(
        app, ["--config", str(config), *args], catch_exceptions=False, env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def feeds(site: Site) -> list[dict[str, Any]]:
    return [
        {"name": "Levant Ledger", "url": site.url("/feed/"), "tags": ["levant"]},
        {"name": "Gulf Wire", "url": site.url("/gulf/feed.atom"), "tags": ["gulf"]},
    ]


def ingest(site: Site, write_config: Callable[..., Path], watchlists: list[Any]) -> Store:
    config = write_config(feeds(site), watchlists=watchlists)
    monitor(config, "run", "--once")
    return Store.open(load_settings(config).database_url)


def item_id(store: Store, path: str) -> int:
    return next(i.id for i in store.items.iter_all() if i.canonical_url.endswith(path))


def test_the_seed_article_is_one_row_with_its_title_and_hit_count(
    site: Site, write_config: Callable[..., Path]
) -> None:
    with ingest(site, write_config, [SEED]) as store:
        funeral = item_id(store, FUNERAL)
        single = store.matches.hits(funeral, "Iran and its allies")
        assert len(single) > 10  # many occurrences
        page = store.matches.summaries("Iran and its allies")
        rows = [r for r in page.rows if r.item_id == funeral]
        assert len(rows) == 1
        row = rows[0]
        assert row.title == "Palestinian delegation joins crowds mourning Soleimani in Tehran"
        assert row.hits == len(single)
        assert row.feeds == ("Levant Ledger",)
        assert row.url.endswith(FUNERAL)
        assert row.review is None and row.state == "open"
        # the distinct rules, in rule order
        order = [r if isinstance(r, str) else r["query"] for r in SEED["rules"]]
        hit_rules = {m.rule for m in single}
        assert row.rules == tuple(r for r in order if r in hit_rules)
        # a title hit: the best snippet is the title, each hit span inside it
        assert any(m.field == "title" for m in single)
        assert row.snippet == row.title
        assert row.spans and all(
            row.snippet[a:b] in {m.matched for m in single if m.field == "title"}
            for a, b in row.spans
        )
        assert row.matched_at == min(
            m.matched_at for m in store.matches.list("Iran and its allies", limit=None)
        )


def test_without_a_title_hit_the_snippet_is_the_window_with_most_rules(
    site: Site, write_config: Callable[..., Path]
) -> None:
    rules = ["text:Haniyeh", "text:Hamas", "text:Soleimani"]
    with ingest(site, write_config, [{"name": "Text", "rules": rules}]) as store:
        funeral = item_id(store, FUNERAL)
        (row,) = [r for r in store.matches.summaries("Text").rows if r.item_id == funeral]
        hits = store.matches.hits(funeral, "Text")
        assert {m.field for m in hits} == {"text"}
        words = {row.snippet[a:b] for a, b in row.spans}
        assert len(row.spans) >= 2 and words <= {m.matched for m in hits}
        text = store.items.get(funeral).text or ""  # type: ignore[union-attr]
        best = 0  # no window of the text holds more distinct rules than the one shown
        for hit in hits:
            lo, hi = max(0, hit.start - 80), hit.end + 80
            best = max(best, len({m.rule for m in hits if m.start >= lo and m.end <= hi}))
        shown = {m.rule for m in hits if m.matched in words}
        assert len(shown) >= min(best, 2)
        assert row.snippet.strip("…") in " ".join(text.split())


def _all_pages(store: Store, **filters: Any) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    cursor = None
    for _ in range(100):
        page = store.matches.summaries(limit=2, cursor=cursor, **filters)
        assert len(page.rows) <= 2
        seen += [(r.item_id, r.watchlist) for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


WATCHLISTS = [
    {"name": "Soleimani", "rules": ["Soleimani"]},
    {"name": "Hamas", "rules": ["Hamas"]},
    {"name": "Gaza", "rules": ["Gaza OR truce"]},
    {"name": "Beirut", "rules": ["Beirut OR Lebanon OR banks"]},
    {"name": "Anything", "rules": ["the"]},
]


def test_cursor_pagination_gives_every_row_exactly_once(
    site: Site, write_config: Callable[..., Path]
) -> None:
    with ingest(site, write_config, WATCHLISTS) as store:
        everything = store.matches.summaries(limit=1000)
        assert everything.next_cursor is None
        expected = [(r.item_id, r.watchlist) for r in everything.rows]
        assert len(expected) >= 8 and len(set(expected)) == len(expected)
        # newest first match first
        times = [r.matched_at for r in everything.rows]
        assert times == sorted(times, reverse=True)
        assert _all_pages(store) == expected
        assert _all_pages(store, watchlist="Anything") == [
            e for e in expected if e[1] == "Anything"
        ]


def test_pagination_with_equal_match_times(site: Site, write_config: Callable[..., Path]) -> None:
    """Ties (a backfill stamps all its matches with one time) still page exactly once."""
    config = write_config(feeds(site))
    monitor(config, "run", "--once")
    config = write_config(feeds(site), watchlists=WATCHLISTS)
    for watchlist in WATCHLISTS:
        monitor(config, "watchlists", "backfill", str(watchlist["name"]))
    with Store.open(load_settings(config).database_url) as store:
        rows = store.matches.summaries(limit=1000).rows
        by_time = {r.matched_at for r in rows}
        assert len(by_time) < len(rows)  # there are ties
        expected = [(r.item_id, r.watchlist) for r in rows]
        assert _all_pages(store) == expected
        assert _all_pages(store, review="open") == expected


def test_filters(site: Site, write_config: Callable[..., Path]) -> None:
    with ingest(site, write_config, WATCHLISTS) as store:
        rows = store.matches.summaries(limit=1000).rows
        by_item = {r.item_id: r for r in rows}
        only = store.matches.summaries("Hamas", limit=1000).rows
        assert only and {r.watchlist for r in only} == {"Hamas"}
        assert len(only) == len([r for r in rows if r.watchlist == "Hamas"])
        levant = store.matches.summaries(feed="Levant Ledger", limit=1000).rows
        gulf = store.matches.summaries(tag="gulf", limit=1000).rows
        assert levant and all("Levant Ledger" in r.feeds for r in levant)
        assert gulf and all("Gulf Wire" in r.feeds for r in gulf)
        assert {(r.item_id, r.watchlist) for r in levant} | {
            (r.item_id, r.watchlist) for r in gulf
        } == {(r.item_id, r.watchlist) for r in rows}
        assert store.matches.summaries(tag="no-such-tag").rows == []
        assert store.matches.summaries(feed="No Such Feed").rows == []
        languages = {r.language for r in rows}
        assert languages == {"en"}
        assert len(store.matches.summaries(language="en", limit=1000).rows) == len(rows)
        assert store.matches.summaries(language="fr").rows == []
        newest = max(r.matched_at for r in rows)
        assert store.matches.summaries(since=newest + timedelta(seconds=1)).rows == []
        assert store.matches.summaries(until=min(r.matched_at for r in rows)).rows == []
        window = store.matches.summaries(since=newest, until=newest + timedelta(1)).rows
        assert window and all(r.matched_at == newest for r in window)
        assert by_item  # every row has an item


def test_review_filter_and_state_in_summaries(
    site: Site, write_config: Callable[..., Path]
) -> None:
    with ingest(site, write_config, WATCHLISTS) as store:
        rows = store.matches.summaries(limit=1000).rows
        first, second = rows[0], rows[1]
        store.reviews.set(first.item_id, first.watchlist, "reviewed", by="ana", note="seen")
        store.reviews.set(second.item_id, second.watchlist, "dismissed", by="bo")

        def keys(review: str) -> set[tuple[int, str]]:
            page = store.matches.summaries(review=review, limit=1000)
            return {(r.item_id, r.watchlist) for r in page.rows}

        assert keys("reviewed") == {(first.item_id, first.watchlist)}
        assert keys("dismissed") == {(second.item_id, second.watchlist)}
        assert keys("open") == {(r.item_id, r.watchlist) for r in rows[2:]}
        assert len(keys("all")) == len(rows)
        shown = store.matches.summaries(limit=1000).rows[0]
        assert shown.review is not None and shown.review.by == "ana"
        assert shown.review.note == "seen" and shown.state == "reviewed"
        store.reviews.set(first.item_id, first.watchlist, "open", by="ana")
        assert (first.item_id, first.watchlist) in keys("open")


def test_bad_arguments_raise_value_error(site: Site, write_config: Callable[..., Path]) -> None:
    with ingest(site, write_config, WATCHLISTS) as store:
        for cursor in ("nonsense", "", "e30", "W10", "WyIyMDI2IiwgMSwgIngiXQ"):
            with pytest.raises(ValueError, match="cursor"):
                store.matches.summaries(cursor=cursor)
        with pytest.raises(ValueError, match="review"):
            store.matches.summaries(review="unread")
        with pytest.raises(ValueError, match="limit"):
            store.matches.summaries(limit=0)
        with pytest.raises(ValueError, match="time zone"):
            store.matches.per_day(zone="Mars/Olympus")


def test_hits_of_one_item(site: Site, write_config: Callable[..., Path]) -> None:
    with ingest(site, write_config, [SEED, *WATCHLISTS]) as store:
        funeral = item_id(store, FUNERAL)
        every = store.matches.hits(funeral)
        one = store.matches.hits(funeral, "Hamas")
        assert {m.watchlist for m in every} >= {"Iran and its allies", "Hamas"}
        assert one and all(m.watchlist == "Hamas" for m in one)
        assert len(every) == sum(
            r.hits for r in store.matches.summaries(limit=1000).rows if r.item_id == funeral
        )
        assert store.matches.hits(funeral, "No such") == []


def test_items_matched_per_local_day(site: Site, write_config: Callable[..., Path]) -> None:
    with ingest(site, write_config, WATCHLISTS) as store:
        rows = store.matches.summaries(limit=1000).rows
        days = store.matches.per_day(days=3, zone="Asia/Tehran")
        today = datetime.now(ZoneInfo("Asia/Tehran"))
        assert set(days) == {r.watchlist for r in rows}
        for name, counts in days.items():
            assert len(counts) == 3 and max(counts) == today.date()
            assert sum(counts.values()) == len([r for r in rows if r.watchlist == name])
        assert store.matches.per_day("Hamas", days=1)["Hamas"] == {
            datetime.now(UTC).date(): len([r for r in rows if r.watchlist == "Hamas"])
        }
        assert store.matches.per_day("Nothing", days=2) == {
            "Nothing": dict.fromkeys(
                [datetime.now(UTC).date() - timedelta(1), datetime.now(UTC).date()], 0
            )
        }
