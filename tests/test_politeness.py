"""Per-host politeness, checked by the times a real loopback server saw the requests.

``Loopback`` (also used by tests/test_adaptive_schedule.py and tests/test_feed_moves.py)
is a threaded HTTP server that answers by path and records, for every request, when it
arrived and when its answer was sent, so a test can count the requests in flight at any
moment and the spacing of their starts.  Margins are generous: the limits are checked as
"at least", never as "exactly".
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.config import FetchSettings, Settings, load_settings
from monitor.orchestrator import Orchestrator
from monitor.pipeline.fetch import Fetcher
from monitor.pipeline.hosts import MAX_PAUSE, HostPauses
from monitor.pipeline.types import Fetched, Outcome
from monitor.storage import Store

Answer = tuple[int, dict[str, str], bytes]
Route = Callable[[str], Answer]


@dataclass
class Hit:
    path: str
    start: float  # time.monotonic() when the request arrived
    end: float = 0.0  # when its answer was sent
    clock: datetime | None = None  # the test's fake clock at that moment, if any


@dataclass
class Loopback:
    """A threaded HTTP server on ``host`` (127.0.0.1, 127.0.0.2...) recording its hits."""

    host: str = "127.0.0.1"
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    clock: Callable[[], datetime] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Loopback:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hit = Hit(self.path, time.monotonic(), clock=owner.clock() if owner.clock else None)
                with owner._lock:
                    owner.hits.append(hit)
                route = owner.routes.get(self.path)
                status, headers, body = route(self.path) if route else (404, {}, b"not found")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                hit.end = time.monotonic()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, answer: Route) -> None:
        self.routes[path] = answer

    def of(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def peak(self) -> int:
        """The most requests the server was answering at one moment."""
        with self._lock:
            events = sorted([(h.start, 1) for h in self.hits] + [(h.end, -1) for h in self.hits])
        now = top = 0
        for _when, step in events:
            now += step
            top = max(top, now)
        return top


@pytest.fixture
def server() -> Iterator[Loopback]:
    running = Loopback().start()
    yield running
    running.close()


@pytest.fixture
def other() -> Iterator[Loopback]:
    """Another host: 127.0.0.2."""
    running = Loopback("127.0.0.2").start()
    yield running
    running.close()


def slow(seconds: float, body: bytes = b"<p>page</p>") -> Route:
    def answer(_path: str) -> Answer:
        time.sleep(seconds)
        return 200, {"Content-Type": "text/html"}, body

    return answer


def fetch_pages(
    urls: list[str], pauses: HostPauses | None = None, **settings: Any
) -> list[Fetched]:
    values: dict[str, Any] = {"connect_timeout": 2.0, "read_timeout": 5.0, **settings}

    async def run() -> list[Fetched]:
        async with Fetcher(FetchSettings(**values), pauses=pauses) as fetcher:
            return list(
                await asyncio.gather(*(fetcher.fetch_page(u, allow_host=_host(u)) for u in urls))
            )

    return asyncio.run(run())


def _host(url: str) -> str:
    return url.split("//", 1)[1].split(":", 1)[0]


def starts(hits: list[Hit]) -> list[float]:
    return sorted(h.start for h in hits)


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


# -- concurrency and spacing --------------------------------------------------------------


def test_never_more_than_per_host_requests_in_flight(server: Loopback) -> None:
    for n in range(8):
        server.route(f"/p/{n}", slow(0.2))
    results = fetch_pages([server.url(f"/p/{n}") for n in range(8)], per_host=2, per_host_delay=0)
    assert [r.outcome for r in results] == [Outcome.OK] * 8
    assert len(server.hits) == 8
    assert server.peak() == 2  # the limit, and reached: the server does answer in parallel


def test_requests_to_one_host_start_per_host_delay_apart(server: Loopback, other: Loopback) -> None:
    for n in range(5):
        server.route(f"/p/{n}", slow(0.0))
        other.route(f"/p/{n}", slow(0.0))
    urls = [server.url(f"/p/{n}") for n in range(5)] + [other.url(f"/p/{n}") for n in range(5)]
    began = time.monotonic()
    results = fetch_pages(urls, per_host=4, per_host_delay=0.3)
    assert all(r.outcome is Outcome.OK for r in results)
    for host in (server, other):
        spacing = gaps(starts(host.hits))
        assert len(spacing) == 4
        assert min(spacing) >= 0.25, spacing  # 0.3 s asked, timer slack allowed
    # the hosts are paced independently: the second host's first request did not wait
    # behind the first host's five
    assert starts(other.hits)[0] - began < 0.5


def test_the_default_delay_is_one_second_between_requests_to_a_host(server: Loopback) -> None:
    assert FetchSettings().per_host_delay == 1.0
    for n in range(2):
        server.route(f"/p/{n}", slow(0.0))
    fetch_pages([server.url(f"/p/{n}") for n in range(2)])
    assert gaps(starts(server.hits))[0] >= 0.9


# -- Retry-After --------------------------------------------------------------------------


def too_many(retry_after: str, status: int = 429) -> Route:
    return lambda _p: (status, {"Retry-After": retry_after}, b"slow down")


@pytest.mark.parametrize("status", [429, 503])
def test_a_short_retry_after_pauses_the_whole_host_then_requests_resume(
    server: Loopback, other: Loopback, status: int
) -> None:
    server.route("/first", too_many("1", status))
    for n in range(3):
        server.route(f"/p/{n}", slow(0.0))
    other.route("/p/0", slow(0.0))

    async def run() -> list[Fetched]:
        settings = FetchSettings(per_host=4, per_host_delay=0)
        async with Fetcher(settings) as fetcher:
            first = await fetcher.fetch_page(server.url("/first"), allow_host="127.0.0.1")
            rest = await asyncio.gather(
                *(
                    fetcher.fetch_page(server.url(f"/p/{n}"), allow_host="127.0.0.1")
                    for n in range(3)
                ),
                fetcher.fetch_page(other.url("/p/0"), allow_host="127.0.0.2"),
            )
            return [first, *rest]

    results = asyncio.run(run())
    assert results[0].outcome is Outcome.TEMPORARY and results[0].retry_after == 1
    assert [r.outcome for r in results[1:]] == [Outcome.OK] * 4  # waited out, then fetched
    paused_at = server.of("/first")[0].end
    later = [h.start for h in server.hits if h.path != "/first"]
    assert len(later) == 3
    assert min(later) - paused_at >= 0.9, (paused_at, later)  # 1 s asked
    assert other.hits[0].start - paused_at < 0.5  # another host is not paused


def test_a_retry_after_as_an_http_date_pauses_the_host(server: Loopback) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    server.route("/first", too_many(when, 503))
    server.route("/next", slow(0.0))

    async def run() -> Fetched:
        async with Fetcher(FetchSettings(per_host_delay=0)) as fetcher:
            await fetcher.fetch_page(server.url("/first"), allow_host="127.0.0.1")
            return await fetcher.fetch_page(server.url("/next"), allow_host="127.0.0.1")

    assert asyncio.run(run()).outcome is Outcome.OK
    # an HTTP date has whole seconds: 3 s ahead is at least 2 s of pause
    assert server.of("/next")[0].start - server.of("/first")[0].end >= 1.5


def test_a_long_retry_after_stops_requests_to_the_host_and_outlives_the_poll(
    server: Loopback, other: Loopback
) -> None:
    server.route("/first", too_many("600"))
    server.route("/next", slow(0.0))
    other.route("/next", slow(0.0))
    pauses = HostPauses()
    first = fetch_pages([server.url("/first")], pauses, per_host_delay=0)[0]
    assert first.retry_after == 600
    # the next poll (a new Fetcher, the same pauses) sends nothing to the paused host
    second = fetch_pages([server.url("/next"), other.url("/next")], pauses, per_host_delay=0)
    assert server.of("/next") == []
    assert second[0].outcome is Outcome.TEMPORARY
    assert second[0].error is not None and "Retry-After 600s" in second[0].error
    assert second[0].retry_after is not None and 590 <= second[0].retry_after <= 600
    assert second[1].outcome is Outcome.OK and len(other.of("/next")) == 1


def test_a_retry_after_is_bounded_to_an_hour() -> None:
    now = [1000.0]
    pauses = HostPauses(clock=lambda: now[0])
    pauses.pause("example.org", 10**9, "HTTP 429")
    assert pauses.left("example.org")[0] == MAX_PAUSE == 3600
    now[0] += MAX_PAUSE
    assert pauses.left("example.org") == (0.0, "")


# -- through the orchestrator: feeds and pages -------------------------------------------


def rss(base: str, links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Story {n}</title><link>{base}{link}</link><guid>{base}{link}</guid>"
        f"<description>Story {n} of the day.</description></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>{base}/</link><description>d</description>{items}</channel></rss>"
    ).encode()


ARTICLE = (
    b"<html><head><title>Story</title></head><body><article><h1>Story</h1>"
    + b"<p>"
    + b"A long enough paragraph of the article, with words enough to be text. " * 12
    + b"</p></article></body></html>"
)


def settings_for(
    tmp_path: Path, db_url: str, feeds: list[dict[str, Any]], **extra: Any
) -> Settings:
    from tests.conftest import config_file

    return load_settings(config_file(tmp_path, db_url, feeds, **extra))


def test_retry_after_on_a_feed_pauses_its_host_for_the_next_polls(
    server: Loopback, tmp_path: Path, db_url: str
) -> None:
    server.route("/a.xml", too_many("600", 503))
    server.route(
        "/b.xml", lambda _p: (200, {"Content-Type": "application/rss+xml"}, rss(server.base, []))
    )
    settings = settings_for(
        tmp_path,
        db_url,
        [
            {"name": "A", "url": server.url("/a.xml"), "interval": 60},
            {"name": "B", "url": server.url("/b.xml"), "interval": 60},
        ],
    )
    with Store.from_settings(settings) as store, Orchestrator(settings, store) as orchestrator:
        first = orchestrator.run_once(names=["A"])
        assert first.feeds[0].outcome is Outcome.TEMPORARY
        second = orchestrator.run_once(names=["B"])
        assert server.of("/b.xml") == []  # the host asked for 600 s: B waits too
        assert second.feeds[0].error is not None and "Retry-After" in second.feeds[0].error
        health = {h.name: h for h in store.feeds.health()}
    now = datetime.now(UTC)
    for name in ("A", "B"):
        reason, due = health[name].interval_reason, health[name].next_fetch_at
        assert reason is not None and reason.startswith("Retry-After"), health[name]
        assert due is not None and due >= now + timedelta(seconds=500)


def test_retry_after_on_a_page_pauses_the_other_pages_of_the_host(
    server: Loopback, tmp_path: Path, db_url: str
) -> None:
    links = [f"/story/{n}" for n in range(4)]
    server.route(
        "/feed.xml",
        lambda _p: (200, {"Content-Type": "application/rss+xml"}, rss(server.base, links)),
    )
    answered: list[int] = []

    def page(path: str) -> Answer:
        answered.append(1)
        if len(answered) == 1:
            return 429, {"Retry-After": "1"}, b"slow down"
        return 200, {"Content-Type": "text/html"}, ARTICLE.replace(b"Story", path.encode())

    for link in links:
        server.route(link, page)
    settings = settings_for(
        tmp_path,
        db_url,
        [{"name": "Wire", "url": server.url("/feed.xml")}],
        fetch={"per_host": 1},  # one at a time: the 429 comes before the others start
    )
    with Store.from_settings(settings) as store, Orchestrator(settings, store) as orchestrator:
        report = orchestrator.run_once()
        assert report.feeds[0].new == 4
    pages = sorted((h for h in server.hits if h.path.startswith("/story/")), key=lambda h: h.start)
    assert len(pages) == 4
    refused_at = pages[0].end
    assert all(p.start - refused_at >= 0.9 for p in pages[1:]), [
        p.start - refused_at for p in pages
    ]
