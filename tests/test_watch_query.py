"""The watchlist query language: AST, precedence, errors with columns, round trips."""

from __future__ import annotations

import contextlib
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import MonitorError
from monitor.watch.query import (
    FIELDS,
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    QueryError,
    Term,
    fields_of,
    is_positive,
    parse_query,
    parse_rule,
    to_query,
)

a, b, c = Term("a"), Term("b"), Term("c")


@pytest.mark.parametrize(
    ("query", "ast"),
    [
        ("Soleimani", Term("Soleimani")),
        ('"Qassem Soleimani"', Phrase("Qassem Soleimani")),
        ('"  Qassem   Soleimani "', Phrase("Qassem Soleimani")),
        ("Solei*", Term("Solei", prefix=True)),
        ("al-Baghdadi", Term("al-Baghdadi")),
        ("a AND b", And((a, b))),
        ("a b", And((a, b))),  # adjacent terms: AND
        ("a OR b", Or((a, b))),
        ("a NOT b", And((a, Not(b)))),
        ("a AND NOT b", And((a, Not(b)))),
        ("a and b", And((a, Term("and"), b))),  # lower case is a word
        ("a NEAR/5 b", Near(a, b, 5)),
        ('"x y" NEAR/0 bo*', Near(Phrase("x y"), Term("bo", prefix=True), 0)),
        ("title:a", Field("title", a)),
        ('TEXT:"x y"', Field("text", Phrase("x y"))),
        ("author:(a OR b)", Field("author", Or((a, b)))),
        ("feed:Reuters a", And((Field("feed", Term("Reuters")), a))),
        ("(a)", a),
    ],
)
def test_parses(query: str, ast: Node) -> None:
    assert parse_query(query) == ast


@pytest.mark.parametrize(
    ("query", "ast"),
    [
        ("a OR b AND c", Or((a, And((b, c))))),  # AND binds tighter than OR
        ("a b OR c", Or((And((a, b)), c))),
        ("(a OR b) c", And((Or((a, b)), c))),
        ("NOT a AND b", And((Not(a), b))),  # NOT binds tightest
        ("a NEAR/3 b AND c", And((Near(a, b, 3), c))),  # NEAR binds tighter than AND
        ("a NEAR/3 b OR c", Or((Near(a, b, 3), c))),
        ("a AND b AND c", And((a, b, c))),
        ("(a AND b) AND c", And((And((a, b)), c))),  # parentheses are kept
        ("NOT NOT a", Not(Not(a))),
    ],
)
def test_precedence_not_near_and_or(query: str, ast: Node) -> None:
    assert parse_query(query) == ast


def test_a_plain_rule_is_a_phrase() -> None:
    assert parse_rule("Qassem Soleimani") == Phrase("Qassem Soleimani")
    assert parse_rule("  Bosnia and   Herzegovina ") == Phrase("Bosnia and Herzegovina")
    assert parse_rule("Soleimani") == Phrase("Soleimani")
    assert parse_rule("Soleimani AND Iran") == And((Term("Soleimani"), Term("Iran")))
    assert parse_rule("Solei* Iran") == And((Term("Solei", prefix=True), Term("Iran")))


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("(Soleimani OR Qasem", 1, "unbalanced parenthesis: '(' at column 1 is never closed"),
        ("Soleimani)", 10, "unbalanced parenthesis: ')' without '('"),
        ("a AND (b OR c))", 15, "unbalanced parenthesis"),
        ("()", 1, "empty parentheses"),
        ("Soleimani AND", 14, "expected a term after AND"),
        ("Soleimani AND OR Iran", 15, "expected a term after AND, found 'OR'"),
        ("Soleimani OR", 13, "expected a term after OR"),
        ("Soleimani NOT", 14, "expected a term after NOT"),
        ("AND Iran", 1, "expected a term before AND"),
        ("a NEAR b", 3, "NEAR/n needs a number"),
        ("a NEAR/x b", 3, "NEAR/n needs a number"),
        ("a NEAR/ b", 3, "NEAR/n needs a number"),
        ("a NEAR/500 b", 3, "at most 100"),
        ("a NEAR/3", 9, "expected a term or phrase after NEAR/3"),
        ("a NEAR/3 (b)", 10, "expected a term or phrase after NEAR/3"),
        ("(a OR b) NEAR/3 c", 2, "NEAR/n joins two terms or phrases"),
        ("a NEAR/2 b NEAR/2 c", 12, "NEAR/n joins two terms or phrases"),
        ("titel:Soleimani", 1, "unknown field 'titel' (expected title, text, author, feed"),
        ("Iran: sanctions", 1, "unknown field 'Iran'"),
        ("title:", 7, "expected a term, phrase or '(' after title:"),
        ("title:NOT a", 7, "expected a term, phrase or '(' after title:"),
        ("title:text:a", 7, "a field scope cannot contain another one"),
        ("title:(a OR text:b)", 13, "a field scope cannot contain another one"),
        ('"Qassem Soleimani', 1, "unterminated phrase"),
        ('a ""', 3, "empty phrase"),
        ('" - "', 1, "empty phrase"),
        ("Sol*eimani", 4, "'*' is only allowed at the end of a term"),
        ("a*", 1, "'*' needs a word of at least 2 letters"),
        ("al-*", 1, "'*' needs a word of at least 2 letters"),
        ("*", 1, "'*' needs a word"),
        ("a AND -", 7, "'-' has no letters or digits"),
        ("(" * 41 + "a" + ")" * 41, 41, "nested"),
    ],
)
def test_errors_name_the_column_and_what_was_expected(
    query: str, column: int, message: str
) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert message in caught.value.message
    assert caught.value.column == column
    assert f"column {column}" in str(caught.value)


@pytest.mark.parametrize(
    ("rule", "column"),
    [("NOT football", 1), ("Soleimani OR NOT football", 14), ("NOT a AND NOT b", 1)],
)
def test_a_rule_of_exclusions_only_is_refused(rule: str, column: int) -> None:
    with pytest.raises(QueryError, match="NOT only excludes") as caught:
        parse_rule(rule)
    assert caught.value.column == column


def test_query_error_is_a_monitor_error_that_names_its_rule_and_pickles() -> None:
    with pytest.raises(QueryError) as caught:
        parse_rule("(Soleimani")
    error = caught.value
    assert isinstance(error, MonitorError)
    assert error.query == "(Soleimani"
    located = error.located("watchlist 'Iran', rule 3")
    assert str(located).startswith("watchlist 'Iran', rule 3: column 1 in '(Soleimani': ")
    copy = pickle.loads(pickle.dumps(located))
    assert (copy.message, copy.column, copy.where) == (error.message, 1, located.where)


def test_positive() -> None:
    assert is_positive(parse_query("a NOT b"))
    assert is_positive(parse_query("title:(a OR b) NOT c"))
    assert not is_positive(parse_query("a OR NOT b"))
    assert not is_positive(parse_query("NOT a"))


def test_fields_of_a_query() -> None:
    assert fields_of(parse_query("a OR (b NOT feed:Reuters)")) == {"feed"}
    assert fields_of(parse_query('title:"x y" author:z c NEAR/3 d')) == {"title", "author"}
    assert fields_of(parse_query("a b")) == frozenset()


def test_column_is_not_part_of_equality() -> None:
    assert parse_query("  a AND b") == parse_query("a AND b")


# --- property tests ------------------------------------------------------------

_WORD_CHARS = "abcdefghijklmnopqrstuvwxyzQSĀāé0123456789"
_RESERVED = {"AND", "OR", "NOT", "NEAR"}

_words = st.text(alphabet=_WORD_CHARS, min_size=1, max_size=8)
_term_texts = st.builds(
    lambda first, rest: first + rest,
    _words,
    st.text(alphabet=_WORD_CHARS + "-'.", max_size=6),
).filter(lambda t: t not in _RESERVED and t[-1] not in "-'.")
terms = st.one_of(
    st.builds(Term, _term_texts),
    st.builds(lambda w: Term(w, prefix=True), st.text(alphabet="abcxyz", min_size=2, max_size=6)),
)
phrases = st.builds(lambda ws: Phrase(" ".join(ws)), st.lists(_words, min_size=1, max_size=3))
leaves = st.one_of(terms, phrases)
nears = st.builds(Near, leaves, leaves, st.integers(min_value=0, max_value=100))


def _tree(fields: bool) -> st.SearchStrategy[Node]:
    base: st.SearchStrategy[Node] = st.one_of(leaves, nears)

    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        options = [
            st.builds(lambda cs: And(tuple(cs)), st.lists(children, min_size=2, max_size=3)),
            st.builds(lambda cs: Or(tuple(cs)), st.lists(children, min_size=2, max_size=3)),
            st.builds(Not, children),
        ]
        if fields:
            options.append(
                st.builds(Field, st.sampled_from(FIELDS), _tree(fields=False)),
            )
        return st.one_of(*options)

    return st.recursive(base, extend, max_leaves=8)


@settings(max_examples=300)
@given(_tree(fields=True))
def test_printing_then_parsing_gives_the_same_ast(ast: Node) -> None:
    assert parse_query(to_query(ast)) == ast


_PIECES = ["(", ")", '"', "AND", "OR", "NOT", "NEAR/3", "NEAR", "NEAR/x", "title:", "titel:"]
_PIECES += ["text:", "a", "Soleimani", "b*", "*", ":", "-", "é", "and", " ", "  ", "قاسم", "\u0301"]


@settings(max_examples=500)
@given(
    st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(_PIECES), max_size=12).map(" ".join),
        st.lists(st.sampled_from(_PIECES), max_size=12).map("".join),
    )
)
def test_garbage_raises_nothing_but_query_error(query: str) -> None:
    try:
        ast = parse_query(query)
    except QueryError as exc:
        assert 1 <= exc.column <= len(query) + 1
        return
    assert parse_query(to_query(ast)) == ast
    with contextlib.suppress(QueryError):
        parse_rule(query)


@pytest.mark.parametrize("rule", ["\r", "\x0b", "   ", "\t\n"])
def test_a_rule_of_only_whitespace_is_an_error_not_an_empty_phrase(rule: str) -> None:
    # an empty phrase once reached the matcher and crashed it (max() of an empty sequence)
    with pytest.raises(QueryError, match="the rule is empty"):
        parse_rule(rule)
