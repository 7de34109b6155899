"""Crash safety: ``monitor run --once`` killed at random moments loses and doubles nothing.

A :class:`~tests.conftest.Newsroom` on loopback serves four feeds whose
entries are distinct real article pages, each answering after 5-50 ms.
Before every run the feeds grow by a few entries; the run is a real
``python -m monitor run --once`` subprocess.  SIGKILL comes at a seeded random
moment, uniformly between just after its start and near the end of what an
uninterrupted run of the same work takes (measured first, on a database of
its own, and corrected whenever a run ends before its moment).  SIGTERM comes
uniformly between the run's first request to the site (its interpreter has
started by then) and near its end; the run must then exit with status 0
within 10 s, release its leases and leave no process behind.

After every run no feed may have its served body saved as done while one of
its entries is missing.  After all the interruptions one uninterrupted run
must leave every served entry stored exactly once, every item whole (feed
link, page text, field sources, sketch, kept page, watch matches) and every
feed's state sane; one more run then fetches no page.

The processes a killed run leaves behind (its pool's) are killed by the test,
by pid, once the next run has ended; how many were still there is a figure.
The figures (kills, items lost and doubled, peak memory...) go to
``reliability.json`` in the test's directory, and are appended as a JSON line
to ``$MONITOR_RELIABILITY_OUT`` when that is set (RELIABILITY.md quotes them).
``MONITOR_CRASH_SEED``, ``MONITOR_CRASH_KILLS`` and ``MONITOR_CRASH_TERMS``
change the seed and the number of interrupted runs.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pytest

from tests.newsroom import (
    Newsroom,
    audit_store,
    end_session,
    feeds_done_too_early,
    session_processes,
)

SEED = int(os.environ.get("MONITOR_CRASH_SEED", "20261127"))
KILLS = int(os.environ.get("MONITOR_CRASH_KILLS", "50"))
TERMS = int(os.environ.get("MONITOR_CRASH_TERMS", "6"))
INITIAL = [30, 25, 35, 20]  # entries per feed before the first run
GROWTH = (2, 7)  # new entries per feed before each run: uniform in this range
RUN_TIMEOUT = 120.0  # an uninterrupted run that takes longer than this has hung
TERM_GRACE = 10.0  # SIGTERM must end the process within this many seconds


# -- running monitor as a process ---------------------------------------------------------


@dataclass
class Run:
    """One ``monitor run --once`` process and what became of it."""

    status: int  # exit status, or -N when signal N ended it
    elapsed: float
    signal_sent: int | None = None
    sent_at: float | None = None  # seconds after the start
    exit_after_signal: float | None = None
    first_request_at: float | None = None  # the first request the newsroom saw
    last_request_at: float | None = None  # the last one
    requests: int = 0
    peak_main_kib: int = 0  # the main process's peak RSS (wait4)
    peak_tree_kib: int = 0  # the largest sum of RSS over its processes (sampled)
    left_behind: int = 0  # its processes still alive after it ended (and leftover_wait)
    session: int = 0  # its session id (its pid), shared by every process it started
    stderr: str = ""

    @property
    def killed_by_signal(self) -> bool:
        return self.signal_sent is not None and self.status == -self.signal_sent


def _wait_leftovers(sid: int, wait: float) -> int:
    """Wait up to ``wait`` s for the processes the run left behind to end by themselves;
    how many did not."""
    deadline = time.monotonic() + wait
    left = session_processes(sid)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = session_processes(sid)
    return len(left)


def run_monitor(
    config: Path,
    room: Newsroom,
    log: Path,
    *,
    sig: int | None = None,
    at: float | None = None,
    after_first_request: bool = False,
    leftover_wait: float | None = 0.0,
) -> Run:
    """Run ``monitor run --once``; send ``sig`` ``at`` seconds after its start (or after the
    newsroom's first request from it) unless it has ended by then.  The processes it leaves
    behind are given ``leftover_wait`` seconds to end, then killed; with None they are left
    running (for :func:`end_session`)."""
    mark = len(room.requests)
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("MONITOR_DATABASE_URL", None)
    with log.open("w") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its pool workers share its session id: its pid
            env=env,
        )
    run = Run(status=0, elapsed=0.0)
    next_sample = 0.0
    status = None
    rusage = None
    while status is None:
        now = time.monotonic()
        if run.first_request_at is None and len(room.requests) > mark:
            run.first_request_at = room.requests[mark][0] - started
        if now >= next_sample:
            run.peak_tree_kib = max(run.peak_tree_kib, sum(session_processes(process.pid).values()))
            next_sample = now + 0.1
        if sig is not None and run.signal_sent is None and at is not None:
            origin = run.first_request_at if after_first_request else 0.0
            if origin is not None and now - started >= origin + at:
                os.kill(process.pid, sig)
                run.signal_sent, run.sent_at = sig, now - started
        if now - started > RUN_TIMEOUT + (at or 0) or (
            run.sent_at is not None and now - started - run.sent_at > TERM_GRACE * 3
        ):
            os.kill(process.pid, signal.SIGKILL)  # hung: end it, the caller fails the test
        pid, wait_status, rusage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            status = os.waitstatus_to_exitcode(wait_status)
        else:
            time.sleep(0.01)
    process.returncode = status  # reaped here, by wait4, for its rusage
    ended = time.monotonic()
    served = room.requests[mark:]
    run.requests = len(served)
    if served:
        run.last_request_at = served[-1][0] - started
    run.status, run.elapsed = status, ended - started
    if run.sent_at is not None:
        run.exit_after_signal = ended - started - run.sent_at
    assert rusage is not None
    run.peak_main_kib = rusage.ru_maxrss
    run.session = process.pid
    run.left_behind = _wait_leftovers(process.pid, leftover_wait or 0.0)
    if leftover_wait is not None:
        end_session(process.pid)
    run.stderr = log.read_text(errors="replace")[-3000:]
    return run


# -- calibration: how long an uninterrupted run takes --------------------------------------


@dataclass
class Calibration:
    """An uninterrupted run takes about ``fixed + per_entry * new entries`` seconds, its
    first request coming ``first_request_at`` seconds after its start.

    Measured once; then every run that ends by itself before its signal (so the
    estimate was too long: the machine got faster) pulls ``fixed`` and
    ``first_request_at`` towards what it took, so a calibration made on a busy
    machine does not leave most runs finishing before their moment."""

    fixed: float
    per_entry: float
    first_request_at: float

    def duration(self, new_entries: int) -> float:
        return self.fixed + self.per_entry * new_entries

    def observe(self, new_entries: int, run: Run) -> None:
        self.fixed = max(0.3, (self.fixed + run.elapsed - self.per_entry * new_entries) / 2)
        if run.first_request_at is not None:
            self.first_request_at = (self.first_request_at + run.first_request_at) / 2


@pytest.fixture
def calibration(measured: Calibration) -> Calibration:
    """A copy of the measurement for one test to adjust."""
    return replace(measured)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Calibration]:
    """Two uninterrupted runs on a SQLite database of their own: the initial entries, then
    one round of growth; a straight line through the two."""
    directory = tmp_path_factory.mktemp("calibration")
    room = Newsroom(seed=SEED)
    try:
        config = room.config(directory, f"sqlite:///{directory / 'calibration.db'}")
        first_new = len(room.publish(INITIAL))
        first = run_monitor(config, room, directory / "first.log")
        second_new = len(room.publish(sum(GROWTH) // 2))
        second = run_monitor(config, room, directory / "second.log")
        assert first.status == 0 and second.status == 0, first.stderr + second.stderr
        per_entry = max(0.005, (first.elapsed - second.elapsed) / (first_new - second_new))
        fixed = max(0.5, second.elapsed - per_entry * second_new)
        yield Calibration(
            fixed=fixed,
            per_entry=per_entry,
            first_request_at=min(r.first_request_at or fixed for r in (first, second)),
        )
    finally:
        room.close()


# -- figures ---------------------------------------------------------------------------------


@dataclass
class Figures:
    test: str
    backend: str
    seed: int = SEED
    runs: int = 0
    signals_sent: int = 0
    interrupted: int = 0  # runs SIGKILL killed / SIGTERM stopped with status 0 in time
    before_first_request: int = 0  # signalled before the run had fetched anything
    during_work: int = 0  # signalled after its first request, before it would have ended
    finished_first: int = 0  # runs that ended by themselves before their moment came
    unexpected: list[str] = field(default_factory=list)
    done_too_early: list[str] = field(default_factory=list)
    leases_left: list[str] = field(default_factory=list)
    max_exit_after_signal_s: float = 0.0
    processes_left_behind: int = 0  # SIGTERM: still running 3 s after the run's exit
    processes_lingering: int = 0  # SIGKILL: still running when the next run had ended
    entries_served: int = 0
    items_stored: int = 0
    items_lost: int = 0
    items_duplicated: int = 0
    audit_problems: list[str] = field(default_factory=list)
    peak_rss_main_mib: float = 0.0
    peak_rss_all_processes_mib: float = 0.0
    duration_s: float = 0.0

    def count(self, run: Run) -> None:
        self.runs += 1
        self.peak_rss_main_mib = max(self.peak_rss_main_mib, round(run.peak_main_kib / 1024, 1))
        self.peak_rss_all_processes_mib = max(
            self.peak_rss_all_processes_mib, round(run.peak_tree_kib / 1024, 1)
        )

    def save(self, directory: Path) -> None:
        line = json.dumps(asdict(self))
        (directory / "reliability.json").write_text(line + "\n", encoding="utf-8")
        target = os.environ.get("MONITOR_RELIABILITY_OUT")
        if target:
            with Path(target).open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        print(f"\nreliability figures: {line}")


def _backend(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


def _leases(db_url: str) -> list[str]:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url)
    try:
        if not inspect(engine).has_table("feeds"):
            return []
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT name, lease_owner FROM feeds WHERE lease_owner IS NOT NULL")
            ).all()
    finally:
        engine.dispose()
    return [f"{name} leased to {owner}" for name, owner in rows]


def _finish(
    figures: Figures, room: Newsroom, config: Path, db_url: str, directory: Path, started: float
) -> None:
    """One last publication and an uninterrupted run, the audit, an idle run; the figures are
    saved before anything is asserted."""
    room.publish(2)
    final = run_monitor(config, room, directory / "final.log")
    figures.count(final)
    if final.status != 0:
        figures.unexpected.append(f"final run exited {final.status}: {final.stderr[-1500:]}")
    audit = audit_store(room, db_url)
    mark = len(room.requests)
    idle = run_monitor(config, room, directory / "idle.log")
    figures.count(idle)
    idle_requests = room.requests[mark:]
    if idle.status != 0:
        figures.unexpected.append(f"idle run exited {idle.status}: {idle.stderr[-1500:]}")
    fetched_again = [(path, status) for _t, path, status in idle_requests if status != 304]
    if fetched_again:
        figures.audit_problems.append(
            f"after the final run, another run fetched {fetched_again[:6]}: a feed body "
            "was not saved as done although all of it was stored"
        )
    figures.entries_served = audit.served
    figures.items_stored = audit.stored
    figures.items_lost = len(audit.lost)
    figures.items_duplicated = len(audit.duplicated) + len(audit.extra)
    figures.audit_problems += audit.problems
    figures.duration_s = round(time.monotonic() - started, 1)
    figures.save(directory)


def _check(figures: Figures) -> None:
    assert not figures.unexpected, "\n".join(figures.unexpected)
    assert figures.items_lost == 0, figures.audit_problems
    assert figures.items_duplicated == 0, figures.audit_problems
    assert not figures.audit_problems, "\n".join(figures.audit_problems)
    assert not figures.done_too_early, figures.done_too_early


# -- the tests --------------------------------------------------------------------------------


@pytest.fixture
def sessions() -> Iterator[list[int]]:
    """Sessions of killed runs: whatever of them is still running is ended after the test,
    however it ended."""
    ids: list[int] = []
    yield ids
    for sid in ids:
        end_session(sid)


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    newsroom: Newsroom,
    db_url: str,
    tmp_path: Path,
    calibration: Calibration,
    sessions: list[int],
) -> None:
    started = time.monotonic()
    rng = random.Random(f"{SEED}-kill-{_backend(db_url)}")
    figures = Figures("sigkill", _backend(db_url))
    config = newsroom.config(tmp_path, db_url)
    logs = tmp_path / "logs"
    logs.mkdir()
    newsroom.publish(INITIAL)
    backlog = sum(INITIAL)
    attempt = 0
    previous: Run | None = None
    while figures.interrupted < KILLS and attempt < KILLS * 2:
        attempt += 1
        # uniformly from just after the start to near the end of an uninterrupted run
        moment = rng.uniform(0.05, 0.95 * calibration.duration(backlog))
        run = run_monitor(
            config,
            newsroom,
            logs / f"{attempt:03d}.log",
            sig=signal.SIGKILL,
            at=moment,
            leftover_wait=None,
        )
        figures.count(run)
        sessions.append(run.session)
        if previous is not None:  # what the run before left is still there a whole run later
            figures.processes_lingering += end_session(previous.session)
        previous = run
        if run.signal_sent is not None:
            figures.signals_sent += 1
        if run.killed_by_signal:
            figures.interrupted += 1
            if run.first_request_at is None or run.first_request_at > moment:
                figures.before_first_request += 1
            else:
                figures.during_work += 1
        elif run.status == 0:
            figures.finished_first += 1
            calibration.observe(backlog, run)
        else:
            figures.unexpected.append(f"run {attempt} exited {run.status}: {run.stderr}")
        figures.done_too_early += [
            f"after run {attempt}: {p}" for p in feeds_done_too_early(newsroom, db_url)
        ]
        backlog = len(newsroom.entries()) - _stored(db_url)
        backlog += len(newsroom.publish([rng.randint(*GROWTH) for _ in INITIAL]))
    if previous is not None:
        figures.processes_lingering += end_session(previous.session)
    _finish(figures, newsroom, config, db_url, tmp_path, started)
    assert figures.interrupted >= KILLS, f"only {figures.interrupted} runs were killed: {figures}"
    _check(figures)


@pytest.mark.slow
def test_sigterm_at_random_moments_exits_0_and_loses_nothing(
    newsroom: Newsroom, db_url: str, tmp_path: Path, calibration: Calibration
) -> None:
    started = time.monotonic()
    rng = random.Random(f"{SEED}-term-{_backend(db_url)}")
    figures = Figures("sigterm", _backend(db_url))
    config = newsroom.config(tmp_path, db_url)
    logs = tmp_path / "logs"
    logs.mkdir()
    newsroom.publish(INITIAL)
    backlog = sum(INITIAL)
    attempt = 0
    while figures.signals_sent < TERMS and attempt < TERMS * 2:
        attempt += 1
        # From the run's first request (its signal handlers are in place by then: the
        # interpreter's start-up is not what this test is about) to near its end.
        work = calibration.duration(backlog) - calibration.first_request_at
        moment = rng.uniform(0.0, max(0.05, 0.95 * work))
        run = run_monitor(
            config,
            newsroom,
            logs / f"{attempt:03d}.log",
            sig=signal.SIGTERM,
            at=moment,
            after_first_request=True,
            leftover_wait=3.0,
        )
        figures.count(run)
        figures.processes_left_behind += run.left_behind
        if run.signal_sent is None:
            if run.status == 0:
                figures.finished_first += 1
                calibration.observe(backlog, run)
            else:
                figures.unexpected.append(f"run {attempt} exited {run.status}: {run.stderr}")
        else:
            figures.signals_sent += 1
            figures.during_work += 1
            after = run.exit_after_signal or 0.0
            figures.max_exit_after_signal_s = max(figures.max_exit_after_signal_s, round(after, 2))
            if run.status == 0 and after <= TERM_GRACE:
                figures.interrupted += 1
            else:
                figures.unexpected.append(
                    f"run {attempt}: SIGTERM {run.sent_at:.2f}s after start, exit status "
                    f"{run.status} {after:.1f}s later (wanted 0 within {TERM_GRACE:.0f}s); "
                    f"its {run.requests} requests to the site came {run.first_request_at:.2f}s"
                    f" to {run.last_request_at:.2f}s after start: {run.stderr}"
                )
            if run.left_behind:
                figures.unexpected.append(
                    f"run {attempt}: {run.left_behind} of its processes still ran 3s after it "
                    "exited"
                )
        figures.leases_left += [f"after run {attempt}: {p}" for p in _leases(db_url)]
        figures.done_too_early += [
            f"after run {attempt}: {p}" for p in feeds_done_too_early(newsroom, db_url)
        ]
        backlog = len(newsroom.entries()) - _stored(db_url)
        backlog += len(newsroom.publish([rng.randint(*GROWTH) for _ in INITIAL]))
    _finish(figures, newsroom, config, db_url, tmp_path, started)
    assert figures.signals_sent >= TERMS, f"only {figures.signals_sent} runs got SIGTERM: {figures}"
    assert not figures.leases_left, figures.leases_left
    _check(figures)


def _stored(db_url: str) -> int:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url)
    try:
        if not inspect(engine).has_table("items"):
            return 0
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM items")).scalar_one())
    finally:
        engine.dispose()
