"""Pages fetched again: items stored with their feed's text while their page was down.

An article page that fails temporarily (a timeout, 429, 5xx) does not leave
its item with the feed's summary for good.  The item is stored at once with
the feed's text and a ``page_retries`` row, in the same transaction; this
phase, run after each poll, fetches the pages whose time has come (backing
off from 2 minutes to 6 hours, never before the host's ``Retry-After``),
and when a page arrives upgrades the item: page text and metadata with their
field sources, the kept page, near-duplicate placement, and the watchlists
evaluated again.  After ``fetch.page_retry_for`` it gives up and writes the
reason to the item's ``fetch_error``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from monitor.config import Settings
from monitor.pipeline.fetch import Fetcher
from monitor.pipeline.types import ItemDraft, Outcome
from monitor.pool import Quarantined, WorkerPool
from monitor.reports import PageReport
from monitor.schedule import next_page_attempt
from monitor.stopping import Stopped, StopSignal
from monitor.storage import Store, is_transient
from monitor.storage.entries import DueRetry
from monitor.watch.stage import WatchStage, feed_tags

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=15)
HTML_TYPES = ("text/html", "application/xhtml+xml", None)


class PageRetries:
    """The page-retry phase of a poll (see the module's docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        watch: WatchStage,
        *,
        owner: str,
        clock: Callable[[], datetime],
        pool: Callable[[], WorkerPool],
        stop: StopSignal,
    ) -> None:
        self.settings = settings
        self.store = store
        self.watch = watch
        self.owner = owner
        self.clock = clock
        self._pool = pool
        self._stop = stop

    async def run(
        self, fetcher: Fetcher, slots: asyncio.Semaphore, feed_ids: Sequence[int] | None
    ) -> PageReport:
        """Fetch again the pages that failed temporarily and whose time has come; upgrade
        their items with the page's text and metadata."""
        report = PageReport()
        if self._stop.stopping:
            return report
        try:
            due = self.store.entries.claim_retries(
                self.owner, self.clock(), LEASE, feed_ids=feed_ids
            )
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.error("page retries skipped, database unreachable: %s", exc)
            return report
        results = await asyncio.gather(
            *(self._stop.guard(self._retry_page(fetcher, slots, r, report)) for r in due),
            return_exceptions=True,
        )
        for retry, result in zip(due, results, strict=True):
            if isinstance(result, Stopped):
                continue
            if isinstance(result, BaseException):
                log.error(
                    "page %s (item %d): retry failed", retry.url, retry.item_id, exc_info=result
                )
        return report

    async def _retry_page(
        self, fetcher: Fetcher, slots: asyncio.Semaphore, retry: DueRetry, report: PageReport
    ) -> None:
        item = self.store.items.get(retry.item_id)
        if item is None:
            return
        report.tried += 1
        now = self.clock()
        host = urlsplit(retry.feed_url).hostname if retry.allow_private else None
        problem: str | None
        async with slots:
            page = await fetcher.fetch_page(retry.url, allow_host=host)
            draft: ItemDraft | None = None
            if page.outcome is Outcome.OK and page.content_type in HTML_TYPES:
                from monitor.pipeline.assemble import extraction_job  # trafilatura, when due

                entry = item.as_entry(retry.url)
                job = extraction_job(
                    self.settings,
                    feed_title=retry.feed_title,
                    feed_language=retry.feed_language,
                    now=now,
                )
                try:
                    draft = await self._pool().run(retry.url, job, entry, page, kind="page")
                    problem = draft.fetch_error
                except Quarantined as exc:
                    problem = str(exc)
            elif page.outcome is Outcome.OK:
                problem = f"not an HTML page ({page.content_type})"
            else:
                problem = page.error or page.outcome.value
        if draft is not None and draft.extraction_method == "trafilatura":
            tags = feed_tags(self.settings.feeds, item.feeds)
            matches, evaluated = self.watch.match(
                title=draft.title, text=draft.text, author=draft.author, feeds=item.feeds, tags=tags
            )
            await asyncio.to_thread(
                self.store.items.upgrade_page, retry.item_id, draft, evaluated, matches, now
            )
            report.upgraded += 1
            log.info(
                "item %d: its page arrived on attempt %d, text and metadata taken from it: %s",
                retry.item_id,
                retry.attempts + 1,
                retry.url,
            )
            return
        spent = now - retry.first_failed_at
        limit = timedelta(seconds=self.settings.fetch.page_retry_for)
        if page.outcome is Outcome.TEMPORARY and spent < limit:
            when = next_page_attempt(retry.attempts + 1, now, page.retry_after)
            self.store.entries.reschedule(retry.item_id, problem or "temporary failure", when)
            report.rescheduled += 1
            log.info(
                "item %d: page still unavailable (%s); next try %s", retry.item_id, problem, when
            )
            return
        reason = (
            f"the page never arrived: {retry.attempts + 1} attempts over {_span(spent)}, "
            f"last: {problem}"
            if page.outcome is Outcome.TEMPORARY
            else f"the page could not be used: {problem}"
        )
        self.store.entries.give_up(retry.item_id, reason)
        report.given_up += 1
        log.warning("item %d: %s; it keeps the feed's text (%s)", retry.item_id, reason, retry.url)


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} min"
