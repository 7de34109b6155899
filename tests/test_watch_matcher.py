# Confusable letters (Arabic, full-width, typographic quotes) are the point here.
# ruff: noqa: RUF001, RUF003
"""The watchlist matcher on an article of our own, shaped like a real funeral report.

The article below is written for these tests (it imitates the shape of
``/work/shared/samples/sample-article.txt``: headline, caption, byline, body that
spells one name several ways, a closing appeal), with Arabic and Persian lines.
"""

from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import WatchlistConfig
from monitor.watch.fold import fold, words
from monitor.watch.matcher import Document, Match, Matcher, Rule, snippet
from monitor.watch.query import QueryError
from monitor.watch.stage import WatchStage

TITLE = "Crowds in Kerman Mourn Qassem Soleimani as HAMAS Envoys Attend"
TEXT = """\
Mourners carry the coffin of General Qasem Soleimani through Kerman. (Photo: Levant Desk)

By Levant Desk Staff

Hundreds of thousands of people filled the streets of Kerman on Tuesday for the burial of \
Qāsem Soleimani, the commander killed in a drone strike near Baghdad airport last week.

A delegation of HAMAS officials flew in from Doha. The Hamas envoy, speaking after the prayers, \
said the general had been "a friend of the resistance", and called Solemaini a martyr.

Banners in the crowd read «سردار قاسم سلیمانی» and «الشهيد قاسم سليماني». Some chanted for \
Suleimani until late in the evening; police said the crush killed several people.

The US and the EU urged calm. IS, the group that once held Mosul, is not linked to the rally, \
officials said. Is the region on the brink? Analysts were divided.

Supporters of the Islamic Republic call Soleimani’s death a turning point; his successor, \
Esmail Qaani, vowed revenge. Football matches in Tehran were cancelled.

Levant Desk relies on readers. Donate today."""

DOC = Document(title=TITLE, text=TEXT, author="Levant Desk Staff", feeds=("Gulf Wire", "Al-Levant"))


def run(*rules: Rule, doc: Document = DOC) -> list[Match]:
    return Matcher.compile(rules).match(doc)


def rule(
    text: str, *, case_sensitive: bool = False, fuzzy: bool = False, variants: tuple[str, ...] = ()
) -> Rule:
    return Rule("Iran", 0, text, case_sensitive, fuzzy, variants)


def spans(matches: list[Match]) -> list[tuple[str, str]]:
    return [(m.field, m.matched) for m in matches]


# --- reporting -----------------------------------------------------------------


def test_a_plain_rule_is_a_phrase_reported_as_written() -> None:
    found = run(rule("Qasem Soleimani"))
    assert spans(found) == [("text", "Qasem Soleimani"), ("text", "Qāsem Soleimani")]
    first = found[0]
    assert TEXT[first.start : first.end] == "Qasem Soleimani"
    assert (first.watchlist, first.rule_index, first.rule) == ("Iran", 0, "Qasem Soleimani")
    assert "«Qasem Soleimani»" in first.snippet
    assert not first.fuzzy and first.value_index == 0


def test_snippet_is_about_160_characters_on_word_boundaries() -> None:
    text = " ".join(f"word{i}" for i in range(100)) + " Soleimani " + "tail " * 100
    start = text.index("Soleimani")
    out = snippet(text, start, start + 9)
    assert "«Soleimani»" in out
    assert out.startswith("…word") and out.endswith("…")
    assert 140 <= len(out) <= 170
    assert snippet("a\n\nSoleimani   b", 3, 12) == "a «Soleimani» b"


def test_matches_are_in_rule_order_then_field_and_position() -> None:
    found = run(Rule("B", 1, "Kerman"), Rule("A", 0, "Hamas"))
    assert [(m.watchlist, m.field) for m in found] == [
        ("B", "title"),
        ("B", "text"),
        ("B", "text"),
        ("A", "title"),
        ("A", "text"),
        ("A", "text"),
    ]


# --- folding in matches -----------------------------------------------------------


def test_diacritics_are_ignored_both_ways() -> None:
    assert spans(run(rule("Qasem"))) == [("text", "Qasem"), ("text", "Qāsem")]
    assert spans(run(rule("Qāsem"))) == [("text", "Qasem"), ("text", "Qāsem")]


def test_arabic_and_persian_spellings_match_each_other() -> None:
    # The rule in Arabic script with tashkeel and alef maqsura; the text has a
    # Persian spelling (Persian yeh) and an Arabic one.
    found = run(rule("قَاسِم سُلَيْمانى"))
    assert [m.matched for m in found] == ["قاسم سلیمانی", "قاسم سليماني"]
    persian = Document("", "در کرمان، مراسم تشییع سردار سلیمانی")
    assert spans(run(rule("كرمان"), doc=persian)) == [("text", "کرمان")]
    assert spans(run(rule("شهيدة"), doc=Document("", "الشهيده"))) == []  # whole words only
    assert spans(run(rule("الشهيدة"), doc=Document("", "الشـهـيده"))) == [("text", "الشـهـيده")]
    assert spans(run(rule("أحمد"), doc=Document("", "قال احمد"))) == [("text", "احمد")]


def test_whole_words_only() -> None:
    assert run(rule("Iran"), doc=Document("", "Iranian and Irans")) == []
    assert run(rule("IS", case_sensitive=True), doc=Document("", "ISIS said")) == []
    assert (
        spans(run(rule("Soleimani"))) == [("title", "Soleimani")] + [("text", "Soleimani")] * 3
    )  # including "Soleimani’s"


# --- case ----------------------------------------------------------------------


def test_case_sensitive_rules() -> None:
    found = run(rule("IS", case_sensitive=True))
    assert [m.matched for m in found] == ["IS"]
    assert len(run(rule("IS"))) >= 3  # IS, is, Is
    assert [m.matched for m in run(rule("HAMAS", case_sensitive=True))] == ["HAMAS", "HAMAS"]
    assert [m.matched for m in run(rule("Hamas"))] == ["HAMAS", "HAMAS", "Hamas"]


def test_case_sensitive_and_insensitive_rules_with_the_same_words_do_not_mix() -> None:
    found = run(Rule("a", 0, "HAMAS", case_sensitive=True), Rule("b", 0, "hamas"))
    assert [(m.watchlist, m.matched) for m in found] == [
        ("a", "HAMAS"),
        ("a", "HAMAS"),
        ("b", "HAMAS"),
        ("b", "HAMAS"),
        ("b", "Hamas"),
    ]


# --- fuzzy ---------------------------------------------------------------------


def test_fuzzy_off_finds_only_the_spelling_given() -> None:
    assert [m.matched for m in run(rule("Solemaini"))] == ["Solemaini"]


def test_fuzzy_on_finds_variants_and_flags_them() -> None:
    found = run(rule("Soleimani", fuzzy=True))
    assert [(m.matched, m.fuzzy) for m in found if m.field == "text"] == [
        ("Soleimani", False),
        ("Soleimani", False),
        ("Solemaini", True),
        ("Suleimani", True),
        ("Soleimani", False),
    ]


def test_fuzzy_phrase_matches_word_by_word() -> None:
    found = run(rule("Qassem Soleimani", fuzzy=True))
    assert [(m.field, m.matched, m.fuzzy) for m in found] == [
        ("title", "Qassem Soleimani", False),
        ("text", "Qasem Soleimani", True),
        ("text", "Qāsem Soleimani", True),
    ]


def test_fuzzy_leaves_other_words_alone() -> None:
    doc = Document("", "Solomon ate salami; the solemaini spelling in lower case; Sulaiman.")
    assert run(rule("Soleimani", fuzzy=True), doc=doc) == []
    assert run(rule("Iran", fuzzy=True), doc=Document("", "Iraq and Oran")) == []


def test_fuzzy_q_is_found_as_k_or_g_both_ways() -> None:
    doc = Document("", "Gaddafi, Kadhafi, Qadhafi and Kaddafi; Muammar Qaddafi's son.")
    assert [m.matched for m in run(rule("Qaddafi", fuzzy=True), doc=doc)] == [
        "Gaddafi",
        "Kadhafi",
        "Qadhafi",
        "Kaddafi",
        "Qaddafi",
    ]
    assert [m.matched for m in run(rule("Gaddafi", fuzzy=True), doc=doc)] == [
        "Gaddafi",
        "Qadhafi",
        "Qaddafi",
    ]
    long_doc = Document("", "Mohammad Ghalibaf, or Qalibaf, and Mohammad Bagher Qalibaf.")
    assert [m.matched for m in run(rule("Ghalibaf", fuzzy=True), doc=long_doc)] == [
        "Ghalibaf",
        "Qalibaf",
        "Qalibaf",
    ]


def test_fuzzy_skips_common_english_words() -> None:
    doc = Document("Wall Street Rallies", "On Wall Street, shares rose; the Strait was calm.")
    assert spans(run(rule("Strait", fuzzy=True), doc=doc)) == [("text", "Strait")]


# --- fields --------------------------------------------------------------------


def test_field_scope() -> None:
    assert spans(run(rule("title:Kerman"))) == [("title", "Kerman")]
    assert spans(run(rule("text:HAMAS"))) == [("text", "HAMAS"), ("text", "Hamas")]
    assert spans(run(rule('author:"Levant Desk"'))) == [("author", "Levant Desk")]
    assert spans(run(rule('title:(Kerman OR "Islamic Republic")'))) == [("title", "Kerman")]


def test_unscoped_terms_look_in_title_and_text_only() -> None:
    assert run(rule("Staff"), doc=Document("x", "y", author="Levant Desk Staff")) == []
    assert run(rule("Wire")) == []


def test_feed_scope_reports_which_feed() -> None:
    found = run(rule("feed:Levant"))
    assert [(m.field, m.value_index, m.matched) for m in found] == [("feed", 1, "Levant")]
    assert run(rule('feed:"Wire Al"')) == []  # a phrase never spans two feed names


# --- operators -----------------------------------------------------------------


def test_phrase_word_order_and_punctuation() -> None:
    assert spans(run(rule('"Soleimani through Kerman"'))) == [("text", "Soleimani through Kerman")]
    assert run(rule('"Kerman through Soleimani"')) == []
    assert spans(run(rule('"Kerman Photo"'))) == [("text", "Kerman. (Photo")]  # punctuation ignored


def test_near_counts_words_between_in_either_order() -> None:
    doc = Document("", "Soleimani was killed near Baghdad airport.")
    assert run(rule("Soleimani NEAR/3 Baghdad"), doc=doc)  # was killed near: 3 between
    assert run(rule("Baghdad NEAR/3 Soleimani"), doc=doc)
    assert run(rule("Soleimani NEAR/2 Baghdad"), doc=doc) == []
    assert spans(run(rule("Soleimani NEAR/3 Baghdad"), doc=doc)) == [
        ("text", "Soleimani"),
        ("text", "Baghdad"),
    ]
    assert run(rule('"near Baghdad" NEAR/0 airport'), doc=doc)
    assert run(rule("Baghdad NEAR/0 Baghdad"), doc=doc) == []  # two occurrences needed


def test_prefix() -> None:
    found = run(rule("Solei*"))
    assert {m.matched for m in found} == {"Soleimani"}
    assert len(found) == 4
    assert run(rule("eiman*")) == []  # only at the start of a word
    assert run(rule('"General Qasem Sol*"')) == []  # no prefix inside quotes
    assert spans(run(rule("al-Lev*"))) == []  # a prefix phrase: al, then lev...
    assert spans(run(rule("feed:al-Lev*"))) == [("feed", "Al-Levant")]


def test_not_excludes_and_reports_the_positive_hits() -> None:
    assert (
        spans(run(rule("Kerman NOT Rafsanjan"))) == [("title", "Kerman")] + [("text", "Kerman")] * 2
    )
    assert run(rule("Kerman NOT football")) == []
    assert run(rule("Kerman AND NOT title:Soleimani")) == []
    assert run(rule("Kerman AND NOT author:Soleimani"))


def test_and_or() -> None:
    assert spans(run(rule("Mosul AND Doha"))) == [("text", "Doha"), ("text", "Mosul")]
    assert run(rule("Mosul AND Aleppo")) == []
    assert spans(run(rule("Mosul OR Aleppo"))) == [("text", "Mosul")]
    assert spans(run(rule("title:Doha OR Mosul"))) == [("text", "Mosul")]


def test_variants_are_alternatives_that_keep_exclusions_and_scope() -> None:
    assert [m.matched for m in run(rule("Solemaini", variants=("Suleimani",)))] == [
        "Solemaini",
        "Suleimani",
    ]
    assert run(rule("Solemaini NOT football", variants=("Suleimani",))) == []
    found = run(rule("title:Soleimani", variants=("Kerman",)))
    assert spans(found) == [("title", "Kerman"), ("title", "Soleimani")]
    assert run(rule("Aleppo", variants=("Idlib", '"Islamic Republic"')))


# --- errors ----------------------------------------------------------------------


def test_a_bad_rule_is_named_in_the_error() -> None:
    with pytest.raises(QueryError) as caught:
        Matcher.compile([Rule("Iran", 0, "Soleimani"), Rule("Iran", 7, "(Soleimani OR Qasem")])
    assert caught.value.where == "watchlist 'Iran', rule 7"
    assert caught.value.column == 1
    assert "unbalanced parenthesis" in str(caught.value)
    with pytest.raises(QueryError, match="rule 2, variant 1: column 1"):
        Matcher.compile([Rule("Iran", 2, "Soleimani", variants=("Suleimani", "NOT x"))])


def test_empty_matcher_and_empty_document() -> None:
    assert Matcher.compile([]).match(DOC) == []
    assert run(rule("Kerman"), doc=Document("", "")) == []
    assert len(Matcher.compile([rule("a"), rule("b")])) == 2


def test_many_rules_share_one_automaton() -> None:
    rules = [Rule("bulk", i, f"Name{i} Surname{i}") for i in range(5000)]
    rules.append(Rule("Iran", 0, "Qaani"))
    matcher = Matcher.compile(rules)
    assert spans(matcher.match(DOC)) == [("text", "Qaani")]
    doc = Document("", "A report on Name17 Surname17 and name4999 SURNAME4999.")
    assert [m.rule_index for m in matcher.match(doc)] == [17, 4999]


def test_a_compiled_matcher_pickles_for_worker_processes() -> None:
    matcher = Matcher.compile([rule("Soleimani", fuzzy=True), Rule("g", 1, "title:Kerman")])
    copy = pickle.loads(pickle.dumps(matcher))
    assert copy.match(DOC) == matcher.match(DOC)


# --- against a brute-force reference -----------------------------------------------

_VOCAB = ["iran", "Soleimani", "qasem", "Qāsem", "hamas", "HAMAS", "al", "kerman", "said"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(_VOCAB), st.sampled_from([" ", ", ", "-", "\n", ". "])),
        max_size=30,
    ),
    st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=3),
)
def test_phrases_agree_with_a_brute_force_search(
    text_parts: list[tuple[str, str]], phrase: list[str]
) -> None:
    text = "".join(w + sep for w, sep in text_parts)
    text_words = words(fold(text)[0])
    wanted = [fold(w)[0] for w in phrase]
    expected = sum(
        text_words[i : i + len(wanted)] == wanted for i in range(len(text_words) - len(wanted) + 1)
    )
    found = run(rule(" ".join(phrase)), doc=Document("", text))
    assert len(found) == expected
    for m in found:
        assert words(fold(m.matched)[0]) == wanted
        assert text[m.start : m.end] == m.matched
        assert re.fullmatch(r"[^\W_].*[^\W_]|[^\W_]", m.matched, re.S)


@pytest.mark.parametrize(
    ("watchlist", "sensitive"),
    [
        ({"rules": ["Rafah"]}, False),
        ({"rules": ["Rafah"], "tags": ["gulf"]}, True),
        ({"rules": ["Rafah"], "feeds": ["Gulf Wire"]}, True),
        ({"rules": ["Rafah", "Gaza NOT feed:Gulf"]}, True),
        ({"rules": ["title:Rafah OR author:Haddad"]}, False),
    ],
)
def test_the_stage_knows_when_the_feeds_carrying_an_item_matter(
    watchlist: dict[str, object], sensitive: bool
) -> None:
    """Only then is a stored item matched again when another feed turns out to carry it."""
    stage = WatchStage([WatchlistConfig.model_validate({"name": "Desk", **watchlist})])
    assert stage.feed_sensitive is sensitive
