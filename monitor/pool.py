"""The process pool that runs the CPU-bound stages (feed parsing, extraction)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from monitor.pipeline.extract import warm_up


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A pool whose workers start with the extraction stack imported and warmed up."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["monitor.pipeline.extract", "monitor.pipeline.parse"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=warm_up)


def worker_count(configured: int) -> int:
    """``extract.workers``, or one per core available to this process when it is 0."""
    if configured:
        return configured
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
