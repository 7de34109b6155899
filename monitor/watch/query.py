"""The watchlist query language: a parser to a typed AST, and a printer back.

Syntax (operators are upper case only; ``and`` is a word)::

    Soleimani                    a term (whole word; "al-Baghdadi" is the words al, baghdadi)
    "Qassem Soleimani"           a phrase: these words, in this order
    Solei*                       a prefix: any word starting with "solei"
    a AND b    a b               both (adjacent terms mean AND)
    a OR b                       either
    a NOT b    a AND NOT b       a, but not in a document that also has b
    a NEAR/5 b                   a and b with at most 5 words between them, either order
    title:a  text:"x y"  author:(a OR b)  feed:Reuters    field scope
    ( ... )                      grouping

Precedence, tightest first: NOT, NEAR, AND, OR.  ``NEAR/n`` joins exactly two
terms or phrases (n >= 0; 0 means adjacent).  A term without a field looks in
the title and the text; ``author:`` and ``feed:`` must be asked for.

A *plain rule* -- no operator, quote, parenthesis, field or ``*`` -- is a
phrase: the rule ``Qassem Soleimani`` means ``"Qassem Soleimani"``, which is
what an analyst typing a name expects.  :func:`parse_rule` applies that and
checks that the rule looks for something (``NOT x`` alone, or ``a OR NOT b``,
would match nearly every document).  Case sensitivity is a flag of the rule,
not syntax.

AST nodes are frozen dataclasses; their ``column`` (1-based, where the node
starts) is kept for error messages and is not part of equality.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from monitor.errors import MonitorError
from monitor.watch.fold import WORD, fold

__all__ = [
    "FIELDS",
    "And",
    "Field",
    "Near",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "QueryError",
    "Term",
    "is_positive",
    "parse_query",
    "parse_rule",
    "to_query",
]

FIELDS: Final = ("title", "text", "author", "feed")
MAX_NEAR: Final = 100
_MAX_DEPTH: Final = 40
_OPERATORS: Final = frozenset({"AND", "OR", "NOT"})
_FIELD: Final = re.compile(r"([A-Za-z]+):")
_NEAR: Final = re.compile(r"NEAR/(\d+)")
_LEXEME: Final = re.compile(r'[^\s()"]+')


class QueryError(MonitorError):
    """A query that cannot be parsed; ``column`` is 1-based within ``query``."""

    def __init__(self, message: str, column: int, query: str = "", where: str = "") -> None:
        self.message = message
        self.column = column
        self.query = query
        self.where = where
        super().__init__(str(self))

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        quoted = f" in {self.query!r}" if self.query else ""
        return f"{place}column {self.column}{quoted}: {self.message}"

    def __reduce__(self) -> tuple[type[QueryError], tuple[str, int, str, str]]:
        return (QueryError, (self.message, self.column, self.query, self.where))

    def located(self, where: str) -> QueryError:
        """The same error, naming the rule it came from (``watchlist 'x', rule 3``)."""
        return QueryError(self.message, self.column, self.query, where)


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    prefix: bool = False
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Near:
    left: Term | Phrase
    right: Term | Phrase
    distance: int
    column: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    child: Node
    column: int = field(default=0, compare=False, repr=False)


Node = Term | Phrase | And | Or | Not | Near | Field


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # TERM PHRASE LPAREN RPAREN AND OR NOT NEAR FIELD END
    text: str
    column: int
    number: int = 0


def _has_word(text: str) -> bool:
    return WORD.search(fold(text)[0]) is not None


def _term_token(text: str, column: int) -> _Token:
    if "*" in text[:-1]:
        raise QueryError("'*' is only allowed at the end of a term", column + text.index("*"))
    if text.endswith("*"):
        stem = text[:-1]
        last = WORD.findall(fold(stem)[0])
        if not last or not WORD.fullmatch(fold(stem[-1:])[0] or "_") or len(last[-1]) < 2:
            raise QueryError("'*' needs a word of at least 2 letters before it", column)
    elif not _has_word(text):
        raise QueryError(f"{text!r} has no letters or digits", column)
    return _Token("TERM", text, column)


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(query):
        char, col = query[pos], pos + 1
        if char.isspace():
            pos += 1
        elif char in "()":
            tokens.append(_Token("LPAREN" if char == "(" else "RPAREN", char, col))
            pos += 1
        elif char == '"':
            end = query.find('"', pos + 1)
            if end < 0:
                raise QueryError('unterminated phrase: missing closing "', col)
            text = " ".join(query[pos + 1 : end].split())
            if not _has_word(text):
                raise QueryError("empty phrase: put words between the quotes", col)
            tokens.append(_Token("PHRASE", text, col))
            pos = end + 1
        else:
            match = _LEXEME.match(query, pos)
            assert match is not None
            text = match.group()
            pos = match.end()
            if field_match := _FIELD.match(text):
                name = field_match.group(1)
                if name.lower() not in FIELDS:
                    raise QueryError(
                        f"unknown field {name!r} (expected {', '.join(FIELDS)}; "
                        'put a term with a colon in "quotes")',
                        col,
                    )
                tokens.append(_Token("FIELD", name.lower(), col))
                pos = col - 1 + field_match.end()
            elif text in _OPERATORS:
                tokens.append(_Token(text, text, col))
            elif text == "NEAR" or text.startswith("NEAR/"):
                near = _NEAR.fullmatch(text)
                if near is None:
                    raise QueryError("NEAR/n needs a number, e.g. NEAR/5", col)
                if int(near.group(1)) > MAX_NEAR:
                    raise QueryError(f"NEAR/n allows at most {MAX_NEAR} words", col)
                tokens.append(_Token("NEAR", text, col, int(near.group(1))))
            else:
                tokens.append(_term_token(text, col))
    tokens.append(_Token("END", "", len(query) + 1))
    return tokens


_STARTS: Final = frozenset({"TERM", "PHRASE", "LPAREN", "FIELD", "NOT"})


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _lex(query)
        self.pos = 0
        self.depth = 0
        self.in_field = False

    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expected(self, what: str) -> QueryError:
        text = self.tok.text + (":" if self.tok.kind == "FIELD" else "")
        found = "the end of the query" if self.tok.kind == "END" else repr(text)
        return QueryError(f"{what}, found {found}", self.tok.column)

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise QueryError("empty query", 1)
        node = self.or_expr()
        if self.tok.kind == "RPAREN":
            raise QueryError("unbalanced parenthesis: ')' without '('", self.tok.column)
        if self.tok.kind != "END":
            raise self.expected("expected AND, OR or the end")
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.tok.kind == "OR":
            self.take()
            if self.tok.kind not in _STARTS:
                raise self.expected("expected a term after OR")
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children), children[0].column)

    def and_expr(self) -> Node:
        if self.tok.kind in ("AND", "OR", "NEAR"):
            raise self.expected(f"expected a term before {self.tok.kind}")
        children = [self.near_expr()]
        while self.tok.kind == "AND" or self.tok.kind in _STARTS:
            if self.tok.kind == "AND":
                self.take()
                if self.tok.kind not in _STARTS:
                    raise self.expected("expected a term after AND")
            children.append(self.near_expr())
        return children[0] if len(children) == 1 else And(tuple(children), children[0].column)

    def near_expr(self) -> Node:
        left = self.unary()
        if self.tok.kind != "NEAR":
            return left
        near = self.take()
        if not isinstance(left, Term | Phrase):
            raise QueryError("NEAR/n joins two terms or phrases; this is not one", left.column)
        if self.tok.kind not in ("TERM", "PHRASE"):
            raise self.expected(f"expected a term or phrase after {near.text}")
        right = self.unary()
        assert isinstance(right, Term | Phrase)
        if self.tok.kind == "NEAR":
            raise QueryError(
                "NEAR/n joins two terms or phrases; combine several with AND", self.tok.column
            )
        return Near(left, right, near.number, near.column)

    def enter(self, column: int) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise QueryError(f"more than {_MAX_DEPTH} nested parentheses or NOTs", column)

    def unary(self) -> Node:
        if self.tok.kind == "NOT":
            token = self.take()
            if self.tok.kind not in _STARTS:
                raise self.expected("expected a term after NOT")
            self.enter(token.column)
            node = Not(self.unary(), token.column)
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        token = self.tok
        if token.kind == "TERM":
            self.take()
            prefix = token.text.endswith("*")
            return Term(token.text[:-1] if prefix else token.text, prefix, token.column)
        if token.kind == "PHRASE":
            self.take()
            return Phrase(token.text, token.column)
        if token.kind == "FIELD":
            if self.in_field or self.tokens[self.pos + 1].kind == "FIELD":
                column = token.column if self.in_field else self.tokens[self.pos + 1].column
                raise QueryError("a field scope cannot contain another one", column)
            self.take()
            if self.tok.kind not in ("TERM", "PHRASE", "LPAREN"):
                raise self.expected(f"expected a term, phrase or '(' after {token.text}:")
            self.in_field = True
            node = Field(token.text, self.primary(), token.column)
            self.in_field = False
            return node
        if token.kind == "LPAREN":
            return self.group()
        if token.kind == "RPAREN":
            raise QueryError("unbalanced parenthesis: ')' without '('", token.column)
        raise self.expected("expected a term")

    def group(self) -> Node:
        opening = self.take()
        if self.tok.kind == "RPAREN":
            raise QueryError("empty parentheses", opening.column)
        self.enter(opening.column)
        node = self.or_expr()
        self.depth -= 1
        if self.tok.kind != "RPAREN":
            if self.tok.kind == "END":
                raise QueryError(
                    f"unbalanced parenthesis: '(' at column {opening.column} is never closed",
                    opening.column,
                )
            raise self.expected("expected AND, OR or ')'")
        self.take()
        return node


def parse_query(query: str) -> Node:
    """Parse query syntax into an AST; raises :class:`QueryError` with a 1-based column."""
    try:
        return _Parser(query).parse()
    except QueryError as exc:
        raise QueryError(exc.message, exc.column, query) from None


def is_positive(node: Node) -> bool:
    """Whether a match of ``node`` always includes a match of one of its non-negated terms."""
    match node:
        case Not():
            return False
        case And(children):
            return any(is_positive(c) for c in children)
        case Or(children):
            return all(is_positive(c) for c in children)
        case Field(_, child):
            return is_positive(child)
    return True


def fields_of(node: Node) -> frozenset[str]:
    """The fields a query names (``feed:x AND y`` names ``feed``)."""
    match node:
        case Field(name, child):
            return frozenset({name}) | fields_of(child)
        case And(children) | Or(children):
            return frozenset().union(*(fields_of(c) for c in children))
        case Not(child):
            return fields_of(child)
    return frozenset()


def _first_not(node: Node) -> int:
    match node:
        case Not(_, column):
            return column
        case And(children) | Or(children):
            return min((_first_not(c) for c in children if not is_positive(c)), default=1)
        case Field(_, child):
            return _first_not(child)
    return node.column


def is_plain(query: str) -> bool:
    """Whether ``query`` is a plain rule (words only), which means a phrase."""
    return all(t.kind in ("TERM", "END") and not t.text.endswith("*") for t in _lex(query))


def parse_rule(rule: str) -> Node:
    """Parse a watchlist rule: a plain rule is a phrase, anything else a query.

    Raises :class:`QueryError` for bad syntax and for rules that look for nothing
    but exclusions.
    """
    if not rule.strip():
        raise QueryError("the rule is empty: write the words to look for", 1, rule)
    try:
        if is_plain(rule):
            return Phrase(" ".join(rule.split()), 1)
    except QueryError:
        pass  # the parser reports it with the query attached
    node = parse_query(rule)
    if not is_positive(node):
        raise QueryError(
            "NOT only excludes: the rule needs a term to look for, e.g. 'Soleimani NOT football'",
            _first_not(node),
            rule,
        )
    return node


_PRECEDENCE: Final[dict[type, int]] = {Or: 1, And: 2}


def _wrapped(child: Node, parent: type) -> str:
    text = to_query(child)
    child_prec = _PRECEDENCE.get(type(child), 9)
    parent_prec = _PRECEDENCE.get(parent, 9)
    needs = child_prec <= parent_prec if parent in _PRECEDENCE else child_prec < 9
    if isinstance(child, Near) and parent in (Not, Field):
        needs = True
    if isinstance(child, Not) and parent is Field:
        needs = True
    return f"({text})" if needs else text


def to_query(node: Node) -> str:
    """Print ``node`` in query syntax; ``parse_query(to_query(n)) == n``."""
    match node:
        case Term(text, prefix):
            return text + ("*" if prefix else "")
        case Phrase(text):
            return f'"{text}"'
        case And(children):
            return " AND ".join(_wrapped(c, And) for c in children)
        case Or(children):
            return " OR ".join(_wrapped(c, Or) for c in children)
        case Not(child):
            return "NOT " + _wrapped(child, Not)
        case Near(left, right, distance):
            return f"{to_query(left)} NEAR/{distance} {to_query(right)}"
        case Field(name, child):
            return f"{name}:{_wrapped(child, Field)}"
    raise TypeError(f"not a query node: {node!r}")
