"""Compare trafilatura extraction settings on the article-bench corpus (or a second set).

For each setting, every corpus page is extracted in this single process and scored
with the benchmark metric of :mod:`bench.article_metric`; the time of the extraction
call alone is measured with :func:`time.perf_counter`. Prints a markdown table.

Run from the repository root::

    .venv/bin/python -m bench.extraction_settings [--corpus DIR] [--limit N] [--repeat N]
    .venv/bin/python -m bench.extraction_settings --set second --repeat 5

``--set second`` runs the same table on the pages of :mod:`bench.second_pages` (real
pages the settings were *not* chosen on; fetched once into ``bench/.cache/``).

Columns: benchmark precision/recall/F1; extraction ms/page; time and F1 relative to
``extract(html)`` (F1 with a 95% paired-bootstrap interval over pages); pages with an
empty extraction; F1 of the pooled-count variant (:func:`bench.article_metric.pooled_score`).

Timing: a few pages are extracted untimed with every setting first (lazy imports and
caches), then the settings run round-robin ``--repeat`` times and the fastest pass of
each is reported. Scores come from the first pass (extraction is deterministic).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trafilatura
from trafilatura.deduplication import LRUCache
from trafilatura.settings import Document

from bench.article_metric import (
    DEFAULT_CORPUS,
    Match,
    Page,
    Scores,
    bootstrap_f1_diff,
    load_corpus,
    pooled_score,
    score,
    shingle_match,
)
from bench.second_pages import PACKAGE, VERSION, load_pages

Extractor = Callable[[Page], str | None]

BASELINE = "extract(html)"
#: The setting the pipeline ships (monitor.pipeline.extract.TRAFILATURA_OPTIONS), chosen on
#: article-bench; the summary line says where it ranks on the set being run.
CHOSEN = (
    "bare_extraction(html, url=url, with_metadata=True, include_comments=False, "
    "favor_recall=True, fast=True)"
)


def _extract(*, with_url: bool = False, **kwargs: Any) -> Callable[[], Extractor]:
    """Factory for ``trafilatura.extract(html, [url=url,] **kwargs)``."""

    def make() -> Extractor:
        def run(page: Page) -> str | None:
            url = page.url if with_url else None
            return trafilatura.extract(page.html, url=url, **kwargs)

        return run

    return make


def _extract_dedup() -> Extractor:
    """``extract(html, deduplicate=True)`` with a fresh cache per pass.

    ``deduplicate=True`` uses a process-wide LRU cache that remembers text segments
    across documents; a private cache per pass keeps passes and settings independent
    while behaving exactly like ``True`` in a fresh process.
    """
    cache = LRUCache()

    def run(page: Page) -> str | None:
        return trafilatura.extract(page.html, deduplicate=cache)

    return run


def _bare(**kwargs: Any) -> Callable[[], Extractor]:
    """Factory for ``trafilatura.bare_extraction(html, url=url, **kwargs).text``."""

    def make() -> Extractor:
        def run(page: Page) -> str | None:
            doc = trafilatura.bare_extraction(page.html, url=page.url, **kwargs)
            return doc.text if isinstance(doc, Document) else None

        return run

    return make


@dataclass(frozen=True, slots=True)
class Setting:
    """A named extraction setting; ``make`` returns a fresh extractor for one pass."""

    name: str
    make: Callable[[], Extractor]


SETTINGS: tuple[Setting, ...] = (
    Setting(BASELINE, _extract()),
    Setting("extract(html, url=url)", _extract(with_url=True)),
    Setting("extract(html, favor_precision=True)", _extract(favor_precision=True)),
    Setting("extract(html, favor_recall=True)", _extract(favor_recall=True)),
    Setting("extract(html, include_comments=False)", _extract(include_comments=False)),
    Setting("extract(html, include_tables=False)", _extract(include_tables=False)),
    Setting("extract(html, fast=True)", _extract(fast=True)),
    Setting("extract(html, deduplicate=True)", _extract_dedup),
    Setting(
        "extract(html, url=url, include_comments=False)",
        _extract(with_url=True, include_comments=False),
    ),
    Setting(
        "extract(html, url=url, include_comments=False, favor_precision=True)",
        _extract(with_url=True, include_comments=False, favor_precision=True),
    ),
    Setting(
        "bare_extraction(html, url=url, include_comments=False)",
        _bare(include_comments=False),
    ),
    Setting(
        "bare_extraction(html, url=url, with_metadata=True, include_comments=False)",
        _bare(with_metadata=True, include_comments=False),
    ),
    Setting(
        "bare_extraction(html, url=url, with_metadata=True, include_comments=False, "
        "favor_precision=True)",
        _bare(with_metadata=True, include_comments=False, favor_precision=True),
    ),
    Setting(
        "bare_extraction(html, url=url, with_metadata=True, include_comments=False, fast=True)",
        _bare(with_metadata=True, include_comments=False, fast=True),
    ),
    Setting(
        "bare_extraction(html, url=url, with_metadata=True, include_comments=False, "
        "favor_recall=True)",
        _bare(with_metadata=True, include_comments=False, favor_recall=True),
    ),
    Setting(
        "extract(html, url=url, include_comments=False, favor_recall=True, fast=True)",
        _extract(with_url=True, include_comments=False, favor_recall=True, fast=True),
    ),
    Setting(
        "bare_extraction(html, url=url, include_comments=False, favor_recall=True, fast=True)",
        _bare(include_comments=False, favor_recall=True, fast=True),
    ),
    Setting(
        "bare_extraction(html, url=url, with_metadata=True, include_comments=False, "
        "favor_recall=True, fast=True)",
        _bare(with_metadata=True, include_comments=False, favor_recall=True, fast=True),
    ),
)


@dataclass(slots=True)
class Result:
    """Scores and best pass time of one setting."""

    setting: Setting
    matches: list[Match]
    scores: Scores
    pooled: Scores
    seconds: list[float] = field(default_factory=list)

    @property
    def ms_per_page(self) -> float:
        return 1000 * min(self.seconds) / self.scores.pages


def run_pass(extractor: Extractor, pages: Sequence[Page]) -> tuple[list[Match], float]:
    """Extract and score every page; return the matches and the extraction time in s."""
    matches: list[Match] = []
    elapsed = 0.0
    for page in pages:
        start = time.perf_counter()
        text = extractor(page)
        elapsed += time.perf_counter() - start
        matches.append(shingle_match(page.truth, text))
    return matches, elapsed


def benchmark(
    settings: Sequence[Setting], pages: Sequence[Page], repeat: int, warmup: int
) -> list[Result]:
    """Run every setting ``repeat`` times round-robin over ``pages``."""
    for setting in settings:
        run_pass(setting.make(), pages[:warmup])
    results: dict[str, Result] = {}
    for _ in range(repeat):
        for setting in settings:
            gc.collect()
            matches, seconds = run_pass(setting.make(), pages)
            if setting.name not in results:
                results[setting.name] = Result(
                    setting, matches, score(matches), pooled_score(matches)
                )
            results[setting.name].seconds.append(seconds)
    return list(results.values())


def markdown_table(results: Sequence[Result], rounds: int = 1000) -> str:
    """Render the results as a markdown table, comparing each row to ``extract(html)``.

    "ΔF1 vs default" is the F1 difference with its 95% paired-bootstrap interval
    (``rounds`` resamples; 0 omits the interval).
    """
    base = next((r for r in results if r.setting.name == BASELINE), None)
    lines = [
        "| settings | precision | recall | F1 | ms/page | time vs default "
        "| ΔF1 vs default [95% CI] | empty | F1 pooled |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rel = delta = "n/a"
        if base is not None:
            rel = f"{100 * (r.ms_per_page / base.ms_per_page - 1):+.0f}%"
            delta = f"{r.scores.f1 - base.scores.f1:+.3f}"
            if rounds > 0 and r is not base:
                low, high = bootstrap_f1_diff(r.matches, base.matches, rounds)
                delta += f" [{low:+.3f}, {high:+.3f}]"
        lines.append(
            f"| `{r.setting.name}` | {r.scores.precision:.3f} | {r.scores.recall:.3f} "
            f"| {r.scores.f1:.3f} | {r.ms_per_page:.1f} | {rel} | {delta} "
            f"| {r.scores.empty} | {r.pooled.f1:.3f} |"
        )
    return "\n".join(lines)


def summary(results: Sequence[Result], rounds: int = 1000) -> str:
    """Where the shipped setting ranks by F1, and its F1 gap to the best one."""
    ranked = sorted(results, key=lambda r: -r.scores.f1)
    chosen = next(r for r in results if r.setting.name == CHOSEN)
    best = ranked[0]
    rank = 1 + sum(r.scores.f1 > chosen.scores.f1 for r in results)
    text = (
        f"Shipped setting `{CHOSEN}`: F1 {chosen.scores.f1:.3f}, rank {rank} of {len(results)} "
        f"by F1; best `{best.setting.name}` F1 {best.scores.f1:.3f}"
    )
    if best is not chosen and rounds > 0:
        low, high = bootstrap_f1_diff(chosen.matches, best.matches, rounds)
        text += (
            f"; shipped minus best {chosen.scores.f1 - best.scores.f1:+.3f} "
            f"[95% CI {low:+.3f}, {high:+.3f}]"
        )
    return text + "."


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="example: .venv/bin/python -m bench.extraction_settings --set second --repeat 5",
    )
    parser.add_argument(
        "--set",
        choices=("article-bench", "second"),
        default="article-bench",
        help="article-bench (--corpus) or the second set of bench/second_pages.py",
    )
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus dir (default: %(default)s)"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages (by id)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="timed passes per setting, fastest kept (default 1)"
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        help="bootstrap rounds for the F1 interval, 0 to skip (default 1000)",
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed pages per setting first (default 3)"
    )
    args = parser.parse_args(argv)

    # trafilatura logs a warning for every discarded page; the table counts them instead
    logging.disable(logging.CRITICAL)
    if args.set == "second":
        pages = load_pages()[: args.limit]
        source = f"second set ({PACKAGE}@{VERSION} test pages, bench/second_pages.py)"
    else:
        pages = load_corpus(args.corpus)[: args.limit]
        source = f"article-bench ({args.corpus})"
    if not pages:
        parser.error(f"no pages in {source}")
    results = benchmark(SETTINGS, pages, max(1, args.repeat), max(0, args.warmup))
    print(
        f"trafilatura {trafilatura.__version__}, Python {sys.version.split()[0]}, "
        f"{source}: {len(pages)} pages, best of {max(1, args.repeat)} pass(es)\n"
    )
    print(markdown_table(results, max(0, args.bootstrap)))
    print()
    print(summary(results, max(0, args.bootstrap)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
