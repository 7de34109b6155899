"""A hostile web on loopback, for the hostile-server tests and ``bench/hostile_run.py``.

Real servers, real bytes: :class:`RawHTTPServer` is a threaded raw-socket
HTTP/1.1 server, so a case controls exactly what goes on the wire (headers
then one byte a second, a body that lies about its encoding, a stream of
compressed zeros).  :class:`HostileWeb` puts every case on it, one feed per
case (and, where it matters, the entries' article pages), next to a good feed
whose real article pages (``tests/fixtures/pages``) must all be stored in the
same run.  Besides the main server on 127.0.0.1 there are:

* a *blackhole* on a 127.0.0.1 port: a listening socket whose one-slot accept
  queue is already full, so the kernel drops every SYN and ``connect()``
  never completes;
* a second server on 127.0.0.2, "another private host", which serves
  attractive content on every path and counts every connection it accepts:
  the fetcher must never open one (the feeds on 127.0.0.1 have
  ``allow_private: true``, which allows 127.0.0.1 only).

Nothing here talks to anything outside 127.0.0.0/8.  The helpers at the end
run ``monitor`` in a subprocess (wall time and peak RSS of every process of
the run) and read what a run stored, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

import brotli
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.types import JSON, LargeBinary, String

FIXTURES = Path(__file__).parent / "fixtures"
MiB = 1 << 20
GiB = 1 << 30

# -- the wire ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # as sent: path and query
    path: str
    headers: Mapping[str, str]  # names lower-cased


class Wire:
    """One accepted connection, as a responder sees it."""

    def __init__(self, sock: socket.socket, server: RawHTTPServer, path: str) -> None:
        self._sock, self._server, self._path = sock, server, path

    def send(self, data: bytes) -> bool:
        """Write ``data``; False once the client has gone or the server is stopping."""
        if self._server.stopping.is_set():
            return False
        try:
            self._sock.sendall(data)
        except OSError:
            return False
        self._server.count_sent(self._path, len(data))
        return True

    def pause(self, seconds: float) -> bool:
        """Wait; False when the server is stopping meanwhile."""
        return not self._server.stopping.wait(seconds)


Responder = Callable[[Request, Wire], None]


def response_head(status: int, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def static(
    body: bytes,
    content_type: str | None = "text/html; charset=utf-8",
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
) -> Responder:
    """A complete response with its Content-Length."""
    head = [("Content-Type", content_type)] if content_type else []
    head += [*headers, ("Content-Length", str(len(body)))]

    def respond(_request: Request, wire: Wire) -> None:
        wire.send(response_head(status, head) + body)

    return respond


def redirect(location: str | Callable[[], str], status: int = 302) -> Responder:
    def respond(_request: Request, wire: Wire) -> None:
        target = location() if callable(location) else location
        wire.send(response_head(status, [("Location", target), ("Content-Length", "0")]))

    return respond


def drip(
    body: bytes, content_type: str, every: float = 1.0, give_up_after: float = 30
) -> Responder:
    """Headers at once, then one byte of ``body`` every ``every`` seconds.

    The declared length is the whole body, so only a deadline over the whole
    request stops a client; after ``give_up_after`` seconds the server closes the
    connection itself, so a client without one still finishes (and fails).
    """

    def respond(_request: Request, wire: Wire) -> None:
        head = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if not wire.send(response_head(200, head)):
            return
        started = time.monotonic()
        for index in range(len(body)):
            if time.monotonic() - started > give_up_after:
                return
            if not wire.send(body[index : index + 1]) or not wire.pause(every):
                return

    return respond


def streamed(
    chunks: Callable[[], Iterable[bytes]],
    content_type: str,
    *,
    length: int | None,
    headers: Sequence[tuple[str, str]] = (),
) -> Responder:
    """A body produced lazily as the client reads it: with ``length`` as Content-Length,
    else in chunked transfer encoding.  Stops as soon as the client hangs up."""

    def respond(_request: Request, wire: Wire) -> None:
        head = [("Content-Type", content_type), *headers]
        head.append(("Content-Length", str(length)) if length is not None else
                    ("Transfer-Encoding", "chunked"))  # fmt: skip
        if not wire.send(response_head(200, head)):
            return
        for chunk in chunks():
            data = chunk if length is not None else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            if chunk and not wire.send(data):
                return
        if length is None:
            wire.send(b"0\r\n\r\n")

    return respond


def not_found(_request: Request, wire: Wire) -> None:
    static(b"not found", "text/plain", status=404)(_request, wire)


def _read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return None
        if not chunk or len(data) > 1 << 16:
            return None
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    first, *lines = head.split("\r\n")
    parts = first.split(" ")
    if len(parts) != 3:
        return None
    method, target, _version = parts
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, target, target.split("?", 1)[0], headers)


class RawHTTPServer:
    """An HTTP/1.1 server on a loopback address that writes whatever its responders write.

    One thread per connection, ``Connection: close`` on every response.  ``hits``
    counts requests per path, ``connections`` every accepted connection (a
    request or not), ``sent`` the bytes written per path.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._listener = socket.create_server((host, 0), backlog=128)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self.routes: dict[str, Responder] = {}
        self.prefixes: list[tuple[str, Responder]] = []
        self.fallback: Responder = not_found
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.requests: list[Request] = []
        self.connections = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name=f"raw-http-{host}", daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, responder: Responder) -> None:
        self.routes[path] = responder

    def route_prefix(self, prefix: str, responder: Responder) -> None:
        self.prefixes.append((prefix, responder))

    def count_sent(self, path: str, n: int) -> None:
        with self._lock:
            self.sent[path] += n

    def start(self) -> RawHTTPServer:
        self._acceptor.start()
        return self

    def close(self) -> None:
        self.stopping.set()
        self._listener.close()
        if self._acceptor.is_alive():
            self._acceptor.join(timeout=5)
        with self._lock:
            for sock in self._open:  # unblock responders stuck in sendall
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> RawHTTPServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            with self._lock:
                self.connections += 1
                self._open.add(sock)
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _responder(self, path: str) -> Responder:
        if path in self.routes:
            return self.routes[path]
        for prefix, responder in self.prefixes:
            if path.startswith(prefix):
                return responder
        return self.fallback

    def _serve(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(30)
            request = _read_request(sock)
            if request is None:
                return
            with self._lock:
                self.hits[request.path] += 1
                self.requests.append(request)
            with contextlib.suppress(OSError):  # the client hung up: nothing to do
                self._responder(request.path)(request, Wire(sock, self, request.path))
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        finally:
            with self._lock:
                self._open.discard(sock)
            sock.close()


class Blackhole:
    """A loopback port where ``connect()`` never completes.

    The listening socket has a backlog of 0 (one slot) and is never accepted
    from; one connection fills the slot, after which Linux drops every SYN, so a
    client waits for its own connect timeout.  Checked at construction.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(0)
        self.host, self.port = host, self._listener.getsockname()[1]
        self._filler = socket.create_connection((host, self.port), timeout=2)
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.3)
        try:
            probe.connect((host, self.port))
        except TimeoutError:
            pass
        else:
            raise RuntimeError("the blackhole accepted a connection: SYNs are not being dropped")
        finally:
            probe.close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self._filler.close()
        self._listener.close()


# -- decompression bombs -----------------------------------------------------------------------


def _gf2_times(matrix: Sequence[int], vector: int) -> int:
    result, index = 0, 0
    while vector:
        if vector & 1:
            result ^= matrix[index]
        vector >>= 1
        index += 1
    return result


def crc32_of_zeros(length: int) -> int:
    """``zlib.crc32(bytes(length))`` without touching ``length`` bytes.

    A zero bit is a linear map of the CRC register (zlib's ``crc32_combine``
    method); it is raised to the ``8 * length``-th power by squaring.
    """
    operator = [0xEDB88320] + [1 << i for i in range(31)]  # the register after one zero bit
    register, bits = 0xFFFFFFFF, 8 * length
    while bits:
        if bits & 1:
            register = _gf2_times(operator, register)
        bits >>= 1
        if bits:
            operator = [_gf2_times(operator, column) for column in operator]
    return register ^ 0xFFFFFFFF


@functools.cache
def _deflate_blocks(wbits: int, block: int) -> tuple[bytes, bytes]:
    """The first and the steady compressed block of a stream of zeros, each ending on a
    full flush, so the steady block can be repeated any number of times."""
    zeros = bytes(block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    steady = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert steady == again, "zlib's output for a flushed block of zeros is not stable"
    return first, steady


@dataclass(frozen=True)
class Bomb:
    """A valid compressed stream of ``inflated`` zero bytes, produced lazily."""

    encoding: str  # the Content-Encoding it is served with
    inflated: int
    length: int  # bytes on the wire
    chunks: Callable[[], Iterator[bytes]]

    def data(self) -> bytes:
        return b"".join(self.chunks())


def deflate_bomb(inflated: int, *, gzip: bool = True, block: int = 16 * MiB) -> Bomb:
    """gzip (or zlib-wrapped deflate) of ``inflated`` zeros: about 1/1000 of it on the wire."""
    count = inflated // block
    assert count >= 1 and count * block == inflated, "inflated must be a multiple of block"
    first, steady = _deflate_blocks(31 if gzip else 15, block)
    if gzip:
        trailer = struct.pack("<II", crc32_of_zeros(inflated), inflated & 0xFFFFFFFF)
    else:  # Adler-32 of n zeros: a stays 1, b gains 1 per byte
        trailer = struct.pack(">I", ((inflated % 65521) << 16) | 1)
    tail = b"\x03\x00" + trailer  # an empty final block, then the checksum

    def chunks() -> Iterator[bytes]:
        yield first
        for _ in range(count - 1):
            yield steady
        yield tail

    length = len(first) + (count - 1) * len(steady) + len(tail)
    return Bomb("gzip" if gzip else "deflate", inflated, length, chunks)


@functools.cache
def _brotli_blocks(block: int) -> tuple[bytes, int, bytes, bytes]:
    compressor = brotli.Compressor(quality=2, lgwin=24)
    zeros, outputs = bytes(block), list[bytes]()
    while len(outputs) < 2 or outputs[-1] != outputs[-2]:
        outputs.append(compressor.process(zeros) + compressor.flush())
        assert len(outputs) < 8, "brotli's output for a flushed block of zeros is not stable"
    head = b"".join(outputs[:-1])
    return head, len(outputs) - 1, outputs[-1], compressor.finish()


def brotli_bomb(inflated: int, *, block: int = 16 * MiB) -> Bomb:
    """Brotli of ``inflated`` zeros: a few bytes per 16 MiB, so a few KB for several GiB."""
    head, head_blocks, steady, tail = _brotli_blocks(block)
    count = inflated // block
    assert count >= head_blocks and count * block == inflated
    data = head + steady * (count - head_blocks) + tail
    return Bomb("br", inflated, len(data), lambda: iter((data,)))


def nested_gzip_bomb(inflated: int) -> Bomb:
    """gzip of a gzip bomb, served as ``Content-Encoding: gzip, gzip``: deflate alone cannot
    pass about 1000:1, but its output repeats, so a second layer makes it a few KB."""
    inner = deflate_bomb(inflated, gzip=True).data()
    data = zlib.compress(inner, 9, wbits=31)
    return Bomb("gzip, gzip", inflated, len(data), lambda: iter((data,)))


def serve_bomb(bomb: Bomb, content_type: str = "application/rss+xml") -> Responder:
    return streamed(
        bomb.chunks, content_type, length=bomb.length, headers=[("Content-Encoding", bomb.encoding)]
    )


# -- documents ---------------------------------------------------------------------------------

_VOCABULARY = (
    "ministers delegation ceasefire talks border crossing envoy parliament coalition budget "
    "harbour refinery drought reservoir tribunal verdict protest curfew convoy airstrike "
    "negotiators monitors observers residents farmers traders engineers doctors teachers "
    "announced rejected postponed confirmed denied welcomed criticised demanded reported "
    "northern southern coastal eastern western provincial municipal regional national "
    "water power grain fuel medicine salaries elections sanctions exports tariffs"
)
_WORDS = _VOCABULARY.split()


def article_html(slug: str, title: str | None = None, head: str = "", doctype: str = "") -> bytes:
    """A plain news article page with enough distinct text for trafilatura (seeded by slug)."""
    rng = random.Random(slug)
    title = title or f"Report {slug.replace('-', ' ')}"
    paragraphs = []
    for _ in range(6):
        sentences = []
        for _ in range(4):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(12, 20))]
            sentences.append(" ".join(words).capitalize() + ".")
        paragraphs.append(f"<p>{' '.join(sentences)}</p>")
    return (
        f'{doctype or "<!DOCTYPE html>"}\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{html.escape(title)}</title>{head}</head><body><header><nav><a href="/">Home'
        f"</a></nav></header><article><h1>{html.escape(title)}</h1>{''.join(paragraphs)}"
        "</article><footer>All rights reserved.</footer></body></html>"
    ).encode()


XML = '<?xml version="1.0"?>'
RSS_TYPE = "application/rss+xml"


def rss(title: str, base: str, items: Iterable[Mapping[str, str]], *, prolog: str = XML) -> str:
    """An RSS 2.0 document; each item's values are inserted as they are (already XML)."""
    body = "".join(
        "<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in item.items()) + "</item>" for item in items
    )
    return (
        f'{prolog}\n<rss version="2.0"><channel><title>{title}</title><link>{base}/</link>'
        f"<description>{title}</description>{body}</channel></rss>"
    )


BULK_START = datetime(2024, 1, 1, tzinfo=UTC)


def bulk_feed(base: str, count: int, seed: int = 7) -> bytes:
    """``count`` entries, entry ``i`` published ``i`` minutes after BULK_START, in shuffled
    order (so "newest first" must come from the dates, not the document order)."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    items = "".join(
        f"<item><title>Bulk {i}</title><link>{base}/bulk/{i}</link><pubDate>"
        f"{format_datetime(BULK_START + timedelta(minutes=i), usegmt=True)}</pubDate></item>"
        for i in order
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Bulk</title>'
        f"<link>{base}/</link><description>many entries</description>{items}</channel></rss>"
    ).encode()


def bulk_index(url: str) -> int:
    """Which bulk entry a stored URL is."""
    return int(url.rstrip("/").rsplit("/", 1)[1])


def oversize_chunks(base: str, total: int) -> tuple[int, Callable[[], Iterator[bytes]]]:
    """A well-formed RSS document of about ``total`` bytes: its length and its chunks."""
    head = f'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Huge</title><link>{base}/'
    head += "</link><description>huge</description>"
    filler = "".join(
        f"<item><title>Filler {i}</title><link>{base}/articles/filler-{i}</link><description>"
        f"{'padding ' * 100}</description></item>"
        for i in range(64)
    ).encode()
    tail = b"</channel></rss>"
    repeats = max(1, (total - len(head) - len(tail)) // len(filler))

    def chunks() -> Iterator[bytes]:
        yield head.encode()
        for _ in range(repeats):
            yield filler
        yield tail

    return len(head.encode()) + repeats * len(filler) + len(tail), chunks


ARABIC_CHANNEL = "قناة الأخبار"
ARABIC_TITLE = "أخبار الخليج: محادثات جديدة في الدوحة"
ARABIC_DESCRIPTION = "وصل الوفد إلى الدوحة صباح اليوم لبدء جولة جديدة من المحادثات"
MIXED_CHANNEL = "Café Doha — قطر"
MIXED_TITLE = "Café society returns to Doha — قطر"
BAD_DATES = (
    ("Far future", "Fri, 31 Dec 9999 23:59:59 +0000"),
    ("Yesterday", "yesterday"),
    ("February 31", "Sat, 31 Feb 2024 10:00:00 +0000"),
    ("Out of range", "2024-13-45T99:99:99Z"),
)
BILLION_LAUGHS = (
    XML
    + '\n<!DOCTYPE rss [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n'
        for n in range(1, 10)
    )
    + "]>"
)
PASSWD = Path("/etc/passwd")
JS_LINK = "javascript:alert('hostile-js-link')"
DATA_SENTINEL = "hostiledatapayloadsentinel"  # only inside the base64 of DATA_LINK
_DATA_PAGE = f"<html><body><article><p>{DATA_SENTINEL} {'word ' * 200}</p></article></body></html>"
DATA_LINK = "data:text/html;base64," + base64.b64encode(_DATA_PAGE.encode()).decode()
FILE_LINK = "file:///etc/passwd"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
PDF_SMALL = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]"
    b"/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
GOOD_PAGES = {  # the good feed's article pages, as tests/conftest.py serves them
    "/2020/01/07/funeral-report/": "funeral-report.html",
    "/2020/01/08/second-story/": "second-story.html",
    "/2020/01/09/third-story/": "third-story.html",
}


def passwd_first_line() -> str:
    return PASSWD.read_text(encoding="utf-8", errors="replace").splitlines()[0]


def _item(
    title: str, link: str, guid: str | None = None, description: str | None = None, **extra: str
) -> dict[str, str]:
    item = {"title": html.escape(title, quote=False), "link": html.escape(link, quote=False)}
    if guid:
        item["guid"] = html.escape(guid, quote=False)
    item["description"] = html.escape(description or f"Feed text of: {title}.", quote=False)
    item.update(extra)
    return item


# -- the cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile feed: its name in the config (also its key), URL and what should happen."""

    name: str
    url: str
    expect: str  # in words, for the benchmark's table
    fails: bool | None  # the poll must be recorded as failed (True), as ok (False), or either
    config: Mapping[str, Any] = field(default_factory=dict)  # extra keys of the feed's entry


class HostileWeb:
    """Every hostile case, served; use as a context manager.

    ``max_bytes`` is the fetcher's cap the run will use (oversize bodies are three
    times it); ``bomb_size`` is what each compression bomb inflates to;
    ``drip_for`` is how long a dripping response goes on before the server gives up.
    """

    GOOD = "good-feed"

    def __init__(
        self,
        *,
        max_bytes: int,
        bomb_size: int = GiB,
        bulk_entries: int = 50_000,
        drip_for: float = 30,
        retry_after: int = 7200,
    ) -> None:
        self.max_bytes, self.bomb_size, self.bulk_entries = max_bytes, bomb_size, bulk_entries
        self.drip_for, self.retry_after = drip_for, retry_after
        self.main = RawHTTPServer("127.0.0.1")
        self.other = RawHTTPServer("127.0.0.2")
        # a 429 with Retry-After pauses its whole host: the rate-limited site is a host of
        # its own, or it would pause every other case on 127.0.0.1
        self.limited = RawHTTPServer("127.0.0.3")
        self.blackhole = Blackhole("127.0.0.1")
        self.cases: dict[str, Case] = {}
        self.main.route_prefix("/articles/", self._article)
        self.main.route_prefix("/bulk/", self._article)
        self.other.fallback = self._other_host_bait
        self._good_feed()
        self._network_cases()
        self._size_cases()
        self._document_cases()
        self._encoding_cases()
        self._entry_cases()
        self._private_cases()

    def __enter__(self) -> HostileWeb:
        self.main.start()
        self.other.start()
        self.limited.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.main.close()
        self.other.close()
        self.limited.close()
        self.blackhole.close()

    @property
    def base(self) -> str:
        return self.main.base

    def feeds(self) -> list[dict[str, Any]]:
        """The config entries of every case, the good feed among them."""
        return [
            {"name": case.name, "url": case.url, "allow_private": True, **case.config}
            for case in self.cases.values()
        ]

    def good_urls(self) -> list[str]:
        return [self.main.url(path) for path in GOOD_PAGES]

    def article_url(self, slug: str) -> str:
        return self.main.url(f"/articles/{slug}")

    # -- building ------------------------------------------------------------------------------

    def _case(self, name: str, where: str, expect: str, fails: bool | None, **config: Any) -> None:
        url = where if "://" in where else self.main.url(where)
        self.cases[name] = Case(name, url, expect, fails, config)

    def _feed(
        self,
        name: str,
        document: str | bytes,
        content_type: str = "application/rss+xml",
    ) -> str:
        """Serve a case's feed document at /cases/NAME/feed.xml; returns the path."""
        path = f"/cases/{name}/feed.xml"
        body = document.encode() if isinstance(document, str) else document
        self.main.route(path, static(body, content_type))
        return path

    def _rss(self, name: str, items: Iterable[Mapping[str, str]], prolog: str = XML) -> str:
        return self._feed(name, rss(name, self.base, items, prolog=prolog))

    def _article(self, request: Request, wire: Wire) -> None:
        slug = request.path.strip("/").replace("/", "-")
        static(article_html(slug))(request, wire)

    def _good_feed(self) -> None:
        """tests/fixtures' news feed and its three real article pages."""
        news = (FIXTURES / "feeds" / "news.rss").read_text(encoding="utf-8")
        self.main.route("/feed/", static(news.replace("{base}", self.base).encode(), RSS_TYPE))
        for path, page in GOOD_PAGES.items():
            page_html = (FIXTURES / "pages" / page).read_text(encoding="utf-8")
            self.main.route(path, static(page_html.replace("{base}", self.base).encode()))
        self._case(self.GOOD, "/feed/", "all 3 articles stored with full text", False)

    def _network_cases(self) -> None:
        m = self.main
        hang = self.blackhole.url("/feed.xml")
        self._case("connect-hang", hang, "connect never completes: temporary, timed out", True)
        document = rss("Drip", self.base, [_item("Drip entry", self.article_url("drip-entry"))])
        m.route("/slow/feed.xml", drip(document.encode(), RSS_TYPE, give_up_after=self.drip_for))
        self._case("drip-feed", "/slow/feed.xml", "1 byte/s: cut at total_timeout, temporary", True)
        slow_page = drip(article_html("drip-page"), "text/html", give_up_after=self.drip_for)
        m.route("/slow/page", slow_page)
        path = self._rss("drip-page", [
            _item("Dripping article", m.url("/slow/page"), "drip-page-1"),
            _item("Quick article", self.article_url("drip-page-ok"), "drip-page-2"),
        ])  # fmt: skip
        self._case("drip-page", path, "feed ok; dripping page cut and kept pending", False)
        for status in (500, 502, 503):
            path = f"/cases/status-{status}/feed.xml"
            m.route(path, static(b"upstream trouble", "text/plain", status=status))
            self._case(f"status-{status}", path, f"HTTP {status}: temporary", True)
        retry = [("Retry-After", str(self.retry_after))]
        limited = static(b"slow down", "text/plain", 429, retry)
        self.limited.route("/cases/status-429/feed.xml", limited)
        expect = f"HTTP 429: temporary, next poll after Retry-After {self.retry_after}s"
        self._case("status-429", self.limited.url("/cases/status-429/feed.xml"), expect, True)
        m.route("/loop/a", redirect(m.url("/loop/b")))
        m.route("/loop/b", redirect(m.url("/loop/a")))
        self._case("redirect-loop", "/loop/a", "redirect loop: hard, too many redirects", True)
        for hop in range(1, 16):
            m.route(f"/chain/{hop}", redirect(m.url(f"/chain/{hop + 1}" if hop < 15 else "/feed/")))
        self._case("redirect-chain-15", "/chain/1", "15 redirects: refused, too many", True)

    def _size_cases(self) -> None:
        m = self.main
        for name, bomb in (
            ("gzip-bomb", deflate_bomb(self.bomb_size, gzip=True)),
            ("deflate-bomb", deflate_bomb(self.bomb_size, gzip=False)),
            ("brotli-bomb", brotli_bomb(self.bomb_size)),
            ("gzip-gzip-bomb", nested_gzip_bomb(self.bomb_size)),
        ):
            m.route(f"/bombs/{name}", serve_bomb(bomb))
            size = f"{bomb.length // 1024} KiB -> {bomb.inflated / GiB:g} GiB"
            self._case(name, f"/bombs/{name}", f"{size}: cut at max_bytes, soft", True)
        m.route("/bombs/page", serve_bomb(deflate_bomb(self.bomb_size), "text/html"))
        path = self._rss("page-bomb", [_item("A gzip bomb", m.url("/bombs/page"), "page-bomb")])
        self._case("page-bomb", path, "feed ok; page cut, item from the feed's text", False)
        length, chunks = oversize_chunks(self.base, 3 * self.max_bytes)
        m.route("/huge/with-length", streamed(chunks, RSS_TYPE, length=length))
        expect = "3x max_bytes, with Content-Length: refused, soft"
        self._case("oversize-length", "/huge/with-length", expect, True)
        m.route("/huge/chunked", streamed(chunks, RSS_TYPE, length=None))
        expect = "3x max_bytes, chunked: cut at max_bytes, soft"
        self._case("oversize-chunked", "/huge/chunked", expect, True)

    def _document_cases(self) -> None:
        broken = "\x00\x01" + XML + '\n<rss version="2.0"><channel><title>Broken &&& <<<\x02 </rss'
        path = self._feed("invalid-xml", broken)
        self._case("invalid-xml", path, "not XML: failed, not a feed", True)
        path = self._feed("html-page", article_html("not-a-feed"), "text/html; charset=utf-8")
        self._case("html-page", path, "HTML page: failed, not a feed", True)
        self._case("empty-200", self._feed("empty-200", b""), "empty body: failed, empty", True)
        laughs = rss(
            "Laughs", self.base, [_item("LAUGHS", self.article_url("laughs"), "laughs-1")],
            prolog=BILLION_LAUGHS,
        ).replace("<title>LAUGHS", "<title>&lol9;")  # fmt: skip
        path = self._feed("billion-laughs", laughs)
        expect = "entities not expanded; nothing huge stored"
        self._case("billion-laughs", path, expect, None, full_text=False)
        prolog = (
            XML + '\n<!DOCTYPE rss [\n <!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
            f' <!ENTITY remote SYSTEM "{self.other.url("/xxe.dtd")}">\n]>'
        )
        items = [_item("LEAK", self.article_url("xxe-article"), "xxe-1", "DESCRIPTION")]
        xxe = rss("XXE &xxe;", self.base, items, prolog=prolog)
        xxe = xxe.replace("LEAK", "Leak &xxe;").replace("DESCRIPTION", "&xxe; &remote; text")
        self._case("xxe", self._feed("xxe", xxe), "external entities never resolved", None)
        doctype = '<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        page = article_html("xxe-page", doctype=doctype).replace(b"<h1>", b"<p>&xxe;</p><h1>")
        self.main.route("/articles/xxe-article", static(page))

    def _encoding_cases(self) -> None:
        """full_text is off for these, so the stored title is the feed's own."""

        def arabic(name: str, prolog: str) -> bytes:
            items = [_item(ARABIC_TITLE, self.article_url(name), name, ARABIC_DESCRIPTION)]
            return rss(ARABIC_CHANNEL, self.base, items, prolog=prolog).encode("cp1256")

        def mixed(name: str, encoding: str) -> bytes:
            items = [_item(MIXED_TITLE, self.article_url(name), name)]
            prolog = f'<?xml version="1.0" encoding="{encoding}"?>'
            return rss(MIXED_CHANNEL, self.base, items, prolog=prolog).encode()

        declared = '<?xml version="1.0" encoding="windows-1256"?>'
        document, charset = arabic("cp1256-declared", declared), "charset=windows-1256"
        path = self._feed("cp1256-declared", document, f"{RSS_TYPE}; {charset}")
        expect = "Windows-1256, declared: Arabic title stored right"
        self._case("cp1256-declared", path, expect, False, full_text=False)
        path = self._feed("cp1256-undeclared", arabic("cp1256-undeclared", XML))
        expect = "Windows-1256, no charset anywhere: Arabic title stored right"
        self._case("cp1256-undeclared", path, expect, False, full_text=False)
        path = self._feed("utf8-bom", b"\xef\xbb\xbf" + mixed("utf8-bom", "utf-8"))
        self._case("utf8-bom", path, "UTF-8 with BOM: title stored right", False, full_text=False)
        latin = mixed("latin1-is-utf8", "ISO-8859-1")
        path = self._feed("latin1-is-utf8", latin, f"{RSS_TYPE}; charset=ISO-8859-1")
        expect = "declared Latin-1, really UTF-8: title stored right"
        self._case("latin1-is-utf8", path, expect, False, full_text=False)

    def _entry_cases(self) -> None:
        m, article = self.main, self.article_url
        items = [
            _item(title, article(f"date-{i}"), f"date-{i}", pubDate=date)
            for i, (title, date) in enumerate(BAD_DATES)
        ]
        expect = f"all {len(BAD_DATES)} stored; no date in the future, none invented"
        self._case("bad-dates", self._rss("bad-dates", items), expect, False)
        m.route("/cases/bulk/feed.xml", static(bulk_feed(self.base, self.bulk_entries), RSS_TYPE))
        expect = f"{self.bulk_entries} entries: newest first within the budget, the rest later"
        self._case("bulk-50k", "/cases/bulk/feed.xml", expect, False)
        path = self._rss("duplicate-guids", [
            _item("First with the GUID", article("dup-a"), "same-guid"),
            _item("Second with the GUID", article("dup-b"), "same-guid"),
        ])  # fmt: skip
        self._case("duplicate-guids", path, "same GUID, different links: both stored", False)
        path = self._rss("relative-links", [
            _item("Path-relative", "/articles/rel-path", "rel-1"),
            _item("Protocol-relative", f"//127.0.0.1:{m.port}/articles/rel-proto", "rel-2"),
        ])  # fmt: skip
        self._case("relative-links", path, "resolved against the feed's URL and stored", False)
        path = self._rss("fragment-links", [
            _item("Update one", article("live") + "#update-1", "live-1", "First update."),
            _item("Update two", article("live") + "#update-2", "live-2", "Second update."),
        ])  # fmt: skip
        self._case("fragment-links", path, "links differing by #fragment: two items", False)
        path = self._rss("short-descriptions", [
            _item("Teaser one", article("teaser-1"), "teaser-1", "Developing story."),
            _item("Teaser two", article("teaser-2"), "teaser-2", "Developing story."),
        ])  # fmt: skip
        expect = "same short text, two links: two items, not merged"
        self._case("short-descriptions", path, expect, False, full_text=False)
        path = self._rss("bad-schemes", [
            _item("Entry with a javascript link", JS_LINK, "scheme-js"),
            _item("Entry with a data link", DATA_LINK, "scheme-data"),
            _item("Entry with a file link", FILE_LINK, "scheme-file"),
            _item("Entry with a normal link", article("scheme-ok"), "scheme-ok"),
        ])  # fmt: skip
        expect = "javascript:/data:/file: never fetched, rejected with a reason"
        self._case("bad-schemes", path, expect, False)
        m.route("/files/report.pdf", static(PDF_SMALL, "application/pdf"))
        m.route("/files/photo.png", static(PNG_1PX, "image/png"))
        path = self._rss("pdf-image", [
            _item("A PDF report", m.url("/files/report.pdf"), "file-pdf", "The annual report."),
            _item("A photo", m.url("/files/photo.png"), "file-png", "Photo of the harbour."),
        ])  # fmt: skip
        expect = "PDF and image: stored from the feed's text, reason recorded"
        self._case("pdf-image", path, expect, False)

    def _private_cases(self) -> None:
        m, other = self.main, self.other
        m.route("/to-private", redirect(other.url("/secret-redirected")))
        path = self._rss("private-links", [
            _item("Link to another private host", other.url("/secret"), "private-1"),
            _item("Redirect to another private host", m.url("/to-private"), "private-2"),
            _item("Link on the feed's own host", self.article_url("private-ok"), "private-3"),
        ])  # fmt: skip
        self._case("private-links", path, "127.0.0.2 never contacted; own-host page stored", False)
        expect = "feed on 127.0.0.2 without allow_private: refused"
        self._case("private-feed", other.url("/feed.xml"), expect, True, allow_private=False)
        m.route("/cases/private-redirect/feed.xml", redirect(other.url("/feed.xml")))
        path = "/cases/private-redirect/feed.xml"
        self._case("private-redirect", path, "feed redirects to 127.0.0.2: refused", True)

    def _other_host_bait(self, request: Request, wire: Wire) -> None:
        """127.0.0.2 answers everything with something worth storing: if the guard ever
        let a request through, it would show in the database, not only in the count."""
        if request.path.endswith((".xml", ".dtd")):
            items = [_item("Bait", self.other.url("/bait-article"), "bait-1", "Bait text")]
            static(rss("Other host", self.other.base, items).encode(), RSS_TYPE)(request, wire)
        else:
            static(article_html("other-host-bait", "Other host bait"))(request, wire)


# -- running monitor and reading what it stored -------------------------------------------------


@dataclass(frozen=True)
class MonitorRun:
    returncode: int
    stdout: str
    stderr: str
    wall: float  # seconds
    peak_rss: int  # bytes: the main process (wait4's ru_maxrss)
    peak_rss_any: int  # bytes: the largest VmHWM seen in any process of the run
    peak_rss_total: int  # bytes: the largest sum of VmRSS over the run's processes at one time
    processes: int  # how many processes the run used in all
    timed_out: bool
    left_behind: int  # processes of the run still alive 3 s after the main one ended


def _session_rss(session: int) -> dict[int, tuple[int, int]]:
    """pid -> (VmRSS, VmHWM) in bytes for every process of this session."""
    found: dict[int, tuple[int, int]] = {}
    for proc in Path("/proc").iterdir():
        entry = proc.name
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[3]) != session:  # field 6, after state, ppid, pgrp
                continue
            status = Path(f"/proc/{entry}/status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        values = {
            line.split(":")[0]: int(line.split()[1]) * 1024
            for line in status.splitlines()
            if line.startswith(("VmRSS:", "VmHWM:"))
        }
        found[int(entry)] = (values.get("VmRSS", 0), values.get("VmHWM", 0))
    return found


def run_monitor(
    config: Path, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None
) -> MonitorRun:
    """``python -m monitor --config CONFIG ARGS`` in a session of its own, with its wall
    time and peak memory; killed (the whole session) after ``timeout`` seconds."""
    command = [sys.executable, "-m", "monitor", "--config", str(config), *args]
    environment = {**os.environ, "COLUMNS": "250", **(env or {})}
    out_path, err_path = config.with_suffix(".stdout"), config.with_suffix(".stderr")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdout=out, stderr=err, env=environment, start_new_session=True,
            cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        hwm: dict[int, int] = {}
        total, timed_out = 0, False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            sample = _session_rss(process.pid)
            total = max(total, sum(rss for rss, _ in sample.values()))
            for child, (_, peak) in sample.items():
                hwm[child] = max(hwm.get(child, 0), peak)
            if time.monotonic() - started > timeout:
                timed_out = True
                os.killpg(process.pid, signal.SIGKILL)
            time.sleep(0.1)
        wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    deadline = time.monotonic() + 3  # the pool's processes exit once the main one has
    while _session_rss(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left_behind = sorted(_session_rss(process.pid))
    for child in left_behind:  # descendants of the run, ended by their ids
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    return MonitorRun(
        returncode=process.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        wall=wall,
        peak_rss=usage.ru_maxrss * 1024,
        peak_rss_any=max([usage.ru_maxrss * 1024, *hwm.values()]),
        peak_rss_total=total,
        processes=len(hwm),
        timed_out=timed_out,
        left_behind=len(left_behind),
    )


def as_utc(value: Any) -> datetime | None:
    """A datetime column read with raw SQL (SQLite gives strings, naive), as aware UTC."""
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True)
class Snapshot:
    """What a run left in the database: feeds by name, and each feed's items."""

    feeds: dict[str, dict[str, Any]]
    items: dict[str, list[dict[str, Any]]]
    tables: dict[str, list[dict[str, Any]]]  # every row of every table (small databases only)


def snapshot(database_url: str, skip_tables: Sequence[str] = ("sketch_bands",)) -> Snapshot:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            feeds = {
                row["name"]: dict(row)
                for row in connection.execute(text("SELECT * FROM feeds")).mappings()
            }
            items: dict[str, list[dict[str, Any]]] = {name: [] for name in feeds}
            rows = connection.execute(
                text(
                    "SELECT f.name AS feed_name, fi.guid AS entry_guid, fi.entry_url, i.* "
                    "FROM items i JOIN feed_items fi ON fi.item_id = i.id "
                    "JOIN feeds f ON f.id = fi.feed_id ORDER BY i.id"
                )
            ).mappings()
            for row in rows:
                items[row["feed_name"]].append(dict(row))
            tables = {}
            for table in inspect(connection).get_table_names():
                if table in skip_tables or table == "alembic_version":
                    continue
                tables[table] = [
                    dict(r) for r in connection.execute(text(f'SELECT * FROM "{table}"')).mappings()
                ]
    finally:
        engine.dispose()
    return Snapshot(feeds, items, tables)


def text_columns(database_url: str) -> dict[str, list[tuple[str, bool]]]:
    """table -> [(column, is_binary)] for every text, JSON and binary column."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            return {
                table: [
                    (c["name"], isinstance(c["type"], LargeBinary))
                    for c in inspector.get_columns(table)
                    if isinstance(c["type"], String | JSON | LargeBinary)
                ]
                for table in inspector.get_table_names()
            }
    finally:
        engine.dispose()


def _readable(value: Any) -> str:
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        data: bytes = value
        for decode in (brotli.decompress, zlib.decompress):
            try:
                data = decode(value)
                break
            except Exception:  # not that kind of stream: read it as it is
                continue
        return data.decode("utf-8", errors="replace")
    return str(value)


def find_text(database_url: str, needles: Sequence[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every needle found in any text, JSON or binary column of
    any table (binary values are read as brotli or zlib streams when they are)."""
    found = []
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            for table, columns in text_columns(database_url).items():
                if not columns:
                    continue
                names = ", ".join(f'"{name}"' for name, _ in columns)
                for row in connection.execute(text(f'SELECT {names} FROM "{table}"')):
                    for (name, _), value in zip(columns, row, strict=True):
                        if value is None:
                            continue
                        content = _readable(value)
                        found += [(table, name, n) for n in needles if n in content]
    finally:
        engine.dispose()
    return found
