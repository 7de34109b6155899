"""A watch query as a full-text engine query: a superset of its matches (pure, no database).

Search indexes the *folded* words of each field (:func:`index_text`), so the
engine never tokenises or folds on its own: SQLite FTS5 gets the words joined
by spaces and splits them with its ``ascii`` tokenizer (every non-ASCII
character is a token character, every ASCII one in a folded word is a letter
or digit), PostgreSQL gets a ``tsvector`` literal of the words
(:func:`tsvector_literal`), cast without any text-search configuration.  A
token of the engine is then exactly a word of :mod:`monitor.watch.matcher`.

:func:`candidates` turns the query AST into a :data:`Candidates` tree whose
parts an engine can evaluate; each part says whether it is *exact* (finds
exactly the items the matcher would) or only a superset:

* FTS5 does terms, phrases, prefixes, column scopes and ``NEAR`` (the same
  "at most n words between, either order, same field" as the matcher):
  everything is exact;
* PostgreSQL gets words with positions (title and text words weighted A and
  B, author words as ``_word``); a phrase or ``NEAR`` is "all these words in the
  field" for the GIN index (a superset) plus a ``check`` with phrase operators
  (``<->``, ``<N>``), evaluated on a page's candidates only; a one-word term or
  prefix is exact;
* ``feed:`` parts are not in the engine: each term is checked against the
  feed names (few) by the storage layer, :class:`FeedHas`;
* ``NOT x`` is kept only when ``x`` is exact, otherwise dropped (which widens).

The storage layer confirms every candidate with the real matcher, so the
engine only has to never miss one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from monitor.watch.fold import WORD, fold, fold_char
from monitor.watch.matcher import DEFAULT_SCOPE
from monitor.watch.query import And, Field, Near, Node, Not, Or, Phrase, Term

__all__ = [
    "EVERYTHING",
    "AllOf",
    "AnyOf",
    "Candidates",
    "Everything",
    "FeedHas",
    "Fts",
    "NoneOf",
    "candidates",
    "fts5_text",
    "index_text",
    "tsvector_literal",
]

DIALECTS: Final = ("sqlite", "postgresql")
_WEIGHTS: Final = {"title": "A", "text": "B", "author": "C"}
_COLUMNS: Final = ("title", "text", "author")
MAX_LEXEME_BYTES: Final = 2047  # PostgreSQL refuses longer lexemes
MAX_POSITION: Final = 16383  # PostgreSQL clamps larger positions to this
MAX_POSITIONS: Final = 256  # PostgreSQL keeps this many positions of a lexeme
MAX_NEAR_CHECK: Final = 8  # NEAR/n up to this is checked by positions (2(n+1) alternatives)
#: The lexeme of an item whose positions PostgreSQL could not all keep (never a word's:
#: ``_`` is not part of a word, and an author lexeme is ``_`` and a word).
LONG: Final = "__"


class _FoldTable(dict[int, str]):
    """``str.translate`` table of :func:`monitor.watch.fold.fold_char`, filled lazily."""

    def __missing__(self, code: int) -> str:
        folded = fold_char(chr(code))
        self[code] = folded
        return folded


_FOLD: Final = _FoldTable()
_RUNS: Final = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]+")
_NON_WORDS: Final = re.compile(r"[\W_]+")


def _folded(value: str) -> str:
    """``fold(value)[0]`` without its offset map (folding is per character): ASCII runs
    are lowered, only the rest goes through the translate table."""
    if value.isascii():
        return value.lower()
    return "".join(
        run.lower() if run.isascii() else run.translate(_FOLD) for run in _RUNS.findall(value)
    )


def index_text(value: str | None) -> str:
    """The folded words of a field value, space separated (PostgreSQL's lexemes)."""
    return _NON_WORDS.sub(" ", _folded(value)).strip() if value else ""


def fts5_text(value: str | None) -> str:
    """A field value as FTS5 indexes it with the ``ascii`` tokenizer: folded, and every
    non-ASCII character that is not a letter or digit made a space.

    That tokenizer splits on ASCII characters other than letters and digits and
    keeps every non-ASCII one in a token, so its tokens are exactly the words of
    :func:`index_text`; ASCII punctuation is left for it to split on (the regular
    expression pass over a whole English article would cost more than the index)."""
    if not value:
        return ""
    if value.isascii():
        return value.lower()
    return "".join(
        run.lower() if run.isascii() else _NON_WORDS.sub(" ", run.translate(_FOLD))
        for run in _RUNS.findall(value)
    )


def tsvector_literal(title: str | None, text: str | None, author: str | None) -> str:
    """A PostgreSQL ``tsvector`` literal of the folded words, with their positions.

    Title and text words are lexemes weighted A and B (a query of the default
    scope, title and text, then needs no weight, which the GIN index answers
    without reading the tsvector again); title words are also lexemes of their
    own, ``t_word``, and author words only, ``_word`` (``_`` is never part of a
    word), so ``title:`` and ``author:`` need no weight either.  Positions are the
    word's place in its field (text after the title, one apart; author words
    from 1), so a phrase tsquery (``<->``) can check adjacency on the few
    candidates of a page (:class:`Fts` ``check``).  PostgreSQL clamps positions at
    16,383 and keeps 256 a lexeme: an item past either limit gets the lexeme
    :data:`LONG`, and ``check`` always lets it through to the matcher."""
    lexemes: dict[str, list[str]] = {}
    long = False
    titles, texts = index_text(title).split(), index_text(text).split()
    authors = index_text(author).split()
    fields = (
        (titles, 1, ("", "t_"), "A"),
        (texts, len(titles) + 2, ("",), "B"),
        (authors, 1, ("_",), ""),
    )
    for words, start, marks, weight in fields:
        if start + len(words) > MAX_POSITION:
            long = True
        for position, word in enumerate(words, start):
            entry = f"{min(position, MAX_POSITION)}{weight}"
            for mark in marks:
                lexeme = mark + word
                found = lexemes.get(lexeme)
                if found is None:
                    if len(lexeme.encode()) <= MAX_LEXEME_BYTES:
                        lexemes[lexeme] = [entry]
                elif len(found) < MAX_POSITIONS:
                    found.append(entry)
                elif len(found) == MAX_POSITIONS:
                    found.append("")  # full: marked once
    parts = []
    for word, found in lexemes.items():
        if found[-1]:
            parts.append(f"'{word}':{','.join(found)}")
        else:  # its later positions are lost: ``LONG + word`` lets a phrase of it through
            parts.append(f"'{word}':{','.join(found[:-1])}")
            if len((LONG + word).encode()) <= MAX_LEXEME_BYTES:
                parts.append(f"'{LONG}{word}'")
            else:
                long = True
    if long:
        parts.append(f"'{LONG}'")
    return " ".join(parts)


# --- the candidate tree ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fts:
    """An engine query (FTS5 MATCH text, or tsquery text).

    ``check`` (PostgreSQL only, else None) is a tighter tsquery with phrase operators:
    true for every match, except in an item marked :data:`LONG`.  ``query`` alone
    is what the GIN index answers without reading the tsvectors; ``check`` is
    evaluated only on the candidates of a page, newest first, before the matcher."""

    query: str
    exact: bool
    check: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class FeedHas:
    """Items carried by a feed whose name matches this term or phrase (exact)."""

    leaf: Term | Phrase
    exact: bool = True


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Candidates, ...]
    exact: bool


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Candidates, ...]
    exact: bool


@dataclass(frozen=True, slots=True)
class NoneOf:
    """Items not in ``part`` (only built when ``part`` is exact)."""

    part: Candidates
    exact: bool = True


@dataclass(frozen=True, slots=True)
class Everything:
    """No restriction: every item is a candidate."""

    exact: bool = False


EVERYTHING: Final = Everything()
Candidates = Fts | FeedHas | AllOf | AnyOf | NoneOf | Everything


def _words(leaf: Term | Phrase) -> list[str]:
    return WORD.findall(fold(leaf.text)[0])


def _prefix(leaf: Term | Phrase) -> bool:
    return isinstance(leaf, Term) and leaf.prefix


def _fts5_phrase(leaf: Term | Phrase) -> str:
    return '"' + " ".join(_words(leaf)) + '"' + (" *" if _prefix(leaf) else "")


def _fts5_columns(scope: frozenset[str]) -> str:
    return "{" + " ".join(c for c in _COLUMNS if c in scope) + "}"


def _pg_leaf(leaf: Term | Phrase, scope: frozenset[str]) -> str:
    """Default scope: the bare lexemes; ``title:``: the ``t_`` lexemes; ``text:``: weight
    B; ``author:``: the ``_`` lexemes (see :func:`tsvector_literal`)."""
    weight = "B" if scope == {"text"} else ""
    mark = {"title": "t_", "author": "_"}.get(min(scope), "") if len(scope) == 1 else ""
    words = _words(leaf)
    parts = [
        f"'{mark}{w}'" + (f":{'*' if prefix else ''}{weight}" if prefix or weight else "")
        for i, w in enumerate(words)
        if len((mark + w).encode()) <= MAX_LEXEME_BYTES
        for prefix in [_prefix(leaf) and i == len(words) - 1]
    ]
    return parts[0] if len(parts) == 1 else "(" + " & ".join(parts) + ")"


def _pg_phrase(leaf: Term | Phrase, scope: frozenset[str]) -> str | None:
    """The words of a leaf one after the other (``<->``), or None when that would say
    no more than :func:`_pg_leaf` (one word) or cannot be said (a word too long)."""
    words = _words(leaf)
    if len(words) < 2 or any(len(w.encode()) + 2 > MAX_LEXEME_BYTES for w in words):
        return None
    parts = [_pg_leaf(Term(w), scope) for w in words[:-1]]
    parts.append(_pg_leaf(Term(words[-1], prefix=_prefix(leaf)), scope))
    lost = [_lost(Term(w), scope) for w in words[:-1]]
    lost.append(_lost(Term(words[-1], prefix=_prefix(leaf)), scope))
    return "(" + " <-> ".join(parts) + " | " + " | ".join(lost) + ")"


def _lost(leaf: Term, scope: frozenset[str]) -> str:
    """The lexeme saying an item has more positions of this word than PostgreSQL kept."""
    mark = {"title": "t_", "author": "_"}.get(min(scope), "") if len(scope) == 1 else ""
    return f"'{LONG}{mark}{_words(leaf)[0]}'" + (":*" if leaf.prefix else "")


def _leaf(leaf: Term | Phrase, scope: frozenset[str], dialect: str) -> Candidates:
    if scope == {"feed"}:
        return FeedHas(leaf)
    if dialect == "sqlite":
        return Fts(f"{_fts5_columns(scope)} : {_fts5_phrase(leaf)}", exact=True)
    return Fts(_pg_leaf(leaf, scope), len(_words(leaf)) == 1, _pg_phrase(leaf, scope))


def _pg_near(node: Near, scope: frozenset[str]) -> str | None:
    """NEAR/n of two single words as positions at most n + 1 apart, either order."""
    left, right = node.left, node.right
    if len(_words(left)) != 1 or len(_words(right)) != 1 or node.distance > MAX_NEAR_CHECK:
        return None
    if _prefix(left) or _prefix(right):
        return None
    a, b = _pg_leaf(left, scope), _pg_leaf(right, scope)
    if a == b or any(len(w.encode()) + 2 > MAX_LEXEME_BYTES for w in _words(left) + _words(right)):
        return None
    pairs = ((a, b), (b, a))
    gaps = range(1, node.distance + 2)
    near = [f"{x} <{gap}> {y}" for gap in gaps for x, y in pairs]
    lost = [_lost(Term(_words(side)[0]), scope) for side in (left, right)]
    return "(" + " | ".join(near + lost) + ")"


def _near(node: Near, scope: frozenset[str], dialect: str) -> Candidates:
    if scope == {"feed"}:
        return AllOf((FeedHas(node.left), FeedHas(node.right)), exact=False)
    if dialect == "sqlite":
        pair = f"{_fts5_phrase(node.left)} {_fts5_phrase(node.right)}"
        return Fts(f"{_fts5_columns(scope)} : NEAR({pair}, {node.distance})", exact=True)
    both = _combine_and(
        [_leaf(node.left, scope, dialect), _leaf(node.right, scope, dialect)], dialect
    )
    if isinstance(both, Fts):
        both = Fts(both.query, both.exact, _pg_near(node, scope) or both.check)
    return _inexact(both)


def _checks(parts: list[Fts], operator: str) -> str | None:
    """The parts' checks (else queries) joined, or None when no part has a check."""
    if all(p.check is None for p in parts):
        return None
    return _joined([p.check or p.query for p in parts], operator)


def _inexact(part: Candidates) -> Candidates:
    match part:
        case Fts(query):
            return Fts(query, False, part.check)
        case AllOf(parts):
            return AllOf(parts, exact=False)
        case AnyOf(parts):
            return AnyOf(parts, exact=False)
    return part


def _joined(queries: list[str], operator: str) -> str:
    return queries[0] if len(queries) == 1 else f" {operator} ".join(f"({q})" for q in queries)


class _Syntax:
    def __init__(self, dialect: str) -> None:
        sqlite = dialect == "sqlite"
        self.and_, self.or_ = ("AND", "OR") if sqlite else ("&", "|")
        self.not_ = " NOT " if sqlite else " & !"


def _combine_and(parts: list[Candidates], dialect: str) -> Candidates:
    syntax = _Syntax(dialect)
    exact = all(p.exact for p in parts)
    parts = [p for p in parts if not isinstance(p, Everything)]
    positive = [p for p in parts if isinstance(p, Fts)]
    negative = [p for p in parts if isinstance(p, NoneOf) and isinstance(p.part, Fts)]
    others = [p for p in parts if not isinstance(p, Fts) and all(p is not n for n in negative)]
    merged: list[Candidates] = []
    if positive:
        query = _joined([p.query for p in positive], syntax.and_)
        check = _checks(positive, syntax.and_)
        for neg in negative:
            assert isinstance(neg.part, Fts)  # exact: its query is its check
            query = f"({query}){syntax.not_}({neg.part.query})"
            check = check and f"({check}){syntax.not_}({neg.part.query})"
        merged.append(Fts(query, all(p.exact for p in positive), check))
    else:
        others = negative + others
    result = merged + others
    if not result:
        return EVERYTHING
    if len(result) == 1:
        return result[0] if exact else _inexact(result[0])
    return AllOf(tuple(result), exact)


def _combine_or(parts: list[Candidates], dialect: str) -> Candidates:
    if any(isinstance(p, Everything) for p in parts):
        return EVERYTHING
    exact = all(p.exact for p in parts)
    fts = [p for p in parts if isinstance(p, Fts)]
    others = [p for p in parts if not isinstance(p, Fts)]
    merged: list[Candidates] = []
    if fts:
        query = _joined([p.query for p in fts], _Syntax(dialect).or_)
        merged.append(Fts(query, all(p.exact for p in fts), _checks(fts, _Syntax(dialect).or_)))
    result = merged + others
    return result[0] if len(result) == 1 else AnyOf(tuple(result), exact)


def _translate(node: Node, scope: frozenset[str], dialect: str) -> Candidates:
    match node:
        case Term() | Phrase():
            return _leaf(node, scope, dialect)
        case Near():
            return _near(node, scope, dialect)
        case Field(name, child):
            return _translate(child, frozenset({name}), dialect)
        case And(children):
            return _combine_and([_translate(c, scope, dialect) for c in children], dialect)
        case Or(children):
            return _combine_or([_translate(c, scope, dialect) for c in children], dialect)
        case Not(child):
            inner = _translate(child, scope, dialect)
            return NoneOf(inner) if inner.exact else EVERYTHING
    raise TypeError(f"not a query node: {node!r}")


def candidates(node: Node, dialect: str) -> Candidates:
    """What the engine of ``dialect`` ("sqlite" or "postgresql") evaluates for ``node``:
    never fewer items than the matcher finds; see the module docstring."""
    if dialect not in DIALECTS:
        raise ValueError(f"no full-text search for the {dialect!r} database")
    return _translate(node, DEFAULT_SCOPE, dialect)
