"""Digest e-mails: content, delivery to a real SMTP server, and the exactly-once windows.

Items are stored by the real pipeline (``monitor run --once`` on feeds served
on loopback, tests/digestdesk.py); digests go to an aiosmtpd server on
127.0.0.1 and are parsed back with the ``email`` package.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.service.digests import DigestSender, latest_fire, trigger
from monitor.storage import Store
from tests.conftest import Site
from tests.digestdesk import HOSTILE_TITLE, Mailbox, serve_desk, smtp_controller

runner = CliRunner()


def monitor(config: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(
        app, ["--config", str(config), *args], catch_exceptions=False, env={"COLUMNS": "250"}
    )
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = smtp_controller(box)
    yield box
    controller.stop()


def desk_config(
    site: Site,
    write_config: Callable[..., Path],
    mailbox: Mailbox,
    **digest: Any,
) -> Path:
    return write_config(
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
                "rules": ["Soleimani", "Hormuz"],
                "digest": {
                    "to": ["analyst@example.org"],
                    "timezone": "Asia/Beirut",
                    "backoff": [1],
                    **digest,
                },
            }
        ],
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    body = message.get_body(("html",))
    assert text is not None and body is not None
    return str(text.get_content()), str(body.get_content())


def test_digest_is_multipart_grouped_collapsed_zoned_and_escaped(
    site: Site, write_config: Callable[..., Path], mailbox: Mailbox
) -> None:
    config = desk_config(site, write_config, mailbox)
    monitor(config, "run", "--once")
    output = monitor(config, "digest", "send", "axis", "--now")
    assert "sent" in output
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    # two stories and the hostile item; six items matched in all (4 copies, Hormuz, hostile)
    assert message["Subject"] == "[monitor] axis: 3 stories, 6 matched items"
    assert mailbox.envelopes == [("monitor@example.org", ["analyst@example.org"])]
    assert message["Bcc"] is None and message["To"] == "analyst@example.org"
    text, body = parts(message)
    # grouped by rule: the rule with the widest story first
    assert text.index("== Soleimani (2) ==") < text.index("== Hormuz (1) ==")
    # the four copies are one entry, from the first to publish, naming the other outlets
    assert text.count("Crowds mourn Soleimani in Kerman") == 1
    assert "Also in: 3 outlets (Daily, Gazette, Herald)" in text
    assert "Also in: 3 outlets (Daily, Gazette, Herald)" in body
    # most widely carried first within the rule, although the hostile item is newer
    assert text.index("Crowds mourn") < text.index("Soleimani </mark>")
    # times in Asia/Beirut (UTC+2 in January)
    assert "Wire Service, 2020-01-07 12:00 EET" in text
    assert "2020-01-07 00:15 EET" in text  # the Hormuz story, 22:15 UTC the day before
    # the match highlighted in the snippet
    assert "<mark" in body and ">Soleimani</mark>" in body
    assert "*Soleimani*" in text
    with Store.open(load_settings(config).database_url) as store:
        titles = [i.title or "" for i in store.items.iter_all()]
    hostile = next(t for t in titles if "onerror" in t)
    assert "<img" in hostile  # it reached the database as written ...
    assert str(escape(hostile)) in body  # ... and the e-mail only escaped
    assert "<img" not in body and "<script" not in body and 'evil.example/"' not in body
    assert 'href="http://evil.example/' not in body
    assert "javascript:" not in body.split("<body", 1)[1].split("[click]")[0]
    hrefs = [chunk.split('"', 1)[0] for chunk in body.split('href="')[1:]]
    assert hrefs and all(h.startswith(site.base) for h in hrefs), hrefs
    assert HOSTILE_TITLE not in message["Subject"]


def test_empty_period_is_skipped_or_says_nothing_new(
    site: Site, write_config: Callable[..., Path], mailbox: Mailbox
) -> None:
    config = desk_config(site, write_config, mailbox, empty="send")
    monitor(config, "digest", "send", "axis", "--now")
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["Subject"] == "[monitor] axis: nothing new"
    assert "Nothing new" in parts(mailbox.messages[0])[0]
    config = desk_config(site, write_config, mailbox, empty="skip")
    assert "skipped" in monitor(config, "digest", "send", "axis", "--now")
    assert len(mailbox.messages) == 1
    rows = [json.loads(line) for line in monitor(config, "digest", "list", "--json").splitlines()]
    assert [r["status"] for r in rows] == ["skipped", "sent"]
    assert rows[0]["window_start"] == rows[1]["window_end"]  # the next starts where it ended


def test_exactly_once_across_smtp_failure_restart_and_missed_schedule(
    site: Site, write_config: Callable[..., Path], mailbox: Mailbox
) -> None:
    """Hourly digests, a clock the test moves: a refused delivery is retried and sent once;
    a match stamped inside a closed window goes into the next; a missed schedule is sent
    once, at the restart."""
    config = desk_config(site, write_config, mailbox, schedule="0 * * * *", timezone="UTC")
    monitor(config, "run", "--once")
    settings = load_settings(config)
    real = datetime.now(UTC)
    cron = trigger(settings.watchlists[0].digest)  # type: ignore[arg-type]
    first_end = cron.get_next_fire_time(None, real).astimezone(UTC)
    axis = settings.watchlists[0]
    mailbox.refuse = 1

    def sender(store: Store, at: datetime) -> DigestSender:
        return DigestSender(settings, store, clock=lambda: at)

    with Store.open(settings.database_url) as store:
        at = first_end + timedelta(seconds=5)
        row = sender(store, at).open_due(axis, at)
        assert row is not None and row.items == 6
        [(_row, error)] = sender(store, at).send_due()
        assert error is not None and "451" in error and mailbox.messages == []
        assert store.digests.get(row.id).status == "pending"  # type: ignore[union-attr]
        # another worker reaching the same schedule: the database refuses a second window
        assert sender(store, at).open_due(axis, at) is None
        assert store.digests.open_window("axis", row.window_start, at, at, skip_empty=False) is None
        # not due again before its backoff
        assert sender(store, at).send_due() == []
    # a match stamped before the window closed but committed after (a slow transaction):
    # stored now by the pipeline, then stamped back inside the first window
    late_item = (
        "<item><title>Late Soleimani report</title><link>"
        f"{site.base}/herald/late</link><pubDate>Tue, 07 Jan 2020 12:00:00 GMT</pubDate>"
        "<description>Soleimani late.</description></item></channel>"
    )
    herald = site.server.url_for("/herald.rss")
    feed = httpx.get(herald).text.replace("</channel>", late_item)
    site.serve("/herald.rss", feed, "application/rss+xml")
    monitor(config, "run", "--once")
    with Store.open(settings.database_url) as store:
        late = next(i for i in store.items.iter_all() if i.title == "Late Soleimani report")
        _stamp(store, late.id, first_end - timedelta(seconds=1))
    # restart: a new store and sender; the SMTP server accepts now
    with Store.open(settings.database_url) as store:
        at = first_end + timedelta(seconds=7)
        [(_row, error)] = sender(store, at).send_due()
        assert error is None and len(mailbox.messages) == 1
        assert sender(store, at).send_due() == []
        # down through two schedules; at start-up the missed window is sent once
        at = first_end + timedelta(hours=2, minutes=10)
        row = sender(store, at).open_due(axis, at)
        assert row is not None and row.window_start == first_end
        assert row.window_end == first_end + timedelta(hours=2)
        assert sender(store, at).open_due(axis, at) is None
        sender(store, at).send_due()
    assert len(mailbox.messages) == 2
    text = parts(mailbox.messages[1])[0]
    assert "Late Soleimani report" in text and "Crowds mourn" not in text
    assert mailbox.messages[1]["Subject"] == "[monitor] axis: 1 story, 1 matched item"
    assert mailbox.messages[0]["Message-ID"] != mailbox.messages[1]["Message-ID"]
    listed = monitor(config, "digest", "list")
    assert listed.count("sent") >= 2


def _stamp(store: Store, item_id: int, when: datetime) -> None:
    """Set an item's ``matched_at`` back: what a transaction that took long to commit leaves."""
    from sqlalchemy import update

    from monitor.storage.schema import WatchMatch

    with store._sessions.begin() as session:
        session.execute(
            update(WatchMatch).where(WatchMatch.item_id == item_id).values(matched_at=when)
        )


def test_failed_digest_is_listed_and_logged_then_sent(
    site: Site, write_config: Callable[..., Path], mailbox: Mailbox
) -> None:
    config = desk_config(site, write_config, mailbox, fail_after=1)
    monitor(config, "run", "--once")
    mailbox.refuse = 1
    output = monitor(config, "digest", "send", "axis", "--now", code=1)
    assert "NOT sent" in output and "451" in output
    [row] = [json.loads(x) for x in monitor(config, "digest", "list", "--json").splitlines()]
    assert row["status"] == "failed" and row["attempts"] == 1 and "451" in row["last_error"]
    assert "failed" in monitor(config, "digest", "list")
    import time

    time.sleep(1.1)  # its backoff (1 s)
    assert "sent" in monitor(config, "digest", "send", "axis")
    assert len(mailbox.messages) == 1


def test_preview_renders_without_sending(
    site: Site, write_config: Callable[..., Path], mailbox: Mailbox, tmp_path: Path
) -> None:
    config = desk_config(site, write_config, mailbox)
    monitor(config, "run", "--once")
    out = tmp_path / "axis.html"
    text = monitor(config, "digest", "preview", "axis", "--since", "1d", "--html", str(out))
    assert text.startswith("Subject: [monitor] axis: 3 stories")
    assert "Also in: 3 outlets" in text and "<mark" in out.read_text(encoding="utf-8")
    assert mailbox.messages == []
    assert monitor(config, "digest", "list", "--json") == ""


def test_latest_fire_in_the_watchlists_zone() -> None:
    from monitor.config import DigestConfig

    cron = trigger(DigestConfig(to=["a@b.org"], schedule="0 7 * * *", timezone="Asia/Beirut"))
    now = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)  # 08:00 in Beirut
    assert latest_fire(cron, now) == datetime(2026, 1, 10, 5, 0, tzinfo=UTC)
    assert latest_fire(cron, datetime(2026, 1, 10, 5, 0, tzinfo=UTC), strict=True) == datetime(
        2026, 1, 9, 5, 0, tzinfo=UTC
    )
