"""The service's HTTP endpoint, metrics and JSON log lines, on the real service process.

``monitor run`` runs as a subprocess on feeds served on loopback; ``/metrics``
is scraped and parsed with prometheus-client's own parser, ``/healthz`` read
as JSON, including while a PostgreSQL cluster of the test's own is stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from prometheus_client.parser import text_string_to_metric_families

from monitor.cli.common import log_format_of
from monitor.config import load_settings
from monitor.logfmt import JsonFormatter, about
from monitor.pool import WorkerPool, WorkerStartupError
from monitor.service.core import Service
from monitor.service.http import health
from monitor.service.metrics import StatsCache
from monitor.storage import Store
from tests import pool_tasks
from tests.conftest import Site, config_file
from tests.pgcluster import PgCluster
from tests.test_pool import fork_pool

LISTENING = re.compile(r"listening on http://(\[[0-9a-f:]+\]|[0-9.]+):(\d+)")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Running:
    """A ``monitor run`` process whose stderr goes to a file, and its endpoint."""

    def __init__(self, process: subprocess.Popen[str], log: Path) -> None:
        self.process, self.log = process, log
        self.base = ""

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            assert code is None, f"the service exited with {code}:\n{self.output()[-3000:]}"
            try:
                if predicate():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{what}: not reached in {timeout:.0f}s\n{self.output()[-3000:]}")

    def listening(self) -> bool:
        found = LISTENING.search(self.output())
        if found:
            self.base = f"http://{found.group(1)}:{found.group(2)}"
        return found is not None

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10)

    def healthz(self) -> tuple[int, dict[str, Any]]:
        response = self.get("/healthz")
        return response.status_code, response.json()

    def metrics(self) -> Samples:
        response = self.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        samples: Samples = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@contextmanager
def service(
    config: Path, tmp_path: Path, env: dict[str, str] | None = None, wait: bool = True
) -> Iterator[Running]:
    log = tmp_path / "service.log"
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    environment.pop("MONITOR_DATABASE_URL", None)
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", "--tick", "1"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            env=environment,
        )
    running = Running(process, log)
    try:
        if wait:
            running.wait_for("the endpoint's address in the log", running.listening)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.slow
def test_metrics_count_a_poll_and_healthz_says_ok(
    site: Site, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_config(
        [
            {"name": "Levant Ledger", "url": site.url("/feed/")},
            {"name": "Gone", "url": site.url("/missing/feed.rss")},
        ]
    )
    with service(config, tmp_path) as running:
        running.wait_for(
            "3 new items counted",
            lambda: value(running.metrics(), "monitor_items_new_total") == 3,
        )
        # the database's gauges are cached for a few seconds: wait for the poll's result
        running.wait_for(
            "the failing feed counted",
            lambda: value(running.metrics(), "monitor_feeds_failing") == 1,
        )
        samples = running.metrics()
        status, body = running.healthz()
        code = running.stop()
    assert code == 0, running.output()[-3000:]
    assert value(samples, "monitor_polls_total", outcome="ok") == 1
    assert value(samples, "monitor_polls_total", outcome="hard") == 1  # the 404
    assert value(samples, "monitor_item_copies_total") == 0
    assert value(samples, "monitor_item_revisions_total") == 0
    # one request for each feed, one for each of the three article pages
    assert value(samples, "monitor_fetch_seconds_count", kind="feed") == 2
    assert value(samples, "monitor_fetch_seconds_count", kind="page") == 3
    assert value(samples, "monitor_fetch_seconds_bucket", kind="page", le="+Inf") == 3
    assert value(samples, "monitor_fetches_total", kind="feed", outcome="hard") == 1
    # the feed parsed once in the pool, each page extracted once
    assert value(samples, "monitor_extraction_seconds_count", kind="feed") == 1
    assert value(samples, "monitor_extraction_seconds_count", kind="page") == 3
    assert value(samples, "monitor_extraction_seconds_sum", kind="page") > 0
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in samples.items()
        if name == "monitor_extraction_seconds_bucket" and dict(labels)["kind"] == "page"
    )
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    top, count = buckets[-1]
    assert top == float("inf") and count == 3
    # gauges read from the database at scrape time
    assert value(samples, "monitor_feeds_active") == 2
    assert value(samples, "monitor_feeds_failing") == 1
    assert ("monitor_queue_depth", (("queue", "feeds"),)) in samples
    assert value(samples, "monitor_queue_depth", queue="page_retries") == 0
    assert value(samples, "monitor_database_up") == 1
    assert 0 <= value(samples, "monitor_last_successful_poll_age_seconds") < 60
    assert status == 200, body
    assert body["status"] == "ok" and body["reasons"] == []
    assert body["version"] and re.match(r"^.+:\d+:\d+$", body["worker"])
    assert body["last_tick_at"] and body["last_successful_poll_at"]
    assert body["feeds"]["failing"] == 1


@pytest.mark.slow
@pytest.mark.postgres
def test_healthz_degraded_while_the_database_is_down_and_ok_after(
    pg_cluster: PgCluster, site: Site, tmp_path: Path
) -> None:
    url = pg_cluster.create_database("monitor_health")
    config = config_file(tmp_path, url, [{"name": "Levant Ledger", "url": site.url("/feed/")}])
    with service(config, tmp_path) as running:
        running.wait_for("healthz ok", lambda: running.healthz()[0] == 200)
        running.wait_for("the first poll", lambda: site.hits.get("/feed/", 0) >= 1)
        pg_cluster.stop(mode="fast")
        running.wait_for("healthz degraded", lambda: running.healthz()[0] == 503, timeout=20)
        status, body = running.healthz()
        samples = running.metrics()  # /metrics still answers, from what it knows
        pg_cluster.start()
        running.wait_for("healthz ok again", lambda: running.healthz()[0] == 200, timeout=20)
        _, after = running.healthz()
        code = running.stop()
    assert status == 503
    assert body["status"] == "degraded"
    assert body["reasons"] == ["database unreachable"], body
    assert body["database"]["ok"] is False and body["database"]["error"]
    assert value(samples, "monitor_database_up") == 0
    assert value(samples, "monitor_feeds_active") == 1  # the last figures are kept
    assert after["status"] == "ok" and after["database"]["ok"] is True
    assert code == 0, running.output()[-3000:]


@pytest.mark.slow
def test_json_log_lines_name_the_feed(site: Site, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    config = config_file(
        tmp_path,
        db,
        [{"name": "Levant Ledger", "url": site.url("/feed/")}],
        service={"log_format": "text"},  # the environment wins over the file
    )
    with service(config, tmp_path, env={"MONITOR_LOG_FORMAT": "json"}) as running:
        running.wait_for("an item stored", lambda: '"item"' in running.output())
        code = running.stop()
    assert code == 0
    lines = running.output().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert all(datetime.fromisoformat(r["time"]).tzinfo is not None for r in records)
    named = [r for r in records if r.get("feed") == "Levant Ledger"]
    assert named, lines
    stored = [r for r in named if "stored" in r["message"] and isinstance(r.get("item"), int)]
    assert len(stored) == 3, named
    assert any(r["message"].startswith("HTTP endpoint listening on") for r in records)


@pytest.mark.slow
def test_a_port_in_use_stops_the_service_with_status_2(site: Site, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        db = f"sqlite:///{tmp_path / 'monitor.db'}"
        feeds = [{"name": "Levant Ledger", "url": site.url("/feed/")}]
        config = config_file(tmp_path, db, feeds, service={"http": {"port": port}})
        with service(config, tmp_path, wait=False) as running:
            code = running.process.wait(timeout=60)
    output = running.output()
    assert code == 2, output
    assert f"127.0.0.1:{port}" in output and "service.http.port" in output, output
    assert "Traceback" not in output
    assert site.hits.get("/feed/", 0) == 0  # it did not poll without its endpoint


# -- in-process: the reasons that are hard to bring about in a subprocess -------------


def test_healthz_reasons_stale_polls_and_a_broken_pool(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    feeds = [{"name": "Silent", "url": "http://127.0.0.1:9/feed"}]
    settings = load_settings(config_file(tmp_path, db, feeds, service={"stale_after": "10m"}))
    now = [datetime(2026, 12, 1, 12, 0, tzinfo=UTC)]
    pool = WorkerPool(2, factory=lambda: fork_pool(pool_tasks.failing_initializer))
    with Store.open(settings.database_url) as store, pool:
        service = Service(settings, store, pool=pool, clock=lambda: now[0])
        service.orchestrator.sync_feeds()
        stats = StatsCache(service, ttl=0, every=0)
        ok, body = health(service, stats)
        assert ok and body["reasons"] == [], body
        # up for longer than stale_after with an active feed and no successful poll
        now[0] += timedelta(minutes=11)
        ok, body = health(service, stats)
        assert not ok and body["reasons"] == ["no successful poll"], body
        assert "service.stale_after: 600s" in body["details"]["no successful poll"]
        service.health.last_successful_poll_at = now[0] - timedelta(minutes=1)
        assert health(service, stats)[0]
        # workers that die as they start: the pool is broken until a task succeeds
        with pytest.raises(WorkerStartupError):
            asyncio.run(pool.run("k", pool_tasks.pid, kind="page"))
        ok, body = health(service, stats)
        assert not ok and body["reasons"] == ["pool broken"], body
        assert "die as they start" in body["details"]["pool broken"]
        service.close()


def test_the_log_format_comes_from_the_environment_then_the_config() -> None:
    assert log_format_of(None, env={}) == "text"
    assert log_format_of("json", env={}) == "json"
    assert log_format_of("text", env={"MONITOR_LOG_FORMAT": "json"}) == "json"
    assert log_format_of("json", env={"MONITOR_LOG_FORMAT": ""}) == "json"
    with pytest.raises(typer.Exit) as refused:
        log_format_of("text", env={"MONITOR_LOG_FORMAT": "xml"})
    assert refused.value.exit_code == 2


def test_a_json_line_names_the_feed_and_item_a_call_names() -> None:
    def line(msg: str, *args: object, **extra: Any) -> dict[str, Any]:
        record = logging.LogRecord("monitor.x", logging.INFO, __file__, 1, msg, args, None)
        record.__dict__.update(extra)
        parsed: dict[str, Any] = json.loads(JsonFormatter().format(record))
        return parsed

    assert line("feed %r: item %d stored: %s", "Gulf Wire", 7, "T")["item"] == 7
    assert line("feed %r: item %d stored: %s", "Gulf Wire", 7, "T")["feed"] == "Gulf Wire"
    assert "item" not in line("feed %r: 3 new entries", "Gulf Wire")
    plain = line("tick: %d feeds polled", 4)
    assert "feed" not in plain and plain["message"] == "tick: 4 feeds polled"
    explicit = line("moved", **about(feed="Levant Ledger", item="https://x.test/a"))
    assert explicit["feed"] == "Levant Ledger" and explicit["item"] == "https://x.test/a"
    assert line("%s: x", "A\u2028B")["message"] == "A\u2028B: x"  # decoded as it was
    assert "\u2028" not in JsonFormatter().format(
        logging.LogRecord("m", logging.INFO, __file__, 1, "a\u2028b", None, None)
    )
