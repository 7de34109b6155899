"""End to end: feeds on loopback -> monitor run --once -> items in the database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner
from werkzeug import Request, Response

from monitor.cli import app
from monitor.config import load_settings
from monitor.storage import Store
from tests.conftest import FIXTURES, Site

runner = CliRunner()


def monitor(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args], catch_exceptions=False)
    return result.exit_code, result.output


def expected(name: str) -> dict[str, object]:
    return json.loads((FIXTURES / "pages" / f"{name}.expected.json").read_text(encoding="utf-8"))


def test_run_once_stores_every_article_with_full_text(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = write_config(
        [
            {"name": "Levant Ledger", "url": site.url("/feed/"), "tags": ["levant"]},
            {"name": "Gulf Wire", "url": site.url("/gulf/feed.atom")},
        ]
    )
    code, output = monitor(config, "run", "--once")
    assert code == 0, output
    assert "feeds: 2 ok, 0 failed" in output, output
    settings = load_settings(config)
    with Store.open(settings.database_url) as store:
        items = {i.canonical_url: i for i in store.items.iter_all()}
    funeral = items[site.url("/2020/01/07/funeral-report/")]
    assert funeral.extraction_method == "trafilatura"
    truth = expected("funeral-report")
    for paragraph in truth["body_paragraphs"]:  # type: ignore[attr-defined]
        assert paragraph in (funeral.text or "")
    for chrome in truth["chrome_snippets"]:  # type: ignore[attr-defined]
        assert chrome not in (funeral.text or "")
    assert funeral.title == truth["title"]
    assert funeral.author == truth["author"]
    assert funeral.site_name == truth["sitename"]
    assert funeral.published_at is not None
    assert funeral.published_at.date().isoformat() == "2020-01-07"
    assert funeral.feeds == ("Levant Ledger",)
    assert funeral.feed_tags == ("levant",)
    # the second story came through both feeds: one item, two feeds
    second = items[site.url("/2020/01/08/second-story/")]
    assert set(second.feeds) == {"Levant Ledger", "Gulf Wire"}
    assert len(items) == 4
    assert "feeds: 2 ok, 0 failed" in output
    assert "items: 4 new" in output


def test_second_run_adds_nothing(site: Site, write_config: Callable[..., Path]) -> None:
    config = write_config([{"name": "Levant Ledger", "url": site.url("/feed/")}])
    assert monitor(config, "run", "--once")[0] == 0
    pages_fetched = {p: n for p, n in site.hits.items() if p in ("/2020/01/08/second-story/",)}
    code, output = monitor(config, "run", "--once")
    assert code == 0
    assert "items: 0 new" in output
    assert site.hits["/2020/01/08/second-story/"] == pages_fetched["/2020/01/08/second-story/"]
    settings = load_settings(config)
    with Store.open(settings.database_url) as store:
        assert store.items.count() == 3


def test_feed_text_revised_when_the_feed_redates_its_entry(
    site: Site, write_config: Callable[..., Path]
) -> None:
    """``full_text: false``: the feed's own text is the article; a re-dated entry whose
    text changed is a revision, not a new item."""
    state = {"day": "06", "text": "The talks in Doha were postponed until further notice."}

    def feed(_: Request) -> Response:
        body = " ".join([state["text"]] * 12)
        rss = (
            "<?xml version='1.0'?><rss version='2.0' "
            "xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel><title>Desk</title>"
            f"<link>{site.base}/</link><item><title>Doha talks</title>"
            f"<link>{site.url('/doha/')}</link><guid>doha-1</guid>"
            f"<pubDate>{state['day']} Jan 2020 10:00:00 +0000</pubDate>"
            f"<content:encoded><![CDATA[<p>{body}</p>]]></content:encoded></item>"
            "</channel></rss>"
        )
        return Response(rss, content_type="application/rss+xml")

    site.route("/desk.rss", feed)
    config = write_config([{"name": "Desk", "url": site.url("/desk.rss"), "full_text": False}])
    assert monitor(config, "run", "--once")[0] == 0
    state["day"], state["text"] = "07", "The talks in Doha resumed on Tuesday after a delay."
    code, output = monitor(config, "run", "--once")
    assert code == 0 and "1 revised" in output, output
    with Store.open(load_settings(config).database_url) as store:
        (item,) = list(store.items.iter_all())
        assert item.revision == 2 and "resumed" in (item.text or "")
        (earlier,) = store.items.revisions(item.id)
        assert "postponed" in (earlier.text or "")
    assert "/doha/" not in site.hits  # the page itself is never fetched
