"""The digest's pure parts: grouping, collapsing, escaping, templates, the message, config."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest

from monitor.config import SmtpSettings, load_settings
from monitor.deliver.digest import DigestItem, Hit, build, clean, highlight, safe_link
from monitor.deliver.mail import build_message, deliver, message_id
from monitor.deliver.render import render
from monitor.errors import ConfigError, NotifyError
from tests.test_digest_browser import sample_items

START = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
END = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)


def test_grouped_by_feed_collapses_copies_under_the_first_outlet() -> None:
    view = build("axis", sample_items()[:-1], START, END, "UTC", group_by="feed")
    names = [g.name for g in view.groups]
    assert names[0] == "Wire Service"  # the widest story's group first
    assert set(names) == {"Wire Service", "Levant Ledger", "Gulf Wire"}  # no Gazette group
    [entry] = view.groups[0].entries
    assert entry.also_in == ("Daily", "Gazette", "Herald") and entry.outlets == 4
    assert view.stories == 3 and view.items == 6


def test_an_item_matching_two_rules_is_listed_under_both() -> None:
    item = DigestItem(
        9,
        "Soleimani and Hormuz",
        "https://x.example/a",
        ("Wire",),
        START,
        START,
        None,
        1,
        (
            Hit(1, "Hormuz", "Hormuz", "a «Hormuz» b"),
            Hit(0, "Soleimani", "Soleimani", "«Soleimani»"),
        ),
    )
    view = build("axis", [item], START, END, "UTC")
    assert sorted(g.name for g in view.groups) == ["Hormuz", "Soleimani"]
    assert view.stories == 1 and view.subject == "[monitor] axis: 1 story, 1 matched item"


def test_feed_text_is_made_plain_and_links_only_http() -> None:
    assert clean("a\x1b[31mb\r\nBcc: x@y\u202ez") == "a [31mb Bcc: x@y z"
    assert safe_link("javascript:alert(1)") is None
    assert safe_link("data:text/html,x") is None
    assert safe_link("https://a.example/x y") is None
    assert safe_link("HTTPS://a.example/x?y=1&z=2") == "HTTPS://a.example/x?y=1&z=2"
    assert highlight("before «Match» after", "match") == ("before ", "Match", " after")
    assert highlight("no marks: Match here", "match") == ("no marks: ", "Match", " here")


def test_html_escapes_everything_from_a_feed_and_text_part_has_it_plain() -> None:
    rendered = render(build("axis", sample_items(), START, END, "Asia/Beirut"))
    assert "<script>" not in rendered.html and "<img" not in rendered.html
    assert "&lt;script&gt;window.pwned=2&lt;/script&gt;" in rendered.html
    assert "javascript:" not in rendered.html
    assert "<script>window.pwned=2</script>" in rendered.text  # plain text: shown as written


def test_user_templates_override_the_shipped_ones(tmp_path: Path) -> None:
    (tmp_path / "digest.txt").write_text("Custom {{ d.watchlist }}: {{ d.stories }}\n")
    rendered = render(build("axis", sample_items(), START, END, "UTC"), str(tmp_path))
    assert rendered.text == "Custom axis: 4\n"
    assert "<mark" in rendered.html  # the HTML one is still the shipped template
    (tmp_path / "digest.html").write_text("{{ d.groups[0].entries[1].title }} {{ nope }}")
    with pytest.raises(NotifyError, match=r"digest\.html"):
        render(build("axis", sample_items(), START, END, "UTC"), str(tmp_path))
    (tmp_path / "digest.html").write_text("{{ d.groups[0].entries[1].title }}")
    html = render(build("axis", sample_items(), START, END, "UTC"), str(tmp_path)).html
    assert html.startswith("&lt;img")  # autoescape applies to user templates too


def test_message_headers_cannot_be_injected(tmp_path: Path) -> None:
    rendered = render(build("ax\r\nBcc: evil@x.example", sample_items(), START, END, "UTC"))
    msg_id = message_id(3, "ax\r\nis", START, "Monitor <m@example.org>")
    message = build_message(
        rendered,
        'Mon\r\nBcc: e@x.example "itor" <m@example.org>',
        ["a@example.org"],
        msg_id=msg_id,
        date=END,
    )
    smtp = SmtpSettings.model_validate({"output": str(tmp_path / "mail"), "from": "m@x.org"})
    deliver(message, smtp, ["a@example.org"], {})
    [stored] = list((tmp_path / "mail" / "new").iterdir())
    parsed = email.message_from_bytes(stored.read_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "[monitor] ax Bcc: evil@x.example: 4 stories, 7 matched items"
    assert parsed["Message-ID"] == "<digest-3-ax-is-20261201T050000@example.org>"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_smtp_without_password_in_the_environment_is_refused() -> None:
    smtp = SmtpSettings.model_validate(
        {"host": "127.0.0.1", "port": 1, "username": "u", "password_env": "PW", "from": "m@x.org"}
    )
    rendered = render(build("axis", [], START, END, "UTC"))
    message = build_message(rendered, "m@x.org", ["a@x.org"], msg_id="<a@b>", date=END)
    with pytest.raises(NotifyError, match="environment variable PW"):
        deliver(message, smtp, ["a@x.org"], {})
    with pytest.raises(NotifyError, match="cannot deliver"):
        deliver(message, smtp.model_copy(update={"username": None}), ["a@x.org"], {})


def test_bad_cron_zone_and_smtp_are_config_errors_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "smtp:\n  port: 25\n  from: m@x.org\n"
        "watchlists:\n  - name: axis\n    rules: [x]\n    digest:\n      to: [a@x.org]\n"
        "      schedule: '0 25 * * *'\n      timezone: Asia/Bejrut\n"
        "  - name: old\n    rules: [y]\n    recipients: [not-an-address]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:1: smtp") and "host:" in p for p in problems), problems
    assert any(f"{path}:9:" in p and "cron" in p for p in problems), problems
    assert any(f"{path}:10:" in p and "Asia/Beirut" in p for p in problems), problems
    assert any(f"{path}:13:" in p and "e-mail address" in p for p in problems), problems


def test_recipients_without_a_digest_block_mean_a_daily_digest(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("watchlists:\n  - name: axis\n    rules: [x]\n    recipients: [a@x.org]\n")
    [watchlist] = load_settings(path, env={}).watchlists
    assert watchlist.digest is not None
    assert watchlist.digest.to == ["a@x.org"] and watchlist.digest.schedule == "0 7 * * *"
