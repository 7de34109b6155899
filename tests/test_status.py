"""``monitor status``: the rules (pure, :func:`assess`) and the command on real databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli.status import assess
from monitor.config import load_settings
from monitor.orchestrator import LEASE
from monitor.storage import Store
from monitor.storage.config_version import ConfigVersion
from monitor.storage.workers import Overview, WorkerInfo, WorkerRow
from monitor.workers import SILENT_AFTER
from tests.conftest import Site, config_file

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _worker(id: str, mode: str = "service", seen: float = 2, **kw: object) -> WorkerRow:
    values: dict[str, object] = {
        "id": id,
        "host": id.split(":")[0],
        "pid": 1,
        "mode": mode,
        "started_at": NOW - HOUR,
        "seen_at": NOW - timedelta(seconds=seen),
        "stopped_at": None,
        "config_version": None,
        "software": "0.1",
    }
    values.update(kw)
    return WorkerRow(**values)  # type: ignore[arg-type]


def _overview(workers: list[WorkerRow], **kw: object) -> Overview:
    values: dict[str, object] = {
        "now": NOW,
        "workers": workers,
        "leases": [],
        "active_feeds": 3,
        "polled_feeds": 3,
        "due": 0,
        "overdue": 0,
        "oldest_due": None,
        "failing": 0,
        "failing_shown": [],
        "disabled": 0,
        "last_success_at": NOW - timedelta(minutes=1),
        "retries_pending": 0,
        "retries_due": 0,
    }
    values.update(kw)
    return Overview(**values)  # type: ignore[arg-type]


def _assess(overview: Overview, followed: ConfigVersion | None = None) -> list[str]:
    verdict = assess(overview, followed, silent_after=SILENT_AFTER, lease=LEASE, stale_after=HOUR)
    return verdict.reasons


def test_the_rules_of_health() -> None:
    healthy = _overview([_worker("far.example:10:1"), _worker("far.example:11:1", "once", 600)])
    verdict = assess(healthy, None, silent_after=SILENT_AFTER, lease=LEASE, stale_after=HOUR)
    assert verdict.reasons == []
    assert verdict.states == {"far.example:10:1": "alive", "far.example:11:1": "running"}

    silent = _worker("far.example:12:1", seen=SILENT_AFTER.total_seconds() + 5)
    [reason] = _assess(_overview([silent]))
    assert "far.example:12:1 silent for" in reason
    long_ago = _worker("far.example:13:1", seen=2 * HOUR.total_seconds())
    verdict = assess(
        _overview([long_ago]), None, silent_after=SILENT_AFTER, lease=LEASE, stale_after=HOUR
    )
    assert verdict.reasons == [] and verdict.states["far.example:13:1"] == "lost"
    stopped = _worker("far.example:14:1", seen=900, stopped_at=NOW - timedelta(seconds=900))
    assert _assess(_overview([stopped])) == []

    assert "7 feeds due for more than 10m" in _assess(_overview([], overdue=7))[0]
    stale = _overview([], last_success_at=NOW - 2 * HOUR)
    assert "no feed polled successfully for 2h" in _assess(stale)[0]
    assert "every feed polled is failing" in _assess(_overview([], failing=3))[0]
    assert _assess(_overview([], failing=2)) == []

    newer = ConfigVersion("b" * 64, 2, 2_000)
    older = _worker("far.example:15:1", config_version=f"1/1000/{'a' * 16}")
    assert "older than the one the database follows" in _assess(_overview([older]), newer)[0]
    same = _worker("far.example:16:1", config_version=f"2/2000/{'b' * 16}")
    assert _assess(_overview([same]), newer) == []


def test_status_reads_workers_leases_and_feeds_from_the_database(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = write_config(
        [
            {"name": "Levant Ledger", "url": site.url("/feed/")},
            {"name": "Broken", "url": site.url("/missing.rss")},
        ]
    )
    runner = CliRunner()
    ran = runner.invoke(app, ["--config", str(config), "run", "--once"])
    assert ran.exit_code == 0, ran.output
    settings = load_settings(config)
    now = datetime.now(UTC)
    with Store.open(settings.database_url) as store:
        [once] = store.workers.seen(now - HOUR)  # the run registered, and said it ended
        assert once.mode == "once" and once.stopped_at is not None
        beating = WorkerInfo("far.example:77:1", "far.example", 77, "service", None, "0.1")
        store.workers.register(beating, now)
        store.feeds.claim("far.example:77:1", now, LEASE, names=["Broken"], due_only=False)

    result = runner.invoke(app, ["--config", str(config), "status"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "far.example:77:1" in out and "alive" in out and "stopped" in out
    assert "leases held" in out and "far.example:77:1" in out.split("leases held")[1]
    assert "2 active" in out and "1 failing" in out and "failing Broken" in out
    assert "healthy" in out

    with Store.open(settings.database_url) as store:  # the far worker falls silent
        store.workers.heartbeat("far.example:77:1", now - SILENT_AFTER - timedelta(seconds=5))
        store.feeds.sync(settings.feeds, now - HOUR)  # and nobody polled for an hour
        store.feeds.release("far.example:77:1")
        from sqlalchemy import text

        with store.engine.begin() as conn:
            conn.execute(text("UPDATE feeds SET next_fetch_at = :t"), {"t": now - HOUR})
    result = runner.invoke(app, ["--config", str(config), "status"], env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output
    assert "degraded" in result.output
    assert "far.example:77:1 silent for" in result.output
    assert "2 feeds due for more than 10m" in result.output


def test_status_of_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    config = config_file(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/monitor", [])
    result = CliRunner().invoke(app, ["--config", str(config), "status"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: database unreachable at")


def test_the_heartbeat_registers_beats_and_says_it_stopped(
    write_config: Callable[..., Path],
) -> None:
    from monitor.service.core import Service
    from monitor.service.heartbeat import Heartbeat

    settings = load_settings(write_config([], config_version=3))
    clock = [datetime.now(UTC) - timedelta(minutes=5)]
    with Store.open(settings.database_url) as store:
        service = Service(settings, store, clock=lambda: clock[0])
        try:
            heartbeat = Heartbeat(settings)
            heartbeat.start(service)
            me = service.orchestrator.owner
            row = store.workers.get(me)
            assert row is not None and row.mode == "service" and row.stopped_at is None
            assert row.config_version is not None and row.config_version.startswith("3/")
            clock[0] += timedelta(seconds=40)
            assert heartbeat.beat()
            row = store.workers.get(me)
            assert row is not None and row.seen_at == clock[0]
            assert not store.workers.gone(me, clock[0] + SILENT_AFTER / 2, SILENT_AFTER)
            assert store.workers.gone(me, clock[0] + SILENT_AFTER * 2, SILENT_AFTER)
            heartbeat.stop()
            row = store.workers.get(me)
            assert row is not None and row.stopped_at is not None
            assert store.workers.gone(me, clock[0], SILENT_AFTER)
        finally:
            service.close()
