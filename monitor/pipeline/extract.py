"""Article extraction (pure, CPU-bound): page bytes -> :class:`Extraction`.

:func:`extract_page` runs in the orchestrator's process pool.  It parses the page
once (:func:`parse_html`); that tree gives the structured metadata
(:mod:`monitor.pipeline.metadata`), then trafilatura's own searches for the fields
still missing (title, author, date), then the text (``bare_extraction`` without
metadata, on the same tree).  A field the feed entry already gave is not searched
for: trafilatura's full metadata search cost 0.37x a bare extraction on every page
(bench/extraction_cost.py, docs/design.md).  The settings in
:data:`TRAFILATURA_OPTIONS` were chosen by measurement on the article-bench corpus
(docs/design.md, bench/results/extraction_settings.md); :data:`EXTRACTOR_VERSION`
changes whenever they, the metadata cascade or trafilatura change, so stored items
can be re-extracted.
"""

from __future__ import annotations

import logging
import re
import zlib
from copy import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import brotli
import trafilatura
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring
from trafilatura.metadata import extract_sitename, extract_title
from trafilatura.settings import Document, Extractor
from trafilatura.utils import load_html

from monitor.pipeline.metadata import PageMetadata, find_byline, person_name, read_page
from monitor.pipeline.text import clean_text
from monitor.pipeline.types import Extraction, Fetched, Outcome, PageDate, ParsedEntry

# Bump PROFILE whenever TRAFILATURA_OPTIONS or the metadata cascade change.
PROFILE = 3
# The settings as one trafilatura call with its metadata (the call monitor made up to
# profile 2; the benchmarks still make it): extract_page uses TEXT_OPTIONS and DATE_OPTIONS.
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
# The text pass: metadata comes from the cascade in extract_page, not from trafilatura.
TEXT_OPTIONS: dict[str, Any] = {
    k: v for k, v in TRAFILATURA_OPTIONS.items() if k != "date_extraction_params"
} | {"with_metadata": False}
# htmldate for pages whose feed and markup give no date: not its extensive search, which
# hands free-text dates to dateparser, whose first use compiles regular expressions for
# 205 locales (1-3 s of CPU in every new worker); on article-bench it found a date the
# plain search missed on 2 of the 34 pages that need htmldate at all (docs/design.md).
_TEXT_EXTRACTOR = Extractor(
    output_format="python",
    fast=TEXT_OPTIONS["fast"],
    recall=TEXT_OPTIONS["favor_recall"],
    comments=TEXT_OPTIONS["include_comments"],
    tables=TEXT_OPTIONS["include_tables"],
    with_metadata=False,
)
DATE_OPTIONS: dict[str, Any] = TRAFILATURA_OPTIONS["date_extraction_params"] | {
    "extensive_search": False
}
METHOD = "trafilatura"
# trafilatura.utils.HTML_PARSER's settings, for bytes already known to be UTF-8
_PARSER = HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
    remove_pis=True,
)  # fmt: skip
_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
# characters XML refuses (load_html strips them from a string first): take its path then
_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")

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
    content: bytes,
    url: str,
    charset: str | None = None,
    keep_raw: bool = False,
    entry: ParsedEntry | None = None,
) -> Extraction:
    """Extract text and metadata from one article page.  Never raises for bad input.

    Title, author and publication date that ``entry`` (the feed) already gives are
    not searched for; the others come from the page's structured data, and only
    when that lacks them from trafilatura's title search, its author search (as
    :func:`~monitor.pipeline.metadata.find_byline`) and htmldate."""
    raw = compress(content) if keep_raw else None
    try:
        tree = parse_html(content, charset)
        if tree is None:
            return Extraction(text=None, raw_html=raw, error="trafilatura found no main text")
        found = read_page(tree)
        _search_missing(tree, url, found, entry)
        document = trafilatura.bare_extraction(tree, options=_text_options(url))
    except Exception as exc:  # a bad page must not take the worker down
        return Extraction(text=None, raw_html=raw, error=f"trafilatura failed: {exc!r}")
    if not isinstance(document, Document):
        return Extraction(text=None, raw_html=raw, error="trafilatura found no main text")
    text = clean_text(document.text or "") or None
    canonical = found.canonical_url
    declared = declared_language(content)
    if declared:
        found.sources.pop("language", None)  # reported as "page", as before profile 3
    return Extraction(
        text=text,
        title=clean_text(found.title) if found.title else None,
        author=clean_text(found.author) if found.author else None,
        date=found.date,
        sitename=clean_text(found.sitename).lstrip("@") or None if found.sitename else None,
        description=clean_text(found.description) if found.description else None,
        # what the page declares for readers (<html lang>) before what it tells machines
        language=declared or _language(found.language),
        categories=_list(list(found.categories)),
        tags=_list(list(found.tags)),
        image=found.image or None,
        canonical_url=canonical if canonical and canonical != url else None,
        raw_html=raw,
        error=None if text else "trafilatura found no main text",
        sources=dict(found.sources),
    )


def _text_options(url: str) -> Extractor:
    """TEXT_OPTIONS as trafilatura's options object, built once: ``bare_extraction``
    would build one per call from its keyword arguments, reading its configuration."""
    options = copy(_TEXT_EXTRACTOR)
    options.url = options.source = url
    return options


def parse_html(content: bytes, charset: str | None) -> HtmlElement | None:
    """The page's tree, as trafilatura's ``load_html`` builds it.

    A UTF-8 page is parsed from its bytes with ``load_html``'s parser settings: about
    0.6 ms a page less than decoding it and parsing the string (the same text on every
    article-bench page); anything else goes through ``load_html`` itself."""
    if charset and charset.lower() in _UTF8 and not _CONTROLS.search(content):
        try:
            content.decode("utf-8")  # libxml2 would stop at the first invalid byte
            tree = document_fromstring(content, parser=_PARSER)
        except (UnicodeDecodeError, ValueError, etree.ParserError):
            tree = None
        # load_html's own rejection test: no "html" near the start and a bare tree
        if tree is not None and (len(tree) >= 2 or b"html" in content[:50].lower()):
            return tree
    return load_html(_decode(content, charset))


def _search_missing(
    tree: HtmlElement, url: str, found: PageMetadata, entry: ParsedEntry | None
) -> None:
    """trafilatura's own searches, for what neither the feed nor the markup stated.

    They run on the parsed tree before the text pass prunes it, as trafilatura's
    ``extract_metadata`` does; its category, tag and licence searches are not run
    (the feed's categories and the page's ``article:`` and JSON-LD ones are kept)."""
    if not (entry and entry.title) and not found.title:
        found.offer("title", extract_title(tree), "trafilatura")
    if not (entry and entry.author) and not found.author:
        author = person_name(find_byline(tree))
        # trafilatura drops one-word authors found this way ("Share", "Admin"); so do we
        found.offer("author", author if author and " " in author else None, "byline")
    if not (entry and entry.published) and not found.date:
        found.offer("date", parse_page_date(find_date(tree, url=url, **DATE_OPTIONS)), "htmldate")
    if not found.sitename:
        found.offer("sitename", extract_sitename(tree), "trafilatura")


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
# no declared language, no structured data: every search, htmldate and detection run
_WARM_UP_BARE = (
    b"<!DOCTYPE html><html><head><title>Warm-up</title></head><body><article>"
    b"<h1>Warm-up</h1><p class='byline'>By Ann Example</p><p class='date'>18 novembre</p>"
    + b"<p>This paragraph exists so that the language model and the sketch are loaded "
    b"before a real page waits for them, not while it does.</p>" * 6 + b"</article></body></html>"
)


def warm_up() -> None:
    """Run the whole pool task on two pages so a new worker process pays its one-off
    set-up costs now (lazy imports, the language model, numpy for the sketch), not the
    first real pages."""
    from monitor.pipeline.assemble import extract_and_assemble  # it imports this module

    url = "http://warm-up.invalid/"
    for page in (_WARM_UP_PAGE, _WARM_UP_BARE):
        extract_and_assemble(
            ParsedEntry(link=url, guid=url),
            Fetched(url, Outcome.OK, url, 200, page, "text/html", "utf-8"),
            feed_title=None,
            feed_language=None,
            now=datetime.now(UTC),
            future_skew=timedelta(minutes=15),
            keep_raw=True,
        )
