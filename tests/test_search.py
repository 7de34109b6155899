"""Search end to end: items ingested by ``monitor run --once`` from the fixture site on
loopback (SQLite and PostgreSQL), found by the query language, kept in step with
revisions, and the ``monitor search`` command."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner
from werkzeug import Request, Response

from monitor.cli import app
from monitor.config import load_settings
from monitor.storage import Store
from tests.conftest import Site
from tests.test_watch_e2e import ARABIC_PAGE

runner = CliRunner()
FUNERAL, GAZA, BEIRUT, TEHRAN_AR = "funeral-report", "second-story", "third-story", "ar/funeral"


def monitor(config: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(
        app, ["--config", str(config), *args], catch_exceptions=False, env={"COLUMNS": "250"}
    )
    assert result.exit_code == code, result.output
    return result.output


def serve_arabic(site: Site) -> dict[str, Any]:
    site.serve("/ar/funeral/", ARABIC_PAGE, "text/html; charset=utf-8")
    rss = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>عربي</title>"
        f"<link>{site.base}/ar/</link><item><title>جنازة في طهران</title>"
        f"<link>{site.url('/ar/funeral/')}</link><guid>ar-1</guid>"
        "<pubDate>Mon, 06 Jan 2020 10:00:00 +0000</pubDate></item></channel></rss>"
    )
    site.serve("/ar/feed.rss", rss, "application/rss+xml; charset=utf-8")
    return {"name": "Arabic desk", "url": site.url("/ar/feed.rss"), "language": "ar"}


def ingested(site: Site, write_config: Callable[..., Path]) -> Path:
    feeds = [{"name": "Levant Ledger", "url": site.url("/feed/")}, serve_arabic(site)]
    config = write_config(feeds)
    monitor(config, "run", "--once")
    return config


def found(config: Path, query: str, **filters: Any) -> set[str]:
    """Which stories the query finds (by the item URL's path)."""
    with Store.open(load_settings(config).database_url) as store:
        page = store.search.search(query, limit=100, **filters)
    assert page.next_cursor is None
    names = set()
    for hit in page.hits:
        path = hit.item.canonical_url.split("://", 1)[1].split("/", 1)[1].strip("/")
        names.add(path if path.startswith("ar/") else path.rsplit("/", 1)[-1])
    return names


def test_ingested_items_are_found_by_the_query_language(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = ingested(site, write_config)
    assert found(config, "Soleimani") == {FUNERAL}  # a name
    assert found(config, "Qāsem Soleimani") == {FUNERAL}  # a plain query is a phrase; accents
    assert found(config, '"Ismail Haniyeh"') == {FUNERAL}
    assert found(config, '"Haniyeh Ismail"') == set()  # a phrase keeps its order
    assert found(config, "Solei*") == {FUNERAL}  # a prefix
    assert found(config, "Hamas AND Gaza AND NOT Tehran") == {GAZA}  # boolean of three
    assert found(config, "Hamas OR Beirut OR nonexistentword") >= {FUNERAL, GAZA, BEIRUT}
    assert found(config, "title:Gaza") == {GAZA}  # fields
    assert GAZA in found(config, "author:Haddad")
    assert found(config, "author:Haddad") == found(config, "author:(nadia haddad)")
    assert found(config, "author:Gaza") == set()
    assert found(config, 'feed:"Arabic desk"') == {TEHRAN_AR}
    assert FUNERAL in found(config, "feed:levant AND Haniyeh")
    assert found(config, "Haniyeh NEAR/8 Hamas") == {FUNERAL}  # proximity
    assert found(config, "Haniyeh NEAR/0 Hamas") == set()
    # Arabic and Persian spellings, diacritics and tatweel fold away
    assert found(config, "قاسم سليمانى") == {TEHRAN_AR}  # alef maqsura; tashkeel in the text
    assert found(config, "سلیمانی") == {TEHRAN_AR}  # Persian yeh
    assert found(config, "الجمهوريه الاسلاميه") == {TEHRAN_AR}  # ta marbuta, hamza on alef
    assert found(config, "title:طهران") == {TEHRAN_AR}
    # filters
    assert found(config, "Hamas", language="ar") == set()
    assert found(config, "سليماني", language="ar") == {TEHRAN_AR}
    assert found(config, "Hamas", feed="Arabic desk") == set()


def test_a_hit_has_the_item_a_snippet_with_spans_and_a_count(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = ingested(site, write_config)
    with Store.open(load_settings(config).database_url) as store:
        (hit,) = store.search.search("Haniyeh").hits
    assert hit.item.feeds == ("Levant Ledger",) and hit.item.title
    assert hit.hits >= 2  # the text names him twice
    assert 40 < len(hit.snippet) <= 200
    assert [hit.snippet[a:b] for a, b in hit.spans] == ["Haniyeh"] * len(hit.spans)


def test_a_revision_is_indexed_again(site: Site, write_config: Callable[..., Path]) -> None:
    state = {"version": 1}

    def page(_: Request) -> Response:
        who = "Soleimani" if state["version"] == 1 else "The commander"
        body = (
            f"<p>Officials in Baghdad met to discuss the withdrawal of foreign troops. {who} "
            "was mentioned by several speakers, who argued about the consequences for the "
            "region and about the security of the convoys that cross the border.</p>"
        ) * 3
        html = (
            "<html lang='en'><head><title>Baghdad session</title></head><body><article>"
            f"<h1>Baghdad session</h1>{body}</article></body></html>"
        )
        return Response(html, content_type="text/html; charset=utf-8")

    def feed(_: Request) -> Response:
        day = "Mon, 06" if state["version"] == 1 else "Tue, 07"
        rss = (
            "<?xml version='1.0'?><rss version='2.0'><channel><title>Desk</title>"
            f"<link>{site.base}/</link><item><title>Baghdad session</title>"
            f"<link>{site.url('/baghdad/')}</link><guid>baghdad-1</guid>"
            f"<pubDate>{day} Jan 2020 10:00:00 +0000</pubDate></item></channel></rss>"
        )
        return Response(rss, content_type="application/rss+xml")

    site.route("/baghdad/", page)
    site.route("/desk.rss", feed)
    config = write_config([{"name": "Desk", "url": site.url("/desk.rss")}])
    monitor(config, "run", "--once")
    assert found(config, "Soleimani") == {"baghdad"}
    state["version"] = 2
    assert "1 revised" in monitor(config, "run", "--once")
    assert found(config, "Soleimani") == set()  # the old text is no longer found
    assert found(config, '"the commander"') == {"baghdad"}


def test_monitor_search_prints_a_table_json_and_exits_2_on_a_bad_query(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = ingested(site, write_config)
    table = monitor(config, "search", "Haniyeh NEAR/8 Hamas")
    assert "1 item" in table and "Levant Ledger" in table and "Haniyeh" in table
    assert "Palestinian delegation" in table  # the title
    lines = monitor(config, "search", "Hamas OR Gaza", "--json", "--limit", "2").splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 2
    for row in rows:
        assert row["feeds"] == ["Levant Ledger"] and row["hits"] >= 1
        assert all(row["snippet"][a:b].lower() in ("hamas", "gaza") for a, b in row["spans"])
    assert monitor(config, "search", "nothingmatchesthis", "--json") == ""
    bad = runner.invoke(app, ["--config", str(config), "search", "Hamas AND (Gaza"])
    assert bad.exit_code == 2
    assert "column 11" in bad.output and "never closed" in bad.output
    assert "          ^" in bad.output
    unknown = runner.invoke(app, ["--config", str(config), "search", "x", "--feed", "Nope"])
    assert unknown.exit_code == 2
    help_text = monitor(config, "search", "--help")
    assert "Example: monitor search" in help_text
