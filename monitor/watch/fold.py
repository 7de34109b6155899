"""Text folding for watchlist matching (never for display).

Every character of the original is folded on its own, so the result carries an
offset map back to the original and a match can be reported as written:

1. NFKD (compatibility forms, ligatures, Arabic presentation forms, full-width
   letters), then ``casefold`` (skipped by the case-keeping variant);
2. combining marks dropped (every character with a non-zero combining class):
   Latin accents (``Qāsem`` -> ``qasem``), Arabic tashkeel U+064B-U+0652, the
   dagger alef U+0670, the hamza and madda carried by أ إ آ ؤ ئ (so they fold to
   ا ا ا و ي), Hebrew points;
3. removed outright: tatweel U+0640, soft hyphen, zero-width (non-)joiners and
   spaces, bidi marks, BOM -- invisible characters that would otherwise split or
   disguise a word (Persian writes ZWNJ inside words);
4. Arabic-script letters mapped to one form: ٱ -> ا; ى and Persian ی -> ي;
   ة -> ه (also ۀ ە ہ); Persian ک -> Arabic ك; Arabic-Indic and Persian digits
   -> ASCII digits.  Arabic forms were picked over Persian ones because Arabic
   text is the majority in this domain; only the choice being the same on both
   sides matters;
5. NFC, so what is left is composed again (Hangul syllables).

Folding per character departs from whole-string NFKC only for sequences that
compose across characters (conjoining Hangul jamo); the marks that such
composition would absorb are dropped anyway.

A word is a run of letters and digits (``[^\\W_]+``); matching is whole-word.
"""  # noqa: RUF002

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["WORD", "fold", "fold_char", "fold_keep_case", "original_span", "words"]

WORD: Final = re.compile(r"[^\W_]+")

_REMOVED: Final = frozenset(
    "\u0640\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e"
)
_ARABIC: Final = {
    "\u0671": "\u0627",  # alef wasla -> alef (hamza/madda of the others are marks)
    "\u0649": "\u064a",  # alef maqsura -> yeh
    "\u06cc": "\u064a",  # Farsi yeh -> yeh
    "\u0629": "\u0647",  # ta marbuta -> heh
    "\u06c0": "\u0647",  # heh with yeh above
    "\u06d5": "\u0647",  # ae
    "\u06c1": "\u0647",  # heh goal
    "\u06a9": "\u0643",  # keheh (Persian kaf) -> kaf
}


def fold_char(char: str, keep_case: bool = False) -> str:
    """The folded form of one character: usually one character, sometimes none or several."""
    if char.isascii():
        return char if keep_case else char.lower()
    text = unicodedata.normalize("NFKD", char)
    if not keep_case:
        text = unicodedata.normalize("NFKD", text.casefold())
    out = []
    for c in text:
        if unicodedata.combining(c) or c in _REMOVED:
            continue
        if c in _ARABIC:
            c = _ARABIC[c]
        elif not c.isascii() and c.isdecimal():
            c = str(unicodedata.decimal(c))
        out.append(c)
    return unicodedata.normalize("NFC", "".join(out))


class _Table(dict[int, str]):
    """A lazily filled ``str.translate`` table (one per case mode), shared by all calls."""

    def __init__(self, keep_case: bool) -> None:
        super().__init__()
        self.keep_case = keep_case
        self.irregular: set[str] = set()  # characters that fold to zero or several
        self._pattern: re.Pattern[str] | None = None

    def __missing__(self, code: int) -> str:
        folded = fold_char(chr(code), self.keep_case)
        if len(folded) != 1:
            self.irregular.add(chr(code))
            self._pattern = None
        self[code] = folded
        return folded

    def irregular_pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            self._pattern = re.compile(f"[{re.escape(''.join(sorted(self.irregular)))}]")
        return self._pattern


_TABLES: Final = {False: _Table(False), True: _Table(True)}


def _fold(text: str, keep_case: bool) -> tuple[str, list[int]]:
    if text.isascii():
        return (text if keep_case else text.lower()), list(range(len(text)))
    table = _TABLES[keep_case]
    folded = text.translate(table)
    if table.irregular.isdisjoint(text):
        return folded, list(range(len(text)))
    offsets: list[int] = []
    done = 0
    for found in table.irregular_pattern().finditer(text):
        i = found.start()
        offsets.extend(range(done, i))
        offsets.extend([i] * len(table[ord(text[i])]))
        done = i + 1
    offsets.extend(range(done, len(text)))
    return folded, offsets


def fold(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` for matching; ``offsets[i]`` is the original index of folded char ``i``."""
    return _fold(text, keep_case=False)


def fold_keep_case(text: str) -> tuple[str, list[int]]:
    """Like :func:`fold` but keeping upper and lower case (for case-sensitive rules)."""
    return _fold(text, keep_case=True)


def words(folded: str) -> list[str]:
    """The words of a folded text, in order."""
    return WORD.findall(folded)


def original_span(text: str, offsets: list[int], start: int, end: int) -> tuple[int, int]:
    """The span of ``text`` that folded to ``folded[start:end]`` (``end > start``).

    The end is extended over following characters that fold to nothing (marks,
    tatweel), which belong to the last letter as written.
    """
    o_start = offsets[start]
    o_end = offsets[end - 1] + 1
    while o_end < len(text) and not text[o_end].isascii() and not fold_char(text[o_end]):
        o_end += 1
    return o_start, o_end
