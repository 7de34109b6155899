"""A database outage under the running service: it waits, recovers, and loses nothing.

The service (``monitor run --tick 1``) runs against a PostgreSQL cluster of
the test's own (tests/pgcluster.py).  While it is storing the first entries
the cluster is stopped (``pg_ctl stop -m fast``: connections cut mid-work);
the feeds keep publishing; a few ticks later the cluster is started again.
The service must keep running throughout, say in its log that the database
was unreachable, then store every entry served (those published during the
outage too) exactly once; ``monitor feeds list`` must work and show the
feeds' state, and SIGTERM must still stop the service with status 0.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.newsroom import Newsroom, audit_store, end_session, session_processes
from tests.pgcluster import PgCluster

TICK = 1
INTERVAL = "10s"  # the shortest interval the config accepts: feeds come due again soon
OUTAGE_TICKS = 4
UNREACHABLE = re.compile(
    r"database\W+(is\W+|was\W+)?(unreachable|unavailable|not reachable|down)", re.IGNORECASE
)


def _monitor(config: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("MONITOR_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        text=True,
        env=env,
        **kwargs,
    )


class Watch:
    """Waits for conditions on the store while checking that the service is still up."""

    def __init__(self, service: subprocess.Popen[str], log: Path, url: str) -> None:
        self.service, self.log, self.url = service, log, url
        self.engine = create_engine(url, pool_pre_ping=True)

    def alive(self, when: str) -> None:
        code = self.service.poll()
        assert code is None, f"the service exited with {code} {when}:\n{self._tail()}"

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def until(self, what: str, predicate: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive(f"while waiting for {what}")
            try:
                if predicate():
                    return
            except Exception:  # the store may not be migrated yet
                pass
            time.sleep(0.2)
        raise AssertionError(f"{what}: not reached in {timeout:.0f}s\n{self._tail()}")

    def stored(self) -> int:
        if not inspect(self.engine).has_table("items"):
            return 0
        return int(self.scalar("SELECT count(*) FROM items"))

    def close(self) -> None:
        self.engine.dispose()


def _save(figures: dict[str, Any], directory: Path) -> None:
    line = json.dumps(figures)
    (directory / "reliability.json").write_text(line + "\n", encoding="utf-8")
    target = os.environ.get("MONITOR_RELIABILITY_OUT")
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(line + "\n")
    print(f"\nreliability figures: {line}")


@pytest.mark.slow
@pytest.mark.postgres
def test_service_survives_a_database_outage_and_loses_nothing(
    pg_cluster: PgCluster, newsroom: Newsroom, tmp_path: Path
) -> None:
    started = time.monotonic()
    url = pg_cluster.create_database("monitor_outage")
    defaults = {"interval": INTERVAL, "language": "en", "allow_private": True}
    config = newsroom.config(tmp_path, url, defaults=defaults)
    newsroom.page_delay = (0.02, 0.08)  # the first poll takes a few seconds: cut into it
    newsroom.publish(15)
    log = tmp_path / "service.log"
    with log.open("w") as stderr:
        service = _monitor(
            config,
            "run",
            "--tick",
            str(TICK),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    watch = Watch(service, log, url)
    try:
        # Some items stored, the first poll still going on (if it has not ended already).
        watch.until("a few items stored", lambda: watch.stored() >= 10, timeout=30)
        before = watch.stored()
        pg_cluster.stop(mode="fast")
        outage_started = time.monotonic()
        published = len(newsroom.publish(3))
        # An operator who looks meanwhile is told what is wrong, not shown a traceback.
        during = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "feeds", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
        while time.monotonic() - outage_started < OUTAGE_TICKS * TICK + 0.5:
            watch.alive("during the outage")
            time.sleep(0.2)
        pg_cluster.start()
        recovered_at = datetime.now(UTC)
        watch.alive("just after the database came back")
        newsroom.publish(2)
        served = len(newsroom.entries())

        def all_stored_and_recorded() -> bool:
            if watch.stored() < served:
                return False
            polled = watch.scalar(
                "SELECT count(*) FROM feeds WHERE last_outcome IN ('ok', 'not_modified')"
                " AND last_fetched_at > :t",
                t=recovered_at,
            )
            return int(polled) == newsroom.feeds

        watch.until("every entry stored after the outage", all_stored_and_recorded, timeout=40)
        audit = audit_store(newsroom, url, feed_state=False)
        watch.alive("after recovery")

        feeds_list = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "feeds", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
        watch.alive("after monitor feeds list")
    finally:
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
        try:
            code = service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
            code = service.wait()
        deadline = time.monotonic() + 3
        while session_processes(service.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left_behind = end_session(service.pid)  # its pool's processes, if it left them
        watch.close()
    output = log.read_text(errors="replace")
    figures = {
        "test": "db_outage",
        "backend": "postgresql",
        "items_before_stop": before,
        "published_during_outage": published,
        "entries_served": audit.served,
        "items_stored": audit.stored,
        "items_lost": len(audit.lost),
        "items_duplicated": len(audit.duplicated) + len(audit.extra),
        "service_exit_status": code,
        "processes_left_behind": left_behind,
        "duration_s": round(time.monotonic() - started, 1),
    }
    _save(figures, tmp_path)
    assert UNREACHABLE.search(output), f"no line says the database was unreachable:\n{output}"
    assert during.returncode == 1, during.stdout + during.stderr
    assert "database unreachable" in during.stderr and "Traceback" not in during.stderr
    assert not audit.problems, "\n".join(audit.problems)
    assert audit.stored == audit.served
    assert feeds_list.returncode == 0, feeds_list.stdout + feeds_list.stderr
    carried = newsroom.carried()
    for feed in range(newsroom.feeds):
        name = newsroom.feed_name(feed)
        items = len({link for n, _guid, link in carried if n == name})
        row = next((line for line in feeds_list.stdout.splitlines() if name in line), "")
        cells = [c.strip() for c in re.split(r"[│|]", row) if c.strip()]
        assert cells[:4] == [name, "ok", "0", str(items)] or cells[:4] == [
            name,
            "not_modified",
            "0",
            str(items),
        ], f"{name}: {row!r} in\n{feeds_list.stdout}"
    assert code == 0, f"SIGTERM: the service exited with {code}\n{output[-3000:]}"
    assert left_behind == 0, f"{left_behind} of the service's processes outlived it by 3s"
    assert time.monotonic() - started < 60
