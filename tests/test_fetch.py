"""Fetcher against real HTTP servers on loopback: outcomes, validators, encodings, caps, limits.

Most tests use the shared ``site`` fixture (one request at a time).  The per-host limit
needs a server that can answer several requests at once: ``threaded_server`` below.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import brotli
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response
from werkzeug.serving import WSGIRequestHandler

from monitor.config import FetchSettings
from monitor.pipeline.fetch import (
    FEED_ACCEPT,
    PAGE_ACCEPT,
    Fetcher,
    body_hash,
    classify_status,
)
from monitor.pipeline.parse import parse_feed
from monitor.pipeline.types import Fetched, Outcome, Validators
from tests.conftest import Site

ARABIC_TITLE = (
    "\u0639\u0627\u062c\u0644: \u0627\u062c\u062a\u0645\u0627\u0639 "
    "\u0627\u0644\u0648\u0632\u0631\u0627\u0621"
)
ARTICLE = "<html><body><p>\u0628\u064a\u0631\u0648\u062a \u2014 Beirut report</p></body></html>"


# The test servers listen on loopback, which the fetcher refuses unless the request
# names its host as allowed, as the orchestrator does for a feed with allow_private
# (tests/test_fetch_limits.py tests the guard itself).
LOOPBACK = "127.0.0.1"


def own_host(url: str) -> str | None:
    return urlsplit(url).hostname


def make_settings(**overrides: Any) -> FetchSettings:
    """Fetch settings with timeouts short enough that a hang fails fast."""
    values: dict[str, Any] = {
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "per_host_delay": 0.0,  # many requests to one loopback host (tests/test_politeness.py)
        **overrides,
    }
    return FetchSettings(**values)


def fetch_page(url: str, **overrides: Any) -> Fetched:
    async def run() -> Fetched:
        async with Fetcher(make_settings(**overrides)) as fetcher:
            return await fetcher.fetch_page(url, allow_host=own_host(url))

    return asyncio.run(run())


def fetch_feed(url: str, previous: Validators | None = None, **overrides: Any) -> Fetched:
    async def run() -> Fetched:
        async with Fetcher(make_settings(**overrides)) as fetcher:
            return await fetcher.fetch_feed(url, previous or Validators(), allow_host=own_host(url))

    return asyncio.run(run())


def recording(
    seen: list[Request], respond: Callable[[Request], Response]
) -> Callable[[Request], Response]:
    """A handler that keeps every request it got, then answers with ``respond``."""

    def handler(request: Request) -> Response:
        seen.append(request)
        return respond(request)

    return handler


def redirect_to(location: str, status: int) -> Callable[[Request], Response]:
    return lambda _r: Response("", status=status, headers={"Location": location})


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    """A loopback server that answers concurrent requests in threads.

    werkzeug switches the ``WSGIRequestHandler`` *class* to HTTP/1.1 when it builds a
    threaded server; that would make the shared single-threaded ``httpserver`` keep
    connections alive (and block on them) in later tests, so it is undone afterwards.
    """
    had_own = "protocol_version" in vars(WSGIRequestHandler)
    previous = WSGIRequestHandler.protocol_version
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()
        if had_own:
            WSGIRequestHandler.protocol_version = previous
        elif "protocol_version" in vars(WSGIRequestHandler):
            del WSGIRequestHandler.protocol_version


# --- pure helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (203, Outcome.OK),
        (204, Outcome.OK),
        (304, Outcome.NOT_MODIFIED),
        (300, Outcome.HARD),
        (400, Outcome.HARD),
        (401, Outcome.HARD),
        (403, Outcome.HARD),
        (404, Outcome.HARD),
        (410, Outcome.HARD),
        (451, Outcome.HARD),
        (408, Outcome.TEMPORARY),
        (425, Outcome.TEMPORARY),
        (429, Outcome.TEMPORARY),
        (500, Outcome.TEMPORARY),
        (502, Outcome.TEMPORARY),
        (503, Outcome.TEMPORARY),
        (504, Outcome.TEMPORARY),
        (522, Outcome.TEMPORARY),
        (599, Outcome.TEMPORARY),
    ],
)
def test_classify_status(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


def test_body_hash_is_the_sha256_hex_digest() -> None:
    assert body_hash(b"") == hashlib.sha256(b"").hexdigest()
    assert body_hash(b"<rss/>") == hashlib.sha256(b"<rss/>").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", body_hash(b"x"))
    assert body_hash(b"a") == body_hash(b"a")
    assert body_hash(b"a") != body_hash(b"a ")


# --- success, redirects ----------------------------------------------------------------------


def test_ok_page_has_content_type_charset_and_final_url(site: Site) -> None:
    site.serve("/article/", ARTICLE, "text/html; charset=UTF-8")
    fetched = fetch_page(site.url("/article/"))
    assert fetched.outcome is Outcome.OK
    assert fetched.status == 200
    assert fetched.content == ARTICLE.encode()
    assert fetched.content_type == "text/html"
    assert fetched.charset == "utf-8"
    assert fetched.url == fetched.final_url == site.url("/article/")
    assert fetched.error is None
    assert fetched.elapsed > 0


def test_redirect_chain_keeps_the_final_url(site: Site) -> None:
    site.route("/old/", redirect_to(site.url("/moved/"), 301))
    site.route("/moved/", redirect_to("/temporary/", 302))  # a relative Location
    site.route("/temporary/", redirect_to(site.url("/final/"), 307))
    site.serve("/final/", ARTICLE)
    fetched = fetch_page(site.url("/old/"))
    assert fetched.outcome is Outcome.OK
    assert fetched.url == site.url("/old/")
    assert fetched.final_url == site.url("/final/")
    assert fetched.content == ARTICLE.encode()
    assert [site.hits.get(p) for p in ("/old/", "/moved/", "/temporary/", "/final/")] == [1] * 4


def test_redirected_feed_keeps_the_final_url(site: Site) -> None:
    site.route("/rss", redirect_to(site.url("/feed/"), 308))
    fetched = fetch_feed(site.url("/rss"))
    assert fetched.outcome is Outcome.OK
    assert fetched.final_url == site.url("/feed/")
    assert b"The Levant Ledger" in fetched.content


def _hops(site: Site, count: int) -> str:
    """A chain of ``count`` redirects ending in a page; returns its first URL."""
    for n in range(count):
        site.route(f"/hop/{n}", redirect_to(site.url(f"/hop/{n + 1}"), 302))
    site.serve(f"/hop/{count}", "arrived")
    return site.url("/hop/0")


def test_ten_redirects_are_followed(site: Site) -> None:
    fetched = fetch_page(_hops(site, 10))
    assert fetched.outcome is Outcome.OK
    assert fetched.final_url == site.url("/hop/10")


def test_too_many_redirects_is_hard(site: Site) -> None:
    fetched = fetch_page(_hops(site, 11))
    assert fetched.outcome is Outcome.HARD
    assert fetched.error is not None
    assert "too many redirects" in fetched.error
    assert "/hop/11" not in site.hits


# --- headers, conditional GET, body hash -----------------------------------------------------


def test_user_agent_accept_and_accept_encoding_headers(site: Site) -> None:
    seen: list[Request] = []
    site.route("/feed.xml", recording(seen, lambda _r: Response("<rss/>")))
    site.route("/page/", recording(seen, lambda _r: Response("<p>x</p>")))
    agent = "monitor-tests/1.0 (+http://monitor.test/bot)"
    fetch_feed(site.url("/feed.xml"), user_agent=agent)
    fetch_page(site.url("/page/"), user_agent=agent)
    feed_request, page_request = seen
    for request in seen:
        assert request.headers["User-Agent"] == agent
        encodings = {e.strip() for e in request.headers["Accept-Encoding"].split(",")}
        assert {"gzip", "deflate", "br"} <= encodings
    assert feed_request.headers["Accept"] == FEED_ACCEPT
    assert page_request.headers["Accept"] == PAGE_ACCEPT


def test_conditional_get_sends_validators_back_and_304_keeps_them(site: Site) -> None:
    etag, modified = '"v1-abc"', "Wed, 08 Jan 2020 08:15:00 GMT"
    body = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
    seen: list[Request] = []

    def respond(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, headers={"ETag": etag, "Last-Modified": modified})

    site.route("/feed.xml", recording(seen, respond))
    first = fetch_feed(site.url("/feed.xml"))
    assert first.outcome is Outcome.OK
    assert first.content == body
    assert first.validators == Validators(etag, modified, body_hash(body))
    assert "If-None-Match" not in seen[0].headers
    assert "If-Modified-Since" not in seen[0].headers

    second = fetch_feed(site.url("/feed.xml"), first.validators)
    assert seen[1].headers["If-None-Match"] == etag
    assert seen[1].headers["If-Modified-Since"] == modified
    assert second.outcome is Outcome.NOT_MODIFIED
    assert second.status == 304
    assert second.error is None
    assert second.content == b""
    assert second.validators == first.validators  # body_hash included


def test_identical_body_without_validators_is_not_modified(site: Site) -> None:
    """A server that ignores conditional GET: the body hash stands in for it."""
    state = {"body": b"<rss>first version</rss>"}
    site.route("/feed.xml", lambda _r: Response(state["body"], content_type="application/rss+xml"))
    first = fetch_feed(site.url("/feed.xml"))
    assert first.outcome is Outcome.OK
    assert first.validators == Validators(body_hash=body_hash(state["body"]))

    same = fetch_feed(site.url("/feed.xml"), first.validators)
    assert same.outcome is Outcome.NOT_MODIFIED
    assert same.status == 200
    assert same.content == b""
    assert same.validators.body_hash == first.validators.body_hash

    state["body"] = b"<rss>second version</rss>"
    changed = fetch_feed(site.url("/feed.xml"), same.validators)
    assert changed.outcome is Outcome.OK
    assert changed.content == state["body"]
    assert changed.validators.body_hash == body_hash(state["body"])
    assert changed.validators.body_hash != first.validators.body_hash


def test_changed_body_keeps_previous_validators_the_server_did_not_resend(site: Site) -> None:
    site.serve("/feed.xml", b"<rss>new</rss>", "application/rss+xml")
    previous = Validators('"old"', "Tue, 07 Jan 2020 10:30:00 GMT", body_hash(b"<rss>old</rss>"))
    fetched = fetch_feed(site.url("/feed.xml"), previous)
    assert fetched.outcome is Outcome.OK
    assert fetched.validators == Validators(
        '"old"', "Tue, 07 Jan 2020 10:30:00 GMT", body_hash(b"<rss>new</rss>")
    )


# --- content encodings and the size cap ------------------------------------------------------


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
        ("br", brotli.compress),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "brotli"],
)
def test_compressed_bodies_are_decoded(
    site: Site, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    body = (ARTICLE * 50).encode()
    encoded = compress(body)
    assert encoded != body
    site.route(
        "/zipped/",
        lambda _r: Response(
            encoded, content_type="text/html", headers={"Content-Encoding": encoding}
        ),
    )
    fetched = fetch_page(site.url("/zipped/"))
    assert fetched.outcome is Outcome.OK
    assert fetched.content == body


def test_declared_length_above_the_cap_is_soft(site: Site) -> None:
    site.serve("/big/", b"x" * 5000)
    fetched = fetch_page(site.url("/big/"), max_bytes=2048)
    assert fetched.outcome is Outcome.SOFT
    assert fetched.status == 200
    assert fetched.content == b""
    assert fetched.error is not None
    assert "5000 bytes" in fetched.error
    assert "2048" in fetched.error


def test_body_exactly_at_the_cap_is_ok(site: Site) -> None:
    site.serve("/exact/", b"x" * 2048)
    fetched = fetch_page(site.url("/exact/"), max_bytes=2048)
    assert fetched.outcome is Outcome.OK
    assert len(fetched.content) == 2048


def _streamed(chunks: int, size: int) -> Callable[[Request], Response]:
    """A body sent as a generator: no Content-Length, chunked on an HTTP/1.1 server."""

    def handler(_request: Request) -> Response:
        return Response((b"y" * size for _ in range(chunks)), content_type="text/html")

    return handler


def test_streamed_body_beyond_the_cap_is_soft(threaded_server: HTTPServer) -> None:
    threaded_server.expect_request("/stream/").respond_with_handler(_streamed(200, 1024))
    fetched = fetch_page(threaded_server.url_for("/stream/"), max_bytes=10_000)
    assert fetched.outcome is Outcome.SOFT
    assert fetched.content == b""
    assert fetched.error is not None
    assert "10000-byte cap" in fetched.error


def test_streamed_body_within_the_cap_is_read_whole(threaded_server: HTTPServer) -> None:
    threaded_server.expect_request("/stream/").respond_with_handler(_streamed(8, 1024))
    fetched = fetch_page(threaded_server.url_for("/stream/"), max_bytes=10_000)
    assert fetched.outcome is Outcome.OK
    assert fetched.content == b"y" * 8192


def test_close_delimited_body_beyond_the_cap_is_soft(site: Site) -> None:
    """The shared server speaks HTTP/1.0: no length, the body ends when the socket closes."""
    site.route("/stream/", _streamed(200, 1024))
    fetched = fetch_page(site.url("/stream/"), max_bytes=10_000)
    assert fetched.outcome is Outcome.SOFT


def test_gzip_bomb_is_cut_at_the_cap(site: Site) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    assert len(bomb) < 10_000
    site.route(
        "/bomb/",
        lambda _r: Response(bomb, content_type="text/html", headers={"Content-Encoding": "gzip"}),
    )
    fetched = fetch_page(site.url("/bomb/"), max_bytes=100_000)
    assert fetched.outcome is Outcome.SOFT
    assert fetched.content == b""
    assert fetched.error is not None
    assert "100000-byte cap" in fetched.error


# --- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (404, Outcome.HARD),
        (410, Outcome.HARD),
        (403, Outcome.HARD),
        (500, Outcome.TEMPORARY),
        (503, Outcome.TEMPORARY),
    ],
)
def test_error_statuses(site: Site, status: int, outcome: Outcome) -> None:
    site.route("/x", lambda _r: Response("nope", status=status))
    for fetched in (fetch_page(site.url("/x")), fetch_feed(site.url("/x"))):
        assert fetched.outcome is outcome
        assert fetched.status == status
        assert fetched.error == f"HTTP {status}"
        assert fetched.content == b""
        assert fetched.retry_after is None


def test_429_with_retry_after_seconds(site: Site) -> None:
    site.route("/x", lambda _r: Response("slow down", status=429, headers={"Retry-After": "120"}))
    fetched = fetch_feed(site.url("/x"))
    assert fetched.outcome is Outcome.TEMPORARY
    assert fetched.status == 429
    assert fetched.retry_after == 120


def test_503_with_retry_after_http_date(site: Site) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    site.route("/x", lambda _r: Response("busy", status=503, headers={"Retry-After": when}))
    fetched = fetch_page(site.url("/x"))
    assert fetched.outcome is Outcome.TEMPORARY
    assert fetched.retry_after is not None
    assert 80 <= fetched.retry_after <= 90


def test_unreadable_retry_after_is_ignored(site: Site) -> None:
    site.route("/x", lambda _r: Response("", status=429, headers={"Retry-After": "soon"}))
    assert fetch_page(site.url("/x")).retry_after is None


def test_slow_response_times_out_as_temporary(site: Site) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(0.8)
        return Response("too late")

    site.route("/slow/", slow)
    started = time.perf_counter()
    fetched = fetch_page(site.url("/slow/"), read_timeout=0.2)
    assert time.perf_counter() - started < 0.7
    assert fetched.outcome is Outcome.TEMPORARY
    assert fetched.error == "timed out (ReadTimeout)"


def test_body_that_stalls_times_out_as_temporary(site: Site) -> None:
    def stalling() -> Iterator[bytes]:
        yield b"<html><body>"
        time.sleep(0.8)
        yield b"</body></html>"

    site.route("/stall/", lambda _r: Response(stalling(), content_type="text/html"))
    fetched = fetch_page(site.url("/stall/"), read_timeout=0.2)
    assert fetched.outcome is Outcome.TEMPORARY
    assert fetched.error == "timed out (ReadTimeout)"


def test_connection_refused_is_temporary_with_a_clear_error() -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/feed/"
    fetched = fetch_feed(url)
    assert fetched.outcome is Outcome.TEMPORARY
    assert fetched.url == url
    assert fetched.error is not None
    # httpx/anyio only say "All connection attempts failed"; the fetcher digs the
    # ConnectionRefusedError out of the __cause__ chain and names the address.
    assert fetched.error == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert fetched.status is None
    assert fetched.content == b""


def test_failed_tls_handshake_is_hard(site: Site) -> None:
    """types.Outcome and schedule.py both class bad TLS as a HARD failure.

    Speaking TLS to a plain-HTTP port fails the handshake; the fetcher finds the
    ``ssl.SSLError`` in the ``httpx.ConnectError``'s cause chain.
    """
    fetched = fetch_page(site.url("/feed/").replace("http://", "https://", 1))
    assert fetched.error is not None
    assert "SSL" in fetched.error
    assert fetched.outcome is Outcome.HARD


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/feed.xml", "news.test/feed/"])
def test_unfetchable_url_is_hard(url: str) -> None:
    """An unusable URL will not get better by retrying; the guard refuses it unsent."""
    fetched = fetch_page(url)
    assert fetched.outcome is Outcome.HARD
    assert fetched.error is not None
    assert "http" in fetched.error


# --- per-host concurrency --------------------------------------------------------------------


def _concurrency_probe(server: HTTPServer, delay: float) -> dict[str, int]:
    """Route /page/* to a handler that records the peak number of requests in flight."""
    lock = threading.Lock()
    state = {"now": 0, "peak": 0, "served": 0}

    def handler(_request: Request) -> Response:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(delay)
        with lock:
            state["now"] -= 1
            state["served"] += 1
        return Response("<p>page</p>", content_type="text/html")

    server.expect_request(re.compile(r"^/page/\d+$")).respond_with_handler(handler)
    return state


def _fetch_concurrently(server: HTTPServer, count: int, per_host: int) -> list[Fetched]:
    async def run() -> list[Fetched]:
        async with Fetcher(make_settings(per_host=per_host)) as fetcher:
            urls = [server.url_for(f"/page/{n}") for n in range(count)]
            pages = (fetcher.fetch_page(u, allow_host=LOOPBACK) for u in urls)
            return list(await asyncio.gather(*pages))

    return asyncio.run(run())


def test_per_host_limit_of_one_serialises_requests(threaded_server: HTTPServer) -> None:
    state = _concurrency_probe(threaded_server, delay=0.15)
    results = _fetch_concurrently(threaded_server, count=4, per_host=1)
    assert [r.outcome for r in results] == [Outcome.OK] * 4
    assert state["served"] == 4
    assert state["peak"] == 1


def test_threaded_server_does_see_concurrency_without_the_limit(
    threaded_server: HTTPServer,
) -> None:
    """Control for the test above: with per_host=4 the same probe sees overlap."""
    state = _concurrency_probe(threaded_server, delay=0.3)
    results = _fetch_concurrently(threaded_server, count=4, per_host=4)
    assert [r.outcome for r in results] == [Outcome.OK] * 4
    assert state["peak"] >= 2


# --- handing a feed to the parser ------------------------------------------------------------


def test_charset_declared_only_in_http_reaches_the_parser(site: Site) -> None:
    """A feed whose encoding is only in Content-Type must still decode.

    The orchestrator hands ``Fetched.content_type_header`` (media type plus the
    server's charset) to the parser, as this test does.
    """
    title = ARABIC_TITLE
    doc = (
        f'<rss version="2.0"><channel><title>{title}</title>'
        f"<item><title>{title}</title><link>/a/</link></item></channel></rss>"
    )
    site.serve(
        "/ar/feed.xml", doc.encode("windows-1256"), "application/rss+xml; charset=windows-1256"
    )
    fetched = fetch_feed(site.url("/ar/feed.xml"))
    assert fetched.outcome is Outcome.OK
    assert fetched.charset == "windows-1256"
    parsed = parse_feed(
        fetched.content, fetched.final_url or fetched.url, fetched.content_type_header
    )
    assert parsed.entries[0].title == title
