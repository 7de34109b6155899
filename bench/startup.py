"""Start-up time of the light commands, as a ratio to an empty Python in the same run.

Run from the repository root::

    .venv/bin/python bench/startup.py [--repeat 5]

Each command is started ``--repeat`` times as a new process (``python -m monitor ...``,
output discarded; the interpreter is this one), round-robin so that a busy moment of a
shared machine falls on every command alike; the median wall time is reported and divided
by the median of ``python -c pass``, which is what any Python command costs here.  The
ratio is what to compare between machines; the aim is ``monitor --help`` under 0.3 s.
``check`` validates the repository's own feeds.yaml (SQLite URL, every watchlist compiled).

Example output (2 shared vCPUs, Python 3.11.7)::

    command                        median      min   x python -c pass
    python -c pass                 0.014s   0.013s               1.0
    monitor --help                 0.190s   0.183s              13.6
    ...
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE = "python -c pass"


def commands() -> dict[str, list[str]]:
    monitor = [sys.executable, "-m", "monitor"]
    return {
        BASELINE: [sys.executable, "-c", "pass"],
        "monitor --help": [*monitor, "--help"],
        "monitor --version": [*monitor, "--version"],
        "monitor items list --help": [*monitor, "items", "list", "--help"],
        "monitor run --help": [*monitor, "run", "--help"],
        "monitor check": [*monitor, "--config", str(REPO / "feeds.yaml"), "check"],
        # what every light command cost before they imported lazily: the whole program
        "import everything": [
            sys.executable,
            "-c",
            "import monitor.cli, monitor.orchestrator, monitor.storage, monitor.reextract",
        ],
    }


def measure(repeat: int) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    todo = commands()
    times: dict[str, list[float]] = {name: [] for name in todo}
    for _ in range(repeat):
        for name, argv in todo.items():
            start = time.perf_counter()
            subprocess.run(
                argv, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL, timeout=60
            )
            times[name].append(time.perf_counter() - start)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: .venv/bin/python bench/startup.py --repeat 9",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    times = measure(args.repeat)
    base = statistics.median(times[BASELINE])
    print(f"{'command':<30} {'median':>8} {'min':>8} {'x ' + BASELINE:>18}")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"{name:<30} {median:>7.3f}s {min(runs):>7.3f}s {median / base:>18.1f}")
    print(f"\n{args.repeat} runs each, {sys.executable}, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
