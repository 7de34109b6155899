"""Feed parsing (pure): feedparser on the bytes the fetcher got -> :class:`ParsedFeed`.

feedparser is only ever handed bytes, never a URL, so it does no network I/O.
Malformed ("bozo") documents still yield whatever entries feedparser could
read; the reason is kept in ``ParsedFeed.bozo``.  A document that yields no
entry records why in ``ParsedFeed.problem``.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitor.pipeline.text import clean_text, html_to_text
from monitor.pipeline.types import ParsedEntry, ParsedFeed

_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _text(value: Any, kind: str | None = None) -> str | None:
    if not value or not isinstance(value, str):
        return None
    text = html_to_text(value) if (kind or "text/html") in _HTML_TYPES else clean_text(value)
    return text or None


def _content_text(entry: Mapping[str, Any]) -> str | None:
    best: str | None = None
    for content in entry.get("content") or ():
        text = _text(content.get("value"), content.get("type"))
        if text and (best is None or len(text) > len(best)):
            best = text
    return best


def _image(entry: Mapping[str, Any], base: str) -> str | None:
    for key in ("media_content", "media_thumbnail"):
        for media in entry.get(key) or ():
            url = media.get("url")
            if url and (media.get("medium") in (None, "image") or key == "media_thumbnail"):
                return urljoin(base, str(url))
    for enclosure in entry.get("enclosures") or ():
        if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
            return urljoin(base, str(enclosure["href"]))
    image = entry.get("image")
    if isinstance(image, Mapping) and image.get("href"):
        return urljoin(base, str(image["href"]))
    return None


def _entry(entry: dict[str, Any], base: str, language: str | None) -> ParsedEntry:
    link = entry.get("link")
    if not link:
        link = next(
            (lk.get("href") for lk in entry.get("links") or () if lk.get("rel") == "alternate"),
            None,
        )
    guid = entry.get("id") or None
    summary_detail = entry.get("summary_detail") or {}
    categories = tuple(
        dict.fromkeys(
            str(tag.get("term")).strip()
            for tag in entry.get("tags") or ()
            if tag.get("term") and str(tag.get("term")).strip()
        )
    )
    return ParsedEntry(
        link=urljoin(base, str(link).strip()) if link else None,
        guid=str(guid).strip() if guid else None,
        title=_text(entry.get("title"), (entry.get("title_detail") or {}).get("type")),
        author=clean_text(str(entry["author"])) if entry.get("author") else None,
        # dict.get: FeedParserDict's own lookup falls back from updated to published.
        published=_datetime(dict.get(entry, "published_parsed")),
        updated=_datetime(dict.get(entry, "updated_parsed")),
        summary=_text(entry.get("summary"), summary_detail.get("type")),
        content_text=_content_text(entry),
        categories=categories,
        image=_image(entry, base),
        language=(summary_detail.get("language") or language or None),
    )


def parse_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document fetched from ``url`` (its final URL after redirects)."""
    headers = {"content-location": url}
    if content_type:  # may carry the charset of the HTTP header
        headers["content-type"] = content_type
    parsed = feedparser.parse(content, response_headers=headers, sanitize_html=True)
    feed = parsed.get("feed") or {}
    base = str(feed.get("link") or url)
    base = urljoin(url, base)
    language = feed.get("language") or None
    mime = content_type.split(";")[0].strip().lower() if content_type else None
    entries = tuple(_entry(e, url, language) for e in parsed.get("entries") or ())
    bozo = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        bozo = f"{type(exc).__name__}: {exc}" if exc else "malformed document"
    problem = None
    if not entries:
        if parsed.get("version"):
            problem = "the feed has no entries"
        elif mime in _HTML_TYPES or content.lstrip()[:15].lower().startswith(
            (b"<!doctype html", b"<html")
        ):
            problem = "this URL serves an HTML page, not a feed; look for its RSS/Atom link"
        else:
            problem = f"not a feed: {bozo or 'no RSS, Atom or JSON feed found'}"
    return ParsedFeed(
        title=clean_text(feed["title"]) if feed.get("title") else None,
        link=base,
        language=language,
        entries=entries,
        bozo=bozo,
        problem=problem,
    )
