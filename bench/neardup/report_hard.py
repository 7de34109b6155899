"""The hard-negative part of report A: resemblance and false positives of the hard pairs,
the line-filter proposal, the set's scope, and the closest examples."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence

from bench.neardup.evaluate import (
    LabelledSet,
    Outcome,
    PairStats,
    pair_stats,
    sketch_of,
)
from bench.neardup.hard import (
    HARD_KINDS,
    SAME_EVENT,
    SAME_FACTS,
    SAME_SITE,
    TEMPLATE_FULL,
    TEMPLATE_SHORT,
    line_keys,
    without_seen_lines,
)
from bench.neardup.tables import fmt, percentile, table
from monitor.pipeline.sketch import (
    SHINGLE_WORDS,
    shingles,
    similarity,
    words,
)
from monitor.pipeline.text import word_count
from monitor.storage.dedup import DedupPolicy


def shared_sample(a: str, b: str, limit: int = 160) -> str:
    """The longest run of words the two texts share (what made them look alike)."""
    left, right = words(a), words(b)
    index: dict[tuple[str, ...], list[int]] = {}
    for j in range(len(right) - SHINGLE_WORDS + 1):
        index.setdefault(tuple(right[j : j + SHINGLE_WORDS]), []).append(j)
    best: tuple[int, int] = (0, 0)
    for i in range(len(left) - SHINGLE_WORDS + 1):
        for j in index.get(tuple(left[i : i + SHINGLE_WORDS]), ()):
            n = SHINGLE_WORDS
            while i + n < len(left) and j + n < len(right) and left[i + n] == right[j + n]:
                n += 1
            best = max(best, (n, i))
    n, i = best
    return " ".join(left[i : i + n])[:limit] if n else ""


SCOPE = """#### What this set tests, and what it does not

Tests: that different real articles are kept apart at the shipped policy when they
report one event on one day from different outlets (40 real pairs, English, one news
week of November 2019), when they also share the wire's key sentences and quotes (the
same pairs, built), when they come from one site (55 real pairs), and when one real
site template (nav, newsletter boxes, related links, company boilerplate, as monitor's
extraction lets them through) surrounds different bodies ({short} + {full} pairs of the
181 templates); and recall on six kinds of edited copies of the 177 real articles.

Does not test: real syndicated copies or real later versions from other outlets (the
positives are generated edits of real texts; same-URL revisions are matched by URL, not
by sketches); languages other than English beyond a few templates; sites whose
boilerplate recurs over hundreds of items (each pair is stored in an otherwise empty
store, and the line filter was simulated with one earlier page); live blogs, translations,
texts under min_words (never indexed); the {skipped} templates where the body could not
be swapped cleanly (skipped, counted above). The re-bodied pages put plain `<p>`s where the
article was, so sites that mark up their bodies differently may leak more or less.
"""


def report_hard(data: LabelledSet, outcomes: Sequence[Outcome], chosen: Outcome) -> None:
    """The hard negatives: resemblance, false positives per threshold, examples."""
    default = DedupPolicy()
    hard = data.hard
    print("### Hard negatives (different articles that share an event, a site or a template)\n")
    print(
        "Every text here is what monitor's own extraction (`extract_page`, the shipped "
        "trafilatura settings) returns for a real page, so template text that leaks into "
        "the body is in it, as in production. Kinds:\n\n"
        f"- *{SAME_EVENT}*: {sum(p.kind == SAME_EVENT for p in hard.pairs) - 1} pairs of "
        "article-bench pages on one event from different outlets, nearly all of 18-19 "
        "November 2019 (picked by hand, `bench/data/neardup_same_event.json`), plus the "
        "project's own fixture pair `tests/fixtures/dedup/hormuz-tanker.txt` / "
        "`hormuz-families.txt` (same ship, crew and places, text of its own);\n"
        f"- *{SAME_FACTS}*: built from each real pair (A, B) above, on the ground-truth "
        "texts: B with A's sentences that carry 2+ of the names and numbers both articles "
        "use (or a quote with one) inserted verbatim through it, up to 40% of its words, "
        "as an outlet's own story reuses the wire's key sentences and quotes;\n"
        f"- *{SAME_SITE}*: every pair of article-bench pages from one site "
        "(real template, real different articles);\n"
        f"- *{TEMPLATE_SHORT}* / *{TEMPLATE_FULL}*: each article-bench page's own HTML "
        "with its article paragraphs replaced by the opening 45-120 words (short) or the "
        "whole ground truth (full) of another corpus article, and its headline and "
        "standfirst by that article's, twice, so the two pages differ only in the article; "
        "then extracted.\n"
    )
    rows: list[list[object]] = []
    for kind in HARD_KINDS:
        group = [p for p in hard.pairs if p.kind == kind]
        if not group:
            continue
        short = sum(
            min(word_count(p.partner), word_count(p.probe)) < default.min_words for p in group
        )
        stats = [s for p in group if (s := safe_stats(p.partner, p.probe)) is not None]
        jac = sorted(s.jaccard for s in stats)
        fps = [str(o.negatives[kind].fp) for o in outcomes]
        rows.append(
            [
                kind,
                len(group),
                hard.skipped.get(kind, 0),
                short,
                f"{statistics.median(jac):.2f} / {percentile(jac, 0.95):.2f} / {jac[-1]:.2f}",
                f"{max(s.estimate for s in stats):.2f}",
                f"{sum(s.banded for s in stats) / len(stats):.3f}",
                *fps,
            ]
        )
    header = ["pairs", "n", "skipped", "a text < min_words", "Jaccard median / p95 / max"]
    header += ["estimate max", "banded", *(f"FP at {o.threshold}" for o in outcomes)]
    print(table(header, rows))
    faults = ", ".join(f"{k}: {n}" for k, n in sorted(hard.skipped.items()) if ":" in k)
    print(
        "skipped (pairs): no text extracted, or (templates) fewer than 3 article paragraphs "
        "found to replace, or a re-bodied page whose extraction does not test the template "
        f"(texts: {faults or 'none'}; 'original text left': over 10 of its 5-word shingles "
        "come from the page's own article, which sat partly outside the replaced `<p>`s; "
        "'body not extracted': under half of the inserted body's shingles came out). "
        f"A text under min_words ({default.min_words}) is neither matched nor indexed, so "
        "such a pair cannot be a false positive.\n"
    )
    rows = []
    for kind, leaked in hard.leaked.items():
        ordered = sorted(leaked)
        rows.append(
            [
                kind,
                len(ordered),
                statistics.median(ordered),
                percentile(ordered, 0.9),
                ordered[-1],
            ]
        )
    print("Template words leaking into the extracted text (words not in the inserted body):\n")
    print(table(["pages", "n", "median", "p90", "max"], rows))

    hard_fp = sum(chosen.negatives[k].fp for k in HARD_KINDS if k in chosen.negatives)
    copies = chosen.overall()
    tp = copies.tp
    copy_fp = sum(t.fp for t in chosen.copies.values())
    print(
        f"Precision at the shipped threshold {chosen.threshold} counting only the hard "
        f"negatives and the copies' own errors: {tp} TP, {hard_fp + copy_fp} FP "
        f"({hard_fp} hard negatives), precision "
        f"{fmt(tp / (tp + hard_fp + copy_fp) if tp + hard_fp + copy_fp else math.nan)}; "
        f"recall {fmt(copies.recall)}.\n"
    )
    report_line_filter(data, chosen.threshold)
    counts = Counter(p.kind for p in hard.pairs)
    skipped = hard.skipped.get(TEMPLATE_SHORT, 0)
    print(SCOPE.format(short=counts[TEMPLATE_SHORT], full=counts[TEMPLATE_FULL], skipped=skipped))
    wrong = [p for p in chosen.false_pairs if p.kind in HARD_KINDS]
    print(f"#### Hard negatives found duplicates at {chosen.threshold}\n")
    rows = []
    for pair in wrong[:20]:
        s = safe_stats(pair.partner, pair.probe)
        rows.append(
            [
                pair.kind,
                pair.label[:110].replace("|", "/"),
                f"{word_count(pair.partner)} / {word_count(pair.probe)}",
                f"{s.jaccard:.2f}" if s else "-",
                f"{s.estimate:.2f}" if s else "-",
                "`" + shared_sample(pair.partner, pair.probe).replace("|", "/") + "`",
            ]
        )
    header = ["pairs", "pair", "words", "Jaccard", "estimate", "longest shared run"]
    print(table(header, rows) if rows else "None.\n")
    print("#### The closest hard negatives (by signature agreement)\n")
    scored = [(s.estimate, p) for p in hard.pairs if (s := safe_stats(p.partner, p.probe))]
    rows = []
    for _, pair in sorted(scored, key=lambda x: -x[0])[:8]:
        s = safe_stats(pair.partner, pair.probe)
        assert s is not None
        rows.append(
            [
                pair.kind,
                pair.label[:110].replace("|", "/"),
                f"{word_count(pair.partner)} / {word_count(pair.probe)}",
                f"{s.jaccard:.2f}",
                f"{s.estimate:.2f}",
                "`" + shared_sample(pair.partner, pair.probe).replace("|", "/") + "`",
            ]
        )
    print(table(header, rows))


def sketch_match(a: str, b: str, threshold: float) -> bool:
    """Would ``b`` be placed as a copy of ``a`` alone: a shared band key and a signature
    agreement at or above ``threshold`` (the store's test, without the store)."""
    ka, kb = sketch_of(a), sketch_of(b)
    if ka is None or kb is None or min(ka.words, kb.words) < DedupPolicy().min_words:
        return False
    banded = bool(set(ka.bands) & set(kb.bands))
    return banded and similarity(ka.signature, kb.signature) >= threshold


def report_line_filter(data: LabelledSet, threshold: float) -> None:
    """The proposal: drop the lines a site's earlier item also had, then sketch."""
    hard = data.hard
    print("#### Proposal (not shipped): sketch without lines already seen on the same site\n")
    print(
        "Each template pair again, after removing from both texts every line (folded to its "
        "words) that the extraction of a *third* page of the same template (another "
        "article's body) also has, i.e. what a store would know after one earlier item of "
        "that site (pairs whose third page could not be re-bodied cleanly are left out). "
        "Judged by the store's test without the store (a shared band key and "
        f"signature agreement >= {threshold}).\n"
    )
    rows = []
    for kind in (TEMPLATE_SHORT, TEMPLATE_FULL):
        group = [p for p in hard.pairs if p.kind == kind and p.label in hard.seen]
        before = sum(sketch_match(p.partner, p.probe, threshold) for p in group)
        lines = {p.label: frozenset(line_keys(hard.seen[p.label])) for p in group}
        filtered = [
            (
                without_seen_lines(p.partner, lines[p.label]),
                without_seen_lines(p.probe, lines[p.label]),
            )
            for p in group
        ]
        by_shingle = sorted(
            shingle_filtered_jaccard(p.partner, p.probe, hard.seen[p.label]) for p in group
        )
        after = sum(sketch_match(a, b, threshold) for a, b in filtered)
        dropped = [
            word_count(p.partner) - word_count(a) for p, (a, _) in zip(group, filtered, strict=True)
        ]
        jac_before = sorted(safe_jaccard(p.partner, p.probe) for p in group)
        jac_after = sorted(safe_jaccard(a, b) for a, b in filtered)
        floor = DedupPolicy().min_words
        short = sum(min(word_count(a), word_count(b)) < floor for a, b in filtered)
        rows.append(
            [
                kind,
                len(group),
                before,
                after,
                f"{percentile(jac_before, 0.95):.2f} / {jac_before[-1]:.2f}",
                f"{percentile(jac_after, 0.95):.2f} / {jac_after[-1]:.2f}",
                f"{statistics.median(dropped):.0f} / {max(dropped)}",
                short,
                f"{percentile(by_shingle, 0.95):.2f} / {by_shingle[-1]:.2f}",
                sum(j >= threshold for j in by_shingle),
            ]
        )
    header = ["pairs", "n", f"FP at {threshold}", "FP, filtered", "Jaccard p95 / max"]
    header += ["filtered p95 / max", "words dropped median / max", "filtered < min_words"]
    header += ["shingle filter: Jaccard p95 / max", f"shingle filter: Jaccard >= {threshold}"]
    print(table(header, rows))
    print(
        "Shingle filter: the variant that drops the 5-word shingles (not lines) the earlier "
        "page also had, for templates whose extraction runs body and boilerplate into one "
        "line; judged by exact Jaccard (no sketch).\n"
    )


def shingle_filtered_jaccard(a: str, b: str, seen: str) -> float:
    """Jaccard of ``a`` and ``b`` after dropping the shingles that ``seen`` also has."""
    known = shingles(seen)
    sa, sb = shingles(a) - known, shingles(b) - known
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def safe_jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def safe_stats(a: str, b: str) -> PairStats | None:
    """:func:`pair_stats`, or None when a text is too short to sketch."""
    if sketch_of(a) is None or sketch_of(b) is None:
        return None
    return pair_stats(a, b)
