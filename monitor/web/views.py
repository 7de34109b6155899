"""What the console's pages compute from stored values, as pure functions.

Everything here takes plain values and returns plain values or :class:`Markup`,
so it is unit-tested with hostile input (tests/test_web_views.py) and the
templates only lay it out.  The one rule: text that came from a feed is escaped
*first*, and markup is only ever added around already-escaped pieces, so no
title, snippet or revision can bring a tag of its own into a page.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal
from urllib.parse import urlencode, urlsplit

from markupsafe import Markup, escape

from monitor.schedule import interval_text

DASH = "\u2013"  # what a page shows for a value there is not

# C0/C1 controls (not tab and newline), DEL and the bidi overrides and isolates
# ("Trojan Source"): shown as nothing, as the digest does
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str | None) -> str:
    """``text`` without the control and bidi-override characters a page never needs."""
    return _CONTROLS.sub("", text or "")


def merge_spans(spans: Iterable[Sequence[int]], length: int) -> list[tuple[int, int]]:
    """``spans`` clipped to ``0..length``, sorted, overlapping and touching ones merged,
    empty and inverted ones dropped: the ranges :func:`highlight` marks."""
    clipped = sorted(
        (max(0, int(s[0])), min(length, int(s[1])))
        for s in spans
        if len(s) >= 2 and int(s[1]) > int(s[0])
    )
    merged: list[tuple[int, int]] = []
    for start, end in clipped:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str | None, spans: Iterable[Sequence[int]] = ()) -> Markup:
    """``text`` escaped, with ``<mark>`` around each ``(start, end)`` character span.

    Each piece is escaped on its own and the marks are put between the pieces, so
    a span can never cut an entity or a tag in half, whatever the spans say.
    Control characters are removed *after* the spans are applied (the spans count
    characters of the text as stored)."""
    raw = text or ""
    pieces: list[str] = []
    at = 0
    for start, end in merge_spans(spans, len(raw)):
        pieces.append(str(escape(clean(raw[at:start]))))
        pieces.append(f"<mark>{escape(clean(raw[start:end]))}</mark>")
        at = end
    pieces.append(str(escape(clean(raw[at:]))))
    return Markup("".join(pieces))


def marked_spans(snippet: str) -> tuple[str, list[tuple[int, int]]]:
    """A snippet the watch stage marked «like this» -> the plain text and its spans."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    start: int | None = None
    length = 0
    for char in snippet:
        if char == "«" and start is None:
            start = length
        elif char == "»" and start is not None:
            spans.append((start, length))
            start = None
        else:
            out.append(char)
            length += 1
    return "".join(out), spans


def highlight_marked(snippet: str | None) -> Markup:
    """A snippet the watch stage marked «like this», highlighted (escaped first)."""
    plain, spans = marked_spans(snippet or "")
    return highlight(plain, spans)


def paragraphs(text: str | None, spans: Iterable[Sequence[int]] = ()) -> list[Markup]:
    """The extracted text as highlighted paragraphs (split on blank lines or newlines);
    spans are offsets into the whole text, as the watch stage stores them."""
    raw = text or ""
    merged = merge_spans(spans, len(raw))
    found: list[Markup] = []
    for block in re.finditer(r"[^\n]+", raw):
        lo, hi = block.start(), block.end()
        inner = [(max(s, lo) - lo, min(e, hi) - lo) for s, e in merged if s < hi and e > lo]
        if block.group().strip():
            found.append(highlight(block.group(), inner))
    return found


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a revision diff: ``kind`` is ``same``, ``added``, ``removed`` or ``gap``
    (unchanged lines left out); ``text`` is plain (the template escapes it)."""

    kind: Literal["same", "added", "removed", "gap"]
    text: str


def diff_lines(old: str | None, new: str | None, context: int = 2) -> list[DiffLine]:
    """The changes from ``old`` to ``new``, line by line (difflib), with ``context``
    unchanged lines around each change; long texts are split on sentences first so a
    one-word edit in a one-line article does not show as the whole text replaced."""
    before = _lines(old)
    after = _lines(new)
    result: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if result:
            result.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                result.extend(DiffLine("same", line) for line in before[i1:i2])
                continue
            result.extend(DiffLine("removed", line) for line in before[i1:i2])
            result.extend(DiffLine("added", line) for line in after[j1:j2])
    return result


def _lines(text: str | None) -> list[str]:
    lines: list[str] = []
    for line in clean(text).splitlines():
        # sentences of a long line each on their own, so the diff says which one changed
        lines.extend(part for part in re.split(r"(?<=[.!?؟])\s+", line) if part.strip())
    return lines


@dataclass(frozen=True, slots=True)
class Day:
    """One day of a per-day chart: its date, its count and the bar's height in percent."""

    day: date
    count: int
    height: int


def day_buckets(
    counts: Mapping[date, int] | Iterable[datetime], today: date, days: int = 14
) -> list[Day]:
    """The last ``days`` days up to ``today``, oldest first, each with its count.

    ``counts`` is either counts by date already (store.matches.per_day) or the
    timestamps themselves, already in the user's zone (see :func:`in_zone`).
    Days outside the window are ignored; heights are relative to the busiest day."""
    if isinstance(counts, Mapping):
        by_day = {d: int(n) for d, n in counts.items()}
    else:
        by_day = {}
        for moment in counts:
            by_day[moment.date()] = by_day.get(moment.date(), 0) + 1
    window = [today - timedelta(days=days - 1 - k) for k in range(max(days, 0))]
    top = max((by_day.get(d, 0) for d in window), default=0)
    return [
        Day(d, by_day.get(d, 0), round(100 * by_day.get(d, 0) / top) if top else 0) for d in window
    ]


def in_zone(moments: Iterable[datetime], zone: tzinfo) -> list[datetime]:
    """Aware timestamps moved to ``zone`` (naive ones are taken as UTC, as stored)."""
    return [(m if m.tzinfo else m.replace(tzinfo=UTC)).astimezone(zone) for m in moments]


def query_url(path: str, params: Mapping[str, object], **changes: object) -> str:
    """``path`` with ``params`` and ``changes`` as its query string, empty values left
    out (a list is a repeated parameter): the next / previous links and the filter
    form keep the other filters."""
    merged: dict[str, object] = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if isinstance(value, list | tuple):  # a repeated parameter, empty values kept
            pairs.extend((key, str(v)) for v in value)
        elif value not in (None, "", False):
            pairs.append((key, str(value)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def safe_link(url: str | None) -> str | None:
    """``url`` when it is http(s), else None: a feed's ``javascript:`` link is shown as
    text, never made a link."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def duration(seconds: int | float | None) -> str:
    """An interval as people write it: 90s, 15m, 2h30m, 1d."""
    return DASH if seconds is None else interval_text(int(seconds))


def field_source_rows(
    values: Mapping[str, object], sources: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(field, value as text, where it came from) for the item page's metadata table;
    fields without a recorded source say so rather than guess."""
    rows: list[tuple[str, str, str]] = []
    for name, value in values.items():
        if value in (None, "", (), []):
            continue
        if isinstance(value, list | tuple):
            shown = ", ".join(str(v) for v in value)
        elif isinstance(value, datetime):
            shown = value.isoformat()
        else:
            shown = str(value)
        rows.append((name, clean(shown), sources.get(name, "not recorded")))
    return rows


@dataclass(frozen=True, slots=True)
class Pager:
    """Next / previous links of a keyset-paginated list: the cursors of the pages
    before this one travel in the URL (``trail``), so "previous" needs no offset."""

    next_url: str | None
    prev_url: str | None
    page: int


MAX_TRAIL = 100  # pages back a URL remembers


def pager(
    path: str,
    params: Mapping[str, object],
    cursor: str | None,
    trail: Sequence[str],
    next_cursor: str | None,
) -> Pager:
    """Links to the next page (``next_cursor``) and the previous one (the last of
    ``trail``, the cursors that led here; ``""`` is the first page)."""
    trail = list(trail)[-MAX_TRAIL:]
    next_url = (
        query_url(path, params, cursor=next_cursor, trail=[*trail, cursor or ""])
        if next_cursor
        else None
    )
    prev_url = None
    if cursor:
        back = trail[-1] if trail else ""
        prev_url = query_url(path, params, cursor=back, trail=trail[:-1])
    return Pager(next_url, prev_url, len(trail) + 1 if cursor else 1)
