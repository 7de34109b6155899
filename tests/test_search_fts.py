"""The watch query as engine queries (monitor.watch.fts) and search snippets: pure, no
database (the engines themselves are exercised in tests/test_search_store.py)."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.storage.item_queries import StoredItem
from monitor.storage.search import best_snippet, decode_cursor, encode_cursor
from monitor.watch import fts
from monitor.watch.fold import WORD, fold
from monitor.watch.matcher import Document, Matcher, Rule
from monitor.watch.query import Term, parse_rule

_ASCII_SEPARATORS = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")
SAMPLES = [
    "Qāsem Soleimani’s funeral — “huge”, said al-Baghdadi_x",  # noqa: RUF001
    "مئات الآلاف يشيعون القائد في طهـــران، قاسِم سُليمانى",
    "سلیمانی و کرمان ۱۲۳",
    "ＦＵＬＬ width, ﬁne ligatures, ½ and İstanbul, Straße, ꭰ Cherokee",  # noqa: RUF001
    "zero\u200bwidth soft\u00adhyphen tab\tnew\nline",
]


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_the_index_texts_have_exactly_the_matchers_words(value: str) -> None:
    words = WORD.findall(fold(value)[0])
    assert fts.index_text(value).split() == words
    assert [w for w in _ASCII_SEPARATORS.split(fts.fts5_text(value)) if w] == words


def test_fts5s_ascii_tokenizer_sees_the_same_words() -> None:
    """What FTS5 itself tokenises (read back from its vocabulary) is the matcher's words."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'ascii')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    for n, sample in enumerate(SAMPLES, 1):
        db.execute("INSERT INTO t (rowid, x) VALUES (?, ?)", (n, fts.fts5_text(sample)))
        rows = db.execute("SELECT term FROM v WHERE doc = ? ORDER BY offset", (n,)).fetchall()
        assert [r[0] for r in rows] == WORD.findall(fold(sample)[0]), sample


def test_tsvector_literal_weights_words_by_field_with_their_positions() -> None:
    literal = fts.tsvector_literal("Gaza truce", "truce talks in Gaza", "Nadia")
    expected = ["'gaza':1A,7B", "'t_gaza':1A", "'truce':2A,4B", "'t_truce':2A", "'talks':5B"]
    expected += ["'in':6B", "'_nadia':1"]  # the text after the title, one apart
    assert literal.split() == expected
    long = fts.tsvector_literal("", "war " * 300, "").split()  # PostgreSQL keeps 256
    assert long[0].count(",") == fts.MAX_POSITIONS - 1 and long[-1] == f"'{fts.LONG}war'"
    longer = fts.tsvector_literal("", " ".join(f"w{n}" for n in range(17000)), "")
    assert longer.endswith(f"'{fts.LONG}'") and f"'w16999':{fts.MAX_POSITION}B" in longer
    assert fts.tsvector_literal(None, None, None) == ""
    assert "x" * 3000 not in fts.tsvector_literal("x" * 3000, "", "")  # too long for PostgreSQL
    assert fts.candidates(parse_rule("text:(Gaza*)"), "postgresql") == fts.Fts("'gaza':*B", True)


@pytest.mark.parametrize(
    ("query", "sqlite", "postgresql", "pg_exact"),
    [
        ("Soleimani", '{title text} : "soleimani"', "'soleimani'", True),
        (
            "Qāsem Soleimani",
            '{title text} : "qasem soleimani"',
            "('qasem' & 'soleimani')",
            False,
        ),
        ("Solei*", '{title text} : "solei" *', "'solei':*", True),
        ("author:Haddad", '{author} : "haddad"', "'_haddad'", True),
        ("title:(a OR b)", '({title} : "a") OR ({title} : "b")', "('t_a') | ('t_b')", True),
        ("a NEAR/3 text:b", None, None, False),  # a field inside NEAR is not allowed
    ],
)
def test_leaves_become_engine_queries(
    query: str, sqlite: str | None, postgresql: str | None, pg_exact: bool
) -> None:
    if sqlite is None:
        with pytest.raises(Exception, match="NEAR"):
            parse_rule(query)
        return
    node = parse_rule(query)
    assert fts.candidates(node, "sqlite") == fts.Fts(sqlite, exact=True)
    assert fts.candidates(node, "postgresql") == fts.Fts(postgresql or "", exact=pg_exact)


def test_not_is_kept_only_over_an_exact_part() -> None:
    sqlite = fts.candidates(parse_rule('Hamas NOT "Gaza truce"'), "sqlite")
    assert sqlite == fts.Fts('({title text} : "hamas") NOT ({title text} : "gaza truce")', True)
    pg = fts.candidates(parse_rule('Hamas NOT "Gaza truce"'), "postgresql")
    assert pg == fts.Fts("'hamas'", exact=False)  # the phrase is a superset: dropped
    pg_word = fts.candidates(parse_rule("Hamas NOT Gaza"), "postgresql")
    assert pg_word == fts.Fts("('hamas') & !('gaza')", exact=True)


def test_near_is_pushed_down_to_fts5_and_widened_on_postgresql() -> None:
    node = parse_rule('Haniyeh NEAR/8 "Hamas leader"')
    assert fts.candidates(node, "sqlite") == fts.Fts(
        '{title text} : NEAR("haniyeh" "hamas leader", 8)', exact=True
    )
    pg = fts.candidates(node, "postgresql")
    assert pg == fts.Fts("('haniyeh') & (('hamas' & 'leader'))", exact=False)


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ('"White House"', "('white' <-> 'house' | '__white' | '__house')"),
        ('title:"White House"', "('t_white' <-> 't_house' | '__t_white' | '__t_house')"),
        ('text:"a b"', "('a':B <-> 'b':B | '__a' | '__b')"),
        ('author:"a b"', "('_a' <-> '_b' | '___a' | '___b')"),
        (
            "Donald NEAR/1 Trump",
            "('donald' <1> 'trump' | 'trump' <1> 'donald' | 'donald' <2> 'trump' "
            "| 'trump' <2> 'donald' | '__donald' | '__trump')",
        ),
        ('"a b" AND c NOT d', "((('a' <-> 'b' | '__a' | '__b')) & ('c')) & !('d')"),
        ('"a b" OR c', "(('a' <-> 'b' | '__a' | '__b')) | ('c')"),
        ("Trump", None),  # one word: the query is exact already
        ("Donald NEAR/9 Trump", None),  # too many alternatives: the matcher checks
        ("Don* NEAR/2 Trump", None),
        ("Trump NEAR/2 Trump", None),
    ],
)
def test_phrases_and_near_get_a_positional_check_on_postgresql(
    query: str, check: str | None
) -> None:
    found = fts.candidates(parse_rule(query), "postgresql")
    assert isinstance(found, fts.Fts) and found.check == check
    assert fts.candidates(parse_rule(query), "sqlite").check is None  # type: ignore[union-attr]


def test_feed_terms_are_left_to_the_feed_names() -> None:
    node = parse_rule("feed:(Levant NOT Gulf) AND vote")
    assert fts.candidates(node, "sqlite") == fts.AllOf(
        (
            fts.Fts('{title text} : "vote"', True),
            fts.AllOf(
                (
                    fts.FeedHas(Term("Levant")),
                    fts.NoneOf(fts.FeedHas(Term("Gulf"))),
                ),
                exact=True,
            ),
        ),
        exact=True,
    )
    either = fts.candidates(parse_rule("feed:Tehran OR Nasrallah"), "sqlite")
    assert isinstance(either, fts.AnyOf) and either.exact


def test_an_unknown_database_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        fts.candidates(parse_rule("x"), "mysql")


def item(text: str, title: str = "A title") -> StoredItem:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return StoredItem(
        id=1, url="u", canonical_url="u", guid=None, title=title, author=None,
        published_at=when, updated_at=None, fetched_at=when, summary=None, text=text,
        language="en", site_name=None, categories=(), image_url=None, word_count=0,
        content_hash=None, extraction_method="m", extractor_version="v", field_sources={},
        fetch_status=None, fetch_error=None, feeds=("Desk",),
    )  # fmt: skip


def test_the_best_snippet_is_where_the_hits_cluster_with_spans() -> None:
    filler = "Nothing happened here for a long while. " * 8
    text = f"Soleimani once. {filler}Then Soleimani,   and again\nSoleimani met Soleimani. {filler}"
    stored = item(text, title="Soleimani title")
    matches = Matcher([Rule("s", 0, "Soleimani")]).match(Document(stored.title or "", text))
    snippet, spans = best_snippet(stored, matches)
    assert len(spans) == 3 and len(snippet) <= 200
    assert [snippet[a:b] for a, b in spans] == ["Soleimani"] * 3
    assert snippet.startswith("…") and snippet.endswith("…") and "  " not in snippet
    title_only = Matcher([Rule("s", 0, "title:Soleimani")]).match(Document("Soleimani title", text))
    snippet, spans = best_snippet(stored, title_only)
    assert snippet == "Soleimani title" and spans == ((0, 9),)


def test_cursors_round_trip_and_bad_ones_are_refused() -> None:
    key = (datetime(2026, 3, 1, 12, tzinfo=UTC), 42)
    assert decode_cursor(encode_cursor(key)) == key
    for bad in ("!!", "e30", "eyJ0IjogIjIwMjYtMDEtMDEiLCAiaSI6IDF9", "eyJ0IjogMSwgImkiOiAxfQ"):
        with pytest.raises(ValueError, match="bad cursor"):
            decode_cursor(bad)
