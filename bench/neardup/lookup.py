"""Part B, lookup cost: filler items bulk-inserted into SQLite and PostgreSQL stores of
growing size, and the timed ``place()`` lookups against them."""

from __future__ import annotations

import math
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.orm import Session

from bench.neardup.corpus import (
    Article,
    paragraphs,
)
from bench.neardup.evaluate import (
    NOW,
    Bench,
)
from bench.neardup.tables import percentile
from monitor.pipeline.sketch import (
    BANDS,
    PERMUTATIONS,
    SKETCH_VERSION,
    Sketch,
    sketch_text,
)
from monitor.pipeline.text import word_count
from monitor.storage.dedup import DedupPolicy, candidates, place
from monitor.storage.engine import make_engine
from monitor.storage.schema import Item, ItemSketch, SketchBand

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"


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


def filler_text(rng: random.Random, sentences: Sequence[str], outlet: bool) -> str:
    """Real corpus sentences drawn at random until 50-150 words (40-200 and the outlet
    footer): texts that read like articles and share whole sentences with the corpus and
    with each other, as items of a real store share quotes and stock phrases."""
    target = rng.randint(40, 200) if outlet else rng.randint(50, 150)
    chosen: list[str] = []
    count = 0
    while count < target:
        sentence = rng.choice(sentences)
        chosen.append(sentence)
        count += word_count(sentence)
    body = " ".join(chosen)
    return body + "\n\n" + OUTLET_FOOTER if outlet else body


def sentence_pool(articles: Sequence[Article]) -> list[str]:
    """Every distinct sentence of 4+ words of the originals (the fillers' material)."""
    pool = {s for a in articles for para in paragraphs(a.text) for s in para if word_count(s) >= 4}
    return sorted(pool)


def _sketch_fillers(
    job: tuple[int, int, int, Sequence[str]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start, stop, seed, sentences = job
    rng = random.Random(f"{seed}:fillers:{start}")
    signatures = np.empty((stop - start, PERMUTATIONS), dtype="<u4")
    bands = np.empty((stop - start, BANDS), dtype=np.int64)
    words = np.empty(stop - start, dtype=np.int64)
    for row, i in enumerate(range(start, stop)):
        body = filler_text(rng, sentences, outlet=i % OUTLET_EVERY == 0)
        sketch = sketch_text(body)
        assert sketch is not None
        signatures[row] = sketch.values()
        bands[row] = sketch.bands
        words[row] = word_count(body)
    return signatures, bands, words


def make_fillers(sentences: Sequence[str], count: int, seed: int) -> Fillers:
    """``count`` filler sketches, made by ``sketch_text`` in a process per CPU."""
    step = 5_000
    jobs = [(lo, min(lo + step, count), seed, sentences) for lo in range(0, count, step)]
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
