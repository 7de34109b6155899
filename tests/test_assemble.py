"""assemble(): feed entry + page extraction -> ItemDraft (pure, no database)."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.pipeline.assemble import FEED_VERSION, assemble, choose_canonical
from monitor.pipeline.extract import EXTRACTOR_VERSION, METHOD, compress, decompress
from monitor.pipeline.text import normalised_text_hash
from monitor.pipeline.types import (
    Extraction,
    Fetched,
    ItemDraft,
    Outcome,
    PageDate,
    ParsedEntry,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINK = "https://news.example.com/2026/03/01/story/?utm_source=rss"
FINAL = "https://news.example.com/2026/03/01/story/"

ENTRY = ParsedEntry(
    link=LINK,
    guid="urn:story:1",
    title="Feed title",
    author="Feed Author",
    published=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    updated=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
    summary="Feed summary of the story.",
    content_text="Feed content: the whole story as the feed carried it.",
    categories=("politics", "Economy"),
    image="https://news.example.com/feed.jpg",
    language="fr",
)
PAGE = Fetched(
    url=LINK,
    outcome=Outcome.OK,
    final_url=FINAL,
    status=200,
    content=b"<html></html>",
    content_type="text/html",
    charset="utf-8",
)
EXTRACTION = Extraction(
    text="Page text: the article body as extracted from the page.",
    title="Page title",
    author="Page Author",
    date=PageDate(datetime(2026, 3, 1, 8, 15, tzinfo=UTC), has_time=True),
    sitename="Example News",
    description="Page description.",
    language="en",
    categories=("Politics",),
    tags=("Elections",),
    image="https://news.example.com/page.jpg",
    canonical_url="https://news.example.com/2026/03/01/story/",
    raw_html=b"compressed",
)


def run(
    entry: ParsedEntry = ENTRY,
    page: Fetched | None = PAGE,
    extraction: Extraction | None = EXTRACTION,
    *,
    full_text: bool = True,
    now: datetime = NOW,
    feed_title: str | None = "Example feed",
    feed_language: str | None = "de",
) -> ItemDraft:
    return assemble(
        entry,
        page,
        extraction,
        feed_title=feed_title,
        feed_language=feed_language,
        full_text=full_text,
        now=now,
    )


def test_feed_gives_title_author_and_date_the_page_the_rest() -> None:
    draft = run()
    assert draft.url == FINAL
    assert draft.canonical_url == FINAL
    assert draft.guid == "urn:story:1"
    assert draft.title == "Feed title"
    assert draft.author == "Feed Author"
    assert draft.summary == "Page description."
    assert draft.text == EXTRACTION.text
    assert draft.language == "en"
    assert draft.site_name == "Example News"
    assert draft.image_url == "https://news.example.com/page.jpg"
    assert draft.published_at == ENTRY.published
    assert draft.updated_at == ENTRY.updated
    assert draft.extraction_method == METHOD
    assert draft.extractor_version == EXTRACTOR_VERSION
    assert draft.fetch_status == 200
    assert draft.fetch_error is None
    assert draft.raw_html == b"compressed"
    assert draft.page_charset == "utf-8"
    for name in ("text", "summary", "language", "site_name", "image_url"):
        assert draft.field_sources[name] == "page", name
    for name in ("title", "author", "published_at"):
        assert draft.field_sources[name] == "feed", name


def test_page_fields_fill_what_the_feed_lacks() -> None:
    entry = replace(ENTRY, title=None, author=None, published=None)
    draft = run(entry=entry)
    assert draft.title == "Page title"
    assert draft.author == "Page Author"
    assert draft.published_at == datetime(2026, 3, 1, 8, 15, tzinfo=UTC)
    for name in ("title", "author", "published_at"):
        assert draft.field_sources[name] == "page", name


def test_field_sources_say_where_on_the_page() -> None:
    sources = {
        "title": "jsonld",
        "author": "byline",
        "date": "htmldate",
        "sitename": "opengraph",
        "description": "meta",
        "image": "opengraph",
        "categories": "jsonld",
        "tags": "meta",
    }
    entry = replace(ENTRY, title=None, author=None, published=None, categories=("Economy",))
    draft = run(entry=entry, extraction=replace(EXTRACTION, sources=sources))
    assert draft.field_sources == {
        "text": "page",
        "title": "jsonld",
        "author": "byline",
        "published_at": "htmldate",
        "site_name": "opengraph",
        "summary": "meta",
        "image_url": "opengraph",
        "language": "page",  # not in sources: an extraction that does not say
        "categories": "jsonld+meta+feed",
    }


def test_feed_fields_fill_what_the_page_lacks() -> None:
    bare = Extraction(text="Only the body was found on the page.")
    draft = run(extraction=bare)
    assert draft.text == bare.text
    assert draft.title == "Feed title"
    assert draft.author == "Feed Author"
    assert draft.summary == ENTRY.summary
    assert draft.language == "fr"
    assert draft.site_name == "Example feed"
    assert draft.image_url == ENTRY.image
    assert draft.published_at == ENTRY.published
    assert draft.categories == ("politics", "Economy")
    assert draft.field_sources == {
        "text": "page",
        "title": "feed",
        "author": "feed",
        "summary": "feed",
        "language": "feed",
        "site_name": "feed",
        "image_url": "feed",
        "published_at": "feed",
        "categories": "feed",
    }


def test_language_falls_back_to_the_configured_one() -> None:
    draft = run(entry=replace(ENTRY, language=None), extraction=Extraction(text="Body."))
    assert draft.language == "de"
    assert draft.field_sources["language"] == "config"
    nothing = run(
        entry=replace(ENTRY, language=None, title="2026"),
        extraction=Extraction(text="12 345."),
        feed_language=None,
    )
    assert nothing.language is None  # no words to read a language from
    assert "language" not in nothing.field_sources


@pytest.mark.parametrize(
    ("title", "text", "language"),
    [
        ("Talks resume", "The foreign ministry said talks would resume next week.", "en"),
        (
            "Reprise",
            "Le ministère a annoncé la reprise des négociations la semaine prochaine.",
            "fr",
        ),
        ("گفت‌وگوها", "وزارت امور خارجه اعلام کرد که گفت‌وگوها هفته آینده از سر گرفته می‌شود.", "fa"),
        ("المحادثات", "أعلنت وزارة الخارجية أن المحادثات ستستأنف الأسبوع المقبل في العاصمة.", "ar"),
    ],
)
def test_an_undeclared_language_is_detected_from_the_words(
    title: str, text: str, language: str
) -> None:
    draft = run(
        entry=replace(ENTRY, language=None, title=title),
        extraction=Extraction(text=text),
        feed_language=None,
    )
    assert draft.language == language
    assert draft.field_sources["language"] == "detected"


def test_a_declared_language_is_never_replaced_by_a_detected_one() -> None:
    draft = run(
        entry=replace(ENTRY, language="en"),
        extraction=Extraction(text="Le ministère a annoncé la reprise des négociations."),
    )
    assert (draft.language, draft.field_sources["language"]) == ("en", "feed")


def test_extraction_failure_falls_back_to_feed_content() -> None:
    failed = Extraction(text=None, error="no main content found", title="Page title")
    draft = run(extraction=failed)
    assert draft.text == ENTRY.content_text
    assert draft.extraction_method == "feed-content"
    assert draft.extractor_version == FEED_VERSION
    assert draft.field_sources["text"] == "feed_content"
    assert draft.fetch_error == "no main content found"
    assert draft.canonical_url == FINAL


def test_extraction_failure_without_feed_content_uses_the_summary() -> None:
    failed = Extraction(text=None, error="no main content found")
    draft = run(entry=replace(ENTRY, content_text=None), extraction=failed)
    assert draft.text == ENTRY.summary
    assert draft.extraction_method == "feed-summary"
    assert draft.field_sources["text"] == "feed_summary"


def test_no_text_anywhere() -> None:
    entry = replace(ENTRY, content_text=None, summary=None)
    draft = run(entry=entry, extraction=Extraction(text=None, error="boom"))
    assert draft.text is None
    assert draft.extraction_method == "none"
    assert draft.word_count == 0
    assert draft.content_hash is None
    assert "text" not in draft.field_sources


def test_full_text_off_uses_feed_text_even_with_a_page() -> None:
    draft = run(full_text=False)
    assert draft.text == ENTRY.content_text
    assert draft.extraction_method == "feed-content"
    assert draft.extractor_version == FEED_VERSION
    assert draft.field_sources["text"] == "feed_content"
    summary_only = run(entry=replace(ENTRY, content_text=None), full_text=False)
    assert summary_only.text == ENTRY.summary
    assert summary_only.extraction_method == "feed-summary"


def test_no_page_at_all() -> None:
    draft = run(page=None, extraction=None)
    assert draft.url == LINK
    assert draft.canonical_url == FINAL  # the tracking parameter is gone
    assert draft.text == ENTRY.content_text
    assert draft.fetch_status is None
    assert draft.raw_html is None


def test_page_error_is_reported() -> None:
    page = replace(PAGE, status=503, error="HTTP 503", outcome=Outcome.TEMPORARY)
    draft = run(page=page, extraction=None)
    assert draft.fetch_status == 503
    assert draft.fetch_error == "HTTP 503"
    assert draft.extraction_method == "feed-content"


# -- dates ------------------------------------------------------------------------


def with_page_date(value: datetime, has_time: bool = True) -> Extraction:
    return replace(EXTRACTION, date=PageDate(value, has_time))


def test_page_date_in_the_future_is_refused() -> None:
    entry = replace(ENTRY, published=None)
    draft = run(entry=entry, extraction=with_page_date(NOW + timedelta(hours=2)))
    assert draft.published_at == ENTRY.updated
    assert draft.field_sources["published_at"] == "feed_updated"


def test_page_date_within_the_skew_is_accepted() -> None:
    entry = replace(ENTRY, published=None)
    draft = run(entry=entry, extraction=with_page_date(NOW + timedelta(minutes=10)))
    assert draft.published_at == NOW + timedelta(minutes=10)
    assert draft.field_sources["published_at"] == "page"


def test_feed_date_in_the_future_is_refused() -> None:
    entry = replace(ENTRY, published=NOW + timedelta(days=1), updated=None)
    draft = run(entry=entry, page=None, extraction=None)
    assert draft.published_at is None
    assert "published_at" not in draft.field_sources


def test_future_feed_published_falls_back_to_feed_updated() -> None:
    entry = replace(ENTRY, published=NOW + timedelta(days=1))
    draft = run(entry=entry, page=None, extraction=None)
    assert draft.published_at == ENTRY.updated
    assert draft.field_sources["published_at"] == "feed_updated"


def test_future_feed_updated_is_dropped() -> None:
    entry = replace(ENTRY, updated=NOW + timedelta(days=1))
    assert run(entry=entry).updated_at is None


def test_everything_in_the_future_gives_no_date() -> None:
    entry = replace(ENTRY, published=NOW + timedelta(hours=3), updated=NOW + timedelta(hours=4))
    draft = run(entry=entry, extraction=with_page_date(NOW + timedelta(hours=2)))
    assert draft.published_at is None
    assert draft.updated_at is None


def test_feed_published_wins_over_any_page_date() -> None:
    for page_date in (
        with_page_date(datetime(2026, 3, 1, 7, 0, tzinfo=UTC)),
        with_page_date(datetime(2026, 2, 27, tzinfo=UTC), has_time=False),
    ):
        draft = run(extraction=page_date)
        assert draft.published_at == ENTRY.published
        assert draft.field_sources["published_at"] == "feed"


def test_page_date_wins_over_the_feed_updated_time() -> None:
    page_day = datetime(2026, 2, 27, tzinfo=UTC)
    draft = run(entry=replace(ENTRY, published=None), extraction=with_page_date(page_day, False))
    assert draft.published_at == page_day
    assert draft.field_sources["published_at"] == "page"


# -- canonical URL ----------------------------------------------------------------


def test_same_site_declared_canonical_is_used() -> None:
    declared = "https://example.com/news/story-canonical?utm_medium=x"
    got = choose_canonical("https://www.example.com/news/story?amp=1", declared)
    assert got == "https://example.com/news/story-canonical"


def test_relative_declared_canonical_is_resolved() -> None:
    got = choose_canonical("https://example.com/news/story?page=2", "/news/story")
    assert got == "https://example.com/news/story"


def test_other_site_canonical_is_ignored() -> None:
    got = choose_canonical("https://example.com/news/story", "https://aggregator.net/copy/1")
    assert got == "https://example.com/news/story"


def test_home_page_canonical_is_ignored() -> None:
    assert choose_canonical("https://example.com/news/story", "https://example.com/") == (
        "https://example.com/news/story"
    )
    assert choose_canonical("https://example.com/news/story", "https://example.com") == (
        "https://example.com/news/story"
    )
    # ... unless the page is the home page itself
    assert choose_canonical("https://example.com/?utm_source=x", "https://example.com/") == (
        "https://example.com/"
    )


def test_no_declared_canonical() -> None:
    got = choose_canonical("HTTPS://Example.com:443/a?utm_source=rss#x", None)
    assert got == "https://example.com/a"


def test_assemble_uses_the_declared_canonical() -> None:
    ext = replace(EXTRACTION, canonical_url="/2026/03/01/the-story/")
    assert run(extraction=ext).canonical_url == "https://news.example.com/2026/03/01/the-story/"
    # a failed extraction's canonical is not trusted: ext is dropped as a whole
    failed = replace(ext, text=None)
    assert run(extraction=failed).canonical_url == FINAL


# -- text measures ----------------------------------------------------------------


def test_word_count() -> None:
    ext = replace(EXTRACTION, text="One two, three-four.\n\nFive   six 2026 l'été")
    assert run(extraction=ext).word_count == 9


@pytest.mark.parametrize(
    "variant",
    [
        "ÉLAN vital, à l'été.",
        "elan   VITAL a l ete",
        "Élan\nvital — à l\u2019été!",
        "e\u0301lan vital a\u0300 l'e\u0301te\u0301",  # decomposed accents
    ],
)
def test_content_hash_is_normalised(variant: str) -> None:
    reference = run(extraction=replace(EXTRACTION, text="Élan vital, à l'été.")).content_hash
    assert reference is not None
    assert run(extraction=replace(EXTRACTION, text=variant)).content_hash == reference


def test_content_hash_changes_with_the_words() -> None:
    a = run(extraction=replace(EXTRACTION, text="The minister resigned on Monday.")).content_hash
    b = run(extraction=replace(EXTRACTION, text="The minister resigned on Tuesday.")).content_hash
    assert a != b
    assert a == normalised_text_hash("the minister resigned on monday")


# -- categories -------------------------------------------------------------------


def test_categories_are_merged_case_insensitively() -> None:
    ext = replace(EXTRACTION, categories=("Politics", "POLITICS"), tags=("Middle East",))
    entry = replace(ENTRY, categories=("politics", "MIDDLE EAST", "Economy"))
    draft = run(entry=entry, extraction=ext)
    assert draft.categories == ("Politics", "Middle East", "Economy")
    assert draft.field_sources["categories"] == "page+feed"


def test_categories_only_from_the_page_when_the_feed_adds_nothing() -> None:
    ext = replace(EXTRACTION, categories=("Politics",), tags=())
    draft = run(entry=replace(ENTRY, categories=("POLITICS",)), extraction=ext)
    assert draft.categories == ("Politics",)
    assert draft.field_sources["categories"] == "page"


def test_no_categories() -> None:
    ext = replace(EXTRACTION, categories=(), tags=())
    draft = run(entry=replace(ENTRY, categories=()), extraction=ext)
    assert draft.categories == ()
    assert "categories" not in draft.field_sources


KEPT = "<html><body><p>Kept page, déjà vu, منزل.</p></body></html>".encode() * 40


def test_kept_page_round_trips_and_is_smaller() -> None:
    kept = compress(KEPT)
    assert len(kept) < len(KEPT) / 4
    assert decompress(kept) == KEPT


@pytest.mark.parametrize("level", [1, 6, 9])
def test_pages_kept_by_earlier_versions_still_read(level: int) -> None:
    assert decompress(zlib.compress(KEPT, level)) == KEPT  # before 0.4 pages were zlib streams
