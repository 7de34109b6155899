"""A fast loopback web server for the polling benchmarks, in a process of its own.

One asyncio process listens on one port of many loopback addresses
(``127.0.X.Y``, all routed to ``lo`` on Linux): monitor is polite per host
name (``fetch.per_host`` requests at once, ``fetch.per_host_delay`` seconds
apart), so a benchmark that put every feed on 127.0.0.1 would measure that
delay, not the poller.  Spreading feeds over addresses is what a real
population of feeds looks like: many hosts, a few feeds each.

What is served is decided by a :class:`Site` (picklable; it runs in the server
process): :class:`NotModifiedSite` answers 304 to every conditional GET,
``bench.mediacloud_replay`` has one that publishes entries as (compressed) time
goes by.  Every response is counted by the site; ``GET /_bench/stats`` on any
address returns the counters as JSON and ``GET /_bench/reset`` returns them and zeroes them.
``GET /_bench/set?key=value`` hands a setting to the site (the replay's clock).

The server is a bare ``asyncio.Protocol`` (HTTP/1.1, keep-alive, GET only),
so one process answers several thousand requests a second and stays far from
being what a benchmark measures.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import socket
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Reply = tuple[int, dict[str, str], bytes, float]  # status, headers, body, delay (s)


def addresses(count: int, first_octet: int = 1) -> list[str]:
    """``count`` loopback addresses 127.0.1.1, 127.0.1.2, ..., 200 per /24, none of
    them 127.0.0.x (the tests use 127.0.0.2 as "another host")."""
    return [f"127.0.{first_octet + i // 200}.{1 + i % 200}" for i in range(count)]


@dataclass
class Site:
    """What the server answers; subclasses override :meth:`reply`."""

    counts: Counter[str] = field(default_factory=Counter)

    def reply(self, host: str, path: str, headers: dict[str, str]) -> Reply:
        self.counts["404"] += 1
        return 404, {}, b"not found\n", 0.0

    def configure(self, settings: dict[str, str]) -> None:
        """A setting from ``/_bench/set``."""

    def stats(self) -> dict[str, Any]:
        return dict(self.counts)


FEED_TEMPLATE = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    "<title>{title}</title><link>http://{host}/</link><description>bench</description>"
    "{items}</channel></rss>\n"
)


@dataclass
class NotModifiedSite(Site):
    """``/feed/N.xml``: a small RSS document with one entry and an ETag; a GET whose
    ``If-None-Match`` carries that ETag gets 304.  ``/a/N`` is the entry's page."""

    def reply(self, host: str, path: str, headers: dict[str, str]) -> Reply:
        if path.startswith("/feed/"):
            etag = f'"{host}{path}-v1"'
            if headers.get("if-none-match") == etag:
                self.counts["conditional_304"] += 1
                return 304, {"ETag": etag}, b"", 0.0
            self.counts["conditional" if "if-none-match" in headers else "unconditional"] += 1
            self.counts["feed_200"] += 1
            name = path.rsplit("/", 1)[1].removesuffix(".xml")
            item = (
                f"<item><title>Story of feed {name}</title><link>http://{host}/a/{name}</link>"
                f"<guid>http://{host}/a/{name}</guid>"
                "<pubDate>Tue, 01 Dec 2026 08:00:00 GMT</pubDate>"
                f"<description>The one story of feed {name}.</description></item>"
            )
            body = FEED_TEMPLATE.format(title=f"feed {name}", host=host, items=item).encode()
            return 200, {"Content-Type": "application/rss+xml", "ETag": etag}, body, 0.0
        if path.startswith("/a/"):
            self.counts["page_200"] += 1
            text = " ".join(["A sentence of the story, long enough to be an article."] * 30)
            page = (
                "<html><head><title>Story</title></head><body><article><h1>Story</h1>"
                f"<p>{text}</p></article></body></html>"
            )
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode(), 0.0
        return super().reply(host, path, headers)


class _Http(asyncio.Protocol):
    def __init__(self, site: Site) -> None:
        self.site = site
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.host = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.host = transport.get_extra_info("sockname")[0]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            target = parts[1] if len(parts) > 1 else "/"
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self._answer(target, headers)

    def _answer(self, target: str, headers: dict[str, str]) -> None:
        url = urlsplit(target)
        if url.path.startswith("/_bench/"):
            body = self._control(url.path, dict(parse_qsl(url.query)))
            self._send(200, {"Content-Type": "application/json"}, body)
            return
        host = headers.get("host", self.host)  # with the port: links are built from it
        status, extra, body, delay = self.site.reply(host, url.path, headers)
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._send, status, extra, body)
        else:
            self._send(status, extra, body)

    def _control(self, path: str, query: dict[str, str]) -> bytes:
        stats = json.dumps(self.site.stats()).encode()  # before a reset: what it cleared
        if path == "/_bench/reset":
            self.site.counts.clear()
        elif path == "/_bench/set":
            self.site.configure(query)
        return stats

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


_REASONS = {
    200: "OK",
    304: "Not Modified",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def raise_file_limit() -> None:
    """Up to the hard limit: one listening socket per address, plus connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _serve(site: Site, hosts: list[str], port: int, ready: Connection) -> None:
    raise_file_limit()
    os.nice(0)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = []
        for host in hosts:
            servers.append(
                await loop.create_server(lambda: _Http(site), host, port, reuse_address=True)
            )
        ready.send(port)
        await asyncio.Event().wait()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LoopbackWeb:
    """The server process: ``with LoopbackWeb(site, hosts) as web: ... web.stats()``."""

    def __init__(self, site: Site, hosts: list[str]) -> None:
        self.site, self.hosts = site, hosts
        self.port = 0
        self.process: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> LoopbackWeb:
        context = multiprocessing.get_context("spawn")
        for _attempt in range(5):
            port = free_port()
            here, there = context.Pipe()
            self.process = context.Process(
                target=_serve, args=(self.site, self.hosts, port, there), daemon=True
            )
            self.process.start()
            if here.poll(60):
                self.port = here.recv()
                return self
            self.process.kill()
        raise RuntimeError("the loopback server could not bind its addresses")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join(5)

    def control(self, path: str) -> dict[str, Any]:
        with socket.create_connection((self.hosts[0], self.port), timeout=30) as conn:
            conn.sendall(f"GET /_bench/{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += conn.recv(65536)
        result: dict[str, Any] = json.loads(body)
        return result

    def stats(self) -> dict[str, Any]:
        return self.control("stats")

    def reset(self) -> dict[str, Any]:
        return self.control("reset")

    @property
    def pid(self) -> int:
        return self.process.pid or 0 if self.process else 0
