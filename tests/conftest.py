"""Shared fixtures: a real news site on loopback, real databases, config files.

* ``site`` serves the feeds and pages of ``tests/fixtures`` from a real HTTP
  server (pytest-httpserver) on 127.0.0.1, with ``{base}`` replaced by its URL.
* ``db_url`` runs a test on SQLite and on PostgreSQL.  PostgreSQL is taken
  from ``MONITOR_TEST_PG_URL`` (default: 127.0.0.1:5432 as postgres); each
  test gets a database of its own, dropped afterwards.  Without a server the
  PostgreSQL half is skipped with the reason, except under ``CI=true``,
  where a missing PostgreSQL fails the run.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).parent / "fixtures"
PG_ADMIN_URL = os.environ.get(
    "MONITOR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# pytest-xdist's workers inherit COLUMNS=80 and LINES=24 from execnet; Rich's consoles,
# created when monitor.cli is imported, would keep that size for the whole session and
# ignore the COLUMNS a test passes to CliRunner.  Serial runs have neither variable.
for _variable in ("COLUMNS", "LINES"):
    os.environ.pop(_variable, None)

PAGES = {
    "/2020/01/07/funeral-report/": "pages/funeral-report.html",
    "/2020/01/08/second-story/": "pages/second-story.html",
    "/2020/01/09/third-story/": "pages/third-story.html",
}
FEEDS = {
    "/feed/": "feeds/news.rss",
    "/gulf/feed.atom": "feeds/news.atom",
    "/broken/feed.rss": "feeds/broken.rss",
    "/empty/feed.rss": "feeds/empty.rss",
    "/not-a-feed/": "feeds/not-a-feed.html",
}
FEED_TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml"}


def fixture_text(name: str, base: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8").replace("{base}", base)


@dataclass
class Site:
    """A news site on loopback; ``hits`` counts requests per path."""

    server: HTTPServer
    hits: dict[str, int] = field(default_factory=dict)
    overrides: dict[str, Callable[[Request], Response]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.server.url_for("").rstrip("/")

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, handler: Callable[[Request], Response]) -> None:
        self.overrides[path] = handler

    def serve(self, path: str, body: str | bytes, content_type: str = "text/html") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.route(path, lambda _r: Response(data, content_type=content_type))

    def handle(self, request: Request) -> Response:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if path in self.overrides:
            return self.overrides[path](request)
        if path in PAGES:
            html = fixture_text(PAGES[path], self.base)
            return Response(html, content_type="text/html; charset=utf-8")
        if path in FEEDS:
            name = FEEDS[path]
            body = fixture_text(name, self.base)
            content_type = FEED_TYPES.get(Path(name).suffix, "text/html; charset=utf-8")
            etag = f'"{abs(hash(body))}"'
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={"ETag": etag})
            return Response(body, content_type=content_type, headers={"ETag": etag})
        return Response("not found", status=404)


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    server_site = Site(httpserver)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(server_site.handle)
    return server_site


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}: {exc})"


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    problem = _pg_available()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}; CI must test on PostgreSQL")
        pytest.skip(f"{problem}; set MONITOR_TEST_PG_URL to run these tests")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    import psycopg

    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = pg_admin_url.rpartition("/")
    yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return str(request.getfixturevalue("pg_url"))


def config_file(directory: Path, database: str, feeds: list[dict[str, Any]], **extra: Any) -> Path:
    """Write ``directory/feeds.yaml`` for these feeds and this database."""
    data: dict[str, Any] = {
        "database": database,
        "extract": {"workers": 2, "keep_raw_html": True},
        # the test site is on loopback, which the fetcher refuses unless a feed allows it
        "defaults": {"interval": "15m", "language": "en", "allow_private": True},
        "feeds": feeds,
        # services started by tests run side by side: each takes a free port for /healthz
        "service": {"http": {"port": 0}},
    }
    data["fetch"] = {"per_host_delay": 0, **extra.pop("fetch", {})}  # loopback: one host
    service = extra.pop("service", None)
    if isinstance(service, dict):  # merged, so that a test's service: keeps the free port
        http = {**data["service"]["http"], **service.get("http", {})}
        data["service"] = {**service, "http": http}
    data.update(extra)
    path = directory / "feeds.yaml"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")  # JSON is YAML
    return path


@pytest.fixture
def write_config(tmp_path: Path, db_url: str) -> Callable[..., Path]:
    """Write a feeds.yaml for the given feeds; the database is the test's ``db_url``."""

    def write(feeds: list[dict[str, Any]], **extra: Any) -> Path:
        return config_file(tmp_path, db_url, feeds, **extra)

    return write


# -- the crash-safety and database-outage tests (their helpers: tests/newsroom.py) ------


@pytest.fixture
def newsroom() -> Iterator[Any]:
    from tests.newsroom import Newsroom

    room = Newsroom(seed=int(os.environ.get("MONITOR_CRASH_SEED", "20261127")))
    yield room
    room.close()


@pytest.fixture
def pg_cluster(tmp_path: Path) -> Iterator[Any]:
    """A PostgreSQL cluster of this test's own (tests/pgcluster.py), started; removed after.

    Skipped with the reason when the server binaries are missing, failed under CI=true."""
    from tests.pgcluster import PgCluster, unavailable_reason

    problem = unavailable_reason()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    cluster = PgCluster.create()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
