"""``monitor matches list / show / review`` and the review marks of ``monitor digest
preview``, over items stored by ``monitor run --once`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.storage import Store
from tests.conftest import Site
from tests.digestdesk import Mailbox
from tests.test_digest import desk_config, mailbox, parts
from tests.test_match_summaries import FUNERAL, SEED, WATCHLISTS, feeds, item_id, monitor

__all__ = ["mailbox"]  # the fixture, imported for the digest tests
runner = CliRunner()
TITLE = "Palestinian delegation joins crowds mourning Soleimani in Tehran"


def invoke(config: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(config), *args], env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def table_rows(screen: str) -> list[list[str]]:
    """The cells of each table line that starts a row (its first cell not empty)."""
    rows = []
    for line in screen.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.split("│")[1:-1]]
            if cells and cells[0]:
                rows.append(cells)
    return rows


def polled(site: Site, write_config: Callable[..., Path]) -> Path:
    config = write_config(feeds(site), watchlists=[SEED, *WATCHLISTS])
    monitor(config, "run", "--once")
    return config


def test_list_prints_one_row_per_item_with_title_rules_hits_and_snippet(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = polled(site, write_config)
    screen = monitor(config, "matches", "list", "--watchlist", "Iran and its allies")
    with Store.open(load_settings(config).database_url) as store:
        funeral = item_id(store, FUNERAL)
        hits = store.matches.hits(funeral, "Iran and its allies")
    rows = [cells for cells in table_rows(screen) if cells[0] == str(funeral)]
    assert len(rows) == 1  # one row, not one per hit
    assert rows[0][6] == str(len(hits)) and rows[0][7] == "open"
    assert TITLE.split(" in ")[0] in screen and "Levant Ledger" in screen
    assert "«" not in screen  # the hits are styled, not marked
    every = monitor(config, "matches", "list", "--watchlist", "Iran and its allies", "--hits")
    assert sum(1 for cells in table_rows(every) if cells[0] == str(funeral)) == len(hits)
    assert "«" in every  # the stored snippets, as before


def test_list_json_filters_and_hits(site: Site, write_config: Callable[..., Path]) -> None:
    config = polled(site, write_config)
    records = [json.loads(x) for x in monitor(config, "matches", "list", "--json").splitlines()]
    keys = {(r["item_id"], r["watchlist"]) for r in records}
    assert len(keys) == len(records)  # one object per item and watchlist
    funeral = next(r for r in records if r["watchlist"] == "Iran and its allies")
    assert funeral["title"] == TITLE and funeral["hits"] > 10 and funeral["state"] == "open"
    assert funeral["snippet"] == TITLE and funeral["feeds"] == ["Levant Ledger"]
    assert all(funeral["snippet"][a:b] for a, b in funeral["spans"])
    gulf = [
        json.loads(x)
        for x in monitor(config, "matches", "list", "--json", "--tag", "gulf").splitlines()
    ]
    assert gulf and all("Gulf Wire" in r["feeds"] for r in gulf)
    levant = monitor(config, "matches", "list", "--json", "--feed", "Levant Ledger", "-n", "2")
    assert len(levant.splitlines()) == 2
    none = monitor(config, "matches", "list", "--json", "--language", "fr", "--since", "1d")
    assert none == ""
    hits = [
        json.loads(x)
        for x in monitor(config, "matches", "list", "--json", "--hits", "-w", "Hamas").splitlines()
    ]
    assert hits and {h["watchlist"] for h in hits} == {"Hamas"}
    assert {"rule", "matched", "start", "end", "snippet", "matched_at"} <= hits[0].keys()
    assert len(hits) == sum(r["hits"] for r in records if r["watchlist"] == "Hamas")


def test_list_refuses_bad_filters_with_exit_2(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = polled(site, write_config)
    code, _, err = invoke(config, "matches", "list", "--review", "unread")
    assert code == 2 and "use one of all, open, reviewed, dismissed" in err
    code, _, err = invoke(config, "matches", "list", "--watchlist", "Nope")
    assert code == 2 and "no watchlist named 'Nope'" in err
    code, _, err = invoke(config, "matches", "list", "--since", "soon")
    assert code == 2


def test_review_show_and_the_review_filter(site: Site, write_config: Callable[..., Path]) -> None:
    config = polled(site, write_config)
    with Store.open(load_settings(config).database_url) as store:
        funeral = item_id(store, FUNERAL)
    me = getpass.getuser()
    said = monitor(config, "matches", "review", str(funeral), "-w", "Hamas", "--note", "for ops")
    assert f"reviewed by {me} (for ops)" in said
    reviewed = monitor(config, "matches", "list", "--json", "--review", "reviewed").splitlines()
    assert [(json.loads(x)["item_id"], json.loads(x)["watchlist"]) for x in reviewed] == [
        (funeral, "Hamas")
    ]
    assert json.loads(reviewed[0])["review"]["by"] == me
    monitor(config, "matches", "review", str(funeral), "-w", "Hamas", "--dismiss")
    opened = monitor(config, "matches", "list", "--json", "--review", "open")
    assert (funeral, "Hamas") not in {
        (json.loads(x)["item_id"], json.loads(x)["watchlist"]) for x in opened.splitlines()
    }
    screen = monitor(config, "matches", "list", "-w", "Hamas")
    assert f"dismissed by {me}" in screen
    shown = monitor(config, "matches", "show", str(funeral), "--watchlist", "Hamas")
    assert TITLE in shown and "Hamas" in shown
    assert f"review: dismissed by {me} — for ops" in shown  # the note was kept
    assert f"reviewed by {me}: for ops" in shown  # and the history
    monitor(config, "matches", "review", str(funeral), "-w", "Hamas", "--reopen")
    shown = monitor(config, "matches", "show", str(funeral))
    assert "Iran and its allies" in shown and "review: open" in shown
    lines = monitor(config, "matches", "show", str(funeral), "--json", "-w", "Hamas")
    assert {json.loads(x)["watchlist"] for x in lines.splitlines()} == {"Hamas"}


def test_review_and_show_errors(site: Site, write_config: Callable[..., Path]) -> None:
    config = polled(site, write_config)
    with Store.open(load_settings(config).database_url) as store:
        funeral = item_id(store, FUNERAL)
    code, _, err = invoke(config, "matches", "review", "999999", "-w", "Hamas")
    assert code == 2 and "item 999999 has no match in watchlist 'Hamas'" in err
    code, _, err = invoke(config, "matches", "review", str(funeral), "-w", "Nope")
    assert code == 2 and "no watchlist named 'Nope'" in err
    code, _, err = invoke(config, "matches", "review", str(funeral), "-w", "Hamas", "--dismiss",
                          "--reopen")  # fmt: skip
    assert code == 2 and "do not go together" in err
    code, _, err = invoke(config, "matches", "review", str(funeral))
    assert code == 2 and "--watchlist" in err
    code, _, err = invoke(config, "matches", "show", "999999")
    assert code == 2 and "no item 999999" in err


def test_digest_preview_marks_reviewed_items_and_the_sent_digest_is_unchanged(
    site: Site, write_config: Callable[..., Path], mailbox: Mailbox, tmp_path: Path
) -> None:
    config = desk_config(site, write_config, mailbox)
    monitor(config, "run", "--once")
    before = monitor(config, "digest", "preview", "axis", "--since", "1d")
    assert "[reviewed by" not in before
    record = json.loads(monitor(config, "matches", "list", "--json", "-w", "axis").splitlines()[0])
    monitor(config, "matches", "review", str(record["item_id"]), "-w", "axis")
    html = tmp_path / "axis.html"
    after = monitor(config, "digest", "preview", "axis", "--since", "1d", "--html", str(html))
    me = getpass.getuser()
    assert after.count(f"[reviewed by {me}]") >= 1

    def steady(text: str) -> list[str]:  # the period's end is "now": it moves
        return [line for line in text.splitlines() if not line.startswith("Matches from")]

    assert steady(after.replace(f" [reviewed by {me}]", "")) == steady(before)  # only marked
    assert f">reviewed by {me}</span>" in html.read_text(encoding="utf-8")
    monitor(config, "digest", "send", "axis", "--now")
    text, body = parts(mailbox.messages[0])
    assert "reviewed by" not in text and "reviewed by" not in body
    assert mailbox.messages[0]["Subject"] == before.splitlines()[0].removeprefix("Subject: ")


def test_digest_build_marks_a_story_when_any_copy_was_reviewed() -> None:
    from datetime import UTC, datetime, timedelta

    from monitor.deliver.digest import DigestItem, Hit, build, review_label

    at = datetime(2026, 1, 5, 8, tzinfo=UTC)
    hit = Hit(0, "Soleimani", "Soleimani", "… «Soleimani» …")

    def item(item_id: int, feed: str, cluster: int | None, minutes: int) -> DigestItem:
        when = at + timedelta(minutes=minutes)
        return DigestItem(item_id, f"Story {item_id}", f"https://x.example/{item_id}", (feed,),
                          when, when, cluster, 1, (hit,))  # fmt: skip

    items = [item(1, "A", 1, 0), item(2, "B", 1, 5), item(3, "C", None, 10)]
    plain = build("w", items, at, at + timedelta(1), "UTC")
    marked = build(
        "w", items, at, at + timedelta(1), "UTC", reviews={2: review_label("dismissed", "bo\x1b")}
    )
    entries = {e.title: e for g in marked.groups for e in g.entries}
    assert entries["Story 1"].review == "dismissed by bo"  # a copy was triaged; controls gone
    assert entries["Story 3"].review == ""
    assert [e.title for g in plain.groups for e in g.entries] == list(entries)
    assert (plain.stories, plain.items, plain.subject) == (
        marked.stories,
        marked.items,
        marked.subject,
    )
