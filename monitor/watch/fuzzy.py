"""Name-variant matching for ``fuzzy: true`` rules.

Names of people and places reach English text through several transliteration
habits (Qassem / Qasem / Kassem, Soleimani / Suleimani / Sulaimani / Solemaini,
Rouhani / Rowhani).  Plain edit distance is the wrong measure: "Solemaini" is
two edits from "Soleimani" while "Solomon" is three, and "Israel" / "Israeli"
or "Hamas" / "hams" are one.  So the comparison has two stages:

1. **A transliteration key** (:func:`variant_key`) erases the differences that
   transliteration makes and keeps those it does not: ``ph`` -> ``f``, ``ck`` ->
   ``k``, ``-ollah``/``-ullah`` -> ``-allah`` (Hezbollah / Hizballah, Abdullah /
   Abdallah); ``sh``, ``ch``, ``kh``, ``zh`` stay letters of their own (they
   write other sounds: Kerman is not Chairman), ``h`` after any other consonant
   is dropped (Baghdad / Bagdad, Kadhafi / Kadafi, Riyadh / Riyad), and so is a
   final ``h`` after a vowel (Ayatollah / Ayatolla); ``q c`` -> ``k``; ``y``/``w``
   are consonants before a vowel and vowels otherwise; each run of vowels
   becomes one class letter -- ``a``, ``i`` (e i y) or ``u`` (o u w) -- taken from
   its first vowel, except that ``ai``/``ay`` count as ``i`` (the Arabic ay
   diphthong is written ai, ay, ei, ey) and that a word-final run takes its
   last vowel (an ending: George / Georgia); doubled letters are collapsed.  Arabic
   fatha and kasra are written a or e, damma o or u: hence the three classes.
2. **Equal keys** make a variant for words of 5-7 letters.  From 8 letters on,
   the keys may also differ by one edit in the optimal-string-alignment sense
   (insertion, deletion, adjacent transposition, or the substitution a <-> i,
   the fatha/kasra ambiguity), provided first and last key letters agree (so
   Palestinian / Palestinians, Khamenei / Khomeini, a <-> u, stay apart).

Words shorter than 5 letters, words with digits and keys shorter than 5 letters
are never fuzzy (a 4-letter key is too common: Dubai and Doobie are both
``dubi``, Sinai and Sione ``sini``).  Non-Latin words are compared folded (the Arabic-script
spelling differences are already removed by :mod:`monitor.watch.fold`).  The
matcher adds one more guard, :func:`looks_like_name`: in a cased script a fuzzy
hit must be written with a capital letter, which keeps "sunny" from matching
"Sunni" and "salami" from anything.

Known weakness: an English word that happens to share a name's key still
matches when capitalised (Strait / "Wall Street", Boris / Burris); a phrase rule
("Strait of Hormuz") needs every word and so avoids most of these.  Measured in
``bench/watch_match.py``.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from monitor.watch.fold import fold

__all__ = ["MIN_FUZZY_LETTERS", "deletions", "is_variant", "looks_like_name", "variant_key"]

MIN_FUZZY_LETTERS: Final = 5
_ONE_EDIT_LETTERS: Final = 8
_MIN_KEY: Final = 5
_ONE_EDIT_KEY: Final = 6
_LATIN: Final = re.compile(r"[a-z]+")
_VOWELS: Final = frozenset("aeiouyw")
_CLASS: Final = {"a": "a", "e": "i", "i": "i", "y": "i", "o": "u", "u": "u", "w": "u"}
_DIGRAPHS: Final = (
    ("ollah", "allah"),
    ("ullah", "allah"),
    ("ph", "f"),
    ("ck", "k"),
    ("sh", "S"),  # upper case: a letter of its own, never confused with a written one
    ("ch", "C"),
    ("kh", "X"),
    ("zh", "Z"),
)
_CONSONANT_MAP: Final = str.maketrans({"q": "k", "c": "k"})


def _vowel_run_class(run: str, final: bool) -> str:
    if final:  # an ending: George / Georgia, Maria / Marie differ
        return _CLASS[run[-1]]
    if run[:2] in ("ai", "ay"):
        return "i"
    return _CLASS[run[0]]


@functools.lru_cache(maxsize=65536)
def variant_key(word: str) -> str:
    """The transliteration key of one word (folded first); see the module docstring."""
    w = fold(word)[0]
    if not _LATIN.fullmatch(w):
        return w
    for digraph, repl in _DIGRAPHS:
        w = w.replace(digraph, repl)
    # h after a consonant goes (gh, th, dh...), and a final h after a vowel.
    w = w[0] + "".join(
        c
        for i, c in enumerate(w[1:], 1)
        if not (c == "h" and (w[i - 1] not in _VOWELS or i == len(w) - 1))
    )
    w = w.translate(_CONSONANT_MAP)
    out: list[str] = []
    i = 0
    while i < len(w):
        c = w[i]
        is_vowel = c in "aeiou" or (
            c in "yw" and not (i + 1 < len(w) and w[i + 1] in "aeiou") and i > 0
        )
        if not is_vowel:
            if not out or out[-1] != c:
                out.append(c)
            i += 1
            continue
        j = i + 1
        while j < len(w) and (
            w[j] in "aeiou" or (w[j] in "yw" and not (j + 1 < len(w) and w[j + 1] in "aeiou"))
        ):
            j += 1
        cls = _vowel_run_class(w[i:j], final=j == len(w))
        if not out or out[-1] != cls:
            out.append(cls)
        i = j
    return "".join(out)


def deletions(key: str) -> set[str]:
    """Every string one deletion away from ``key`` (for a one-edit index)."""
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


def _sub_cost(a: str, b: str) -> int:
    if a == b:
        return 0
    return 1 if {a, b} == {"a", "i"} else 2


def _within_one_edit(s: str, t: str) -> bool:
    """Optimal string alignment distance <= 1, with only a <-> i as a cheap substitution."""
    if abs(len(s) - len(t)) > 1:
        return False
    prev2: list[int] = []
    prev = list(range(len(t) + 1))
    for i in range(1, len(s) + 1):
        cur = [i] + [0] * len(t)
        for j in range(1, len(t) + 1):
            cost = min(
                prev[j] + 1,
                cur[j - 1] + 1,
                prev[j - 1] + _sub_cost(s[i - 1], t[j - 1]),
            )
            if i > 1 and j > 1 and s[i - 1] == t[j - 2] and s[i - 2] == t[j - 1]:
                cost = min(cost, prev2[j - 2] + 1)
            cur[j] = cost
        if min(cur) > 1:
            return False
        prev2, prev = prev, cur
    return prev[-1] <= 1


@functools.lru_cache(maxsize=65536)
def is_variant(term: str, word: str) -> bool:
    """Whether ``word`` is a spelling or transliteration variant of ``term`` (one word each).

    Case and diacritics are ignored; the relation is symmetric.
    """
    a, b = fold(term)[0], fold(word)[0]
    if a == b:
        return True
    if min(len(a), len(b)) < MIN_FUZZY_LETTERS or not (a.isalpha() and b.isalpha()):
        return False
    ka, kb = variant_key(a), variant_key(b)
    if min(len(ka), len(kb)) < _MIN_KEY:
        return False
    if ka == kb:
        return True
    return (
        min(len(a), len(b)) >= _ONE_EDIT_LETTERS
        and min(len(ka), len(kb)) >= _ONE_EDIT_KEY
        and ka[0] == kb[0]
        and ka[-1] == kb[-1]
        and _within_one_edit(ka, kb)
    )


def looks_like_name(word_as_written: str) -> bool:
    """True unless the word starts with a lower-case letter (uncased scripts pass)."""
    return not word_as_written[:1].islower()
