"""The Atom feed of a watchlist: valid Atom 1.0 (parsed back with feedparser), the
required elements, stable ids, and feed-supplied markup escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import feedparser

from monitor.web.atom import ATOM_NS, AtomEntry, build_feed
from tests.webdata import HOSTILE_TITLE, WebData, client, webdata  # noqa: F401

A = f"{{{ATOM_NS}}}"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def entry(**fields: object) -> AtomEntry:
    values: dict[str, object] = {
        "item_id": 7,
        "title": "Title",
        "url": "https://news.example/a",
        "published_at": datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        "matched_at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        "snippet": "a snippet",
        "rules": ["Soleimani"],
        "feeds": ["Levant Ledger"],
    }
    values.update(fields)
    return AtomEntry(**values)  # type: ignore[arg-type]


def build(*entries: AtomEntry) -> bytes:
    return build_feed(
        "Iran",
        list(entries),
        self_url="http://127.0.0.1:8080/watchlists/Iran/atom",
        console_url="http://127.0.0.1:8080",
        authority="monitor.localhost",
        now=NOW,
    )


def test_required_elements_and_stable_ids() -> None:
    root = ET.fromstring(build(entry()))
    assert root.tag == f"{A}feed"
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{A}{name}") is not None, name
    assert root.findtext(f"{A}id") == "tag:monitor.localhost,2026:watchlist/Iran"
    assert root.findtext(f"{A}updated") == "2026-12-01T09:00:00Z"
    self_link = [x for x in root.findall(f"{A}link") if x.get("rel") == "self"]
    assert self_link[0].get("href") == "http://127.0.0.1:8080/watchlists/Iran/atom"
    item = root.find(f"{A}entry")
    assert item is not None
    assert item.findtext(f"{A}id") == "tag:monitor.localhost,2026:watchlist/Iran/item/7"
    assert item.findtext(f"{A}published") == "2026-12-01T08:00:00Z"
    assert [c.get("term") for c in item.findall(f"{A}category")] == ["Soleimani"]
    assert build(entry()) == build(entry())  # the same data, the same document


def test_injected_markup_comes_out_escaped_and_controls_dropped() -> None:
    body = build(entry(title=HOSTILE_TITLE + "\x01", snippet="<img src=x onerror=alert(1)>"))
    text = body.decode()
    assert "<script>" not in text and "&lt;script&gt;" in text and "<img" not in text
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.entries[0].title == HOSTILE_TITLE  # text, exactly as the feed said it
    assert parsed.entries[0].title_detail.type == "text/plain"


def test_an_empty_watchlist_is_a_valid_feed() -> None:
    parsed = feedparser.parse(build())
    assert not parsed.bozo and parsed.version == "atom10" and parsed.entries == []


def test_the_watchlist_feed_served_by_the_console(webdata: WebData) -> None:  # noqa: F811
    with client(webdata) as http:
        response = http.get("/watchlists/Iran/atom")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo, parsed.bozo_exception
        assert parsed.version == "atom10" and parsed.feed.title == "monitor: Iran"
        titles = {e.title for e in parsed.entries}
        assert HOSTILE_TITLE in titles and len(parsed.entries) == 2
        assert "<script>" not in response.text
        assert all(e.id.startswith("tag:") and e.link and e.updated for e in parsed.entries)
        assert all(e.tags and e.summary for e in parsed.entries)
        assert http.get("/watchlists/Nope/atom").status_code == 404
        assert http.get("/watchlists/Iran/atom", params={"limit": 0}).status_code == 422
