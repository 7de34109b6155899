"""JSON Feed 1.0 and 1.1: parser tests on real-shaped documents, and one run on loopback.

The documents are shaped after what publishers serve: a newsroom blog (1.1,
``content_html``), a microblog (``content_text`` only, no titles), a podcast
(attachments), an old 1.0 feed (``author``), and broken ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.pipeline.jsonfeed import looks_like_json, parse_json_feed
from monitor.pipeline.parse import parse_feed
from monitor.pipeline.types import ParsedFeed
from monitor.storage import Store
from tests.conftest import FIXTURES, Site

FEED_URL = "https://ledger.example/feeds/main.json"
JSONFEED = "application/feed+json"
TOO_DEEP = "invalid JSON: nested too deeply to read"


def doc(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")


def parse(value: Any, content_type: str | None = JSONFEED, url: str = FEED_URL) -> ParsedFeed:
    return parse_feed(doc(value) if not isinstance(value, bytes) else value, url, content_type)


BLOG_11: dict[str, Any] = {
    "version": "https://jsonfeed.org/version/1.1",
    "user_comment": "This feed allows you to read the posts from this site in any feed reader.",
    "title": "The Levant Ledger",
    "home_page_url": "https://ledger.example/",
    "feed_url": "https://ledger.example/feeds/main.json",
    "description": "News and analysis from Beirut, Damascus and Amman",
    "icon": "https://ledger.example/icon-512.png",
    "favicon": "https://ledger.example/favicon.ico",
    "language": "en-GB",
    "authors": [{"name": "Ledger Staff", "url": "https://ledger.example/staff/"}],
    "_ledger": {"edition": "morning", "about": "https://ledger.example/ext"},
    "items": [
        {
            "id": "https://ledger.example/?p=2207",
            "url": "https://ledger.example/2024/03/11/port-reopens/",
            "title": "Beirut port reopens its grain terminal &amp; silos",
            "content_html": (
                "<p>BEIRUT &mdash; The grain terminal at the port of Beirut reopened on "
                "Monday, four years after the blast.</p>\n<p>Officials said the first ship "
                "would dock within the week.</p><script>track()</script>"
            ),
            "summary": "The grain terminal reopened four years after the blast.",
            "image": "/media/2024/03/port.jpg",
            "banner_image": "https://ledger.example/media/2024/03/port-wide.jpg",
            "date_published": "2024-03-11T09:30:00+02:00",
            "date_modified": "2024-03-11T12:05:10.250+02:00",
            "authors": [
                {"url": "https://ledger.example/staff/anon/"},
                {"name": "Rania  Khoury", "avatar": "https://ledger.example/rk.jpg"},
                {"name": "Omar Aziz"},
            ],
            "tags": ["Lebanon", "Economy", "Lebanon", " ", 42],
            "language": "en",
            "_ledger": {"paywall": False, "section": ["news"]},
        },
        {
            "id": "https://ledger.example/?p=2206",
            "url": "2024/03/10/amman-talks/",
            "title": "Amman hosts talks on border crossings",
            "content_html": "<p>AMMAN &#8212; Delegations met on Sunday.</p>",
            "date_published": "2024-03-10T18:00:00Z",
        },
    ],
}

MICROBLOG: dict[str, Any] = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Nadia Haddad",
    "home_page_url": "https://nadia.micro.example/",
    "items": [
        {
            "id": "https://nadia.micro.example/2024/03/12/094501.html",
            "url": "https://nadia.micro.example/2024/03/12/094501.html",
            "content_text": (
                "Crossing at Rafah still closed this morning.\n\nTrucks queue for 3 km."
            ),
            "date_published": "2024-03-12T09:45:01+00:00",
        },
        {
            "id": 20240311,
            "url": "https://nadia.micro.example/2024/03/11/180012.html",
            "content_text": "Back in Cairo.\u0007 Long day.",
            "date_published": "2024-03-11t18:00:12z",
        },
    ],
}

PODCAST: dict[str, Any] = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Gulf Wire Daily",
    "home_page_url": "https://gulfwire.example/podcast/",
    "authors": [{"name": "Gulf Wire"}],
    "items": [
        {
            "id": "gw-daily-412",
            "url": "https://gulfwire.example/podcast/412/",
            "title": "Episode 412: Oil, OPEC+ and the Red Sea",
            "content_text": "This week: output cuts and shipping insurance.",
            "date_published": "2024-03-08T05:00:00+04:00",
            "attachments": [
                {
                    "url": "https://cdn.gulfwire.example/412.mp3",
                    "mime_type": "audio/mpeg",
                    "title": "MP3",
                    "size_in_bytes": 48112233,
                    "duration_in_seconds": 2400,
                },
                {"url": "412/cover.jpg", "mime_type": "image/jpeg"},
            ],
        },
        {
            "id": "gw-daily-411",
            "url": "https://gulfwire.example/podcast/411/",
            "title": "Episode 411",
            "content_text": "Audio only.",
            "attachments": [
                {"url": "https://cdn.gulfwire.example/411.m4a", "mime_type": "audio/x-m4a"}
            ],
        },
    ],
}

LEGACY_10: dict[str, Any] = {
    "version": "https://jsonfeed.org/version/1",
    "title": "Damascus Notes",
    "home_page_url": "http://notes.example",
    "author": {"name": "Samir Atassi", "url": "http://notes.example/about"},
    "items": [
        {
            "id": "http://notes.example/2019/souk",
            "url": "http://notes.example/2019/souk",
            "external_url": "https://other-outlet.example/2019/souk-fire/",
            "title": "On the souk fire",
            "content_html": "<p>A short note on the fire.</p>",
            "content_text": "A short note on the fire.",
            "date_published": "2019-06-02T21:10:00-00:00",
            "author": {"name": "Guest Writer"},
        },
        {
            "id": "http://notes.example/2019/link",
            "external_url": "https://other-outlet.example/2019/report/",
            "title": "Worth reading",
            "content_text": "Linked.",
            "date_published": "Sun, 02 Jun 2019 10:00:00 +0000",
        },
    ],
}


# --- real-shaped documents ----------------------------------------------------------------


def test_blog_11_feed_metadata() -> None:
    feed = parse(BLOG_11)
    assert feed.title == "The Levant Ledger"
    assert feed.link == "https://ledger.example/"
    assert feed.language == "en-GB"
    assert feed.problem is None and feed.bozo is None
    assert len(feed.entries) == 2


def test_blog_11_item_with_html_content() -> None:
    entry = parse(BLOG_11).entries[0]
    assert entry.guid == "https://ledger.example/?p=2207"
    assert entry.link == "https://ledger.example/2024/03/11/port-reopens/"
    assert entry.title == "Beirut port reopens its grain terminal &amp; silos"  # plain text
    assert entry.content_text == (
        "BEIRUT — The grain terminal at the port of Beirut reopened on Monday, four years "
        "after the blast.\nOfficials said the first ship would dock within the week."
    )
    assert "track()" not in (entry.content_text or "")
    assert entry.summary == "The grain terminal reopened four years after the blast."
    assert entry.image == "https://ledger.example/media/2024/03/port.jpg"  # image before banner
    assert entry.published == datetime(2024, 3, 11, 7, 30, tzinfo=UTC)
    assert entry.updated == datetime(2024, 3, 11, 10, 5, 10, 250000, tzinfo=UTC)
    assert entry.author == "Rania Khoury"  # the first author that has a name
    assert entry.categories == ("Lebanon", "Economy")
    assert entry.language == "en"


def test_relative_item_url_resolves_against_the_feed_url_and_feed_values_are_inherited() -> None:
    entry = parse(BLOG_11).entries[1]
    assert entry.link == "https://ledger.example/feeds/2024/03/10/amman-talks/"
    assert entry.author == "Ledger Staff"  # the feed's authors apply to its items
    assert entry.language == "en-GB"
    assert entry.content_text == "AMMAN — Delegations met on Sunday."
    assert entry.summary is None and entry.image is None and entry.updated is None


def test_microblog_with_text_only_and_no_titles() -> None:
    feed = parse(MICROBLOG, "application/json; charset=utf-8")
    assert feed.problem is None and feed.bozo is None
    first, second = feed.entries
    assert first.title is None
    assert (
        first.content_text == "Crossing at Rafah still closed this morning.\nTrucks queue for 3 km."
    )
    assert second.guid == "20240311"  # a numeric id read as its string
    assert second.content_text == "Back in Cairo. Long day."  # control character stripped
    assert second.published == datetime(2024, 3, 11, 18, 0, 12, tzinfo=UTC)  # lower-case t, z
    assert first.author is None and first.categories == ()


def test_podcast_attachments_give_an_image_and_nothing_else() -> None:
    feed = parse(PODCAST)
    episode, audio_only = feed.entries
    assert episode.image == "https://ledger.example/feeds/412/cover.jpg"
    assert "mp3" not in (episode.content_text or "").lower()
    assert episode.published == datetime(2024, 3, 8, 1, 0, tzinfo=UTC)
    assert episode.author == "Gulf Wire"
    assert audio_only.image is None  # an audio attachment is not an image
    assert audio_only.published is None


def test_legacy_10_feed_with_author_and_external_url() -> None:
    feed = parse(LEGACY_10, "application/json")
    note, link_post = feed.entries
    assert note.author == "Guest Writer"  # the item's 1.0 author before the feed's
    assert note.link == "http://notes.example/2019/souk"  # url is kept over external_url
    assert note.content_text == "A short note on the fire."
    assert note.published == datetime(2019, 6, 2, 21, 10, tzinfo=UTC)
    assert link_post.author == "Samir Atassi"
    assert link_post.link == "https://other-outlet.example/2019/report/"  # no url: external
    assert link_post.published == datetime(2019, 6, 2, 10, 0, tzinfo=UTC)  # RFC 822 accepted
    assert feed.link == "http://notes.example"


def test_the_fuller_of_content_html_and_content_text_is_the_content() -> None:
    item = {
        "id": "1",
        "url": "https://ledger.example/a",
        "content_html": "<p>Short.</p>",
        "content_text": "A much longer plain-text version of the same article.",
    }
    feed = parse({**BLOG_11, "items": [item]})
    assert feed.entries[0].content_text == "A much longer plain-text version of the same article."


def test_extension_keys_are_ignored_whatever_they_hold() -> None:
    plain = parse(BLOG_11)
    hostile_ext: Any = {"_x": [[[{"id": None}]]], "_title": 5, "_items": "nope"}
    extended = parse(
        {
            **BLOG_11,
            **hostile_ext,
            "items": [{**item, **hostile_ext} for item in BLOG_11["items"]],
        }
    )
    assert extended == plain


# --- missing fields and wrong shapes ---------------------------------------------------


def test_minimal_feed_without_optional_fields() -> None:
    feed = parse(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Bare",
            "items": [{"id": "x-1", "content_text": "Only an id and text."}],
        }
    )
    assert feed.problem is None and feed.bozo is None
    assert feed.link == FEED_URL  # no home_page_url: the feed URL
    (entry,) = feed.entries
    assert entry.guid == "x-1" and entry.link is None and entry.title is None
    assert entry.published is None and entry.language is None and entry.image is None


def test_wrong_shaped_fields_are_dropped_with_a_note() -> None:
    feed = parse(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": ["not", "a", "string"],
            "home_page_url": 7,
            "items": [
                {
                    "id": {"nested": True},
                    "url": "https://ledger.example/wrong-shapes/",
                    "title": 3.5,
                    "content_html": None,
                    "content_text": ["x"],
                    "tags": "Syria",
                    "authors": "Someone",
                    "attachments": {"url": "a.jpg"},
                    "date_published": 1710000000,
                },
                "a string, not an item",
                None,
                {},
                {"id": "ok", "url": "/ok", "date_published": "2024-13-45T99:99:00Z"},
            ],
        }
    )
    assert feed.title is None and feed.link == FEED_URL
    first, second = feed.entries
    assert first.link == "https://ledger.example/wrong-shapes/"
    assert (first.guid, first.title, first.content_text, first.author) == (None, None, None, None)
    assert first.categories == () and first.image is None and first.published is None
    assert second.guid == "ok" and second.published is None  # out of range: refused
    assert feed.problem is None
    bozo = feed.bozo or ""
    assert bozo == (  # many notes: the first five, then how many more
        "feed: 'title' is a list, not a string; "
        "feed: 'home_page_url' is a number, not a string; "
        "item 1: 'id' is an object; "
        "item 1: 'title' is a number, not a string; "
        "item 1: 'date_published' is a number, not a string; "
        "and 7 more"
    )


def test_every_note_is_kept_until_there_are_many() -> None:
    feed = parse(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "T",
            "items": [{"id": "1", "url": "/1"}, [], {}, {"id": "2", "date_modified": "soon"}],
        }
    )
    assert [e.guid for e in feed.entries] == ["1", "2"]
    assert feed.bozo == (
        "item 2 is a list, not an object: skipped; "
        "item 3 has no id, url, title or content: skipped; "
        "item 4: 'date_modified' is not an RFC 3339 date ('soon')"
    )


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([], "the feed has no entries"),
        ({"0": {"id": "1"}},
         "not a readable feed: the JSON Feed's 'items' is an object, not a list"),
        (None, "not a readable feed: the JSON Feed's 'items' is none, not a list"),
        ([1, "two"], "not a readable feed: item 1 is a number, not an object: skipped; "
                     "item 2 is a string, not an object: skipped"),
    ],
)  # fmt: skip
def test_feeds_without_readable_items_say_why(items: Any, problem: str) -> None:
    value = {"version": "https://jsonfeed.org/version/1", "title": "T"}
    if items is not None:
        value["items"] = items
    feed = parse(value)
    assert feed.entries == ()
    assert feed.problem == problem
    assert feed.title == "T"


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1",\n "title": "T",\n "items": [,]}',
         JSONFEED, "invalid JSON at line 3 column 12: Expecting value"),
        (b"{'version': 1}", None, "invalid JSON at line 1 column 2: Expecting property name "
         "enclosed in double quotes"),
        (b"[1, 2, 3]", "application/json",
         "not a JSON Feed: the document is a list, not an object"),
        (b'"just a string"', "application/json",
         "not a JSON Feed: the document is a string, not an object"),
        (b'{"title": "API response", "items": []}', "application/json",
         "not a JSON Feed: it has no 'version' (https://jsonfeed.org/version/1.1)"),
        (b'{"version": "2.0", "items": []}', None,
         "not a JSON Feed: its version is '2.0', not a jsonfeed.org version"),
        (b'{"version": 1.1, "items": []}', JSONFEED,
         "not a JSON Feed: its version is 'a number', not a jsonfeed.org version"),
        (b"   ", JSONFEED, "empty response (3 bytes): the server sent no feed"),
        (b"[" * 50_000 + b"]" * 50_000, "application/json", TOO_DEEP),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, None, TOO_DEEP),
    ],
)  # fmt: skip
def test_invalid_input_gives_a_clear_problem(
    body: bytes, content_type: str | None, problem: str
) -> None:
    feed = parse_feed(body, FEED_URL, content_type)
    assert feed.entries == ()
    assert feed.problem == problem
    assert feed.link == FEED_URL


def test_a_huge_integer_is_invalid_json_not_a_crash() -> None:
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": ' + b"9" * 5000
    feed = parse_feed(body + b"}]}", FEED_URL, JSONFEED)
    assert feed.entries == () and (feed.problem or "").startswith("invalid JSON")


def test_an_unknown_jsonfeed_version_is_read_with_a_note() -> None:
    feed = parse({**MICROBLOG, "version": "https://jsonfeed.org/version/2"})
    assert len(feed.entries) == 2
    assert feed.bozo == "unknown JSON Feed version 'https://jsonfeed.org/version/2', read as 1.1"


def test_encodings_bom_and_undecodable_bytes() -> None:
    text = json.dumps({**MICROBLOG, "title": "نادية حداد"}, ensure_ascii=False)
    for body in (
        b"\xef\xbb\xbf" + text.encode("utf-8"),
        text.encode("utf-16"),
        text.encode("utf-16-le"),
    ):
        feed = parse_feed(body, FEED_URL, None)
        assert feed.title == "نادية حداد" and len(feed.entries) == 2, body[:8]
    declared = parse_feed(
        text.encode("windows-1256"), FEED_URL, "application/json; charset=windows-1256"
    )
    assert declared.title == "نادية حداد" and declared.bozo is None
    broken = parse_feed(b'{"version": "https://jsonfeed.org/version/1", "title": "Caf\xe9", '
                        b'"items": [{"id": "1"}]}', FEED_URL, JSONFEED)  # fmt: skip
    assert broken.title == "Caf\ufffd" and len(broken.entries) == 1
    assert "not valid utf-8 at byte 59; undecodable bytes replaced" in (broken.bozo or "")


def test_escaped_control_characters_and_lone_surrogates_are_stripped() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Desk\\u0000 \\ud800news",'
        b' "items": [{"id": "a\\u0001b", "url": "https://x.example/\\u0000p",'
        b' "content_text": "Body\\u001b text", "tags": ["\\u0000"]}]}'
    )
    feed = parse_feed(body, FEED_URL, JSONFEED)
    (entry,) = feed.entries
    assert feed.title == "Desk news"
    assert (entry.guid, entry.link, entry.content_text) == (
        "ab",
        "https://x.example/p",
        "Body text",
    )
    assert entry.categories == ()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(codec="utf-8") | st.sampled_from("\x00\x1b<>&"), max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ITEM_KEYS = ["id", "url", "external_url", "title", "content_html", "content_text", "summary",
             "image", "banner_image", "date_published", "date_modified", "authors", "author",
             "tags", "language", "attachments", "_ext"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    feed_fields=st.dictionaries(
        st.sampled_from(["title", "home_page_url", "language", "authors", "author", "items"]),
        json_values,
    ),
    items=st.lists(
        st.dictionaries(st.sampled_from(ITEM_KEYS), json_values) | json_values, max_size=5
    ),
    content_type=st.sampled_from([None, JSONFEED, "application/json", "text/html"]),
)
def test_any_json_in_any_field_gives_a_feed(
    feed_fields: dict[str, Any], items: list[Any], content_type: str | None
) -> None:
    value = {"version": "https://jsonfeed.org/version/1.1", "items": items, **feed_fields}
    feed = parse_feed(json.dumps(value).encode("utf-8", "surrogatepass"), FEED_URL, content_type)
    assert isinstance(feed, ParsedFeed) and isinstance(feed.entries, tuple)
    if not feed.entries:
        assert feed.problem
    texts = [feed.title, feed.language, feed.bozo, feed.problem]
    for entry in feed.entries:
        for when in (entry.published, entry.updated):
            assert when is None or when.tzinfo is not None
        assert all(isinstance(tag, str) and tag for tag in entry.categories)
        texts += [entry.guid, entry.link, entry.title, entry.author, entry.summary]
        texts += [entry.content_text, entry.image, entry.language, *entry.categories]
    for text in texts:
        # no NUL (PostgreSQL refuses it) and no lone surrogate (it cannot be stored as UTF-8)
        assert text is None or ("\x00" not in text and text.encode("utf-8"))


# --- detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1"}', None, True),
        (b'\xef\xbb\xbf \n {"version": 1}', "text/plain", True),
        (b"[]", "application/feed+json", True),
        (b"not json", "application/json; charset=utf-8", True),
        (b"[]", "application/ld+json", True),
        (b"<?xml version='1.0'?><rss/>", "application/json", False),  # mislabelled RSS
        (b"<rss version='2.0'/>", None, False),
        (b"[1]", None, False),
        (b"", "application/json", False),
    ],
)
def test_detection_by_content_type_and_by_content(
    body: bytes, content_type: str | None, expected: bool
) -> None:
    assert looks_like_json(body, content_type) is expected


def test_parse_feed_dispatches_json_feeds_and_keeps_rss_served_as_json() -> None:
    assert parse_feed(doc(BLOG_11), FEED_URL, None) == parse_json_feed(doc(BLOG_11), FEED_URL)
    assert parse_feed(doc(BLOG_11), FEED_URL, "text/html") == parse_json_feed(
        doc(BLOG_11), FEED_URL
    )
    rss = (
        (FIXTURES / "feeds" / "news.rss")
        .read_text(encoding="utf-8")
        .replace("{base}", "http://n.test")
    )
    as_json = parse_feed(rss.encode(), "http://n.test/feed/", "application/json")
    assert len(as_json.entries) == 3 and as_json.title == "The Levant Ledger"


# --- end to end on loopback --------------------------------------------------------------

runner = CliRunner()


def test_run_once_stores_json_feed_items(site: Site, write_config: Callable[..., Path]) -> None:
    """A JSON Feed 1.1 of article links (pages fetched and extracted) and a 1.0 microblog
    read for its own text, polled by ``monitor run --once`` into the database."""
    pages = ["/2020/01/07/funeral-report/", "/2020/01/08/second-story/", "/2020/01/09/third-story/"]
    news = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Ledger (JSON)",
        "home_page_url": site.url("/"),
        "_ext": {"ignored": True},
        "items": [
            {
                "id": f"ledger-{number}",
                "url": path.lstrip("/"),  # relative: resolved against the feed URL
                "title": f"Story {number}",
                "content_html": "<p>Teaser only.</p>",
                "date_published": f"2020-01-0{7 + number}T10:00:00+03:00",
                "tags": ["Levant"],
            }
            for number, path in enumerate(pages)
        ],
    }
    micro = {
        "version": "https://jsonfeed.org/version/1",
        "title": "Desk notes",
        "author": {"name": "Desk Editor"},
        "items": [
            {
                "id": 5501,
                "url": site.url("/notes/5501"),
                "content_text": " ".join(
                    ["Talks in Doha were postponed until further notice."] * 8
                ),
                "date_published": "2020-01-06T08:00:00Z",
            }
        ],
    }
    site.serve("/news.json", doc(news), "application/feed+json")
    site.serve("/notes/feed", doc(micro), "application/json; charset=utf-8")
    config = write_config(
        [
            {"name": "Ledger JSON", "url": site.url("/news.json")},
            {"name": "Desk notes", "url": site.url("/notes/feed"), "full_text": False},
        ]
    )
    result = runner.invoke(app, ["--config", str(config), "run", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "feeds: 2 ok, 0 failed" in result.output, result.output
    assert "items: 4 new" in result.output, result.output
    with Store.open(load_settings(config).database_url) as store:
        items = {item.canonical_url: item for item in store.items.iter_all()}
    assert set(items) == {site.url(path) for path in pages} | {site.url("/notes/5501")}
    for number, path in enumerate(pages):
        item = items[site.url(path)]
        truth = json.loads(
            (FIXTURES / "pages" / f"{path.strip('/').split('/')[-1]}.expected.json").read_text()
        )
        assert item.guid == f"ledger-{number}"
        assert item.feeds == ("Ledger JSON",)
        assert item.extraction_method == "trafilatura"
        assert truth["body_paragraphs"][0] in (item.text or "")
        assert "Levant" in item.categories  # the item's tags
        assert item.field_sources["published_at"] == "feed"
        assert site.hits[path] >= 1
    first = items[site.url(pages[0])]
    assert first.published_at is not None
    assert first.published_at.replace(tzinfo=UTC) == datetime(2020, 1, 7, 7, 0, tzinfo=UTC)
    note = items[site.url("/notes/5501")]
    assert note.guid == "5501" and note.author == "Desk Editor"  # the feed's 1.0 author
    assert note.title is None and note.field_sources["text"] == "feed_content"
    assert "postponed until further notice" in (note.text or "")
    assert note.feeds == ("Desk notes",)
    assert "/notes/5501" not in site.hits  # full_text: false, the feed's text is the article
    again = runner.invoke(app, ["--config", str(config), "run", "--once"], catch_exceptions=False)
    assert again.exit_code == 0 and "items: 0 new" in again.output, again.output
