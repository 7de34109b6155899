"""The report's two parts: A (precision and recall over thresholds, by copy kind and
length, resemblance, misses, the short-text probe) and B (lookup cost vs store size)."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Sequence

from bench.neardup.corpus import (
    COPY_KINDS,
    LENGTH_BUCKETS,
    NEGATIVE_KINDS,
    PROBE_KIND,
)
from bench.neardup.evaluate import (
    Bench,
    LabelledSet,
    evaluate,
    pair_stats,
    sketch_of,
)
from bench.neardup.lookup import (
    OUTLET_EVERY,
    OUTLET_FOOTER,
    PG_BASE,
    PostgresBackend,
    Query,
    SqliteBackend,
    filler_text,
    lookup_bench,
    make_fillers,
    sentence_pool,
)
from bench.neardup.report_hard import report_hard
from bench.neardup.tables import fmt, quantiles, table
from monitor.pipeline.sketch import (
    sketch_text,
)
from monitor.pipeline.text import word_count
from monitor.storage.dedup import DedupPolicy


def report_precision(data: LabelledSet, thresholds: Sequence[float], min_words: int) -> None:
    default = DedupPolicy()
    articles, copies, negatives, probes = data.articles, data.copies, data.negatives, data.probes
    lengths = sorted(a.words for a in articles)
    print("## A. Precision and recall (SQLite, `ItemRepository.add_many`)\n")
    print(
        f"{len(articles)} originals (corpus ground-truth texts of >= {min_words} words, "
        f"of {data.pages}; words min {lengths[0]}, median {statistics.median(lengths):.0f}, "
        f"max {lengths[-1]}), {len(copies)} copies, {len(negatives)} labelled negative pairs "
        f"+ {len(articles)} leave-one-out queries. TF-IDF cosine of each article and its "
        f"nearest neighbour: median {statistics.median(data.cosines):.2f}, "
        f"max {max(data.cosines):.2f}.\n"
    )
    stats = {id(c): pair_stats(c.text, articles[c.original].text) for c in copies}
    hard = data.hard.pairs
    negative_stats = [pair_stats(p.partner, p.probe) for p in negatives]
    with tempfile.TemporaryDirectory(prefix="near-dup-") as tmp:
        originals_url = f"sqlite:///{tmp}/originals.db"
        negatives_url = f"sqlite:///{tmp}/negatives.db"
        bench = Bench(originals_url, default)
        stored = [bench.add(a.text) for a in articles]
        bench.close()
        ids = [s.item_id for s in stored]
        outcomes = [
            evaluate(
                t, originals_url, negatives_url, ids, articles, copies, negatives + hard + probes
            )
            for t in thresholds
        ]
    clustered = sum(s.duplicate_of is not None for s in stored)
    print(f"Originals placed as duplicates of other originals when stored: {clustered}.\n")

    chosen = next((o for o in outcomes if o.threshold == default.threshold), outcomes[0])
    print(f"### At threshold {chosen.threshold} (the default)\n")
    rows: list[list[object]] = []
    for kind in COPY_KINDS:
        t = chosen.copies[kind]
        rows.append([f"copy: {kind}", t.total, t.tp, t.fp, t.fn, fmt(t.precision), fmt(t.recall)])
    for kind, t in chosen.negatives.items():
        if kind != PROBE_KIND:
            rows.append([f"negative: {kind}", t.total, "-", t.fp, "-", "-", "-"])
    t = chosen.overall()
    rows.append(["**overall**", t.total, t.tp, t.fp, t.fn, fmt(t.precision), fmt(t.recall)])
    print(table(["pairs", "n", "TP", "FP", "FN", "precision", "recall"], rows))
    print(
        "FP for a copy: `duplicate_of` names another item than its original; for a negative: "
        "`duplicate_of` is set at all. Overall precision counts the FPs of every row above.\n"
    )

    print("### Threshold sweep (the same copies and pairs stored with `DedupPolicy(t)`)\n")
    rows = []
    for outcome in outcomes:
        t = outcome.overall()
        recalls = [fmt(outcome.copies[k].recall) for k in COPY_KINDS]
        rows.append([outcome.threshold, *recalls, fmt(t.recall), t.fp, fmt(t.precision)])
    print(table(["threshold", *COPY_KINDS, "recall", "FP", "precision"], rows))

    report_hard(data, outcomes, chosen)

    print(f"### Recall by length of the original (threshold {chosen.threshold})\n")
    rows = []
    for bucket in LENGTH_BUCKETS:
        if found := chosen.by_length.get(bucket):
            label = f"{bucket[0]}-{bucket[1] - 1}" if bucket[1] < 10**9 else f">= {bucket[0]}"
            rows.append([label, found.total // len(COPY_KINDS), found.total, fmt(found.recall)])
    print(table(["words", "originals", "copies", "recall"], rows))

    print("### Resemblance of the pairs (threshold-independent)\n")
    rows = []
    for kind in COPY_KINDS:
        group = [stats[id(c)] for c in copies if c.kind == kind]
        rows.append(
            [
                f"copy: {kind}",
                len(group),
                quantiles([s.jaccard for s in group]),
                quantiles([s.estimate for s in group]),
                f"{sum(s.banded for s in group) / len(group):.3f}",
            ]
        )
    for kind in NEGATIVE_KINDS:
        group = [s for p, s in zip(negatives, negative_stats, strict=True) if p.kind == kind]
        rows.append(
            [
                f"negative: {kind}",
                len(group),
                f"max {max(s.jaccard for s in group):.2f}",
                f"max {max(s.estimate for s in group):.2f}",
                f"{sum(s.banded for s in group) / len(group):.3f}",
            ]
        )
    print(
        table(
            ["pairs", "n", "Jaccard min / p5 / median", "estimate min / p5 / median", "banded"],
            rows,
        )
    )
    print(
        "Jaccard: exact resemblance of the 5-word shingle sets; estimate: MinHash signature "
        "agreement (`sketch.similarity`); banded: share of pairs with a common LSH band key, "
        "i.e. found by the index's candidate lookup.\n"
    )

    print(f"### Copies not matched to their original at {chosen.threshold}\n")
    rows = []
    for copy, got in chosen.missed[:25]:
        s = stats[id(copy)]
        why = "other item" if got is not None else "below threshold" if s.banded else "LSH miss"
        words = articles[copy.original].words
        rows.append([copy.kind, words, f"{s.jaccard:.2f}", f"{s.estimate:.2f}", why])
    print(
        table(["copy", "original words", "Jaccard", "estimate", "why"], rows) if rows else "None.\n"
    )

    print("### Probe: short different texts carrying the same paywall notice\n")
    counts = sorted(word_count(t) for p in probes for t in (p.partner, p.probe))
    print(
        f"{len(probes)} pairs: the opening words of two different articles, each followed by "
        f"the same paywall notice ({counts[0]}-{counts[-1]} words in all, under the policy's "
        f"min_words of {default.min_words}, which gates exact copies only), e.g. "
        f"`{probes[0].probe}`\n"
    )
    rows = []
    for outcome in outcomes:
        t = outcome.negatives[PROBE_KIND]
        rows.append([outcome.threshold, t.total, t.fp, fmt(t.fp / t.total)])
    print(table(["threshold", "pairs", "FP", "FP rate"], rows))


def report_lookup(
    data: LabelledSet, sizes: Sequence[int], count: int, seed: int, skip_postgres: bool
) -> None:
    print("## B. Lookup cost: `dedup.place()` per item vs stored items\n")
    rng = random.Random(f"{seed}:queries")
    copies = [
        Query(sketch, c.original)
        for c in rng.sample(data.copies, min(count, len(data.copies)))
        if (sketch := sketch_of(c.text)) is not None
    ]
    sentences = sentence_pool(data.articles)
    outlet = [
        Query(sketch, None)
        for _ in range(100)
        if (sketch := sketch_text(filler_text(rng, sentences, outlet=True))) is not None
    ]
    groups = {"corpus copies": copies, "outlet with footer": outlet}
    begin = time.perf_counter()
    fillers = make_fillers(sentences, max(sizes) - len(data.articles), seed)
    print(
        f"Store: the {len(data.articles)} originals (through `add_many`), then filler items "
        f"bulk-inserted up to each size: real sentences of the corpus texts drawn at random "
        f"({len(sentences):,} distinct sentences of 4+ words) until 50-150 words, except "
        f"every {OUTLET_EVERY}th, which is 40-200 words of them followed by one outlet's "
        f"fixed {word_count(OUTLET_FOOTER)}-word "
        f"footer; sketched by `sketch_text` ({len(fillers.words):,} in "
        f"{time.perf_counter() - begin:.0f}s). Queries: {len(copies)} copies of the corpus "
        f"articles (each should find its original), and {len(outlet)} new items of that "
        f"outlet (sentence bodies + the footer; they copy nothing, though they share "
        f"sentences with stored fillers). The store is copied "
        f"(file copy; `CREATE DATABASE ... TEMPLATE`) when it reaches each size but the "
        f"last, then grown, so the sizes can be timed in turns: one warm-up pass per store, "
        f"then 7 rounds of one pass per store; each query's time is its best of the 7 "
        f"(`perf_counter_ns` around `place()`, one session per store); the table gives the "
        f"median and p95 over queries. After each fill: `VACUUM ANALYZE` and `CHECKPOINT` "
        f"on PostgreSQL, `wal_checkpoint(TRUNCATE)` on SQLite (no ANALYZE: the service "
        f"never runs it).\n"
    )
    with tempfile.TemporaryDirectory(prefix="near-dup-lookup-") as tmp:
        timings = lookup_bench(SqliteBackend(tmp), data.articles, groups, fillers, sizes)
    note = ""
    if skip_postgres:
        note = "PostgreSQL: skipped (--skip-postgres).\n"
    elif not PostgresBackend.reachable():
        note = f"PostgreSQL: not reachable at {PG_BASE}, skipped.\n"
    else:
        postgres = PostgresBackend()
        try:
            timings += lookup_bench(postgres, data.articles, groups, fillers, sizes)
        finally:
            postgres.close()
    rows = []
    for t in timings:
        first = next(f for f in timings if (f.backend, f.group) == (t.backend, t.group))
        rows.append(
            [
                t.backend,
                f"{t.stored:,}",
                t.group,
                f"{t.median_us:.0f}",
                f"{t.p95_us:.0f}",
                f"{t.median_us / first.median_us:.2f}",
                f"{t.p95_us / first.p95_us:.2f}",
                f"{t.mean_candidates:.1f} / {t.max_candidates}",
                f"{t.placed}/{t.queries}",
                f"{t.right}/{t.queries}",
            ]
        )
    header = ["backend", "stored items", "queries", "median µs", "p95 µs", "median ratio"]
    header += ["p95 ratio", "candidates mean / max", "placed as dup", "right"]
    print(table(header, rows))
    fills = ", ".join(
        f"{t.backend} to {t.stored:,} in {t.fill_seconds:.0f}s"
        for t in timings
        if t.group == next(iter(groups))
    )
    print(
        "Ratios: against the smallest store of the same backend and query group. 'right': "
        "a copy placed with its own original; an outlet item left alone. Bulk fills: "
        f"{fills}.\n" + note
    )
