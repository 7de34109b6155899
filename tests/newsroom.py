"""A growing news site on loopback and an auditor of the store, for the crash-safety and
database-outage tests (tests/test_crash_safety.py, tests/test_db_outage.py).

:class:`Newsroom` serves feeds that grow on demand, each entry an article page of
its own; :func:`audit_store` checks, in plain SQL, that every entry served is stored
exactly once and no item is half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import PAGES, config_file, fixture_text


@dataclass(frozen=True)
class NewsEntry:
    """One entry of a :class:`Newsroom` feed, with an article page of its own."""

    feed: int
    number: int
    guid: str
    path: str
    title: str
    published: datetime
    marker: str  # a word only this entry's page contains
    codeword: bool  # its page names the watchlists' codeword
    also_in: int | None  # another feed that carries the same article under its own GUID


class Newsroom:
    """Feeds that grow on demand, each entry an article page of its own, on loopback.

    The pages are the real pages of ``tests/fixtures/pages`` with the title,
    the URL and four generated paragraphs changed per entry, so every entry is
    a distinct article (its own text hash, no near-duplicate of another).
    Pages answer after a few milliseconds (``page_delay``) so that a poll
    takes long enough to be interrupted.  Feeds carry an ETag and answer 304
    to ``If-None-Match``.  The server is a ``ThreadingHTTPServer`` of the test
    process, bound to 127.0.0.1.
    """

    CODEWORD = "Bluefinch"
    WATCHLIST = "Codeword watch"

    def __init__(
        self, feeds: int = 4, seed: int = 0, page_delay: tuple[float, float] = (0.005, 0.05)
    ) -> None:
        self.feeds = feeds
        self.page_delay = page_delay
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._entries: list[list[NewsEntry]] = [[] for _ in range(feeds)]
        self._bodies: dict[int, tuple[bytes, str]] = {}
        self.requests: list[tuple[float, str, int]] = []  # (monotonic time, path, status)
        self._server = _QuietServer(("127.0.0.1", 0), _newsroom_handler(self))
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._templates = [fixture_text(p, self.base) for p in PAGES.values()]
        self._template_paths = list(PAGES)
        self._vocabulary = _vocabulary(self._templates)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what is served ------------------------------------------------------------

    def feed_path(self, feed: int) -> str:
        return f"/feeds/{feed}.rss"

    def feed_url(self, feed: int) -> str:
        return self.base + self.feed_path(feed)

    def feed_name(self, feed: int) -> str:
        return f"Desk {feed}"

    def feed_configs(self) -> list[dict[str, Any]]:
        return [{"name": self.feed_name(k), "url": self.feed_url(k)} for k in range(self.feeds)]

    def config(self, directory: Path, database: str, **extra: Any) -> Path:
        """A feeds.yaml for these feeds: one extraction worker, the codeword watchlist."""
        extra.setdefault("extract", {"workers": 1, "keep_raw_html": True})
        extra.setdefault("watchlists", [{"name": self.WATCHLIST, "rules": [self.CODEWORD]}])
        return config_file(directory, database, self.feed_configs(), **extra)

    def publish(self, per_feed: int | Sequence[int]) -> list[NewsEntry]:
        """Add entries to every feed (``per_feed`` each, or one count per feed)."""

        counts = [per_feed] * self.feeds if isinstance(per_feed, int) else list(per_feed)
        added: list[NewsEntry] = []
        with self._lock:
            for feed, count in enumerate(counts):
                for _ in range(count):
                    number = len(self._entries[feed])
                    serial = sum(len(e) for e in self._entries)
                    cross = self._rng.random() < 0.125 and self.feeds > 1
                    entry = NewsEntry(
                        feed=feed,
                        number=number,
                        guid=f"{self.base}/?p={feed}-{number}",
                        path=f"/news/desk-{feed}/{number}/",
                        title=f"Desk {feed} dispatch {number}: "
                        + " ".join(self._rng.sample(self._vocabulary, 4)),
                        published=datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=serial),
                        marker=f"ref{feed}x{number}",
                        codeword=number % 4 == 0,
                        also_in=(feed + 1) % self.feeds if cross else None,
                    )
                    self._entries[feed].append(entry)
                    added.append(entry)
            self._bodies.clear()
        return added

    def entries(self) -> list[NewsEntry]:
        with self._lock:
            return [e for feed in self._entries for e in feed]

    def url(self, entry: NewsEntry) -> str:
        return self.base + entry.path

    def carried(self) -> set[tuple[str, str, str]]:
        """Every (feed name, GUID, article URL) served: what ``feed_items`` must hold."""
        links: set[tuple[str, str, str]] = set()
        for entry in self.entries():
            links.add((self.feed_name(entry.feed), entry.guid, self.url(entry)))
            if entry.also_in is not None:
                links.add((self.feed_name(entry.also_in), _cross_guid(entry), self.url(entry)))
        return links

    def etag(self, feed: int) -> str:
        return self._feed_body(feed)[1]

    def page_requests(self) -> int:
        return sum(1 for _t, path, _s in list(self.requests) if path.startswith("/news/"))

    # -- rendering -----------------------------------------------------------------

    def _feed_items(self, feed: int) -> list[tuple[NewsEntry, str, str]]:
        own = [(e, e.guid, self.url(e)) for e in self._entries[feed]]
        crossed = [
            (e, _cross_guid(e), self.url(e) + "?utm_source=partner&utm_medium=rss")
            for entries in self._entries
            for e in entries
            if e.also_in == feed
        ]
        return sorted(own + crossed, key=lambda t: t[0].published, reverse=True)

    def _feed_body(self, feed: int) -> tuple[bytes, str]:

        with self._lock:
            if feed not in self._bodies:
                items = "".join(
                    f"<item><title>{escape(e.title)}</title><link>{escape(link)}</link>"
                    f'<guid isPermaLink="false">{escape(guid)}</guid>'
                    f"<pubDate>{format_datetime(e.published)}</pubDate>"
                    f"<description>{escape(e.title)}, in brief.</description></item>\n"
                    for e, guid, link in self._feed_items(feed)
                )
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                    f"<title>{self.feed_name(feed)}</title><link>{self.base}/</link>"
                    f"<description>Dispatches of desk {feed}</description>\n{items}"
                    "</channel></rss>\n"
                ).encode()
                self._bodies[feed] = (body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
            return self._bodies[feed]

    def _entry_at(self, path: str) -> NewsEntry | None:
        match = re.fullmatch(r"/news/desk-(\d+)/(\d+)/", path)
        if not match:
            return None
        feed, number = int(match.group(1)), int(match.group(2))
        with self._lock:
            if feed < self.feeds and number < len(self._entries[feed]):
                return self._entries[feed][number]
        return None

    def page(self, entry: NewsEntry) -> str:

        rng = random.Random(entry.guid)
        which = (entry.feed + entry.number) % len(self._templates)
        html = self._templates[which].replace(
            self.base + self._template_paths[which], self.url(entry)
        )
        heading = re.search(r'<h1 class="entry-title">(.*?)</h1>', html)
        assert heading is not None
        html = html.replace(heading.group(1), escape(entry.title))
        paragraphs = []
        for index in range(4):
            words = rng.choices(self._vocabulary, k=45)
            if index == 0:
                words.insert(3, f"(reference {entry.marker})")
            if index == 2 and entry.codeword:
                words.insert(10, f"near the {self.CODEWORD} site")
            sentence = " ".join(words)
            paragraphs.append(f"<p>{sentence[0].upper()}{sentence[1:]}.</p>\n")
        # The template's dateline paragraph stays; the rest of its story gives way to this
        # entry's own, so that no two entries are near-duplicates of each other.
        start = html.index('<div class="entry-content">')
        first = html.index("</p>", start) + len("</p>")
        end = html.index("</div>", first)
        body = re.sub(r"<p>.*?</p>\s*", "", html[first:end], flags=re.S)
        return html[:first] + "\n" + "".join(paragraphs) + body + html[end:]


def _cross_guid(entry: NewsEntry) -> str:
    return f"{entry.guid}&syndicated=1"


def _vocabulary(pages: Sequence[str]) -> list[str]:
    words: set[str] = set()
    for html in pages:
        body = html.split('<div class="entry-content">', 1)[1].split("</div>", 1)[0]
        text = re.sub(r"<[^>]+>|&[#\w]+;", " ", body)
        words.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", text))
    return sorted(words)


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client vanishes mid-request: the crash tests kill clients."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _newsroom_handler(room: Newsroom) -> type[Any]:

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # the name http.server calls
            path = self.path.split("?", 1)[0]
            status, body, headers = self._answer(path)
            room.requests.append((time.monotonic(), path, status))
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client was killed mid-request, which is what some tests do

        def _answer(self, path: str) -> tuple[int, bytes, dict[str, str]]:
            match = re.fullmatch(r"/feeds/(\d+)\.rss", path)
            if match and int(match.group(1)) < room.feeds:
                body, etag = room._feed_body(int(match.group(1)))
                if self.headers.get("If-None-Match") == etag:
                    return 304, b"", {"ETag": etag}
                return 200, body, {"Content-Type": "application/rss+xml", "ETag": etag}
            entry = room._entry_at(path)
            if entry is None:
                return 404, b"not found", {"Content-Type": "text/plain"}
            low, high = room.page_delay
            time.sleep(random.Random(path).uniform(low, high))
            html = room.page(entry).encode()
            return 200, html, {"Content-Type": "text/html; charset=utf-8"}

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@dataclass
class Audit:
    """What a store holds of what a :class:`Newsroom` served (see :func:`audit_store`)."""

    served: int = 0
    stored: int = 0
    lost: list[str] = field(default_factory=list)  # served article URLs with no item
    duplicated: list[str] = field(default_factory=list)  # entries stored as more than one item
    extra: list[str] = field(default_factory=list)  # items of URLs that were never served
    links_missing: list[str] = field(default_factory=list)  # (feed, GUID) with no feed_items row
    links_wrong: list[str] = field(default_factory=list)  # feed_items rows that were not served
    half_written: list[str] = field(default_factory=list)  # items missing a part
    matches_wrong: list[str] = field(default_factory=list)
    feeds_wrong: list[str] = field(default_factory=list)
    rejected: int = 0  # entry_rejections rows (none of these entries should fail)
    page_retries: int = 0

    @property
    def problems(self) -> list[str]:
        found: list[str] = []
        for name in (
            "lost",
            "duplicated",
            "extra",
            "links_missing",
            "links_wrong",
            "half_written",
            "matches_wrong",
            "feeds_wrong",
        ):
            values = getattr(self, name)
            if values:
                found.append(f"{name} ({len(values)}): {values[:8]}")
        if self.rejected:
            found.append(f"{self.rejected} entries recorded as failed")
        if self.page_retries:
            found.append(f"{self.page_retries} pages waiting for a retry")
        return found


def _rows(conn: Any, sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import text

    return list(conn.execute(text(sql), params).all())


def audit_store(room: Newsroom, db_url: str, feed_state: bool = True) -> Audit:
    """Compare the store at ``db_url`` with everything ``room`` served, with plain SQL."""
    from collections import Counter

    from sqlalchemy import create_engine, inspect

    audit = Audit()
    entries = room.entries()
    by_url = {room.url(e): e for e in entries}
    audit.served = len(entries)
    engine = create_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            items = _rows(
                conn,
                "SELECT id, canonical_url, text, extraction_method, field_sources, fetch_error,"
                " content_hash FROM items",
            )
            links = _rows(
                conn,
                "SELECT f.name, fi.guid, fi.item_id FROM feed_items fi"
                " JOIN feeds f ON f.id = fi.feed_id",
            )
            sketches = Counter(r[0] for r in _rows(conn, "SELECT item_id FROM item_sketches"))
            bands = Counter(r[0] for r in _rows(conn, "SELECT item_id FROM sketch_bands"))
            pages = {r[0] for r in _rows(conn, "SELECT item_id FROM item_pages")}
            matched = {
                r[0]
                for r in _rows(
                    conn,
                    "SELECT DISTINCT item_id FROM watch_matches WHERE watchlist = :w",
                    w=Newsroom.WATCHLIST,
                )
            }
            feeds = _rows(
                conn,
                "SELECT name, etag, last_outcome, consecutive_failures, lease_owner,"
                " lease_until, next_fetch_at, last_fetched_at FROM feeds",
            )
            if "entry_rejections" in tables:
                audit.rejected = len(_rows(conn, "SELECT id FROM entry_rejections"))
            if "page_retries" in tables:
                audit.page_retries = len(_rows(conn, "SELECT item_id FROM page_retries"))
    finally:
        engine.dispose()
    audit.stored = len(items)
    urls = Counter(row[1] for row in items)
    audit.lost = sorted(set(by_url) - set(urls))
    audit.extra = sorted(set(urls) - set(by_url))
    holders: Counter[str] = Counter()
    item_url = {row[0]: row[1] for row in items}
    linked_items = {row[2] for row in links}
    for item_id, url, text, method, sources, fetch_error, content_hash in items:
        markers = re.findall(r"\bref\d+x\d+\b", text or "")
        holders.update(set(markers))
        entry = by_url.get(url)
        why = []
        if item_id not in linked_items:
            why.append("no feed carries it")
        if entry is not None and markers != [entry.marker]:
            why.append(f"its text has markers {markers}, not [{entry.marker}]")
        sources = json.loads(sources) if isinstance(sources, str) else sources
        if method != "trafilatura" or not sources or sources.get("text") != "page":
            why.append(f"text from {method} ({sources})")
        if fetch_error or not content_hash:
            why.append(f"fetch_error {fetch_error!r}, content_hash {content_hash!r}")
        if sketches[item_id] != 1 or not 1 <= bands[item_id] <= 32:
            why.append(f"{sketches[item_id]} sketches, {bands[item_id]} band keys")
        if item_id not in pages:
            why.append("its page was not kept")
        if why:
            audit.half_written.append(f"item {item_id} {url}: {'; '.join(why)}")
        if entry is not None and (item_id in matched) != entry.codeword:
            audit.matches_wrong.append(
                f"item {item_id} {url}: codeword {entry.codeword}, matched {item_id in matched}"
            )
    audit.duplicated = sorted(
        url for url, entry in by_url.items() if holders[entry.marker] > 1 or urls.get(url, 0) > 1
    )
    carried = room.carried()
    rows = Counter((name, guid, item_url.get(item_id)) for name, guid, item_id in links)
    audit.links_missing = sorted(f"{c[0]} {c[1]}" for c in carried - set(rows))
    audit.links_wrong = sorted(
        f"{key[0]} {key[1]} -> {key[2]} ({n} rows)"
        for key, n in rows.items()
        if key not in carried or n > 1
    )
    if feed_state:
        audit.feeds_wrong = _feed_problems(room, feeds)
    return audit


def _feed_problems(room: Newsroom, feeds: list[Any]) -> list[str]:
    problems = []
    names = {room.feed_name(k): k for k in range(room.feeds)}
    for name, etag, outcome, failures, owner, until, next_at, last_at in feeds:
        why = []
        if owner is not None or until is not None:
            why.append(f"still leased to {owner} until {until}")
        if outcome not in ("ok", "not_modified") or failures:
            why.append(f"last outcome {outcome}, {failures} failures in a row")
        if name in names and etag != room.etag(names[name]):
            why.append(f"saved ETag {etag} is not the served body's {room.etag(names[name])}")
        if next_at is None or last_at is None:
            why.append(f"next poll {next_at}, last fetched {last_at}")
        if why:
            problems.append(f"{name}: {'; '.join(why)}")
    return problems


def feeds_done_too_early(room: Newsroom, db_url: str) -> list[str]:
    """Feeds whose saved ETag is the body being served although an entry of that body is
    neither stored nor recorded as failed: a body counted as done too early."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
        if not {"feeds", "feed_items"} <= tables:  # a run killed before its migrations
            return []
        with engine.connect() as conn:
            feeds = {r[0]: r[1] for r in _rows(conn, "SELECT name, etag FROM feeds")}
            links = {
                (r[0], r[1])
                for r in _rows(
                    conn,
                    "SELECT f.name, fi.guid FROM feed_items fi JOIN feeds f ON f.id = fi.feed_id",
                )
            }
            if "entry_rejections" in tables:
                links |= {
                    (r[0], r[1])
                    for r in _rows(
                        conn,
                        "SELECT f.name, r.guid FROM entry_rejections r"
                        " JOIN feeds f ON f.id = r.feed_id",
                    )
                }
    finally:
        engine.dispose()
    wrong = []
    carried = room.carried()
    for feed in range(room.feeds):
        name = room.feed_name(feed)
        if feeds.get(name) != room.etag(feed):
            continue
        missing = [guid for n, guid, _url in carried if n == name and (n, guid) not in links]
        if missing:
            wrong.append(f"{name}: body saved as done, {len(missing)} entries not stored")
    return wrong


_PAGE = os.sysconf("SC_PAGE_SIZE")


def session_processes(sid: int) -> dict[int, int]:
    """The processes of session ``sid`` (the run and every process it started): pid -> RSS
    in KiB."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            found[int(entry.name)] = int(fields[21]) * _PAGE // 1024
    return found


def end_session(sid: int) -> int:
    """Kill, by pid, every process still in session ``sid`` (ours: the session of a run we
    started); how many there were.  Rescanned until empty, since a pool's fork server
    may still be forking a worker it was asked for before the run died."""
    seen: set[int] = set()
    for _ in range(50):
        alive = session_processes(sid)
        if not alive:
            break
        seen.update(alive)
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    return len(seen)
