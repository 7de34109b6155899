"""Near-duplicate detection: precision/recall on labelled copies, and lookup cost vs size.

What it measures, in one run, through the real storage code
(:meth:`monitor.storage.items.ItemRepository.add_many` and
:func:`monitor.storage.dedup.place`):

**A. Precision and recall.**  The ground-truth texts of the article-bench corpus
(texts of at least ``--min-words`` words) are the originals.  Each gets five
copies, made with a seeded RNG so every run builds the same set:

* ``headline``: a new headline line prepended;
* ``boilerplate``: an outlet's intro and/or outro paragraphs (30-80 words);
* ``edited``: 2-3 sentences edited (a number changed or a word replaced, and
  sometimes two adjacent words swapped);
* ``removed``: 10-20% of the sentences removed;
* ``combined``: headline + boilerplate + one edited sentence.

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

A separate probe stores pairs of *short* different texts: the openings of two
articles followed by the same paywall notice, under 40 words in all (the
policy's ``min_words``), the shape of feed teasers.

**B. Lookup cost.**  The originals are stored through ``add_many``, then filler
items are bulk-inserted (items by SQLAlchemy Core executemany; sketches and band
keys by Core executemany on SQLite, by COPY on PostgreSQL; one transaction per
10k): texts of random corpus words sketched by ``sketch_text``, every 20th
carrying one outlet's fixed footer.  The time of ``place(session, sketch,
policy)`` (band probes + candidate verification) is measured for ``--queries``
corpus copies and for 100 new items of that outlet, at 10k and again at 100k
stored items (the same store, grown), on SQLite and, if reachable, on
PostgreSQL (a database created and dropped by this script).

    .venv/bin/python bench/near_duplicates.py [--skip-postgres]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import sqlalchemy
from sqlalchemy import Connection, Engine, delete, func, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.article_metric import DEFAULT_CORPUS, load_corpus
from monitor.config import FeedConfig
from monitor.pipeline.sketch import (
    BANDS,
    PERMUTATIONS,
    SKETCH_VERSION,
    Sketch,
    shingles,
    similarity,
    sketch_text,
)
from monitor.pipeline.text import normalised_text_hash, word_count
from monitor.pipeline.types import ItemDraft
from monitor.storage import Store
from monitor.storage.dedup import DedupPolicy, candidates, place
from monitor.storage.engine import make_engine
from monitor.storage.items import NewItem, Stored
from monitor.storage.schema import Feed, Item, ItemSketch, SketchBand

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COPY_KINDS = ("headline", "boilerplate", "edited", "removed", "combined")
NEGATIVE_KINDS = ("tfidf-nearest", "random", "nearest+same boilerplate")
PROBE_KIND = "short+same paywall notice"
LENGTH_BUCKETS = ((80, 200), (200, 500), (500, 1000), (1000, 10**9))
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"\u201d\u2019)])\s+")
_NUMBER = re.compile(r"\d+")
_SERIAL = itertools.count(1)  # item URLs, unique across every store of the run

OUTLETS = (
    "The Riverside Courier",
    "Metro Daily News",
    "Northern Ledger",
    "Bay Area Wire",
    "CivicPost",
    "The Standard-Herald",
)
INTROS = (
    "This story was originally published by {o}. It is republished here with permission "
    "as part of a content-sharing partnership; the original version may include additional "
    "reporting, photographs and corrections.",
    "Editor's note: {o} is a nonprofit newsroom covering politics, business and the "
    "environment. Sign up for our free morning briefing to get stories like this one "
    "delivered to your inbox.",
    "Listen to this article. The audio version is generated automatically by {o} and some "
    "words may be mispronounced; estimated reading time is about five minutes.",
)
OUTROS = (
    "Sign up for our newsletter to receive the latest headlines from {o} every weekday "
    "morning. You can unsubscribe at any time, and we never share your email address with "
    "third parties.",
    "Copyright 2024 {o}. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed without permission. Follow us on Facebook, "
    "Twitter and Instagram for more news.",
    "Have a news tip? Contact the newsroom of {o} by email or call our tip line. Support "
    "independent local journalism by becoming a member today; memberships start at five "
    "dollars a month and help keep our reporting free for everyone.",
)
PAYWALLS = (
    "Subscribe to continue reading. Already a subscriber? Log in to read the full article "
    "from {o}, or start your free trial today for unlimited digital access.",
    "This article is for {o} members only. Become a member to keep reading, or sign in "
    "with your account; members get unlimited access on every device.",
)
HEADLINES = (
    "{a}, {b} and {c}: what we know so far",
    "Why {a} matters for {b}",
    "{a} under scrutiny as {b} questions mount",
    "Analysis: the {a} story behind {b}",
    "{a} and {b} explained in five points",
)
REPLACEMENTS = ("officials", "residents", "analysts", "recently", "major", "several", "new")


# -- the labelled set -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Article:
    key: str
    text: str
    words: int


@dataclass(frozen=True, slots=True)
class Copy:
    kind: str
    original: int  # index into the originals
    text: str


@dataclass(frozen=True, slots=True)
class NegativePair:
    kind: str
    partner: str  # stored first
    probe: str  # stored second: must not be found a duplicate


def paragraphs(text: str) -> list[list[str]]:
    """The text's paragraphs, each a list of sentences."""
    result = []
    for para in text.split("\n"):
        sentences = [s for s in _SENTENCE_END.split(para.strip()) if s]
        if sentences:
            result.append(sentences)
    return result


def join(paras: Iterable[Iterable[str]]) -> str:
    return "\n\n".join(" ".join(p) for p in paras if p)


def boilerplate(rng: random.Random) -> tuple[str, str]:
    """An outlet's intro and outro (either may be empty), 30-80 words together."""
    outlet = rng.choice(OUTLETS)
    while True:
        intro = rng.choice(INTROS).format(o=outlet) if rng.random() < 0.7 else ""
        outro = rng.choice(OUTROS).format(o=outlet) if rng.random() < 0.7 else ""
        if 30 <= word_count(intro) + word_count(outro) <= 80:
            return intro, outro


def wrap(text: str, intro: str, outro: str) -> str:
    return "\n\n".join(part for part in (intro, text, outro) if part)


def edit_sentence(sentence: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    """Change a number (else replace a word), and sometimes swap two adjacent words."""
    tokens = sentence.split(" ")
    numeric = [i for i, t in enumerate(tokens) if _NUMBER.search(t)]
    if numeric:
        i = rng.choice(numeric)
        tokens[i] = _NUMBER.sub(lambda m: str(int(m.group()) + rng.randint(1, 9)), tokens[i], 1)
    else:
        plain = [i for i, t in enumerate(tokens) if t.isalpha() and len(t) > 3] or [0]
        i = rng.choice(plain)
        tokens[i] = rng.choice([*REPLACEMENTS, *vocabulary])
    if len(tokens) > 3 and rng.random() < 0.5:
        j = rng.randrange(len(tokens) - 1)
        tokens[j], tokens[j + 1] = tokens[j + 1], tokens[j]
    return " ".join(tokens)


def edit(text: str, count: int, rng: random.Random, vocabulary: Sequence[str]) -> str:
    paras = paragraphs(text)
    slots = [(p, s) for p, para in enumerate(paras) for s, x in enumerate(para) if len(x) > 30]
    for p, s in rng.sample(slots, min(count, len(slots))):
        paras[p][s] = edit_sentence(paras[p][s], rng, vocabulary)
    return join(paras)


def remove(text: str, rng: random.Random) -> str:
    paras = paragraphs(text)
    slots = [(p, s) for p, para in enumerate(paras) for s in range(len(para))]
    count = min(len(slots) - 1, max(1, round(len(slots) * rng.uniform(0.10, 0.20))))
    gone = set(rng.sample(slots, count))
    return join(
        [x for s, x in enumerate(para) if (p, s) not in gone] for p, para in enumerate(paras)
    )


def headline(terms: Sequence[str], rng: random.Random) -> str:
    a, b, c = (t.capitalize() for t in (*terms, "policy", "plans", "reaction")[:3])
    return rng.choice(HEADLINES).format(a=a, b=b, c=c)


def make_copies(
    articles: Sequence[Article], top_terms: Sequence[Sequence[str]], seed: int
) -> list[Copy]:
    copies: list[Copy] = []
    for index, article in enumerate(articles):
        rng = random.Random(f"{seed}:copies:{article.key}")
        others = list(top_terms[(index + 1) % len(articles)])  # foreign words for edits
        title = headline(top_terms[index], rng)
        intro, outro = boilerplate(rng)
        made = {
            "headline": f"{title}\n\n{article.text}",
            "boilerplate": wrap(article.text, intro, outro),
            "edited": edit(article.text, rng.randint(2, 3), rng, others),
            "removed": remove(article.text, rng),
            "combined": f"{title}\n\n" + wrap(edit(article.text, 1, rng, others), intro, outro),
        }
        original_hash = normalised_text_hash(article.text)
        for kind in COPY_KINDS:
            if normalised_text_hash(made[kind]) == original_hash:
                raise RuntimeError(f"{kind} copy of {article.key} has the original's text")
            copies.append(Copy(kind, index, made[kind]))
    return copies


class TfIdf:
    """Plain TF-IDF over ``\\w+`` words (log-scaled tf, log idf), cosine-normalised."""

    def __init__(self, texts: Sequence[str]) -> None:
        docs = [Counter(w for w in _WORD.findall(t.casefold()) if _useful(w)) for t in texts]
        df = Counter(w for doc in docs for w in doc)
        self.terms = sorted(w for w, n in df.items() if n < len(docs))  # idf > 0
        column = {w: i for i, w in enumerate(self.terms)}
        matrix = np.zeros((len(docs), len(self.terms)))
        for row, doc in enumerate(docs):
            for w, n in doc.items():
                if w in column:
                    matrix[row, column[w]] = (1 + math.log(n)) * math.log(len(docs) / df[w])
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        self.matrix = matrix
        self.cosines = matrix @ matrix.T
        np.fill_diagonal(self.cosines, -1.0)

    def nearest(self, i: int) -> tuple[int, float]:
        j = int(np.argmax(self.cosines[i]))
        return j, float(self.cosines[i, j])

    def top_terms(self, i: int, count: int = 3) -> list[str]:
        order = np.argsort(-self.matrix[i], kind="stable")
        return [self.terms[k] for k in order[: count * 4] if self.terms[k].isalpha()][:count]


def _useful(word: str) -> bool:
    return len(word) > 2 and not word.isdigit()


def make_negatives(
    articles: Sequence[Article], tfidf: TfIdf, seed: int
) -> tuple[list[NegativePair], list[float]]:
    rng = random.Random(f"{seed}:negatives")
    pairs: list[NegativePair] = []
    cosines: list[float] = []
    for i, article in enumerate(articles):
        j, cosine = tfidf.nearest(i)
        cosines.append(cosine)
        pairs.append(NegativePair("tfidf-nearest", article.text, articles[j].text))
        other = rng.choice([k for k in range(len(articles)) if k not in (i, j)])
        pairs.append(NegativePair("random", article.text, articles[other].text))
        intro, outro = boilerplate(rng)
        pairs.append(
            NegativePair(
                "nearest+same boilerplate",
                wrap(article.text, intro, outro),
                wrap(articles[j].text, intro, outro),
            )
        )
    return pairs, cosines


def short_probe_pairs(articles: Sequence[Article], seed: int) -> list[NegativePair]:
    """The openings of two different articles, each followed by the same paywall notice,
    under 40 words in all (the policy's ``min_words``), like feed teasers."""
    rng = random.Random(f"{seed}:short")
    pairs = []
    for i, article in enumerate(articles):
        other = articles[rng.choice([k for k in range(len(articles)) if k != i])]
        notice = rng.choice(PAYWALLS).format(o=rng.choice(OUTLETS))
        first, second = (teaser(a.text, notice, rng.randint(32, 39)) for a in (article, other))
        pairs.append(NegativePair(PROBE_KIND, first, second))
    return pairs


def teaser(text: str, notice: str, words: int) -> str:
    """The longest opening of ``text`` that, followed by ``notice``, has at most ``words``."""
    tokens = text.split()
    best = notice
    for end in range(1, len(tokens) + 1):
        candidate = " ".join(tokens[:end]) + f" ... {notice}"
        if word_count(candidate) > words:
            break
        best = candidate
    return best


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
            tally.fp += second.duplicate_of is not None or not second.created
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


# -- lookup cost ----------------------------------------------------------------------

OUTLET_EVERY = 20  # every 20th filler comes from one outlet that appends a fixed footer
OUTLET_FOOTER = (
    "Metro Daily News is an independent, reader-supported newsroom. Our journalism is made "
    "possible by readers like you: subscribe today for unlimited access to local news, "
    "sports and opinion. Follow us on social media, download our free app for breaking news "
    "alerts, and send story ideas or corrections to our newsroom."
)


@dataclass(frozen=True, slots=True)
class Fillers:
    signatures: np.ndarray  # (n, 128) uint32
    bands: np.ndarray  # (n, 32) int64
    words: np.ndarray  # (n,) int


def filler_text(rng: random.Random, vocabulary: Sequence[str], outlet: bool) -> str:
    """Random corpus words: 50-150 of them, or 40-200 and the outlet footer."""
    if outlet:
        return " ".join(rng.choices(vocabulary, k=rng.randint(40, 200))) + "\n\n" + OUTLET_FOOTER
    return " ".join(rng.choices(vocabulary, k=rng.randint(50, 150)))


def _sketch_fillers(
    job: tuple[int, int, int, Sequence[str]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start, stop, seed, vocabulary = job
    rng = random.Random(f"{seed}:fillers:{start}")
    signatures = np.empty((stop - start, PERMUTATIONS), dtype="<u4")
    bands = np.empty((stop - start, BANDS), dtype=np.int64)
    words = np.empty(stop - start, dtype=np.int64)
    for row, i in enumerate(range(start, stop)):
        body = filler_text(rng, vocabulary, outlet=i % OUTLET_EVERY == 0)
        sketch = sketch_text(body)
        assert sketch is not None
        signatures[row] = sketch.values()
        bands[row] = sketch.bands
        words[row] = word_count(body)
    return signatures, bands, words


def make_fillers(vocabulary: Sequence[str], count: int, seed: int) -> Fillers:
    """``count`` filler sketches, made by ``sketch_text`` in a process per CPU."""
    step = 5_000
    jobs = [(lo, min(lo + step, count), seed, vocabulary) for lo in range(0, count, step)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        parts = list(pool.map(_sketch_fillers, jobs))
    return Fillers(*(np.concatenate(arrays) for arrays in zip(*parts, strict=True)))


def fill(url: str, fillers: Fillers, start: int, stop: int, chunk: int = 10_000) -> None:
    """Bulk insert fillers ``start:stop``: items by SQLAlchemy Core (executemany with
    RETURNING), then their sketches and band keys (sorted by key) by Core executemany on
    SQLite, by COPY on PostgreSQL (executemany ran at 20k rows/s there); one transaction
    per ``chunk`` items, on an engine of its own (on SQLite with a large page cache, which
    the timed lookups do not get)."""
    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    item_insert = insert(Item).returning(Item.id, sort_by_parameter_order=True)
    try:
        for low in range(start, stop, chunk):
            high = min(low + chunk, stop)
            rows = [
                {
                    "url": f"https://filler.example/{i}",
                    "canonical_url": f"https://filler.example/{i}",
                    "word_count": int(fillers.words[i]),
                    "extraction_method": "feed-content",
                    "extractor_version": "feed/1",
                    "fetched_at": NOW,
                    "categories": [],
                    "field_sources": {},
                }
                for i in range(low, high)
            ]
            with engine.begin() as conn:
                if not postgres:
                    conn.exec_driver_sql("PRAGMA cache_size=-262144")
                ids = list(conn.execute(item_insert, rows).scalars())
                pairs = list(zip(ids, range(low, high), strict=True))
                sketches = [
                    (item_id, fillers.signatures[i].tobytes(), SKETCH_VERSION)
                    for item_id, i in pairs
                ]
                keys = sorted(
                    (key, item_id) for item_id, i in pairs for key in set(fillers.bands[i].tolist())
                )
                if postgres:
                    copy_rows(conn, "item_sketches (item_id, signature, version)", sketches)
                    copy_rows(conn, "sketch_bands (bucket, item_id)", keys)
                else:
                    conn.execute(
                        insert(ItemSketch),
                        [{"item_id": i, "signature": b, "version": v} for i, b, v in sketches],
                    )
                    conn.execute(insert(SketchBand), [{"bucket": k, "item_id": i} for k, i in keys])
        # Settle the load before timing: statistics (what autovacuum would do) and a
        # checkpoint, so no write-back of the load runs during the lookups.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if postgres:
                conn.execute(text("VACUUM ANALYZE"))
                conn.execute(text("CHECKPOINT"))
            else:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def copy_rows(conn: Connection, target: str, rows: Iterable[tuple[object, ...]]) -> None:
    """``COPY target FROM STDIN`` on the connection's psycopg connection."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


@dataclass(frozen=True, slots=True)
class Query:
    sketch: Sketch
    original: int | None  # index of the article it copies; None: it copies nothing


@dataclass(frozen=True, slots=True)
class Timing:
    backend: str
    stored: int
    group: str
    queries: int
    fill_seconds: float
    median_us: float
    p95_us: float
    mean_candidates: float
    max_candidates: int
    placed: int  # placed as duplicate of anything
    right: int  # placed as duplicate of the item it copies (or, without one, left alone)


class Backend:
    """Where the lookup stores live: databases by name, and a copy of one under another."""

    name = ""

    def url(self, db: str) -> str:
        raise NotImplementedError

    def snapshot(self, source: str, target: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def url(self, db: str) -> str:
        return f"sqlite:///{self.folder / db}.db"

    def snapshot(self, source: str, target: str) -> None:
        shutil.copyfile(self.folder / f"{source}.db", self.folder / f"{target}.db")


class PostgresBackend(Backend):
    """Databases created on the server (``CREATE DATABASE``) and dropped by :meth:`close`."""

    name = "postgresql"

    def __init__(self, base: str = PG_BASE) -> None:
        self.base = base
        self.admin = base.replace("+psycopg", "") + "/postgres"
        self.prefix = f"monitor_bench_near_dup_{os.getpid()}"
        self.created: list[str] = []

    def _create(self, db: str, template: str | None = None) -> None:
        name = f"{self.prefix}_{db}"
        clause = f' TEMPLATE "{self.prefix}_{template}"' if template else ""
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        self.created.append(name)

    def url(self, db: str) -> str:
        if f"{self.prefix}_{db}" not in self.created:
            self._create(db)
        return f"{self.base}/{self.prefix}_{db}"

    def snapshot(self, source: str, target: str) -> None:
        self._create(target, template=source)

    def close(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @staticmethod
    def reachable(base: str = PG_BASE) -> bool:
        try:
            with psycopg.connect(base.replace("+psycopg", "") + "/postgres", connect_timeout=3):
                return True
        except psycopg.OperationalError:
            return False


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def time_lookups(
    engines: Sequence[Engine], queries: Sequence[Query], rounds: int = 7
) -> list[list[float]]:
    """Per engine, each query's ``place()`` time in µs: the best of ``rounds`` timed passes
    after one warm-up pass, the engines taking turns pass by pass (so a slower minute of a
    shared machine falls on every store alike); one session per engine."""
    policy = DedupPolicy()
    sessions = [Session(engine) for engine in engines]
    best = [[math.inf] * len(queries) for _ in engines]
    try:
        for session in sessions:
            for q in queries:
                place(session, q.sketch, policy)
        for _ in range(rounds):
            for session, times in zip(sessions, best, strict=True):
                for k, q in enumerate(queries):
                    begin = time.perf_counter_ns()
                    place(session, q.sketch, policy)
                    times[k] = min(times[k], (time.perf_counter_ns() - begin) / 1000)
    finally:
        for session in sessions:
            session.close()
    return best


def lookup_bench(
    backend: Backend,
    articles: Sequence[Article],
    groups: dict[str, list[Query]],
    fillers: Fillers,
    sizes: Sequence[int],
) -> list[Timing]:
    """The originals stored through ``add_many``, then fillers bulk-inserted up to each size;
    the store is copied at each size but the last, so every size can be timed in turns."""
    bench = Bench(backend.url("size0"), DedupPolicy())
    ids = [bench.add(a.text).item_id for a in articles]
    bench.close()
    fills: list[float] = []
    done = 0
    for n, size in enumerate(sizes):
        if n:
            backend.snapshot(f"size{n - 1}", f"size{n}")
        begin = time.perf_counter()
        fill(backend.url(f"size{n}"), fillers, done, size - len(articles))
        fills.append(time.perf_counter() - begin)
        done = size - len(articles)
        print(f"  {backend.name}: {size} items, fill {fills[-1]:.0f}s", file=sys.stderr)
    engines = [make_engine(backend.url(f"size{n}")) for n in range(len(sizes))]
    results = []
    try:
        for group, queries in groups.items():
            timings = time_lookups(engines, queries)
            wanted = [None if q.original is None else ids[q.original] for q in queries]
            for engine, times, seconds in zip(engines, timings, fills, strict=True):
                with Session(engine) as session:
                    stored = session.scalar(select(func.count()).select_from(Item)) or 0
                    counts = [len(candidates(session, q.sketch)) for q in queries]
                    placed = [place(session, q.sketch, DedupPolicy()).duplicate_of for q in queries]
                results.append(
                    Timing(
                        backend.name,
                        stored,
                        group,
                        len(queries),
                        seconds,
                        statistics.median(times),
                        percentile(times, 0.95),
                        statistics.fmean(counts),
                        max(counts),
                        sum(p is not None for p in placed),
                        sum(p == w for p, w in zip(placed, wanted, strict=True)),
                    )
                )
    finally:
        for engine in engines:
            engine.dispose()
    return sorted(results, key=lambda t: (t.group, t.stored))


# -- report ---------------------------------------------------------------------------


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def quantiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    return " / ".join(
        f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.2f}" for q in (0, 0.05, 0.5)
    )


@dataclass(frozen=True, slots=True)
class LabelledSet:
    pages: int
    articles: list[Article]
    copies: list[Copy]
    negatives: list[NegativePair]
    probes: list[NegativePair]
    cosines: list[float]


def labelled_set(corpus: str, min_words: int, seed: int) -> LabelledSet:
    """The originals, their copies and the negative pairs."""
    pages = load_corpus(corpus)
    articles = [
        Article(p.id, p.truth.strip(), word_count(p.truth))
        for p in pages
        if word_count(p.truth) >= min_words
    ]
    tfidf = TfIdf([a.text for a in articles])
    copies = make_copies(articles, [tfidf.top_terms(i) for i in range(len(articles))], seed)
    negatives, cosines = make_negatives(articles, tfidf, seed)
    probes = short_probe_pairs(articles, seed)
    return LabelledSet(len(pages), articles, copies, negatives, probes, cosines)


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
    negative_stats = [pair_stats(p.partner, p.probe) for p in negatives]
    with tempfile.TemporaryDirectory(prefix="near-dup-") as tmp:
        originals_url = f"sqlite:///{tmp}/originals.db"
        negatives_url = f"sqlite:///{tmp}/negatives.db"
        bench = Bench(originals_url, default)
        stored = [bench.add(a.text) for a in articles]
        bench.close()
        ids = [s.item_id for s in stored]
        outcomes = [
            evaluate(t, originals_url, negatives_url, ids, articles, copies, negatives + probes)
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
    vocabulary = sorted({w for a in data.articles for w in _WORD.findall(a.text.casefold())})
    outlet = [
        Query(sketch, None)
        for _ in range(100)
        if (sketch := sketch_text(filler_text(rng, vocabulary, outlet=True))) is not None
    ]
    groups = {"corpus copies": copies, "outlet with footer": outlet}
    begin = time.perf_counter()
    fillers = make_fillers(vocabulary, max(sizes) - len(data.articles), seed)
    print(
        f"Store: the {len(data.articles)} originals (through `add_many`), then filler items "
        f"bulk-inserted up to each size: texts of random words from the corpus vocabulary "
        f"({len(vocabulary):,} words), 50-150 words, except every {OUTLET_EVERY}th, which is "
        f"40-200 random words followed by one outlet's fixed {word_count(OUTLET_FOOTER)}-word "
        f"footer; sketched by `sketch_text` ({len(fillers.words):,} in "
        f"{time.perf_counter() - begin:.0f}s). Queries: {len(copies)} copies of the corpus "
        f"articles (each should find its original), and {len(outlet)} new items of that "
        f"outlet (random bodies + the footer; they copy nothing). The store is copied "
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
