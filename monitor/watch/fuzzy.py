"""Name-variant matching for ``fuzzy: true`` rules.

Names of people and places reach English text through several transliteration
habits (Qassem / Qasem / Kassem, Soleimani / Suleimani / Sulaimani / Solemaini,
Rouhani / Rowhani).  Plain edit distance is the wrong measure: "Solemaini" is
two edits from "Soleimani" while "Solomon" is three, and "Israel" / "Israeli"
or "Hamas" / "hams" are one.  So the comparison has three stages:

1. **A transliteration key** (:func:`variant_key`) erases the differences that
   transliteration makes and keeps those it does not: ``ph`` -> ``f``, ``ck`` ->
   ``k``, ``-ollah``/``-ullah`` -> ``-allah`` (Hezbollah / Hizballah, Abdullah /
   Abdallah); ``sh``, ``ch``, ``kh``, ``zh`` stay letters of their own (they
   write other sounds: Kerman is not Chairman), ``h`` after any other consonant
   is dropped (Baghdad / Bagdad, Kadhafi / Kadafi, Riyadh / Riyad), and so is a
   final ``h`` after a vowel (Ayatollah / Ayatolla); the feminine ending
   ``-yeh``/``-ieh`` is ``-ya``/``-ia`` (Haniyeh / Haniya / Haniyah);
   ``c`` -> ``k``, and ``q`` becomes a letter ``Q`` of its own that compares equal
   to ``k`` and to ``g`` (Arabic qaf is written k, and g in Persian, Egyptian and
   Libyan speech: Qaddafi / Kadhafi / Gaddafi, Qasem / Ghasem), though ``k`` and
   ``g`` stay apart (Kamal is not Gamal); ``y``/``w`` are consonants before a
   vowel and vowels otherwise; each run of vowels
   becomes one class letter -- ``a``, ``i`` (e i y) or ``u`` (o u w) -- taken from
   its first vowel, except that ``ai``/``ay`` count as ``i`` (the Arabic ay
   diphthong is written ai, ay, ei, ey) and that a word-final run takes its
   last vowel (an ending: George / Georgia), except that a final ``ia``/``ea``
   stays two letters (a place's ending: Alexandria is not Alexandra), and a lone
   final ``e`` is a class ``E`` of its own (in European spellings it is mostly
   silent: Hilare is not Hillary); doubled letters are collapsed.  Arabic fatha
   and kasra are written a or e, damma o or u: hence the three classes.
2. **Equal keys** (``Q`` matching ``k`` or ``g``) make a variant for words of
   5-7 letters.  From 8 letters on, the keys may also differ by one edit in the
   optimal-string-alignment sense (insertion, deletion, adjacent transposition,
   or the substitution a <-> i, the fatha/kasra ambiguity), provided first and
   last key letters agree and both or neither end in ``ia`` (so Palestinian /
   Palestinians, Khamenei / Khomeini, a <-> u, Alexandria / Alexandra stay apart).
   Not from 7 letters: that adds Muhammad / Mohamed but also Johnson / Johnston
   (measured).
3. **Common English words are never variants** (of anything but themselves):
   a capitalised "Street" is not "Strait", whatever the keys say.  The list,
   :data:`COMMON_WORDS`, is built in: the 37,781 words of 5+ letters of SCOWL's
   lists up to size 35 (the core of most dictionaries, inflections too, no
   proper names; ``data/common-words.txt`` says where from and under what
   terms).  A rule's own word is checked against the most common 3,295 only
   (:data:`CORE_WORDS`): "bin Laden" is watched as a name.
4. **Names, by list** (issue #11, judged strictly: a hit is right only if it
   refers to the watched person or place).  :data:`DIFFERENT_NAMES` are pairs
   with equal keys that English-language news writes as two names (Antony /
   Anthony, Barak / Barack, Giorgia / Georgia): never variants.  A one-word rule
   that is a common given name (:data:`GIVEN_NAMES`: Mohammed, Qassem, Hossein,
   Anthony...) matches its own spelling only (:func:`varies_alone`, asked by the
   matcher): alone it names many people, and a variant spelling of it was far
   more often someone else (of 117 such hits, 22 were a watched person).  In a
   phrase ("Qassem Soleimani" / "Qasem Suleimani") it varies as before.

Words shorter than 5 letters, words with digits and keys shorter than 5 letters
are never fuzzy (a 4-letter key is too common: Dubai and Doobie are both
``dubi``, Sinai and Sione ``sini``; so Abbas / Abas do not match either).
Non-Latin words are compared folded (the Arabic-script spelling differences are
already removed by :mod:`monitor.watch.fold`).  The matcher adds one more guard,
:func:`looks_like_name`: in a cased script a fuzzy hit must be written with a
capital letter and not in all capitals, which keeps "sunny" from matching
"Sunni" and a wire headline's "TONNES" from matching Tunis.

Measured in ``bench/fuzzy_precision.py`` (615 names, 565 real texts, every
fuzzy-only hit judged; figures in BENCHMARKS.md) and before that in
``bench/watch_match.py``, with what was tried and left out: rejecting a
capitalised word that the same document also writes in lower case removed none
of the wrong hits (no page about "Wall Street" also says "street") and five right
ones (Indonesian text with both "Khalifah" and "khalifah"); dropping a final e as
silent (Amine / Amin) added Jenin / Jeanine, Recep / Recipe and Michel / Michelle;
requiring the last two key letters to agree in a one-edit match lost 24 required
variants (Mohammed / Mohammad is one edit before the ending).  Known weakness:
another name with the same key and not on a list still matches (Boris / Burris
is listed now; Hossein / Husein, Yasser / Yasir are one name and stay variants).
Tehran / Teheran do not match (an inserted vowel is an edit, and the words are
short).
"""

from __future__ import annotations

import functools
import re
from typing import Final

from monitor.watch.fold import fold
from monitor.watch.wordlists import COMMON_WORDS, CORE_WORDS, DIFFERENT_NAMES, GIVEN_NAMES

__all__ = [
    "COMMON_WORDS",
    "CORE_WORDS",
    "DIFFERENT_NAMES",
    "GIVEN_NAMES",
    "MIN_FUZZY_LETTERS",
    "ONE_EDIT_LETTERS",
    "deletions",
    "is_variant",
    "key_forms",
    "looks_like_name",
    "variant_key",
    "varies_alone",
]

MIN_FUZZY_LETTERS: Final = 5
ONE_EDIT_LETTERS: Final = 8
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
_CONSONANT_MAP: Final = str.maketrans({"q": "Q", "c": "k"})
_Q_LIKE: Final = frozenset("kg")  # what Q (written q) compares equal to, besides itself
_FEMININE: Final = ("yeh", "ieh")  # -> "ya", "ia"


def _vowel_run_class(run: str, final: bool) -> str:
    if final:  # an ending: George / Georgia, Maria / Marie differ
        if len(run) > 1 and run[-1] == "a" and _CLASS[run[-2]] == "i":
            return "ia"  # a place's -ia is not a name's -a: Alexandria / Alexandra
        return "E" if run == "e" else _CLASS[run[-1]]  # a lone final e: often silent
    if run[:2] in ("ai", "ay"):
        return "i"
    return _CLASS[run[0]]


@functools.lru_cache(maxsize=65536)
def variant_key(word: str) -> str:
    """The transliteration key of one word (folded first); see the module docstring."""
    w = fold(word)[0]
    if not _LATIN.fullmatch(w):
        return w
    if w.endswith(_FEMININE):
        w = w[:-2] + "a"
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


@functools.lru_cache(maxsize=65536)
def key_forms(key: str) -> tuple[str, ...]:
    """``key`` with each ``Q`` spelled ``k`` and ``g`` (every combination), for an index.

    Two keys match (:func:`is_variant`) exactly when they have a form in common.
    """
    if "Q" not in key:
        return (key,)
    parts = key.split("Q")
    forms = [parts[0]]
    for part in parts[1:]:
        forms = [f + q + part for f in forms for q in sorted(_Q_LIKE)]
    return tuple(forms)


def _same(a: str, b: str) -> bool:
    """Key letters that compare equal: the same, or ``Q`` and ``k`` or ``g``."""
    return a == b or (a == "Q" and b in _Q_LIKE) or (b == "Q" and a in _Q_LIKE)


def _same_key(a: str, b: str) -> bool:
    return a == b or (len(a) == len(b) and all(map(_same, a, b)))


def deletions(key: str) -> set[str]:
    """Every string one deletion away from ``key`` (for a one-edit index)."""
    return {key[:i] + key[i + 1 :] for i in range(len(key))}


def _sub_cost(a: str, b: str) -> int:
    if _same(a, b):
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
            if i > 1 and j > 1 and _same(s[i - 1], t[j - 2]) and _same(s[i - 2], t[j - 1]):
                cost = min(cost, prev2[j - 2] + 1)
            cur[j] = cost
        if min(cur) > 1:
            return False
        prev2, prev = prev, cur
    return prev[-1] <= 1


@functools.lru_cache(maxsize=65536)
def is_variant(term: str, word: str) -> bool:
    """Whether ``word`` is a spelling or transliteration variant of ``term`` (one word each).

    Case and diacritics are ignored.  A text's ``word`` that is a common English
    word (:data:`COMMON_WORDS`) is a variant of itself only, and so is a ``term``
    among the most common (:data:`CORE_WORDS`); otherwise the relation is symmetric.
    """
    a, b = fold(term)[0], fold(word)[0]
    if a == b:
        return True
    if min(len(a), len(b)) < MIN_FUZZY_LETTERS or not (a.isalpha() and b.isalpha()):
        return False
    if a in CORE_WORDS or b in COMMON_WORDS or frozenset((a, b)) in DIFFERENT_NAMES:
        return False
    ka, kb = variant_key(a), variant_key(b)
    if min(len(ka), len(kb)) < _MIN_KEY:
        return False
    if _same_key(ka, kb):
        return True
    return (
        min(len(a), len(b)) >= ONE_EDIT_LETTERS
        and min(len(ka), len(kb)) >= _ONE_EDIT_KEY
        and _same(ka[0], kb[0])
        and _same(ka[-1], kb[-1])
        and ka.endswith("ia") == kb.endswith("ia")  # Alexandria / Alexandra
        and _within_one_edit(ka, kb)
    )


def varies_alone(word: str) -> bool:
    """Whether a one-word fuzzy rule ``word`` may match other spellings.

    False for a given name (:data:`GIVEN_NAMES`): alone it names too many people.
    The matcher asks this of one-word terms only; in a phrase the word still varies.
    (Keeping every one-word rule of 5-6 letters to its own spelling too was tried on
    the held-out texts: it removed Munir / Monier, Peres / Pires, Sharon / Sharron,
    and lost 33 required variants of places watched alone: Riyadh / Riyad, Qatar /
    Katar, Beirut / Bayrut.)
    """
    return fold(word)[0] not in GIVEN_NAMES


def looks_like_name(word_as_written: str) -> bool:
    """Whether a word is written as a name: not starting with a lower-case letter, and
    not all capitals (a headline in capitals says nothing of which words are names:
    "TONNES" is not Tunis).  Uncased scripts pass."""
    if word_as_written[:1].islower():
        return False
    return not (len(word_as_written) > 1 and word_as_written.isupper())
