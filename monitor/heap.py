"""The monitor process's heap: what it holds from start-up is kept out of garbage collection.

CPython's collector scans every tracked object in a full (generation 2)
collection.  A monitor process holds a few hundred thousand long-lived ones from
start-up (modules, SQLAlchemy's metadata and compiled statements, httpx and
feedparser tables, the settings) and runs full collections while it polls,
triggered by the objects each poll allocates: one such collection paused a
181-article run for 93 ms before its first page was fetched (BENCHMARKS.md,
"Ingest pipeline throughput").  :func:`freeze_start_up` moves what is alive into
the permanent generation (``gc.freeze``), which later collections skip; objects
made afterwards are collected as usual.
"""

from __future__ import annotations

import gc

_done: list[bool] = []  # once a process


def freeze_start_up(*, collect: bool) -> None:
    """Freeze every object alive now, once a process (later calls do nothing): call it
    when start-up is done.

    ``collect`` runs a full collection first, so that garbage of start-up is freed
    rather than frozen (the service: it runs for months).  A one-off run skips it:
    the collection would cost more than the little garbage it frees."""
    if _done:
        return
    _done.append(True)
    if collect:
        gc.collect()
    gc.freeze()
