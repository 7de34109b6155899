"""Feed parsing (pure): feedparser on the bytes the fetcher got -> :class:`ParsedFeed`.

feedparser is only ever handed bytes, never a URL, so it does no network I/O.
Malformed ("bozo") documents still yield whatever entries feedparser could
read; the reason is kept in ``ParsedFeed.bozo``.  A document that yields no
entry records why in ``ParsedFeed.problem``.  feedparser does not read JSON Feed:
a JSON document goes to :mod:`monitor.pipeline.jsonfeed` instead.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import charset_normalizer
import feedparser

from monitor.pipeline.jsonfeed import looks_like_json, parse_json_feed
from monitor.pipeline.text import clean_text, html_to_text, strip_controls
from monitor.pipeline.types import ParsedEntry, ParsedFeed

_HTML_TYPES = ("text/html", "application/xhtml+xml")


_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*\bencoding\s*=", re.IGNORECASE)
# what feedparser falls back to when a document's declared (or default) encoding fails
_FALLBACKS = {"windows-1252", "cp1252", "iso-8859-2"}


def _plausible(raw: Any) -> bool:
    """False for a date string whose fields are out of range (``2024-13-45T99:99``):
    feedparser rolls those over into a made-up date instead of refusing them."""
    if not isinstance(raw, str):
        return True
    iso = _ISO_DATE.match(raw)
    if iso:
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in iso.groups())
        try:
            datetime(year, month, day, hour, minute, second)
        except ValueError:
            return False
        return True
    if re.search(r"\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}", raw):
        try:
            parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return False
    return True


def _datetime(value: Any, raw: Any = None) -> datetime | None:
    if not value or not _plausible(raw):
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
    guid = strip_controls(str(entry.get("id"))) if entry.get("id") else None
    summary_detail = entry.get("summary_detail") or {}
    categories = tuple(
        dict.fromkeys(
            clean_text(str(tag.get("term")))
            for tag in entry.get("tags") or ()
            if tag.get("term") and clean_text(str(tag.get("term")))
        )
    )
    return ParsedEntry(
        link=urljoin(base, strip_controls(str(link)).strip()) if link else None,
        guid=str(guid).strip() if guid else None,
        title=_text(entry.get("title"), (entry.get("title_detail") or {}).get("type")),
        author=clean_text(str(entry["author"])) if entry.get("author") else None,
        # dict.get: FeedParserDict's own lookup falls back from updated to published.
        published=_datetime(dict.get(entry, "published_parsed"), dict.get(entry, "published")),
        updated=_datetime(dict.get(entry, "updated_parsed"), dict.get(entry, "updated")),
        summary=_text(entry.get("summary"), summary_detail.get("type")),
        content_text=_content_text(entry),
        categories=categories,
        image=_image(entry, base),
        language=(summary_detail.get("language") or language or None),
    )


_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}));")


def _valid_charrefs(content: bytes) -> bytes:
    """Character references to no character (a surrogate, past U+10FFFF) become U+FFFD:
    feedparser's loose parser raises on them, which failed the whole feed."""

    def fix(match: re.Match[bytes]) -> bytes:
        hexa, decimal = match.groups()
        value = int(hexa, 16) if hexa else int(decimal)
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            return b"&#xFFFD;"
        return match.group(0)

    return _CHARREF.sub(fix, content) if b"&#" in content else content


def parse_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document fetched from ``url`` (its final URL after redirects)."""
    if looks_like_json(content, content_type):
        return parse_json_feed(content, url, content_type)
    content = _valid_charrefs(content)
    headers = {"content-location": url}
    if content_type:  # may carry the charset of the HTTP header
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=True)
        redetected = _redetect(content, parsed, content_type)
        if redetected is not None:
            headers["content-type"] = "application/xml; charset=utf-8"
            parsed = feedparser.parse(redetected, response_headers=headers, sanitize_html=True)
    except (ValueError, OverflowError, UnicodeError) as error:
        # feedparser's loose parser trips on some broken documents (an undecodable
        # encoding name in the XML declaration): the feed is unreadable, not a defect.
        why = f"{type(error).__name__}: {error}"
        return ParsedFeed(
            title=None,
            link=url,
            language=None,
            entries=(),
            bozo=why,
            problem=f"not a readable feed: the parser failed ({why})",
        )
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
        if not content.strip():
            problem = f"empty response ({len(content)} bytes): the server sent no feed"
        elif parsed.get("version") and not bozo:
            problem = "the feed has no entries"
        elif parsed.get("version"):
            problem = f"not a readable feed: {bozo}"
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


def _redetect(content: bytes, parsed: Any, content_type: str | None) -> bytes | None:
    """The document re-encoded as UTF-8 when it declared no encoding anywhere, was not
    UTF-8, and feedparser fell back to Windows-1252: a Windows-1256 Arabic feed read as
    1252 is mojibake.  The encoding is then detected from the bytes (charset-normalizer);
    None when there is nothing better to do."""
    if (parsed.get("encoding") or "").lower() not in _FALLBACKS:
        return None
    if content_type and "charset=" in content_type.lower():
        return None
    if _DECLARED_ENCODING.match(content[:200]):
        return None
    best = charset_normalizer.from_bytes(content[:65536]).best()
    if best is None or best.encoding.replace("_", "-").lower() in _FALLBACKS:
        return None
    try:
        text = content.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return text.encode("utf-8")
