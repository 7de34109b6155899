"""The ``monitor`` command line, in process, against a real loopback site and real databases."""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import typer.main
from typer.testing import CliRunner, Result

from monitor.cli import app
from monitor.config import load_settings
from monitor.storage import Store
from monitor.storage.engine import head_revision
from tests.conftest import FIXTURES, Site

REPO = Path(__file__).resolve().parents[1]
OPML = FIXTURES / "opml" / "subscriptions.opml"
OPML_URLS = {
    "https://www.theguardian.com/world/rss",
    "https://feeds.bbci.co.uk/news/world/middle_east/rss.xml",
    "https://www.aljazeera.com/xml/rss/all.xml",
}
runner = CliRunner()


# -- helpers ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own MONITOR_* variables must not steer these tests."""
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)


def invoke(config: Path | None, *args: str) -> Result:
    """``monitor [--config CONFIG] ARGS``; a wide console keeps each table row on one line."""
    argv = ["--config", str(config), *args] if config else list(args)
    return runner.invoke(app, argv, catch_exceptions=False, env={"COLUMNS": "250"})


def ok(config: Path | None, *args: str) -> str:
    result = invoke(config, *args)
    assert result.exit_code == 0, result.output
    return result.output


def sqlite_config(directory: Path, feeds: list[dict[str, Any]], **extra: Any) -> Path:
    """A feeds.yaml with an SQLite database next to it (for tests that do not need both DBs)."""
    data: dict[str, Any] = {
        "database": "sqlite:///monitor.db",
        "extract": {"workers": 1, "keep_raw_html": True},
        "defaults": {"interval": "15m", "language": "en", "allow_private": True},
        "feeds": feeds,
    }
    data.update(extra)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "feeds.yaml"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def levant(site: Site) -> dict[str, Any]:
    return {"name": "Levant Ledger", "url": site.url("/feed/"), "tags": ["levant"]}


def gulf(site: Site) -> dict[str, Any]:
    return {"name": "Gulf Wire", "url": site.url("/gulf/feed.atom")}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.rss"


def files_under(directory: Path) -> set[Path]:
    return {p.relative_to(directory) for p in directory.rglob("*")}


def exported(config: Path, *args: str) -> list[dict[str, Any]]:
    output = invoke(config, "items", "export", "--format", "jsonl", *args).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def item_id(config: Path, url: str) -> int:
    rows = [r for r in exported(config) if r["canonical_url"] == url]
    assert len(rows) == 1, rows
    return int(rows[0]["id"])


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every command and group of the tree, as the words one types after ``monitor``."""

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


@pytest.fixture
def ran(site: Site, write_config: Callable[..., Path]) -> Path:
    """A config (SQLite and PostgreSQL) whose two feeds have been polled once.

    Levant Ledger is polled first: the story both feeds carry keeps the title of the
    feed that brought it first (the feed's title is the cheapest reliable source), so
    polled together the two feeds would race for it."""
    ok(write_config([levant(site)]), "run", "--once")
    config = write_config([levant(site), gulf(site)])
    ok(config, "run", "--once")
    return config


# -- help ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda p: " ".join(p) or "monitor")
def test_every_command_has_an_example_in_its_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"monitor {' '.join(path)} --help:\n{result.output}"


def test_command_tree_is_complete() -> None:
    assert set(command_paths()) >= {
        ("check",),
        ("run",),
        ("feeds", "list"),
        ("feeds", "import-opml"),
        ("feeds", "export-opml"),
        ("items", "list"),
        ("items", "show"),
        ("items", "export"),
        ("items", "reextract"),
        ("db", "current"),
        ("db", "upgrade"),
        ("db", "downgrade"),
    }


# -- check and bad configurations ---------------------------------------------------------


BAD_URL_CONFIG = """\
# a feed with a typo in its URL scheme
feeds:
  - name: Levant Ledger
    url: htps://levant.example/feed/
"""


def bad_config(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "feeds.yaml"
    path.write_text(BAD_URL_CONFIG, encoding="utf-8")
    return path


def test_check_accepts_a_good_config(tmp_path: Path) -> None:
    config = sqlite_config(tmp_path, [{"name": "A", "url": "https://a.example/feed"}])
    output = ok(config, "check")
    assert "ok" in output and "1 feeds" in output
    assert str(tmp_path / "monitor.db") in output


def test_check_accepts_the_repository_config(tmp_path: Path) -> None:
    output = ok(REPO / "feeds.yaml", "check")
    assert "14 feeds, 1 watchlists" in output


def test_check_refuses_a_bad_config_with_file_and_line(tmp_path: Path) -> None:
    config = bad_config(tmp_path)
    result = invoke(config, "check")
    assert result.exit_code == 2, result.output
    assert f"{config}:4: feeds[0] (Levant Ledger).url: expected an http://" in result.output
    assert files_under(tmp_path) == {Path("feeds.yaml")}  # no database file


def test_check_reports_invalid_yaml_with_line_and_column(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - name: A\n    url: https://a.example/feed: x\n")
    result = invoke(config, "check")
    assert result.exit_code == 2
    assert f"{config}:3:32: invalid YAML" in result.output


def test_check_on_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = invoke(tmp_path / "nowhere.yaml", "check")
    assert result.exit_code == 2
    assert "no such file" in result.output
    assert files_under(tmp_path) == set()


def test_run_once_with_a_bad_config_creates_nothing(tmp_path: Path, site: Site) -> None:
    config = sqlite_config(tmp_path, [levant(site), {"name": "X", "url": site.url("/x")}])
    config.write_text(config.read_text().replace('"15m"', '"soon"'), encoding="utf-8")
    result = invoke(config, "run", "--once")
    assert result.exit_code == 2, result.output
    assert f"{config}:" in result.output and "defaults.interval" in result.output
    assert files_under(tmp_path) == {Path("feeds.yaml")}
    assert site.hits == {}


# -- --config on every command ----------------------------------------------------------

EVERY_COMMAND: list[tuple[list[str], int, str]] = [
    (["check"], 0, "ok"),
    (["run", "--once"], 0, "feeds: 0 ok, 0 failed"),
    (["feeds", "list"], 0, "0 feeds"),
    (["feeds", "import-opml", str(OPML)], 0, "added 3 feeds"),
    (["feeds", "export-opml"], 0, "<opml"),
    (["items", "list"], 0, "0 items"),
    (["items", "show", "1"], 2, "no item with id 1"),
    (["items", "export"], 0, ""),
    (["items", "reextract", "--all"], 0, "re-extracted 0 items"),
    (["db", "current"], 0, "empty"),
    (["db", "upgrade"], 0, "schema at"),
    (["db", "downgrade", "base"], 0, "schema at"),
]


@pytest.mark.parametrize(
    ("args", "code", "expect"), EVERY_COMMAND, ids=[" ".join(a[:2]) for a, _, _ in EVERY_COMMAND]
)
def test_config_option_is_honoured_by_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, expect: str
) -> None:
    """The working directory holds a broken feeds.yaml; --config points elsewhere."""
    bad_config(tmp_path / "cwd")
    monkeypatch.chdir(tmp_path / "cwd")
    config = sqlite_config(tmp_path / "conf", [])
    result = invoke(config, *args)
    assert result.exit_code == code, result.output
    assert expect in result.output
    assert "cwd" not in result.output
    assert files_under(tmp_path / "cwd") == {Path("feeds.yaml")}


def test_short_config_option_and_environment(tmp_path: Path) -> None:
    config = sqlite_config(tmp_path, [{"name": "A", "url": "https://a.example/feed"}])
    result = runner.invoke(app, ["-c", str(config), "check"], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "1 feeds" in result.output, result.output
    env = {"MONITOR_CONFIG": str(config), "COLUMNS": "250"}
    result = runner.invoke(app, ["check"], env=env)
    assert result.exit_code == 0 and "1 feeds" in result.output, result.output


# -- run --once -------------------------------------------------------------------------


def test_run_once_survives_broken_feeds(site: Site, write_config: Callable[..., Path]) -> None:
    config = write_config(
        [
            levant(site),
            {"name": "Gone", "url": site.url("/missing/feed.rss")},
            {"name": "Not a feed", "url": site.url("/not-a-feed/")},
            {"name": "Refused", "url": closed_port_url()},
        ]
    )
    result = invoke(config, "run", "--once")
    assert result.exit_code == 0, result.output
    summary = result.stdout
    assert "feeds: 1 ok, 3 failed" in summary
    assert "items: 3 new" in summary
    rows = {line.split("│")[1].strip(): line for line in summary.splitlines() if "│" in line}
    assert "HTTP 404" in rows["Gone"]
    assert "not a" in rows["Not a feed"] and "feed" in rows["Not a feed"]
    assert "cannot connect" in rows["Refused"]
    assert rows["Levant Ledger"].split("│")[2].strip() == "ok"
    with Store.open(load_settings(config).database_url) as store:
        urls = {i.canonical_url for i in store.items.iter_all()}
    assert urls == {
        site.url("/2020/01/07/funeral-report/"),
        site.url("/2020/01/08/second-story/"),
        site.url("/2020/01/09/third-story/"),
    }


def test_run_summary_keeps_every_column_on_an_80_column_terminal(
    site: Site, tmp_path: Path
) -> None:
    """Long errors wrap in their cell; the counts never collapse out of sight."""
    feeds = [levant(site), {"name": "Refused", "url": closed_port_url() + "/a/long/path.xml"}]
    config = sqlite_config(tmp_path, feeds)
    result = runner.invoke(app, ["--config", str(config), "run", "--once"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "feed" in line and "result" in line)
    for column in ("entries", "new", "seen", "no full text", "time"):
        assert column in header
    assert all(len(line) <= 80 for line in lines)
    levant_row = next(line for line in lines if "Levant Ledger" in line)
    assert [cell.strip() for cell in levant_row.split("│")[3:5]] == ["3", "3"]


def test_run_once_exits_1_when_every_feed_fails(site: Site, tmp_path: Path) -> None:
    config = sqlite_config(tmp_path, [{"name": "Gone", "url": site.url("/missing/feed.rss")}])
    result = invoke(config, "run", "--once")
    assert result.exit_code == 1, result.output
    assert "feeds: 0 ok, 1 failed" in result.output


def test_run_once_with_an_unknown_feed_name_exits_2(site: Site, tmp_path: Path) -> None:
    config = sqlite_config(tmp_path, [levant(site)])
    result = invoke(config, "run", "--once", "--feed", "Nope")
    assert result.exit_code == 2
    assert "no feed named 'Nope'" in result.output
    assert site.hits == {}


# -- feeds list -------------------------------------------------------------------------


def table_rows(output: str) -> dict[str, list[str]]:
    """A rich table's rows by their first cell."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0]:
            rows[cells[0]] = cells
    return rows


def test_feeds_list_shows_health_after_a_run(site: Site, write_config: Callable[..., Path]) -> None:
    config = write_config([levant(site), {"name": "Gone", "url": site.url("/missing/feed.rss")}])
    before = table_rows(ok(config, "feeds", "list"))
    assert before["Levant Ledger"][1] == "never polled"
    assert before["Levant Ledger"][3] == "0"
    ok(config, "run", "--once")
    output = ok(config, "feeds", "list")
    assert "2 feeds" in output
    rows = table_rows(output)
    # feed, last result, fails, items, last fetched, last ok, next
    assert rows["Levant Ledger"][1:4] == ["ok", "0", "3"]
    assert rows["Levant Ledger"][5] != "-"
    assert rows["Gone"][1].startswith("hard") and "HTTP 404" in rows["Gone"][1]
    assert rows["Gone"][2:4] == ["1", "0"]
    assert rows["Gone"][5] == "-"


def test_feeds_list_all_shows_removed_feeds(site: Site, tmp_path: Path) -> None:
    config = sqlite_config(tmp_path, [levant(site), gulf(site)])
    ok(config, "feeds", "list")
    sqlite_config(tmp_path, [levant(site)])
    assert "Gulf Wire" not in ok(config, "feeds", "list")
    assert "Gulf Wire (removed)" in ok(config, "feeds", "list", "--all")


# -- items ------------------------------------------------------------------------------


def listed_titles(config: Path, *args: str) -> set[str]:
    return {row[2] for row in table_rows(ok(config, "items", "list", *args)).values()}


THIRD = "Beirut deputies spar over rescue plan as banks tighten limits"
OIL = "OPEC delegates weigh deeper cuts as prices swing"
SECOND = "Egypt and Qatar press factions to extend Gaza truce"
FUNERAL = "Palestinian delegation joins crowds mourning Soleimani in Tehran"


def test_items_list(ran: Path) -> None:
    output = ok(ran, "items", "list")
    assert "4 items" in output
    assert listed_titles(ran) == {THIRD, OIL, SECOND, FUNERAL}
    titles = [row[2] for row in table_rows(output).values()]
    assert titles == [THIRD, OIL, SECOND, FUNERAL]  # newest first


def test_items_list_by_feed(ran: Path) -> None:
    assert listed_titles(ran, "--feed", "Gulf Wire") == {OIL, SECOND}
    assert listed_titles(ran, "--feed", "Levant Ledger") == {THIRD, SECOND, FUNERAL}
    result = invoke(ran, "items", "list", "--feed", "Nope")
    assert result.exit_code == 2
    assert "no feed named 'Nope'" in result.output


def test_items_list_since(ran: Path) -> None:
    assert listed_titles(ran, "--since", "2020-01-08") == {THIRD, OIL, SECOND}
    assert listed_titles(ran, "--since", "2020-01-09T12:00:00") == {THIRD}
    assert listed_titles(ran, "--since", "2020-01-09T14:00:00+02:00") == {THIRD}
    assert "0 items" in ok(ran, "items", "list", "--since", "3d")
    assert listed_titles(ran, "--since", "2020-01-08", "--feed", "Levant Ledger") == {
        THIRD,
        SECOND,
    }
    assert len(listed_titles(ran, "--limit", "2")) == 2


@pytest.mark.parametrize("command", [["items", "list"], ["items", "export"]])
@pytest.mark.parametrize("since", ["2020-01-08", "3d", "12h", "2020-01-08T10:00:00Z"])
def test_since_accepts_dates_and_ages(tmp_path: Path, command: list[str], since: str) -> None:
    config = sqlite_config(tmp_path, [])
    ok(config, *command, "--since", since)


@pytest.mark.parametrize("command", [["items", "list"], ["items", "export"]])
@pytest.mark.parametrize("since", ["yesterday", "2020-13-45", "3 days"])
def test_since_refuses_other_words(tmp_path: Path, command: list[str], since: str) -> None:
    config = sqlite_config(tmp_path, [])
    result = invoke(config, *command, "--since", since)
    assert result.exit_code == 2, result.output
    assert since in result.output


def test_items_show(ran: Path, site: Site) -> None:
    funeral = item_id(ran, site.url("/2020/01/07/funeral-report/"))
    output = ok(ran, "items", "show", str(funeral))
    expected = json.loads((FIXTURES / "pages" / "funeral-report.expected.json").read_text())
    assert f"item {funeral}" in output
    assert FUNERAL in output
    assert "via trafilatura" in output
    lines = {line.split()[1]: line for line in output.splitlines() if line.startswith("│ ")}
    assert lines["title"].rstrip(" │").endswith(")"), lines["title"]  # the field's source
    assert "(" in lines["author"] and expected["author"] in lines["author"]
    flat = " ".join(output.split())
    for paragraph in expected["body_paragraphs"]:
        assert " ".join(paragraph.split()) in flat


def test_items_show_feed_content_source(ran: Path, site: Site) -> None:
    output = ok(ran, "items", "show", str(item_id(ran, site.url("/gulf/oil-talks/"))))
    assert "via feed-content" in output
    assert "(feed_content)" in output and "(feed)" in output
    assert "HTTP 404" in output  # the page problem is shown


def test_items_show_unknown_id_exits_2(ran: Path) -> None:
    result = invoke(ran, "items", "show", "999999")
    assert result.exit_code == 2
    assert "no item with id 999999" in result.output


EXPORT_FIELDS = {
    "id",
    "url",
    "canonical_url",
    "title",
    "author",
    "published_at",
    "feeds",
    "language",
    "text",
}


def test_items_export_jsonl(ran: Path, site: Site) -> None:
    rows = exported(ran)
    assert len(rows) == 4
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)  # oldest first
    for row in rows:
        assert row.keys() >= EXPORT_FIELDS, row.keys()
        assert row["text"] and row["language"] == "en"
    second = next(r for r in rows if r["title"] == SECOND)
    assert second["canonical_url"] == site.url("/2020/01/08/second-story/")
    assert set(second["feeds"]) == {"Levant Ledger", "Gulf Wire"}
    assert second["published_at"].startswith("2020-01-08T08:15")
    funeral = next(r for r in rows if r["title"] == FUNERAL)
    assert "utm_" in funeral["url"] and "utm_" not in funeral["canonical_url"]
    assert {r["title"] for r in exported(ran, "--since", "2020-01-09")} == {THIRD, OIL}
    assert {r["title"] for r in exported(ran, "--feed", "Gulf Wire")} == {OIL, SECOND}


def test_items_export_csv(ran: Path, tmp_path: Path) -> None:
    result = invoke(ran, "items", "export", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4
    assert set(rows[0]) >= EXPORT_FIELDS, rows[0].keys()
    by_title = {r["title"]: r for r in rows}
    assert set(by_title[SECOND]["feeds"].split("; ")) == {"Levant Ledger", "Gulf Wire"}
    assert "\n" in by_title[FUNERAL]["text"]  # multi-line text survives quoting
    jsonl = {r["id"]: r for r in exported(ran)}
    for row in rows:
        assert row["text"] == jsonl[int(row["id"])]["text"]


def test_items_export_to_a_file(ran: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    result = invoke(ran, "items", "export", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert f"wrote 4 items to {target}" in result.output
    assert len(target.read_text(encoding="utf-8").splitlines()) == 4


def test_items_reextract_all(site: Site, write_config: Callable[..., Path]) -> None:
    config = write_config([levant(site), gulf(site)])
    ok(config, "run", "--once")
    before = {r["id"]: r for r in exported(config)}
    assert "re-extracted 3 items, 0 changed" in ok(config, "items", "reextract", "--all")
    after = {r["id"]: r for r in exported(config)}
    assert {i: r["text"] for i, r in after.items()} == {i: r["text"] for i, r in before.items()}
    assert "re-extracted 0 items" in ok(config, "items", "reextract")  # all current
    one = item_id(config, site.url("/2020/01/09/third-story/"))
    assert "re-extracted 1 items" in ok(config, "items", "reextract", str(one))


def test_items_reextract_without_stored_pages(site: Site, tmp_path: Path) -> None:
    config = sqlite_config(tmp_path, [levant(site)], extract={"workers": 1, "keep_raw_html": False})
    ok(config, "run", "--once")
    assert "re-extracted 0 items" in ok(config, "items", "reextract", "--all")


# -- OPML -------------------------------------------------------------------------------

COMMENTED_CONFIG = """\
# Desk feeds: keep this comment
database: sqlite:///monitor.db

defaults:
  interval: 30m  # poll every half hour

feeds:
  # -- existing --------------------------------------------------------------
  - name: Levant Ledger
    url: https://levant.example/feed/
    tags: [levant]  # our own outlet
  - name: Guardian (already here)
    url: https://www.theguardian.com/world/rss
"""


def commented_config(directory: Path) -> Path:
    path = directory / "feeds.yaml"
    path.write_text(COMMENTED_CONFIG, encoding="utf-8")
    return path


def test_import_opml_keeps_comments_and_feeds(tmp_path: Path) -> None:
    config = commented_config(tmp_path)
    output = ok(config, "feeds", "import-opml", str(OPML))
    assert "added 2 feeds, skipped 1 already listed" in output
    text = config.read_text(encoding="utf-8")
    for comment in (
        "# Desk feeds: keep this comment",
        "# poll every half hour",
        "# -- existing ----",
        "# our own outlet",
    ):
        assert comment in text, text
    settings = load_settings(config, env={})
    feeds = {f.name: f for f in settings.feeds}
    assert list(feeds) == [
        "Levant Ledger",
        "Guardian (already here)",
        "BBC News - Middle East",
        "Al Jazeera English",
    ]
    assert feeds["Levant Ledger"].tags == ("levant",)
    assert feeds["BBC News - Middle East"].tags == ("middle-east",)
    assert feeds["Al Jazeera English"].tags == ()
    assert {f.url for f in settings.feeds} >= OPML_URLS
    assert feeds["BBC News - Middle East"].interval == 1800  # defaults still apply
    assert files_under(tmp_path) == {Path("feeds.yaml")}


def test_import_opml_twice_adds_nothing(tmp_path: Path) -> None:
    config = commented_config(tmp_path)
    ok(config, "feeds", "import-opml", str(OPML))
    first = config.read_text(encoding="utf-8")
    output = ok(config, "feeds", "import-opml", str(OPML))
    assert "added 0 feeds, skipped 3 already listed" in output
    assert config.read_text(encoding="utf-8") == first
    assert len(load_settings(config, env={}).feeds) == 4


def test_import_opml_keeps_every_line_of_the_repository_config(tmp_path: Path) -> None:
    """Importing only appends: no existing line is re-wrapped or re-indented."""
    config = tmp_path / "feeds.yaml"
    original = (REPO / "feeds.yaml").read_text(encoding="utf-8")
    config.write_text(original, encoding="utf-8")
    opml = tmp_path / "new.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline text="Desk">'
        '<outline text="New Wire" xmlUrl="https://new.example/rss"/></outline></body></opml>',
        encoding="utf-8",
    )
    assert "added 1 feeds" in ok(config, "feeds", "import-opml", str(opml))
    lines = iter(config.read_text(encoding="utf-8").splitlines())
    missing = [line for line in original.splitlines() if line not in lines]
    assert missing == [], "lines changed or lost by the import"
    settings = load_settings(config, env={})
    assert settings.feeds[-1].url == "https://new.example/rss"
    assert settings.feeds[-1].tags == ("desk",)
    assert len(settings.watchlists) == 1


def test_import_opml_into_a_comment_only_config_keeps_the_comment(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("# empty for now\n", encoding="utf-8")
    assert "added 3 feeds" in ok(config, "feeds", "import-opml", str(OPML))
    assert "# empty for now" in config.read_text(encoding="utf-8")
    assert {f.url for f in load_settings(config, env={}).feeds} == OPML_URLS


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<opml version='2.0'><body><outline xmlUrl='x'", "not well-formed XML"),
        (b"<rss version='2.0'><channel/></rss>", "expected <opml>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (b"this is not xml at all", "not well-formed XML"),
    ],
    ids=["truncated", "rss", "no-body", "text"],
)
def test_import_malformed_opml_exits_2(tmp_path: Path, document: bytes, message: str) -> None:
    config = commented_config(tmp_path)
    opml = tmp_path / "bad.opml"
    opml.write_bytes(document)
    result = invoke(config, "feeds", "import-opml", str(opml))
    assert result.exit_code == 2, result.output
    assert str(opml) in result.output and message in result.output
    assert config.read_text(encoding="utf-8") == COMMENTED_CONFIG


def test_import_opml_missing_file_exits_2(tmp_path: Path) -> None:
    config = commented_config(tmp_path)
    result = invoke(config, "feeds", "import-opml", str(tmp_path / "absent.opml"))
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_import_opml_refuses_a_bad_config(tmp_path: Path) -> None:
    config = bad_config(tmp_path)
    result = invoke(config, "feeds", "import-opml", str(OPML))
    assert result.exit_code == 2
    assert config.read_text(encoding="utf-8") == BAD_URL_CONFIG


def opml_urls(document: str) -> list[str]:
    root = ET.fromstring(document)
    assert root.tag == "opml"
    return [o.attrib["xmlUrl"] for o in root.iter("outline") if "xmlUrl" in o.attrib]


def test_export_opml_lists_every_feed() -> None:
    result = invoke(REPO / "feeds.yaml", "feeds", "export-opml")
    assert result.exit_code == 0, result.output
    settings = load_settings(REPO / "feeds.yaml", env={})
    urls = opml_urls(result.stdout)
    assert sorted(urls) == sorted(f.url for f in settings.feeds)
    assert len(urls) == 14


def test_export_opml_escapes_and_writes_a_file(tmp_path: Path) -> None:
    feeds = [
        {"name": "Cedar & Crescent <Daily>", "url": "https://c.example/feed?a=1&b=2"},
        {"name": "Tagged", "url": "https://t.example/rss", "tags": ["gulf"]},
    ]
    config = sqlite_config(tmp_path, feeds)
    target = tmp_path / "out.opml"
    ok(config, "feeds", "export-opml", "-o", str(target))
    document = target.read_text(encoding="utf-8")
    assert opml_urls(document) == ["https://c.example/feed?a=1&b=2", "https://t.example/rss"]
    titles = {o.get("title") for o in ET.fromstring(document).iter("outline")}
    assert "Cedar & Crescent <Daily>" in titles


def test_export_then_import_round_trips(tmp_path: Path) -> None:
    exported_opml = tmp_path / "repo.opml"
    ok(REPO / "feeds.yaml", "feeds", "export-opml", "-o", str(exported_opml))
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n", encoding="utf-8")
    assert "added 14 feeds" in ok(config, "feeds", "import-opml", str(exported_opml))
    mine = load_settings(config, env={})
    repo = load_settings(REPO / "feeds.yaml", env={})
    assert [f.url for f in mine.feeds] == [f.url for f in repo.feeds]


# -- db ---------------------------------------------------------------------------------


def test_db_current_upgrade_downgrade(write_config: Callable[..., Path]) -> None:
    config = write_config([])
    head = head_revision()
    assert head
    assert "empty - behind" in ok(config, "db", "current")
    assert f"schema at {head}" in ok(config, "db", "upgrade")
    assert f"{head} - up to date" in ok(config, "db", "current")
    ok(config, "db", "downgrade", "base")
    assert "empty - behind" in ok(config, "db", "current")
    with Store(load_settings(config).database_url) as store:
        from sqlalchemy import inspect

        assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    assert f"schema at {head}" in ok(config, "db", "upgrade", "head")


def test_check_masks_the_database_password(tmp_path: Path) -> None:
    config = sqlite_config(tmp_path, [])
    env = {"MONITOR_DATABASE_URL": "postgresql://reader:s3cret@db.example/news", "COLUMNS": "250"}
    result = runner.invoke(app, ["--config", str(config), "check"], env=env)
    assert result.exit_code == 0, result.output
    assert "postgresql+psycopg://reader:***@db.example/news" in result.output
    assert "s3cret" not in result.output


@pytest.mark.parametrize("command", [["db", "current"], ["db", "upgrade"], ["items", "list"]])
def test_unreachable_database_exits_1_without_the_password(
    tmp_path: Path, command: list[str]
) -> None:
    config = sqlite_config(tmp_path, [])
    port = closed_port_url().split(":")[2].split("/")[0]
    env = {
        "MONITOR_DATABASE_URL": f"postgresql://reader:s3cret@127.0.0.1:{port}/news",
        "COLUMNS": "250",
    }
    result = runner.invoke(app, ["--config", str(config), *command], env=env)
    assert result.exit_code == 1, result.output
    assert "error:" in result.output and "reader:***@127.0.0.1" in result.output
    assert "s3cret" not in result.output
