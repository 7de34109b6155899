"""Corpus loader and article-body metric for the article-bench corpus.

The corpus (``/work/shared/corpus/article-bench``, see its README.md) is the
Zyte/Scrapinghub article-extraction benchmark: ``html_gz/<id>.html.gz`` pages and
``ground-truth.json`` mapping ``{id: {"articleBody": str, "url": str}}``. It is
third-party content and is always read from that path, never copied into the project.

The metric reproduces ``evaluate.py`` of scrapinghub/article-extraction-benchmark:

1. split each text into ``\\w+`` tokens and take every run of 4 tokens (a shingle);
   a text with 1-3 tokens yields one shorter shingle, an empty text none;
2. per page, compare the shingle multisets: ``tp`` = multiset intersection,
   ``fp`` = predicted-only, ``fn`` = truth-only, then divide the three by their sum
   so every page weighs the same (:func:`shingle_match`);
3. precision = mean of per-page ``tp / (tp + fp)`` over pages that predicted
   something; recall = mean of per-page ``tp / (tp + fn)`` over pages with a
   non-empty truth; F1 = harmonic mean of those two averages (:func:`score`).

Consequences worth knowing: an empty extraction is ``(0, 0, 1)``, i.e. recall 0 and
no say in precision; an empty ground truth with a non-empty extraction is ``(0, 1, 0)``,
i.e. precision 0 and no say in recall; both empty is ``(0, 0, 0)`` and is ignored.

:func:`bootstrap_f1_diff` gives a paired-bootstrap 95% interval for the F1 difference
of two extractors on the same pages (the published benchmark reports bootstrap
intervals too). :func:`pooled_score` is a variant that sums the normalised counts over pages before
dividing; it is *not* what the published numbers use and is provided for comparison.

Example::

    from bench.article_metric import DEFAULT_CORPUS, load_corpus, score, shingle_match

    pages = load_corpus(DEFAULT_CORPUS)
    result = score(shingle_match(p.truth, my_extractor(p.html)) for p in pages)
    print(result.f1)
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import NamedTuple

__all__ = [
    "DEFAULT_CORPUS",
    "SHINGLE_SIZE",
    "Match",
    "Page",
    "Scores",
    "bootstrap_f1_diff",
    "load_corpus",
    "pooled_score",
    "score",
    "shingle_match",
    "shingles",
    "tokenize",
]

#: Default corpus location: ``/work/shared/corpus/article-bench`` when this file
#: lives in ``/work/main/bench/``.
DEFAULT_CORPUS: Path = Path(__file__).resolve().parents[2] / "shared/corpus/article-bench"

#: Number of tokens per shingle used by the published benchmark.
SHINGLE_SIZE = 4

_TOKEN_RE = re.compile(r"\w+")

Shingle = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Page:
    """One corpus page: its id, original URL, decoded HTML and ground-truth body."""

    id: str
    url: str
    html: str
    truth: str


class Match(NamedTuple):
    """Shingle counts for one page, normalised so that ``tp + fp + fn == 1``.

    All three are 0 only when both texts are empty.
    """

    tp: float
    fp: float
    fn: float


@dataclass(frozen=True, slots=True)
class Scores:
    """Corpus-level scores.

    Attributes:
        precision: averaged precision (see :func:`score` / :func:`pooled_score`).
        recall: averaged recall.
        f1: harmonic mean of ``precision`` and ``recall`` (0 if both are 0).
        pages: number of pages scored.
        empty: pages whose prediction produced no shingle (nothing extracted).
    """

    precision: float
    recall: float
    f1: float
    pages: int
    empty: int


def load_corpus(path: Path | str = DEFAULT_CORPUS) -> list[Page]:
    """Load every page listed in ``<path>/ground-truth.json``, sorted by id.

    Args:
        path: corpus directory holding ``ground-truth.json`` and ``html_gz/``.

    Returns:
        The pages with their HTML decoded as UTF-8 (undecodable bytes replaced).

    Raises:
        FileNotFoundError: the ground truth or a listed page is missing.
    """
    root = Path(path)
    truth_file = root / "ground-truth.json"
    with truth_file.open(encoding="utf-8") as fh:
        truth: dict[str, dict[str, str]] = json.load(fh)
    pages: list[Page] = []
    for page_id in sorted(truth):
        entry = truth[page_id]
        with gzip.open(root / "html_gz" / f"{page_id}.html.gz", "rb") as fh:
            html = fh.read().decode("utf-8", errors="replace")
        pages.append(
            Page(
                id=page_id,
                url=entry.get("url") or "",
                html=html,
                truth=entry.get("articleBody") or "",
            )
        )
    return pages


def tokenize(text: str | None) -> list[str]:
    """Split ``text`` into ``\\w+`` tokens (Unicode-aware, case preserved)."""
    return _TOKEN_RE.findall(text or "")


def shingles(text: str | None, size: int = SHINGLE_SIZE) -> Counter[Shingle]:
    """Return the multiset of ``size``-token shingles of ``text``.

    As in the reference implementation, a text with fewer than ``size`` tokens
    (but at least one) yields a single shorter shingle, and an empty text none.
    """
    tokens = tokenize(text)
    if not tokens:
        return Counter()
    count = max(1, len(tokens) - size + 1)
    return Counter(tuple(tokens[i : i + size]) for i in range(count))


def shingle_match(truth: str | None, pred: str | None, size: int = SHINGLE_SIZE) -> Match:
    """Compare the shingle multisets of one page's ground truth and prediction.

    ``None`` is treated as an empty text, so a failed extraction counts as all
    false negatives. The counts are normalised to sum to 1 (unless both are empty).
    """
    true_counts = shingles(truth, size)
    pred_counts = shingles(pred, size)
    tp = sum((true_counts & pred_counts).values())
    fp = sum((pred_counts - true_counts).values())
    fn = sum((true_counts - pred_counts).values())
    total = tp + fp + fn
    if total == 0:
        return Match(0.0, 0.0, 0.0)
    return Match(tp / total, fp / total, fn / total)


def _precision(m: Match) -> float:
    return 1.0 if m.fp == m.fn == 0 else m.tp / (m.tp + m.fp)


def _recall(m: Match) -> float:
    return 1.0 if m.fp == m.fn == 0 else m.tp / (m.tp + m.fn)


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return 2 * precision * recall / total if total > 0 else 0.0


def score(matches: Iterable[Match]) -> Scores:
    """Benchmark scores: per-page precision and recall averaged over pages.

    Precision is averaged over pages with ``tp + fp > 0`` (something was
    extracted), recall over pages with ``tp + fn > 0`` (the truth is non-empty);
    an average over no page is 0. This matches the published benchmark numbers.
    """
    items = list(matches)
    precisions = [_precision(m) for m in items if m.tp + m.fp > 0]
    recalls = [_recall(m) for m in items if m.tp + m.fn > 0]
    precision = fmean(precisions) if precisions else 0.0
    recall = fmean(recalls) if recalls else 0.0
    return Scores(
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        pages=len(items),
        empty=sum(1 for m in items if m.tp + m.fp == 0),
    )


def pooled_score(matches: Iterable[Match]) -> Scores:
    """Variant: sum the normalised counts over pages, then ``TP/(TP+FP)``, ``TP/(TP+FN)``.

    Each page still contributes a total weight of 1, but a page's weight in precision
    (recall) is its share ``tp + fp`` (``tp + fn``), so this differs from :func:`score`.
    """
    items = list(matches)
    tp = sum(m.tp for m in items)
    fp = sum(m.fp for m in items)
    fn = sum(m.fn for m in items)
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    return Scores(
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        pages=len(items),
        empty=sum(1 for m in items if m.tp + m.fp == 0),
    )


def bootstrap_f1_diff(
    a: Sequence[Match], b: Sequence[Match], rounds: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% paired-bootstrap interval of ``score(a).f1 - score(b).f1``.

    ``a`` and ``b`` must hold the matches of the same pages in the same order; each
    round resamples page indices with replacement and scores both on that sample.
    The interval is the 2.5th-97.5th percentile of the differences.
    """
    if len(a) != len(b):
        raise ValueError("a and b must score the same pages")
    if rounds < 1:
        raise ValueError("rounds must be positive")
    if not a:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(a)
    diffs: list[float] = []
    for _ in range(rounds):
        idx = rng.choices(range(n), k=n)
        diffs.append(score([a[i] for i in idx]).f1 - score([b[i] for i in idx]).f1)
    diffs.sort()
    low = diffs[round(0.025 * (rounds - 1))]
    high = diffs[round(0.975 * (rounds - 1))]
    return (low, high)
