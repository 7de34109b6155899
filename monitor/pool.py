"""The process pool that runs the CPU-bound stages (feed parsing, extraction).

A worker can die under a task: the kernel's OOM killer, a crashing C extension.
A ``ProcessPoolExecutor`` is then broken for good: every task in flight and
every later submit raises ``BrokenProcessPool``, so every feed would fail until
a restart.  :class:`WorkerPool` wraps the executor so that a dead worker costs
a rebuild instead:

* the first task to see a break replaces the executor (a generation counter
  makes that once per break, not once per victim) and the break is logged at
  WARNING with the keys that were in flight;
* every task in flight fails when one worker dies, so most victims are
  bystanders: they are retried one at a time in the fresh pool while new
  submissions wait, which tells the culprit from the bystanders.  A fresh
  pool first runs a no-op, so that workers which die as they start (a failing
  initializer) are reported as :class:`WorkerStartupError`, not blamed on a
  task;
* a task that breaks the pool again while running alone has killed a worker
  twice: its key is quarantined (:class:`Quarantined`) and later calls for it
  raise at once without touching the pool.  The set lives in memory; the
  orchestrator records the reason in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

from monitor.errors import MonitorError

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a victim waits for a broken executor to reap its workers (to learn their exit codes).
RETIRE_TIMEOUT = 30.0
# How long close() lets running tasks finish before it terminates the workers.
CLOSE_TIMEOUT = 30.0
# A worker has ended and the executor is still shutting down this long after: it is stuck.
# (A normal stop ends every worker within milliseconds, once the last task is done.)
STUCK_GRACE = 0.25
_PROBE = "(probe)"  # the key of the no-op that checks a fresh pool
_LOGGED_KEYS = 10  # keys named in a rebuild's log line; the rest are counted


# The pipes that carry tasks to the workers and results back (Linux: F_SETPIPE_SZ; at most
# /proc/sys/fs/pipe-max-size, 1 MiB by default, for a process without CAP_SYS_RESOURCE).
PIPE_BYTES = 1 << 20


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A pool whose workers start with the extraction stack imported and warmed up."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["monitor.pipeline.extract", "monitor.pipeline.parse"])
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=start_worker,
        initargs=(os.getpid(),),
    )
    widen_pipes(pool)
    return pool


def widen_pipes(pool: ProcessPoolExecutor, size: int = PIPE_BYTES) -> bool:
    """Give the pool's task and result pipes ``size`` bytes of buffer; False where not
    possible (not Linux, a limit, another Python's executor).

    A task carries a whole page (174 KB on average on article-bench) and a result
    its draft with the compressed page (60 KB); a pipe holds 64 KB.  So each transfer
    took several hand-offs between a worker and the executor's threads in the monitor
    process, and the worker waited for them: idle between tasks about 0.1 s a
    worker in a 2.3 s run of 181 pages, a third of that with 1 MiB pipes (measured,
    BENCHMARKS.md, "Ingest pipeline throughput").  The queues are the executor's own
    (private attributes, present from Python 3.8 to 3.13); the check below makes their
    absence harmless."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    ends = [
        getattr(getattr(pool, attr, None), "_reader", None)
        for attr in ("_call_queue", "_result_queue")
    ]
    if set_size is None or any(end is None for end in ends):
        return False
    try:
        for end in ends:
            fcntl.fcntl(end.fileno(), set_size, size)  # type: ignore[union-attr]
    except OSError as exc:  # EPERM above pipe-max-size, EBUSY...
        log.debug("pool pipes left at their size: %s", exc)
        return False
    return True


def start_worker(parent: int) -> None:
    """A worker's start: follow ``parent`` (the monitor process) and warm up.

    A worker of a monitor process killed with SIGKILL would otherwise wait for
    work forever, holding its memory (about 115 MB): nothing tells it that its
    parent is gone, since its parent is the fork server.  A daemon thread checks
    once a second and ends the worker when the monitor process is gone."""
    from monitor.pipeline.extract import warm_up  # in the worker: the parent may not need it

    threading.Thread(target=_follow, args=(parent,), name="follow-parent", daemon=True).start()
    warm_up()


def _follow(parent: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            continue  # alive (a recycled pid of another user would also land here)


def worker_count(configured: int) -> int:
    """``extract.workers``, or one per core available to this process when it is 0."""
    if configured:
        return configured
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Quarantined(MonitorError):
    """An input broke the worker pool twice, the second time running alone: it is not run again."""

    def __init__(self, key: str, reason: str, kind: str = "input") -> None:
        self.key = key
        self.reason = reason
        self.kind = kind
        super().__init__(f"{kind} {key} {reason}; quarantined, it will not be retried")


class WorkerStartupError(MonitorError):
    """A fresh pool broke running a no-op: its workers cannot start, no input is to blame.

    For example ``ProcessPoolExecutor`` workers whose initializer raises log
    "Exception in initializer" and exit.  Quarantining the victims would then
    quarantine every input, so they get this error instead.
    """


@dataclass(frozen=True)
class _Breakage:
    """What is known about one break, once the broken executor has been shut down."""

    detail: str  # "exit code -9 / signal SIGKILL"
    worker_died: bool = True


_UNKNOWN = _Breakage("exit code unknown")


class _Broken(Exception):
    """Internal: an attempt met a broken pool.  ``ran``: the task had been handed to a worker."""

    def __init__(self, generation: int, error: BrokenExecutor, ran: bool) -> None:
        super().__init__(generation, error, ran)
        self.generation = generation
        self.error = error
        self.ran = ran


@dataclass
class _LoopState:
    """The asyncio primitives, which belong to one event loop (one ``asyncio.run``)."""

    loop: asyncio.AbstractEventLoop
    open: asyncio.Event = field(default_factory=asyncio.Event)  # set: no victims waiting
    solo: asyncio.Lock = field(default_factory=asyncio.Lock)  # held by the victim running alone
    victims: int = 0
    startup_failure: str | None = None  # a fresh pool failed its probe during this recovery


class WorkerPool:
    """A process pool that survives a dead worker; see the module docstring.

    Use it from one event loop at a time; successive loops (one ``asyncio.run``
    per poll) are fine, the loop-bound primitives are made afresh for each.
    """

    def __init__(self, workers: int, factory: Callable[[], Executor] | None = None) -> None:
        self._factory: Callable[[], Executor] = factory or partial(make_pool, workers)
        self._executor: Executor | None = None
        self._generation = 0
        self._proven = 0  # the latest generation known to have finished a task
        self._flight: dict[int, Counter[str]] = {}  # generation -> keys in flight
        self._breaks: dict[int, Future[_Breakage]] = {}  # generation -> what killed it
        self._quarantine: dict[str, tuple[str, str]] = {}  # key -> (kind, reason)
        self._state: _LoopState | None = None
        self._closed = False
        self._startup_failure: str | None = None  # the last probe failed; cleared by a success
        self.rebuilds = 0

    # -- public -------------------------------------------------------------------

    @property
    def quarantined(self) -> frozenset[str]:
        return frozenset(self._quarantine)

    @property
    def startup_failure(self) -> str | None:
        """Why fresh workers die before finishing a no-op (the pool is broken), until a task
        succeeds again; None when the pool works.  Read by ``/healthz``."""
        return self._startup_failure

    @property
    def closed(self) -> bool:
        return self._closed

    def quarantine(self, key: str, reason: str, kind: str = "input") -> None:
        """Refuse ``key`` from now on (e.g. a key the database already records as quarantined)."""
        self._quarantine[key] = (kind, reason)

    async def run(self, key: str, fn: Callable[..., T], *args: Any, kind: str = "input") -> T:
        """``fn(*args)`` in a worker process.  ``key`` names the input (a page or feed URL).

        Raises :class:`Quarantined` for a key that killed a worker twice,
        :class:`WorkerStartupError` when the workers cannot start, and
        ``RuntimeError`` once the pool (or the interpreter) is shutting down.
        ``kind`` ("page", "feed") only words the messages.
        """
        self._refuse_quarantined(key)
        state = self._bind()
        while state.victims:
            await state.open.wait()
        self._refuse_quarantined(key)
        try:
            return await self._attempt(key, fn, args)
        except _Broken as broken:
            first = broken
        state.victims += 1
        state.open.clear()
        try:
            return await self._retry_alone(state, key, kind, fn, args, first)
        finally:
            state.victims -= 1
            if not state.victims:
                state.startup_failure = None
                state.open.set()

    def close(self) -> None:
        """Shut the executor down, cancelling queued tasks.  Safe to call twice."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            _shut_down(executor, CLOSE_TIMEOUT)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------

    def _refuse_quarantined(self, key: str) -> None:
        if key in self._quarantine:
            kind, reason = self._quarantine[key]
            raise Quarantined(key, reason, kind)

    def _require_open(self, key: str) -> None:
        if self._closed:
            raise RuntimeError(f"the worker pool is closed; {key} was not run")

    def _bind(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            # A new loop: the previous one has finished (its tasks ran their finally blocks).
            self._state = _LoopState(loop)
            self._state.open.set()
        return self._state

    async def _attempt(self, key: str, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """One try in the current executor; a break is noted and raised as :class:`_Broken`."""
        self._require_open(key)
        generation = self._generation
        if self._executor is None:
            self._executor = self._factory()
        try:
            future = self._executor.submit(fn, *args)
        except BrokenExecutor as exc:  # a RuntimeError, so caught first; other RuntimeErrors rise
            self._note_break(generation, exc)
            raise _Broken(generation, exc, ran=False) from exc
        flight = self._flight.setdefault(generation, Counter())
        flight[key] += 1
        try:
            result = await asyncio.wrap_future(future)
        except BrokenExecutor as exc:
            self._note_break(generation, exc)
            raise _Broken(generation, exc, ran=True) from exc
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and future.cancelled() and not (task and task.cancelling()):
                raise RuntimeError(f"the worker pool was closed; {key} was not run") from None
            raise
        finally:
            flight[key] -= 1
            if flight[key] <= 0:
                del flight[key]
            if not flight and generation != self._generation:
                self._flight.pop(generation, None)
        if generation == self._generation:
            self._proven = generation
            self._startup_failure = None
        return result

    def _note_break(self, generation: int, error: BrokenExecutor) -> None:
        """Retire the broken executor, once per break: the first victim to see it does."""
        if self._closed or generation != self._generation:
            return
        old, self._executor = self._executor, None  # the next attempt builds a fresh one
        self._generation += 1
        self.rebuilds += 1
        keys = sorted(self._flight.get(generation, ()))
        self._breaks[generation] = _retire_in_background(old, error, keys, self.rebuilds)
        for stale in [g for g in self._breaks if g < generation - 64]:
            del self._breaks[stale]

    async def _breakage(self, generation: int) -> _Breakage:
        record = self._breaks.get(generation)
        if record is None:
            return _UNKNOWN
        try:
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(record)), RETIRE_TIMEOUT
            )
        except TimeoutError:
            return _UNKNOWN

    async def _retry_alone(
        self,
        state: _LoopState,
        key: str,
        kind: str,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        broken: _Broken,
    ) -> T:
        """Run a victim alone in the fresh pool; a second break there quarantines its key."""
        kills = int(broken.ran)
        async with state.solo:
            while True:
                self._require_open(key)
                breakage = await self._breakage(broken.generation)
                if kills >= 2:
                    verb = "killed a worker process" if breakage.worker_died else "broke the pool"
                    reason = f"{verb} twice ({breakage.detail})"
                    self.quarantine(key, reason, kind)
                    log.warning("quarantined %s %s: it %s", kind, key, reason)
                    raise Quarantined(key, reason, kind) from broken.error
                self._refuse_quarantined(key)  # the same key may have been a victim twice
                await self._prove(state, key, kind)
                try:
                    return await self._attempt(key, fn, args)
                except _Broken as again:
                    broken = again
                    kills += int(again.ran)

    async def _prove(self, state: _LoopState, key: str, kind: str) -> None:
        """Before a victim runs alone in a fresh pool, check that the pool can run a no-op.

        A pool whose workers die as they start (a failing initializer or
        preload) would otherwise get every victim quarantined.  One failed
        probe fails the other victims of the same recovery at once.
        """
        while state.startup_failure is None and self._proven != self._generation:
            try:
                await self._attempt(_PROBE, os.getpid, ())
            except _Broken as broken:
                if broken.ran:
                    state.startup_failure = (await self._breakage(broken.generation)).detail
                    self._startup_failure = state.startup_failure
        if state.startup_failure is not None:
            raise WorkerStartupError(
                f"the worker processes die before finishing a no-op ({state.startup_failure}), "
                f"so {kind} {key} was not run: their start-up (initializer, preloaded modules) "
                "is failing; see the log (e.g. 'Exception in initializer')"
            )


def _retire_in_background(
    executor: Executor | None, error: BrokenExecutor, keys: list[str], rebuild: int
) -> Future[_Breakage]:
    """Shut a broken executor down in a daemon thread; its future says what killed it.

    A thread of our own, not the loop's default executor, so that an executor
    that never finishes shutting down cannot hold up the end of ``asyncio.run``.
    """
    record: Future[_Breakage] = Future()
    record.set_running_or_notify_cancel()

    def work() -> None:
        try:
            breakage = _retire(executor, error) if executor is not None else _UNKNOWN
        except Exception as exc:
            breakage = _Breakage(f"exit code unknown: shutting the pool down failed: {exc!r}")
        shown = ", ".join(keys[:_LOGGED_KEYS])
        if len(keys) > _LOGGED_KEYS:
            shown += f" and {len(keys) - _LOGGED_KEYS} more"
        log.warning(
            "worker pool broke (%s) with %d task(s) in flight: %s; replacing it (rebuild %d)",
            breakage.detail,
            len(keys),
            shown or "none",
            rebuild,
        )
        record.set_result(breakage)

    threading.Thread(target=work, name=f"retire-pool-{rebuild}", daemon=True).start()
    return record


def _retire(executor: Executor, error: BrokenExecutor) -> _Breakage:
    """Shut the broken executor down, waiting for its workers, and read their exit codes."""
    processes = _worker_processes(executor)
    _shut_down(executor, RETIRE_TIMEOUT)
    codes = [_exit_code(p) for p in processes]
    # The executor terminates (SIGTERM) the survivors itself; the dead worker is the odd one.
    dead = [c for c in codes if c is not None and c != -signal.SIGTERM]
    if dead:
        return _Breakage(", ".join(sorted({_exit_text(c) for c in dead})))
    if error.__cause__ is not None:  # no worker died: the pool could not read a result
        lines = [line for line in str(error.__cause__).splitlines() if line.strip("' ")]
        return _Breakage(lines[-1].strip() if lines else repr(error), worker_died=False)
    if -signal.SIGTERM in codes:
        return _Breakage(_exit_text(-signal.SIGTERM))
    return _UNKNOWN


def _shut_down(executor: Executor, timeout: float) -> None:
    """``shutdown(cancel_futures=True)`` that cannot hang on a dead worker.

    CPython's own shutdown can wait forever when a worker died before the
    executor noticed (seen on 3.11.7 with a worker SIGKILLed while idle): the
    manager thread takes the shutdown path, sends each worker its stop
    sentinel and joins them, but the dead worker may have held the call
    queue's lock, so the survivors never read their sentinel.  So the manager
    thread is awaited while the workers are watched: when one has ended and
    the manager is still busy :data:`STUCK_GRACE` later (a normal stop ends
    every worker at once, after the last task), or after ``timeout``, the
    survivors are terminated, which ends the joins.  Exit codes are read only
    after the manager thread is done: reading them while it joins the workers
    races with it (a forkserver worker's code can be read only once).
    """
    processes = _worker_processes(executor)
    manager = getattr(executor, "_executor_manager_thread", None)
    if not isinstance(manager, threading.Thread):  # another kind of executor, or never used
        executor.shutdown(wait=True, cancel_futures=True)
        return
    executor.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + timeout
    ended_at: float | None = None
    while manager.is_alive():
        now = time.monotonic()
        if ended_at is None and _live(processes) != len(processes):
            ended_at = now
        if now > deadline or (ended_at is not None and now - ended_at > STUCK_GRACE):
            if ended_at is None:
                log.warning("worker pool: tasks still running after %.0f s; terminating", timeout)
            _terminate(processes)
            manager.join(timeout)
            return
        manager.join(0.05)


def _live(processes: list[Any]) -> int:
    """How many of the processes have not ended (their sentinels are not ready)."""
    return len(_alive(processes))


def _alive(processes: list[Any]) -> list[Any]:
    sentinels = {}
    for p in processes:
        with contextlib.suppress(ValueError):  # a closed process object
            sentinels[p.sentinel] = p
    ended = set(multiprocessing.connection.wait(list(sentinels), timeout=0))
    return [p for sentinel, p in sentinels.items() if sentinel not in ended]


def _terminate(processes: list[Any]) -> None:
    """SIGTERM the live workers, then SIGKILL those still alive a second later."""
    for signal_them in ("terminate", "kill"):
        alive = _alive(processes)
        for p in alive:
            with contextlib.suppress(OSError, ValueError):
                getattr(p, signal_them)()
        waited = multiprocessing.connection.wait([p.sentinel for p in alive], timeout=1.0)
        if len(waited) == len(alive):
            return


def _exit_code(process: Any) -> int | None:
    try:
        code = process.exitcode
    except ValueError:  # the process object was closed
        return None
    return code if isinstance(code, int) else None


def _worker_processes(executor: Executor) -> list[Any]:
    """The executor's worker processes, from a private attribute, for their exit codes only."""
    processes = getattr(executor, "_processes", None)
    if not isinstance(processes, dict):
        return []
    try:
        return list(processes.values())
    except RuntimeError:  # changed size while being read
        return []


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"exit code {code} / signal {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exit code {code}"
