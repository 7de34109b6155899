"""Which entry is which (pure): the identity of every entry of one feed document.

An entry with its own GUID or its own link is never dropped, so identity is
decided per document, before anything is looked up or stored:

* A link is canonicalised (:mod:`.canonical`), which drops its ``#fragment``;
  but when entries of one document differ only by their fragments (a
  newsletter page with an anchor per issue, a daily page with an anchor per
  post), the fragment is what tells them apart and stays in their identity.
  Such an entry's page is the shared page of all of them, so it is not
  fetched: the feed's own text is the entry's text.
* A GUID shared by entries with different links is not trusted as identity
  (a feed that repeats GUIDs): those entries are known by their links.
* An entry without a link is known by its GUID, else by a hash of what it
  says; it is stored from the feed's text under a ``urn:monitor:`` key.
* A link with a scheme other than http(s) (``javascript:``, ``data:``,
  ``file:``) is never fetched or stored: the entry is rejected with the reason.
* Entries are returned newest first, so a poll that cannot work them all
  (``fetch.max_entries_per_poll``, ``fetch.feed_budget``) does the newest now.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor.pipeline.types import ParsedEntry

_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Identified:
    """One entry of a document and how it is known."""

    entry: ParsedEntry
    guid: str | None  # the GUID used as identity (None when absent or not trusted)
    url: str | None  # the identity URL: canonical link, with its fragment when it tells
    key: str  # the entry's key within its feed (feed_items.entry_key)
    fetch_page: bool  # whether the entry's own page is worth fetching
    rejected: str | None = None  # why the entry cannot be stored, if it cannot


def entry_key(guid: str | None, url: str | None) -> str:
    """The key of an entry within its feed: its GUID, else ``url:`` and its link."""
    return guid if guid else f"url:{url or ''}"


def _digest(*parts: str | None) -> str:
    data = "\x1f".join(p or "" for p in parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


def _when(entry: ParsedEntry) -> datetime:
    return entry.updated or entry.published or _OLDEST


def _says(entry: ParsedEntry) -> str:
    """What an entry says: two entries under one key that say different things are two."""
    return _digest(
        entry.title,
        entry.summary,
        entry.content_text,
        entry.published.isoformat() if entry.published else None,
    )


def identify(
    entries: Sequence[ParsedEntry], feed_id: int, canonical: Callable[[str], str]
) -> list[Identified]:
    """The identity of each entry, newest first; one result per distinct entry."""
    canon: list[str | None] = []
    rejected: dict[int, str] = {}
    for index, entry in enumerate(entries):
        link = entry.link
        if not link:
            canon.append(None)
            continue
        scheme = urlsplit(link).scheme.lower()
        if scheme not in ("http", "https"):
            canon.append(None)
            rejected[index] = (
                f"the entry's link uses the {scheme or 'empty'}: scheme; only http and https "
                "links are fetched or stored"
            )
            continue
        canon.append(canonical(link))
    says = [_says(e) for e in entries]
    # Fragments that tell entries of this document apart stay in their identity.
    fragments: defaultdict[str, set[str]] = defaultdict(set)
    for entry, url in zip(entries, canon, strict=True):
        if url is not None and entry.link:
            fragments[url].add(urlsplit(entry.link).fragment)
    anchored = {url for url, found in fragments.items() if len(found) > 1}
    # A GUID is an identity when every entry carrying it is the same entry: one link
    # (or, without links, the same words).  Repeated GUIDs are not identities.
    carriers: defaultdict[str, set[str]] = defaultdict(set)
    identity_urls: list[str | None] = []
    for index, (entry, url) in enumerate(zip(entries, canon, strict=True)):
        fragment = urlsplit(entry.link).fragment if entry.link else ""
        if url is not None and url in anchored and fragment:
            url = f"{url}#{fragment}"
        identity_urls.append(url)
        if entry.guid:
            carriers[entry.guid].add(url if url is not None else f"says:{says[index]}")
    planned: list[tuple[int, str | None, str | None, str | None]] = []
    for index, (entry, url) in enumerate(zip(entries, identity_urls, strict=True)):
        trusted = bool(entry.guid) and len(carriers[entry.guid or ""]) == 1
        guid = entry.guid if trusted else None
        reason = rejected.get(index)
        if url is None and reason is None:
            if guid:
                url = f"urn:monitor:feed:{feed_id}:guid:{_digest(guid)}"
            elif entry.title or entry.summary or entry.content_text:
                url = f"urn:monitor:feed:{feed_id}:entry:{_digest(entry.guid, says[index])}"
            else:
                reason = "the entry has no link, GUID, title or text: nothing to store"
        planned.append((index, guid, url, reason))
    # Entries under one key that say different things (a live page's updates without
    # GUIDs) are each their own entry: every one of them is keyed by what it says, so
    # the keys do not depend on the order of the document.
    sayings: defaultdict[str, set[str]] = defaultdict(set)
    for index, guid, url, _reason in planned:
        sayings[entry_key(guid, url if url is not None else entries[index].link)].add(says[index])
    results: list[Identified] = []
    seen: set[str] = set()
    for index, guid, url, reason in planned:
        entry = entries[index]
        key = entry_key(guid, url if url is not None else entry.link)
        if len(sayings[key]) > 1:
            key = f"{key}#{says[index][:16]}"
        if key in seen:
            continue  # the same entry twice in one document
        seen.add(key)
        linked = identity_urls[index]  # None for link-less entries (their url is a urn)
        fetch = linked is not None and "#" not in linked and reason is None
        results.append(Identified(entry, guid, url, key, fetch, reason))
    results.sort(key=lambda r: _when(r.entry), reverse=True)
    return results
