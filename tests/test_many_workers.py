"""Several workers: leases freed by heartbeats, three services on one PostgreSQL, and
SQLite's one-writer lock.

The three-worker test counts the loopback server's requests per feed.  Bucketing:
each feed's requests are chained, each one opening the window of the next
interval, ``[previous + interval, previous + interval + SLACK)``; "exactly once
per interval" means the next request falls in that window (none earlier: no
feed polled twice in an interval; none later: no interval skipped), but for the
polls a stopped worker had in flight, which the next worker polls again at its
next tick (nothing lost at a stop: the hand-over).  The
service polls a feed when it is due at its next tick (``--tick 1``), so SLACK
covers the tick, the claim and the wait for a fetch slot, with a wide margin.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import FeedConfig, load_settings
from monitor.orchestrator import LEASE
from monitor.storage import Store
from monitor.storage.workers import WorkerInfo
from monitor.workers import SILENT_AFTER, WriterBusy, lease_holder_gone, single_writer
from tests.conftest import Site, config_file

FEEDS = 120
INTERVAL = 10.0  # seconds: the smallest interval the config allows
SLACK = 7.0
DELAY = 0.2  # each feed answers after this long, so polls are in flight for a while


class CountingServer:
    """A threaded loopback server: ``/f/N.rss`` lists one more entry at every request;
    every request's path and arrival time is kept."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = outer.respond(self.path)
                time.sleep(DELAY)
                try:
                    self.send_response(200 if body else 404)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the killed worker's request

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def respond(self, path: str) -> bytes:
        if not (path.startswith("/f/") and path.endswith(".rss")):
            return b""
        with self._lock:
            served = sum(1 for p, _ in self.requests if p == path)
            self.requests.append((path, time.monotonic()))
        feed = path[3:-4]
        items = "".join(
            f"<item><title>Feed {feed} story {k}</title>"
            f"<link>{self.base}/a/{feed}/{k}</link><guid>{self.base}/a/{feed}/{k}</guid>"
            f"<description>Report number {k} from desk {feed}.</description></item>"
            for k in reversed(range(served + 1))
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk {feed}</title>'
            f"<link>{self.base}/</link>{items}</channel></rss>"
        ).encode()

    def times(self) -> dict[str, list[float]]:
        with self._lock:
            requests = list(self.requests)
        by_path: dict[str, list[float]] = {}
        for path, at in requests:
            by_path.setdefault(path, []).append(at)
        return by_path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def counting() -> Iterator[CountingServer]:
    server = CountingServer()
    yield server
    server.close()


def _service(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its pool's processes share its session: killed with it
            env={**os.environ, "COLUMNS": "200"},
        )


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=40)
    finally:
        _kill_session(process)  # its pool's processes, if any are left


def _wait_for(what: str, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not reached in {timeout:.0f}s")


def _held(store: Store, pid: int) -> list[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name FROM feeds WHERE lease_owner LIKE :o AND lease_until >= :now"),
            {"o": f"%:{pid}:%", "now": datetime.now(UTC)},
        )
        return [r[0] for r in rows]


@pytest.mark.postgres
@pytest.mark.serial
@pytest.mark.slow
def test_three_workers_poll_each_feed_once_per_interval(
    counting: CountingServer, tmp_path: Path, pg_url: str
) -> None:
    feeds = [
        {"name": f"desk {n}", "url": f"{counting.base}/f/{n}.rss", "interval": "10s",
         "full_text": False}
        for n in range(FEEDS)
    ]  # fmt: skip
    config = config_file(
        tmp_path,
        pg_url,
        feeds,
        schedule={"adaptive": False, "jitter": 0, "min_interval": "10s"},
        fetch={"per_host": 64, "per_host_delay": 0, "concurrency": 32},
        extract={"workers": 1, "keep_raw_html": False},
    )
    with Store.open(load_settings(config).database_url) as store:  # migrated once, up front
        workers = [_service(config, tmp_path / f"worker{i}.log", "--tick", "1") for i in range(3)]
        try:
            _wait_for("first polls", lambda: len(counting.times()) == FEEDS, timeout=40)
            # all three workers until every feed has had two more polls, even at the
            # latest the window allows (a gap of up to INTERVAL + SLACK; later fails below)
            time.sleep(2 * (INTERVAL + SLACK))
            # kill a worker while it holds leases: polls in flight, never recorded
            victim, held = None, []
            deadline = time.monotonic() + 2 * INTERVAL
            while victim is None and time.monotonic() < deadline:
                for worker in workers:
                    held = _held(store, worker.pid)
                    if held:
                        _kill_session(worker)
                        victim = worker
                        break
                else:
                    time.sleep(0.05)
            killed_at = time.monotonic()
            assert victim is not None, "no worker was seen holding a lease"
            time.sleep(2 * (INTERVAL + SLACK))  # two polls of every feed with the other two
            survivors = [w for w in workers if w is not victim]
        finally:
            # a stopped worker leaves its polls in flight for the next poll: the worker
            # still running polls them again at its next tick, so gaps ending after this
            # are the hand-over, not a second poll within an interval
            stopping_at = time.monotonic()
            codes = [_stop(w) for w in workers if w.poll() is None]
        ended = time.monotonic()
        assert codes == [0, 0], [(tmp_path / f"worker{i}.log").read_text() for i in range(3)]
        assert len(survivors) == 2
        items = list(store.items.iter_all())
        rows = {r.pid: r for r in store.workers.seen(datetime.now(UTC) - LEASE)}
    # each service registered; the two stopped cleanly said so, the killed one could not
    assert all(rows[w.pid].mode == "service" for w in workers)
    assert rows[victim.pid].stopped_at is None
    assert all(rows[w.pid].stopped_at is not None for w in survivors)

    times = counting.times()
    assert len(times) == FEEDS
    held_paths = {f"/f/{name.split()[-1]}.rss" for name in held}
    early, late, windows = [], [], 0
    for path, stamps in times.items():
        for index, (previous, current) in enumerate(itertools.pairwise(stamps)):
            gap = current - previous
            windows += 1
            in_flight_at_kill = path in held_paths and previous <= killed_at < current
            handed_over = current >= stopping_at
            if gap < INTERVAL - 0.05 and not in_flight_at_kill and not handed_over:
                early.append((path, round(gap, 2)))
            # the first gap holds the first poll's own time, seconds while three services
            # start on two cores (their pools, the first stores); the interval runs from
            # a poll's end, so only that gap may be longer than the window
            if gap >= INTERVAL + SLACK and index > 0:
                late.append((path, round(gap, 2), round(previous - killed_at, 1)))
        # several intervals before the kill, and polled on after it
        assert sum(1 for t in stamps if t < killed_at) >= 3, path
        assert any(t > killed_at + 1 for t in stamps), path
        assert stamps[-1] > ended - INTERVAL - SLACK, path
    gaps = sorted(b - a for s in times.values() for a, b in itertools.pairwise(s))
    figures = {
        "polls": sum(map(len, times.values())),
        "windows": windows,
        "gap_min": round(gaps[0], 2),
        "gap_median": round(gaps[len(gaps) // 2], 2),
        "gap_max": round(gaps[-1], 2),
        "held_at_kill": len(held_paths),
        "polls_after_stop": sum(1 for s in times.values() for t in s if t >= stopping_at),
    }
    (tmp_path / "figures.json").write_text(json.dumps(figures))
    print(figures)
    assert not early, f"polled twice within an interval: {early[:10]}"
    assert not late, f"an interval without a poll: {late[:10]}"
    assert windows >= FEEDS * 4
    # the feeds the killed worker held were polled again by the others, soon
    for path in held_paths:
        after = [t for t in times[path] if t > killed_at]
        assert after and after[0] - killed_at < SLACK, path

    # no duplicate items; every entry served (early enough to be recorded) is stored
    urls = [item.canonical_url for item in items]
    assert len(urls) == len(set(urls))
    stored = set(urls)
    for path, stamps in times.items():
        feed = path[3:-4]
        recorded = sum(1 for t in stamps if t < ended - 5)  # the n-th request lists n entries
        for k in range(recorded):
            assert f"{counting.base}/a/{feed}/{k}" in stored, (path, k)


# -- heartbeats: leases of workers on another host -----------------------------------------


def _lease_to(store: Store, owner: str, now: datetime) -> None:
    store.feeds.sync(
        [FeedConfig(name="a", url="http://127.0.0.1:9/a.rss", interval=600)], now - LEASE
    )
    assert [f.name for f in store.feeds.claim(owner, now, LEASE)] == ["a"]


@pytest.mark.parametrize(
    ("mode", "seen", "stopped", "taken"),
    [
        ("service", SILENT_AFTER + timedelta(seconds=5), False, True),  # silent: gone
        ("service", timedelta(seconds=2), False, False),  # beating: its lease holds
        ("service", timedelta(seconds=2), True, True),  # said it stopped
        ("once", SILENT_AFTER * 4, False, False),  # no heartbeat: the plain expiry
        (None, None, False, False),  # no row at all: the plain expiry
    ],
)
def test_a_silent_worker_of_another_host_loses_its_leases(
    db_url: str, mode: str | None, seen: timedelta | None, stopped: bool, taken: bool
) -> None:
    now = datetime.now(UTC)
    owner = "elsewhere.example:4242:777"  # another host: is_dead_local cannot tell
    with Store.open(db_url) as store:
        _lease_to(store, owner, now - timedelta(seconds=1))
        if mode is not None and seen is not None:
            info = WorkerInfo(owner, "elsewhere.example", 4242, mode, None, "test")
            store.workers.register(info, now - seen)
            if stopped:
                store.workers.stopped(owner, now - seen)
        claimed = store.feeds.claim(
            "here:1:1", now, LEASE, is_dead=lease_holder_gone(store, now), due_only=False
        )
    assert [f.name for f in claimed] == (["a"] if taken else [])


# -- SQLite: one service per database file -------------------------------------------------


def _log_has(log: Path, needle: str) -> Callable[[], bool]:
    return lambda: needle in log.read_text()


@pytest.mark.slow
def test_sqlite_takes_one_service_and_a_killed_one_does_not_block_its_restart(
    site: Site, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'monitor.db'}"
    config = config_file(tmp_path, database, [{"name": "Levant Ledger", "url": site.url("/feed/")}])
    first_log, third_log = tmp_path / "a.log", tmp_path / "c.log"
    first = _service(config, first_log, "--tick", "1")
    try:
        _wait_for("the first service", _log_has(first_log, "monitor service started"))
        second = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", "--tick", "1"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "300"},
        )  # fmt: skip
        assert second.returncode == 1, second.stderr
        assert "another `monitor run` service already runs on the SQLite database" in second.stderr
        assert f"service pid {first.pid}" in second.stderr
        once = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "300"},
        )  # fmt: skip
        assert once.returncode == 1, once.stderr
        assert "refused: a `monitor run` service runs on the SQLite database" in once.stderr
        status = CliRunner().invoke(app, ["--config", str(config), "status"])
        assert status.exit_code == 0, status.output
        assert "alive" in status.output and "healthy" in status.output
    finally:
        _kill_session(first)  # SIGKILL: the kernel drops its lock
    restarted = _service(config, third_log, "--tick", "1")
    try:
        _wait_for("the restarted service", _log_has(third_log, "monitor service started"))
        status = CliRunner().invoke(app, ["--config", str(config), "status"])
        assert status.exit_code == 1, status.output  # the killed one is reported
        assert "ended without stopping (killed or crashed)" in status.output
    finally:
        assert _stop(restarted) == 0, third_log.read_text()
    with Store.open(database) as store:
        rows = {row.pid: row for row in store.workers.seen(datetime.now(UTC) - LEASE)}
    assert rows[restarted.pid].stopped_at is not None  # a clean stop says so
    assert rows[first.pid].stopped_at is None  # SIGKILL said nothing


def test_the_sqlite_lock_waits_for_run_once_and_refuses_a_second_service(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    entered = threading.Event()

    def service() -> None:
        with single_writer(url, "service", wait=0.05):
            entered.set()

    with single_writer(url, "once"), single_writer(url, "once"):  # run --once share it
        thread = threading.Thread(target=service)
        thread.start()
        assert not entered.wait(0.5)  # the service waits for them
    thread.join(10)
    assert entered.is_set()
    with single_writer(url, "service"):
        with (
            pytest.raises(WriterBusy, match="another `monitor run` service already runs"),
            single_writer(url, "service"),
        ):
            pass
        with (
            pytest.raises(WriterBusy, match="refused: a `monitor run` service runs"),
            single_writer(url, "once"),
        ):
            pass
    pg = "postgresql+psycopg://postgres@127.0.0.1/monitor"  # not SQLite: no lock at all
    with single_writer(pg, "service"), single_writer(pg, "service"):
        pass
