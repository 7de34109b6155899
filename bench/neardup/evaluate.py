"""Storing through the product code (``Bench``) and judging: ``Tally``/``Outcome`` per
threshold, ``evaluate``, pair statistics, and the ``LabelledSet`` they run on."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bench.article_metric import load_corpus
from bench.neardup.corpus import (
    LENGTH_BUCKETS,
    PROBE_KIND,
    Article,
    Copy,
    NegativePair,
    TfIdf,
    make_copies,
    make_negatives,
    short_probe_pairs,
)
from bench.neardup.hard import (
    HardSet,
    hard_negatives,
)
from monitor.config import FeedConfig
from monitor.pipeline.sketch import (
    Sketch,
    shingles,
    similarity,
    sketch_text,
)
from monitor.pipeline.text import normalised_text_hash, word_count
from monitor.pipeline.types import ItemDraft
from monitor.storage import Store
from monitor.storage.dedup import DedupPolicy, place
from monitor.storage.items import NewItem, Stored
from monitor.storage.schema import Feed, Item

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_SERIAL = itertools.count(1)  # item URLs, unique across every store of the run


# -- storing through the product code --------------------------------------------------


@functools.cache
def sketch_of(body: str) -> Sketch | None:
    """``sketch_text``, computed once per text (the same texts are stored at every threshold)."""
    return sketch_text(body)


def make_draft(url: str, body: str) -> ItemDraft:
    return ItemDraft(
        url=url,
        canonical_url=url,
        guid=None,
        title=None,
        author=None,
        published_at=NOW,
        updated_at=None,
        summary=None,
        text=body,
        language="en",
        site_name=None,
        categories=(),
        image_url=None,
        word_count=word_count(body),
        content_hash=normalised_text_hash(body),
        extraction_method="feed-content",
        extractor_version="feed/1",
        field_sources={"text": "feed_content"},
        sketch=sketch_of(body),
    )


class Bench:
    """A store with one feed, storing items one transaction at a time."""

    def __init__(self, url: str, policy: DedupPolicy) -> None:
        self.store = Store.open(url, dedup=policy)
        self.store.feeds.sync([FeedConfig(name="bench", url="https://bench.example/feed")], NOW)
        with Session(self.store.engine) as session:
            self.feed_id = session.scalars(select(Feed.id)).one()

    def add(self, body: str) -> Stored:
        url = f"https://bench.example/item/{next(_SERIAL)}"
        new = NewItem(self.feed_id, make_draft(url, body), url, NOW)
        return self.store.items.add_many([new])[0]

    def delete(self, ids: Iterable[int]) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(delete(Item).where(Item.id.in_(list(ids))))

    def close(self) -> None:
        self.store.close()


@dataclass(slots=True)
class Tally:
    total: int = 0
    tp: int = 0
    fp: int = 0  # a copy matched to another item, or a negative matched at all
    fn: int = 0

    @property
    def recall(self) -> float:
        return self.tp / self.total if self.total else float("nan")

    @property
    def precision(self) -> float:
        found = self.tp + self.fp
        return self.tp / found if found else float("nan")


@dataclass(slots=True)
class Outcome:
    threshold: float
    copies: dict[str, Tally] = field(default_factory=dict)
    negatives: dict[str, Tally] = field(default_factory=dict)
    by_length: dict[tuple[int, int], Tally] = field(default_factory=dict)
    missed: list[tuple[Copy, int | None]] = field(default_factory=list)
    false_pairs: list[NegativePair] = field(default_factory=list)  # negatives found duplicates

    def overall(self) -> Tally:
        """Every copy and labelled negative (the short-text probe is reported apart)."""
        total = Tally()
        for tally in self.copies.values():
            total.total += tally.total
            total.tp += tally.tp
            total.fp += tally.fp
            total.fn += tally.fn
        total.fp += sum(t.fp for k, t in self.negatives.items() if k != PROBE_KIND)
        return total


def _bucket(words: int) -> tuple[int, int]:
    return next(b for b in LENGTH_BUCKETS if b[0] <= words < b[1])


def evaluate(
    threshold: float,
    originals_url: str,
    negatives_url: str,
    ids: Sequence[int],
    articles: Sequence[Article],
    copies: Sequence[Copy],
    negatives: Sequence[NegativePair],
) -> Outcome:
    policy = DedupPolicy(threshold=threshold)
    outcome = Outcome(threshold)
    bench = Bench(originals_url, policy)
    try:
        for copy in copies:
            stored = bench.add(copy.text)
            if not stored.created:
                raise RuntimeError(f"a {copy.kind} copy was not stored as a new item")
            bench.delete([stored.item_id])
            wanted = ids[copy.original]
            for tally in (
                outcome.copies.setdefault(copy.kind, Tally()),
                outcome.by_length.setdefault(_bucket(articles[copy.original].words), Tally()),
            ):
                tally.total += 1
                if stored.duplicate_of == wanted:
                    tally.tp += 1
                elif stored.duplicate_of is None:
                    tally.fn += 1
                else:
                    tally.fp += 1
            if stored.duplicate_of != wanted:
                outcome.missed.append((copy, stored.duplicate_of))
        loo = outcome.negatives.setdefault("leave-one-out vs all originals", Tally())
        with Session(bench.store.engine) as session:
            for item_id, article in zip(ids, articles, strict=True):
                found = place(session, sketch_of(article.text), policy, exclude=item_id)
                loo.total += 1
                loo.fp += found.duplicate_of is not None
    finally:
        bench.close()
    bench = Bench(negatives_url, policy)
    try:
        for pair in negatives:
            first = bench.add(pair.partner)
            second = bench.add(pair.probe)
            bench.delete([first.item_id, second.item_id])
            tally = outcome.negatives.setdefault(pair.kind, Tally())
            tally.total += 1
            wrong = second.duplicate_of is not None or not second.created
            tally.fp += wrong
            if wrong:
                outcome.false_pairs.append(pair)
    finally:
        bench.close()
    return outcome


@dataclass(frozen=True, slots=True)
class PairStats:
    """Threshold-independent facts about one (copy, original) or negative pair."""

    jaccard: float  # exact resemblance of the 5-word shingle sets
    estimate: float  # MinHash estimate from the signatures
    banded: bool  # share at least one LSH band key (would be a candidate)


def pair_stats(a: str, b: str) -> PairStats:
    sa, sb = shingles(a), shingles(b)
    ka, kb = sketch_of(a), sketch_of(b)
    assert ka is not None and kb is not None
    return PairStats(
        len(sa & sb) / len(sa | sb),
        similarity(ka.signature, kb.signature),
        bool(set(ka.bands) & set(kb.bands)),
    )


@dataclass(frozen=True, slots=True)
class LabelledSet:
    pages: int
    articles: list[Article]
    copies: list[Copy]
    negatives: list[NegativePair]
    probes: list[NegativePair]
    cosines: list[float]
    hard: HardSet


def labelled_set(corpus: str, min_words: int, seed: int) -> LabelledSet:
    """The originals, their copies and the negative pairs."""
    pages = load_corpus(corpus)
    articles = [
        Article(p.id, p.truth.strip(), word_count(p.truth))
        for p in pages
        if word_count(p.truth) >= min_words
    ]
    tfidf = TfIdf([a.text for a in articles])
    nearest = [tfidf.nearest(i)[0] for i in range(len(articles))]
    copies = make_copies(
        articles, [tfidf.top_terms(i) for i in range(len(articles))], seed, nearest
    )
    negatives, cosines = make_negatives(articles, tfidf, seed)
    probes = short_probe_pairs(articles, seed)
    hard = hard_negatives(pages, seed)
    return LabelledSet(len(pages), articles, copies, negatives, probes, cosines, hard)
