"""What rules would match, before they are saved, and the snippet an analyst reads.

Pure: rules and documents go in, the hits come out.  :func:`preview` compiles
the rules with :class:`~monitor.watch.matcher.Matcher` exactly as the watch
stage does for a watchlist (:func:`~monitor.watch.stage.rules_of`), so what it
shows is what a watchlist with those rules would store.  A rule that does not
parse is reported with its column (:class:`RuleProblem`) instead of failing the
whole preview, so the other rules still show what they find.

:func:`best_snippet` picks the one snippet a match list shows for an item:
the title when a rule hit it, else the window of the text with the most
distinct rules, with every hit inside it as a span (``snippet[start:end]``),
rather than the ``«…»`` marks of a single stored hit.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from monitor.watch.matcher import SNIPPET_WIDTH, Document, Match, Matcher, Rule, snippet_window
from monitor.watch.query import QueryError, parse_rule

PREVIEW_WATCHLIST: Final = "preview"
_TOKEN: Final = re.compile(r"\S+")
_MARKED: Final = re.compile(r"«(.*?)»", re.S)
_CANDIDATES: Final = 400  # windows tried for the best snippet of one field

Span = tuple[int, int]


@dataclass(frozen=True)
class RuleProblem:
    rule_index: int
    column: int  # 1-based, within the rule
    message: str


@dataclass(frozen=True)
class PreviewHit:
    item_id: int
    rules: tuple[int, ...]  # indexes of the rules that matched the item
    hits: int
    snippet: str
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class Preview:
    problems: list[RuleProblem]
    items: int  # documents checked
    hits: list[PreviewHit]  # matched items, in the order given, at most ``limit``
    per_rule: list[int]  # items each rule matched (0 for a rule with a problem)
    matched: int = 0  # items any rule matched (``hits`` stops at the limit, this does not)


# --- snippets ---------------------------------------------------------------------


def _window(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    """The window :func:`monitor.watch.matcher.snippet` shows around ``text[start:end]``."""
    return snippet_window(text, start, end, width)


def window_snippet(
    text: str, hits: Iterable[Span], center: Span, width: int = SNIPPET_WIDTH
) -> tuple[str, tuple[Span, ...]]:
    """About ``width`` characters of ``text`` around ``center``, white space collapsed,
    ``…`` where cut, and the spans of every hit wholly inside it, in snippet positions."""
    lo, hi = _window(text, center[0], center[1], width)
    lead = "…" if lo > 0 else ""
    pieces: list[str] = []
    starts: list[tuple[int, int, int]] = []  # (original start, original end, snippet start)
    at = len(lead)
    for token in _TOKEN.finditer(text, lo, hi):
        if pieces:
            at += 1
        starts.append((token.start(), token.end(), at))
        pieces.append(token.group())
        at += len(token.group())
    body = " ".join(pieces)

    def place(position: int, ending: bool) -> int | None:
        for first, last, out in starts:
            if first <= position < last or (ending and first < position <= last):
                return out + position - first
            if not ending and position < first:  # white space before a word: the word
                return out
        return None

    spans: list[Span] = []
    for start, end in sorted(set(hits)):
        if start < lo or end > hi or start >= end:
            continue
        a, b = place(start, False), place(end, True)
        if a is not None and b is not None and a < b:
            spans.append((a, b))
    return f"{lead}{body}{'…' if hi < len(text) else ''}", tuple(spans)


def marked_snippet(stored: str) -> tuple[str, tuple[Span, ...]]:
    """A stored snippet (``«hit»`` marked) as plain text and the spans of its marks."""
    spans: list[Span] = []
    out: list[str] = []
    at = last = 0
    for mark in _MARKED.finditer(stored):
        out.append(stored[last : mark.start()])
        at += mark.start() - last
        out.append(mark.group(1))
        spans.append((at, at + len(mark.group(1))))
        at += len(mark.group(1))
        last = mark.end()
    out.append(stored[last:])
    return "".join(out), tuple(spans)


def best_snippet(
    matches: Sequence[Match], fields: Mapping[str, str], width: int = SNIPPET_WIDTH
) -> tuple[str, tuple[Span, ...]]:
    """The snippet to show for one item's ``matches`` (one watchlist's, or a preview's).

    ``fields``: the item's ``title``, ``text`` and ``author`` as matched.  A hit
    whose field is not given, or whose text is no longer there (the item changed
    since), falls back to its stored snippet."""
    by_field: defaultdict[str, list[Match]] = defaultdict(list)
    loose: list[Match] = []
    for match in matches:
        value = fields.get(match.field) if match.field != "feed" else None
        if value is not None and value[match.start : match.end] == match.matched:
            by_field[match.field].append(match)
        else:
            loose.append(match)
    if by_field.get("title"):
        hits = by_field["title"]
        first = min(hits, key=lambda m: (m.start, m.end))
        return window_snippet(
            fields["title"], [(m.start, m.end) for m in hits], (first.start, first.end), width
        )
    best: tuple[int, int, str, Match] | None = None
    for name in ("text", "author"):
        hits = sorted(by_field.get(name, ()), key=lambda m: (m.start, m.end))
        for center in hits[:_CANDIDATES]:
            lo, hi = _window(fields[name], center.start, center.end, width)
            rules = {m.rule_index for m in hits if m.start >= lo and m.end <= hi}
            key = (-len(rules), 0 if name == "text" else 1, name, center)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is not None:
            break
    if best is not None:
        name, center = best[2], best[3]
        spans = [(m.start, m.end) for m in by_field[name]]
        return window_snippet(fields[name], spans, (center.start, center.end), width)
    if loose:
        return marked_snippet(loose[0].snippet)
    return "", ()


# --- preview ----------------------------------------------------------------------


def check_rules(rules: Sequence[str]) -> list[RuleProblem]:
    """The rules that do not parse, with the 1-based column of the problem."""
    problems = []
    for index, text in enumerate(rules):
        if not text.strip():
            problems.append(RuleProblem(index, 1, "empty rule: write a term, a phrase or a query"))
            continue
        try:
            parse_rule(text)
        except QueryError as exc:
            problems.append(RuleProblem(index, exc.column, exc.message))
    return problems


def preview_rules(
    rules: Sequence[str],
    *,
    fuzzy: bool = False,
    case_sensitive: bool = False,
    variants: Mapping[str, Sequence[str]] | None = None,
    watchlist: str = PREVIEW_WATCHLIST,
) -> list[Rule]:
    """The matcher's rules, as :func:`monitor.watch.stage.rules_of` builds them for a
    watchlist with these rules and settings (``variants``: the watchlist's)."""
    built = []
    for index, text in enumerate(rules):
        lowered = text.casefold()
        extra: list[str] = []
        for term, spellings in (variants or {}).items():
            if term.casefold() in lowered:
                extra.extend(spellings)
        built.append(
            Rule(
                watchlist=watchlist,
                index=index,
                text=text,
                case_sensitive=case_sensitive,
                fuzzy=fuzzy,
                variants=tuple(dict.fromkeys(extra)),
            )
        )
    return built


def preview(
    rules: Sequence[str],
    documents: Iterable[tuple[int, Document]],
    *,
    fuzzy: bool = False,
    case_sensitive: bool = False,
    variants: Mapping[str, Sequence[str]] | None = None,
    limit: int = 200,
) -> Preview:
    """Match ``rules`` against ``documents`` (item id, document): per rule how many
    items it matched, and the first ``limit`` matched items with their best snippet."""
    problems = check_rules(rules)
    bad = {p.rule_index for p in problems}
    compiled = preview_rules(rules, fuzzy=fuzzy, case_sensitive=case_sensitive, variants=variants)
    good = [r for r in compiled if r.index not in bad]
    for rule in good:  # a variant that does not parse is the rule's problem
        try:
            Matcher.compile([rule])
        except QueryError as exc:
            problems.append(RuleProblem(rule.index, exc.column, f"variant: {exc.message}"))
            bad.add(rule.index)
    good = [r for r in good if r.index not in bad]
    per_rule = [0] * len(rules)
    hits: list[PreviewHit] = []
    items = matched = 0
    matcher = Matcher.compile(good) if good else None
    for item_id, document in documents:
        items += 1
        if matcher is None:
            continue
        found = matcher.match(document)
        if not found:
            continue
        matched += 1
        hit_rules = tuple(sorted({m.rule_index for m in found}))
        for index in hit_rules:
            per_rule[index] += 1
        if len(hits) < limit:
            fields = {"title": document.title, "text": document.text, "author": document.author}
            text, spans = best_snippet(found, fields)
            hits.append(PreviewHit(item_id, hit_rules, len(found), text, spans))
    problems.sort(key=lambda p: (p.rule_index, p.column))
    return Preview(problems, items, hits, per_rule, matched)
