"""The fetcher's limits against real loopback servers: the guard, the deadline, bombs, redirects.

The servers here are raw sockets (``LoopbackServer``) rather than werkzeug, so that
a test decides every byte: a status line sent a byte a second, a body with a
``Content-Encoding`` and no length, a connection kept alive for the next request.
Each server counts the connections it accepted, so "the fetcher never connected"
is checked, not assumed.  Only 127.0.0.0/8 is ever contacted; 127.0.0.2 stands
for "another host".
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import itertools
import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli
import httpcore
import httpx
import pytest

from monitor.config import FetchSettings
from monitor.pipeline.decode import PIECE, BodyDecoder, DecodeError
from monitor.pipeline.fetch import Fetcher
from monitor.pipeline.netguard import AddressRefused, GuardedTransport, guard_extensions
from monitor.pipeline.types import Fetched, Outcome

HINT = (
    "article pages and feeds on private networks are only fetched for a feed with "
    "allow_private: true (its own host)"
)
CAP = 10_000_000  # the default fetch.max_bytes
GIB = 1 << 30
ROOT = Path(__file__).resolve().parent.parent


# --- a raw HTTP/1.1 server on loopback -------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


Handler = Callable[[Seen, socket.socket], bool]  # True: keep the connection for another request


@dataclass
class LoopbackServer:
    """A threaded TCP server that reads request heads and hands them to a route's handler."""

    host: str = "127.0.0.1"
    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        owner = self

        class Connection(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner.connections += 1
                conn: socket.socket = self.request
                conn.settimeout(10)
                buffer = b""
                with contextlib.suppress(OSError):
                    while not owner.stop.is_set():
                        while b"\r\n\r\n" not in buffer:
                            data = conn.recv(65536)
                            if not data:
                                return
                            buffer += data
                        head, buffer = buffer.split(b"\r\n\r\n", 1)
                        lines = head.decode("latin-1").split("\r\n")
                        path = lines[0].split(" ")[1]
                        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                        seen = Seen(path, {k.lower(): v for k, v in headers.items()})
                        owner.seen.append(seen)
                        handler = owner.routes.get(path.split("?")[0], not_found)
                        if not handler(seen, conn):
                            return

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer((self.host, 0), Connection)
        self._server.daemon_threads = True
        serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()


def send(
    conn: socket.socket,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    length: bool = True,
) -> bool:
    """Write a whole response; without ``length`` the body ends when the socket closes."""
    head = [f"HTTP/1.1 {status} X"]
    fields = dict(headers or {})
    if length:
        fields.setdefault("Content-Length", str(len(body)))
    else:
        fields["Connection"] = "close"
    head += [f"{k}: {v}" for k, v in fields.items()]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    return length


def not_found(_seen: Seen, conn: socket.socket) -> bool:
    return send(conn, 404, b"not found")


def page(body: bytes = b"<p>hello</p>", **headers: str) -> Handler:
    fields = {"Content-Type": "text/html; charset=utf-8", **headers}
    return lambda _s, conn: send(conn, 200, body, fields)


def redirect(location: str, status: int = 302, **headers: str) -> Handler:
    return lambda _s, conn: send(conn, status, b"moved", {"Location": location, **headers})


def encoded(body: bytes, encoding: str, length: bool = True) -> Handler:
    fields = {"Content-Type": "text/html", "Content-Encoding": encoding}
    return lambda _s, conn: send(conn, 200, body, fields, length=length)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    running = LoopbackServer("127.0.0.1")
    running.start()
    yield running
    running.close()


@pytest.fixture
def other() -> Iterator[LoopbackServer]:
    """Another host: 127.0.0.2, which no test ever allows."""
    running = LoopbackServer("127.0.0.2")
    running.start()
    yield running
    running.close()


def settings(**overrides: Any) -> FetchSettings:
    values: dict[str, Any] = {
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "per_host_delay": 0.0,  # many requests to one loopback host (tests/test_politeness.py)
        **overrides,
    }
    return FetchSettings(**values)


def fetch(url: str, allow_host: str | None = None, **overrides: Any) -> Fetched:
    async def run() -> Fetched:
        async with Fetcher(settings(**overrides)) as fetcher:
            return await fetcher.fetch_page(url, allow_host=allow_host)

    return asyncio.run(run())


# --- the private-network guard, end to end ---------------------------------------------------


def test_another_loopback_host_gets_no_connection_without_allow_host(
    other: LoopbackServer,
) -> None:
    other.routes["/feed/"] = page(b"<rss/>")
    for allow_host in (None, "127.0.0.1"):
        fetched = fetch(other.url("/feed/"), allow_host=allow_host)
        assert fetched.outcome is Outcome.HARD
        assert fetched.error == f"refused: 127.0.0.2 is a loopback address; {HINT}"
        assert fetched.status is None
    assert other.connections == 0


def test_the_allowed_host_is_fetched(server: LoopbackServer, other: LoopbackServer) -> None:
    server.routes["/a/"] = page(b"<p>one</p>")
    other.routes["/b/"] = page(b"<p>two</p>")
    first = fetch(server.url("/a/"), allow_host="127.0.0.1")
    second = fetch(other.url("/b/"), allow_host="127.0.0.2")
    assert (first.outcome, first.content) == (Outcome.OK, b"<p>one</p>")
    assert (second.outcome, second.content) == (Outcome.OK, b"<p>two</p>")


def test_redirect_from_the_allowed_host_to_another_private_host_is_refused(
    server: LoopbackServer, other: LoopbackServer
) -> None:
    other.routes["/secret/"] = page(b"secret")
    server.routes["/go/"] = redirect(other.url("/secret/"))
    fetched = fetch(server.url("/go/"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.HARD
    assert fetched.error == f"refused: 127.0.0.2 is a loopback address; {HINT}"
    assert fetched.final_url == other.url("/secret/")
    assert server.paths() == ["/go/"]
    assert other.connections == 0


def test_a_redirect_to_a_name_of_a_private_host_is_refused_at_connect_time(
    server: LoopbackServer,
) -> None:
    """127.0.0.1 is allowed by address; ``localhost`` is another host name for it."""
    server.routes["/go/"] = redirect(server.url("/inside/", host="localhost"))
    server.routes["/inside/"] = page(b"inside")
    fetched = fetch(server.url("/go/"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.HARD
    assert fetched.error is not None
    assert fetched.error.startswith("refused: localhost resolves to 127.0.0.1")
    assert fetched.final_url == server.url("/inside/", host="localhost")
    assert server.paths() == ["/go/"]


def test_localhost_is_refused_at_connect_time(server: LoopbackServer) -> None:
    """``localhost`` is a name: the URL check passes it, the resolved address does not."""
    server.routes["/"] = page()
    fetched = fetch(server.url("/", host="localhost"))
    assert fetched.outcome is Outcome.HARD
    assert fetched.error is not None
    assert fetched.error.startswith("refused: localhost resolves to ")
    assert "a loopback address" in fetched.error
    assert fetched.error.endswith(HINT)
    assert server.connections == 0
    allowed = fetch(server.url("/", host="localhost"), allow_host="LOCALHOST.")
    assert allowed.outcome is Outcome.OK
    assert server.connections == 1


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<p>hi</p>",
        "file:///etc/passwd",
        "ftp://127.0.0.1:{port}/feed.xml",
        "gopher://127.0.0.1:{port}/_GET%20/",
        "ws://127.0.0.1:{port}/",
    ],
)
def test_other_schemes_are_refused_without_a_connection(server: LoopbackServer, url: str) -> None:
    target = url.format(port=server.port)
    fetched = fetch(target, allow_host="127.0.0.1")
    scheme = target.split(":", 1)[0]
    assert fetched.outcome is Outcome.HARD
    assert fetched.error == f"refused: {scheme}: URLs are not fetched (only http and https)"
    assert server.connections == 0


def test_redirect_to_another_scheme_is_refused(server: LoopbackServer) -> None:
    server.routes["/go/"] = redirect("file:///etc/passwd", 301)
    fetched = fetch(server.url("/go/"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.HARD
    assert fetched.error == "refused: file: URLs are not fetched (only http and https)"
    assert server.paths() == ["/go/"]


class RecordingBackend(httpcore.AnyIOBackend):
    """httpcore's own backend, noting the host each socket is opened to."""

    def __init__(self) -> None:
        self.hosts: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        return await super().connect_tcp(host, port, timeout, local_address, socket_options)


def test_the_socket_is_opened_to_the_vetted_address_not_the_name(server: LoopbackServer) -> None:
    """Resolving once to vet and again to connect would let DNS rebinding slip through."""
    server.routes["/"] = page()
    backend = RecordingBackend()

    async def run() -> httpx.Response:
        transport = GuardedTransport(httpx.Limits(), inner_backend=backend)
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.get(
                server.url("/", host="localhost"), extensions=guard_extensions("localhost")
            )

    response = asyncio.run(run())
    assert response.status_code == 200
    assert backend.hosts == ["127.0.0.1"]


def test_a_pooled_connection_is_vetted_again_for_each_request(server: LoopbackServer) -> None:
    """A keep-alive connection opened for an allowed host is no way round the guard."""
    server.routes["/a/"] = page(b"first")
    server.routes["/b/"] = page(b"second")
    events: list[str] = []

    async def trace(name: str, _info: dict[str, Any]) -> None:
        events.append(name)

    async def run() -> tuple[httpx.Response, BaseException | None]:
        transport = GuardedTransport(httpx.Limits())
        async with httpx.AsyncClient(transport=transport) as client:
            allowed = guard_extensions("localhost")
            first = await client.get(server.url("/a/", host="localhost"), extensions=allowed)
            events.clear()
            try:
                await client.get(
                    server.url("/b/", host="localhost"),
                    extensions={**guard_extensions(None), "trace": trace},
                )
            except AddressRefused as exc:
                return first, exc
            return first, None

    first, refused = asyncio.run(run())
    assert first.content == b"first"
    assert isinstance(refused, AddressRefused)
    assert (refused.host, refused.address, refused.kind) == ("localhost", "127.0.0.1", "loopback")
    assert not any(e.startswith("connection.connect_tcp") for e in events)  # pooled, not new
    assert "http11.send_request_headers.started" in events
    assert server.paths() == ["/a/"]
    assert server.connections == 1


def test_the_fetcher_does_not_reuse_an_allowed_connection_for_a_guarded_request(
    server: LoopbackServer,
) -> None:
    server.routes["/a/"] = page(b"first")
    server.routes["/b/"] = page(b"second")

    async def run() -> list[Fetched]:
        async with Fetcher(settings()) as fetcher:
            url = server.url("/a/", host="localhost")
            first = await fetcher.fetch_page(url, allow_host="localhost")
            second = await fetcher.fetch_page(server.url("/b/", host="localhost"))
            third = await fetcher.fetch_page(
                server.url("/b/", host="localhost"), allow_host="localhost"
            )
            return [first, second, third]

    first, second, third = asyncio.run(run())
    assert first.outcome is Outcome.OK
    assert second.outcome is Outcome.HARD
    assert second.error is not None
    assert second.error.startswith("refused: localhost resolves to 127.0.0.1")
    assert (third.outcome, third.content) == (Outcome.OK, b"second")
    assert server.paths() == ["/a/", "/b/"]


def _certificate(directory: Path) -> tuple[Path, Path]:
    if not any((Path(p) / "openssl").exists() for p in os.environ["PATH"].split(os.pathsep)):
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_still_sends_the_host_name_as_sni(tmp_path: Path) -> None:
    """The socket goes to the vetted address; the TLS handshake still names the host."""
    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []

    def note_name(_sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = note_name
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    fetched = fetch(f"https://localhost:{port}/", allow_host="localhost")
    thread.join(5)
    listener.close()
    assert fetched.outcome is Outcome.HARD  # a self-signed certificate is not trusted
    assert fetched.error is not None
    assert fetched.error.startswith("TLS failure")
    assert names == ["localhost"]


# --- the total deadline ----------------------------------------------------------------------


def drip(head: bytes, dripped_head: bool) -> Handler:
    """Headers a byte a second, or headers at once and then the body a byte a second."""

    def handler(_seen: Seen, conn: socket.socket) -> bool:
        slow = head if dripped_head else b"x" * 30
        if not dripped_head:
            conn.sendall(head)
        for byte in slow:
            conn.sendall(bytes([byte]))  # fails once the fetcher has hung up
            time.sleep(1)
        return False

    return handler


@pytest.mark.parametrize("dripped_head", [False, True], ids=["dripped-body", "dripped-headers"])
def test_a_dripping_server_is_cut_at_the_total_timeout(
    server: LoopbackServer, dripped_head: bool
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    server.routes["/drip/"] = drip(head, dripped_head)
    started = time.perf_counter()
    fetched = fetch(server.url("/drip/"), allow_host="127.0.0.1", total_timeout=1.5)
    took = time.perf_counter() - started
    assert fetched.outcome is Outcome.TEMPORARY
    assert fetched.error is not None
    assert "took longer than 1.5s in all (fetch.total_timeout)" in fetched.error
    assert 1.4 <= fetched.elapsed < 5
    assert took < 5


def test_redirects_count_against_the_same_deadline(server: LoopbackServer) -> None:
    def slow_redirect(location: str) -> Handler:
        def handler(_seen: Seen, conn: socket.socket) -> bool:
            time.sleep(0.6)
            return send(conn, 302, b"", {"Location": location})

        return handler

    for n in range(4):
        server.routes[f"/r/{n}"] = slow_redirect(f"/r/{n + 1}")
    server.routes["/r/4"] = page()
    fetched = fetch(server.url("/r/0"), allow_host="127.0.0.1", total_timeout=1.5)
    assert fetched.outcome is Outcome.TEMPORARY
    assert fetched.error is not None
    assert "fetch.total_timeout" in fetched.error
    assert "/r/3" not in server.paths()


def test_a_connect_that_never_completes_ends_at_the_total_timeout() -> None:
    """A listener whose accept queue is full: the kernel drops further SYNs, so connect hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        started = time.perf_counter()
        fetched = fetch(
            f"http://127.0.0.1:{port}/",
            allow_host="127.0.0.1",
            connect_timeout=30.0,
            total_timeout=1.5,
        )
        took = time.perf_counter() - started
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert fetched.outcome is Outcome.TEMPORARY
    assert fetched.error is not None
    assert "took longer than 1.5s in all (fetch.total_timeout)" in fetched.error
    assert took < 5


# --- redirects -------------------------------------------------------------------------------


def test_redirect_loop_is_hard(server: LoopbackServer) -> None:
    server.routes["/a"] = redirect("/b")
    server.routes["/b"] = redirect("/a")
    fetched = fetch(server.url("/a"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.HARD
    assert fetched.error == f"redirect loop at {server.url('/a')}"
    assert server.paths() == ["/a", "/b"]


def test_a_page_redirecting_to_itself_is_a_loop(server: LoopbackServer) -> None:
    server.routes["/self"] = redirect("/self", 307)
    fetched = fetch(server.url("/self"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.HARD
    assert fetched.error is not None
    assert "redirect loop" in fetched.error
    assert server.paths() == ["/self"]


def test_a_redirect_back_with_a_new_cookie_is_not_a_loop(server: LoopbackServer) -> None:
    """The consent-wall pattern: A sets a cookie and sends the reader to A again."""

    def consent(seen: Seen, conn: socket.socket) -> bool:
        if "consent=yes" in seen.headers.get("cookie", ""):
            return send(conn, 200, b"<p>article</p>", {"Content-Type": "text/html"})
        return send(conn, 302, b"", {"Location": "/story", "Set-Cookie": "consent=yes; Path=/"})

    server.routes["/story"] = consent
    fetched = fetch(server.url("/story"), allow_host="127.0.0.1")
    assert (fetched.outcome, fetched.content) == (Outcome.OK, b"<p>article</p>")
    assert server.paths() == ["/story", "/story"]


def test_a_failure_after_a_redirect_names_the_host_that_failed(server: LoopbackServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    server.routes["/go/"] = redirect(f"http://127.0.0.1:{closed}/gone/")
    fetched = fetch(server.url("/go/"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.TEMPORARY
    assert fetched.url == server.url("/go/")
    assert fetched.final_url == f"http://127.0.0.1:{closed}/gone/"
    assert fetched.error == f"cannot connect to 127.0.0.1:{closed}: Connection refused"


def test_an_unreadable_location_is_hard(server: LoopbackServer) -> None:
    server.routes["/go/"] = redirect("http://news.example:notaport/")
    fetched = fetch(server.url("/go/"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.HARD
    assert fetched.error is not None
    assert fetched.error.startswith("invalid redirect: ")


def test_eleven_redirects_are_too_many(server: LoopbackServer) -> None:
    for n in range(11):
        server.routes[f"/hop/{n}"] = redirect(server.url(f"/hop/{n + 1}"))
    server.routes["/hop/11"] = page()
    fetched = fetch(server.url("/hop/0"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.HARD
    assert fetched.error == "too many redirects (more than 10)"
    assert server.paths() == [f"/hop/{n}" for n in range(11)]


@pytest.mark.parametrize(
    ("location", "final"),
    [
        ("../other/page?x=1", "/news/other/page?x=1"),
        ("/absolute/", "/absolute/"),
        ("next", "/news/2020/next"),
        ("//127.0.0.1:{port}/scheme-relative/", "/scheme-relative/"),
    ],
)
def test_relative_redirects_are_resolved(server: LoopbackServer, location: str, final: str) -> None:
    server.routes["/news/2020/story"] = redirect(location.format(port=server.port), 301)
    server.routes[final.split("?")[0]] = page(b"arrived")
    fetched = fetch(server.url("/news/2020/story"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.OK
    assert fetched.content == b"arrived"
    assert fetched.url == server.url("/news/2020/story")
    assert fetched.final_url == server.url(final)


# --- size cap --------------------------------------------------------------------------------


def test_body_over_the_cap_with_content_length_is_soft_unread(server: LoopbackServer) -> None:
    server.routes["/big/"] = page(b"x" * 5000)
    fetched = fetch(server.url("/big/"), allow_host="127.0.0.1", max_bytes=4096)
    assert fetched.outcome is Outcome.SOFT
    assert fetched.status == 200
    assert fetched.error == ("response of 5000 bytes exceeds the 4096-byte cap (fetch.max_bytes)")


@pytest.mark.parametrize("size", [4096, 4097, 100_000])
def test_body_without_content_length_is_capped(server: LoopbackServer, size: int) -> None:
    server.routes["/stream/"] = lambda _s, conn: send(conn, 200, b"y" * size, length=False)
    fetched = fetch(server.url("/stream/"), allow_host="127.0.0.1", max_bytes=4096)
    if size <= 4096:
        assert (fetched.outcome, fetched.content) == (Outcome.OK, b"y" * size)
    else:
        assert fetched.outcome is Outcome.SOFT
        assert fetched.content == b""
        assert fetched.error == "response exceeds the 4096-byte cap (fetch.max_bytes)"


def test_endless_bytes_after_a_gzip_body_are_capped_too(server: LoopbackServer) -> None:
    """Trailing bytes are ignored when decoding, but they still count as received."""
    body = gzip.compress(b"<p>short</p>") + b"\0" * 50_000
    server.routes["/tail/"] = encoded(body, "gzip", length=False)
    fetched = fetch(server.url("/tail/"), allow_host="127.0.0.1", max_bytes=10_000)
    assert fetched.outcome is Outcome.SOFT
    assert fetched.error == "response exceeds the 10000-byte cap (fetch.max_bytes)"


# --- content encodings -----------------------------------------------------------------------

TEXT = (
    b"<html><body>" + b"<p>Beirut report, paragraph after paragraph.</p>" * 400 + b"</body></html>"
)


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("header", "body"),
    [
        ("identity", TEXT),
        ("gzip, br", brotli.compress(gzip.compress(TEXT))),
        ("deflate, gzip", gzip.compress(zlib.compress(TEXT))),
        ("br, identity, deflate", raw_deflate(brotli.compress(TEXT))),
        ("x-gzip", gzip.compress(TEXT)),
        ("GZIP", gzip.compress(TEXT)),
        ("gzip", gzip.compress(TEXT[:3000]) + gzip.compress(TEXT[3000:])),  # two members
        ("gzip", gzip.compress(TEXT) + b"trailing junk"),
    ],
    ids=["identity", "gzip-br", "deflate-gzip", "br-identity-deflate", "x-gzip", "upper",
         "two-members", "trailing"],
)  # fmt: skip
def test_encodings_are_decoded(server: LoopbackServer, header: str, body: bytes) -> None:
    server.routes["/enc/"] = encoded(body, header, length=False)
    fetched = fetch(server.url("/enc/"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.OK
    assert fetched.content == TEXT


@pytest.mark.parametrize(
    ("header", "body", "error"),
    [
        ("zstd", b"(\xb5/\xfd", "unsupported Content-Encoding 'zstd'"),
        ("gzip, compress", b"x", "unsupported Content-Encoding 'compress'"),
        ("gzip", b"this is not gzip at all", "the body is not valid gzip data"),
        ("deflate", b"\x78\x9c not deflate", "the body is not valid deflate data"),
        ("br", b"\xff\xff\xff not brotli", "the body is not valid br (brotli) data"),
        ("gzip, gzip, gzip, gzip, gzip", b"x", "stacks more than 4 codings"),
    ],
)
def test_unusable_encodings_are_soft(
    server: LoopbackServer, header: str, body: bytes, error: str
) -> None:
    server.routes["/bad/"] = encoded(body, header)
    fetched = fetch(server.url("/bad/"), allow_host="127.0.0.1")
    assert fetched.outcome is Outcome.SOFT
    assert fetched.status == 200
    assert fetched.error is not None
    assert error in fetched.error


def test_decoder_works_byte_by_byte_across_headers_and_members() -> None:
    """Headers and gzip members split over chunks are sniffed once enough bytes came."""
    for header, body in [
        ("deflate", zlib.compress(TEXT)),
        ("deflate", raw_deflate(TEXT)),
        ("gzip", gzip.compress(TEXT[:100]) + gzip.compress(TEXT[100:])),
        ("br", brotli.compress(TEXT)),
    ]:
        decoder = BodyDecoder(header)
        out = b"".join(p for i in range(len(body)) for p in decoder.feed(body[i : i + 1]))
        assert out + b"".join(decoder.finish()) == TEXT, header


# --- compression bombs -----------------------------------------------------------------------


def gzip_bomb(size: int, wrapper: str = "gzip") -> bytes:
    """``size`` zero bytes compressed, built in milliseconds.

    After a full flush a deflate compressor starts afresh, so compressing the same
    megabyte again gives the same bytes: one segment is made and repeated.  The
    trailer (CRC-32 or Adler-32 of the whole) is computed, so the bomb is valid.
    """
    chunk = b"\0" * (1 << 20)
    wbits = {"gzip": 31, "zlib": 15, "raw": -15}[wrapper]
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush(zlib.Z_FINISH)
    count = size // len(chunk)
    trailer = b""
    if wrapper == "gzip":  # the compressor's own trailer counts only the 2 MiB it saw
        crc = 0
        for _ in range(count):
            crc = zlib.crc32(chunk, crc)
        end = end[:-8]
        trailer = crc.to_bytes(4, "little") + (count * len(chunk) & 0xFFFFFFFF).to_bytes(
            4, "little"
        )
    elif wrapper == "zlib":
        adler = 1
        for _ in range(count):
            adler = zlib.adler32(chunk, adler)
        end = end[:-4]
        trailer = adler.to_bytes(4, "big")
    return first + segment * (count - 1) + end + trailer


def brotli_bomb(size: int) -> bytes:
    compressor = brotli.Compressor(quality=1)
    chunk = b"\0" * (1 << 20)
    parts = [compressor.process(chunk) for _ in range(size // len(chunk))]
    return bytes(b"".join(parts) + compressor.finish())


@pytest.mark.parametrize("wrapper", ["gzip", "zlib", "raw"])
def test_the_bomb_builder_makes_valid_streams(wrapper: str) -> None:
    bomb = gzip_bomb(8 << 20, wrapper)
    wbits = {"gzip": 31, "zlib": 15, "raw": -15}[wrapper]
    assert zlib.decompress(bomb, wbits) == b"\0" * (8 << 20)
    assert len(bomb) < 10_000


@pytest.mark.parametrize("header", ["br", "gzip", "gzip, br"])
def test_decoder_pieces_stay_small_for_a_bomb(header: str) -> None:
    """The whole bomb handed over in one chunk still comes out a piece at a time."""
    size = 64 << 20
    bomb = {
        "br": brotli_bomb(size),
        "gzip": gzip_bomb(size),
        "gzip, br": brotli.compress(gzip_bomb(size)),
    }[header]
    total, largest = 0, 0
    decoder = BodyDecoder(header)
    for piece in itertools.chain(decoder.feed(bomb), decoder.finish()):
        total += len(piece)
        largest = max(largest, len(piece))
    assert total == size
    assert largest <= 2 * PIECE


BOMB_SCRIPT = """
import asyncio, json, resource, sys
from monitor.config import FetchSettings
from monitor.pipeline.fetch import Fetcher

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

async def main():
    warm_url, cap, *urls = sys.argv[1:]
    async with Fetcher(FetchSettings(max_bytes=int(cap), per_host_delay=0)) as fetcher:
        warm = await fetcher.fetch_page(warm_url, allow_host="127.0.0.1")
        start = peak()
        bombs = []
        for url in urls:
            before = peak()
            fetched = await fetcher.fetch_page(url, allow_host="127.0.0.1")
            bombs.append({"url": url, "outcome": fetched.outcome, "error": fetched.error,
                          "raised_peak_kib": peak() - before})
    print(json.dumps({"warm": warm.outcome, "bombs": bombs, "grew_kib": peak() - start}))

asyncio.run(main())
"""


@pytest.mark.slow
def test_bombs_are_cut_at_the_cap_with_memory_bounded(server: LoopbackServer) -> None:
    """1 GiB of zeros, each encoding, with and without a length: cut at the 10 MB cap.

    Fetched one after another in a fresh interpreter, whose peak RSS may grow by a
    few times the cap at most (about 8 MB is measured).  httpx's own decoders, which
    inflate each 64 KiB network chunk whole, raised it by 120 MB for the gzip bomb
    and 700 MB for the brotli one.
    """
    gz = gzip_bomb(GIB)
    bombs = {
        "gzip": ("gzip", gz),
        "deflate-zlib": ("deflate", gzip_bomb(GIB, "zlib")),
        "deflate-raw": ("deflate", gzip_bomb(GIB, "raw")),
        "brotli": ("br", brotli_bomb(GIB)),
        "br-over-gzip": ("gzip, br", brotli.compress(gz, quality=5)),
    }
    urls = []
    for name, (header, body) in bombs.items():
        assert len(body) < CAP
        for length in (True, False):
            path = f"/bomb/{name}/{'length' if length else 'close'}"
            server.routes[path] = encoded(body, header, length=length)
            urls.append(server.url(path))
    server.routes["/warm/"] = page()
    result = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, server.url("/warm/"), str(CAP), *urls],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["warm"] == "ok"
    assert [b["url"] for b in report["bombs"]] == urls
    for bomb in report["bombs"]:
        assert bomb["outcome"] == "soft", bomb
        assert bomb["error"] == f"response exceeds the {CAP}-byte cap (fetch.max_bytes)", bomb
    assert report["grew_kib"] < 5 * CAP // 1024, report


def test_decode_error_type_is_what_the_fetcher_reports() -> None:
    with pytest.raises(DecodeError, match="not valid gzip data"):
        list(BodyDecoder("gzip").feed(b"definitely not gzip"))
