"""next_poll: the back-off policy for each fetch outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.pipeline.types import Outcome
from monitor.schedule import MAX_BACKOFF, next_poll

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INTERVAL = 900  # 15 minutes
DAY = timedelta(days=1)
FAILURES = (Outcome.TEMPORARY, Outcome.SOFT, Outcome.HARD)


def wait(
    outcome: Outcome, failures: int, interval: int = INTERVAL, retry_after: int | None = None
) -> timedelta:
    return next_poll(outcome, interval, failures, NOW, retry_after) - NOW


@pytest.mark.parametrize("outcome", [Outcome.OK, Outcome.NOT_MODIFIED])
@pytest.mark.parametrize("failures", [0, 1, 5])
def test_success_keeps_the_interval(outcome: Outcome, failures: int) -> None:
    assert wait(outcome, failures) == timedelta(seconds=INTERVAL)


@pytest.mark.parametrize("outcome", [Outcome.OK, Outcome.NOT_MODIFIED])
def test_success_ignores_retry_after(outcome: Outcome) -> None:
    assert wait(outcome, 0, retry_after=7200) == timedelta(seconds=INTERVAL)


def test_temporary_keeps_the_interval_for_the_first_failures_then_grows() -> None:
    base = timedelta(seconds=INTERVAL)
    assert wait(Outcome.TEMPORARY, 1) == base
    assert wait(Outcome.TEMPORARY, 2) == base
    assert wait(Outcome.TEMPORARY, 3) == 2 * base
    assert wait(Outcome.TEMPORARY, 4) == 4 * base
    waits = [wait(Outcome.TEMPORARY, n) for n in range(1, 12)]
    assert waits == sorted(waits)
    assert waits[-1] > base


@pytest.mark.parametrize("failures", range(1, 8))
def test_soft_grows_more_slowly_than_hard(failures: int) -> None:
    soft, hard = wait(Outcome.SOFT, failures), wait(Outcome.HARD, failures)
    assert timedelta(seconds=INTERVAL) < soft < hard


def test_soft_and_hard_grow_with_failures() -> None:
    for outcome in (Outcome.SOFT, Outcome.HARD):
        waits = [wait(outcome, n) for n in range(1, 30)]
        assert waits == sorted(waits)
        assert waits[0] > timedelta(seconds=INTERVAL)


@pytest.mark.parametrize("outcome", FAILURES)
def test_never_more_than_a_day(outcome: Outcome) -> None:
    assert MAX_BACKOFF == DAY
    assert wait(outcome, 1000) <= DAY
    assert wait(outcome, 1000, interval=3600) == DAY
    assert wait(outcome, 1000, interval=3 * 86400) == DAY
    assert wait(outcome, 3, retry_after=10 * 86400) == DAY


@given(
    outcome=st.sampled_from(FAILURES),
    failures=st.integers(min_value=1, max_value=10_000),
    interval=st.integers(min_value=10, max_value=7 * 86400),
    retry_after=st.none() | st.integers(min_value=0, max_value=10**9),
)
def test_failure_waits_are_bounded(
    outcome: Outcome, failures: int, interval: int, retry_after: int | None
) -> None:
    waited = wait(outcome, failures, interval=interval, retry_after=retry_after)
    assert timedelta(0) < waited <= DAY
    assert waited >= min(timedelta(seconds=interval), DAY)


@pytest.mark.parametrize("outcome", FAILURES)
def test_retry_after_is_respected(outcome: Outcome) -> None:
    assert wait(outcome, 1, retry_after=3600) == timedelta(hours=1)
    # a shorter Retry-After does not shorten the back-off
    assert wait(outcome, 1, retry_after=1) == wait(outcome, 1)
    assert wait(outcome, 1, retry_after=0) == wait(outcome, 1)
