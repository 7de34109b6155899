"""A page's structured metadata (pure): JSON-LD, OpenGraph, meta tags, canonical, <time>.

Publishers state title, author and publication date for machines in a few
well-known places.  Reading them is one walk over the ``<meta>``, ``<link>``,
``<script>`` and ``<time>`` elements of the tree trafilatura parses anyway,
where trafilatura's own author and category searches run dozens of XPath
queries over a copy of the whole tree (bench/extraction_cost.py).  What this
module cannot find, :mod:`monitor.pipeline.extract` asks trafilatura for.

Every value says where it came from (``jsonld``, ``opengraph``, ``meta``,
``time``, ``link``), so the item's field sources can say it too.  Hostile
or broken markup never raises: a script that is not JSON, a wrong shape, a
date that does not parse is skipped.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml.html import HtmlElement
from trafilatura.json_metadata import normalize_authors

from monitor.pipeline.text import clean_text
from monitor.pipeline.types import PageDate

# schema.org types whose fields describe the article itself (not the site or a breadcrumb)
_ARTICLE_TYPE = re.compile(r"(Article|BlogPosting|LiveBlogPosting|Report|Posting)$")
_DATE_META = frozenset(
    {
        "article:published_time", "article.published", "article_date_original",
        "citation_publication_date", "date", "dc.date", "dc.date.issued", "dc.date.created",
        "dcterms.created", "dcterms.date", "dcterms.issued", "datepublished",
        "original-publish-date", "parsely-pub-date", "pubdate", "publish-date",
        "publish_date", "publishdate", "published_time", "sailthru.date", "og:published_time",
        "article:published", "date_published", "pub_date", "publication_date",
    }
)  # fmt: skip
_AUTHOR_META = frozenset(
    {
        "author", "article:author_name", "byl", "dc.creator", "dcterms.creator",
        "parsely-author", "sailthru.author", "citation_author", "cxenseparse:author",
    }
)  # fmt: skip
_TITLE_META = ("og:title", "twitter:title", "headline", "dc.title", "parsely-title", "title")
_BYLINE = re.compile(r"^\s*(?:by|par|por|texte?|текст)\s*[:\s]\s*", re.I)
# "Tom Krisher, AP Auto Writer", "Victor Tangermann, Futurism": a role or an outlet
_AFTER_COMMA = re.compile(
    r",\s*(?:\S+|.*\b(?:writer|reporter|editor|correspondent|staff|contributor|columnist))$",
    re.I,
)
_URLISH = re.compile(r"^(?:https?:|www\.|/)|\.(?:com|org|net)\b|@", re.I)
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})")
_MAX_SCRIPT = 500_000  # a JSON-LD block larger than this is not metadata


@dataclass(slots=True)
class PageMetadata:
    """The fields a page states for machines; ``sources`` says where each was read."""

    title: str | None = None
    author: str | None = None
    date: PageDate | None = None
    sitename: str | None = None
    description: str | None = None
    image: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)

    def offer(self, name: str, value: Any, source: str) -> None:
        """Set ``name`` to ``value`` unless already set (earlier sources are trusted more)."""
        if value and getattr(self, name) is None:
            setattr(self, name, value)
            self.sources[name] = source


def _text(value: Any) -> str | None:
    """A display string: entities decoded (JSON-LD often carries "&#8217;"), spaces folded."""
    return clean_text(html.unescape(value)) or None if isinstance(value, str) else None


def parse_date(value: Any) -> PageDate | None:
    """An ISO 8601 date or date-time as metadata writes it -> aware UTC :class:`PageDate`.

    A value without a zone is taken as UTC; one without a time of day is date-only."""
    if not isinstance(value, str) or not 8 <= len(value.strip()) <= 40:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        match = _ISO_DATE.match(text)  # "2019-03-05T10:00:00.000-0500 EST" and kin
        if not match:
            return None
        try:
            year, month, day = (int(g) for g in match.groups())
            parsed = datetime(year, month, day)
        except ValueError:
            return None
    if not 1990 <= parsed.year <= 2100:
        return None
    has_time = parsed.tzinfo is not None or parsed.time() != datetime.min.time()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return PageDate(parsed.astimezone(UTC), has_time)
    except (OverflowError, ValueError):
        return None


def person_name(value: Any) -> str | None:
    """A printed name from an author field, or None for URLs, handles and long junk."""
    if not isinstance(value, str):
        return None
    name = clean_text(_BYLINE.sub("", html.unescape(value))).strip(" ,;|-")
    name = _AFTER_COMMA.sub("", name)
    if not name or len(name) > 80 or _URLISH.search(name) or not any(c.isalpha() for c in name):
        return None
    return name


def _names(value: Any, graph: dict[str, dict[str, Any]], depth: int = 0) -> list[str]:
    """Authors as schema.org writes them: a string, an object, a list, an @id reference."""
    if depth > 3:
        return []
    if isinstance(value, list):
        return [n for v in value[:20] for n in _names(v, graph, depth + 1)]
    if isinstance(value, dict):
        ref = value.get("@id")
        if "name" not in value and isinstance(ref, str) and ref in graph:
            value = graph[ref]
        name = value.get("name")
        if isinstance(name, list):
            name = name[0] if name else None
        found = person_name(name)
        return [found] if found else []
    found = person_name(value)
    return [found] if found else []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [s for s in (clean_text(v) for v in value.split(",")) if s and len(s) < 100]
    if isinstance(value, list):
        return [s for v in value[:50] if isinstance(v, str) for s in _strings(v)]
    return []


def _image(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return value if isinstance(value, str) and value.startswith(("http", "/")) else None


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    """Every object of a JSON-LD block, arrays and @graph flattened; broken JSON: none."""
    if len(text) > _MAX_SCRIPT:
        return
    try:
        data = json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return
    stack = [data]
    while stack and len(stack) < 1000:
        item = stack.pop(0)
        if isinstance(item, list):
            stack.extend(item[:100])
        elif isinstance(item, dict):
            graph = item.get("@graph")
            if isinstance(graph, list):
                stack.extend(graph[:100])
            yield item


def _types(obj: dict[str, Any]) -> list[str]:
    kind = obj.get("@type")
    return [k for k in (kind if isinstance(kind, list) else [kind]) if isinstance(k, str)]


def read_jsonld(blocks: list[str], found: PageMetadata) -> None:
    """Fill ``found`` from the article objects of the page's JSON-LD blocks."""
    objects = [obj for text in blocks for obj in _json_objects(text)]
    graph = {o["@id"]: o for o in objects if isinstance(o.get("@id"), str)}
    for obj in objects:
        if not any(_ARTICLE_TYPE.search(k) for k in _types(obj)):
            continue
        headline = obj.get("headline") or obj.get("name")
        found.offer("title", _text(headline), "jsonld")
        publisher = obj.get("publisher")
        if isinstance(publisher, dict):
            ref = publisher.get("@id")
            if "name" not in publisher and isinstance(ref, str):
                publisher = graph.get(ref, publisher)
        site = _text(publisher.get("name")) if isinstance(publisher, dict) else None
        # an author that is the publisher itself ("BBC News" by BBC News) is no byline
        authors = [
            a
            for a in dict.fromkeys(_names(obj.get("author") or obj.get("creator"), graph))
            if not site or a.casefold() != site.casefold()
        ]
        found.offer("author", "; ".join(authors), "jsonld")
        found.offer("sitename", site, "jsonld")
        found.offer(
            "date", parse_date(obj.get("datePublished") or obj.get("dateCreated")), "jsonld"
        )
        found.offer("description", _text(obj.get("description")), "jsonld")
        found.offer("image", _image(obj.get("image")), "jsonld")
        language = obj.get("inLanguage")
        found.offer("language", language if isinstance(language, str) else None, "jsonld")
        if not found.categories and (sections := _strings(obj.get("articleSection"))):
            found.categories = tuple(sections)
            found.sources["categories"] = "jsonld"
        if not found.tags and (keywords := _strings(obj.get("keywords"))):
            found.tags = tuple(keywords)
            found.sources["tags"] = "jsonld"


def _in_article(element: HtmlElement) -> bool:
    return any(ancestor.tag in ("article", "main") for ancestor in element.iterancestors())


def read_page(tree: HtmlElement) -> PageMetadata:
    """One walk over the tree's metadata elements -> :class:`PageMetadata`.

    Priority per field: JSON-LD article objects, then OpenGraph and ``article:``
    properties, then named ``<meta>`` tags, then ``<link rel=canonical>`` and a
    ``<time datetime>`` inside the article."""
    found = PageMetadata()
    scripts: list[str] = []
    og: dict[str, str] = {}
    named: dict[str, str] = {}
    sections: list[str] = []
    tags: list[str] = []
    canonical = None
    times: list[tuple[bool, str]] = []
    for element in tree.iter("meta", "link", "script", "time"):
        tag = element.tag
        if tag == "meta":
            content = element.get("content")
            if not content or not content.strip():
                continue
            key = (
                (element.get("property") or element.get("name") or element.get("itemprop") or "")
                .strip()
                .lower()
            )
            if not key:
                continue
            if key == "article:section":
                sections.append(content)
            elif key in ("article:tag", "keywords", "news_keywords"):
                tags.append(content)
            elif key.startswith(("og:", "article:")):
                og.setdefault(key, content)
            else:
                named.setdefault(key, content)
        elif tag == "link":
            if canonical is None and "canonical" in (element.get("rel") or "").lower().split():
                canonical = element.get("href")
        elif tag == "script":
            if (
                element.get("type") or ""
            ).strip().lower() == "application/ld+json" and element.text:
                scripts.append(element.text)
        else:
            stamp = element.get("datetime")
            if stamp:
                times.append(
                    (element.get("itemprop") == "datePublished" or _in_article(element), stamp)
                )
    read_jsonld(scripts, found)
    _read_tags(found, og, named)
    if found.author and found.sitename and found.author.casefold() == found.sitename.casefold():
        found.author = None  # the site's name in an author tag: no byline
        del found.sources["author"]
    for source, values, name in (("opengraph", sections, "categories"), ("meta", tags, "tags")):
        if not getattr(found, name) and (listed := [s for v in values for s in _strings(v)]):
            setattr(found, name, tuple(dict.fromkeys(listed)))
            found.sources[name] = source
    found.offer("canonical_url", canonical.strip() if canonical else None, "link")
    found.offer("canonical_url", og.get("og:url"), "opengraph")
    for trusted, stamp in times:
        if trusted:
            found.offer("date", parse_date(stamp), "time")
    return found


def _read_tags(found: PageMetadata, og: dict[str, str], named: dict[str, str]) -> None:
    for key in ("article:published_time", "og:published_time", "article:published"):
        found.offer("date", parse_date(og.get(key)), "opengraph")
    for key in sorted(_DATE_META & named.keys()):
        found.offer("date", parse_date(named[key]), "meta")
    for key in (
        "author",
        "parsely-author",
        "byl",
        "dc.creator",
        "dcterms.creator",
        "sailthru.author",
    ):
        found.offer("author", person_name(named.get(key)), "meta")
    for key in sorted(_AUTHOR_META & named.keys()):
        found.offer("author", person_name(named[key]), "meta")
    found.offer("author", person_name(og.get("article:author")), "opengraph")
    for key in _TITLE_META:
        value = og.get(key) or named.get(key)
        found.offer(
            "title",
            _text(value),
            "opengraph" if key.startswith("og:") else "meta",
        )
    found.offer("sitename", og.get("og:site_name"), "opengraph")
    found.offer("sitename", named.get("application-name"), "meta")
    found.offer("description", og.get("og:description"), "opengraph")
    found.offer("description", named.get("description") or named.get("twitter:description"), "meta")
    found.offer("image", og.get("og:image") or og.get("og:image:url"), "opengraph")
    found.offer("image", named.get("twitter:image") or named.get("twitter:image:src"), "meta")
    found.offer("language", og.get("og:locale"), "opengraph")


# trafilatura's author XPaths (trafilatura/xpaths.py, AUTHOR_XPATHS and
# AUTHOR_DISCARD_XPATHS) as one walk over the tree with Python checks: its own
# search copies the tree, prunes it and runs EXSLT regular expressions over every
# element (about 0.3x a bare extraction a page; this walk about a sixth of that).
_CANDIDATE = re.compile(
    r"uthor|yline|writer|screenname|username|byl|BBL|channel-name|submitted-by|posted-by"
    r"|journalist-name|zuozhe|bianji|xiaobian"
)
_TIER1_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_TIER2_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})
_TIER1_CLASS = re.compile(r"author-?name|AuthorName|authorName")
_TIER2_CLASS = re.compile(
    r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name"
)
_TIER2_ID = re.compile(r"author|zuozhe|bianji|xiaobian")
_TIER3_CLASS = re.compile(r"[Aa]uthor|screenname|writer|[Bb]yline")
_DISCARD_TAGS = frozenset({"a", "div", "section", "span"})
_DISCARD_CLASS = re.compile(
    r"^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram"
    r"|article-(?:share|support)|print|category|meta-date|meta-reviewer"
)
_DISCARD_ID = re.compile(r"^comments|comment-?list|ProductReviews")


def _candidate(element: HtmlElement) -> bool:
    if element.tag == "author":
        return True
    cls, ident = element.get("class"), element.get("id")
    return bool(
        (cls and _CANDIDATE.search(cls))
        or (ident and _CANDIDATE.search(ident))
        or "author" in (element.get("itemprop") or "")
        or element.get("rel") == "author"
        or element.get("data-testid") in ("AuthorCard", "AuthorURL")
        or "Byline" in (element.get("data-component") or "")
    )


def _tier(element: HtmlElement) -> int:
    tag, cls, ident = element.tag, element.get("class") or "", element.get("id") or ""
    prop = element.get("itemprop") or ""
    if tag == "author" or (
        tag in _TIER1_TAGS
        and (
            element.get("rel") == "author"
            or ident == "author"
            or cls == "author"
            or prop == "author name"
            or element.get("data-testid") in ("AuthorCard", "AuthorURL")
            or _TIER1_CLASS.search(cls)
        )
    ):
        return 1
    if tag in _TIER2_TAGS and (
        cls in ("byline", "username", "byl", "BBL")
        or "author" in prop
        or _TIER2_ID.search(ident)
        or _TIER2_CLASS.search(cls)
    ):
        return 2
    if (
        "Byline" in (element.get("data-component") or "")
        or "author" in prop
        or "uthor" in ident
        or _TIER3_CLASS.search(cls)
    ):
        return 3
    return 0


def _discarded(element: HtmlElement) -> bool:
    tag = element.tag
    if tag in ("time", "figure"):
        return True
    if tag not in _DISCARD_TAGS:
        return False
    cls, ident = element.get("class") or "", element.get("id") or ""
    return (
        ident == "comments"
        or cls in ("comments", "title", "date")
        or bool(_DISCARD_ID.search(ident))
        or bool(_DISCARD_CLASS.search(cls))
        or "Figure" in (element.get("data-component") or "")
    )


def _visible_text(element: HtmlElement) -> str:
    """The element's text without what trafilatura prunes first (dates, figures, comments)."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and not _discarded(child):
            parts.append(_visible_text(child))
        parts.append(child.tail or "")
    return " ".join(parts)


def find_byline(tree: HtmlElement) -> str | None:
    """The page's byline, found the way trafilatura's author search finds it."""
    best: dict[int, str] = {}
    for element in tree.iter():
        if not _candidate(element):
            continue
        tier = _tier(element)
        if not tier or tier in best or _discarded(element):
            continue
        if any(_discarded(a) for a in element.iterancestors()):
            continue
        content = " ".join(_visible_text(element).split())
        if 2 < len(content) < 120:
            best[tier] = content
            if tier == 1:
                break
    for tier in (1, 2, 3):
        if tier in best:
            return normalize_authors(None, best[tier])
    return None
