"""One ``monitor run --once`` over every hostile server case, with production settings.

Every case of ``tests/hostile.py`` (connect that never completes, one byte a
second, 5xx and 429, redirect loops and chains, gzip/deflate/brotli bombs of
several GiB, bodies three times the size cap, broken and mis-encoded documents,
entity attacks, nonsense dates, 50,000 entries, hostile links, links to another
private host...) is served on loopback next to a good feed with three real
article pages, and polled once by ``python -m monitor run --once`` in a
subprocess, with the defaults a user gets (``fetch.total_timeout`` 60 s,
``max_bytes`` 10 MB, ``feed_budget`` 5 min, 500 entries per poll, one
extraction process per core) plus ``allow_private: true`` on the loopback
feeds, which a user polling a site on their own network would set.

Printed: wall time, peak RSS (the main process, the largest process, all
processes together), the good feed's items, whether 127.0.0.2 was ever
contacted or /etc/passwd stored, and what became of each case.  The targets:
done within 2 minutes, the good feed all stored, no process above 300 MiB.

    .venv/bin/python -m bench.hostile_run [--bomb-gib 4] [--bulk 50000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hostile import (
    DATA_SENTINEL,
    GiB,
    HostileWeb,
    MiB,
    find_text,
    passwd_first_line,
    run_monitor,
    snapshot,
)

DEFAULT_MAX_BYTES = 10 * 1000**2  # fetch.max_bytes's default
TARGET_WALL = 120.0
TARGET_RSS = 300 * MiB


def _config(directory: Path, database: str, web: HostileWeb) -> Path:
    """The defaults, but for the database and the loopback allowance."""
    path = directory / "feeds.yaml"
    data = {"database": database, "feeds": web.feeds()}
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")  # JSON is YAML
    return path


def _cell(value: object, width: int) -> str:
    text = " ".join(str(value).split()).replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: .venv/bin/python -m bench.hostile_run --bomb-gib 4",
    )
    parser.add_argument("--bomb-gib", type=int, default=4, help="what each bomb inflates to")
    parser.add_argument("--bulk", type=int, default=50_000, help="entries of the big feed")
    parser.add_argument("--drip-for", type=float, default=150, help="seconds a drip goes on")
    parser.add_argument("--timeout", type=float, default=600, help="kill the run after this")
    parser.add_argument("--keep", type=Path, default=None, help="keep config and database here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        database = f"sqlite:///{directory / 'hostile.db'}"
        web = HostileWeb(
            max_bytes=DEFAULT_MAX_BYTES,
            bomb_size=args.bomb_gib * GiB,
            bulk_entries=args.bulk,
            drip_for=args.drip_for,
        )
        with web:
            config = _config(directory, database, web)
            run = run_monitor(config, "run", "--once", timeout=args.timeout)
        snap = snapshot(database)
        leaks = find_text(database, [passwd_first_line(), DATA_SENTINEL])

    good = snap.items.get(HostileWeb.GOOD, [])
    full = [i for i in good if i["extraction_method"] == "trafilatura"]
    print(
        f"cases: {len(web.cases) - 1} hostile feeds + 1 good feed; bombs {args.bomb_gib} GiB each"
    )
    print(f"exit status: {run.returncode}{' (killed: timed out)' if run.timed_out else ''}")
    print(f"wall time: {run.wall:.1f} s")
    print(
        f"peak RSS: main process {run.peak_rss / MiB:.0f} MiB, largest process "
        f"{run.peak_rss_any / MiB:.0f} MiB, all {run.processes} processes together "
        f"{run.peak_rss_total / MiB:.0f} MiB"
    )
    print(f"processes still alive 3 s after the run ended: {run.left_behind}")
    print(f"good feed: {len(good)} of 3 items stored, {len(full)} with the page's full text")
    print(f"connections to 127.0.0.2: {web.other.connections}")
    print(f"/etc/passwd or data: payload in the database: {'YES ' + str(leaks) if leaks else 'no'}")
    print()
    print("| case | expected | outcome | reason | items | time |")
    print("|---|---|---|---|---:|---:|")
    for case in web.cases.values():
        feed = snap.feeds.get(case.name, {})
        duration = feed.get("last_duration")
        print(
            f"| {case.name} | {_cell(case.expect, 60)} | {feed.get('last_outcome') or '-'} | "
            f"{_cell(feed.get('last_error') or '', 70)} | {len(snap.items.get(case.name, []))} | "
            f"{f'{duration:.1f}s' if duration is not None else '-'} |"
        )
    misses = []
    if run.timed_out or run.wall > TARGET_WALL:
        misses.append(f"wall time {run.wall:.0f} s > {TARGET_WALL:.0f} s")
    if len(full) != 3:
        misses.append(f"good feed: {len(full)} of 3 stored with full text")
    if run.peak_rss_any > TARGET_RSS:
        misses.append(f"a process peaked at {run.peak_rss_any / MiB:.0f} MiB > 300 MiB")
    if web.other.connections or leaks:
        misses.append("the private-network guard or entity handling leaked")
    print()
    print("targets: " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
