"""Typed values passed between the pipeline stages.

feedparser's and trafilatura's loose dictionaries are wrapped into these at
once; nothing downstream of :mod:`monitor.pipeline.parse` or
:mod:`monitor.pipeline.extract` touches a raw dict.  All of them pickle, so
they cross the process-pool boundary unchanged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from monitor.pipeline.sketch import Sketch


class Outcome(enum.StrEnum):
    """What became of one HTTP fetch.  The scheduler turns it into a next poll time."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"  # 304, or a body identical to the last one
    TEMPORARY = "temporary"  # timeouts, 5xx, 429: try again at the normal pace
    SOFT = "soft"  # served, but unusable (too large, not a feed): back off gently
    HARD = "hard"  # 4xx, bad TLS, DNS failure: back off hard

    @property
    def is_failure(self) -> bool:
        return self in (Outcome.TEMPORARY, Outcome.SOFT, Outcome.HARD)


@dataclass(frozen=True, slots=True)
class Validators:
    """Conditional-GET state of a feed, as stored between polls."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """The result of fetching one URL (a feed or an article page)."""

    url: str
    outcome: Outcome
    final_url: str | None = None
    status: int | None = None
    content: bytes = b""
    content_type: str | None = None
    charset: str | None = None
    validators: Validators = field(default_factory=Validators)
    error: str | None = None
    retry_after: int | None = None
    elapsed: float = 0.0
    # where the leading 301/308 redirects from ``url`` led: the feed has moved there
    moved_to: str | None = None

    @property
    def content_type_header(self) -> str | None:
        """The media type with the charset the server declared, as parsers expect it."""
        if self.content_type and self.charset:
            return f"{self.content_type}; charset={self.charset}"
        return self.content_type


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One feed entry, already resolved to absolute URLs and plain types."""

    link: str | None
    guid: str | None
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    summary: str | None = None  # plain text
    content_text: str | None = None  # plain text of the fullest <content>, if any
    categories: tuple[str, ...] = ()
    image: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    link: str | None
    language: str | None
    entries: tuple[ParsedEntry, ...]
    bozo: str | None = None  # why feedparser considered the document malformed
    problem: str | None = None  # why nothing could be read, when entries is empty


@dataclass(frozen=True, slots=True)
class PageDate:
    value: datetime
    has_time: bool


@dataclass(frozen=True, slots=True)
class Extraction:
    """What was read from an article page (process-pool output)."""

    text: str | None
    title: str | None = None
    author: str | None = None
    date: PageDate | None = None
    sitename: str | None = None
    description: str | None = None
    language: str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    image: str | None = None
    canonical_url: str | None = None
    raw_html: bytes | None = None  # the page compressed by extract.compress(), when kept
    error: str | None = None
    # where each field above was read ("jsonld", "opengraph", "meta", "link", "time",
    # "trafilatura", "htmldate"); a field missing here is reported as "page"
    sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """An item ready to store: feed entry and page merged, each field's source recorded."""

    url: str
    canonical_url: str
    guid: str | None
    title: str | None
    author: str | None
    published_at: datetime | None
    updated_at: datetime | None
    summary: str | None
    text: str | None
    language: str | None
    site_name: str | None
    categories: tuple[str, ...]
    image_url: str | None
    word_count: int
    content_hash: str | None
    extraction_method: str
    extractor_version: str
    field_sources: dict[str, str]
    fetch_status: int | None = None
    fetch_error: str | None = None
    raw_html: bytes | None = None
    page_charset: str | None = None
    sketch: Sketch | None = None  # near-duplicate signature of ``text``
    entry_updated: datetime | None = None  # the feed entry's updated (else published) time
