"""When to poll a feed next (pure).

Outcomes drive the back-off, as in Media Cloud's rss-fetcher: success and
"not modified" keep the feed's own interval; a temporary failure (timeout,
5xx, 429) retries at the normal pace, honouring ``Retry-After``, and slows
only after repeated failures; a soft failure (unusable response) backs off
half as fast as a hard one (4xx, DNS, TLS), and nothing waits more than a day.
"""

from __future__ import annotations

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
