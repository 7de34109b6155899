"""All rules of all watchlists compiled into one matcher (pure: no database, no I/O).

How a document is matched, and why the cost follows the document, not the rules:

1. Each field value (title, text, author, every feed name) is folded
   (:mod:`monitor.watch.fold`) and split into words, once.
2. Every term or phrase of every rule has one *anchor* word, its longest (rarer),
   in a single Aho-Corasick automaton (pyahocorasick) keyed ``" word "`` (whole
   word) or ``" prefix"`` (``term*``).  It runs once per field over the folded
   text with every non-word character made a space (so positions stay those of
   the folded text), and finds every anchor of every rule with its position.
   Fuzzy anchors are also kept in a dict by :func:`~monitor.watch.fuzzy.variant_key`
   (each of its :func:`~monitor.watch.fuzzy.key_forms`, and, from 8 letters, each
   one-deletion of those); each distinct word of the
   document is looked up there once (and the answer cached across documents):
   O(1) per word, not per rule.  A one-word term that is a common given name
   (:func:`~monitor.watch.fuzzy.varies_alone`) is not fuzzy: alone it names too
   many people; inside a phrase it is.
3. A rule is a *candidate* only if an anchor it cannot match without is present
   in a field its scope covers (for ``a AND b`` the longer anchor of the two, for
   ``a OR b`` both).  Only candidates are evaluated, exactly: phrases, prefixes
   and case are checked word by word around the anchor, ``NEAR/n`` on word
   positions, ``NOT`` through the negated part's own anchors.  The hits of a
   term, and the snippet of a span, are computed once per document and shared
   by every rule that has them.

A rule with ``NOT`` matches when its positive part matches and the negated part
does not; the reported matches are the positive hits.  ``variants`` are extra
spellings: they are alternatives of the rule's positive part (``(rule OR v1 OR
v2) NOT ...``), inherit the rule's field scope when the positive part is one
field-scoped term, and are parsed like rules (a plain variant is a phrase).
Phrases ignore punctuation between their words ("al-Baghdadi" = "al Baghdadi").
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, cast

import ahocorasick  # type: ignore[import-not-found]

from monitor.watch import fuzzy
from monitor.watch.fold import WORD, fold, fold_keep_case, original_span
from monitor.watch.query import (
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    QueryError,
    Term,
    parse_rule,
)

__all__ = ["DEFAULT_SCOPE", "Document", "Match", "Matcher", "Rule", "snippet", "snippet_window"]

#: Fields a term without ``title:``/``text:``/``author:``/``feed:`` looks in.
DEFAULT_SCOPE: Final = frozenset({"title", "text"})
SNIPPET_WIDTH: Final = 160
_VARIANT_CACHE_SIZE: Final = 100_000
_WORD_SPLIT: Final = re.compile(f"({WORD.pattern})")
_NON_WORD: Final = re.compile(r"[\W_]")  # one character at a time: lengths are kept


@dataclass(frozen=True, slots=True)
class Rule:
    """One watchlist rule; ``index`` is its position in the watchlist."""

    watchlist: str
    index: int
    text: str
    case_sensitive: bool = False
    fuzzy: bool = False
    variants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Document:
    """The matchable fields of one item; ``feeds`` are the names of its feeds."""

    title: str
    text: str
    author: str = ""
    feeds: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """One hit of one rule: ``matched`` as written, ``original[start:end]`` of the field.

    ``value_index`` says which feed name for ``field == "feed"`` (0 otherwise);
    ``fuzzy`` is true when the hit needed a variant spelling.
    """

    watchlist: str
    rule_index: int
    rule: str
    field: str
    matched: str
    start: int
    end: int
    snippet: str
    fuzzy: bool = False
    value_index: int = 0


class _Automaton(Protocol):
    def add_word(self, key: str, value: int) -> bool: ...
    def make_automaton(self) -> None: ...
    def iter(self, text: str) -> Iterator[tuple[int, int]]: ...


# --- compiled form -------------------------------------------------------------

# A hit: (field number, first word, word after the last, needed a variant spelling).
_Hit = tuple[int, int, int, bool]
# Where an anchor was found: (field number, word number, as a variant spelling).
_Occurrence = tuple[int, int, bool]
# Anchors of which one must be present in its scope: (anchor id, scope, word length).
_Need = frozenset[tuple[int, frozenset[str], int]]


@dataclass(frozen=True, slots=True)
class _Slot:
    """One word of a term or phrase."""

    word: str  # folded
    cased: str | None  # folded keeping case; set for case-sensitive rules
    prefix: bool
    fuzzy: bool  # may match a variant spelling


@dataclass(frozen=True, slots=True, eq=False)
class _Leaf:
    """A term or phrase: words to find in a row, in the fields of ``scope``."""

    id: int
    slots: tuple[_Slot, ...]
    scope: frozenset[str]
    anchor: int  # which slot is in the automaton
    anchor_id: int
    plain: list[str] | None  # the words, when every slot is a whole word, exact, any case

    def hits(self, run: _Run) -> list[_Hit] | None:
        return run.leaf(self) or None

    def need(self) -> _Need | None:
        return frozenset({(self.anchor_id, self.scope, len(self.slots[self.anchor].word))})


@dataclass(frozen=True, slots=True, eq=False)
class _All:
    children: tuple[_Expr, ...]

    def hits(self, run: _Run) -> list[_Hit] | None:
        hits: list[_Hit] = []
        for child in self.children:
            found = child.hits(run)
            if found is None:
                return None
            hits += found
        return hits

    def need(self) -> _Need | None:
        options = [n for c in self.children if (n := c.need()) is not None]
        return min(options, key=_cost) if options else None


@dataclass(frozen=True, slots=True, eq=False)
class _Any:
    children: tuple[_Expr, ...]

    def hits(self, run: _Run) -> list[_Hit] | None:
        found = [h for c in self.children if (h := c.hits(run)) is not None]
        return [hit for hits in found for hit in hits] if found else None

    def need(self) -> _Need | None:
        needs = [c.need() for c in self.children]
        return None if None in needs else frozenset().union(*(n for n in needs if n))


@dataclass(frozen=True, slots=True, eq=False)
class _None:
    child: _Expr

    def hits(self, run: _Run) -> list[_Hit] | None:
        return None if self.child.hits(run) is not None else []

    def need(self) -> _Need | None:
        return None


@dataclass(frozen=True, slots=True, eq=False)
class _Near:
    left: _Leaf
    right: _Leaf
    distance: int

    def hits(self, run: _Run) -> list[_Hit] | None:
        hits: list[_Hit] = []
        right = run.leaf(self.right)
        for a in run.leaf(self.left) if right else ():
            for b in right:
                if a[0] == b[0] and 0 <= max(b[1] - a[2], a[1] - b[2]) <= self.distance:
                    hits += (a, b)
        return hits or None

    def need(self) -> _Need | None:
        return min((self.left.need(), self.right.need()), key=_cost)


_Expr = _Leaf | _All | _Any | _None | _Near


def _cost(need: _Need | None) -> tuple[int, int]:
    """Prefer fewer anchors, then longer ones (longer words are rarer)."""
    return (len(need), -min(length for _, _, length in need)) if need else (1 << 30, 0)


def _fuzzy_word(word: str) -> bool:
    return len(word) >= fuzzy.MIN_FUZZY_LETTERS and word.isalpha()


def _with_variants(node: Node, variants: list[Node]) -> Node:
    """``(positive OR variant...) AND NOT ...``; see the module docstring."""
    if not variants:
        return node
    parts = list(node.children) if isinstance(node, And) else [node]
    negated = [p for p in parts if isinstance(p, Not)]
    positive = [p for p in parts if not isinstance(p, Not)]
    base = positive[0] if len(positive) == 1 else And(tuple(positive))
    if isinstance(base, Field) and isinstance(base.child, Term | Phrase):
        variants = [v if isinstance(v, Field) else Field(base.name, v) for v in variants]
    alternatives = Or((base, *variants))
    return And((alternatives, *negated)) if negated else alternatives


class _Compiler:
    """Turns ASTs into compiled expressions, sharing identical terms and anchors."""

    def __init__(self) -> None:
        self.leaves: dict[tuple[tuple[_Slot, ...], frozenset[str]], _Leaf] = {}
        self.anchors: dict[tuple[str, bool], int] = {}  # (word, prefix) -> anchor id
        self.fuzzy_anchors: set[int] = set()

    def leaf(self, node: Term | Phrase, scope: frozenset[str], rule: Rule) -> _Leaf:
        words = WORD.findall(fold(node.text)[0])
        cased: list[str | None] = list(WORD.findall(fold_keep_case(node.text)[0]))
        if not rule.case_sensitive or len(cased) != len(words):
            cased = [None] * len(words)
        last = len(words) - 1 if isinstance(node, Term) and node.prefix else -1
        alone = len(words) == 1  # a one-word given name has no variants alone
        slots = tuple(
            _Slot(
                w,
                c,
                i == last,
                rule.fuzzy
                and i != last
                and _fuzzy_word(w)
                and (not alone or fuzzy.varies_alone(w)),
            )
            for i, (w, c) in enumerate(zip(words, cased, strict=True))
        )
        if (slots, scope) not in self.leaves:
            anchor = max(range(len(slots)), key=lambda i: (not slots[i].prefix, len(slots[i].word)))
            key = (slots[anchor].word, slots[anchor].prefix)
            aid = self.anchors.setdefault(key, len(self.anchors))
            if slots[anchor].fuzzy:
                self.fuzzy_anchors.add(aid)
            plain = all(not (s.prefix or s.fuzzy or s.cased) for s in slots)
            words_if_plain = [s.word for s in slots] if plain else None
            self.leaves[slots, scope] = _Leaf(
                len(self.leaves), slots, scope, anchor, aid, words_if_plain
            )
        return self.leaves[slots, scope]

    def expr(self, node: Node, scope: frozenset[str], rule: Rule) -> _Expr:
        match node:
            case Term() | Phrase():
                return self.leaf(node, scope, rule)
            case Field(name, child):
                return self.expr(child, frozenset({name}), rule)
            case And(children):
                return _All(tuple(self.expr(c, scope, rule) for c in children))
            case Or(children):
                return _Any(tuple(self.expr(c, scope, rule) for c in children))
            case Not(child):
                return _None(self.expr(child, scope, rule))
            case Near(left, right, distance):
                return _Near(self.leaf(left, scope, rule), self.leaf(right, scope, rule), distance)
        raise TypeError(f"not a query node: {node!r}")


# --- one document --------------------------------------------------------------


class _FieldText:
    """One folded field value of the document, with its words and their positions.

    The words are split only when asked for: most documents contain no anchor of any
    rule, and for those the automaton's pass over the folded text is all the work (the
    split was a quarter of a document's matching time)."""

    __slots__ = (
        "_bounds",
        "_cased",
        "_words",
        "folded",
        "name",
        "offsets",
        "original",
        "value_index",
    )

    def __init__(self, name: str, value_index: int, original: str) -> None:
        self.name = name
        self.value_index = value_index
        self.original = original
        self.folded, self.offsets = fold(original)
        self._words: list[str] | None = None
        self._bounds: list[int] = []
        self._cased: dict[int, str] = {}

    def _split(self) -> list[str]:
        parts = _WORD_SPLIT.split(self.folded)  # gap, word, gap, ..., word, gap
        self._bounds = list(itertools.accumulate(map(len, parts)))  # word i: [2i] to [2i + 1]
        self._words = parts[1::2]
        return self._words

    @property
    def words(self) -> list[str]:
        return self._words if self._words is not None else self._split()

    @property
    def bounds(self) -> list[int]:
        if self._words is None:
            self._split()
        return self._bounds

    def cased(self, i: int) -> str:
        """Word ``i`` folded without losing its case."""
        if i not in self._cased:
            start, end = self.original_span(i, i + 1)
            self._cased[i] = "".join(WORD.findall(fold_keep_case(self.original[start:end])[0]))
        return self._cased[i]

    def original_span(self, first: int, stop: int) -> tuple[int, int]:
        start, end = self.bounds[2 * first], self.bounds[2 * stop - 1]
        return original_span(self.original, self.offsets, start, end)

    def looks_like_name(self, i: int) -> bool:
        start, end = self.original_span(i, i + 1)
        return fuzzy.looks_like_name(self.original[start:end])


def _slot_match(slot: _Slot, text: _FieldText, i: int) -> int:
    """0: no; 1: the word itself; 2: a variant spelling."""
    word = text.words[i]
    if word.startswith(slot.word) if slot.prefix else word == slot.word:
        if slot.cased is None:
            return 1
        cased = text.cased(i)
        return 1 if (cased.startswith(slot.cased) if slot.prefix else cased == slot.cased) else 0
    if slot.fuzzy and _fuzzy_word(word) and fuzzy.is_variant(slot.word, word):
        return 2 if text.looks_like_name(i) else 0
    return 0


class _Run:
    """Matching one document: where the anchors are, and each term's hits once found."""

    __slots__ = ("cache", "fields", "occ", "spans")

    def __init__(self, fields: list[_FieldText], occ: dict[int, list[_Occurrence]]) -> None:
        self.fields = fields
        self.occ = occ
        self.cache: dict[int, list[_Hit]] = {}
        self.spans: dict[tuple[int, int, int], tuple[int, int, str, str]] = {}

    def span(self, fi: int, first: int, stop: int) -> tuple[int, int, str, str]:
        """Start, end, text and snippet of words ``first:stop`` of a field, as written."""
        key = (fi, first, stop)
        if key not in self.spans:
            text = self.fields[fi]
            start, end = text.original_span(first, stop)
            found = text.original[start:end]
            self.spans[key] = (start, end, found, snippet(text.original, start, end))
        return self.spans[key]

    def leaf(self, leaf: _Leaf) -> list[_Hit]:
        hits = self.cache.get(leaf.id)
        if hits is not None:
            return hits
        hits = []
        slots, fields = leaf.slots, self.fields
        if len(slots) == 1 and slots[0].cased is None:  # the anchor is the whole term
            allow_variant = slots[0].fuzzy
            for fi, wi, variant in self.occ.get(leaf.anchor_id, ()):
                if fields[fi].name in leaf.scope and (allow_variant or not variant):
                    hits.append((fi, wi, wi + 1, variant))
        else:
            for fi, wi, _ in self.occ.get(leaf.anchor_id, ()):
                text = fields[fi]
                start = wi - leaf.anchor
                stop = start + len(slots)
                if text.name not in leaf.scope or start < 0 or stop > len(text.words):
                    continue
                if leaf.plain is not None:
                    if text.words[start:stop] == leaf.plain:
                        hits.append((fi, start, stop, False))
                    continue
                kinds = 0
                for j, slot in enumerate(slots):
                    kind = _slot_match(slot, text, start + j)
                    if not kind:
                        break
                    kinds |= kind
                else:
                    hits.append((fi, start, stop, kinds > 1))
        self.cache[leaf.id] = hits
        return hits


def snippet_window(text: str, start: int, end: int, width: int = SNIPPET_WIDTH) -> tuple[int, int]:
    """Where :func:`snippet` cuts ``text`` around ``text[start:end]``: at word boundaries,
    about ``width`` characters in all (the preview and the match list cut the same way)."""
    room = max(0, width - (end - start)) // 2
    lo, hi = max(0, start - room), min(len(text), end + room)
    if lo > 0 and (space := text.find(" ", lo, start)) >= 0:
        lo = space + 1
    if hi < len(text) and (space := text.rfind(" ", end, hi)) >= 0:
        hi = space
    return lo, hi


def snippet(text: str, start: int, end: int, width: int = SNIPPET_WIDTH) -> str:
    """About ``width`` characters of ``text`` around ``text[start:end]``, marked «like this»."""
    lo, hi = snippet_window(text, start, end, width)
    window = f"{text[lo:start]}«{text[start:end]}»{text[end:hi]}"
    return f"{'…' if lo > 0 else ''}{' '.join(window.split())}{'…' if hi < len(text) else ''}"


class Matcher:
    """Every rule of every watchlist in one automaton; see the module docstring."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        """Compile ``rules`` (see :meth:`compile`)."""
        compiler = _Compiler()
        self._rules: list[Rule] = []
        self._exprs: list[_Expr] = []
        for rule in rules:
            where = f"watchlist {rule.watchlist!r}, rule {rule.index}"
            try:
                node = parse_rule(rule.text)
                variants: list[Node] = []
                for k, variant in enumerate(rule.variants):
                    where = f"watchlist {rule.watchlist!r}, rule {rule.index}, variant {k}"
                    variants.append(parse_rule(variant))
            except QueryError as exc:
                raise exc.located(where) from None
            self._rules.append(rule)
            self._exprs.append(compiler.expr(_with_variants(node, variants), DEFAULT_SCOPE, rule))
        # anchor id -> [(scope, rule numbers)]: which rules a found anchor makes candidates
        candidates: dict[int, dict[str, list[int]]] = defaultdict(dict)
        for number, expr in enumerate(self._exprs):
            for aid, scope, _ in expr.need() or ():
                for name in scope:
                    candidates[aid].setdefault(name, []).append(number)
        # anchor id -> field name -> the rules an anchor found in that field makes candidates
        self._candidates = dict(candidates)
        anchors = list(compiler.anchors)
        self._anchor_words = [word for word, _ in anchors]
        self._key_lengths = [len(word) + (1 if prefix else 2) for word, prefix in anchors]
        self._automaton: _Automaton | None = None
        if anchors:
            self._automaton = cast(_Automaton, ahocorasick.Automaton())
            for aid, (word, prefix) in enumerate(anchors):
                self._automaton.add_word(f" {word}" if prefix else f" {word} ", aid)
            self._automaton.make_automaton()
        self._variant_cache: dict[str, frozenset[int]] = {}  # text word -> fuzzy anchors
        self._fuzzy_keys: dict[str, set[int]] = defaultdict(set)
        self._fuzzy_deletions: dict[str, set[int]] = defaultdict(set)
        for aid in compiler.fuzzy_anchors:
            for key in fuzzy.key_forms(fuzzy.variant_key(anchors[aid][0])):
                self._fuzzy_keys[key].add(aid)
                for deleted in {key} | fuzzy.deletions(key):
                    self._fuzzy_deletions[deleted].add(aid)

    @classmethod
    def compile(cls, rules: Sequence[Rule]) -> Matcher:
        """Compile ``rules``; a bad rule raises :class:`QueryError` naming it."""
        return cls(rules)

    def __len__(self) -> int:
        return len(self._rules)

    def _variant_anchors(self, word: str) -> frozenset[int]:
        """The fuzzy anchors of which ``word`` is a variant (not the anchor itself)."""
        if not _fuzzy_word(word):
            return frozenset()
        aids: set[int] = set()
        for key in fuzzy.key_forms(fuzzy.variant_key(word)):  # Q spelled k and g
            aids |= self._fuzzy_keys.get(key, set())
            if len(word) >= fuzzy.ONE_EDIT_LETTERS:
                for deleted in {key} | fuzzy.deletions(key):
                    aids |= self._fuzzy_deletions.get(deleted, set())
        words = self._anchor_words
        return frozenset(a for a in aids if words[a] != word and fuzzy.is_variant(words[a], word))

    def match(self, doc: Document) -> list[Match]:
        """Every match of every rule in ``doc``, by rule order, then field and position."""
        values = [("title", 0, doc.title), ("text", 0, doc.text), ("author", 0, doc.author)]
        values += [("feed", i, name) for i, name in enumerate(doc.feeds)]
        fields = [_FieldText(n, i, v) for n, i, v in values if v]
        occ, candidates = self._anchors(fields)
        run = _Run(fields, occ)
        matches: list[Match] = []
        for number in sorted(candidates):
            hits = self._exprs[number].hits(run)
            if hits:
                matches += _report(self._rules[number], run, hits)
        return matches

    def _anchors(self, fields: list[_FieldText]) -> tuple[dict[int, list[_Occurrence]], set[int]]:
        """Where each anchor is, and the rules that makes candidates."""
        occ: dict[int, list[_Occurrence]] = defaultdict(list)
        candidates: set[int] = set()
        for fi, text in enumerate(fields):
            if self._automaton is None:
                continue
            lengths = self._key_lengths
            found: set[int] = set()
            hits = list(self._automaton.iter(f" {_NON_WORD.sub(' ', text.folded)} "))
            if hits:  # a field without words has no hit
                starts = text.bounds[::2]
                for end, aid in hits:
                    start = bisect.bisect_left(starts, end - lengths[aid] + 1)
                    occ[aid].append((fi, start, False))
                    found.add(aid)
            if self._fuzzy_keys:
                found |= self._fuzzy(fi, text, occ)
            for aid in found:
                candidates.update(self._candidates.get(aid, {}).get(text.name, ()))
        return occ, candidates

    def _fuzzy(self, fi: int, text: _FieldText, occ: dict[int, list[_Occurrence]]) -> set[int]:
        """Anchors found as variant spellings: one lookup per distinct word, then cached."""
        found: dict[str, frozenset[int]] = {}
        cache = self._variant_cache
        for word in set(text.words):
            aids = cache.get(word)
            if aids is None:
                if len(cache) >= _VARIANT_CACHE_SIZE:
                    cache.clear()
                aids = cache[word] = self._variant_anchors(word)
            if aids:
                found[word] = aids
        present: set[int] = set()
        for i, word in enumerate(text.words if found else ()):
            if word in found and text.looks_like_name(i):
                for aid in found[word]:
                    occ[aid].append((fi, i, True))
                    present.add(aid)
        return present


def _report(rule: Rule, run: _Run, hits: list[_Hit]) -> list[Match]:
    """One match per distinct span (exact if any hit of that span was exact)."""
    best: dict[tuple[int, int, int], bool] = {}
    for fi, first, stop, variant in hits:
        best[fi, first, stop] = best.get((fi, first, stop), True) and variant
    out: list[Match] = []
    for (fi, first, stop), variant in sorted(best.items()):
        text = run.fields[fi]
        start, end, matched, context = run.span(fi, first, stop)
        out.append(
            Match(
                watchlist=rule.watchlist,
                rule_index=rule.index,
                rule=rule.text,
                field=text.name,
                matched=matched,
                start=start,
                end=end,
                snippet=context,
                fuzzy=variant,
                value_index=text.value_index,
            )
        )
    return out
