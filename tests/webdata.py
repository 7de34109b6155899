"""A database filled through the real pipeline, for the console's tests (API and pages).

:func:`fill` serves the fixture site (tests/conftest.py's :class:`Site`: the
Levant Ledger's RSS, the Gulf Wire's Atom, the article pages) plus a hostile
feed whose titles carry markup, writes a feeds.yaml with two watchlists that
match, and runs ``monitor run --once`` on it.  The ``webdata`` fixture does it
once per test module and database (SQLite and PostgreSQL), since filling takes
a few seconds and the console's tests only read (or triage, which they undo or
keep to their own items).

Use::

    from tests.webdata import webdata, client  # noqa: F401  (the fixture)

    def test_x(webdata: WebData) -> None:
        with client(webdata) as http:
            assert http.get("/api/feeds").status_code == 200
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from monitor.config import Settings, load_settings
from monitor.storage import Store
from monitor.web.auth import AuthPolicy, policy_for
from tests.conftest import Site, config_file

HOSTILE_TITLE = '<script>alert("title")</script> Soleimani & "Gaza" <b>bold</b>'
HOSTILE_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Hostile &lt;i&gt;Herald&lt;/i&gt;</title>
  <link>{base}/hostile/</link>
  <description>A feed whose authors write markup in their titles</description>
  <item>
    <title>{title}</title>
    <link>{base}/hostile/story/</link>
    <guid isPermaLink="false">hostile-1</guid>
    <pubDate>Fri, 10 Jan 2020 09:00:00 +0000</pubDate>
    <category>=HYPERLINK("http://127.0.0.1/x")</category>
    <description>{title}</description>
    <content:encoded><![CDATA[<p>{body}</p>]]></content:encoded>
  </item>
</channel>
</rss>
"""
HOSTILE_BODY = (
    "An injected story about Qassem Soleimani and the Gaza truce, written to test escaping: "
    "<img src=x onerror=alert(1)> the body repeats Soleimani twice, Soleimani, and Gaza. "
) * 4

WATCHLISTS: list[dict[str, Any]] = [
    {"name": "Iran", "rules": ["Soleimani", "Haniyeh NEAR/8 Hamas"]},
    {"name": "Gaza", "rules": ["Gaza", '"extend an informal truce"']},
]


@dataclass
class WebData:
    """What :func:`fill` made: the config, its settings, an open store, the site's base."""

    config: Path
    settings: Settings
    store: Store
    base: str
    database_url: str


def feeds(site: Site) -> list[dict[str, Any]]:
    return [
        {"name": "Levant Ledger", "url": site.url("/feed/"), "tags": ["levant"]},
        {"name": "Gulf Wire", "url": site.url("/gulf/feed.atom"), "tags": ["gulf"]},
        {"name": "Hostile Herald", "url": site.url("/hostile/feed.rss"), "full_text": False},
    ]


def serve_hostile(site: Site) -> None:
    """The hostile feed: markup in the channel title, the entry title and its text."""
    from xml.sax.saxutils import escape

    body = HOSTILE_FEED.format(base=site.base, title=escape(HOSTILE_TITLE), body=HOSTILE_BODY)
    site.serve("/hostile/feed.rss", body, "application/rss+xml")


def fill(directory: Path, database_url: str, site: Site, **extra: Any) -> WebData:
    """Ingest the site into ``database_url`` through ``monitor run --once``."""
    from monitor.cli import app

    serve_hostile(site)
    extra.setdefault("watchlists", WATCHLISTS)
    config = config_file(directory, database_url, feeds(site), **extra)
    result = CliRunner().invoke(
        app, ["--config", str(config), "run", "--once"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    settings = load_settings(config)
    return WebData(config, settings, Store.open(settings.database_url), site.base, database_url)


def context(data: WebData, policy: AuthPolicy | None = None) -> Any:
    """A :class:`~monitor.web.deps.WebContext` over ``data`` (no login unless ``policy``)."""
    from monitor.web.deps import FileSettings, WebContext

    return WebContext(
        settings=FileSettings(data.config, data.settings),
        store=data.store,
        config_path=data.config,
        auth=policy or policy_for("127.0.0.1", {}),
    )


def client(
    data: WebData, policy: AuthPolicy | None = None, env: Mapping[str, str] | None = None
) -> TestClient:
    """A test client of the console over ``data``; ``env``: the auth environment of a
    console bound to 0.0.0.0 (a login is needed)."""
    from monitor.web.app import build_web_app

    if env is not None:
        policy = policy_for("0.0.0.0", env)
    app = build_web_app(context(data, policy))
    return TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=True)


def csrf_of(http: TestClient) -> str:
    """The CSRF token of ``http``'s session cookie, as the pages put it in their forms."""
    from monitor.web.auth import SESSION_COOKIE

    policy = http.app.state.web.auth  # type: ignore[attr-defined]
    value = http.cookies.get(SESSION_COOKIE)
    if value is None:
        http.get("/login")  # any response gives a session cookie
        value = http.cookies.get(SESSION_COOKIE)
    session = policy.read_session(value or "")
    assert session is not None, "no valid session cookie"
    return str(policy.csrf_for(session[1]))


def _pg_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"monitor_web_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    return name, f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def _drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def webdata(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebData]:
    """The site ingested once per module and database; the site keeps serving meanwhile."""
    directory = tmp_path_factory.mktemp("webdata")
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    site = Site(server)
    server.expect_request(re.compile(".*")).respond_with_handler(site.handle)
    dropped: tuple[str, str] | None = None
    try:
        if request.param == "sqlite":
            url = f"sqlite:///{directory / 'monitor.db'}"
        else:
            admin = str(request.getfixturevalue("pg_admin_url"))
            name, url = _pg_database(admin)
            dropped = (admin, name)
        data = fill(directory, url, site)
        try:
            yield data
        finally:
            data.store.close()
    finally:
        server.clear()
        if server.is_running():
            server.stop()
        if dropped is not None:
            _drop(*dropped)
