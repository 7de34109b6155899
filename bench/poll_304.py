"""One poll cycle over 1,000 loopback feeds that all answer 304, against a bare loop and a peer.

Run from the repository root::

    python3 tasks.py bench poll_304 [--feeds 1000] [--repeat 3] [--quick] [--no-profile]

The feeds are served by one asyncio process (:mod:`bench.loopback_web`) on 1,000
loopback addresses, one feed per address: monitor is polite per host (4 requests at
once, one second between request starts, its production defaults), and a real
population of 1,000 feeds is spread over hundreds of hosts; with every feed on
127.0.0.1 the cycle would take 1,000 s by design (``--hosts`` changes the spread).
A first ``monitor run --once`` (not timed) stores every feed's ETag, its one entry and
the entry's page.  Then, in each of ``--repeat`` interleaved rounds:

* **(a)** ``monitor run --once``, a whole new process (imports, config, sync, claim,
  1,000 conditional GETs, 1,000 records), wall time;
* **(b)** one service tick: ``Service.tick()`` in this process, every feed due (the
  service's clock is set a few days ahead each round, through its ``clock`` argument,
  on a copy of the database), time of the call;
* **(c)** a bare ``httpx.AsyncClient`` loop making the same 1,000 conditional GETs
  (the stored ETags) with the same concurrency (``fetch.concurrency``, 16), as a whole
  process (wall) and its loop alone;
* **(d)** lemon24/reader's ``update_feeds(workers=10)`` over the same feeds (reader
  installed in ``bench/.envs/reader``, never in .venv), as a whole process and the
  call alone.

Checked every cycle: the server saw exactly one conditional GET per feed, answered
304, and nothing else (no unconditional GET, no page); monitor's stored feeds all say
``not_modified`` and no item was added (no feed parsed).  Figures are medians.
Bytecode: the monitor and bare-loop processes keep theirs in ``bench/.cache/pycache``
(``PYTHONPYCACHEPREFIX``, filled by the untimed first runs), as an installed package has
its ``.pyc`` files and reader's venv has; ``--compile-each-run`` measures a checkout run
with ``PYTHONDONTWRITEBYTECODE=1``, where monitor compiles its ~70 modules every time.
Settings: monitor's defaults, plus ``allow_private: true`` on each feed (loopback
forces it) and a SQLite database in a temporary directory.

Then, unless ``--no-profile``, (a) and (b) are run once more under cProfile and the
top costs are printed.  Results: ``bench/results/poll_304.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.loopback_web import LoopbackWeb, NotModifiedSite, addresses  # noqa: E402

READER_ENV = REPO / "bench" / ".envs" / "reader"
READER_PACKAGE = "reader==3.26"  # the newest release that runs on Python 3.11
# reader's vendored feedparser imports sgmllib, gone from the standard library, and does
# not declare it on 3.11
READER_EXTRA = "sgmllib3k==1.0.0"
RESULTS = REPO / "bench" / "results" / "poll_304.json"
CONCURRENCY = 16  # fetch.concurrency's default, for the bare loop


def _reader_python() -> Path:
    python = READER_ENV / "bin" / "python"
    if not python.exists():
        print(f"creating {READER_ENV} with {READER_PACKAGE}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(READER_ENV)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "-q",
                "--disable-pip-version-check",
                "install",
                READER_PACKAGE,
                READER_EXTRA,
            ],
            check=True,
        )
    return python


# Where the monitor and bare-loop processes keep their bytecode.  An installed monitor has
# its .pyc files (pip compiles them), as reader's venv has; a checkout run with
# PYTHONDONTWRITEBYTECODE=1 (this machine sets it) would compile monitor's whole source,
# ~70 modules, in every run --once, a cost no user pays.  --compile-each-run keeps it.
PYCACHE = REPO / "bench" / ".cache" / "pycache"
BYTECODE_CACHED = True


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    if BYTECODE_CACHED:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)  # never in the source tree
    return env


def _write_config(directory: Path, urls: Sequence[str]) -> Path:
    path = directory / "feeds.yaml"
    feeds = [{"name": f"f{i:04d}", "url": u, "allow_private": True} for i, u in enumerate(urls)]
    data = {"database": f"sqlite:///{directory / 'monitor.db'}", "feeds": feeds}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")  # JSON is YAML
    return path


def _monitor_once(config: Path, *, profile: Path | None = None) -> float:
    prefix = ["-m", "cProfile", "-o", str(profile)] if profile else []
    argv = [sys.executable, *prefix, "-m", "monitor", "--config", str(config), "run", "--once"]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"monitor run --once failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall


def _stored(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        outcomes = dict(conn.execute("SELECT last_outcome, count(*) FROM feeds GROUP BY 1"))
        items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        etags = conn.execute("SELECT url, etag FROM feeds ORDER BY id").fetchall()
    return {"outcomes": outcomes, "items": items, "etags": etags}


def _check(what: str, seen: dict[str, Any], feeds: int, problems: list[str]) -> None:
    other = {k: v for k, v in seen.items() if k != "conditional_304"}
    if seen.get("conditional_304") != feeds or other:
        problems.append(f"{what}: server saw {seen}, expected {feeds} conditional 304s only")


# -- (c) the bare loop, run as its own process ---------------------------------------------


async def _bare_loop(pairs: Sequence[tuple[str, str]], concurrency: int) -> dict[str, Any]:
    import httpx

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    slots = asyncio.Semaphore(concurrency)
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(url: str, etag: str) -> None:
            async with slots:
                response = await client.get(url, headers={"If-None-Match": etag})
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(one(u, e) for u, e in pairs))
    return {"seconds": time.perf_counter() - started, "statuses": statuses}


def _bare_child(path: str, concurrency: int) -> int:
    pairs = [(u, e) for u, e in json.loads(Path(path).read_text(encoding="utf-8"))]
    print(json.dumps(asyncio.run(_bare_loop(pairs, concurrency))))
    return 0


def _child_json(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=REPO, env=env or _env(), capture_output=True, text=True, timeout=900
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv[1]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


# -- (b) the service tick, in this process ---------------------------------------------------


class Ticker:
    """A Service on a copy of the database, its clock moved days ahead before each tick."""

    def __init__(self, config: Path, db: Path) -> None:
        from monitor.config import load_settings
        from monitor.service.core import Service
        from monitor.storage import Store

        settings = load_settings(config)
        settings = settings.model_copy(update={"database_url": f"sqlite:///{db}"})
        self.offset = timedelta(0)
        self.store = Store.from_settings(settings)
        self.service = Service(settings, self.store, tick_seconds=30, clock=self._clock)
        self.service.orchestrator.sync_feeds()  # as `monitor run` does before its first tick

    def _clock(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def tick(self) -> tuple[float, Any]:
        self.offset += timedelta(days=3)  # every feed due (max_interval is a day)
        started = time.perf_counter()
        report = self.service.tick()
        seconds = time.perf_counter() - started
        if report is None:
            raise SystemExit("the service tick failed; see the log above")
        return seconds, report

    def close(self) -> None:
        self.service.close()
        self.store.close()


def _profile_summary(stats: pstats.Stats, total: float, top: int = 14) -> dict[str, Any]:
    """Named costs (cumulative seconds and calls) and the top functions by own time."""
    named: dict[str, tuple[str, str]] = {
        "imports (importlib _find_and_load)": ("<frozen importlib._bootstrap>", "_find_and_load"),
        "load_settings (feeds.yaml, pydantic)": ("monitor/config.py", "load_settings"),
        "Store.open (engine, migrations check)": ("monitor/storage/store.py", "open"),
        "sync (feeds.yaml into the feeds table)": ("monitor/storage/feeds.py", "sync"),
        "config version gate (follow)": ("monitor/storage/config_version.py", "follow"),
        "claim (lease the feeds)": ("monitor/storage/feeds.py", "claim"),
        "record (one transaction per feed)": ("monitor/storage/feeds.py", "record"),
        "_prune_history (inside record)": ("monitor/storage/feeds.py", "_prune_history"),
        "release (leases)": ("monitor/storage/feeds.py", "release"),
        "release_retries": ("monitor/storage/entries.py", "release_retries"),
        "page retries (due pages)": ("monitor/page_retries.py", "run"),
        "Fetcher set-up (__init__)": ("monitor/pipeline/fetch.py", "__init__"),
        "Fetcher close (__aexit__)": ("monitor/pipeline/fetch.py", "__aexit__"),
        "WorkerPool / process pool start": ("monitor/pool.py", "make_pool"),
        "plan (the next poll time)": ("monitor/schedule.py", "plan"),
        "logging (Logger._log)": ("logging/__init__.py", "_log"),
        "asyncio.run (the whole poll)": ("asyncio/runners.py", "run"),
        "sqlite3 commit": ("~", "<method 'commit' of 'sqlite3.Connection' objects>"),
        "sqlite3 execute": ("~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
        "select (epoll wait: the network)": ("~", "<method 'poll' of 'select.epoll' objects>"),
    }
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    found: dict[str, dict[str, float]] = {}
    for label, (file_part, func) in named.items():
        cum, calls = 0.0, 0
        for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in raw.items():
            if name == func and file_part in filename:
                cum, calls = max(cum, ct), calls + nc
        if calls:
            found[label] = {
                "seconds": round(cum, 3),
                "calls": calls,
                "share": round(cum / total, 3),
            }
    by_package: dict[str, float] = {}
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        key = _package(filename)
        by_package[key] = by_package.get(key, 0.0) + tt
    rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return {
        "total_seconds": round(total, 3),
        "named": found,
        "own_time_by_package": {
            k: round(v, 3) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]
        },
        "top_own_time": [
            {
                "function": f"{_short(fn)}:{line}({name})",
                "own": round(tt, 3),
                "calls": nc,
                "cumulative": round(ct, 3),
            }
            for (fn, line, name), (_cc, nc, tt, ct, _callers) in rows
        ],
    }


def _package(filename: str) -> str:
    if filename == "~":
        return "builtins (C: sqlite3, select, socket, ...)"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if "monitor" in parts:
        index = len(parts) - 1 - parts[::-1].index("monitor")
        return "monitor/" + "/".join(parts[index + 1 :])[:40]
    return "stdlib " + (parts[-2] if len(parts) > 1 and parts[-2] != "python3.11" else parts[-1])


def _short(filename: str) -> str:
    return "/".join(Path(filename).parts[-2:])


def _print_profile(title: str, summary: dict[str, Any]) -> None:
    print(f"\n### profile: {title} ({summary['total_seconds']:.2f} s under cProfile)\n")
    print("| cost | cumulative s | share | calls |")
    print("|---|---:|---:|---:|")
    for label, row in summary["named"].items():
        print(f"| {label} | {row['seconds']:.3f} | {row['share']:.0%} | {row['calls']} |")
    print("\n| package | own time s |")
    print("|---|---:|")
    for package, seconds in summary["own_time_by_package"].items():
        print(f"| {package} | {seconds:.3f} |")
    print("\n| function (top own time) | own s | calls | cumulative s |")
    print("|---|---:|---:|---:|")
    for row in summary["top_own_time"]:
        print(
            f"| {row['function']} | {row['own']:.3f} | {row['calls']} | {row['cumulative']:.3f} |"
        )


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: python3 tasks.py bench poll_304 --repeat 5",
    )
    parser.add_argument("--feeds", type=int, default=1000, help="feeds (default 1000)")
    parser.add_argument("--hosts", type=int, default=0, help="loopback addresses (0: one a feed)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds, medians (default 3)")
    parser.add_argument("--quick", action="store_true", help="200 feeds, 1 round, no reader")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile runs")
    parser.add_argument("--no-reader", action="store_true", help="skip lemon24/reader")
    parser.add_argument("--keep", type=Path, default=None, help="keep config and databases here")
    parser.add_argument(
        "--compile-each-run",
        action="store_true",
        help="no bytecode cache for the child processes when PYTHONDONTWRITEBYTECODE is set "
        "(monitor then compiles its source in every run)",
    )
    parser.add_argument("--bare-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_child:
        return _bare_child(args.bare_child[0], int(args.bare_child[1]))
    global BYTECODE_CACHED
    BYTECODE_CACHED = not args.compile_each_run
    if args.quick:
        args.feeds, args.repeat, args.no_reader = min(args.feeds, 200), 1, True
    if args.feeds < 1 or args.repeat < 1:
        parser.error("--feeds and --repeat must be at least 1")
    hosts = addresses(args.hosts or args.feeds)
    reader_python = None if args.no_reader else _reader_python()

    with tempfile.TemporaryDirectory() as scratch, LoopbackWeb(NotModifiedSite(), hosts) as web:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.db*"):
            old.unlink()
        urls = [
            f"http://{hosts[i % len(hosts)]}:{web.port}/feed/{i}.xml" for i in range(args.feeds)
        ]
        config = _write_config(directory, urls)
        db = directory / "monitor.db"
        print(
            f"{args.feeds} feeds on {len(hosts)} loopback addresses, port {web.port}; "
            f"priming (first run, not timed)...",
            file=sys.stderr,
        )
        primed = _monitor_once(config)
        first = web.reset()
        state = _stored(db)
        if state["outcomes"].get("ok") != args.feeds:
            raise SystemExit(f"the first run did not store every feed: {state['outcomes']}")
        items_before = state["items"]
        pairs_file = directory / "conditional.json"
        pairs_file.write_text(json.dumps(state["etags"]), encoding="utf-8")
        bare_argv = [
            sys.executable,
            "-m",
            "bench.poll_304",
            "--bare-child",
            str(pairs_file),
            str(CONCURRENCY),
        ]
        _child_json(bare_argv)  # not timed: its bytecode cached, as monitor's by the priming
        web.reset()
        for suffix in ("", "-wal", "-shm"):
            if (directory / f"monitor.db{suffix}").exists():
                shutil.copy(directory / f"monitor.db{suffix}", directory / f"tick.db{suffix}")
        reader_db = directory / "reader.sqlite"
        reader_first: Any = None
        if reader_python:
            url_file = directory / "urls.json"
            url_file.write_text(json.dumps(urls), encoding="utf-8")
            _, reader_first = _child_json(
                [
                    str(reader_python),
                    str(REPO / "bench" / "reader_peer.py"),
                    "setup",
                    str(reader_db),
                    str(url_file),
                ],
                env={"PATH": os.environ.get("PATH", "")},
            )
            web.reset()

        ticker = Ticker(config, directory / "tick.db")
        times: dict[str, list[float]] = {
            k: [] for k in ("a", "b", "c_process", "c_loop", "d_process", "d_call")
        }
        problems: list[str] = []
        for _round in range(args.repeat):
            web.reset()
            times["a"].append(_monitor_once(config))
            _check("(a) monitor run --once", web.reset(), args.feeds, problems)
            after = _stored(db)
            if after["outcomes"] != {"not_modified": args.feeds} or after["items"] != items_before:
                problems.append(f"(a) stored state: {after['outcomes']}, items {after['items']}")

            seconds, report = ticker.tick()
            times["b"].append(seconds)
            _check("(b) Service.tick", web.reset(), args.feeds, problems)
            outcomes = {f.outcome.value for f in report.feeds}
            if len(report.feeds) != args.feeds or outcomes != {"not_modified"} or report.new:
                problems.append(f"(b) tick polled {len(report.feeds)} feeds: {outcomes}")

            wall, bare = _child_json(bare_argv)
            times["c_process"].append(wall)
            times["c_loop"].append(bare["seconds"])
            _check("(c) bare httpx", web.reset(), args.feeds, problems)

            if reader_python:
                wall, peer = _child_json(
                    [
                        str(reader_python),
                        str(REPO / "bench" / "reader_peer.py"),
                        "cycle",
                        str(reader_db),
                    ],
                    env={"PATH": os.environ.get("PATH", "")},
                )
                times["d_process"].append(wall)
                times["d_call"].append(peer["seconds"])
                _check("(d) reader", web.reset(), args.feeds, problems)
                if peer["errors"]:
                    problems.append(f"(d) reader: {peer['errors']} feeds with errors")

        profiles: dict[str, Any] = {}
        if not args.no_profile:
            prof_a = directory / "run_once.prof"
            wall_a = _monitor_once(config, profile=prof_a)
            web.reset()
            profiles["a"] = _profile_summary(pstats.Stats(str(prof_a)), wall_a)
            profiler = cProfile.Profile()
            ticker.offset += timedelta(days=3)
            started = time.perf_counter()
            profiler.enable()
            ticker.service.tick()
            profiler.disable()
            wall_b = time.perf_counter() - started
            web.reset()
            profiles["b"] = _profile_summary(pstats.Stats(profiler, stream=io.StringIO()), wall_b)
        ticker.close()

    med = {k: _median(v) for k, v in times.items()}
    rows: list[tuple[str, float, str]] = [
        ("(a) monitor run --once, whole process", med["a"], f"{med['a'] / med['c_process']:.2f}"),
        ("(b) monitor service tick, in process", med["b"], f"{med['b'] / med['c_loop']:.2f}"),
        ("(c) bare httpx loop, whole process", med["c_process"], "1.00"),
        ("(c) bare httpx loop, the loop alone", med["c_loop"], "1.00"),
    ]
    if reader_python:
        rows += [
            (
                "(d) reader update_feeds(workers=10), whole process",
                med["d_process"],
                f"{med['d_process'] / med['c_process']:.2f}",
            ),
            (
                "(d) reader update_feeds(workers=10), the call alone",
                med["d_call"],
                f"{med['d_call'] / med['c_loop']:.2f}",
            ),
        ]
    print(
        f"\n{args.feeds} feeds, all 304, on {len(hosts)} loopback addresses; "
        f"median of {args.repeat}; first run (not timed) {primed:.1f} s\n"
    )
    print("| run | seconds | x bare (process vs process, in-process vs loop) |")
    print("|---|---:|---:|")
    for label, seconds, ratio in rows:
        print(f"| {label} | {seconds:.2f} | {ratio} |")
    ratios: dict[str, float] = {
        "run_once_over_bare_process": med["a"] / med["c_process"],
        "tick_over_bare_loop": med["b"] / med["c_loop"],
    }
    if reader_python:
        ratios["run_once_over_reader_process"] = med["a"] / med["d_process"]
        ratios["tick_over_reader_call"] = med["b"] / med["d_call"]
        print(
            f"\nmonitor/reader: run --once {ratios['run_once_over_reader_process']:.2f} "
            f"(whole processes), tick {ratios['tick_over_reader_call']:.2f} (in process)"
        )
    targets = {
        "within 2x of bare": ratios["run_once_over_bare_process"] <= 2
        and ratios["tick_over_bare_loop"] <= 2,
        "faster than reader": bool(reader_python)
        and ratios["run_once_over_reader_process"] < 1
        and ratios["tick_over_reader_call"] < 1,
    }
    print("targets: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in targets.items()))
    print(
        "checks: "
        + (
            "every cycle 1 conditional GET per feed, all 304, nothing parsed or stored"
            if not problems
            else "FAILED: " + "; ".join(problems)
        )
    )
    for key, title in (("a", "(a) monitor run --once"), ("b", "(b) Service.tick")):
        if key in profiles:
            _print_profile(title, profiles[key])
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "feeds": args.feeds,
        "hosts": len(hosts),
        "repeat": args.repeat,
        "concurrency": CONCURRENCY,
        "bytecode": "cached, as installed" if BYTECODE_CACHED else "compiled in every run",
        "reader": READER_PACKAGE if reader_python else None,
        "reader_first_update": reader_first,
        "first_run_seconds": primed,
        "first_run_requests": first,
        "seconds": times,
        "medians": med,
        "ratios": ratios,
        "targets": targets,
        "problems": problems,
        "profiles": profiles,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    if not args.quick:
        RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"\nwritten: {RESULTS.relative_to(REPO)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
