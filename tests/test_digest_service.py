"""The digest job inside ``monitor run``: two service processes on one PostgreSQL reach the
same digest time (cron ``* * * * *``) and exactly one e-mail is sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.storage import Store
from tests.conftest import Site, config_file
from tests.digestdesk import Mailbox, serve_desk, smtp_controller


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = smtp_controller(box)
    yield box
    controller.stop()


def _service(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "-v", "run", "--tick", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_two_services_send_one_digest(
    site: Site, tmp_path: Path, pg_url: str, mailbox: Mailbox
) -> None:
    config = config_file(
        tmp_path,
        pg_url,
        serve_desk(site),
        smtp={
            "host": "127.0.0.1",
            "port": mailbox.port,
            "security": "none",
            "from": "Monitor <monitor@example.org>",
        },
        watchlists=[
            {
                "name": "axis",
                "rules": ["Soleimani"],
                "digest": {"to": ["analyst@example.org"], "schedule": "* * * * *"},
            }
        ],
    )
    # the first window is the minute before the first digest time: store the matches in
    # the same minute as the services start, early enough in it
    while datetime.now(UTC).second > 40:
        time.sleep(0.5)
    result = CliRunner().invoke(app, ["--config", str(config), "run", "--once"])
    assert result.exit_code == 0, result.output
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    services = [_service(config) for _ in range(2)]
    try:
        deadline = time.monotonic() + 90
        while not mailbox.messages and time.monotonic() < deadline:
            time.sleep(0.5)
        assert mailbox.messages, "no digest was sent"
        time.sleep(6)  # both services fired; a second message would be in by now
    finally:
        for service in services:
            service.send_signal(signal.SIGTERM)
        logs = [s.communicate(timeout=60)[1] for s in services]
    assert all(s.returncode == 0 for s in services), logs
    assert len(mailbox.messages) == 1, logs
    assert mailbox.messages[0]["Subject"] == "[monitor] axis: 2 stories, 5 matched items"
    with Store.open(load_settings(config).database_url) as store:
        rows = store.digests.list("axis")
    sent = [r for r in rows if r.status == "sent"]
    assert len(sent) == 1 and sent[0].window_end > minute
    assert all(r.status in ("sent", "skipped") for r in rows)
    claims = sum(log.count(" claimed, ") for log in logs)
    assert claims == len(rows), logs  # each window claimed by one of the two services
