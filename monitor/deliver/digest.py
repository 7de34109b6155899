"""The digest's content: matched items of one window, grouped, collapsed, ordered (pure).

Storage hands over :class:`DigestItem` values (one per matched item, with its
hits and every outlet that carried its story); :func:`build` turns them into
the :class:`DigestView` the templates render.  No I/O here, so the order and
the collapsing are tested with plain data.

* Items are grouped by rule (an item that matched two rules is listed under
  both) or by feed (``digest.group_by``).
* Syndicated copies, items of one dedup cluster, become one entry: the first
  published copy, with "also in" naming the other outlets.
* Entries are ordered most widely carried first, then newest first; groups
  by their widest story, then by name.
* A preview marks the items an analyst triaged ("reviewed by ana"); the
  sent digest carries no such mark and includes the same items either way.
* Everything that came from a feed stays plain text here: the HTML template
  escapes it (autoescape), links are kept only when they are http or https,
  and control characters are removed so nothing can act on a mail client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

# C0/C1 controls (tab and newline become spaces), DEL, line/paragraph separators, the bidi
# overrides and isolates ("Trojan Source"): nothing in a digest needs them
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule's hit in an item: the rule, the text matched and the snippet around it."""

    rule_index: int
    rule: str
    matched: str
    snippet: str


@dataclass(frozen=True, slots=True)
class DigestItem:
    """A matched item as storage reads it for a digest."""

    item_id: int
    title: str | None
    url: str
    feeds: tuple[str, ...]  # the feeds that carried this item, first seen first
    published_at: datetime | None
    fetched_at: datetime
    cluster_id: int | None
    revision: int
    hits: tuple[Hit, ...]
    story_outlets: tuple[str, ...] = ()  # every feed carrying any copy of its story

    @property
    def story(self) -> int:
        return self.cluster_id or self.item_id

    @property
    def when(self) -> datetime:
        return self.published_at or self.fetched_at


@dataclass(frozen=True, slots=True)
class Entry:
    """One story as the e-mail shows it."""

    title: str
    url: str | None  # None: the item's link was not http(s), so no link is made
    outlet: str
    time: str  # in the watchlist's zone
    before: str  # the snippet, split around the (first) match for highlighting
    match: str
    after: str
    also_in: tuple[str, ...]
    revised: bool
    revision: int
    outlets: int
    review: str = ""  # "reviewed by ana" in a preview; never set in a sent digest


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    watchlist: str
    start: str
    end: str
    timezone: str
    groups: tuple[Group, ...]
    stories: int
    items: int
    group_by: str
    subject: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.groups


def clean(text: str | None, limit: int = 500) -> str:
    """Feed text as one line of plain text: controls removed, spaces collapsed, bounded."""
    flat = _SPACES.sub(" ", _CONTROLS.sub(" ", text or "")).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def safe_link(url: str | None) -> str | None:
    """``url`` when it is an http(s) URL without spaces or controls; otherwise None."""
    if not url or _CONTROLS.search(url) or re.search(r"\s", url):
        return None
    return url if re.match(r"^https?://[^/?#\s]+", url, re.IGNORECASE) else None


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def highlight(snippet: str, matched: str) -> tuple[str, str, str]:
    """``snippet`` split around its match: the watch stage marks it «like this»; a
    snippet without the marks is searched for ``matched`` (case-insensitive)."""
    text, needle = clean(snippet, 400), clean(matched, 200)
    marked = text.find(f"«{needle}»") if needle else -1
    if marked < 0:
        marked = text.find("«")
    close = text.find("»", marked + 1) if marked >= 0 else -1
    if close > marked >= 0:
        return text[:marked], text[marked + 1 : close], text[close + 1 :]
    index = text.lower().find(needle.lower()) if needle else -1
    if index < 0 or len(text.lower()) != len(text):
        return text, "", ""
    return text[:index], text[index : index + len(needle)], text[index + len(needle) :]


def review_label(state: str, by: str) -> str:
    """How a preview marks a triaged item: ``reviewed by ana``."""
    return clean(f"{state} by {by}", 120)


def _entry(
    copies: Sequence[DigestItem], hit: Hit, zone: ZoneInfo, reviews: Mapping[int, str]
) -> Entry:
    first = min(copies, key=lambda i: (i.when, i.item_id))
    # the copy shown first, else any copy of the story an analyst triaged
    review = reviews.get(first.item_id) or next(
        (reviews[i.item_id] for i in copies if i.item_id in reviews), ""
    )
    outlet = first.feeds[0] if first.feeds else "?"
    names: list[str] = []
    for item in (first, *copies):
        for name in (*item.story_outlets, *item.feeds):
            if name not in names:
                names.append(name)
    also = tuple(sorted({clean(n, 100) for n in names if n != outlet}, key=str.casefold))
    before, match, after = highlight(hit.snippet, hit.matched)
    revision = max(i.revision for i in copies)
    return Entry(
        title=clean(first.title, 300) or clean(first.url, 300),
        url=safe_link(first.url),
        outlet=clean(outlet, 100),
        time=local_time(first.when, zone),
        before=before,
        match=match,
        after=after,
        also_in=also,
        revised=revision > 1,
        revision=revision,
        outlets=1 + len(also),
        review=review,
    )


def _entries(
    items: Iterable[tuple[DigestItem, Hit]], zone: ZoneInfo, reviews: Mapping[int, str]
) -> tuple[Entry, ...]:
    stories: dict[int, list[tuple[DigestItem, Hit]]] = {}
    for item, hit in items:
        stories.setdefault(item.story, []).append((item, hit))
    built = []
    for members in stories.values():
        copies = [item for item, _ in members]
        first = min(copies, key=lambda i: (i.when, i.item_id))
        hit = next(h for i, h in members if i is first)
        built.append((first.when, _entry(copies, hit, zone, reviews)))
    built.sort(key=lambda pair: (-pair[1].outlets, -pair[0].timestamp(), pair[1].title))
    return tuple(entry for _, entry in built)


def build(
    watchlist: str,
    items: Sequence[DigestItem],
    start: datetime,
    end: datetime,
    timezone: str,
    group_by: Literal["rule", "feed"] = "rule",
    reviews: Mapping[int, str] | None = None,
) -> DigestView:
    """The digest of ``items`` matched in [``start``, ``end``), as the templates show it.

    ``reviews``: item id -> :func:`review_label`, for a preview that shows what the
    analysts triaged; what a digest includes does not depend on it."""
    marks = reviews or {}
    zone = ZoneInfo(timezone)
    buckets: dict[str, list[tuple[DigestItem, Hit]]] = {}
    for item in items:
        if not item.hits:
            continue
        if group_by == "feed":
            name = item.feeds[0] if item.feeds else "?"
            buckets.setdefault(name, []).append((item, item.hits[0]))
            continue
        seen: set[int] = set()
        for hit in sorted(item.hits, key=lambda h: h.rule_index):
            if hit.rule_index not in seen:
                seen.add(hit.rule_index)
                buckets.setdefault(hit.rule, []).append((item, hit))
    if group_by == "feed":  # copies on several feeds: one entry, under the first outlet
        firsts: dict[int, DigestItem] = {}
        for item in items:
            if item.hits and (
                item.story not in firsts
                or (item.when, item.item_id) < (firsts[item.story].when, firsts[item.story].item_id)
            ):
                firsts[item.story] = item
        buckets = {}
        for item in items:
            if not item.hits:
                continue
            lead = firsts[item.story]
            name = lead.feeds[0] if lead.feeds else "?"
            buckets.setdefault(name, []).append((item, item.hits[0]))
    groups = [
        Group(clean(name, 200), _entries(members, zone, marks)) for name, members in buckets.items()
    ]
    groups.sort(key=lambda g: (-max(e.outlets for e in g.entries), g.name))
    stories = len({item.story for item in items if item.hits})
    count = sum(1 for item in items if item.hits)
    name = clean(watchlist, 100)
    return DigestView(
        watchlist=name,
        start=local_time(start, zone),
        end=local_time(end, zone),
        timezone=timezone,
        groups=tuple(groups),
        stories=stories,
        items=count,
        group_by=group_by,
        subject=subject_of(name, stories, count),
    )


def subject_of(watchlist: str, stories: int, items: int) -> str:
    """The subject line: the watchlist (from feeds.yaml, cleaned) and the counts only."""
    if not stories:
        return f"[monitor] {clean(watchlist, 100)}: nothing new"
    plural = "y" if stories == 1 else "ies"
    return (
        f"[monitor] {clean(watchlist, 100)}: {stories} stor{plural}, "
        f"{items} matched item{'s' if items != 1 else ''}"
    )
