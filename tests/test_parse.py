"""parse_feed: feed bytes -> ParsedFeed, on the fixtures and on small inline feeds (no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.pipeline.parse import parse_feed
from monitor.pipeline.types import ParsedEntry, ParsedFeed
from tests.conftest import fixture_text

BASE = "http://news.test"
RSS = "application/rss+xml"
ATOM = "application/atom+xml"


def fixture_feed(
    name: str, url: str = f"{BASE}/feed/", content_type: str | None = RSS
) -> ParsedFeed:
    return parse_feed(fixture_text(f"feeds/{name}", BASE).encode(), url, content_type)


def rss(items: str, *, encoding: str = "utf-8", prolog: bool = True) -> bytes:
    """A minimal RSS 2.0 document around ``items``, encoded as ``encoding``."""
    head = f'<?xml version="1.0" encoding="{encoding}"?>\n' if prolog else ""
    doc = (
        f'{head}<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>Inline</title><link>{BASE}/</link>{items}</channel></rss>"
    )
    return doc.encode(encoding)


def by_title(feed: ParsedFeed) -> dict[str | None, ParsedEntry]:
    return {entry.title: entry for entry in feed.entries}


# --- the fixture feeds -------------------------------------------------------------------


def test_rss_feed_metadata() -> None:
    feed = fixture_feed("news.rss")
    assert feed.title == "The Levant Ledger"
    assert feed.link == f"{BASE}/"
    assert feed.language == "en-US"
    assert feed.bozo is None
    assert feed.problem is None
    assert len(feed.entries) == 3


def test_rss_entry_fields() -> None:
    entry = fixture_feed("news.rss").entries[0]
    assert entry.link == f"{BASE}/2020/01/09/third-story/"
    assert entry.guid == f"{BASE}/?p=103"
    assert entry.title == "Beirut deputies spar over rescue plan as banks tighten limits"
    assert entry.author == "Karim Saadeh"
    assert entry.published == datetime(2020, 1, 9, 16, 45, tzinfo=UTC)
    assert entry.published is not None
    assert entry.published.utcoffset() == timedelta(0)
    assert entry.categories == ("Lebanon", "Economy")
    assert entry.language == "en-US"
    assert entry.image is None


def test_rss_summary_and_content_are_plain_text() -> None:
    """CDATA HTML becomes text: no tags, character references decoded, one line per <p>."""
    entry = fixture_feed("news.rss").entries[0]
    assert entry.summary == (
        "Lebanese lawmakers traded accusations over the financial crisis as protesters "
        "gathered outside parliament. [\u2026]"
    )
    assert entry.content_text is not None
    assert entry.content_text.startswith("BEIRUT \u2014 Lebanese lawmakers traded accusations")
    assert "country\u2019s deepening financial crisis." in entry.content_text
    assert entry.content_text.splitlines()[-1] == "Continue reading \u203a"
    for text in (entry.summary, entry.content_text):
        assert "<" not in text
        assert "&#" not in text


def test_rss_every_entry_has_its_own_guid_and_aware_date() -> None:
    feed = fixture_feed("news.rss")
    assert [e.guid for e in feed.entries] == [f"{BASE}/?p={n}" for n in (103, 102, 101)]
    for entry in feed.entries:
        assert entry.published is not None
        assert entry.published.tzinfo is UTC
    assert by_title(feed)["Egypt and Qatar press factions to extend Gaza truce"].categories == (
        "Palestine",
        "Gaza",
        "Hamas",
    )


def test_rss_link_keeps_its_query_with_the_entity_decoded() -> None:
    """Tracking parameters are the canonicaliser's business; the parser keeps them intact."""
    entry = fixture_feed("news.rss").entries[2]
    assert entry.link == f"{BASE}/2020/01/07/funeral-report/?utm_source=rss&utm_medium=rss"


def test_atom_feed_and_entries() -> None:
    feed = fixture_feed("news.atom", f"{BASE}/gulf/feed.atom", ATOM)
    assert feed.title == "Gulf Wire"
    assert feed.link == f"{BASE}/gulf/"
    assert feed.language == "en"
    assert feed.problem is None
    first, second = feed.entries
    assert first.link == f"{BASE}/2020/01/08/second-story/"
    assert first.guid == "tag:gulfwire.example,2020-01-08:syndicated/102"
    assert first.title == "Mediators push to extend Gaza truce"
    assert first.author == "Nadia Haddad"
    assert first.published == datetime(2020, 1, 8, 8, 15, tzinfo=UTC)
    assert first.updated == datetime(2020, 1, 8, 9, 0, tzinfo=UTC)
    assert first.categories == ("Palestine", "Qatar")
    assert first.summary is not None
    assert first.summary.startswith("Egyptian and Qatari mediators are trying")
    assert first.content_text is None
    assert second.link == f"{BASE}/gulf/oil-talks/"
    assert second.author == "Omar Al-Mansoori"
    assert second.categories == ("Energy", "OPEC")


def test_atom_html_content_becomes_paragraphs_of_text() -> None:
    entry = fixture_feed("news.atom", f"{BASE}/gulf/feed.atom", ATOM).entries[1]
    assert entry.content_text is not None
    paragraphs = entry.content_text.split("\n")
    assert len(paragraphs) == 3
    assert paragraphs[0].startswith("ABU DHABI \u2014 Delegates from OPEC member states")
    assert "\u201cmore cautious, not less\u201d" in paragraphs[1]
    assert paragraphs[2].startswith("Producers outside the group, including Russia")
    assert "<" not in entry.content_text
    assert "&" not in entry.content_text


def test_broken_rss_is_bozo_but_still_yields_both_entries() -> None:
    feed = fixture_feed("broken.rss", f"{BASE}/broken/feed.rss")
    assert feed.bozo  # the reason, e.g. "SAXParseException: ... not well-formed"
    assert feed.problem is None
    assert feed.title == "Cedar & Crescent Daily"
    assert [e.link for e in feed.entries] == [f"{BASE}/broken/one/", f"{BASE}/broken/two/"]
    assert feed.entries[1].title == "Talks on fuel & electricity subsidies resume"


def test_empty_feed_says_it_has_no_entries() -> None:
    feed = fixture_feed("empty.rss", f"{BASE}/empty/feed.rss")
    assert feed.entries == ()
    assert feed.problem == "the feed has no entries"
    assert feed.title == "The Levant Ledger \u00bb Obituaries"


@pytest.mark.parametrize("content_type", ["text/html", None], ids=["declared", "sniffed"])
def test_html_page_is_reported_as_not_a_feed(content_type: str | None) -> None:
    feed = fixture_feed("not-a-feed.html", f"{BASE}/not-a-feed/", content_type)
    assert feed.entries == ()
    assert feed.problem is not None
    assert "HTML page" in feed.problem


def test_other_non_feed_content_is_reported() -> None:
    feed = parse_feed(b"just some plain text, no markup", f"{BASE}/x", "text/plain")
    assert feed.entries == ()
    assert feed.problem is not None
    assert feed.problem.startswith("not a feed")


# --- inline feeds --------------------------------------------------------------------------


def test_relative_links_are_resolved_against_the_feed_url() -> None:
    feed = parse_feed(
        rss(
            "<item><title>rooted</title><link>/2024/05/rooted/</link></item>"
            "<item><title>relative</title><link>relative/</link></item>"
            "<item><title>absolute</title><link>http://other.test/abs/</link></item>"
        ),
        f"{BASE}/section/feed.xml",
        RSS,
    )
    links = {title: entry.link for title, entry in by_title(feed).items()}
    assert links == {
        "rooted": f"{BASE}/2024/05/rooted/",
        "relative": f"{BASE}/section/relative/",
        "absolute": "http://other.test/abs/",
    }


def test_images_from_media_content_thumbnail_and_enclosure() -> None:
    feed = parse_feed(
        rss(
            "<item><title>media</title><link>/a/</link>"
            '<media:content url="/img/a.jpg" medium="image" type="image/jpeg"/></item>'
            "<item><title>enclosure</title><link>/b/</link>"
            '<enclosure url="http://cdn.test/b.jpg" length="100" type="image/jpeg"/></item>'
            "<item><title>video</title><link>/c/</link>"
            '<media:content url="http://cdn.test/c.mp4" medium="video" type="video/mp4"/>'
            '<media:thumbnail url="http://cdn.test/c.jpg"/></item>'
            "<item><title>audio</title><link>/d/</link>"
            '<enclosure url="http://cdn.test/d.mp3" length="100" type="audio/mpeg"/></item>'
        ),
        f"{BASE}/feed/",
        RSS,
    )
    images = {title: entry.image for title, entry in by_title(feed).items()}
    assert images == {
        "media": f"{BASE}/img/a.jpg",  # relative media URL resolved too
        "enclosure": "http://cdn.test/b.jpg",
        "video": "http://cdn.test/c.jpg",  # the video is skipped for its thumbnail
        "audio": None,
    }


def test_entry_without_a_link() -> None:
    feed = parse_feed(
        rss(
            '<item><title>guid only</title><guid isPermaLink="false">abc-123</guid>'
            "<description>Only &lt;b&gt;bold&lt;/b&gt; &amp;amp; text</description></item>"
            "<item><title>bare</title></item>"
        ),
        f"{BASE}/feed/",
        RSS,
    )
    guid_only, bare = feed.entries
    assert guid_only.link is None
    assert guid_only.guid == "abc-123"
    assert guid_only.summary == "Only bold & text"
    assert bare.link is None
    assert bare.guid is None
    assert feed.problem is None


def test_permalink_guid_serves_as_link() -> None:
    feed = parse_feed(rss(f"<item><title>t</title><guid>{BASE}/e/</guid></item>"), BASE, RSS)
    assert feed.entries[0].link == f"{BASE}/e/"


def test_dates_with_offsets_are_converted_to_utc_and_bad_dates_dropped() -> None:
    feed = parse_feed(
        rss(
            "<item><title>offset</title><link>/a/</link>"
            "<pubDate>Thu, 09 Jan 2020 19:45:00 +0300</pubDate></item>"
            "<item><title>garbage</title><link>/b/</link><pubDate>yesterday-ish</pubDate></item>"
        ),
        f"{BASE}/feed/",
        RSS,
    )
    entries = by_title(feed)
    assert entries["offset"].published == datetime(2020, 1, 9, 16, 45, tzinfo=UTC)
    assert entries["garbage"].published is None


@pytest.mark.parametrize(
    ("encoding", "title"),
    [
        ("windows-1256", "\u0639\u0627\u062c\u0644: \u0627\u062c\u062a\u0645\u0627\u0639 "
         "\u0648\u0632\u0631\u0627\u0621 \u0627\u0644\u062e\u0627\u0631\u062c\u064a\u0629"),
        ("iso-8859-1", "\u00c9lection \u00e0 Gen\u00e8ve : d\u00e9bat anim\u00e9"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("content_type", [RSS, None])
def test_non_utf8_encoding_declared_in_the_prolog(
    encoding: str, title: str, content_type: str | None
) -> None:
    data = rss(
        f"<item><title>{title}</title><link>/a/</link>"
        f"<description>&lt;p&gt;{title}&lt;/p&gt;</description></item>",
        encoding=encoding,
    )
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the bytes really are not UTF-8
    entry = parse_feed(data, f"{BASE}/feed/", content_type).entries[0]
    assert entry.title == title
    assert entry.summary == title


# --- robustness ----------------------------------------------------------------------------

_XMLISH = st.lists(
    st.sampled_from(
        [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<rss version="2.0">',
            "<channel>",
            "<item>",
            "</item>",
            "<title>",
            "</title>",
            "<link>",
            "</link>",
            "<pubDate>",
            "Thu, 09 Jan 2020 19:45:00 +0300",
            '<feed xmlns="http://www.w3.org/2005/Atom">',
            "<entry>",
            '<content type="html">',
            "&lt;p&gt;",
            "&#8212;",
            "&bogus;",
            "<![CDATA[",
            "]]>",
            '<enclosure url="" type="image/jpeg"/>',
            '<media:content url="x" xmlns:media="http://search.yahoo.com/mrss/"/>',
            "<html>",
            "\x00",
            "\ufeff",
        ]
    )
    | st.text(max_size=12),
    max_size=40,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    content=st.binary(max_size=2048) | _XMLISH.map(lambda s: s.encode("utf-8", "surrogatepass")),
    content_type=st.sampled_from([None, RSS, ATOM, "text/xml", "text/html", "application/json"]),
)
def test_parse_feed_never_raises(content: bytes, content_type: str | None) -> None:
    """Any bytes give a ParsedFeed; a feed without entries always says why."""
    feed = parse_feed(content, f"{BASE}/feed/", content_type)
    assert isinstance(feed, ParsedFeed)
    if not feed.entries:
        assert feed.problem
