"""A watchlist's latest matches as an Atom 1.0 feed (RFC 4287); pure: data in, bytes out.

Built with :mod:`xml.etree.ElementTree`, so every piece of feed-supplied text
(titles, snippets, rule names, outlet names) goes in as an XML-escaped text
construct (``type="text"``): a ``<script>`` in a title comes out as
``&lt;script&gt;``, never as markup a reader would render.  Characters XML 1.0
forbids (C0 controls) are dropped, so one bad title cannot make the feed unreadable.

Ids are tag URIs (RFC 4151): ``tag:HOST,2026:watchlist/NAME`` for the feed and
``.../item/ID`` for an entry, so a reader sees an item once however often the
feed is polled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote
from xml.etree import ElementTree as ET

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
TAG_YEAR = 2026
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$")


@dataclass(frozen=True)
class AtomEntry:
    item_id: int
    title: str | None
    url: str
    published_at: datetime | None
    matched_at: datetime
    snippet: str
    rules: Sequence[str]
    feeds: Sequence[str]
    state: str = "open"


def _clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def tag_authority(host: str | None) -> str:
    """The tag URI's authority: the console's host name, or ``monitor.localhost``."""
    if host and _HOST.match(host) and not host.replace(".", "").isdigit():
        return host.lower()
    return "monitor.localhost"


def feed_id(authority: str, watchlist: str) -> str:
    return f"tag:{authority},{TAG_YEAR}:watchlist/{quote(watchlist, safe='')}"


def _text(parent: ET.Element, name: str, value: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, name, attrs)
    element.text = _clean(value)
    return element


def build_feed(
    watchlist: str,
    entries: Sequence[AtomEntry],
    *,
    self_url: str,
    console_url: str,
    authority: str,
    now: datetime,
) -> bytes:
    """The Atom document; ``console_url`` is the console's root (for the alternate links).
    ``updated`` is the newest entry's match time (``now`` when there is none)."""
    ET.register_namespace("", ATOM_NS)
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    base = console_url.rstrip("/")
    watch_id = feed_id(authority, watchlist)
    newest = max((e.matched_at for e in entries), default=now)
    _text(root, "id", watch_id)
    _text(root, "title", f"monitor: {watchlist}", type="text")
    _text(root, "subtitle", f"The latest items the watchlist {watchlist} matched", type="text")
    _text(root, "updated", _stamp(newest))
    author = ET.SubElement(root, "author")
    _text(author, "name", "monitor")
    ET.SubElement(root, "link", {"rel": "self", "type": "application/atom+xml", "href": self_url})
    quoted = quote(watchlist, safe="")
    ET.SubElement(
        root,
        "link",
        {"rel": "alternate", "type": "text/html", "href": f"{base}/watchlists/{quoted}"},
    )
    _text(root, "generator", "monitor")
    for entry in entries:
        node = ET.SubElement(root, "entry")
        _text(node, "id", f"{watch_id}/item/{entry.item_id}")
        _text(node, "title", entry.title or entry.url, type="text")
        ET.SubElement(node, "link", {"rel": "alternate", "href": _clean(entry.url)})
        ET.SubElement(
            node,
            "link",
            {"rel": "related", "type": "text/html", "href": f"{base}/items/{entry.item_id}"},
        )
        _text(node, "updated", _stamp(entry.matched_at))
        if entry.published_at is not None:
            _text(node, "published", _stamp(entry.published_at))
        outlets = ", ".join(entry.feeds)
        summary = f"{entry.snippet} ({outlets})" if outlets else entry.snippet
        _text(node, "summary", summary, type="text")
        for rule in dict.fromkeys(entry.rules):
            ET.SubElement(node, "category", {"term": _clean(rule), "label": _clean(rule)})
        if entry.state != "open":
            ET.SubElement(node, "category", {"term": entry.state, "scheme": f"{base}/review-state"})
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body
