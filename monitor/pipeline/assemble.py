"""Assembly (pure): feed entry + page extraction -> :class:`ItemDraft`.

Title, author and publication date come from the feed entry first: the pool
task does not search the page for what the feed already said (extract.py).  The
other fields prefer the page.  The source chosen is recorded in
``field_sources``: ``feed`` (``feed_updated`` for a date the feed gives only as
its update time) or where on the page the value was read (``jsonld``,
``opengraph``, ``meta``, ``link``, ``time``, ``byline``, ``trafilatura``, ``htmldate``;
``page`` for an extraction that does not say).  Publication dates later than
``now`` plus the allowed clock skew are refused in favour of the next source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar
from urllib.parse import urlsplit

from monitor.config import Settings
from monitor.pipeline.canonical import canonicalize, same_site
from monitor.pipeline.extract import EXTRACTOR_VERSION, METHOD, extract_page
from monitor.pipeline.language import detect_language
from monitor.pipeline.sketch import sketch_text
from monitor.pipeline.text import normalised_text_hash, word_count
from monitor.pipeline.types import Extraction, Fetched, ItemDraft, Outcome, ParsedEntry

FEED_VERSION = "feed/1"
T = TypeVar("T")


def choose_canonical(
    final_url: str, declared: str | None, extra_tracking: Iterable[str] = ()
) -> str:
    """Canonical URL: the page's declared canonical when on the same site, else the final URL."""
    own = canonicalize(final_url, extra_tracking=extra_tracking)
    if not declared:
        return own
    candidate = canonicalize(declared, base=final_url, extra_tracking=extra_tracking)
    if not same_site(candidate, own):
        return own
    # A canonical pointing at the home page is a theme bug, not a statement about the article.
    if urlsplit(candidate).path in ("", "/") and urlsplit(own).path not in ("", "/"):
        return own
    return candidate


def _pick(sources: dict[str, str], name: str, *candidates: tuple[str, T | None]) -> T | None:
    """First non-empty candidate; its source is written to ``sources[name]``."""
    for source, value in candidates:
        if value:
            sources[name] = source
            return value
    return None


def _page_source(ext: Extraction | None, name: str) -> str:
    return ext.sources.get(name, "page") if ext else "page"


def choose_published(
    page: Extraction | None, entry: ParsedEntry, now: datetime, skew: timedelta
) -> tuple[datetime | None, str | None]:
    """The feed's published time, else the page's date, else the feed's updated time."""
    limit = now + skew
    if entry.published is not None and entry.published <= limit:
        return entry.published, "feed"
    if page and page.date and page.date.value <= limit:
        return page.date.value, _page_source(page, "date")
    if entry.updated is not None and entry.updated <= limit:
        return entry.updated, "feed_updated"
    return None, None


def _merge_lists(*groups: tuple[str, Iterable[str]]) -> tuple[tuple[str, ...], str | None]:
    merged: dict[str, None] = {}
    sources = []
    for source, values in groups:
        before = len(merged)
        merged.update(
            (v, None) for v in values if v.casefold() not in {m.casefold() for m in merged}
        )
        if len(merged) > before:
            sources.append(source)
    return tuple(merged), "+".join(sources) or None


def assemble(
    entry: ParsedEntry,
    page: Fetched | None,
    extraction: Extraction | None,
    *,
    feed_title: str | None,
    feed_language: str | None,
    full_text: bool,
    now: datetime,
    future_skew: timedelta = timedelta(minutes=15),
    extra_tracking: Iterable[str] = (),
) -> ItemDraft:
    """Merge what the feed said about an entry with what its page said."""
    link = entry.link or ""
    # A page that failed (or was refused) does not name the article: its entry's link does.
    arrived = page is not None and page.outcome is Outcome.OK and page.final_url
    final_url = (page.final_url if arrived and page else None) or link
    ext = extraction if extraction and extraction.text else None
    sources: dict[str, str] = {}

    def pick(name: str, *candidates: tuple[str, str | None]) -> str | None:
        return _pick(sources, name, *candidates)

    def src(name: str) -> str:
        return _page_source(ext, name)

    if full_text:
        text = pick(
            "text",
            ("page", ext.text if ext else None),
            ("feed_content", entry.content_text),
            ("feed_summary", entry.summary),
        )
    else:
        text = pick("text", ("feed_content", entry.content_text), ("feed_summary", entry.summary))
    method = {
        "page": METHOD,
        "feed_content": "feed-content",
        "feed_summary": "feed-summary",
    }.get(sources.get("text", ""), "none")
    published, published_source = choose_published(ext, entry, now, future_skew)
    if published_source:
        sources["published_at"] = published_source
    updated = entry.updated if entry.updated and entry.updated <= now + future_skew else None
    page_lists = "+".join(
        dict.fromkeys(
            _page_source(ext, n) for n in ("categories", "tags") if ext and getattr(ext, n)
        )
    )
    categories, categories_source = _merge_lists(
        (page_lists or "page", (ext.categories + ext.tags) if ext else ()),
        ("feed", entry.categories),
    )
    if categories_source:
        sources["categories"] = categories_source
    title = pick("title", ("feed", entry.title), (src("title"), ext.title if ext else None))
    language = pick(
        "language",
        (src("language"), ext.language if ext else None),
        ("feed", entry.language),
        ("config", feed_language),
    )
    if language is None:  # nobody declared it: read it from the words
        language = pick("language", ("detected", detect_language(title, text)))
    return ItemDraft(
        url=final_url,
        canonical_url=choose_canonical(
            final_url, ext.canonical_url if ext else None, extra_tracking
        ),
        guid=entry.guid,
        title=title,
        author=pick("author", ("feed", entry.author), (src("author"), ext.author if ext else None)),
        published_at=published,
        updated_at=updated,
        summary=pick(
            "summary",
            (src("description"), ext.description if ext else None),
            ("feed", entry.summary),
        ),
        text=text,
        language=language,
        site_name=pick(
            "site_name", (src("sitename"), ext.sitename if ext else None), ("feed", feed_title)
        ),
        categories=categories,
        image_url=pick(
            "image_url", (src("image"), ext.image if ext else None), ("feed", entry.image)
        ),
        word_count=word_count(text),
        content_hash=normalised_text_hash(text),
        extraction_method=method,
        extractor_version=EXTRACTOR_VERSION if method == METHOD else FEED_VERSION,
        field_sources=sources,
        fetch_status=page.status if page else None,
        fetch_error=(page.error if page else None) or (extraction.error if extraction else None),
        raw_html=extraction.raw_html if extraction else None,
        page_charset=page.charset if page else None,
        sketch=sketch_text(text),
        entry_updated=entry.updated or entry.published,
    )


def extract_and_assemble(
    entry: ParsedEntry,
    page: Fetched,
    *,
    feed_title: str | None,
    feed_language: str | None,
    now: datetime,
    future_skew: timedelta,
    keep_raw: bool,
    extra_tracking: Iterable[str] = (),
) -> ItemDraft:
    """Extraction then assembly, as one process-pool task: only the draft travels back."""
    extraction = extract_page(
        page.content, page.final_url or entry.link or "", page.charset, keep_raw, entry
    )
    return assemble(
        entry,
        page,
        extraction,
        feed_title=feed_title,
        feed_language=feed_language,
        full_text=True,
        now=now,
        future_skew=future_skew,
        extra_tracking=extra_tracking,
    )


def extraction_job(
    settings: Settings, *, feed_title: str | None, feed_language: str | None, now: datetime
) -> Callable[[ParsedEntry, Fetched], ItemDraft]:
    """:func:`extract_and_assemble` with the configured extraction and dedup settings, as
    one picklable callable for the process pool (a new page, or one fetched again)."""
    return partial(
        extract_and_assemble,
        feed_title=feed_title,
        feed_language=feed_language,
        now=now,
        future_skew=timedelta(seconds=settings.extract.future_skew),
        keep_raw=settings.extract.keep_raw_html,
        extra_tracking=tuple(settings.dedup.tracking_params),
    )
