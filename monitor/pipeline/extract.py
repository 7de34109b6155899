"""Article extraction (pure, CPU-bound): page bytes -> :class:`Extraction`.

:func:`extract_page` runs in the orchestrator's process pool.  It parses the
page once with trafilatura's ``bare_extraction`` and reads text and metadata
from that single parse.  The settings in :data:`TRAFILATURA_OPTIONS` were
chosen by measurement on the article-bench corpus (docs/design.md,
bench/results/extraction_settings.md); :data:`EXTRACTOR_VERSION` changes
whenever they or trafilatura change, so stored items can be re-extracted.
"""

from __future__ import annotations

import logging
import re
import zlib
from datetime import UTC, datetime
from typing import Any

import brotli
import trafilatura
from trafilatura.settings import Document

from monitor.pipeline.text import clean_text
from monitor.pipeline.types import Extraction, PageDate

# Bump PROFILE whenever TRAFILATURA_OPTIONS change.
PROFILE = 2
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "favor_recall": True,
    "fast": True,
    "with_metadata": True,
    "date_extraction_params": {
        "original_date": True,
        "extensive_search": True,
        "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    },
}
EXTRACTOR_VERSION = f"trafilatura/{trafilatura.__version__}+p{PROFILE}"
METHOD = "trafilatura"

_LANG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
# trafilatura fills ``language`` only when asked to filter by it; read what the page declares.
_DECLARED_LANG = (
    re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*)", re.I),
    re.compile(
        rb"<meta\b[^>]*?\bproperty\s*=\s*[\"']og:locale[\"'][^>]*?\bcontent\s*=\s*[\"']([A-Za-z]{2,3})",
        re.I,
    ),
    re.compile(
        rb"<meta\b[^>]*?\bhttp-equiv\s*=\s*[\"']content-language[\"'][^>]*?\bcontent\s*=\s*[\"']([A-Za-z]{2,3})",
        re.I,
    ),
)


def _quiet_trafilatura() -> None:
    # trafilatura logs every discarded page at WARNING; the pipeline reports those itself.
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.ERROR)


_quiet_trafilatura()


def parse_page_date(value: str | None) -> PageDate | None:
    """htmldate output -> aware UTC datetime; a bare midnight without zone is date-only."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            return None
    has_time = parsed.tzinfo is not None or parsed.time() != datetime.min.time()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return PageDate(parsed.astimezone(UTC), has_time)


def _decode(content: bytes, charset: str | None) -> str | bytes:
    if charset:
        try:
            return content.decode(charset, errors="replace")
        except LookupError:
            pass
    return content  # trafilatura detects the encoding itself


def _list(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(dict.fromkeys(s for s in (clean_text(str(v)) for v in items) if s))


def _language(value: Any) -> str | None:
    if isinstance(value, str) and _LANG.match(value.strip()):
        return value.strip().split("-")[0].split("_")[0].lower()
    return None


def declared_language(content: bytes) -> str | None:
    """The language the page declares (``<html lang>``, og:locale, Content-Language)."""
    head = content[:20000]
    for pattern in _DECLARED_LANG:
        match = pattern.search(head)
        if match:
            return _language(match.group(1).decode("ascii"))
    return None


def extract_page(
    content: bytes, url: str, charset: str | None = None, keep_raw: bool = False
) -> Extraction:
    """Extract text and metadata from one article page.  Never raises for bad input."""
    raw = compress(content) if keep_raw else None
    try:
        document = trafilatura.bare_extraction(
            _decode(content, charset), url=url, **TRAFILATURA_OPTIONS
        )
    except Exception as exc:  # a bad page must not take the worker down
        return Extraction(text=None, raw_html=raw, error=f"trafilatura failed: {exc!r}")
    if not isinstance(document, Document):
        return Extraction(text=None, raw_html=raw, error="trafilatura found no main text")
    text = clean_text(document.text or "") or None
    return Extraction(
        text=text,
        title=clean_text(document.title) if document.title else None,
        author=clean_text(document.author) if document.author else None,
        date=parse_page_date(document.date),
        sitename=clean_text(document.sitename) if document.sitename else None,
        description=clean_text(document.description) if document.description else None,
        language=_language(document.language) or declared_language(content),
        categories=_list(document.categories),
        tags=_list(document.tags),
        image=document.image or None,
        canonical_url=document.url if document.url and document.url != url else None,
        raw_html=raw,
        error=None if text else "trafilatura found no main text",
    )


def compress(page: bytes) -> bytes:
    """Compress a page for keeping: brotli at quality 0.

    On the article-bench pages it takes 0.44 ms a page to 23% of the size, where
    zlib at level 1 (what monitor used until 2026-11-25) took 1.47 ms to 24%."""
    return bytes(brotli.compress(page, quality=0))


def decompress(raw: bytes) -> bytes:
    """Undo :func:`compress`; pages kept by earlier versions are zlib streams."""
    if len(raw) > 1 and raw[0] & 0x0F == 8 and (raw[0] << 8 | raw[1]) % 31 == 0:
        try:
            return zlib.decompress(raw)
        except zlib.error:
            pass  # a brotli stream that happens to start like a zlib header
    return bytes(brotli.decompress(raw))


_WARM_UP_PAGE = (
    b"<!DOCTYPE html><html lang='en'><head><title>Warm-up</title>"
    b"<meta property='og:site_name' content='monitor'>"
    b"<meta property='article:published_time' content='2020-01-07T10:00:00Z'></head>"
    b"<body><nav><a href='/'>Home</a></nav><article><h1>Warm-up</h1>"
    + b"<p>This paragraph exists so that the extractor loads everything it loads lazily "
    b"on its first call, before a real page waits for it.</p>"
    * 6
    + b"</article><footer>Footer</footer></body></html>"
)


def warm_up() -> None:
    """Run one extraction so a new worker process pays its one-off set-up costs now."""
    extract_page(_WARM_UP_PAGE, "http://warm-up.invalid/", "utf-8", keep_raw=True)
