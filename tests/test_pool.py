"""WorkerPool with real worker processes that really die (SIGKILL from inside a task).

Most tests use a cheap fork-context pool of two workers; one uses the real
``make_pool`` (forkserver, extraction stack preloaded, warm-up initializer).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from monitor.pipeline.extract import extract_page
from monitor.pool import PIPE_BYTES, Quarantined, WorkerPool, WorkerStartupError, make_pool
from tests import pool_tasks
from tests.conftest import FIXTURES

WORKERS = 2
BOUND = 20.0  # seconds: a hang, not a slow machine


def fork_pool(initializer: Callable[[], None] | None = None) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        WORKERS, mp_context=multiprocessing.get_context("fork"), initializer=initializer
    )


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(WORKERS, factory=fork_pool) as p:
        yield p


@pytest.fixture
def traces(tmp_path: Path) -> tuple[str, str]:
    return str(tmp_path / "runs"), str(tmp_path / "kills")


def lines(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []


def bounded(fn: Callable[[], Any], seconds: float = BOUND) -> None:
    """Call ``fn`` in a thread; fail if it has not returned within ``seconds``."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn} still running after {seconds} s"
    if errors:
        raise errors[0]


def gone(pid: int) -> None:
    """Wait (bounded) until process ``pid`` has been reaped."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still exists after {BOUND} s")


async def batch(pool: WorkerPool, runs: str, kills: str, bad: Callable[..., int]) -> list[Any]:
    """Eight good tasks (keys good-0..7) with ``bad`` (key "bad", n=99) among them."""
    calls = [pool.run(f"good-{n}", pool_tasks.square, runs, n, 0.15) for n in range(8)]
    calls.insert(1, pool.run("bad", bad, runs, kills, 99, kind="page"))
    return await asyncio.gather(*calls, return_exceptions=True)


def test_killer_is_quarantined_after_two_kills_and_bystanders_succeed(
    pool: WorkerPool, traces: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    runs, kills = traces
    caplog.set_level(logging.WARNING, logger="monitor.pool")
    results = asyncio.run(batch(pool, runs, kills, pool_tasks.killer))

    bad = results.pop(1)
    assert results == [n * n for n in range(8)]
    assert isinstance(bad, Quarantined)
    assert bad.key == "bad"
    assert str(bad) == (
        "page bad killed a worker process twice (exit code -9 / signal SIGKILL); "
        "quarantined, it will not be retried"
    )
    assert lines(kills) == ["99", "99"]
    assert pool.quarantined == frozenset({"bad"})
    assert pool.rebuilds == 2
    started = Counter(lines(runs))
    assert started["99"] == 2
    # at least one bystander was running when the worker died, and was run again
    assert any(count == 2 for n, count in started.items() if n != "99")

    rebuilds = [r.getMessage() for r in caplog.records if "worker pool broke" in r.getMessage()]
    assert len(rebuilds) == 2
    assert all("SIGKILL" in m and "bad" in m for m in rebuilds)
    assert "1 task(s) in flight: bad;" in rebuilds[1]  # the second break: the killer alone

    # quarantined: refused at once, without running (no new start, no new kill)
    with pytest.raises(Quarantined, match="page bad killed a worker process twice"):
        asyncio.run(pool.run("bad", pool_tasks.killer, runs, kills, 99, kind="page"))
    assert lines(kills) == ["99", "99"]
    assert Counter(lines(runs))["99"] == 2


def test_pool_keeps_working_after_a_break_in_the_same_and_a_new_loop(
    pool: WorkerPool, traces: tuple[str, str]
) -> None:
    runs, kills = traces

    async def break_then_use() -> tuple[list[Any], int]:
        results = await batch(pool, runs, kills, pool_tasks.killer)
        return results, await pool.run("after", pool_tasks.square, runs, 7, 0.0)

    results, after = asyncio.run(break_then_use())
    assert isinstance(results[1], Quarantined)
    assert after == 49
    # a fresh event loop, as the service's next tick makes
    assert asyncio.run(pool.run("next-tick", pool_tasks.square, runs, 8, 0.0)) == 64

    async def many() -> list[int]:
        return await asyncio.gather(
            *(pool.run(f"k{n}", pool_tasks.square, runs, n, 0.0) for n in range(10))
        )

    assert asyncio.run(many()) == [n * n for n in range(10)]
    assert pool.rebuilds == 2


def test_a_task_that_kills_once_then_succeeds_is_not_quarantined(
    pool: WorkerPool, traces: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    runs, kills = traces
    caplog.set_level(logging.WARNING, logger="monitor.pool")
    results = asyncio.run(batch(pool, runs, kills, pool_tasks.kill_once))

    assert results.pop(1) == 99 * 99
    assert results == [n * n for n in range(8)]
    assert lines(kills) == ["99"]
    assert pool.quarantined == frozenset()
    assert pool.rebuilds == 1
    assert not [r for r in caplog.records if "quarantined" in r.getMessage()]


def test_new_work_waits_while_the_victims_are_retried(
    pool: WorkerPool, traces: tuple[str, str]
) -> None:
    runs, kills = traces

    async def late() -> int:
        while not lines(kills):  # the first kill has happened...
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # ...and the pool has noticed: the victims are queued
        return await pool.run("late", pool_tasks.square, runs, 500, 0.0)

    async def both() -> tuple[list[Any], int]:
        victims, late_result = await asyncio.gather(
            batch(pool, runs, kills, pool_tasks.killer), late()
        )
        return victims, late_result

    victims, late_result = asyncio.run(both())
    assert late_result == 500 * 500
    assert isinstance(victims[1], Quarantined)
    assert lines(runs)[-1] == "500"  # started only after every victim's retry
    assert lines(runs).count("500") == 1


def test_close_after_a_break_does_not_hang_and_is_idempotent(traces: tuple[str, str]) -> None:
    """CPython's own shutdown can hang when the dead worker held the call queue's lock.

    The idle worker that did not run the last task is the likeliest to hold
    it, while the other waits for it; that one is killed, several times over.
    """
    runs, _ = traces
    for _attempt in range(4):
        pool = WorkerPool(WORKERS, factory=fork_pool)
        ran = asyncio.run(pool.run("pid", pool_tasks.pid))
        idle = [p.pid for p in multiprocessing.active_children() if p.pid not in (ran, None)]
        assert idle, "the fork pool's other worker is a child of this process"
        os.kill(idle[0], signal.SIGKILL)  # the pool is broken, and nobody has noticed yet
        bounded(pool.close)
    bounded(pool.close)
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(pool.run("late", pool_tasks.square, runs, 1, 0.0))


def test_a_worker_killed_while_idle_costs_a_rebuild_not_a_result(
    pool: WorkerPool, traces: tuple[str, str]
) -> None:
    runs, _ = traces
    worker = asyncio.run(pool.run("pid", pool_tasks.pid))
    os.kill(worker, signal.SIGKILL)
    gone(worker)  # reaped: the executor has seen the death and refuses new work
    assert asyncio.run(pool.run("next", pool_tasks.square, runs, 5, 0.0)) == 25
    assert pool.rebuilds == 1
    assert pool.quarantined == frozenset()


def test_workers_that_cannot_start_are_reported_not_quarantined(traces: tuple[str, str]) -> None:
    runs, _ = traces
    with WorkerPool(WORKERS, factory=lambda: fork_pool(pool_tasks.failing_initializer)) as pool:

        async def some() -> list[Any]:
            return await asyncio.gather(
                *(pool.run(f"k{n}", pool_tasks.square, runs, n, 0.0) for n in range(6)),
                return_exceptions=True,
            )

        results = asyncio.run(some())
        assert all(isinstance(r, WorkerStartupError) for r in results), results
        assert "k0 was not run" in str(results[0])
        assert pool.quarantined == frozenset()
        assert lines(runs) == []
        # the first pool broke, the probe broke the second; the other five victims failed at once
        assert pool.rebuilds == 2
        # the next call tries again (the fault may have been fixed), and fails the same way
        with pytest.raises(WorkerStartupError):
            asyncio.run(pool.run("again", pool_tasks.square, runs, 1, 0.0))
        assert pool.rebuilds == 4
        assert pool.quarantined == frozenset()


def test_an_executor_shutting_down_is_not_mistaken_for_a_dead_worker(
    traces: tuple[str, str],
) -> None:
    runs, _ = traces
    built = 0

    def shut_down_already() -> Executor:
        nonlocal built
        built += 1
        executor = fork_pool()
        executor.shutdown()
        return executor

    pool = WorkerPool(WORKERS, factory=shut_down_already)
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        asyncio.run(pool.run("k", pool_tasks.square, runs, 1, 0.0))
    assert (pool.rebuilds, built) == (0, 1)
    bounded(pool.close)


def test_a_quarantined_key_never_reaches_the_pool(traces: tuple[str, str]) -> None:
    runs, kills = traces
    built: list[Executor] = []

    def counting() -> Executor:
        built.append(fork_pool())
        return built[-1]

    with WorkerPool(WORKERS, factory=counting) as pool:
        pool.quarantine("https://example.org/p", "killed a worker process twice (as recorded)")
        with pytest.raises(Quarantined) as caught:
            asyncio.run(pool.run("https://example.org/p", pool_tasks.killer, runs, kills, 1))
        assert caught.value.reason == "killed a worker process twice (as recorded)"
        assert built == []
        assert lines(runs) == []


def test_an_ordinary_exception_is_the_task_s_own(pool: WorkerPool) -> None:
    with pytest.raises(ValueError, match="bad input"):
        asyncio.run(pool.run("k", pool_tasks.fail, "bad input"))
    assert pool.rebuilds == 0
    assert pool.quarantined == frozenset()


def test_the_real_pool_survives_a_killer(traces: tuple[str, str]) -> None:
    """The default factory: forkserver workers that preload and warm up the extraction stack."""
    runs, kills = traces
    page = (FIXTURES / "pages" / "funeral-report.html").read_bytes()
    url = "https://example.org/2020/01/07/funeral-report/"
    expected = extract_page(page, url, "utf-8")

    async def mixed() -> list[Any]:
        return await asyncio.gather(
            pool.run("good-1", pool_tasks.square, runs, 1),
            pool.run("https://example.org/bad", pool_tasks.killer, runs, kills, 99, kind="page"),
            pool.run(url, extract_page, page, url, "utf-8", kind="page"),
            pool.run("good-2", pool_tasks.square, runs, 2),
            return_exceptions=True,
        )

    pool = WorkerPool(2)
    try:
        good1, bad, extracted, good2 = asyncio.run(mixed())
        assert (good1, good2) == (1, 4)
        assert extracted == expected
        assert isinstance(bad, Quarantined)
        assert "page https://example.org/bad killed a worker process twice" in str(bad)
        assert "SIGKILL" in str(bad)
        assert lines(kills) == ["99", "99"]
        assert pool.rebuilds == 2
        assert asyncio.run(pool.run(url, extract_page, page, url, "utf-8")) == expected
    finally:
        bounded(pool.close)


def _pipe_max() -> int:
    path = Path("/proc/sys/fs/pipe-max-size")
    return int(path.read_text()) if path.exists() else 0


@pytest.mark.skipif(
    not hasattr(fcntl, "F_GETPIPE_SZ") or _pipe_max() < PIPE_BYTES,
    reason="pipe sizes of 1 MiB are a Linux feature (fs.pipe-max-size)",
)
def test_the_pool_pipes_hold_a_page_and_its_result() -> None:
    """A task carries a whole page (174 KB on average on article-bench): the pipes to and
    from the workers are widened from 64 KB so a transfer is one write, not several."""
    pool = make_pool(1)
    try:
        for queue in (pool._call_queue, pool._result_queue):  # type: ignore[attr-defined]
            assert fcntl.fcntl(queue._reader.fileno(), fcntl.F_GETPIPE_SZ) >= PIPE_BYTES
        assert pool.submit(len, b"x" * 500_000).result(timeout=60) == 500_000
    finally:
        pool.shutdown()
