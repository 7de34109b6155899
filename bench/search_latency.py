"""Benchmark of full-text search (:mod:`monitor.storage.search`) on 100,000 items.

Run from the repository root::

    .venv/bin/python -m bench.search_latency [--items 100000] [--runs 40]
        [--databases sqlite,postgresql] [--quick] [--corpus DIR]

Items are generated from the real pages of ``../shared/corpus/article-bench``
(read there, never copied): each item takes one article's human-marked body
(a random run of 60-100 % of its paragraphs, in order), one to three paragraphs
of other articles, and that article's ``<title>`` (sometimes with a prefix such
as "Analysis:" or a suffix "(updated)"), a date spread over two years, one of 20
feeds, English.  So 100,000 items are recombinations, not 181 copies: every
text and title differs, word frequencies stay those of real news.

Fill: ``ItemRepository.add_many`` in batches of 200 (the storage path an ingest
takes: exact-copy lookup, insert, near-duplicate placement with the MinHash
sketch computed beforehand, the compressed page kept as ``extract.keep_raw_html``
does by default, link, and the search index upkeep).  The ingest cost
of the index is measured on the same run: every batch is written twice, once
into the benchmark database (index upkeep on) and once into a control database
(upkeep off, ``ItemRepository.search_upkeep = False``), alternating, for the
first ``--paired`` items (10,000), and the summed write times are compared
(``ratio = with / without - 1``).  The rest is filled in bulk so that 100,000
items take minutes, not an hour, on PostgreSQL: one multi-row insert of items,
of their feed links and of their index rows per batch, the index rows built by
the real code (``monitor.storage.search.index_many``: the same folding, the same
statements as at ingest); those items have no kept page and no sketch.
For scale, the CPU time of a bare ``trafilatura.extract`` of each corpus page
is measured too: an ingest does at least that per article besides the write.

Latency: each query runs ``--runs`` times, round-robin across the queries, as
``store.search.search(query, limit=50)`` (the first page, items loaded and
confirmed by the matcher, snippets built) and once with the cursor for page 2;
median and p95 of wall time are reported against the targets (median < 100 ms,
p95 < 500 ms).  PostgreSQL runs in a database of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.config import FeedConfig
from monitor.pipeline.extract import compress
from monitor.pipeline.sketch import sketch_text
from monitor.pipeline.types import ItemDraft
from monitor.storage import Store
from monitor.storage.items import NewItem

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "article-bench"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
BATCH = 200
FEEDS = 20
QUERIES = {
    "name": "Trump",
    "rare name": "WeWork",
    "phrase": '"White House"',
    "boolean of three": "China AND Beijing AND NOT Trump",
    "prefix": "electr*",
    "field": "title:Apple",
    "proximity": "Donald NEAR/2 Trump",
}
PREFIXES = ("", "", "", "Analysis: ", "Live: ", "Opinion | ", "Explainer: ")
SUFFIXES = ("", "", "", " (updated)", " - report", " | Morning briefing")


@dataclass(frozen=True, slots=True)
class Article:
    title: str
    paragraphs: list[str]
    page: bytes  # compressed as the extract stage keeps it (item_pages)


def load(corpus: Path) -> list[Article]:
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    articles = []
    for page_id, entry in sorted(truth.items()):
        page = gzip.decompress((corpus / "html_gz" / f"{page_id}.html.gz").read_bytes())
        found = re.search(rb"<title[^>]*>(.*?)</title>", page, re.S | re.I)
        title = html.unescape(found.group(1).decode("utf-8", "replace")) if found else ""
        title = " ".join(title.split()) or entry["url"]
        paragraphs = [p.strip() for p in entry["articleBody"].split("\n") if p.strip()]
        if paragraphs:
            articles.append(Article(title, paragraphs, compress(page)))
    return articles


def generate(
    articles: list[Article], n: int, seed: int = 20261202, sketches: int | None = None
) -> Iterator[ItemDraft]:
    """``n`` drafts; only the first ``sketches`` (default: all) get a MinHash sketch and the
    kept page, which the bulk part of the fill does not store."""
    rng = random.Random(seed)
    for i in range(n):
        base = rng.choice(articles)
        keep = max(1, round(len(base.paragraphs) * rng.uniform(0.6, 1.0)))
        start = rng.randint(0, len(base.paragraphs) - keep)
        paragraphs = base.paragraphs[start : start + keep]
        for _ in range(rng.randint(1, 3)):
            other = rng.choice(articles).paragraphs
            paragraphs.insert(rng.randint(0, len(paragraphs)), rng.choice(other))
        text = "\n".join(paragraphs)
        title = rng.choice(PREFIXES) + base.title + rng.choice(SUFFIXES)
        published = NOW - timedelta(seconds=rng.randint(0, 2 * 365 * 86400))
        url = f"https://bench{i % FEEDS}.example/{i}"
        yield ItemDraft(
            url=url,
            canonical_url=url,
            guid=f"bench-{i}",
            title=title,
            author=None,
            published_at=published,
            updated_at=None,
            summary=None,
            text=text,
            language="en",
            site_name=None,
            categories=(),
            image_url=None,
            word_count=len(text.split()),
            content_hash=f"{i:064x}",
            extraction_method="trafilatura",
            extractor_version="bench/1",
            field_sources={"text": "page"},
            sketch=sketch_text(text) if sketches is None or i < sketches else None,
            raw_html=base.page if sketches is None or i < sketches else None,
            page_charset="utf-8",
        )


def feed_ids(store: Store) -> list[int]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from monitor.storage.schema import Feed

    configs = [
        FeedConfig(name=f"Bench {k}", url=f"https://bench{k}.example/feed") for k in range(FEEDS)
    ]
    store.feeds.sync(configs, NOW)
    with Session(store.engine) as session:
        by_name = {f.name: f.id for f in session.scalars(select(Feed))}
    return [by_name[f"Bench {k}"] for k in range(FEEDS)]


@dataclass
class Writes:
    """Summed write times, wall and CPU of this process, with and without index upkeep."""

    wall_with: float = 0.0
    wall_without: float = 0.0
    cpu_with: float = 0.0
    cpu_without: float = 0.0


def fill(store: Store, control: Store, articles: list[Article], n: int, paired: int) -> Writes:
    """Write ``n`` items into ``store``; the first ``paired`` also into ``control``, batch
    by batch, alternating which goes first."""
    control.items.search_upkeep = False
    feeds, control_feeds = feed_ids(store), feed_ids(control)
    times = Writes()
    batch: list[ItemDraft] = []
    done = 0

    def write(drafts: list[ItemDraft], first: bool) -> None:
        targets = [(store, feeds), (control, control_feeds)][: 2 if done < paired else 1]
        for target, ids in targets[:: 1 if first else -1]:
            news = [NewItem(ids[done % FEEDS], d, d.url, NOW) for d in drafts]
            wall, cpu = time.perf_counter(), time.process_time()
            target.items.add_many(news)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if len(targets) == 1:
                continue  # past the paired part: not compared
            if target is store:
                times.wall_with += wall
                times.cpu_with += cpu
            else:
                times.wall_without += wall
                times.cpu_without += cpu

    for draft in generate(articles, n, sketches=paired):
        batch.append(draft)
        if len(batch) == BATCH:
            if done < paired:
                write(batch, first=(done // BATCH) % 2 == 0)
            else:
                bulk(store, feeds, batch, done)
            done += len(batch)
            batch = []
            if done % 10_000 == 0:
                print(f"  {done:,} items", file=sys.stderr, flush=True)
    if batch:
        write(batch, first=True) if done < paired else bulk(store, feeds, batch, done)
    return times


def bulk(store: Store, feeds: list[int], drafts: list[ItemDraft], done: int) -> None:
    """Past the paired part: items, links and the search index in bulk (the index rows
    built by the real code, ``monitor.storage.search.index_many``), no pages or sketches."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from monitor.storage.schema import FeedItem, Item
    from monitor.storage.search import index_many

    columns = [c.name for c in Item.__table__.c if c.name in ItemDraft.__dataclass_fields__]
    rows = [
        {c: getattr(d, c) for c in columns} | {"fetched_at": NOW, "categories": [], "revision": 1}
        for d in drafts
    ]
    with Session(store.engine) as session, session.begin():
        ids = list(
            session.scalars(insert(Item).returning(Item.id, sort_by_parameter_order=True), rows)
        )
        links = [
            {"feed_id": feeds[(done + k) % FEEDS], "item_id": item_id, "entry_key": d.guid,
             "guid": d.guid, "entry_url": d.url, "first_seen_at": NOW}
            for k, (item_id, d) in enumerate(zip(ids, drafts, strict=True))
        ]  # fmt: skip
        session.execute(insert(FeedItem), links)
        pairs = zip(ids, drafts, strict=True)
        rows_ = [(i, d.title, d.text, d.author, d.published_at or NOW) for i, d in pairs]
        index_many(session, rows_)


def extraction_ms(corpus: Path, pages: int | None = None) -> float:
    """Median CPU ms of a bare ``trafilatura.extract`` of a corpus page (a lower bound of
    what an ingest spends on an article besides storing it)."""
    import trafilatura

    times = []
    for path in sorted((corpus / "html_gz").glob("*.html.gz"))[:pages]:
        page = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        started = time.process_time()
        trafilatura.extract(page)
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(store: Store, runs: int) -> dict[str, dict[str, float]]:
    wall: dict[str, list[float]] = {k: [] for k in QUERIES}
    cpu: dict[str, list[float]] = {k: [] for k in QUERIES}
    second: dict[str, list[float]] = {k: [] for k in QUERIES}
    found: dict[str, int] = {}
    for name, query in QUERIES.items():  # warm-up
        found[name] = len(store.search.search(query, limit=50).hits)
    for _ in range(runs):
        for name, query in QUERIES.items():
            started, used = time.perf_counter(), time.process_time()
            page = store.search.search(query, limit=50)
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - used)
            if page.next_cursor:
                started = time.perf_counter()
                store.search.search(query, limit=50, cursor=page.next_cursor)
                second[name].append(time.perf_counter() - started)
    return {
        name: {
            "median": statistics.median(wall[name]) * 1000,
            "p95": percentile(wall[name], 0.95) * 1000,
            "cpu_median": statistics.median(cpu[name]) * 1000,
            "page2_median": statistics.median(second[name]) * 1000 if second[name] else 0.0,
            "hits": found[name],
        }
        for name in QUERIES
    }


def run_one(
    kind: str, urls: tuple[str, str], articles: list[Article], args: argparse.Namespace
) -> dict[str, object]:
    from sqlalchemy import text

    with Store.open(urls[0]) as store, Store.open(urls[1]) as control:
        started = time.perf_counter()
        writes = fill(store, control, articles, args.items, args.paired)
        fill_seconds = time.perf_counter() - started
        latency = measure(store, args.runs)
        with store.engine.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM items")).scalar_one()
    paired = min(args.paired, args.items)
    index_ms = (writes.cpu_with - writes.cpu_without) / paired * 1000
    write_ms = writes.cpu_without / paired * 1000
    return {
        "database": kind,
        "items": total,
        "paired": paired,
        "index_cpu_ms_per_item": round(index_ms, 3),
        "write_cpu_ms_per_item": round(write_ms, 3),
        "share_of_ingest": round(index_ms / (write_ms + args.extract_ms + index_ms), 4),
        "fill_seconds": round(fill_seconds, 1),
        "writes": {k: round(v, 2) for k, v in vars(writes).items()},
        "index_cost_wall": round(writes.wall_with / writes.wall_without - 1, 4),
        "index_cost_cpu": round(writes.cpu_with / writes.cpu_without - 1, 4),
        "load_average": round(os.getloadavg()[0], 1),
        "extract_ms": round(args.extract_ms, 2),
        "latency_ms": latency,
    }


def report(result: dict[str, Any]) -> None:
    writes = result["writes"]
    print(
        f"\n{result['database']}: {result['items']:,} items (load average "
        f"{result['load_average']} on {os.cpu_count()} cores); item writes: "
        f"{writes['wall_with']} s with the index, {writes['wall_without']} s without: "
        f"+{result['index_cost_wall'] * 100:.1f} % wall, "
        f"+{result['index_cost_cpu'] * 100:.1f} % CPU of this process (target <= 10 %)"
    )
    print(
        f"index upkeep: {result['index_cpu_ms_per_item']} ms CPU an item (the write without "
        f"it: {result['write_cpu_ms_per_item']} ms); with a bare extraction of the page "
        f"({result['extract_ms']} ms CPU): {result['share_of_ingest'] * 100:.1f} % of ingest"
    )
    print(
        f"{'query':<18} {'hits':>5} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} {'page 2':>7}  ok"
    )
    for name, figures in result["latency_ms"].items():
        ok = figures["median"] < 100 and figures["p95"] < 500
        print(
            f"{name:<18} {int(figures['hits']):>5} {figures['median']:>10.1f} "
            f"{figures['p95']:>8.1f} {figures['cpu_median']:>7.1f} "
            f"{figures['page2_median']:>7.1f}  {'yes' if ok else 'NO'}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument(
        "--paired", type=int, default=10_000, help="items also written without the index"
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="10,000 items, 10 runs, 2,000 paired")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument(
        "--extract-pages", type=int, help="pages for the extraction reference (default: all)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.runs = min(args.items, 10_000), min(args.runs, 10)
        args.paired = min(args.paired, 2_000)
    articles = load(args.corpus)
    args.extract_ms = extraction_ms(args.corpus, args.extract_pages)
    print(f"{len(articles)} articles from {args.corpus}", file=sys.stderr)
    results = []
    for kind in args.databases.split(","):
        print(f"{kind}: filling {args.items:,} items (and a control database)", file=sys.stderr)
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                urls = (f"sqlite:///{tmp}/bench.db", f"sqlite:///{tmp}/control.db")
                results.append(run_one(kind, urls, articles, args))
        else:
            results.append(_postgresql(articles, args))
        report(results[-1])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def _postgresql(articles: list[Article], args: argparse.Namespace) -> dict[str, object]:
    import psycopg

    names = [f"monitor_bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    urls = [f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}" for name in names]
    try:
        return run_one("postgresql", (urls[0], urls[1]), articles, args)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
