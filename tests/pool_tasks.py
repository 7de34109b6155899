"""Task functions for tests/test_pool.py, in a module the worker processes can import.

They leave traces in files, since a worker that kills itself cannot answer:
``runs`` gets one line per start, ``kills`` one line per self-inflicted death.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _append(path: str, line: str) -> None:
    with Path(path).open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def square(runs: str, n: int, pause: float = 0.3) -> int:
    """n * n, slowly enough to be in flight when a neighbour dies."""
    _append(runs, str(n))
    time.sleep(pause)
    return n * n


def killer(runs: str, kills: str, n: int) -> int:
    """Kill this worker with SIGKILL, every time it is called.

    On its first call it waits (at most 10 s) until another task has started,
    so that the break has a bystander in flight.
    """
    _append(runs, str(n))
    if not _lines(kills):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(_lines(runs)) < 2:
            time.sleep(0.01)
    _append(kills, str(n))
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable: SIGKILL cannot be caught")


def kill_once(runs: str, kills: str, n: int) -> int:
    """Kill this worker the first time it is called (no marker yet), return n * n afterwards."""
    _append(runs, str(n))
    try:
        fd = os.open(kills + ".marker", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return n * n
    os.close(fd)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(_lines(runs)) < 2:
        time.sleep(0.01)
    _append(kills, str(n))
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable: SIGKILL cannot be caught")


def pid() -> int:
    return os.getpid()


def fail(message: str) -> int:
    raise ValueError(message)


def failing_initializer() -> None:
    """Fail, a moment after the start (so that every task of a batch is submitted first)."""
    time.sleep(0.2)
    raise RuntimeError("this initializer fails on purpose")
