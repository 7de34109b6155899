"""The adaptive schedule: the pure rule (monitor/schedule.py), then real polls driven by a
fake clock, the intervals read from the times the loopback server saw the requests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.orchestrator import Orchestrator
from monitor.pipeline.types import Outcome
from monitor.schedule import MAX_BACKOFF, Bounds, Cadence, adapt, plan, starting
from monitor.storage import Store
from tests.conftest import config_file
from tests.test_politeness import Answer, Loopback, rss

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOUNDS = Bounds.of(900, 300, 86400)


def polls(cadence: Cadence, news: list[int], bounds: Bounds = BOUNDS) -> list[Cadence]:
    """The cadences after successive polls, each one interval after the last."""
    now, seen = T0, []
    for new in news:
        cadence = adapt(cadence, new, now, bounds)
        seen.append(cadence)
        now += timedelta(seconds=cadence.interval)
    return seen


def learnt(interval: int = 900) -> Cadence:
    """A cadence past its first poll (which only sets the baseline)."""
    return adapt(starting(interval), 50, T0 - timedelta(seconds=interval), BOUNDS)


# -- the pure rule ------------------------------------------------------------------------


def test_the_first_poll_only_sets_a_baseline() -> None:
    first = adapt(starting(900), 50, T0, BOUNDS)  # 50 entries new to us, not to the world
    assert first.interval == 900
    assert first.reason.startswith("learning")
    assert first.observed_at == T0


def test_a_busy_feed_is_polled_more_often_down_to_the_minimum() -> None:
    seen = polls(learnt(), [6] * 8)
    intervals = [c.interval for c in seen]
    assert intervals == sorted(intervals, reverse=True)
    assert intervals[0] < 900
    assert intervals[-1] == 300
    assert seen[2].reason == "busy: 18 new entries in 3 polls (at the minimum, 5m)"


def test_a_quiet_feed_is_polled_less_often_up_to_the_maximum() -> None:
    seen = polls(learnt(), [0] * 40)
    intervals = [c.interval for c in seen]
    assert intervals == sorted(intervals)
    assert 900 < intervals[0] <= 900 / 0.7 + 1  # one quiet poll: at most ~1.4 times longer
    assert intervals[-1] == 86400
    assert seen[5].reason == "quiet: nothing new for 6 polls"
    assert seen[-1].reason.endswith("(at the maximum, 1d)")


def test_one_new_entry_a_poll_keeps_the_interval() -> None:
    seen = polls(learnt(), [1] * 10)
    assert all(abs(c.interval - 900) <= 10 for c in seen), [c.interval for c in seen]
    assert seen[-1].reason.startswith("steady: 10 new entries in 10 polls")


def test_a_poll_soon_after_the_last_hardly_moves_the_interval() -> None:
    cadence = learnt()
    assert cadence.observed_at is not None
    soon = adapt(cadence, 0, cadence.observed_at + timedelta(seconds=30), BOUNDS)  # run --once
    assert cadence.interval <= soon.interval <= cadence.interval * 1.05


def test_the_bounds_always_include_the_configured_interval() -> None:
    assert Bounds.of(60, 300, 86400) == Bounds(60, 60, 86400)
    assert Bounds.of(7 * 86400, 300, 86400) == Bounds(7 * 86400, 300, 7 * 86400)


def test_an_unfinished_poll_keeps_its_new_entries_for_the_next() -> None:
    cadence = learnt()
    kept = plan(
        cadence,
        outcome=Outcome.OK,
        failures=0,
        new=7,
        complete=False,
        now=T0 + timedelta(seconds=900),
        bounds=BOUNDS,
        adaptive=True,
    ).cadence
    assert kept.pending == 7 and kept.interval == cadence.interval
    after = adapt(kept, 1, T0 + timedelta(seconds=1800), BOUNDS)
    assert after.reason.startswith("busy: 8 new entries in 1 poll")


def test_adaptive_off_keeps_the_configured_interval() -> None:
    fixed = plan(
        learnt(600),
        outcome=Outcome.OK,
        failures=0,
        new=40,
        complete=True,
        now=T0,
        bounds=BOUNDS,
        adaptive=False,
    )
    assert fixed.cadence.reason == "fixed: adaptive off"
    assert fixed.next_at - T0 == timedelta(seconds=900)


@pytest.mark.parametrize(
    ("outcome", "failures", "retry_after", "reason"),
    [
        (Outcome.HARD, 3, None, "backing off: 3 failures"),
        (Outcome.TEMPORARY, 1, None, "failing: 1 failure, tried again at the interval"),
        (Outcome.TEMPORARY, 1, 7200, "Retry-After 7200s"),
        (Outcome.HARD, 20, None, "backing off: 20 failures (at the cap, 1d)"),
    ],
)
def test_failures_say_why_and_keep_the_learnt_interval(
    outcome: Outcome, failures: int, retry_after: int | None, reason: str
) -> None:
    cadence = learnt()
    failed = plan(
        cadence,
        outcome=outcome,
        failures=failures,
        new=0,
        complete=True,
        now=T0,
        bounds=BOUNDS,
        adaptive=True,
        retry_after=retry_after,
    )
    assert failed.cadence.reason == reason
    assert failed.cadence.interval == cadence.interval
    assert failed.next_at - T0 <= MAX_BACKOFF
    if retry_after:
        assert failed.next_at - T0 >= timedelta(seconds=retry_after)


@given(
    outcome=st.sampled_from(list(Outcome)),
    failures=st.integers(min_value=0, max_value=100),
    spread=st.floats(min_value=-1, max_value=1),
    jitter=st.floats(min_value=0, max_value=0.5),
    retry_after=st.none() | st.integers(min_value=0, max_value=10**6),
)
def test_jitter_spreads_the_wait_within_its_share(
    outcome: Outcome, failures: int, spread: float, jitter: float, retry_after: int | None
) -> None:
    failures = failures if outcome.is_failure else 0
    args: dict[str, Any] = {
        "outcome": outcome,
        "failures": max(failures, 1) if outcome.is_failure else 0,
        "new": 1,
        "complete": True,
        "now": T0,
        "bounds": BOUNDS,
        "adaptive": True,
        "retry_after": retry_after,
    }
    still = plan(learnt(), **args).next_at - T0
    moved = plan(learnt(), **args, jitter=jitter, spread=spread).next_at - T0
    if outcome.is_failure:
        assert moved <= MAX_BACKOFF
        if retry_after:
            assert moved >= min(timedelta(seconds=retry_after), MAX_BACKOFF)
    else:
        assert abs(moved - still) <= still * jitter + timedelta(microseconds=1)


# -- real polls, a fake clock ---------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> Iterator[Loopback]:
    running = Loopback(clock=clock).start()
    yield running
    running.close()


def busy_feed(server: Loopback, per_poll: int) -> Callable[[str], Answer]:
    """A feed with ``per_poll`` new entries at each request (the last 20 listed)."""
    counter = itertools.count()

    def answer(_path: str) -> Answer:
        n = next(counter)
        links = [f"/story/{k}" for k in range((n + 1) * per_poll)][-20:]
        return 200, {"Content-Type": "application/rss+xml"}, rss(server.base, links)

    return answer


def fake_times(server: Loopback, path: str) -> list[float]:
    """When the server saw ``path`` requested, in the fake clock's seconds since T0."""
    return [(h.clock - T0).total_seconds() for h in server.of(path) if h.clock]


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def drive(orchestrator: Orchestrator, store: Store, clock: Clock, steps: int) -> None:
    """Poll what is due, then jump the clock to the next due time; ``steps`` times."""
    for _ in range(steps):
        orchestrator.run_once(due_only=True)
        due = store.feeds.next_due()
        assert due is not None
        clock.now = max(due, clock.now)


def test_busy_feeds_are_polled_more_often_and_quiet_ones_less(
    server: Loopback, clock: Clock, tmp_path: Path, db_url: str
) -> None:
    quiet = rss(server.base, ["/old/1", "/old/2"])
    server.route("/busy.xml", busy_feed(server, 4))
    server.route("/quiet.xml", lambda _p: (200, {"Content-Type": "application/rss+xml"}, quiet))
    bounds = {"interval": 100, "min_interval": 50, "max_interval": 800, "full_text": False}
    feeds = [
        {"name": "Busy", "url": server.url("/busy.xml"), **bounds},
        {"name": "Quiet", "url": server.url("/quiet.xml"), **bounds},
    ]
    config = config_file(tmp_path, db_url, feeds)  # schedule: the defaults, jitter 10 %
    settings = load_settings(config)
    with (
        Store.from_settings(settings) as store,
        Orchestrator(settings, store, clock=clock) as orchestrator,
    ):
        drive(orchestrator, store, clock, 36)
        busy, lulls = gaps(fake_times(server, "/busy.xml")), gaps(fake_times(server, "/quiet.xml"))
        health = {h.name: h for h in store.feeds.health()}
    assert len(busy) > len(lulls) >= 4
    assert 90 <= busy[0] <= 110  # the first interval is the configured one (10 % jitter)
    assert busy[-1] < 60 and min(busy) >= 45  # down to the minimum, never below it
    assert 90 <= lulls[0] <= 110
    assert lulls[-1] > 200 and max(lulls) <= 800 * 1.1 + 1  # up towards the maximum
    assert lulls == sorted(lulls) or lulls[-1] > lulls[0] * 2
    assert health["Busy"].interval == 50
    assert health["Busy"].interval_reason is not None
    assert health["Busy"].interval_reason.startswith("busy: ")
    assert health["Quiet"].interval_reason is not None
    assert health["Quiet"].interval_reason.startswith("quiet: nothing new for ")
    listing = CliRunner().invoke(
        app, ["--config", str(config), "feeds", "list"], env={"COLUMNS": "250"}
    )
    assert listing.exit_code == 0, listing.output
    assert "busy: " in listing.output and "quiet: nothing new for" in listing.output
    # a changed interval in the config starts again from it
    feeds[1] = {**feeds[1], "interval": 50}
    settings = load_settings(config_file(tmp_path, db_url, feeds))
    before = len(fake_times(server, "/quiet.xml"))
    changed_at = (clock.now - T0).total_seconds()
    with (
        Store.from_settings(settings) as store,
        Orchestrator(settings, store, clock=clock) as orchestrator,
    ):
        drive(orchestrator, store, clock, 6)
    after = fake_times(server, "/quiet.xml")[before:]
    assert len(after) >= 2
    assert after[0] - changed_at <= 50 + 1
    assert 45 <= after[1] - after[0] <= 55 + 1


def test_a_failing_feed_backs_off_to_the_cap_and_is_still_polled(
    server: Loopback, clock: Clock, tmp_path: Path, db_url: str
) -> None:
    server.route("/broken.xml", lambda _p: (404, {}, b"gone missing"))
    feeds = [{"name": "Broken", "url": server.url("/broken.xml"), "interval": 3600}]
    config = config_file(tmp_path, db_url, feeds, schedule={"jitter": 0})
    settings = load_settings(config)
    with (
        Store.from_settings(settings) as store,
        Orchestrator(settings, store, clock=clock) as orchestrator,
    ):
        drive(orchestrator, store, clock, 9)
        [health] = store.feeds.health()
    waits = gaps(fake_times(server, "/broken.xml"))
    assert len(waits) == 8  # polled every time it was due: never dropped
    assert waits == sorted(waits) and waits[0] > 3600
    assert waits[-1] == MAX_BACKOFF.total_seconds()  # the cap, and polled at it
    assert health.consecutive_failures == 9
    assert health.interval_reason == "backing off: 9 failures (at the cap, 1d)"
    listing = CliRunner().invoke(
        app, ["--config", str(config), "feeds", "list"], env={"COLUMNS": "250"}
    )
    assert "1 feeds, 1 failing" in listing.output
    assert "backing off: 9 failures" in listing.output
