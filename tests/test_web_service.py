"""``monitor run`` with ``web.enabled`` serves the console on its own socket (a real
subprocess): the API answers with what the service ingests, a reload of feeds.yaml
reaches it, and a login needed without a secret stops the service with status 2."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import Site, config_file
from tests.webdata import WATCHLISTS, feeds, serve_hostile

CONSOLE = re.compile(r"web console listening on (http://[0-9.]+:\d+)")


@contextmanager
def running(
    config: Path, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    environment = {**os.environ, "COLUMNS": "250", **(env or {})}
    for name in ("MONITOR_DATABASE_URL", "MONITOR_WEB_TOKENS", "MONITOR_WEB_TOKEN"):
        environment.pop(name, None)
    environment.update(env or {})
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", "--tick", "1"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            env=environment,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(
    process: subprocess.Popen[str], log: Path, what: str, check: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited {process.returncode}:\n{log.read_text()[-3000:]}"
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what}: not reached\n{log.read_text()[-3000:]}")


def console_url(log: Path) -> str | None:
    found = CONSOLE.search(log.read_text(encoding="utf-8", errors="replace"))
    return found.group(1) if found else None


def write(tmp_path: Path, site: Site, watchlists: list[dict[str, object]]) -> Path:
    return config_file(
        tmp_path,
        f"sqlite:///{tmp_path / 'monitor.db'}",
        feeds(site),
        watchlists=watchlists,
        web={"enabled": True, "port": 0},
        service={"reload_check": 1},
    )


@pytest.mark.slow
def test_the_service_serves_the_console_and_reloads_reach_it(site: Site, tmp_path: Path) -> None:
    serve_hostile(site)
    config = write(tmp_path, site, WATCHLISTS)
    log = tmp_path / "service.log"
    with running(config, log) as process:
        wait_for(process, log, "the console's address", lambda: console_url(log) is not None)
        base = console_url(log)
        matches = f"{base}/api/matches?watchlist=Iran"
        wait_for(process, log, "the matches", lambda: len(httpx.get(matches).json()["rows"]) == 2)
        feeds_seen = httpx.get(f"{base}/api/feeds").json()
        assert {f["name"] for f in feeds_seen} == {"Levant Ledger", "Gulf Wire", "Hostile Herald"}
        atom = httpx.get(f"{base}/watchlists/Iran/atom")
        assert atom.status_code == 200 and "<script>" not in atom.text
        config.write_text(
            json.dumps(
                {
                    **json.loads(config.read_text()),
                    "watchlists": [*WATCHLISTS, {"name": "Beirut", "rules": ["Beirut"]}],
                }
            ),
            encoding="utf-8",
        )

        def reloaded() -> bool:
            names = {w["name"] for w in httpx.get(f"{base}/api/watchlists").json()}
            return "Beirut" in names

        wait_for(process, log, "the reloaded watchlist in the console", reloaded)
    assert process.returncode == 0, log.read_text()[-3000:]


def test_a_login_needed_without_a_secret_stops_the_service(site: Site, tmp_path: Path) -> None:
    config = config_file(
        tmp_path,
        f"sqlite:///{tmp_path / 'monitor.db'}",
        feeds(site)[:1],
        web={"enabled": True, "port": 0, "bind": "127.0.0.2"},
    )
    log = tmp_path / "service.log"
    with running(config, log) as process:
        process.wait(timeout=60)
    assert process.returncode == 2
    assert "MONITOR_WEB_TOKENS" in log.read_text() and "127.0.0.2" in log.read_text()


@pytest.mark.slow
def test_without_web_enabled_there_is_no_console(site: Site, tmp_path: Path) -> None:
    config = config_file(
        tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}", feeds(site)[:1], web={"enabled": False}
    )
    log = tmp_path / "service.log"
    with running(config, log) as process:
        wait_for(process, log, "the first poll", lambda: site.hits.get("/feed/", 0) >= 1)
    assert console_url(log) is None
