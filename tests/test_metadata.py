"""The structured-metadata reader (pure) and the cascade in extract_page."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.metadata import extract_author
from trafilatura.settings import Document
from trafilatura.utils import load_html

from monitor.pipeline.extract import TRAFILATURA_OPTIONS, extract_page, parse_html
from monitor.pipeline.metadata import find_byline, parse_date, person_name, read_page
from monitor.pipeline.text import clean_text
from monitor.pipeline.types import PageDate, ParsedEntry

BODY = (
    "<article><h1>Minister resigns over budget row</h1>"
    + "<p>The minister resigned on Monday after a long row over the budget, "
    "saying that the plan could not be carried through parliament this year.</p>" * 6 + "</article>"
)


def page(head: str = "", body: str = BODY) -> str:
    head = f"<head><title>T | Site</title>{head}</head>"
    return f"<!DOCTYPE html><html lang='en'>{head}<body>{body}</body></html>"


def ld(value: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(value)}</script>'


def tree(html: str) -> HtmlElement:
    parsed = load_html(html)
    assert parsed is not None
    return parsed


# -- JSON-LD ----------------------------------------------------------------------


def test_news_article_with_zone_and_author_objects() -> None:
    found = read_page(
        tree(
            page(
                ld(
                    {
                        "@context": "https://schema.org",
                        "@type": "NewsArticle",
                        "headline": "Minister resigns &#8216;over budget&#8217;",
                        "datePublished": "2019-11-18T23:03:25-08:00",
                        "author": [{"@type": "Person", "name": "Ana Núñez"}, {"name": "Bo Li"}],
                        "publisher": {"@type": "Organization", "name": "Daily Planet"},
                        "articleSection": ["Politics"],
                        "keywords": "budget, parliament",
                        "image": {"url": "https://example.com/a.jpg"},
                    }
                )
            )
        )
    )
    assert found.title == "Minister resigns \u2018over budget\u2019"
    assert found.author == "Ana Núñez; Bo Li"
    assert found.date == PageDate(datetime(2019, 11, 19, 7, 3, 25, tzinfo=UTC), True)
    assert found.sitename == "Daily Planet"
    assert found.categories == ("Politics",)
    assert found.tags == ("budget", "parliament")
    assert found.image == "https://example.com/a.jpg"
    assert {found.sources[k] for k in ("title", "author", "date", "sitename")} == {"jsonld"}


def test_graph_with_author_reference_and_array_blocks() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "@id": "#site", "name": "Site"},
            {"@type": "WebPage", "@id": "#page", "datePublished": "2001-01-01"},
            {"@type": "Person", "@id": "#ana", "name": "Ana Gomez"},
            {
                "@type": ["Article", "BlogPosting"],
                "headline": "Graph headline",
                "author": {"@id": "#ana"},
                "datePublished": "2020-02-03",
            },
        ],
    }
    found = read_page(tree(page(ld([{"@type": "BreadcrumbList"}, graph]))))
    assert found.title == "Graph headline"
    assert found.author == "Ana Gomez"
    # a WebPage's date is not the article's; a date without a time is date-only
    assert found.date == PageDate(datetime(2020, 2, 3, tzinfo=UTC), False)


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("By Jane Roe", "Jane Roe"),
        ({"@type": "Person", "name": ["Jane Roe"]}, "Jane Roe"),
        ([{"name": "https://facebook.com/jane"}, "Jane Roe"], "Jane Roe"),
        ("TOM KRISHER, AP Auto Writer", "TOM KRISHER"),
        ("Victor Tangermann, Futurism", "Victor Tangermann"),
        ({"@type": "Organization", "name": "Daily Planet"}, None),  # the publisher itself
        (12, None),
        ({"name": {"nested": "object"}}, None),
    ],
)
def test_author_shapes(author: object, expected: str | None) -> None:
    article = {"@type": "NewsArticle", "author": author, "publisher": {"name": "Daily Planet"}}
    assert read_page(tree(page(ld(article)))).author == expected


@pytest.mark.parametrize(
    "script",
    [
        '{"@type": "NewsArticle", "headline": "cut',  # truncated
        '{"@type": "NewsArticle",, }',  # broken
        "[" * 5000 + "]" * 5000,  # deep nesting
        '"just a string"',
        '{"@type": "NewsArticle", "datePublished": "yesterday", "headline": 7, "author": null}',
        '{"@type": {"odd": 1}, "@graph": "not a list"}',
        "",
    ],
)
def test_hostile_json_ld_is_skipped_and_the_meta_tags_still_read(script: str) -> None:
    head = (
        f'<script type="application/ld+json">{script}</script>'
        '<meta property="og:title" content="OG headline">'
        '<meta property="article:published_time" content="2021-05-06T07:08:09Z">'
        '<meta name="author" content="Meta Author">'
    )
    found = read_page(tree(page(head)))
    assert found.title == "OG headline"
    assert found.date == PageDate(datetime(2021, 5, 6, 7, 8, 9, tzinfo=UTC), True)
    assert found.author == "Meta Author"
    assert found.sources == {"title": "opengraph", "date": "opengraph", "author": "meta"}


# -- OpenGraph, meta tags, link, time ----------------------------------------------


def test_meta_tags_link_and_time_inside_the_article() -> None:
    head = (
        '<meta name="dc.date" content="2018-10-09">'
        '<meta property="og:site_name" content="The Paradigm">'
        '<meta property="og:url" content="https://example.com/og-url">'
        '<link rel="canonical" href="https://example.com/story">'
        '<meta property="article:section" content="Politics">'
        '<meta name="keywords" content="senate, adjournment">'
        '<meta name="description" content="What happened.">'
    )
    found = read_page(tree(page(head)))
    assert found.date == PageDate(datetime(2018, 10, 9, tzinfo=UTC), False)
    assert found.sources["date"] == "meta"
    assert found.canonical_url == "https://example.com/story"
    assert found.sitename == "The Paradigm"
    assert found.categories == ("Politics",)
    assert found.tags == ("senate", "adjournment")
    assert found.description == "What happened."
    # a <time> in the site's header is not the article's date; one inside it is
    outside = read_page(tree(page(body='<header><time datetime="2030-01-01">x</time></header>')))
    assert outside.date is None
    inside = read_page(tree(page(body='<article><time datetime="2019-11-18T17:30:00-05:00">'
                                      "Monday</time><p>x</p></article>")))  # fmt: skip
    assert inside.date == PageDate(datetime(2019, 11, 18, 22, 30, tzinfo=UTC), True)
    assert inside.sources["date"] == "time"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-11-20T06:39:53Z", PageDate(datetime(2019, 11, 20, 6, 39, 53, tzinfo=UTC), True)),
        ("2019-11-19 20:44:00", PageDate(datetime(2019, 11, 19, 20, 44, tzinfo=UTC), True)),
        ("2019-03-05T10:00:00.000-0500 EST", PageDate(datetime(2019, 3, 5, tzinfo=UTC), False)),
        ("2019-02-30", None),
        ("1850-01-01", None),
        ("Tue Nov 19 2019", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(value: str | None, expected: PageDate | None) -> None:
    assert parse_date(value) == expected


def test_person_name_refuses_urls_handles_and_junk() -> None:
    assert person_name("https://www.facebook.com/someone") is None
    assert person_name("someone@example.com") is None
    assert person_name("x" * 200) is None
    assert person_name("1234") is None
    assert person_name("Текст: Венера Ерофеева") == "Венера Ерофеева"


# -- the byline search ---------------------------------------------------------------


BYLINES = [
    '<p class="byline">By Jane Roe <time>Nov 18, 2019</time></p>',
    '<div class="comments"><span class="author">Commenter Name</span></div>'
    '<span class="author-name">Jane Roe</span>',
    '<div class="sidebar"><a rel="author">Other Writer</a></div><div class="post-author">'
    "Jane Roe and John Doe</div>",
    '<span itemprop="author">Jane Roe</span>',
    '<figure><span class="author">Photo Person</span></figure>',
    "<p>No byline at all</p>",
]


@pytest.mark.parametrize("byline", BYLINES)
def test_find_byline_agrees_with_trafilatura(byline: str) -> None:
    html = page(body=f"<header>{byline}</header>{BODY}")
    assert find_byline(tree(html)) == extract_author(tree(html))


# -- the cascade in extract_page ------------------------------------------------------


def test_structured_data_first_then_the_searches() -> None:
    head = ld({"@type": "NewsArticle", "headline": "LD headline", "author": "Ana Gomez"})
    got = extract_page(page(head).encode(), "https://example.com/story", "utf-8")
    assert (got.title, got.author) == ("LD headline", "Ana Gomez")
    assert got.sources["title"] == got.sources["author"] == "jsonld"
    bare = page(body='<header><p class="byline">By Jane Roe</p></header>' + BODY)
    searched = extract_page(bare.encode(), "https://example.com/story", "utf-8")
    assert searched.author == "Jane Roe" and searched.sources["author"] == "byline"
    assert searched.title and searched.sources["title"] == "trafilatura"


def test_what_the_feed_gives_is_not_searched_for() -> None:
    bare = page(body='<header><p class="byline">By Jane Roe</p><p>Nov 18, 2019</p></header>' + BODY)
    entry = ParsedEntry(
        link="https://example.com/story",
        guid="g",
        title="Feed title",
        author="Feed Author",
        published=datetime(2019, 11, 18, tzinfo=UTC),
    )
    got = extract_page(bare.encode(), "https://example.com/story", "utf-8", entry=entry)
    assert got.title is None and got.author is None and got.date is None
    assert not {"title", "author", "date"} & got.sources.keys()
    assert got.text and "resigned on Monday" in got.text


def test_text_is_what_bare_extraction_gives() -> None:
    html = page(ld({"@type": "NewsArticle", "headline": "x"}))
    document = trafilatura.bare_extraction(html, url="https://example.com/s", **TRAFILATURA_OPTIONS)
    got = extract_page(html.encode(), "https://example.com/s", "utf-8")
    assert isinstance(document, Document) and document.text
    assert got.text == clean_text(document.text)


def test_unparseable_page_is_an_error_not_an_exception() -> None:
    got = extract_page(b"\x00\x01", "https://example.com/s", "utf-8")
    assert got.text is None and got.error


# -- parsing the page once ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "charset"),
    [
        (page(ld({"@type": "NewsArticle", "headline": "Été à Zürich"})).encode(), "utf-8"),
        (page().encode() + b"\xff\xfe broken utf-8", "utf-8"),  # invalid bytes: load_html
        (page().replace("<p>", "<p>\x0b", 1).encode(), "UTF-8"),  # a control character
        (page("<meta charset='latin-1'>").encode("latin-1"), "iso-8859-1"),
        (page().encode(), None),
    ],
)
def test_parse_html_builds_the_tree_load_html_builds(content: bytes, charset: str | None) -> None:
    ours = parse_html(content, charset)
    theirs = load_html(content.decode(charset or "utf-8", errors="replace"))
    assert ours is not None and theirs is not None
    assert etree.tostring(ours) == etree.tostring(theirs)


@pytest.mark.parametrize("content", [b"", b"just some words, no markup", b"\x00\x01\x02"])
def test_parse_html_rejects_what_load_html_rejects(content: bytes) -> None:
    assert (parse_html(content, "utf-8") is None) == (
        load_html(content.decode("utf-8", errors="replace")) is None
    )
