"""Feeds that move (301, 308) or go (410), and the fetch history that records it all,
checked by the requests the loopback server saw and by the stored rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import Settings, load_settings
from monitor.orchestrator import Orchestrator
from monitor.storage import Store
from monitor.storage.feeds import FeedHealth
from tests.conftest import config_file
from tests.test_politeness import Answer, Loopback, Route, rss


@pytest.fixture
def server() -> Iterator[Loopback]:
    running = Loopback().start()
    yield running
    running.close()


def feed_body(server: Loopback) -> Route:
    return lambda _p: (200, {"Content-Type": "application/rss+xml"}, rss(server.base, ["/s/1"]))


def redirect(server: Loopback, status: int, path: str) -> Route:
    def answer(_path: str) -> Answer:
        return status, {"Location": server.url(path)}, b""

    return answer


def settings_for(tmp_path: Path, db_url: str, url: str, **extra: Any) -> Settings:
    feeds = [{"name": "Wire", "url": url, "full_text": False}]
    return load_settings(config_file(tmp_path, db_url, feeds, **extra))


def poll(settings: Settings, **kwargs: Any) -> FeedHealth:
    with Store.from_settings(settings) as store, Orchestrator(settings, store) as orchestrator:
        orchestrator.run_once(**kwargs)
        [health] = store.feeds.health()
        return health


def cli(tmp_path: Path, *args: str) -> str:
    result = CliRunner().invoke(
        app, ["--config", str(tmp_path / "feeds.yaml"), *args], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_moves_the_feed_and_a_config_sync_keeps_the_move(
    server: Loopback,
    tmp_path: Path,
    db_url: str,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.route("/old.xml", redirect(server, status, "/new.xml"))
    server.route("/new.xml", feed_body(server))
    settings = settings_for(tmp_path, db_url, server.url("/old.xml"))
    with caplog.at_level(logging.WARNING, logger="monitor.orchestrator"):
        first = poll(settings)
    assert [h.path for h in server.hits] == ["/old.xml", "/new.xml"]
    assert first.url == server.url("/new.xml")
    assert first.moved_from == server.url("/old.xml")
    warning = next(r.getMessage() for r in caplog.records if "moved permanently" in r.getMessage())
    assert f"Change its url in the config to {server.url('/new.xml')}" in warning
    # the config still names the old URL: the next poll (which syncs it) goes to the new one
    second = poll(settings)
    assert [h.path for h in server.hits] == ["/old.xml", "/new.xml", "/new.xml"]
    assert server.of("/new.xml")[1].start > server.of("/new.xml")[0].end
    assert second.url == server.url("/new.xml")
    shown = cli(tmp_path, "feeds", "show", "Wire")
    assert f"moved permanently from {server.url('/old.xml')}" in shown
    assert "moved from" in shown
    # the config catches up: nothing is left to say
    caught_up = poll(settings_for(tmp_path, db_url, server.url("/new.xml")))
    assert caught_up.url == server.url("/new.xml") and caught_up.moved_from is None


@pytest.mark.parametrize("status", [302, 307])
def test_a_temporary_redirect_changes_nothing(
    server: Loopback, tmp_path: Path, db_url: str, status: int
) -> None:
    server.route("/old.xml", redirect(server, status, "/new.xml"))
    server.route("/new.xml", feed_body(server))
    settings = settings_for(tmp_path, db_url, server.url("/old.xml"))
    first = poll(settings)
    second = poll(settings)
    assert [h.path for h in server.hits] == ["/old.xml", "/new.xml"] * 2
    assert first.url == second.url == server.url("/old.xml")
    assert second.moved_from is None


def test_a_move_after_a_temporary_redirect_is_not_a_move(
    server: Loopback, tmp_path: Path, db_url: str
) -> None:
    server.route("/old.xml", redirect(server, 302, "/mid.xml"))
    server.route("/mid.xml", redirect(server, 301, "/new.xml"))
    server.route("/new.xml", feed_body(server))
    health = poll(settings_for(tmp_path, db_url, server.url("/old.xml")))
    assert health.url == server.url("/old.xml")


def test_410_disables_the_feed_with_the_reason_until_enabled(
    server: Loopback, tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/feed.xml", lambda _p: (410, {}, b"gone"))
    settings = settings_for(tmp_path, db_url, server.url("/feed.xml"))
    with caplog.at_level(logging.WARNING, logger="monitor.orchestrator"):
        gone = poll(settings)
    assert gone.disabled_reason is not None and gone.disabled_reason.startswith("410 Gone")
    assert any("monitor feeds enable Wire" in r.getMessage() for r in caplog.records)
    poll(settings)  # every feed, due or not: a disabled one is not among them
    poll(settings, due_only=True)
    assert len(server.of("/feed.xml")) == 1
    listed = cli(tmp_path, "feeds", "list")
    assert "disabled: 410 Gone" in listed and "1 disabled" in listed
    shown = cli(tmp_path, "feeds", "show", "Wire")
    assert "disabled: 410 Gone" in shown and "410" in shown
    # a way back: the command...
    server.route("/feed.xml", feed_body(server))
    assert "enabled" in cli(tmp_path, "feeds", "enable", "Wire")
    back = poll(settings, due_only=True)
    assert len(server.of("/feed.xml")) == 2
    assert back.disabled_reason is None and back.last_outcome == "ok"


def test_a_new_url_in_the_config_brings_back_a_gone_feed(
    server: Loopback, tmp_path: Path, db_url: str
) -> None:
    server.route("/feed.xml", lambda _p: (410, {}, b"gone"))
    server.route("/other.xml", feed_body(server))
    poll(settings_for(tmp_path, db_url, server.url("/feed.xml")))
    back = poll(settings_for(tmp_path, db_url, server.url("/other.xml")))
    assert [h.path for h in server.hits] == ["/feed.xml", "/other.xml"]
    assert back.disabled_reason is None and back.url == server.url("/other.xml")


def test_the_fetch_history_keeps_the_last_polls(
    server: Loopback, tmp_path: Path, db_url: str
) -> None:
    answers = iter([(200, {"Content-Type": "application/rss+xml"}, rss(server.base, ["/s/1"]))])

    def flaky(_path: str) -> Answer:
        return next(answers, (503, {}, b"busy"))

    server.route("/feed.xml", flaky)
    settings = settings_for(tmp_path, db_url, server.url("/feed.xml"), housekeeping={"history": 3})
    for _ in range(5):
        poll(settings)
    with Store.from_settings(settings) as store:
        details = store.feeds.details("Wire")
    assert details is not None
    assert [h.outcome for h in details.history] == ["temporary"] * 3  # newest first
    assert [h.status for h in details.history] == [503] * 3
    assert all(h.url == server.url("/feed.xml") and h.error == "HTTP 503" for h in details.history)
    assert details.history[0].fetched_at >= details.history[-1].fetched_at
    shown = cli(tmp_path, "feeds", "show", "Wire")
    assert "last 3 polls" in shown and shown.count("HTTP 503") == 4  # 3 polls + the state
    assert "failing: 4 failures" in shown or "backing off: 4 failures" in shown


def test_feeds_show_names_an_unknown_feed(server: Loopback, tmp_path: Path, db_url: str) -> None:
    settings_for(tmp_path, db_url, server.url("/feed.xml"))
    result = CliRunner().invoke(
        app, ["--config", str(tmp_path / "feeds.yaml"), "feeds", "show", "Nope"]
    )
    assert result.exit_code == 2
    assert "no feed named 'Nope'" in result.output
    helped = CliRunner().invoke(app, ["feeds", "show", "--help"])
    assert "Example: monitor feeds show" in helped.output
