"""Nothing lost: each fault of the "nothing lost" issue, reproduced on loopback, on both
databases.

* a stop mid-poll leaves the feed to be read again, and the next run stores the rest;
* an article page that fails temporarily is fetched again and its item upgraded
  (text, metadata, field sources, watch matches), or given up with the reason;
* entries that differ only by ``#fragment``, entries with identical descriptions,
  several entries under one link, repeated GUIDs and link-less entries are all kept;
  unusable links are recorded with the reason;
* a page that kills its extraction worker is quarantined, and the others are stored;
* pages held in memory are bounded by extraction slots taken before fetching.
"""

from __future__ import annotations

import html
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner
from werkzeug import Request, Response

from monitor.cli import app
from monitor.config import Settings, load_settings
from monitor.orchestrator import Orchestrator
from monitor.pool import WorkerPool
from monitor.reports import RunReport
from monitor.storage import Store
from tests import extract_hooks
from tests.conftest import FIXTURES, Site

WriteConfig = Callable[..., Path]
# A real article page, without the canonical link and og:url that would name one URL for
# every copy served here (each test page is its own article).
PAGE = "\n".join(
    line
    for line in (FIXTURES / "pages" / "funeral-report.html").read_text(encoding="utf-8").split("\n")
    if 'rel="canonical"' not in line and "og:url" not in line
)
PAGE_ONLY_WORD = "Soleimani"  # in the article page, not in the feed's description below


@dataclass(frozen=True)
class Entry:
    title: str
    link: str | None
    guid: str | None = None
    description: str = "A short description."
    published: datetime = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def rss(self) -> str:
        parts = [f"<title>{html.escape(self.title)}</title>"]
        if self.link is not None:
            parts.append(f"<link>{html.escape(self.link)}</link>")
        if self.guid is not None:
            parts.append(f'<guid isPermaLink="false">{html.escape(self.guid)}</guid>')
        parts.append(f"<description>{html.escape(self.description)}</description>")
        parts.append(f"<pubDate>{self.published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>")
        return "<item>" + "".join(parts) + "</item>"


def rss(entries: list[Entry], title: str = "Test feed") -> str:
    items = "".join(e.rss() for e in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://localhost/</link>{items}</channel></rss>"
    )


def article(n: int, extra: str = "") -> str:
    """A real article page, made distinct per ``n`` so each is its own story."""
    marker = (
        f"<p>Dispatch number {n}: this is report {n} of the series, filed on its own by "
        f"correspondent {n} with details that no other dispatch carries.</p>"
    )
    body = '<div class="entry-content">'
    return PAGE.replace(body, body + marker, 1).replace("<article", f"{extra}<article", 1)


def cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(
        app, ["--config", str(config), *args], catch_exceptions=False, env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def settings_of(config: Path) -> Settings:
    return load_settings(config)


def poll(settings: Settings, **kwargs: Any) -> RunReport:
    with Store.from_settings(settings) as store, Orchestrator(settings, store, **kwargs) as o:
        return o.run_once()


@contextmanager
def opened(settings: Settings) -> Iterator[Store]:
    with Store.from_settings(settings, migrate=False) as store:
        yield store


# -- 1, 2: a stop mid-poll; the feed body is done only when every entry is ---------


def test_stop_mid_poll_leaves_the_feed_to_be_read_again(
    site: Site, write_config: WriteConfig
) -> None:
    links = [site.url(f"/a/{n}/") for n in range(24)]
    site.serve("/feed.xml", rss([Entry(f"Story {n}", link) for n, link in enumerate(links)]))

    stop: list[Callable[[], None]] = []
    served: list[str] = []

    def slow_page(request: Request) -> Response:
        served.append(request.path)
        if len(served) == 4:  # SIGTERM arrives with pages in flight
            stop[0]()
        time.sleep(0.25)
        return Response(article(int(request.path.split("/")[2])), content_type="text/html")

    for n in range(24):
        site.route(f"/a/{n}/", slow_page)
    settings = settings_of(
        write_config([{"name": "Slow", "url": site.url("/feed.xml")}], fetch={"per_host": 2})
    )
    with Store.from_settings(settings) as store, Orchestrator(settings, store) as orchestrator:
        stop.append(orchestrator.request_stop)
        started = time.monotonic()
        report = orchestrator.run_once()
        took = time.monotonic() - started
        assert report.stopped
        first = store.items.count()
        assert 0 < first < 24, first
        state = store.feeds.health()[0]
        assert state.next_fetch_at is not None
    assert took < 5.0 + 5.0  # the grace period, not the whole feed
    with opened(settings) as store:
        feed_row = store.feeds.claim("test", datetime.now(UTC), timedelta(seconds=1))[0]
        # the document was not recorded as read: no body hash, so it is parsed again
        assert feed_row.validators.body_hash is None
        store.feeds.release("test")
    second = poll(settings)
    assert not second.stopped
    with opened(settings) as store:
        urls = sorted(i.canonical_url for i in store.items.iter_all())
        assert urls == sorted(links)  # every entry, each once
    assert second.new == 24 - first


# -- 3: pages that fail temporarily are fetched again ---------------------------------


def test_page_that_fails_temporarily_is_fetched_again_and_upgrades_its_item(
    site: Site, write_config: WriteConfig
) -> None:
    link = site.url("/story/")
    site.serve("/feed.xml", rss([Entry("Funeral crowds in Kerman", link)]))
    state = {"up": False}

    def page(_request: Request) -> Response:
        if not state["up"]:
            return Response("busy", status=503, headers={"Retry-After": "30"})
        return Response(PAGE, content_type="text/html; charset=utf-8")

    site.route("/story/", page)
    watchlists = [{"name": "Axis", "rules": [PAGE_ONLY_WORD]}]
    config = write_config([{"name": "Wire", "url": site.url("/feed.xml")}], watchlists=watchlists)
    settings = settings_of(config)
    first = poll(settings)
    assert first.new == 1
    with opened(settings) as store:
        (item,) = list(store.items.iter_all())
        assert item.extraction_method == "feed-summary"
        assert store.items.pending_ids() == {item.id}
        assert store.matches.list(watchlist="Axis") == []
    pending = cli(config, "items", "list", "--pending")
    assert "1 items waiting for their page" in pending and "Funeral crowds" in pending
    assert "pending: it will be fetched again" in cli(config, "items", "show", str(item.id))
    # The page is up again; the retry waits for its time (2 minutes, or Retry-After).
    state["up"] = True
    assert poll(settings).pages.tried == 0
    later = datetime.now(UTC) + timedelta(minutes=5)
    second = poll(settings, clock=lambda: later)
    assert second.pages.upgraded == 1
    with opened(settings) as store:
        upgraded = store.items.get(item.id)
        assert upgraded is not None
        assert upgraded.extraction_method == "trafilatura"
        assert upgraded.field_sources["text"] == "page"
        assert upgraded.fetch_error is None
        assert PAGE_ONLY_WORD in (upgraded.text or "")
        assert store.items.pending_ids() == set()
        hits = store.matches.list(watchlist="Axis")
        assert hits and {h.item_id for h in hits} == {item.id}
        assert store.items.count() == 1
    assert "0 items waiting for their page" in cli(config, "items", "list", "--pending")


def test_page_retries_end_with_the_reason_after_page_retry_for(
    site: Site, write_config: WriteConfig
) -> None:
    site.serve("/feed.xml", rss([Entry("Never there", site.url("/gone/"))]))
    site.route("/gone/", lambda _r: Response("down", status=502))
    settings = settings_of(
        write_config(
            [{"name": "Wire", "url": site.url("/feed.xml")}], fetch={"page_retry_for": "1h"}
        )
    )
    poll(settings)
    now = datetime.now(UTC)
    assert poll(settings, clock=lambda: now + timedelta(minutes=10)).pages.rescheduled == 1
    final = poll(settings, clock=lambda: now + timedelta(hours=7))
    assert final.pages.given_up == 1
    with opened(settings) as store:
        (item,) = list(store.items.iter_all())
        assert store.items.pending_ids() == set()
        assert "never arrived" in (item.fetch_error or ""), item.fetch_error
        assert "HTTP 502" in (item.fetch_error or "")
        assert item.text  # the feed's text is kept


# -- 4: distinct entries are never merged away ---------------------------------------


def test_entries_that_differ_only_by_fragment_are_each_kept(
    site: Site, write_config: WriteConfig
) -> None:
    page = site.url("/newsletter/")
    entries = [
        Entry(f"Issue {n}", f"{page}#issue-{n}", description=f"Issue {n}.") for n in range(111)
    ]
    site.serve("/feed.xml", rss(entries))
    settings = settings_of(write_config([{"name": "Letters", "url": site.url("/feed.xml")}]))
    assert poll(settings).new == 111
    with opened(settings) as store:
        urls = {i.canonical_url for i in store.items.iter_all()}
    assert urls == {f"{page}#issue-{n}" for n in range(111)}
    assert site.hits.get("/newsletter/", 0) == 0  # the shared page is not each entry's text
    site.serve("/feed.xml", rss(entries, title="Test feed, rebuilt"))
    again = poll(settings)
    assert (again.new, again.seen) == (0, 111)


BOILERPLATE = (
    "Subscribe to the channel for daily video reports from across the region, with "
    "interviews, analysis and footage from our correspondents. "
) * 5


def test_entries_with_identical_descriptions_are_not_merged(
    site: Site, write_config: WriteConfig
) -> None:
    entries = [
        Entry(f"Video {n}", site.url(f"/watch?v={n}"), guid=f"yt:{n}", description=BOILERPLATE)
        for n in range(20)
    ]
    site.serve("/feed.xml", rss(entries))
    settings = settings_of(
        write_config([{"name": "Channel", "url": site.url("/feed.xml"), "full_text": False}])
    )
    assert poll(settings).new == 20
    with opened(settings) as store:
        items = list(store.items.iter_all())
    assert sorted(i.title or "" for i in items) == sorted(f"Video {n}" for n in range(20))


def test_several_entries_under_one_link_are_recorded_with_their_own_guid_and_title(
    site: Site, write_config: WriteConfig
) -> None:
    live = site.url("/live/")
    site.serve("/live/", article(1), "text/html")
    entries = [Entry(f"Update {n}", live, guid=f"live-{n}") for n in range(3)]
    site.serve("/feed.xml", rss(entries))
    settings = settings_of(write_config([{"name": "Live", "url": site.url("/feed.xml")}]))
    poll(settings)
    with opened(settings) as store:
        (item,) = list(store.items.iter_all())
        recorded = store.items.entries([item.id])[item.id]
    assert sorted((e.guid, e.title) for e in recorded) == [
        (f"live-{n}", f"Update {n}") for n in range(3)
    ]
    site.serve("/feed.xml", rss(entries, title="rebuilt"))  # parsed again, not "not modified"
    again = poll(settings)
    assert (again.new, again.seen) == (0, 3)


def test_repeated_guids_link_less_entries_and_unusable_links(
    site: Site, write_config: WriteConfig
) -> None:
    for n in (1, 2):
        site.serve(f"/a/{n}/", article(n), "text/html")
    entries = [
        Entry("First under a reused GUID", site.url("/a/1/"), guid="same"),
        Entry("Second under a reused GUID", site.url("/a/2/"), guid="same"),
        Entry("Only a GUID", None, guid="tag:example.org,2026:no-link"),
        Entry("Nothing but words", None),
        Entry("Script link", "javascript:alert(1)", guid="js-1"),
        Entry("Data link", "data:text/html,<b>x</b>"),
    ]
    site.serve("/feed.xml", rss(entries))
    config = write_config([{"name": "Odd", "url": site.url("/feed.xml")}])
    settings = settings_of(config)
    first = poll(settings)
    assert (first.new, first.feeds[0].rejected) == (4, 2)
    with opened(settings) as store:
        items = list(store.items.iter_all())
        recorded = store.items.entries([i.id for i in items])
        rejections = store.entries.rejections()
    entry_titles = sorted(e.title or "" for found in recorded.values() for e in found)
    assert entry_titles == sorted(e.title for e in entries[:4])
    assert sorted(r.title or "" for r in rejections) == ["Data link", "Script link"]
    assert all("scheme" in r.reason and r.permanent for r in rejections)
    listed = cli(config, "items", "rejected")
    assert "2 entries not stored" in listed and "javascript: scheme" in listed
    exported = cli(config, "items", "export", "--format", "jsonl")
    assert "Second under a reused GUID" in exported  # each entry's own title is exported
    site.serve("/feed.xml", rss(entries, title="rebuilt"))
    again = poll(settings)
    assert (again.new, again.feeds[0].rejected) == (0, 2)
    with opened(settings) as store:
        assert {r.attempts for r in store.entries.rejections()} == {1}


# -- 5: a page that kills its worker -------------------------------------------------


def crashing_pool(workers: int = 2) -> WorkerPool:
    def factory() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=extract_hooks.crash_on_mark,
        )

    return WorkerPool(workers, factory=factory)


def test_a_page_that_kills_its_worker_is_quarantined_and_the_others_are_stored(
    site: Site, write_config: WriteConfig
) -> None:
    for n in range(6):
        extra = extract_hooks.CRASH_MARK.decode() if n == 3 else ""
        site.serve(f"/a/{n}/", article(n, extra), "text/html")
    site.serve("/feed.xml", rss([Entry(f"Story {n}", site.url(f"/a/{n}/")) for n in range(6)]))
    settings = settings_of(write_config([{"name": "Wire", "url": site.url("/feed.xml")}]))
    pool = crashing_pool()
    try:
        report = poll(settings, pool=pool)
        assert report.new == 6
        assert pool.rebuilds >= 2
        with opened(settings) as store:
            items = {i.canonical_url: i for i in store.items.iter_all()}
        killer = items[site.url("/a/3/")]
        assert killer.extraction_method == "feed-summary"
        assert "quarantined" in (killer.fetch_error or ""), killer.fetch_error
        others = [i for url, i in items.items() if url != site.url("/a/3/")]
        assert all(i.extraction_method == "trafilatura" for i in others)
        # the pool works after the breakage: a new feed entry is extracted
        site.serve("/a/9/", article(9), "text/html")
        entries = [Entry(f"Story {n}", site.url(f"/a/{n}/")) for n in (*range(6), 9)]
        site.serve("/feed.xml", rss(entries, title="rebuilt"))
        assert poll(settings, pool=pool).new == 1
    finally:
        pool.close()


# -- 8: pages held in memory are bounded ------------------------------------------------


def slow_pool(workers: int = 1) -> WorkerPool:
    def factory() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=extract_hooks.slow_extraction,
        )

    return WorkerPool(workers, factory=factory)


def test_pages_are_fetched_only_as_fast_as_they_are_extracted(
    site: Site, write_config: WriteConfig
) -> None:
    served: list[float] = []

    def page(request: Request) -> Response:
        served.append(time.monotonic())
        return Response(article(int(request.path.split("/")[2])), content_type="text/html")

    for n in range(40):
        site.route(f"/a/{n}/", page)
    site.serve("/feed.xml", rss([Entry(f"Story {n}", site.url(f"/a/{n}/")) for n in range(40)]))
    settings = settings_of(
        write_config([{"name": "Wire", "url": site.url("/feed.xml")}], extract={"workers": 1})
    )
    pool = slow_pool()
    try:
        started = time.monotonic()
        assert poll(settings, pool=pool).new == 40
    finally:
        pool.close()
    # Each extraction takes >= 0.3 s in the one worker; with 4 slots per worker taken
    # before fetching, no more than 4 pages wait ahead of it.  Without the bound all 40
    # pages are fetched in the first second.
    early = [t for t in served if t - started < 1.5]
    assert len(early) <= 4 + 6, len(early)
