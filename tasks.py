#!/usr/bin/env python3
"""The project's one task runner; needs only Python 3.11+.

    python3 tasks.py run --once      # set up .venv if needed, then: monitor run --once
    python3 tasks.py test            # set up .venv if needed, then: the whole test suite
                                     # (in parallel over the cores, pytest-xdist; the tests
                                     # marked serial, which time a service, alone after)
    python3 tasks.py lint            # ruff check, ruff format --check, mypy
    python3 tasks.py bench           # the benchmarks of bench/ (not the valgrind one)
    python3 tasks.py bench NAME ARGS # one of them with its own arguments (bench poll_304 --quick)
    python3 tasks.py monitor ARGS    # any monitor command inside the venv

The virtual environment lives in ``.venv`` (override with MONITOR_VENV); it is
(re)installed whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("MONITOR_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".monitor-installed"


# `python3 tasks.py bench` runs these in this order; `bench NAME [ARGS]` runs one
BENCHMARKS = (
    "pipeline_throughput",
    "near_duplicates",
    "watch_match",
    "extraction_settings",
    "hostile_run",
    "startup",
    "poll_304",
    "mediacloud_replay",
    "language_detect",
    "metadata_quality",
    "fuzzy_precision",
    "search_latency",
)
# only when asked by name: about 25 minutes under valgrind (instruction counts)
ON_REQUEST = ("extraction_cost",)


def _python() -> Path:
    return BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - tasks.py may be run by an older python3
        sys.exit(f"monitor needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == wanted and _python().exists():
        return
    if not _python().exists():
        print(f"tasks: creating virtual environment {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    print("tasks: installing monitor and its development tools", file=sys.stderr)
    pip = [str(_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def _parallel(args: list[str]) -> list[str]:
    """pytest-xdist over the machine's cores unless the caller chose (``-n``, ``-p no:xdist``)
    or runs a few tests by name: the whole suite takes about 16 minutes serially."""
    chosen = any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args)
    if chosen or "no:xdist" in args or (os.cpu_count() or 1) < 2:
        return []
    if any(not a.startswith("-") for a in args):  # named files or tests: as asked, serially
        return []
    return ["-n", str(min(os.cpu_count() or 1, 4)), "--dist", "worksteal"]


def run(*args: str) -> int:
    return subprocess.call([str(_python()), *args], cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    task, rest = argv[0], argv[1:]
    ensure_venv()
    if task == "test":
        parallel = _parallel(rest)
        if not parallel:
            return run("-m", "pytest", *rest)
        # timing tests (marked serial) run alone after the rest, on an otherwise idle machine
        status = run("-m", "pytest", *parallel, "-m", "not serial", *rest)
        return run("-m", "pytest", "-p", "no:xdist", "-m", "serial", *rest) or status
    if task == "lint":
        return (
            run("-m", "ruff", "check", "monitor", "tests", "bench", "tasks.py")
            or run("-m", "ruff", "format", "--check", "monitor", "tests", "bench", "tasks.py")
            or run("-m", "mypy")
        )
    if task == "run":
        return run("-m", "monitor", "run", *rest)
    if task == "monitor":
        return run("-m", "monitor", *rest)
    if task == "bench":
        if rest and not rest[0].startswith("-"):  # bench NAME [ARGS]: that one, its arguments
            if rest[0] not in BENCHMARKS + ON_REQUEST:
                known = ", ".join(BENCHMARKS + ON_REQUEST)
                print(
                    f"tasks: no benchmark {rest[0]!r}; try one of: {known}",
                    file=sys.stderr,
                )
                return 2
            return run("-m", f"bench.{rest[0]}", *rest[1:])
        status = 0
        for name in BENCHMARKS:
            status |= run("-m", f"bench.{name}", *rest)
        print(
            f"tasks: not run (ask by name): {', '.join(ON_REQUEST)}, "
            "e.g. python3 tasks.py bench extraction_cost",
            file=sys.stderr,
        )
        return status
    print(f"tasks: unknown task {task!r}; try: run, test, lint, bench, monitor", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
