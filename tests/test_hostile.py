"""Hostile servers: every way a feed or article server can misbehave, in one run.

One ``monitor run --once`` subprocess polls every case of :mod:`tests.hostile`
(slow, dripping, unreachable, compressed into bombs, mis-encoded, lying about
what it serves, pointing at other private hosts...) together with a good feed,
on SQLite and on PostgreSQL.  Each case is then judged on its own from what the
run left in the database: the run ended in bounded time and memory, the good
feed is all stored, the failure is on the feed with a clear reason, and nothing
is stored that should not be.  Targeted in-process runs cover what takes two
polls: a page that failed temporarily is fetched again, and a feed too big for
one poll is worked newest first over several.

The settings are small (3 s per request, 8 MB per response, 20 s per feed) so
the whole run takes about 30 s.
"""

from __future__ import annotations

import socket
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import brotli
import pytest

from monitor.config import load_settings
from monitor.orchestrator import Orchestrator
from monitor.storage import Store
from tests.conftest import config_file
from tests.hostile import (
    ARABIC_CHANNEL,
    ARABIC_DESCRIPTION,
    ARABIC_TITLE,
    BAD_DATES,
    DATA_SENTINEL,
    MIXED_CHANNEL,
    MIXED_TITLE,
    Case,
    GiB,
    HostileWeb,
    MiB,
    MonitorRun,
    RawHTTPServer,
    Request,
    Snapshot,
    Wire,
    article_html,
    as_utc,
    brotli_bomb,
    bulk_feed,
    bulk_index,
    crc32_of_zeros,
    deflate_bomb,
    find_text,
    nested_gzip_bomb,
    passwd_first_line,
    rss,
    run_monitor,
    snapshot,
    static,
)

MAX_BYTES = 8_000_000  # the 50,000-entry feed is 5.3 MB; oversize bodies are 3x this
FEED_BUDGET = 20
TOTAL_TIMEOUT = 3
MAX_ENTRIES = 25
FETCH = {
    "connect_timeout": 2,
    "read_timeout": 10,  # longer than total_timeout: only the total deadline stops a drip
    "total_timeout": TOTAL_TIMEOUT,
    "max_bytes": "8MB",
    "feed_budget": f"{FEED_BUDGET}s",
    "max_entries_per_poll": MAX_ENTRIES,
}
RUN_LIMIT = 150  # seconds: the run is killed after this (it takes about 30)
# Per process of the run.  Run alone the main process peaks at about 242 MiB; in the whole
# suite under CI it has peaked at 455 MiB (2026-12-02, cause not yet found: RELIABILITY.md,
# "open"), so the bound is 500 MiB until that is understood.  A bomb that got through would
# take gigabytes, so this still catches what the test is for.
RSS_LIMIT = 500 * MiB
FAILED = ("temporary", "soft", "hard")
SLACK = 5  # seconds of bookkeeping allowed on top of a deadline
# Reading the document itself is bounded by its size (max_bytes), not by the budget, which
# is for working its entries: parsing the 5 MB, 50,000-entry document takes 10-20 s here.
PARSE_ALLOWANCE = 25
slow = pytest.mark.slow


@dataclass
class HostileRun:
    web: HostileWeb
    database: str
    config: Path
    run: MonitorRun
    snap: Snapshot
    started: datetime
    finished: datetime

    def feed(self, name: str) -> dict[str, Any]:
        return self.snap.feeds[name]

    def items(self, name: str) -> list[dict[str, Any]]:
        return self.snap.items.get(name, [])

    def item(self, name: str, url: str) -> dict[str, Any]:
        found = [i for i in self.items(name) if url in (i["url"], i["canonical_url"])]
        stored = [i["url"] for i in self.items(name)]
        assert len(found) == 1, f"{name}: expected one item for {url}, stored: {stored}"
        return found[0]

    def recorded(self, needle: str) -> list[tuple[str, str]]:
        """(table, reason) for every row that mentions ``needle``; the reason is the row's
        first non-empty column named like ``reason`` or ``*error``."""
        found = []
        for table, rows in self.snap.tables.items():
            for row in rows:
                if not any(isinstance(v, str) and needle in v for v in row.values()):
                    continue
                reasons = [str(v) for k, v in row.items() if ("reason" in k or "error" in k) and v]
                found.append((table, reasons[0] if reasons else ""))
        return found

    def explain(self, name: str) -> str:
        feed = self.feed(name)
        items = [(i["url"], i["title"], i["extraction_method"], i["fetch_error"])
                 for i in self.items(name)]  # fmt: skip
        return (
            f"{name}: outcome={feed['last_outcome']!r} error={feed['last_error']!r} "
            f"duration={feed['last_duration']} items={items}"
        )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def hostile(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileRun]:
    """One ``monitor run --once`` over every hostile case (and the good feed)."""
    directory = tmp_path_factory.mktemp(f"hostile-{request.param}")
    drop: Callable[[], None] | None = None
    if request.param == "sqlite":
        database = f"sqlite:///{directory / 'monitor.db'}"
    else:
        import psycopg

        admin = str(request.getfixturevalue("pg_admin_url"))
        name = f"monitor_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        base = admin.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
        database = f"{base}/{name}"

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    try:
        with HostileWeb(max_bytes=MAX_BYTES) as web:
            config = config_file(directory, database, web.feeds(), fetch=FETCH)
            started = datetime.now(UTC)
            run = run_monitor(config, "run", "--once", timeout=RUN_LIMIT)
            finished = datetime.now(UTC)
        yield HostileRun(web, database, config, run, snapshot(database), started, finished)
    finally:
        if drop:
            drop()


# -- the run as a whole -----------------------------------------------------------------------


@slow
def test_run_ends_in_bounded_time_and_memory(hostile: HostileRun) -> None:
    run = hostile.run
    figures = (
        f"wall {run.wall:.1f}s, main {run.peak_rss / MiB:.0f} MiB, largest process "
        f"{run.peak_rss_any / MiB:.0f} MiB, all processes {run.peak_rss_total / MiB:.0f} MiB"
    )
    assert not run.timed_out, f"killed after {RUN_LIMIT}s; {figures}\n{run.stderr[-3000:]}"
    assert run.returncode == 0, f"{figures}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert run.peak_rss <= RSS_LIMIT, figures
    assert run.peak_rss_any <= RSS_LIMIT, figures
    assert run.left_behind == 0, f"{run.left_behind} processes outlived the run"


@slow
def test_no_defect_surfaced(hostile: HostileRun) -> None:
    """Hostile input is an outcome, never an internal error or a traceback."""
    internal = {
        name: feed["last_error"]
        for name, feed in hostile.snap.feeds.items()
        if "internal error" in (feed["last_error"] or "")
    }
    assert not internal
    assert "Traceback" not in hostile.run.stderr, hostile.run.stderr[-5000:]


@slow
def test_every_feed_is_recorded_within_its_budget(hostile: HostileRun) -> None:
    assert set(hostile.snap.feeds) == set(hostile.web.cases)
    for name, feed in hostile.snap.feeds.items():
        assert feed["last_outcome"], f"{name} was never polled"
        assert as_utc(feed["last_fetched_at"]) is not None, name
        bound = TOTAL_TIMEOUT + PARSE_ALLOWANCE + FEED_BUDGET + SLACK
        assert feed["last_duration"] <= bound, hostile.explain(name)
        if feed["last_outcome"] in FAILED:
            assert feed["last_error"], f"{name} failed without a reason"


@slow
def test_good_feed_is_all_stored_in_the_same_run(hostile: HostileRun) -> None:
    items = hostile.items(HostileWeb.GOOD)
    assert sorted(i["canonical_url"] for i in items) == sorted(hostile.web.good_urls())
    for item in items:
        assert item["extraction_method"] == "trafilatura", hostile.explain(HostileWeb.GOOD)
        assert item["word_count"] > 50


@slow
def test_failed_feeds_store_nothing(hostile: HostileRun) -> None:
    for case in hostile.web.cases.values():
        if case.fails:
            assert hostile.items(case.name) == [], hostile.explain(case.name)


@slow
def test_other_private_host_never_contacted(hostile: HostileRun) -> None:
    """127.0.0.2 is linked, redirected to and named in an external entity; the feeds on
    127.0.0.1 may reach 127.0.0.1 only, and the feed on 127.0.0.2 has no allowance."""
    other = hostile.web.other
    assert other.connections == 0, f"127.0.0.2 was asked for {dict(other.hits)}"
    control = "Beirut deputies spar"  # a title of the good feed: the scan does find things
    found = {needle for _, _, needle in find_text(hostile.database, [control, "Bait text"])}
    assert found == {control}


@slow
def test_no_local_file_content_is_stored(hostile: HostileRun) -> None:
    """External entities and file: links name /etc/passwd; no column of any table holds it."""
    line, control = passwd_first_line(), ARABIC_DESCRIPTION  # the control is stored
    found = {needle for _, _, needle in find_text(hostile.database, [line, DATA_SENTINEL, control])}
    assert found == {control}


@slow
def test_feeds_list_shows_each_failure_and_its_reason(hostile: HostileRun) -> None:
    listing = run_monitor(hostile.config, "feeds", "list", timeout=60)
    assert listing.returncode == 0, listing.stderr
    flat = " ".join(listing.stdout.split())
    for case in hostile.web.cases.values():
        feed = hostile.feed(case.name)
        if feed["last_outcome"] in FAILED:
            reason = " ".join(feed["last_error"].split())[:30]
            assert f"{feed['last_outcome']}: {reason}" in flat, (case.name, listing.stdout)


# -- each case ---------------------------------------------------------------------------------

Check = Callable[[HostileRun, Case], None]
CHECKS: dict[str, Check] = {}


def check(*names: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        for name in names:
            CHECKS[name] = function
        return function

    return register


def _reason(run: HostileRun, name: str, *words: str) -> None:
    error = (run.feed(name)["last_error"] or "").lower()
    assert any(w in error for w in words), (
        f"reason should say {' or '.join(words)}: " + run.explain(name)
    )


def _within(run: HostileRun, name: str, seconds: float) -> None:
    assert run.feed(name)["last_duration"] <= seconds, run.explain(name)


@check(HostileWeb.GOOD)
def _good(run: HostileRun, case: Case) -> None:
    assert len(run.items(case.name)) == 3, run.explain(case.name)


@check("connect-hang")
def _connect_hang(run: HostileRun, case: Case) -> None:
    assert run.feed(case.name)["last_outcome"] == "temporary", run.explain(case.name)
    _reason(run, case.name, "timed out", "timeout")
    _within(run, case.name, TOTAL_TIMEOUT + SLACK)


@check("drip-feed")
def _drip_feed(run: HostileRun, case: Case) -> None:
    assert run.feed(case.name)["last_outcome"] == "temporary", run.explain(case.name)
    _reason(run, case.name, "timed out", "timeout", "total")
    _within(run, case.name, TOTAL_TIMEOUT + SLACK)


@check("drip-page")
def _drip_page(run: HostileRun, case: Case) -> None:
    quick = run.item(case.name, run.web.article_url("drip-page-ok"))
    assert quick["extraction_method"] == "trafilatura"
    slow_url = run.web.main.url("/slow/page")
    records = run.recorded(slow_url)
    assert any(reason for _, reason in records), f"{slow_url} lost: {records}"
    pending = [t for t, _ in records if t not in ("items", "feed_items", "item_pages")]
    assert pending, f"the dripping page is not kept pending for a retry: {records}"
    assert all(i["extraction_method"] != "trafilatura" for i in run.items(case.name)
               if i["url"] == slow_url)  # fmt: skip
    _within(run, case.name, TOTAL_TIMEOUT + 2 * SLACK)


@check("status-500", "status-502", "status-503")
def _status(run: HostileRun, case: Case) -> None:
    status = int(case.name.rsplit("-", 1)[1])
    feed = run.feed(case.name)
    assert feed["last_outcome"] == "temporary" and feed["last_status"] == status, run.explain(
        case.name
    )
    _reason(run, case.name, str(status))


@check("status-429")
def _too_many_requests(run: HostileRun, case: Case) -> None:
    feed = run.feed(case.name)
    assert feed["last_outcome"] == "temporary", run.explain(case.name)
    _reason(run, case.name, "429")
    next_poll = as_utc(feed["next_fetch_at"])
    assert next_poll is not None
    assert next_poll >= run.started + timedelta(seconds=run.web.retry_after - 60), next_poll


@check("redirect-loop")
def _redirect_loop(run: HostileRun, case: Case) -> None:
    assert run.feed(case.name)["last_outcome"] == "hard", run.explain(case.name)
    _reason(run, case.name, "redirect")
    hops = run.web.main.hits["/loop/a"] + run.web.main.hits["/loop/b"]
    assert hops <= 12, f"followed the loop {hops} times"


@check("redirect-chain-15")
def _redirect_chain(run: HostileRun, case: Case) -> None:
    assert run.feed(case.name)["last_outcome"] == "hard", run.explain(case.name)
    _reason(run, case.name, "redirect")
    hits = run.web.main.hits
    assert sum(hits[f"/chain/{n}"] for n in range(1, 16)) <= 11
    assert hits["/feed/"] == 1, "the chain's end (the good feed) was reached"


@check("gzip-bomb", "deflate-bomb", "brotli-bomb", "gzip-gzip-bomb")
def _bomb(run: HostileRun, case: Case) -> None:
    assert run.feed(case.name)["last_outcome"] == "soft", run.explain(case.name)
    _reason(run, case.name, "max_bytes", "cap", "too large")
    _within(run, case.name, TOTAL_TIMEOUT + SLACK)


@check("page-bomb")
def _page_bomb(run: HostileRun, case: Case) -> None:
    item = run.item(case.name, run.web.main.url("/bombs/page"))
    assert item["extraction_method"] != "trafilatura", run.explain(case.name)
    assert "max_bytes" in (item["fetch_error"] or ""), run.explain(case.name)
    assert item["text"] and item["text"].startswith("Feed text of"), run.explain(case.name)


@check("oversize-length", "oversize-chunked")
def _oversize(run: HostileRun, case: Case) -> None:
    assert run.feed(case.name)["last_outcome"] == "soft", run.explain(case.name)
    _reason(run, case.name, "max_bytes", "cap", "too large")


@check("invalid-xml")
def _invalid_xml(run: HostileRun, case: Case) -> None:
    _reason(run, case.name, "not a feed", "well-formed", "xml")


@check("html-page")
def _html_page(run: HostileRun, case: Case) -> None:
    _reason(run, case.name, "html")


@check("empty-200")
def _empty(run: HostileRun, case: Case) -> None:
    _reason(run, case.name, "empty", "0 bytes", "no content")


@check("billion-laughs")
def _billion_laughs(run: HostileRun, case: Case) -> None:
    for item in run.items(case.name):
        for column in ("title", "summary", "text"):
            assert len(item[column] or "") < 2000, (column, len(item[column]))
    assert find_text(run.database, ["lollollollol"]) == []


@check("xxe")
def _xxe(run: HostileRun, case: Case) -> None:
    leaked = "root:" in (run.feed(case.name)["title"] or "")
    for item in run.items(case.name):
        leaked |= any("root:" in (item[c] or "") for c in ("title", "summary", "text"))
    assert not leaked, run.explain(case.name)


@check("cp1256-declared", "cp1256-undeclared")
def _arabic(run: HostileRun, case: Case) -> None:
    item = run.item(case.name, run.web.article_url(case.name))
    assert item["title"] == ARABIC_TITLE, f"stored {item['title']!r}"
    assert ARABIC_DESCRIPTION in (item["text"] or ""), f"stored {item['text']!r}"
    assert run.feed(case.name)["title"] == ARABIC_CHANNEL


@check("utf8-bom", "latin1-is-utf8")
def _mixed(run: HostileRun, case: Case) -> None:
    item = run.item(case.name, run.web.article_url(case.name))
    assert item["title"] == MIXED_TITLE, f"stored {item['title']!r}"
    assert run.feed(case.name)["title"] == MIXED_CHANNEL


@check("bad-dates")
def _bad_dates(run: HostileRun, case: Case) -> None:
    """The pages carry no date and every feed date is nonsense or in the future, so the
    items must have none: not year 9999, not a date made up from month 13."""
    dates = {}
    for n, (label, written) in enumerate(BAD_DATES):
        item = run.item(case.name, run.web.article_url(f"date-{n}"))
        dates[f"{label} ({written})"] = as_utc(item["published_at"])
    assert all(d is None for d in dates.values()), dates


@check("bulk-50k")
def _bulk(run: HostileRun, case: Case) -> None:
    indexes = sorted(bulk_index(i["url"]) for i in run.items(case.name))
    newest = set(range(run.web.bulk_entries - MAX_ENTRIES, run.web.bulk_entries))
    assert indexes, "nothing stored in this poll: " + run.explain(case.name)
    assert set(indexes) <= newest, f"not the newest: {indexes}"
    # the budget is for working entries; reading the 50,000-entry document comes first
    _within(run, case.name, PARSE_ALLOWANCE + FEED_BUDGET + SLACK)


@check("duplicate-guids")
def _duplicate_guids(run: HostileRun, case: Case) -> None:
    for slug in ("dup-a", "dup-b"):
        assert run.item(case.name, run.web.article_url(slug))["extraction_method"] == "trafilatura"


@check("relative-links")
def _relative_links(run: HostileRun, case: Case) -> None:
    for slug in ("rel-path", "rel-proto"):
        item = run.item(case.name, run.web.article_url(slug))
        assert item["extraction_method"] == "trafilatura", run.explain(case.name)


@check("fragment-links")
def _fragments(run: HostileRun, case: Case) -> None:
    titles = sorted(i["title"] for i in run.items(case.name))
    assert titles == ["Update one", "Update two"], run.explain(case.name)


@check("short-descriptions")
def _short_descriptions(run: HostileRun, case: Case) -> None:
    items = run.items(case.name)
    assert sorted(i["title"] for i in items) == ["Teaser one", "Teaser two"], run.explain(case.name)
    assert all(i["duplicate_of"] is None for i in items), run.explain(case.name)


@check("bad-schemes")
def _bad_schemes(run: HostileRun, case: Case) -> None:
    """Never fetched (nothing but the feed's text can be stored for them), never lost."""
    for kind in ("javascript", "data", "file"):
        title = f"Entry with a {kind} link"
        records = run.recorded(title)
        assert records, f"{title!r} vanished without a trace"
        assert all(reason for _, reason in records), (
            f"{title!r} recorded without a reason: {records}"
        )
        for item in run.items(case.name):
            if item["title"] == title:
                assert item["extraction_method"] != "trafilatura", run.explain(case.name)
    ok = run.item(case.name, run.web.article_url("scheme-ok"))
    assert ok["extraction_method"] == "trafilatura"


@check("pdf-image")
def _pdf_image(run: HostileRun, case: Case) -> None:
    for path, kind, description in (
        ("/files/report.pdf", "pdf", "The annual report."),
        ("/files/photo.png", "image", "Photo of the harbour."),
    ):
        item = run.item(case.name, run.web.main.url(path))
        assert item["extraction_method"] != "trafilatura", run.explain(case.name)
        assert kind in (item["fetch_error"] or "").lower(), run.explain(case.name)
        assert description in (item["text"] or ""), run.explain(case.name)


@check("private-links")
def _private_links(run: HostileRun, case: Case) -> None:
    assert run.item(case.name, run.web.article_url("private-ok"))["extraction_method"] == (
        "trafilatura"
    )
    for title in ("Link to another private host", "Redirect to another private host"):
        records = run.recorded(title)
        assert records, f"{title!r} vanished"
        reasons = " ".join(reason for _, reason in records)
        assert "loopback" in reasons or "private" in reasons, records
    assert run.web.other.connections == 0


@check("private-feed", "private-redirect")
def _private_feed(run: HostileRun, case: Case) -> None:
    assert run.feed(case.name)["last_outcome"] == "hard", run.explain(case.name)
    _reason(run, case.name, "loopback", "private", "allow_private")
    assert run.web.other.connections == 0


@slow
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_case(hostile: HostileRun, name: str) -> None:
    case = hostile.web.cases[name]
    outcome = hostile.feed(name)["last_outcome"]
    if case.fails is True:
        assert outcome in FAILED, hostile.explain(name)
    elif case.fails is False:
        assert outcome == "ok", hostile.explain(name)
    CHECKS[name](hostile, case)


def test_every_case_has_a_check() -> None:
    with HostileWeb(max_bytes=MAX_BYTES, bulk_entries=10, bomb_size=64 * MiB) as web:
        assert set(web.cases) == set(CHECKS)


# -- what takes more than one poll (in-process, SQLite) ------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _settings(tmp_path: Path, server: RawHTTPServer, **fetch: Any) -> Any:
    feeds = [{"name": "site", "url": server.url("/feed.xml"), "allow_private": True}]
    config = config_file(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}", feeds,
                         fetch={**FETCH, **fetch})  # fmt: skip
    return load_settings(config)


@slow
def test_page_that_failed_temporarily_is_fetched_again(tmp_path: Path) -> None:
    """A 503 on an article page keeps the entry pending; once its retry is due, the next
    poll fetches the page again and the item gets the page's full text."""
    with RawHTTPServer() as server:
        answers = iter([static(b"busy", "text/plain", 503)])

        def flaky(request: Request, wire: Wire) -> None:
            next(answers, static(article_html("flaky-article")))(request, wire)

        document = rss("Site", server.base, [
            {"title": "Flaky", "link": server.url("/flaky"), "guid": "flaky-1",
             "description": "Feed text."},
        ])  # fmt: skip
        server.route("/feed.xml", static(document.encode(), "application/rss+xml"))
        server.route("/flaky", flaky)
        settings, clock = _settings(tmp_path, server), Clock()
        database = f"sqlite:///{tmp_path / 'monitor.db'}"
        with (
            Store.from_settings(settings) as store,
            Orchestrator(settings, store, clock=clock) as o,
        ):
            o.run_once()
            assert server.hits["/flaky"] == 1
            first = snapshot(database).items["site"]
            assert all(i["extraction_method"] != "trafilatura" for i in first)
            clock.now += timedelta(hours=2)
            o.run_once()
        assert server.hits["/flaky"] == 2, dict(server.hits)
        items = snapshot(database).items["site"]
        assert [i["extraction_method"] for i in items] == ["trafilatura"], items


@slow
def test_big_feed_is_worked_newest_first_over_several_polls(tmp_path: Path) -> None:
    """More new entries than one poll may take: the newest now, the next newest next
    time (the feed body has not changed, but it is not done), no page fetched twice."""
    count, per_poll = 3000, 10
    with RawHTTPServer() as server:
        server.route("/feed.xml", static(bulk_feed(server.base, count), "application/rss+xml"))
        server.route_prefix("/bulk/", lambda r, w: static(article_html(r.path))(r, w))
        settings = _settings(tmp_path, server, max_entries_per_poll=per_poll, feed_budget="60s")
        database = f"sqlite:///{tmp_path / 'monitor.db'}"
        with Store.from_settings(settings) as store, Orchestrator(settings, store) as o:
            o.run_once()
            first = {bulk_index(i["url"]) for i in snapshot(database).items["site"]}
            o.run_once()
            both = {bulk_index(i["url"]) for i in snapshot(database).items["site"]}
        pages = {p: n for p, n in server.hits.items() if p.startswith("/bulk/")}
    assert first == set(range(count - per_poll, count))
    assert both == set(range(count - 2 * per_poll, count))
    assert set(pages.values()) == {1}, "a page was fetched twice"


# -- the hostile web itself ------------------------------------------------------------------


def test_crc32_of_zeros_matches_zlib() -> None:
    for length in (0, 1, 7, 4096, 65537, 3 * MiB + 5):
        assert crc32_of_zeros(length) == zlib.crc32(bytes(length))


def test_bombs_are_valid_streams() -> None:
    assert zlib.decompress(deflate_bomb(4 * MiB, block=MiB).data(), 31) == bytes(4 * MiB)
    assert zlib.decompress(deflate_bomb(4 * MiB, gzip=False, block=MiB).data()) == bytes(4 * MiB)
    assert brotli.decompress(brotli_bomb(4 * MiB, block=MiB).data()) == bytes(4 * MiB)
    inner = zlib.decompress(nested_gzip_bomb(32 * MiB).data(), 31)
    assert zlib.decompress(inner, 31) == bytes(32 * MiB)


def test_bombs_inflate_a_thousandfold_and_more() -> None:
    assert brotli_bomb(GiB).length < 4096
    assert nested_gzip_bomb(GiB).length < 4096
    gzip = deflate_bomb(GiB)
    assert gzip.length < 1.1 * MiB  # deflate's limit is about 1032:1
    inflater, head = zlib.decompressobj(31), gzip.data()[: 64 * 1024]
    assert len(inflater.decompress(head, 128 * MiB)) >= 60 * MiB


def test_blackhole_connect_never_completes() -> None:
    with HostileWeb(max_bytes=MAX_BYTES, bulk_entries=10, bomb_size=64 * MiB) as web:
        url = web.cases["connect-hang"].url
        port = int(url.split(":")[2].split("/")[0])
        probe = socket.socket()
        probe.settimeout(0.5)
        with pytest.raises(TimeoutError):
            probe.connect(("127.0.0.1", port))
        probe.close()


def test_drip_sends_one_byte_a_second() -> None:
    with HostileWeb(max_bytes=MAX_BYTES, bulk_entries=10, bomb_size=64 * MiB) as web:
        with socket.create_connection(("127.0.0.1", web.main.port), timeout=5) as client:
            client.sendall(b"GET /slow/page HTTP/1.1\r\nHost: x\r\n\r\n")
            received, started = b"", time.monotonic()
            while b"\r\n\r\n" not in received:
                received += client.recv(4096)
            client.settimeout(0.2)
            while time.monotonic() - started < 1.5:
                try:
                    received += client.recv(4096)
                except TimeoutError:
                    continue
        body = received.split(b"\r\n\r\n", 1)[1]
        assert b"Content-Length" in received and 1 <= len(body) <= 3, body
