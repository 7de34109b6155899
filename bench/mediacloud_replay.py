"""Media Cloud's daily load, replayed on loopback with time compressed, until it falls behind.

Run from the repository root::

    python3 tasks.py bench mediacloud_replay [--quick] [--duration 240] [--speeds 1 2 4]

**The load.**  Media Cloud polls about 180,000 feeds at a 6-hour mean interval
(8.3 polls/s) and finds about 500,000 new articles a day (5.8 articles/s).  What
the poller must sustain is those *rates*, not 180,000 rows, so the feed count is
scaled down 300 times and the interval with it: 600 feeds at a 72-second interval are
the same 8.3 polls/s (``--feeds``, ``--interval``), and a run of a few minutes covers
several intervals, which 180,000 feeds at 6 hours never would; new entries arrive at
5.8/s over all feeds
(a Poisson process per feed, the same for every run), so about half the polls find
nothing new (304: the server honours ``If-None-Match``) and the rest 1-3 new entries.
Failures: 2% of feed requests get a 503, 0.5% a slow answer (5 s).  Feeds are spread
over 300 loopback addresses (2 feeds a host, pages on their feed's host), since
monitor is polite per host.  What scaling down changes: the feeds table is 300 times
smaller than Media Cloud's (claims and scans of it are cheaper), and each feed
publishes 300 times faster (still about 0.7 new entries a poll).  Article pages are
the 181 real pages of ``../shared/corpus/article-bench`` (read at run time), each made
unique by a sentence naming its entry.

**Time compression.**  The service takes a ``clock`` (``Service(clock=...)``, used
for every schedule decision: due feeds, leases, next poll times, entry dates); the
replay gives it a clock that runs ``speed`` times faster than real time, and the
server publishes entries on the same clock.  So at speed S the service has to do S
times Media Cloud's per-second work.  What does *not* speed up, honestly real time:
HTTP, extraction, the database, the politeness delay between two requests to a host
(1 s) and the tick (``--tick``, 2 s real).  Lease lengths and back-offs are clock
time, so they shorten with S; at the speeds reached here they stay far above a poll.

**Steady from the start.**  A template database is prepared once per backend: the
feeds synced and each polled once (empty) with a clock set back by a share of its
interval, so the due times are spread evenly over the next interval; every run
starts from a copy of it at the same virtual time.

**Keeping up.**  Every 2 s the driver reads every feed's ``next_fetch_at``: a feed due
for more than ``--late`` real seconds (default 30) is *late*.  A speed keeps up when,
over the second half of the run, at most 1% of the feeds are late on average and at
most 2% at the end, and the articles stored keep pace: within 15% of those
published up to 1.5 intervals plus the lateness allowance before the end: the
adaptive schedule lengthens a quiet feed's interval up to 1.4 times a poll).  Speeds
double from 1 until one falls behind (``--speeds`` to choose).  The workers are
``Service`` objects in their own processes (``monitor run``'s service, ticked by
this script so that it can take the clock; extraction pool: one process per core);
with PostgreSQL, 1, 2 and 3 of them share one database.

Results: ``bench/results/mediacloud_replay.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.loopback_web import FEED_TEMPLATE, LoopbackWeb, Reply, Site, addresses  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "article-bench" / "html_gz"
RESULTS = REPO / "bench" / "results" / "mediacloud_replay.json"
PG_ADMIN = os.environ.get("MONITOR_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC).timestamp()  # virtual start of every run
MC_POLLS = 180_000 / (6 * 3600)  # Media Cloud's polls per second
MC_ARTICLES = 500_000 / 86400  # and new articles per second
FEED_ENTRIES = 10  # entries a feed document lists, newest first
FAIL_503 = 0.02
SLOW = 0.005
SLOW_SECONDS = 5.0


def entry_times(feed: int, rate: float, horizon: float, seed: int, lead: float) -> list[float]:
    """Virtual publication times of ``feed``'s entries from T0 - lead to T0 + horizon."""
    rng = random.Random(seed * 1_000_003 + feed)
    times: list[float] = []
    t = T0 - lead
    while True:
        t += rng.expovariate(rate)
        if t > T0 + horizon:
            return times
        times.append(t)


@dataclass
class ReplaySite(Site):
    """Feeds whose entries appear on the shared virtual clock; real article pages."""

    feeds: int = 3000
    rate: float = MC_ARTICLES / 3000  # entries per virtual second, per feed
    seed: int = 1
    horizon: float = 3600.0
    lead: float = 144.0  # entries are published from T0 - lead on (two intervals)
    pages: list[str] = field(default_factory=list)
    t0: float = T0 - 1
    r0: float = 0.0
    speed: float = 0.0  # 0: the clock stands at t0 (preparing the template)
    _times: list[list[float]] = field(default_factory=list)
    _rng: random.Random = field(default_factory=lambda: random.Random(7))

    def configure(self, settings: dict[str, str]) -> None:
        self.t0, self.r0 = float(settings["t0"]), float(settings["r0"])
        self.speed = float(settings["speed"])
        self.horizon = float(settings.get("horizon", self.horizon))
        self.lead = float(settings.get("lead", self.lead))
        if not self.pages:
            self.pages = [
                gzip.decompress(p.read_bytes()).decode("utf-8", "replace")
                for p in sorted(CORPUS.glob("*.html.gz"))
            ]
        if not self._times or settings.get("horizon"):
            self._times = [
                entry_times(i, self.rate, self.horizon, self.seed, self.lead)
                for i in range(self.feeds)
            ]

    def now(self) -> float:
        return self.t0 + self.speed * (time.time() - self.r0)

    def reply(self, host: str, path: str, headers: dict[str, str]) -> Reply:
        if path.startswith("/feed/"):
            roll = self._rng.random()
            if roll < FAIL_503:
                self.counts["feed_503"] += 1
                return 503, {}, b"busy\n", 0.0
            delay = SLOW_SECONDS if roll < FAIL_503 + SLOW else 0.0
            self.counts["feed_slow"] += delay > 0
            feed = int(path.rsplit("/", 1)[1].removesuffix(".xml"))
            times = self._times[feed] if self._times else []
            count = bisect_right(times, self.now())
            etag = f'"{feed}-{count}"'
            if headers.get("if-none-match") == etag:
                self.counts["feed_304"] += 1
                return 304, {"ETag": etag}, b"", delay
            self.counts["feed_200"] += 1
            items = "".join(
                f"<item><title>Story {feed}-{k}</title><link>http://{host}/a/{feed}/{k}</link>"
                f'<guid isPermaLink="false">{feed}-{k}</guid>'
                f"<pubDate>{format_datetime(datetime.fromtimestamp(times[k], UTC), True)}"
                "</pubDate></item>"
                for k in range(count - 1, max(count - FEED_ENTRIES, 0) - 1, -1)
            )
            body = FEED_TEMPLATE.format(title=f"feed {feed}", host=host, items=items).encode()
            return 200, {"Content-Type": "application/rss+xml", "ETag": etag}, body, delay
        if path.startswith("/a/") and self.pages:
            _, _, owner, number = path.split("/")
            page = self.pages[(int(owner) * 7919 + int(number)) % len(self.pages)]
            unique = f"<p>Story {owner}-{number}: filed by desk {int(owner) % 97}.</p>"
            self.counts["page_200"] += 1
            html = page.replace("<p>", unique + "<p>", 1) if "<p>" in page else unique + page
            return 200, {"Content-Type": "text/html; charset=utf-8"}, html.encode(), 0.0
        return super().reply(host, path, headers)


# -- databases ---------------------------------------------------------------------------


class Backend:
    """A template database, prepared once, and a fresh copy of it per run."""

    def __init__(self, kind: str, directory: Path) -> None:
        self.kind, self.directory = kind, directory
        self.prefix = f"bench_mc_{os.getpid()}"
        self.made: list[str] = []

    def url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.directory / (name + '.db')}"
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        return f"{base}/{self.prefix}_{name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.encode())  # built here from our own names, not input

    def create(self, name: str, template: str | None = None) -> str:
        if self.kind == "sqlite":
            target = self.directory / f"{name}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
                if template and Path(f"{self.directory / template}.db{suffix}").exists():
                    shutil.copy(f"{self.directory / template}.db{suffix}", f"{target}{suffix}")
            return self.url(name)
        db = f"{self.prefix}_{name}"
        self._admin(f'DROP DATABASE IF EXISTS "{db}"')
        self._admin(
            f'CREATE DATABASE "{db}"'
            + (f' TEMPLATE "{self.prefix}_{template}"' if template else "")
        )
        self.made.append(db)
        return self.url(name)

    def drop_all(self) -> None:
        for db in reversed(self.made):
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            except Exception as exc:
                print(f"could not drop database {db}: {exc}", file=sys.stderr)

    def sample(self, url: str) -> tuple[list[datetime], int]:
        """Every active feed's next poll time, and the number of stored items."""
        if self.kind == "sqlite":
            path = url.removeprefix("sqlite:///")
            with sqlite3.connect(path, timeout=30) as conn:
                rows = conn.execute(
                    "SELECT next_fetch_at FROM feeds WHERE active AND disabled_reason IS NULL"
                ).fetchall()
                items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
            return [_utc(datetime.fromisoformat(r[0])) for r in rows if r[0]], int(items)
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
            rows = conn.execute(
                "SELECT next_fetch_at FROM feeds WHERE active AND disabled_reason IS NULL"
            ).fetchall()
            items = conn.execute("SELECT count(*) FROM items").fetchone()
        return [_utc(r[0]) for r in rows if r[0]], int(items[0] if items else 0)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _write_config(
    path: Path, url: str, hosts: Sequence[str], port: int, feeds: int, interval: int
) -> Path:
    data = {
        "database": url,
        "feeds": [
            {
                "name": f"mc{i:05d}",
                "url": f"http://{hosts[i % len(hosts)]}:{port}/feed/{i}.xml",
                "allow_private": True,
                "interval": interval,
            }
            for i in range(feeds)
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


def _fixed(at: datetime) -> Callable[[], datetime]:
    return lambda: at


def prepare_template(web: LoopbackWeb, config: Path, interval: int, batches: int = 12) -> float:
    """Sync the feeds and poll each once, batch k with the clock (the service's and the
    server's) set back k/batches of an interval, so their next polls are spread over the
    interval after T0 and each has the entries published since waiting for it."""
    from monitor.config import load_settings
    from monitor.orchestrator import Orchestrator
    from monitor.pool import WorkerPool, worker_count
    from monitor.storage import Store

    started = time.perf_counter()
    settings = load_settings(config)
    names = [f.name for f in settings.feeds]
    pool = WorkerPool(worker_count(settings.extract.workers))
    with Store.from_settings(settings) as store:
        for k in range(batches):
            at = datetime.fromtimestamp(T0 - interval * (k + 1) / batches, UTC)
            web.control(f"set?t0={at.timestamp()}&r0=0&speed=0")
            with Orchestrator(settings, store, clock=_fixed(at), pool=pool) as orchestrator:
                report = orchestrator.run_once(names=names[k::batches])
            if len(report.failed) > len(report.feeds) * 0.1:
                raise SystemExit(f"template: {len(report.failed)} feeds failed: {report}")
    pool.close()
    return time.perf_counter() - started


# -- a worker: the service, ticked on the virtual clock ------------------------------------


def worker(config: Path, r0: float, speed: float, until: float, tick: float, out: Path) -> int:
    from monitor.config import load_settings
    from monitor.service.core import Service
    from monitor.stopping import StopSignal
    from monitor.storage import Store

    def clock() -> datetime:
        return datetime.fromtimestamp(T0 + speed * (time.time() - r0), UTC)

    settings = load_settings(config)
    stop = StopSignal()
    signal.signal(signal.SIGTERM, lambda *_: stop.request())
    # At the end of the run a tick in flight is asked to stop, as SIGTERM does in
    # `monitor run`: its work in flight finishes within STOP_GRACE, the rest is left.
    threading.Timer(max(0.0, until - time.time()), stop.request).start()
    ticks: list[float] = []
    polls = new = 0
    with Store.from_settings(settings) as store:
        service = Service(settings, store, tick_seconds=int(tick), clock=clock, stop=stop)
        service.orchestrator.sync_feeds()
        next_at = max(time.time(), r0)
        time.sleep(max(0.0, r0 - time.time()))
        while time.time() < until and not stop.requested:
            started = time.perf_counter()
            report = service.tick()
            ticks.append(time.perf_counter() - started)
            if report is not None:
                polls += len(report.feeds)
                new += report.new
            next_at = max(next_at + tick, time.time())
            time.sleep(max(0.0, min(next_at, until) - time.time()))
        service.close()
    out.write_text(json.dumps({"ticks": ticks, "polls": polls, "new": new}), encoding="utf-8")
    return 0


# -- one run ------------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    workers: int
    speed: float
    seconds: float
    polls_per_s: float
    articles_per_s: float
    target_polls_per_s: float
    target_articles_per_s: float
    late_mean: float  # share of feeds late, second half, mean of samples
    late_end: float
    due_max_real_s: float  # the most overdue feed seen in the second half, real seconds
    stored: int
    published: int
    tick_median: float
    tick_max: float
    keeps_up: bool
    server: dict[str, Any]


def replay(
    backend: Backend,
    web: LoopbackWeb,
    config_template: dict[str, Any],
    args: argparse.Namespace,
    speed: float,
    workers: int,
    directory: Path,
) -> Run:
    url = backend.create(f"run_{int(speed)}x_{workers}w", template="template")
    config = directory / f"run-{backend.kind}.yaml"
    config.write_text(json.dumps({**config_template, "database": url}), encoding="utf-8")
    r0 = time.time() + 8.0  # the workers start (imports, pool) before the clock does
    until = r0 + args.duration
    web.control(f"set?t0={T0}&r0={r0}&speed={speed}")
    outputs = [directory / f"worker-{n}.json" for n in range(workers)]
    for path in outputs:
        path.unlink(missing_ok=True)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.mediacloud_replay",
                "--worker",
                str(config),
                str(r0),
                str(speed),
                str(until),
                str(args.tick),
                str(path),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
        for path in outputs
    ]
    time.sleep(max(0.0, r0 - time.time()))
    web.reset()
    _, items0 = backend.sample(url)
    # real offset, late share, most overdue (real s), items stored
    samples: list[tuple[float, float, float, int]] = []
    while time.time() < until:
        time.sleep(2.0)
        now = T0 + speed * (time.time() - r0)
        due, items = backend.sample(url)
        overdue = [now - d.timestamp() for d in due]
        late = sum(1 for o in overdue if o > args.late * speed) / max(len(due), 1)
        samples.append((time.time() - r0, late, max(overdue, default=0.0) / speed, items))
    server = web.reset()
    _, items1 = backend.sample(url)
    elapsed = time.time() - r0
    outs = []
    for proc, path in zip(procs, outputs, strict=True):
        try:
            proc.wait(timeout=60)  # the tick in flight stops within its grace
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and its extraction pool
            proc.wait()
        if path.exists():
            outs.append(json.loads(path.read_text(encoding="utf-8")))
    ticks = [t for o in outs for t in o["ticks"]] or [float("nan")]
    settle = T0 + speed * (elapsed - args.late) - 1.5 * args.interval
    rate = MC_ARTICLES / args.feeds
    published = (
        sum(
            bisect_right(entry_times(i, rate, args.horizon, 1, args.lead), settle)
            for i in range(args.feeds)
        )
        - args.template_items
    )
    published = max(published, 0)  # a run shorter than 1.5 intervals judges none
    second = [s for s in samples if s[0] >= args.duration / 2] or samples[-1:]
    late_mean = statistics.mean(s[1] for s in second) if second else 1.0
    late_end = samples[-1][1] if samples else 1.0
    stored = items1 - items0
    half = (
        (second[-1][3] - second[0][3]) / max(second[-1][0] - second[0][0], 1e-9)
        if len(second) > 1
        else stored / args.duration
    )
    # The second half's rate of stored articles is printed, not judged: over a minute or
    # two it moves with when each feed's poll falls, by 30% or more at 1x.
    keeps = late_mean <= 0.01 and late_end <= 0.02 and stored >= 0.85 * published
    polls = sum(v for k, v in server.items() if k.startswith("feed_") and k != "feed_slow")
    return Run(
        backend=backend.kind,
        workers=workers,
        speed=speed,
        seconds=round(args.duration, 1),
        polls_per_s=polls / args.duration,
        articles_per_s=half,
        target_polls_per_s=args.feeds / args.interval * speed,
        target_articles_per_s=MC_ARTICLES * speed,
        late_mean=late_mean,
        late_end=late_end,
        due_max_real_s=max((s[2] for s in second), default=0.0),
        stored=stored,
        published=published,
        tick_median=statistics.median(ticks),
        tick_max=max(ticks),
        keeps_up=keeps,
        server=server,
    )


def _print_run(run: Run) -> None:
    print(
        f"| {run.backend} | {run.workers} | {run.speed:g}x | {run.polls_per_s:.1f} / "
        f"{run.target_polls_per_s:.1f} | {run.articles_per_s:.1f} / "
        f"{run.target_articles_per_s:.1f} | {run.late_mean:.1%} | {run.late_end:.1%} | "
        f"{run.due_max_real_s:.0f} s | {run.stored} / {run.published} | "
        f"{run.tick_median:.1f} / {run.tick_max:.1f} s | "
        f"{'yes' if run.keeps_up else '**no**'} |",
        flush=True,
    )


HEADER = (
    "| backend | workers | speed | polls/s (done / asked) | articles/s (stored / asked) | "
    "late (mean, 2nd half) | late (end) | most overdue | stored / published | "
    "tick (median / max) | keeps up |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: python3 tasks.py bench mediacloud_replay --quick",
    )
    parser.add_argument("--feeds", type=int, default=600)
    parser.add_argument("--interval", type=int, default=72, help="virtual seconds (default 72)")
    parser.add_argument("--hosts", type=int, default=0, help="loopback hosts (default feeds/2)")
    parser.add_argument("--duration", type=float, default=240, help="real seconds per run")
    parser.add_argument("--tick", type=float, default=2.0, help="real seconds between ticks")
    parser.add_argument("--late", type=float, default=30.0, help="real seconds overdue = late")
    parser.add_argument(
        "--speeds",
        type=float,
        nargs="+",
        default=None,
        help="speed-ups to try (default 1 2 4 8 16, stopping at the first that falls behind)",
    )
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--pg-workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--quick", action="store_true", help="60 s runs, speeds 1 and 2, 1 worker")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        c, r0, speed, until, tick, out = args.worker
        return worker(Path(c), float(r0), float(speed), float(until), float(tick), Path(out))
    if args.quick:
        args.duration, args.speeds, args.pg_workers = 60.0, [1.0, 2.0], [1]
    speeds = args.speeds or [1.0, 2.0, 4.0, 8.0, 16.0]
    args.horizon = (args.duration + 60) * max(speeds) + args.interval
    args.lead = 2.0 * args.interval
    hosts = addresses(args.hosts or max(1, args.feeds // 2))
    site = ReplaySite(feeds=args.feeds, rate=MC_ARTICLES / args.feeds)
    runs: list[Run] = []
    print(
        f"{args.feeds} feeds at {args.interval} s = {args.feeds / args.interval:.1f} polls/s "
        f"(Media Cloud {MC_POLLS:.1f}), {MC_ARTICLES:.1f} new articles/s at 1x; "
        f"{len(hosts)} hosts; {args.duration:.0f} s real per run; tick {args.tick:g} s\n"
    )
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory() as scratch, LoopbackWeb(site, hosts) as web:
        directory = Path(scratch)
        web.control(f"set?t0={T0 - 1}&r0=0&speed=0&horizon={args.horizon}&lead={args.lead}")
        for kind in args.backends:
            backend = Backend(kind, directory)
            try:
                url = backend.create("template")
                config = _write_config(
                    directory / f"template-{kind}.yaml",
                    url,
                    hosts,
                    web.port,
                    args.feeds,
                    args.interval,
                )
                logging.getLogger("monitor").setLevel(logging.ERROR)  # 503s: expected
                prepare_template(web, config, args.interval)
                args.template_items = backend.sample(url)[1]
                template = json.loads(config.read_text(encoding="utf-8"))
                for workers in args.pg_workers if kind == "postgresql" else [1]:
                    for speed in speeds:
                        web.control(f"set?t0={T0 - 1}&r0=0&speed=0")
                        run = replay(backend, web, template, args, speed, workers, directory)
                        runs.append(run)
                        _print_run(run)
                        if not run.keeps_up:
                            break
            finally:
                if kind == "postgresql":
                    backend.drop_all()
    print()
    headroom: dict[str, float] = {}
    for run in runs:
        key = f"{run.backend}, {run.workers} worker{'s' if run.workers > 1 else ''}"
        if run.keeps_up:
            headroom[key] = max(headroom.get(key, 0.0), run.speed)
        else:
            headroom.setdefault(key, 0.0)
    for key, value in headroom.items():
        print(f"headroom, {key}: {f'{value:g}x' if value else 'below 1x'} (target 2x)")
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "feeds": args.feeds,
        "interval": args.interval,
        "duration": args.duration,
        "tick": args.tick,
        "late": args.late,
        "hosts": len(hosts),
        "runs": [run.__dict__ for run in runs],
        "headroom": headroom,
        "cpus": os.cpu_count(),
    }
    if not args.quick:
        args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
