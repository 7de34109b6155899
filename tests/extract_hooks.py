"""Worker initialisers for tests/test_nothing_lost.py, importable by pool worker processes.

They change how the *worker process* behaves, not what the orchestrator sends:
the orchestrator still ships ``extract_and_assemble`` by reference, and the
worker's copy of ``monitor.pipeline.assemble.extract_page`` is wrapped here.
The crash is a real process death (SIGKILL of the worker), the slowness real
time spent in the worker.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import monitor.pipeline.assemble as assemble

CRASH_MARK = b"<!-- kill-the-extraction-worker -->"


def crash_on_mark() -> None:
    """A page carrying :data:`CRASH_MARK` kills the worker extracting it (as a
    crashing C extension would)."""
    original = assemble.extract_page

    def extract_page(content: bytes, *args: Any, **kwargs: Any) -> Any:
        if CRASH_MARK in content:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(content, *args, **kwargs)

    assemble.extract_page = extract_page  # type: ignore[assignment]


def slow_extraction(seconds: float = 0.3) -> None:
    """Every extraction takes at least ``seconds`` (a slow machine, a heavy page)."""
    original = assemble.extract_page

    def extract_page(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return original(*args, **kwargs)

    assemble.extract_page = extract_page  # type: ignore[assignment]
