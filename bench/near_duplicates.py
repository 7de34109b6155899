"""Near-duplicate detection: precision/recall on labelled copies, and lookup cost vs size.

What it measures, in one run, through the real storage code
(:meth:`monitor.storage.items.ItemRepository.add_many` and
:func:`monitor.storage.dedup.place`):

**A. Precision and recall.**  The ground-truth texts of the article-bench corpus
(texts of at least ``--min-words`` words) are the originals.  Each gets six
copies, made with a seeded RNG so every run builds the same set:

* ``headline``: a new headline line prepended;
* ``boilerplate``: an outlet's intro and/or outro paragraphs (30-80 words);
* ``edited``: 2-3 sentences edited (a number changed or a word replaced, and
  sometimes two adjacent words swapped);
* ``removed``: 10-20% of the sentences removed;
* ``combined``: headline + boilerplate + one edited sentence;
* ``revised``: a later version: a new paragraph of 2-3 real sentences of a related
  article after the first, two sentences updated, one dropped.

The originals are stored in a fresh SQLite store; then each copy is stored
under a URL of its own and judged by ``Stored.duplicate_of``: its original
(true positive), another item (false positive) or None (false negative).  The
copy is deleted again, so every copy is judged against the originals alone.

Negatives are pairs of different articles, stored one after the other in an
otherwise empty store (any ``duplicate_of`` is a false positive): each article
with its most similar other article by TF-IDF cosine, with a random other
article, and with its TF-IDF neighbour when both carry the *same* outlet
boilerplate.  A leave-one-out pass also places every original against all the
other originals (``place(..., exclude=own id)``).  All of this is repeated for
each ``--thresholds`` value with ``DedupPolicy(threshold)``.

**Hard negatives** (stored the same way; texts as monitor's ``extract_page`` returns
them from real pages, so template text that leaks into the body is there):

* 40 hand-picked pairs of corpus pages on one event from different outlets, mostly
  of the same day (``bench/data/neardup_same_event.json``), and the project's fixture
  pair ``tests/fixtures/dedup/hormuz-{tanker,families}.txt``;
* the same 40 pairs built harder: B with A's sentences carrying their shared names,
  numbers and quotes inserted verbatim (up to 40% of B), never random words;
* every pair of corpus pages from one site (real template, different article);
* each corpus page's own HTML with its article paragraphs, headline and standfirst
  replaced by two other articles' (openings of 45-120 words, or whole texts), then
  extracted: the same template and footer around different articles.

A proposal (not shipped) is measured beside them: sketching without the lines a
third page of the same template also has (see :func:`report_line_filter`).

A separate probe stores pairs of *short* different texts: the openings of two
articles followed by the same paywall notice, under 40 words in all (the
policy's ``min_words``), the shape of feed teasers.

**B. Lookup cost.**  The originals are stored through ``add_many``, then filler
items are bulk-inserted (items by SQLAlchemy Core executemany; sketches and band
keys by Core executemany on SQLite, by COPY on PostgreSQL; one transaction per
10k): real corpus sentences recombined at random (50-150 words) and sketched by
``sketch_text``, every 20th carrying one outlet's fixed footer.  The time of
``place(session, sketch, policy)`` (band probes + candidate verification) is
measured for ``--queries`` corpus copies and for 100 new items of that outlet, at 10k
and again at 100k
stored items (the same store, grown), on SQLite and, if reachable, on
PostgreSQL (a database created and dropped by this script).

    .venv/bin/python bench/near_duplicates.py [--skip-postgres]
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.article_metric import DEFAULT_CORPUS
from bench.neardup.evaluate import labelled_set
from bench.neardup.report import report_lookup, report_precision
from monitor.pipeline.sketch import SKETCH_VERSION
from monitor.storage.dedup import DedupPolicy


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--min-words", type=int, default=80, help="shortest original text")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.4, 0.5, 0.6, 0.7])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=500, help="lookups timed per size")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-precision", action="store_true", help="only part B")
    parser.add_argument("--skip-lookup", action="store_true", help="only part A")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    default = DedupPolicy()
    data = labelled_set(args.corpus, args.min_words, args.seed)
    print("# Near-duplicate detection\n")
    print(
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, SQLite "
        f"{sqlite3.sqlite_version}, sketch `{SKETCH_VERSION}`, seed {args.seed}, default "
        f"policy: threshold {default.threshold}, min_words {default.min_words}.\n"
    )
    if not args.skip_precision:
        report_precision(data, args.thresholds, args.min_words)
    if not args.skip_lookup:
        report_lookup(data, sorted(args.sizes), args.queries, args.seed, args.skip_postgres)
    print(f"Total run time: {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
