"""Configuration reload (SIGHUP and the periodic check) and the configuration version
that several workers follow; the service runs as a real subprocess on loopback feeds."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Response

from monitor.config import load_settings
from monitor.service.reload import changes, keep_restart_only
from monitor.storage import Store
from monitor.storage.config_version import (
    ConfigVersion,
    Followed,
    Verdict,
    decide,
)
from tests.conftest import Site, config_file

# timing matters here: no adaptive schedule, no jitter, intervals at their 10 s minimum
SCHEDULE = {"adaptive": False, "jitter": 0, "min_interval": "10s"}
INTERVAL = "10s"


class FeedServer:
    """RSS feeds on the test site whose entries the test adds as it goes."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.entries: dict[str, list[tuple[str, str]]] = {}

    def feed(self, path: str, *entries: tuple[str, str]) -> str:
        self.entries[path] = list(entries)
        self.site.route(path, lambda _r: self._render(path))
        return self.site.url(path)

    def add(self, path: str, title: str, text: str) -> None:
        self.entries[path].append((title, text))

    def hits(self, path: str) -> int:
        return self.site.hits.get(path, 0)

    def _render(self, path: str) -> Response:
        when = format_datetime(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
        items = "".join(
            f"<item><title>{escape(title)}</title>"
            f"<link>{self.site.url(path)}/{number}</link>"
            f"<guid>{escape(path)}#{number}</guid><pubDate>{when}</pubDate>"
            f"<description>{escape(text)}</description></item>"
            for number, (title, text) in enumerate(self.entries[path])
        )
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>'
            f"{escape(path)}</title><link>{self.site.base}</link>{items}</channel></rss>"
        )
        return Response(body, content_type="application/rss+xml")


def _feed(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "url": url, "interval": INTERVAL, "full_text": False}


def _watch(rule: str) -> list[dict[str, Any]]:
    return [{"name": "Watch", "rules": [rule]}]


def _replace(target: Path, database: str, feeds: list[dict[str, Any]], **extra: Any) -> str:
    """Write a new feeds.yaml over ``target`` in one rename (a check never sees half a
    file); return its text."""
    staging = target.parent / f"staging-{time.monotonic_ns()}"
    staging.mkdir()
    written = config_file(staging, database, feeds, schedule=SCHEDULE, **extra)
    text = written.read_text(encoding="utf-8")
    written.replace(target)
    return text


def _wait_for(what: str, predicate: Callable[[], bool], timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout:.0f}s: {what}")


def _titles(store: Store) -> dict[str, int]:
    return {i.title or "": i.id for i in store.items.iter_all()}


def _matched(store: Store, title: str) -> bool:
    item_id = _titles(store)[title]
    return bool(store.matches.for_items([item_id]).get(item_id))


@pytest.fixture
def service_log(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "service.log"


# -- the service under a changing feeds.yaml --------------------------------------------


@pytest.mark.slow
def test_service_applies_a_changed_feeds_yaml_without_restart(
    site: Site, tmp_path: Path, db_url: str, service_log: Path
) -> None:
    server = FeedServer(site)
    a = server.feed("/a.rss", ("a1 alpha report", "The alpha report from the first feed."))
    b = server.feed("/b.rss", ("b1 story", "A story only the second feed carries."))
    c = server.feed("/c.rss", ("c1 story", "A story only the third feed carries."))
    config = tmp_path / "feeds.yaml"
    database = db_url
    _replace(
        config,
        database,
        [{**_feed("A", a), "interval": "1h"}, _feed("B", b)],
        watchlists=_watch("alpha"),
        service={"reload_check": 1},
    )
    log = service_log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run", "--tick", "1"],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, "COLUMNS": "1000"},
    )

    def logged() -> str:
        return service_log.read_text(encoding="utf-8")

    settings = load_settings(config)
    try:
        with Store.open(settings.database_url) as store:
            _wait_for(
                "A and B polled", lambda: {"a1 alpha report", "b1 story"} <= set(_titles(store))
            )
            assert _matched(store, "a1 alpha report")

            # 1. the periodic check: B removed, C added, A's interval from 1h to 10s (so A
            # is polled again below); SIGHUP only from now on
            _replace(
                config,
                database,
                [_feed("A", a), _feed("C", c)],
                watchlists=_watch("alpha"),
                service={"reload_check": 0},
            )
            _wait_for("the first reload", lambda: "reload (file changed)" in logged())
            assert (
                "feeds added: C; feeds removed: B; feeds changed: A (interval); "
                "settings changed: service.reload_check"
            ) in logged()
            _wait_for("C polled", lambda: "c1 story" in _titles(store))
            removed_at, b_hits = time.monotonic(), server.hits("/b.rss")

            # 2. SIGHUP: the watchlist's rule changes (and extract.workers, which is kept);
            # without the signal nothing happens
            _replace(
                config,
                database,
                [_feed("A", a), _feed("C", c)],
                watchlists=_watch("bravo"),
                service={"reload_check": 1},
                extract={"workers": 1, "keep_raw_html": True},  # needs a restart
            )
            time.sleep(2.5)  # reload_check is 0: the change waits for SIGHUP
            assert "watchlists changed" not in logged()
            process.send_signal(signal.SIGHUP)
            _wait_for("the SIGHUP reload", lambda: "reload (SIGHUP)" in logged())
            # the log is read while the service writes it: wait for the line, do not race it
            _wait_for(
                "the watchlist change logged", lambda: "watchlists changed: Watch" in logged()
            )
            _wait_for(
                "the restart-only key logged", lambda: "extract.workers changed in" in logged()
            )
            assert "takes a restart of monitor run" in logged()

            # 3. an invalid file (periodic check on again): refused, logged with its line;
            # had it been applied, the rule would be "alpha" again
            broken = _replace(
                config,
                database,
                [_feed("A", a), {**_feed("C", c), "interval": "soon"}],
                watchlists=_watch("alpha"),
                service={"reload_check": 1},
            )
            line = next(n for n, t in enumerate(broken.splitlines(), 1) if '"soon"' in t)
            _wait_for("the invalid file logged", lambda: "is invalid" in logged())
            # each problem is a log record of its own, written just after that one
            _wait_for(
                "its problem logged with its line",
                lambda: f"feeds.yaml:{line}: feeds[1] (C).interval: " in logged(),
            )
            c_hits = server.hits("/c.rss")
            server.add("/a.rss", "a2 alpha again", "Another alpha report, not watched now.")
            server.add("/a.rss", "a3 bravo report", "The bravo report the new rule watches.")
            _wait_for(
                "A polled again",
                lambda: {"a2 alpha again", "a3 bravo report"} <= set(_titles(store)),
            )
            assert _matched(store, "a3 bravo report")  # the SIGHUP's rule, still running
            assert not _matched(store, "a2 alpha again")
            _wait_for("C still polled", lambda: server.hits("/c.rss") > c_hits)
            assert logged().count("is invalid") == 1  # once per content, not every check

            # B: no request since its removal (over more than its interval); items kept
            time.sleep(max(0.0, removed_at + 12 - time.monotonic()))
            assert server.hits("/b.rss") == b_hits
            assert "b1 story" in _titles(store)
            health = {f.name: f for f in store.feeds.health(include_inactive=True)}
            assert not health["B"].active
            assert health["C"].active
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
    assert process.returncode == 0, logged()


# -- the configuration version several workers follow -----------------------------------


def _once(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "1000"},
    )


def _active(store: Store) -> set[str]:
    return {f.name for f in store.feeds.health(include_inactive=True) if f.active}


@pytest.mark.postgres
@pytest.mark.slow
def test_an_older_feeds_yaml_does_not_undo_a_newer_one(
    site: Site, tmp_path: Path, pg_url: str
) -> None:
    """Two workers' files on one PostgreSQL, run in turn: the older file is refused."""
    server = FeedServer(site)
    a = server.feed("/a.rss", ("a1", "The first feed's story."))
    b = server.feed("/b.rss", ("b1", "The second feed's story."))
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = config_file(tmp_path / "old", pg_url, [_feed("A", a)], schedule=SCHEDULE)
    new = config_file(tmp_path / "new", pg_url, [_feed("A", a), _feed("B", b)], schedule=SCHEDULE)
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))

    first = _once(new)
    assert first.returncode == 0, first.stderr
    second = _once(old)  # an hour older: it must not switch B off
    assert second.returncode == 0, second.stderr
    assert "older than the version the database follows" in second.stderr
    assert "not syncing feeds" in second.stderr
    assert str(old.resolve()) in second.stderr  # it names its own file
    with Store.open(pg_url) as store:
        assert _active(store) == {"A", "B"}
        followed = store.config_version.current()
        assert followed is not None
    assert server.hits("/b.rss") == 2  # the older worker still polls what the database lists

    # an explicit config_version outranks modification times, either way round
    numbered = config_file(
        tmp_path / "old", pg_url, [_feed("A", a)], schedule=SCHEDULE, config_version=3
    )
    os.utime(numbered, (hour_ago, hour_ago))
    third = _once(numbered)
    assert third.returncode == 0, third.stderr
    assert "older than" not in third.stderr
    unnumbered = config_file(
        tmp_path / "new", pg_url, [_feed("A", a), _feed("B", b)], schedule=SCHEDULE
    )
    fourth = _once(unnumbered)  # modified just now, but without a number: older than 3
    assert "config_version 3" in fourth.stderr
    with Store.open(pg_url) as store:
        assert _active(store) == {"A"}
        followed = store.config_version.current()
        assert followed is not None and followed.version.number == 3


def test_the_version_gate_in_process(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The compare-and-set, on SQLite and PostgreSQL: newer syncs, older is refused (one
    warning), the same content by the same worker is not synced again."""
    (tmp_path / "w1").mkdir()
    (tmp_path / "w2").mkdir()
    one = config_file(tmp_path / "w1", db_url, [_feed("A", "https://a.example/feed")])
    two = config_file(
        tmp_path / "w2",
        db_url,
        [_feed("A", "https://a.example/feed"), _feed("B", "https://b.example/feed")],
    )
    os.utime(one, (time.time() - 60, time.time() - 60))
    with Store.open(db_url) as store:
        assert store.config_version.sync_feeds(load_settings(two), "w2").verdict is Verdict.SYNCED
        assert store.config_version.sync_feeds(load_settings(two), "w2").verdict is Verdict.CURRENT
        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                result = store.config_version.sync_feeds(load_settings(one), "w1")
                assert result.verdict is Verdict.OLDER
        assert result.before is not None and result.before.updated_by == "w2"
        assert sum("older than the version" in r.getMessage() for r in caplog.records) == 1
        assert _active(store) == {"A", "B"}
        # w1's file is edited: now it is the newest, and it wins
        config_file(tmp_path / "w1", db_url, [_feed("A", "https://a.example/feed")])
        assert store.config_version.sync_feeds(load_settings(one), "w1").synced
        assert _active(store) == {"A"}
        # another worker with the very same content agrees (and may sync)
        assert store.config_version.sync_feeds(load_settings(one), "w3").synced


# -- pure parts ---------------------------------------------------------------------------


def _version(digest: str, number: int | None, modified: int) -> ConfigVersion:
    return ConfigVersion(digest, number, modified)


def test_decide_orders_by_number_then_modification_time() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    theirs = Followed(_version("x", None, 100), at, "w2")
    assert decide(_version("y", None, 99), theirs, "w1") is Verdict.OLDER
    assert decide(_version("y", None, 101), theirs, "w1") is Verdict.SYNCED
    assert decide(_version("y", 1, 1), theirs, "w1") is Verdict.SYNCED  # numbered beats none
    assert decide(_version("x", None, 5), theirs, "w1") is Verdict.SYNCED  # same content
    assert decide(_version("x", None, 100), theirs, "w2") is Verdict.CURRENT
    numbered = Followed(_version("x", 4, 100), at, "w2")
    assert decide(_version("y", None, 10**12), numbered, "w1") is Verdict.OLDER
    assert decide(_version("y", 4, 99), numbered, "w1") is Verdict.OLDER
    assert decide(_version("y", 4, 101), numbered, "w1") is Verdict.SYNCED
    assert decide(_version("y", 3, 10**12), numbered, "w1") is Verdict.OLDER
    assert decide(_version("y", None, 0), None, "w1") is Verdict.SYNCED


def test_changes_name_what_a_reload_changes_and_keep_what_needs_a_restart(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'one.db'}"
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = load_settings(
        config_file(
            tmp_path / "old",
            database,
            [_feed("A", "https://a.example/f"), _feed("B", "https://b.example/f")],
            watchlists=_watch("alpha"),
        )
    )
    new = load_settings(
        config_file(
            tmp_path / "new",
            f"sqlite:///{tmp_path / 'two.db'}",
            [
                {**_feed("A", "https://a.example/f"), "interval": "20s"},
                _feed("C", "https://c.example/f"),
            ],
            watchlists=_watch("bravo"),
            extract={"workers": 3, "keep_raw_html": True},
            fetch={"user_agent": "monitor-test/2"},
            service={"http": {"port": 9999}},
        )
    )
    kept, restart = keep_restart_only(old, new)
    assert restart == ("database", "extract.workers", "service.http")
    assert kept.database_url == old.database_url
    assert kept.extract.workers == old.extract.workers
    assert kept.service.http == old.service.http
    assert kept.watchlists == new.watchlists
    what = changes(old, kept, restart)
    assert what.feeds_added == ("C",)
    assert what.feeds_removed == ("B",)
    assert what.feeds_changed == ("A (interval)",)
    assert what.watchlists_changed == ("Watch",)
    assert what.sections == ("fetch.user_agent",)  # the restart-only keys kept their values
    assert "feeds added: C; feeds removed: B; feeds changed: A (interval)" in what.summary()
    assert changes(old, old).summary() == "no change to feeds, watchlists or settings"
