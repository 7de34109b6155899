"""When to poll a feed next (pure).

Outcomes drive the back-off, as in Media Cloud's rss-fetcher: success and
"not modified" keep the feed's own interval; a temporary failure (timeout,
5xx, 429) retries at the normal pace, honouring ``Retry-After``, and slows
only after repeated failures; a soft failure (unusable response) backs off
half as fast as a hard one (4xx, DNS, TLS), and nothing waits more than a day:
a failing feed is polled at that cap for as long as it fails, never dropped.

**The adaptive interval** (:func:`adapt`, :func:`plan`).  Each feed's own
interval follows the rate of new entries it is seen to publish, aiming at
about one new entry per poll: the rate is an exponentially weighted mean of
(new entries / time since the last counted poll), weighted by time, so a
poll one interval after the last moves the mean :data:`WEIGHT` of the way to
what it saw, a poll soon after (a manual ``run --once``) hardly at all.  The
interval is one over the rate, kept within the bounds (which always include
the configured interval).  It starts from the configured interval, with the
rate it implies (one entry per interval) as the prior, so one quiet poll
lengthens the interval by at most 1 / (1 - WEIGHT), about 1.4 times, while a
burst of news shortens it at once.  The first poll of a feed does not count
(every entry in it is new to us, not to the world), nor does a poll whose
entries were not all worked (their count is kept for the next one).  A random
share (``schedule.jitter``) of each wait is added or taken off, so feeds
configured alike do not fire together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.pipeline.types import Outcome

MAX_BACKOFF = timedelta(days=1)


def next_poll(
    outcome: Outcome,
    interval: int,
    failures: int,
    now: datetime,
    retry_after: int | None = None,
) -> datetime:
    """``failures`` counts the consecutive failures *including* this outcome."""
    base = timedelta(seconds=interval)
    if not outcome.is_failure:
        return now + base
    if outcome is Outcome.TEMPORARY:
        factor = 1.0 if failures <= 2 else 2.0 ** min(failures - 2, 6)
    elif outcome is Outcome.SOFT:
        factor = 2.0 ** min(failures * 0.5, 8)
    else:
        factor = 2.0 ** min(failures, 8)
    wait = min(base * factor, MAX_BACKOFF)
    if retry_after:
        wait = max(wait, min(timedelta(seconds=retry_after), MAX_BACKOFF))
    return now + wait


PAGE_RETRY_FIRST = timedelta(minutes=2)
PAGE_RETRY_MAX = timedelta(hours=6)


def next_page_attempt(attempts: int, now: datetime, retry_after: int | None = None) -> datetime:
    """When to fetch again an article page that failed temporarily ``attempts`` times:
    2 minutes, then three times longer each time up to 6 hours, and never before the
    page host's ``Retry-After``."""
    wait = min(PAGE_RETRY_FIRST * (3.0 ** max(attempts - 1, 0)), PAGE_RETRY_MAX)
    if retry_after:
        wait = max(wait, min(timedelta(seconds=retry_after), PAGE_RETRY_MAX))
    return now + wait


WEIGHT = 0.3  # how far one poll, one interval after the last, moves the rate's mean
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Cadence:
    """A feed's adaptive schedule, as stored in its ``feeds`` row.

    ``rate`` is new entries an hour (None before the first counted poll);
    ``observed_at`` the time of the last poll counted in it; ``pending`` new
    entries seen since, in polls that did not count; ``busy_new``/``busy_polls``
    the new entries in the current run of polls that found some,
    ``quiet_polls`` the current run of polls that found none."""

    interval: int
    reason: str
    rate: float | None = None
    observed_at: datetime | None = None
    pending: int = 0
    busy_new: int = 0
    busy_polls: int = 0
    quiet_polls: int = 0


@dataclass(frozen=True, slots=True)
class Bounds:
    """The interval's limits and the configured interval they always include."""

    configured: int
    low: int
    high: int

    @classmethod
    def of(cls, configured: int, low: int, high: int) -> Bounds:
        return cls(configured, min(low, configured), max(high, configured))

    def clamp(self, seconds: float) -> int:
        return int(min(max(round(seconds), self.low), self.high))


@dataclass(frozen=True, slots=True)
class Plan:
    """When to poll next, and the schedule state to store."""

    cadence: Cadence
    next_at: datetime


def starting(configured: int, why: str = "configured interval") -> Cadence:
    """The cadence of a feed not polled yet, or whose configured interval changed."""
    return Cadence(interval=configured, reason=why)


def _entries(count: int) -> str:
    return f"{count} new {'entry' if count == 1 else 'entries'}"


def _polls(count: int) -> str:
    return f"{count} {'poll' if count == 1 else 'polls'}"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def adapt(cadence: Cadence, new: int, now: datetime, bounds: Bounds) -> Cadence:
    """The cadence after a successful poll whose entries were all worked, ``new`` of
    them new to this feed (see the module's docstring)."""
    seen = cadence.pending + new
    if cadence.observed_at is None:  # the first poll: a baseline, nothing learnt yet
        return Cadence(
            interval=bounds.clamp(cadence.interval),
            reason="learning: first poll, the configured interval",
            rate=HOUR / max(cadence.interval, 1),
            observed_at=now,
        )
    elapsed = (now - cadence.observed_at).total_seconds()
    if elapsed <= 0:
        return replace(cadence, pending=seen)
    observed = seen * HOUR / elapsed
    prior = cadence.rate if cadence.rate is not None else HOUR / max(cadence.interval, 1)
    weight = 1.0 - (1.0 - WEIGHT) ** min(elapsed / max(cadence.interval, 1), 50.0)
    rate = weight * observed + (1.0 - weight) * prior
    target = HOUR / rate if rate > 0 else math.inf
    interval = bounds.clamp(min(target, bounds.high))
    if seen:
        busy_new, busy_polls, quiet = cadence.busy_new + seen, cadence.busy_polls + 1, 0
        word = "busy" if interval < cadence.interval or interval == bounds.low else "steady"
        reason = f"{word}: {_entries(busy_new)} in {_polls(busy_polls)}"
    else:
        busy_new, busy_polls, quiet = 0, 0, cadence.quiet_polls + 1
        reason = f"quiet: nothing new for {_polls(quiet)}"
    if interval == bounds.low and bounds.low < bounds.configured:
        reason += f" (at the minimum, {_span(bounds.low)})"
    elif interval == bounds.high and bounds.high > bounds.configured:
        reason += f" (at the maximum, {_span(bounds.high)})"
    return Cadence(interval, reason, rate, now, 0, busy_new, busy_polls, quiet)


def plan(
    cadence: Cadence,
    *,
    outcome: Outcome,
    failures: int,
    new: int,
    complete: bool,
    now: datetime,
    bounds: Bounds,
    adaptive: bool,
    retry_after: int | None = None,
    jitter: float = 0.0,
    spread: float = 0.0,
) -> Plan:
    """The next poll of a feed after one with ``outcome``.

    ``failures`` counts the consecutive failures including this outcome; ``spread``,
    in [-1, 1], is the random draw that ``jitter`` (a share of the wait) scales."""
    if not adaptive:
        cadence = Cadence(bounds.configured, "fixed: adaptive off")
    elif not outcome.is_failure and complete:
        cadence = adapt(cadence, new, now, bounds)
    elif not outcome.is_failure:
        cadence = replace(cadence, pending=cadence.pending + new)
    wait = next_poll(outcome, cadence.interval, failures, now, retry_after) - now
    if outcome.is_failure:
        backoff = next_poll(outcome, cadence.interval, failures, now) - now
        if retry_after and timedelta(seconds=retry_after) > backoff:
            reason = f"Retry-After {min(retry_after, int(MAX_BACKOFF.total_seconds()))}s"
        elif backoff <= timedelta(seconds=cadence.interval):
            count = f"{failures} {'failure' if failures == 1 else 'failures'}"
            reason = f"failing: {count}, tried again at the interval"
        else:
            reason = f"backing off: {failures} {'failure' if failures == 1 else 'failures'}"
            if backoff >= MAX_BACKOFF:
                reason += f" (at the cap, {_span(int(MAX_BACKOFF.total_seconds()))})"
        cadence = replace(cadence, reason=reason)
    wait *= 1.0 + jitter * max(-1.0, min(spread, 1.0))
    if outcome.is_failure:
        wait = min(wait, MAX_BACKOFF)
    if retry_after:
        wait = max(wait, min(timedelta(seconds=retry_after), MAX_BACKOFF))
    return Plan(cadence, now + wait)


def interval_text(seconds: int) -> str:
    """An interval as people write it, two units at most: 90s -> 1m30s, 2h30m, 1d."""
    parts: list[str] = []
    rest = seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    if rest or not parts:
        parts.append(f"{rest}s")
    return "".join(parts[:2])
