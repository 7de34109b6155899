"""The service and several workers, as separate processes, as they run in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.storage import Store
from tests.conftest import Site, config_file


def _monitor(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


@pytest.mark.slow
def test_service_polls_until_sigterm_and_stops_cleanly(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = write_config([{"name": "Levant Ledger", "url": site.url("/feed/")}])
    settings = load_settings(config)
    process = _monitor(config, "run", "--tick", "1")
    try:
        with Store.open(settings.database_url) as store:
            _wait_for(lambda: store.items.count() == 3)
            # the poll's outcome is recorded just after its items are stored
            _wait_for(lambda: store.feeds.health()[0].last_outcome is not None)
            health = store.feeds.health()
        assert health[0].last_outcome == "ok"
        assert health[0].next_fetch_at is not None
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Levant Ledger" in err  # the log names the feed


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_share_one_postgresql(site: Site, tmp_path: Path, pg_url: str) -> None:
    """Two `run --once` processes at once: every feed polled once, every article stored once."""
    config = config_file(
        tmp_path,
        pg_url,
        [
            {"name": "Levant Ledger", "url": site.url("/feed/")},
            {"name": "Gulf Wire", "url": site.url("/gulf/feed.atom")},
            {"name": "Broken", "url": site.url("/broken/feed.rss")},
        ],
    )
    settings = load_settings(config)
    # Both start on an empty database: migrations, feed sync and claims all race.
    workers = [_monitor(config, "run", "--once", "--due") for _ in range(2)]
    results = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), results
    with Store.open(settings.database_url) as store:
        items = list(store.items.iter_all())
    urls = [i.canonical_url for i in items]
    assert len(urls) == len(set(urls))
    assert site.url("/2020/01/08/second-story/") in urls
    second = next(i for i in items if i.canonical_url == site.url("/2020/01/08/second-story/"))
    assert set(second.feeds) == {"Levant Ledger", "Gulf Wire"}
    # leases and next_fetch_at: each feed was fetched once in all, not once per worker
    assert site.hits["/feed/"] == 1
    assert site.hits["/gulf/feed.atom"] == 1
