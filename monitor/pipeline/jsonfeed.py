"""JSON Feed 1.0 and 1.1 parsing (pure): feed bytes -> :class:`ParsedFeed`.

feedparser reads RSS, Atom and RDF only, so :func:`monitor.pipeline.parse.parse_feed`
hands a JSON document here (see :func:`looks_like_json`).  The result is the same typed
value the XML formats give, so nothing downstream knows which format a feed used.

The spec is https://www.jsonfeed.org/version/1.1/.  Choices made where it leaves room:

* ``url`` is an item's link; ``external_url`` (what a link-blog post points at) is the
  link only when ``url`` is missing.  The outlet's own post is what it published, and
  the story it links to is another outlet's item, found through that outlet's feed.
* The first author with a name is the author: the item's ``authors`` (1.1), else its
  ``author`` (1.0), else the feed's, as the spec says top-level authors apply to items.
* ``content_text`` is the fuller of ``content_html`` (as plain text) and ``content_text``.
* ``image``, else ``banner_image``, else the first ``image/*`` attachment, is the image;
  other attachments (a podcast's audio) are not article text and are ignored.
* Keys starting with ``_`` are extensions and are never read.

Wrong shapes never raise.  A field of the wrong type is treated as absent and an item
that is not an object is skipped, each with a note in ``ParsedFeed.bozo``; a document
that is not JSON, or not a JSON Feed, records why in ``ParsedFeed.problem``.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

from monitor.pipeline.text import clean_text, html_to_text, strip_controls
from monitor.pipeline.types import ParsedEntry, ParsedFeed

JSON_TYPES = frozenset({"application/feed+json", "application/json", "text/json"})
KNOWN_VERSIONS = frozenset({"https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1"})
# UTF-32's marks before UTF-16's: the UTF-32-LE mark starts with the UTF-16-LE one
_BOMS = (
    codecs.BOM_UTF8,
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
)
_MAX_NOTES = 5  # bozo keeps the first few notes and counts the rest


def _mime(content_type: str | None) -> str | None:
    return content_type.split(";")[0].strip().lower() if content_type else None


def _first_byte(content: bytes) -> bytes:
    """The first significant byte: byte-order marks, whitespace and the NULs of UTF-16
    and UTF-32 skipped."""
    head = content[:256]
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    return head.replace(b"\x00", b"").lstrip()[:1]


def looks_like_json(content: bytes, content_type: str | None) -> bool:
    """True when this document is for the JSON Feed parser rather than feedparser.

    A body starting with ``{`` is JSON whatever it was served as (no XML starts so).  A
    JSON content type counts unless the body starts with ``<``: a server that labels its
    RSS ``application/json`` still gets its feed read by feedparser."""
    first = _first_byte(content)
    if first == b"{":
        return True
    mime = _mime(content_type)
    is_json_type = mime in JSON_TYPES or bool(mime and mime.endswith("+json"))
    return is_json_type and first not in (b"<", b"")


class _Notes:
    """What was wrong but did not stop the parse, for ``ParsedFeed.bozo``."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def add(self, note: str) -> None:
        self.notes.append(note)

    def summary(self) -> str | None:
        if not self.notes:
            return None
        shown = "; ".join(self.notes[:_MAX_NOTES])
        more = len(self.notes) - _MAX_NOTES
        return f"{shown}; and {more} more" if more > 0 else shown


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _string(obj: Mapping[str, Any], key: str, where: str, notes: _Notes) -> str | None:
    """``obj[key]`` when it is a string; anything else but null is noted and dropped."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    notes.add(f"{where}: {key!r} is {_kind(value)}, not a string")
    return None


def _plain(value: str | None) -> str | None:
    return (clean_text(value) or None) if value else None


def _url(value: str | None, base: str) -> str | None:
    if not value:
        return None
    value = strip_controls(value).strip()
    if not value:
        return None
    try:
        return urljoin(base, value)
    except ValueError:  # an unbalanced IPv6 bracket, say
        return None


def _date(obj: Mapping[str, Any], key: str, where: str, notes: _Notes) -> datetime | None:
    """An RFC 3339 date as an aware UTC datetime; out-of-range fields (month 13, hour 99)
    are refused, not rolled over.  An RFC 822 date is accepted too, since some
    publishers write one; a date without an offset is taken as UTC."""
    raw = _string(obj, key, where, notes)
    if not raw or not raw.strip():
        return None
    text = strip_controls(raw).strip()
    try:
        when = datetime.fromisoformat(text.upper())
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            notes.add(f"{where}: {key!r} is not an RFC 3339 date ({text[:40]!r})")
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        notes.add(f"{where}: {key!r} is out of range ({text[:40]!r})")
        return None


def _author_name(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return _plain(value["name"])
    return None


def _author(obj: Mapping[str, Any]) -> str | None:
    """The first named author of ``authors`` (1.1), else of ``author`` (1.0)."""
    authors = obj.get("authors")
    if isinstance(authors, list):
        for author in authors:
            name = _author_name(author)
            if name:
                return name
    return _author_name(obj.get("author"))


def _identifier(item: Mapping[str, Any], where: str, notes: _Notes) -> str | None:
    """The item's ``id`` as a string: the spec asks for one, and 1.1 says a number is
    to be read as its string."""
    value = item.get("id")
    if isinstance(value, str):
        return strip_controls(value).strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    notes.add(f"{where}: no 'id'" if value is None else f"{where}: 'id' is {_kind(value)}")
    return None


def _tags(item: Mapping[str, Any], where: str, notes: _Notes) -> tuple[str, ...]:
    tags = item.get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, list):
        notes.add(f"{where}: 'tags' is {_kind(tags)}, not a list")
        return ()
    cleaned = (clean_text(tag) for tag in tags if isinstance(tag, str))
    return tuple(dict.fromkeys(tag for tag in cleaned if tag))


def _image(item: Mapping[str, Any], base: str, where: str, notes: _Notes) -> str | None:
    for key in ("image", "banner_image"):
        image = _url(_string(item, key, where, notes), base)
        if image:
            return image
    attachments = item.get("attachments")
    if attachments is None:
        return None
    if not isinstance(attachments, list):
        notes.add(f"{where}: 'attachments' is {_kind(attachments)}, not a list")
        return None
    for attachment in attachments:
        if not isinstance(attachment, Mapping):
            continue
        mime, url = attachment.get("mime_type"), attachment.get("url")
        if isinstance(mime, str) and mime.lower().startswith("image/") and isinstance(url, str):
            image = _url(url, base)
            if image:
                return image
    return None


def _content(item: Mapping[str, Any], where: str, notes: _Notes) -> str | None:
    html = _string(item, "content_html", where, notes)
    text = _plain(_string(item, "content_text", where, notes))
    from_html = (html_to_text(html) or None) if html else None
    if from_html and text:
        return from_html if len(from_html) >= len(text) else text
    return from_html or text


def _entry(
    item: Mapping[str, Any],
    url: str,
    where: str,
    feed: tuple[str | None, str | None],
    notes: _Notes,
) -> ParsedEntry:
    feed_author, feed_language = feed
    link = _url(_string(item, "url", where, notes), url) or _url(
        _string(item, "external_url", where, notes), url
    )
    language = _plain(_string(item, "language", where, notes))
    return ParsedEntry(
        link=link,
        guid=_identifier(item, where, notes),
        title=_plain(_string(item, "title", where, notes)),
        author=_author(item) or feed_author,
        published=_date(item, "date_published", where, notes),
        updated=_date(item, "date_modified", where, notes),
        summary=_plain(_string(item, "summary", where, notes)),
        content_text=_content(item, where, notes),
        categories=_tags(item, where, notes),
        image=_image(item, url, where, notes),
        language=language or feed_language,
    )


_SUBSTANCE = ("id", "url", "external_url", "title", "content_html", "content_text", "summary")


def _something(item: Mapping[str, Any]) -> bool:
    """Whether the item has anything to read at all (an empty object has not)."""
    return any(item.get(key) not in (None, "") for key in _SUBSTANCE)


def _unreadable(url: str, problem: str, bozo: str | None = None) -> ParsedFeed:
    return ParsedFeed(
        title=None, link=url, language=None, entries=(), bozo=bozo or problem, problem=problem
    )


def _decode(content: bytes, content_type: str | None, notes: _Notes) -> str:
    """The document as text.  JSON is UTF-8 (RFC 8259; json.detect_encoding still
    reads UTF-16 and UTF-32); a charset the server declared is the fallback, and bytes
    that fit neither are replaced, with a note, rather than losing the feed."""
    encoding = json.detect_encoding(content)
    try:
        return content.decode(encoding)
    except UnicodeDecodeError as error:
        declared = re.search(r"charset=\"?([\w.:-]+)", content_type or "", re.IGNORECASE)
        if declared:
            try:
                return content.decode(declared.group(1))
            except (UnicodeDecodeError, LookupError):
                pass
        notes.add(f"not valid {encoding} at byte {error.start}; undecodable bytes replaced")
        return content.decode(encoding, errors="replace")


def _load(content: bytes, content_type: str | None, notes: _Notes) -> tuple[Any, str | None]:
    """The parsed JSON value, or None and why it could not be read."""
    text = _decode(content, content_type, notes).lstrip("\ufeff")
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply to read"
    except ValueError as error:  # an integer past Python's digit limit
        return None, f"invalid JSON: {error}"


def _version(document: Any) -> tuple[str | None, str | None]:
    """The document's version, or None and why this is not a JSON Feed."""
    if not isinstance(document, dict):
        return None, f"not a JSON Feed: the document is {_kind(document)}, not an object"
    version = document.get("version")
    if version is None:
        return None, "not a JSON Feed: it has no 'version' (https://jsonfeed.org/version/1.1)"
    if not isinstance(version, str) or "jsonfeed.org/version/" not in version:
        shown = version[:80] if isinstance(version, str) else _kind(version)
        return None, f"not a JSON Feed: its version is {shown!r}, not a jsonfeed.org version"
    return version.strip(), None


def parse_json_feed(content: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a JSON Feed fetched from ``url`` (its final URL after redirects)."""
    if not content.strip():
        return _unreadable(url, f"empty response ({len(content)} bytes): the server sent no feed")
    notes = _Notes()
    document, invalid = _load(content, content_type, notes)
    if invalid:
        return _unreadable(url, invalid, notes.summary())
    version, not_feed = _version(document)
    if not_feed or version is None:
        return _unreadable(url, not_feed or "not a JSON Feed")
    if version.replace("http://", "https://", 1) not in KNOWN_VERSIONS:
        notes.add(f"unknown JSON Feed version {version[:80]!r}, read as 1.1")
    title = _plain(_string(document, "title", "feed", notes))
    home = _url(_string(document, "home_page_url", "feed", notes), url)
    language = _plain(_string(document, "language", "feed", notes))
    items = document.get("items")
    entries: list[ParsedEntry] = []
    problem = None
    if not isinstance(items, list):
        shown = "none" if items is None else _kind(items)
        problem = f"not a readable feed: the JSON Feed's 'items' is {shown}, not a list"
    else:
        feed = (_author(document), language)
        for number, item in enumerate(items, 1):
            where = f"item {number}"
            if not isinstance(item, dict):
                notes.add(f"{where} is {_kind(item)}, not an object: skipped")
                continue
            entry = _entry(item, url, where, feed, notes) if _something(item) else None
            if entry and any((entry.link, entry.guid, entry.title, entry.content_text)):
                entries.append(entry)
            else:
                notes.add(f"{where} has no id, url, title or content: skipped")
        if not items:
            problem = "the feed has no entries"
        elif not entries:
            problem = f"not a readable feed: {notes.summary()}"
    return ParsedFeed(
        title=title,
        link=home or url,
        language=language,
        entries=tuple(entries),
        bozo=notes.summary(),
        problem=problem,
    )
