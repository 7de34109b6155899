"""Webhook alerts: bodies, escaping, the queue's exactly-once rules, and the real service.

The receiver is a real HTTP server on loopback (:class:`Receiver`) that records
every request and answers by a policy the test sets (fail twice, then accept);
the service is ``monitor run`` as a subprocess, on SQLite and PostgreSQL.  The
feed is the fixture site's: its three articles each match the ``axis``
watchlist (``Soleimani``, ``Gaza``, ``banks``), so three alerts are due.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import AlertConfig, load_settings
from monitor.deliver.alerts import AlertItem, mask_webhook, render, scrub, slack_escape
from monitor.deliver.webhook import Delivery
from monitor.errors import ConfigError
from monitor.service.alerts import AlertSender, outcome_of, retry_delay
from monitor.service.core import Service
from monitor.storage import Store
from monitor.storage.schema import Alert
from tests.conftest import Site

runner = CliRunner()
SECRET = "T000/B111/s3cr3t-t0ken"
RULES = ["Soleimani", "Gaza", "banks"]


# -- a real webhook receiver on loopback ----------------------------------------------------


@dataclass
class Received:
    at: datetime
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    answered: int


@dataclass
class Receiver:
    """A threaded HTTP server recording each POST; ``policy(n)`` (n from 1) is the status
    it answers the n-th request with."""

    policy: Callable[[int], int] = lambda _n: 200
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver.lock:
                    status = receiver.policy(len(receiver.requests) + 1)
                    receiver.requests.append(
                        Received(
                            datetime.now(UTC),
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw),
                            status,
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"no")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{SECRET}"

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.answered < 300]

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


def axis(receiver: Receiver, **alert: Any) -> dict[str, Any]:
    return {
        "name": "axis",
        "rules": RULES,
        "alert": {"webhook": receiver.url, "allow_private": True, "backoff": ["1s"], **alert},
    }


def levant(site: Site) -> dict[str, Any]:
    return {"name": "Levant Ledger", "url": site.url("/feed/")}


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def cli(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(config), *args], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def item(**fields: Any) -> AlertItem:
    values: dict[str, Any] = {
        "alert_id": 7,
        "item_id": 42,
        "watchlist": "axis",
        "title": "Crowds mourn Soleimani",
        "url": "https://news.example/2020/01/07/funeral/",
        "outlet": "Levant Ledger",
        "published": datetime(2020, 1, 7, 9, 30, tzinfo=UTC),
        "rules": ("Soleimani",),
        "snippet": "… mourning Soleimani in Tehran …",
        "matched_at": datetime(2020, 1, 7, 9, 31, tzinfo=UTC),
    }
    return AlertItem(**(values | fields))


# -- bodies, escaping, secrets (pure) ---------------------------------------------------


def test_json_body_carries_the_item_the_watchlist_and_the_rules() -> None:
    body = json.loads(render(item(), "json"))
    assert body == {
        "alert_id": 7,
        "item_id": 42,
        "watchlist": "axis",
        "title": "Crowds mourn Soleimani",
        "url": "https://news.example/2020/01/07/funeral/",
        "outlet": "Levant Ledger",
        "published": "2020-01-07T09:30:00+00:00",
        "matched_at": "2020-01-07T09:31:00+00:00",
        "rules": ["Soleimani"],
        "snippet": "… mourning Soleimani in Tehran …",
    }


def test_slack_body_escapes_feed_text_so_it_cannot_ping_or_link() -> None:
    hostile = item(
        title="<!channel> Gaza & <https://evil.example|click here>",
        outlet="<@U123> Wire",
        snippet="a > b & <!here>",
        rules=("Gaza <b>",),
        url="https://news.example/a|<!everyone>>",
    )
    body = json.loads(render(hostile, "slack"))
    text = body["blocks"][0]["text"]["text"]
    assert body["blocks"][0]["text"]["type"] == "mrkdwn"
    for shown in (body["text"], text):
        assert "<!" not in shown and "<@" not in shown and "<https://evil" not in shown
        assert "&lt;!channel&gt; Gaza &amp; &lt;https://evil.example|click here&gt;" in shown
    assert "&lt;@U123&gt; Wire" in text and "a &gt; b &amp; &lt;!here&gt;" in text
    # the one link is ours, its URL quoted so nothing in it ends the link early
    link = text.split("<", 1)[1].split(">", 1)[0]
    assert link.startswith("https://news.example/a%7C%3C!everyone%3E%3E|")
    assert text.count("<") == 1 and text.count(">") == 2  # the link's and the quote's
    assert slack_escape("&<>") == "&amp;&lt;&gt;"


def test_the_webhook_url_is_masked_in_what_may_be_logged() -> None:
    url = f"https://hooks.example.org:8443/services/{SECRET}?token=abc"
    assert mask_webhook(url) == "https://hooks.example.org:8443/…"
    assert mask_webhook("http://[::1]/x") == "http://[::1]/…"
    assert scrub(f"cannot POST {url}: refused", url) == (
        "cannot POST https://hooks.example.org:8443/…: refused"
    )


def test_backoff_goes_through_the_delays_then_keeps_the_last() -> None:
    alert = AlertConfig.model_validate(
        {"webhook": "https://hooks.example.org/x", "backoff": ["10s", "30s", "2m"]}
    )
    assert [retry_delay(alert, n) for n in (1, 2, 3, 4, 9)] == [10, 30, 120, 120, 120]
    assert AlertConfig(webhook="https://hooks.example.org/x").backoff[0] == 10
    now = datetime(2026, 12, 2, tzinfo=UTC)
    failed = Delivery(False, 500, "HTTP 500")
    assert not outcome_of(failed, alert, 4, now).failed  # fail_after: 5
    last = outcome_of(failed, alert, 5, now)
    assert last.failed and last.next_attempt_at == now + timedelta(seconds=120)
    assert not outcome_of(Delivery(True, 200), alert, 5, now).failed


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        ({"webhook": "https://h.example/x", "format": "teams"}, "format"),
        ({"webhook": "hooks.example/x"}, "https://hooks.example/x"),
        ({"webhook": "https://user:pw@h.example/x"}, "user:password@"),
        ({"webhook": "https://h.example/x", "backoff": ["0s"]}, "backoff"),
    ],
)
def test_a_bad_alert_section_is_a_config_error_with_its_line(
    tmp_path: Path, alert: dict[str, Any], expected: str
) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        json.dumps({"feeds": [], "watchlists": [{"name": "axis", "rules": ["x"], "alert": alert}]})
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert f"{path}:1" in str(caught.value) and expected in str(caught.value)


# -- the queue: once per item and watchlist, only what is new (SQLite and PostgreSQL) -------


def sender_for(settings: Any, store: Store) -> tuple[Service, AlertSender]:
    service = Service(settings, store)
    sender = AlertSender(settings)
    sender.start(service)
    return service, sender


def test_only_matches_after_the_alert_began_are_alerted_and_each_once(
    site: Site, write_config: Callable[..., Path], receiver: Receiver
) -> None:
    # history: Gulf Wire was ingested and matched before any alert was configured
    gulf = {"name": "Gulf Wire", "url": site.url("/gulf/feed.atom")}
    config = write_config([gulf], watchlists=[{"name": "axis", "rules": RULES}])
    cli(config, "run", "--once")
    config = write_config([gulf, levant(site)], watchlists=[axis(receiver)])
    settings = load_settings(config)
    with Store.open(settings.database_url) as store:
        old = {m.item_id for m in store.matches.list("axis")}
        assert old
        service, sender = sender_for(settings, store)
        try:
            assert sender.run_once() == 0  # the alert began now: the history is not sent
            started = store.alerts.started()["axis"]
            # Levant Ledger brings two new articles and carries Gulf Wire's Gaza story
            # again: the new ones are alerted, once each however often the queue is read
            cli(config, "run", "--once")
            new = {m.item_id for m in store.matches.list("axis")} - old
            assert len(new) == 2
            assert sender.run_once() == 2
            assert sender.run_once() == 0
            assert store.alerts.enqueue("axis", service.clock(), "x") == 0
            assert store.alerts.started()["axis"] == started
        finally:
            sender.stop()
            service.close()
        bodies = [r.body for r in receiver.accepted()]
        assert receiver.count() == 2 and {b["item_id"] for b in bodies} == new
        assert {b["watchlist"] for b in bodies} == {"axis"}
        assert {b["outlet"] for b in bodies} == {"Levant Ledger"}
        assert all(b["rules"] and b["snippet"] and b["title"] and b["url"] for b in bodies)
        # the database refuses a second alert for one item and watchlist
        one = store.alerts.list()[0]
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(
                insert(Alert),
                {
                    "item_id": one.item_id,
                    "watchlist": "axis",
                    "status": "pending",
                    "attempts": 0,
                    "created_at": one.created_at,
                    "next_attempt_at": one.created_at,
                },
            )


def test_an_alert_removed_and_configured_again_does_not_send_what_it_missed(
    site: Site, write_config: Callable[..., Path], receiver: Receiver
) -> None:
    gulf = {"name": "Gulf Wire", "url": site.url("/gulf/feed.atom")}
    on = load_settings(write_config([gulf, levant(site)], watchlists=[axis(receiver)]))
    off = load_settings(
        write_config([gulf, levant(site)], watchlists=[{"name": "axis", "rules": RULES}])
    )
    with Store.open(on.database_url) as store:
        service, sender = sender_for(on, store)
        try:
            cli(on.config_path, "run", "--once", "--feed", "Gulf Wire")
            assert sender.run_once() == store.matches.counts()["axis"] == 1
            sender.reconfigure(off)  # a reload without the alert: section
            assert sender.run_once() == 0
            cli(on.config_path, "run", "--once", "--feed", "Levant Ledger")
            assert store.matches.counts()["axis"] == 3  # two new items matched meanwhile
            assert sender.run_once() == 0
            sender.reconfigure(on)  # and with it again: what was matched meanwhile is not sent
            assert sender.run_once() == 0
        finally:
            sender.stop()
            service.close()
        assert receiver.count() == 1 and store.alerts.counts() == {"sent": 1}


def test_a_lease_keeps_a_second_worker_off_an_alert_being_sent(
    site: Site, write_config: Callable[..., Path], receiver: Receiver
) -> None:
    config = write_config([levant(site)], watchlists=[axis(receiver)])
    settings = load_settings(config)
    with Store.open(settings.database_url) as store:
        now = datetime.now(UTC)
        store.alerts.begin(["axis"], now - timedelta(seconds=1))
        cli(config, "run", "--once")
        assert store.alerts.enqueue("axis", datetime.now(UTC), "x") == 3
        later = datetime.now(UTC)
        first = store.alerts.claim("host:1:a", ["axis"], later, timedelta(minutes=5))
        second = store.alerts.claim("host:2:b", ["axis"], later, timedelta(minutes=5))
        assert len(first) == 3 and second == []
        # the first worker's record stands; a worker without the lease cannot write
        alert = settings.watchlists[0].alert
        assert alert is not None
        done = outcome_of(Delivery(True, 200), alert, 1, later)
        assert not store.alerts.record(first[0].alert_id, "host:2:b", done, later)
        assert store.alerts.record(first[0].alert_id, "host:1:a", done, later)
        # the lease runs out: the other two are free again, the sent one never is
        expired = later + timedelta(minutes=6)
        taken = store.alerts.claim("host:2:b", ["axis"], expired, timedelta(minutes=5))
        assert sorted(a.alert_id for a in taken) == sorted(a.alert_id for a in first[1:])
        assert store.alerts.counts() == {"sent": 1, "pending": 2}


def test_slack_format_reaches_the_receiver_escaped(
    site: Site, write_config: Callable[..., Path], receiver: Receiver
) -> None:
    hostile = "<!channel> Gaza & <https://evil.example|win>"
    rss = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>{site.base}/</link><item><title>{_xml(hostile)}</title>"
        f"<link>{site.base}/gaza-story</link><guid>gaza-1</guid>"
        "<description>Talks on a Gaza truce &amp; more.</description></item></channel></rss>"
    )
    site.serve("/wire.rss", rss, "application/rss+xml")
    feed = {"name": "Wire", "url": site.url("/wire.rss"), "full_text": False}
    config = write_config([feed], watchlists=[axis(receiver, format="slack")])
    settings = load_settings(config)
    with Store.open(settings.database_url) as store:
        service, sender = sender_for(settings, store)
        try:
            cli(config, "run", "--once")
            assert sender.run_once() == 1
        finally:
            sender.stop()
            service.close()
    (got,) = receiver.accepted()
    assert set(got.body) == {"text", "blocks"}
    text = got.body["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; Gaza &amp; &lt;https://evil.example|win&gt;" in text
    assert "<!channel>" not in json.dumps(got.body)
    assert text.startswith(f"*axis*: <{site.base}/gaza-story|")
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["idempotency-key"].startswith("monitor-alert-")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_a_public_only_webhook_on_loopback_is_refused_and_kept(
    site: Site, write_config: Callable[..., Path], receiver: Receiver
) -> None:
    """Without allow_private the guard refuses the loopback receiver: nothing is sent,
    the alert stays pending with the reason, and the URL's secret is in no record."""
    watch = axis(receiver)
    watch["alert"].pop("allow_private")
    config = write_config([levant(site)], watchlists=[watch])
    settings = load_settings(config)
    with Store.open(settings.database_url) as store:
        service, sender = sender_for(settings, store)
        try:
            cli(config, "run", "--once")
            assert sender.run_once() == 0
        finally:
            sender.stop()
            service.close()
        rows = store.alerts.list()
    assert receiver.count() == 0
    assert len(rows) == 3 and {r.status for r in rows} == {"pending"}
    assert all("loopback" in (r.last_error or "") for r in rows)
    assert all(SECRET not in f"{r.last_error} {r.target}" for r in rows)
    listed = cli(config, "alerts", "list")
    assert "3 pending" in listed and SECRET not in listed and "http://127.0.0.1:" in listed


# -- the real service -----------------------------------------------------------------------


def _monitor(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return err


@pytest.mark.slow
def test_service_alerts_each_item_once_through_a_failing_receiver(
    site: Site, write_config: Callable[..., Path], receiver: Receiver
) -> None:
    """The receiver answers 500 twice, then 200: each item arrives once, none is lost."""
    receiver.policy = lambda n: 500 if n <= 2 else 200
    config = write_config([levant(site)], watchlists=[axis(receiver)])
    settings = load_settings(config)
    process = _monitor(config, "run", "--tick", "1")
    try:
        wait_for(lambda: len(receiver.accepted()) >= 3)
        time.sleep(2)  # time for a duplicate to arrive, if one were coming
    finally:
        err = _stop(process)
    accepted = receiver.accepted()
    assert receiver.count() == 5 and len(accepted) == 3
    assert len({r.body["item_id"] for r in accepted}) == 3
    assert len({r.headers["idempotency-key"] for r in accepted}) == 3
    assert all(r.path == f"/hooks/{SECRET}" for r in receiver.requests)
    with Store.open(settings.database_url) as store:
        matched = {m.item_id: m.matched_at for m in store.matches.list("axis")}
        rows = store.alerts.list()
    assert {r.item_id for r in rows} == set(matched) == {r.body["item_id"] for r in accepted}
    assert {r.status for r in rows} == {"sent"} and sum(r.attempts for r in rows) == 5
    # within seconds of the match (a generous margin: the retries wait 1 s each)
    for got in accepted:
        assert got.at - matched[got.body["item_id"]] < timedelta(seconds=30)
    # the log says where alerts go, but never the whole URL
    assert SECRET not in err and "/hooks/" not in err
    assert f"{mask_webhook(receiver.url)}" in err and "HTTP 500" in err
    listed = cli(config, "alerts", "list", "--json")
    assert [json.loads(line)["status"] for line in listed.splitlines()] == ["sent"] * 3


@pytest.mark.slow
def test_a_restart_mid_way_resends_nothing_and_loses_nothing(
    site: Site, write_config: Callable[..., Path], receiver: Receiver
) -> None:
    """One alert gets through, the receiver then fails; the service is stopped and
    started again with the receiver healthy: the other two arrive, the first not again."""
    healthy = threading.Event()
    receiver.policy = lambda n: 200 if n == 1 or healthy.is_set() else 503
    config = write_config([levant(site)], watchlists=[axis(receiver)])
    process = _monitor(config, "run", "--tick", "1")
    try:
        wait_for(lambda: receiver.count() >= 3)
    finally:
        _stop(process)
    assert len(receiver.accepted()) == 1
    listed = [json.loads(line) for line in cli(config, "alerts", "list", "--json").splitlines()]
    assert sorted(r["status"] for r in listed) == ["pending", "pending", "sent"]
    healthy.set()
    process = _monitor(config, "run", "--tick", "1")
    try:
        wait_for(lambda: len(receiver.accepted()) >= 3)
        time.sleep(2)
    finally:
        _stop(process)
    accepted = receiver.accepted()
    assert len(accepted) == 3 and len({r.body["item_id"] for r in accepted}) == 3
