# Confusable letters (Arabic, full-width, typographic quotes) are the point here.
# ruff: noqa: RUF001
"""Folding for matching: every rule of monitor.watch.fold, and the offset map."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.watch.fold import fold, fold_char, fold_keep_case, original_span, words


def folded(text: str) -> str:
    return fold(text)[0]


def test_ascii_is_lowered_with_identity_offsets() -> None:
    assert fold("Qassem SOLEIMANI") == ("qassem soleimani", list(range(16)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Qāsem", "qasem"),  # precomposed macron
        ("Qa\u0304sem", "qasem"),  # decomposed: a + combining macron
        ("Erdoğan", "erdogan"),
        ("Hézbollah", "hezbollah"),
        ("Straße", "strasse"),  # casefold expands
        ("ＩＲＡＮ", "iran"),  # full-width forms (NFKC)
        ("ﬁle", "file"),  # ligature (NFKC)
        ("İstanbul", "istanbul"),  # dotted capital I loses its dot
    ],
)
def test_latin_case_compatibility_and_diacritics(text: str, expected: str) -> None:
    assert folded(text) == expected


@pytest.mark.parametrize(
    ("text", "expected", "rule"),
    [
        ("أحمد", "احمد", "alef with hamza above"),
        ("إيران", "ايران", "alef with hamza below"),
        ("آمل", "امل", "alef with madda"),
        ("ٱلله", "الله", "alef wasla"),
        ("مصطفى", "مصطفي", "alef maqsura -> yeh"),
        ("سلیمانی", "سليماني", "Persian yeh -> Arabic yeh"),
        ("حماة", "حماه", "ta marbuta -> heh"),
        ("مُحَمَّد", "محمد", "tashkeel (damma, fatha, shadda) removed"),
        ("قاسمٌ", "قاسم", "tanween removed"),
        ("رحمٰن", "رحمن", "dagger alef U+0670 removed"),
        ("محـــمد", "محمد", "tatweel removed"),
        ("کرمان", "كرمان", "Persian keheh -> Arabic kaf"),
        ("مؤتمر", "موتمر", "hamza on waw -> waw"),
        ("رئيس", "رييس", "hamza on ya -> ya"),
        ("٢٠٢٠ و ۱۳۹۸", "2020 و 1398", "Arabic-Indic and Persian digits"),
        ("\ufeb3\ufee0\ufef4\ufee4\ufe8e\ufee7\ufef2", "سليماني", "presentation forms"),
        ("می\u200cخواهد", "میخواهد".replace("ی", "ي"), "ZWNJ removed, word kept whole"),
    ],
)
def test_arabic_and_persian_folding(text: str, expected: str, rule: str) -> None:
    assert folded(text) == expected, rule


def test_persian_and_arabic_spellings_of_one_name_fold_alike() -> None:
    assert folded("قاسم سلیمانی") == folded("قَاسِم سُلَيْمَانِي") == folded("قاسم سليمانى")
    assert folded("کرمان") == folded("كرمان")


def test_keep_case_variant_folds_everything_but_case() -> None:
    assert fold_keep_case("Qāsem HAMAS") == ("Qasem HAMAS", list(range(11)))
    assert fold_keep_case("Straße")[0] == "Straße"
    assert fold_keep_case("أحمد")[0] == "احمد"


def test_offsets_point_back_to_the_original() -> None:
    text = "Qa\u0304sem Soleimani, Straße"
    out, offsets = fold(text)
    assert out == "qasem soleimani, strasse"
    assert len(offsets) == len(out)
    assert [text[offsets[i]] for i in range(5)] == ["Q", "a", "s", "e", "m"]
    ss = out.index("ss")
    assert offsets[ss] == offsets[ss + 1] == text.index("ß")


def test_original_span_takes_trailing_marks_with_the_word() -> None:
    text = "cafe\u0301 noir, قاسمٌ"
    out, offsets = fold(text)
    assert original_span(text, offsets, 0, 4) == (0, 5)  # the accent belongs to the e
    start = out.index("قاسم")
    o_start, o_end = original_span(text, offsets, start, start + 4)
    assert text[o_start:o_end] == "قاسمٌ"


def test_words_are_runs_of_letters_and_digits() -> None:
    assert words(folded("Soleimani’s al-Baghdadi snake_case 2020, Qāsem!")) == [
        "soleimani",
        "s",
        "al",
        "baghdadi",
        "snake",
        "case",
        "2020",
        "qasem",
    ]


def test_fold_char_of_removed_characters_is_empty() -> None:
    for char in ("\u0640", "\u00ad", "\u200c", "\u200d", "\u064e", "\u0301"):
        assert fold_char(char) == "", unicodedata.name(char)


@given(st.text(max_size=60))
def test_offset_map_is_complete_and_monotonic(text: str) -> None:
    for out, offsets in (fold(text), fold_keep_case(text)):
        assert len(offsets) == len(out)
        assert offsets == sorted(offsets)
        assert all(0 <= o < len(text) for o in offsets)


@given(st.text(max_size=60))
def test_folding_is_idempotent(text: str) -> None:
    once = folded(text)
    assert folded(once) == once
