"""The orchestrator: the only module that knows the order of the stages.

For each claimed feed::

    fetch feed --(not modified)--> record, done
        |
    parse (process pool) --> look up entries already stored --> link to this feed
        |
    for each new entry:  fetch page --> extract (process pool) --> assemble --> store
        |
    record the outcome and the next poll time

Fetching is concurrent (asyncio + httpx); parsing and extraction, which are
CPU-bound, run in a process pool so every core is used.  A feed that fails,
for whatever reason, is recorded as failed and never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from monitor.config import Settings
from monitor.pipeline.assemble import assemble, extract_and_assemble
from monitor.pipeline.canonical import canonicalize
from monitor.pipeline.fetch import Fetcher
from monitor.pipeline.parse import parse_feed
from monitor.pipeline.types import Fetched, ItemDraft, Outcome, ParsedEntry, ParsedFeed
from monitor.pool import make_pool, worker_count
from monitor.reports import FeedReport, RunReport
from monitor.schedule import next_poll
from monitor.storage import Store
from monitor.storage.feeds import FeedState, FetchRecord
from monitor.storage.items import EntryKey, NewItem, Stored
from monitor.watch.stage import WatchStage, feed_tags
from monitor.writer import BatchWriter

log = logging.getLogger(__name__)
T = TypeVar("T")
LEASE = timedelta(minutes=15)
_HTML_TYPES = ("text/html", "application/xhtml+xml", None)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Orchestrator:
    """Polls feeds into the store.  Reuse one instance across polls (it keeps the pool)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        pool: Executor | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._pool = pool
        self._own_pool = pool is None
        self._workers = worker_count(settings.extract.workers)
        self.watch = WatchStage(settings.watchlists)
        self._writer: BatchWriter

    @property
    def pool(self) -> Executor:
        if self._pool is None:
            self._pool = make_pool(self._workers)
        return self._pool

    def close(self) -> None:
        if self._own_pool and self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- entry points -------------------------------------------------------------

    def sync_feeds(self) -> None:
        self.store.feeds.sync(self.settings.feeds, self.clock())

    def run_once(
        self,
        names: Sequence[str] | None = None,
        due_only: bool = False,
        on_claimed: Callable[[int], None] | None = None,
        on_feed: Callable[[FeedReport], None] | None = None,
    ) -> RunReport:
        """Claim feeds (all active ones, or only due ones) and poll them once."""
        started = time.perf_counter()
        self.sync_feeds()
        feeds = self.store.feeds.claim(
            self.owner, self.clock(), LEASE, names=names, due_only=due_only
        )
        if on_claimed:
            on_claimed(len(feeds))
        try:
            reports = asyncio.run(self._poll_all(feeds, on_feed))
        finally:
            self.store.feeds.release(self.owner)
        return RunReport(reports, time.perf_counter() - started)

    # -- the pipeline -------------------------------------------------------------

    async def _poll_all(
        self, feeds: Sequence[FeedState], on_feed: Callable[[FeedReport], None] | None
    ) -> list[FeedReport]:
        extract_slots = asyncio.Semaphore(self._workers * 4)
        async with (
            Fetcher(self.settings.fetch) as fetcher,
            BatchWriter(self.store.items.add_many) as self._writer,
        ):

            async def one(feed: FeedState) -> FeedReport:
                report = await self._poll_guarded(fetcher, feed, extract_slots)
                if on_feed:
                    on_feed(report)
                return report

            return list(await asyncio.gather(*(one(f) for f in feeds)))

    async def _in_pool(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def _poll_guarded(
        self, fetcher: Fetcher, feed: FeedState, slots: asyncio.Semaphore
    ) -> FeedReport:
        started = time.perf_counter()
        report = FeedReport(feed.name)
        fetched: Fetched | None = None
        parsed: ParsedFeed | None = None
        try:
            fetched = await fetcher.fetch_feed(feed.url, feed.validators)
            report.outcome, report.status, report.error = (
                fetched.outcome,
                fetched.status,
                fetched.error,
            )
            if fetched.outcome is Outcome.OK:
                parsed = await self._in_pool(
                    parse_feed,
                    fetched.content,
                    fetched.final_url or feed.url,
                    fetched.content_type_header,
                )
                await self._ingest(fetcher, feed, parsed, report, slots)
        except Exception as exc:
            log.exception("feed %r: unexpected error while polling %s", feed.name, feed.url)
            report.outcome, report.error = Outcome.TEMPORARY, f"internal error: {exc!r}"
        report.duration = time.perf_counter() - started
        self._record(feed, fetched, parsed, report)
        return report

    def _record(
        self,
        feed: FeedState,
        fetched: Fetched | None,
        parsed: ParsedFeed | None,
        report: FeedReport,
    ) -> None:
        now = self.clock()
        failures = feed.consecutive_failures + 1 if report.failed else 0
        validators = feed.validators
        if fetched is not None and not report.failed:
            validators = fetched.validators
        self.store.feeds.record(
            feed.id,
            FetchRecord(
                outcome=report.outcome.value,
                status=report.status,
                error=report.error,
                validators=validators,
                title=parsed.title if parsed else None,
                site_url=parsed.link if parsed else None,
                new_items=report.new,
                duration=report.duration,
                failed=report.failed,
                next_fetch_at=next_poll(
                    report.outcome,
                    feed.interval_seconds,
                    failures,
                    now,
                    fetched.retry_after if fetched else None,
                ),
            ),
            now,
        )
        level = logging.WARNING if report.failed else logging.INFO
        log.log(
            level,
            "feed %r: %s%s, %d entries, %d new, %d already stored, %.2fs",
            feed.name,
            report.outcome.value,
            f" ({report.error})" if report.error else "",
            report.entries,
            report.new,
            report.seen + report.linked,
            report.duration,
        )

    async def _ingest(
        self,
        fetcher: Fetcher,
        feed: FeedState,
        parsed: ParsedFeed,
        report: FeedReport,
        slots: asyncio.Semaphore,
    ) -> None:
        report.entries = len(parsed.entries)
        if not parsed.entries:
            if parsed.problem and parsed.problem != "the feed has no entries":
                report.outcome, report.error = Outcome.SOFT, parsed.problem
            return
        if parsed.bozo:
            log.info(
                "feed %r: malformed document, read what could be read: %s", feed.name, parsed.bozo
            )
        entries = [e for e in parsed.entries if e.link]
        keys = [EntryKey(e.guid, self._canonical(e.link or "")) for e in entries]
        known = self.store.items.lookup(feed.id, keys)
        now = self.clock()
        fresh: dict[str, tuple[ParsedEntry, EntryKey, int | None]] = {}
        for entry, key, hit in zip(entries, keys, known, strict=True):
            if hit is None:
                if key.url not in fresh:
                    fresh[key.url or ""] = (entry, key, None)
            elif hit.linked and _newer(entry, hit.entry_updated):
                # The feed says the article changed since we stored it: read it again.
                fresh.setdefault(key.url or "", (entry, key, hit.item_id))
            elif hit.linked:
                report.seen += 1
            elif self.store.items.link(
                feed.id, hit.item_id, key.guid, key.url, now, entry.updated or entry.published
            ):
                report.linked += 1
                log.info("feed %r: item %d also carried here: %s", feed.name, hit.item_id, key.url)
                report.matched += self._rematch(feed, hit.item_id)
            else:
                report.seen += 1
        results = await asyncio.gather(
            *(
                self._new_entry(fetcher, feed, parsed, e, k, slots, revisit)
                for e, k, revisit in fresh.values()
            ),
            return_exceptions=True,
        )
        for (entry, _key, revisit), result in zip(fresh.values(), results, strict=True):
            if isinstance(result, BaseException):
                # A defect or a database refusal on one item must not lose the others.
                log.error(
                    "feed %r: item %s could not be stored; it will be retried next poll",
                    feed.name,
                    entry.link,
                    exc_info=result,
                )
                report.page_failures += 1
                continue
            stored, page_failed, matched = result
            report.matched += matched
            report.new += stored is not None and stored.created
            report.revised += stored is not None and stored.revised
            report.duplicates += stored is not None and stored.duplicate_of is not None
            if stored is None or not (stored.created or stored.revised):
                if revisit is not None:
                    report.seen += 1
                else:
                    report.linked += 1
            report.page_failures += page_failed

    def _canonical(self, url: str) -> str:
        return canonicalize(url, extra_tracking=self.settings.dedup.tracking_params)

    async def _new_entry(
        self,
        fetcher: Fetcher,
        feed: FeedState,
        parsed: ParsedFeed,
        entry: ParsedEntry,
        key: EntryKey,
        slots: asyncio.Semaphore,
        revisit_of: int | None = None,
    ) -> tuple[Stored | None, bool, bool]:
        """Fetch, extract, assemble, match and store one new (or revised) entry.

        Returns what became of it (None when it turned out to be linked to an
        item stored under its final URL), whether its page failed, and whether
        it matched a watchlist."""
        feed_title, now = parsed.title or feed.title, self.clock()
        skew = timedelta(seconds=self.settings.extract.future_skew)
        page: Fetched | None = None
        draft: ItemDraft | None = None
        problem: str | None = None
        if feed.full_text and entry.link:
            page = await fetcher.fetch_page(entry.link)
            if page.outcome is not Outcome.OK:
                problem = page.error
            else:
                final = self._canonical(page.final_url or entry.link)
                if final != key.url and revisit_of is None:  # redirected: to a stored article?
                    hit = self.store.items.lookup(feed.id, [EntryKey(None, final)])[0]
                    if hit is not None:
                        linked = self.store.items.link(
                            feed.id,
                            hit.item_id,
                            key.guid,
                            key.url,
                            self.clock(),
                            entry.updated or entry.published,
                        )
                        return None, False, linked and self._rematch(feed, hit.item_id)
                if page.content_type in _HTML_TYPES:
                    job = partial(
                        extract_and_assemble,
                        feed_title=feed_title,
                        feed_language=feed.language,
                        now=now,
                        future_skew=skew,
                        keep_raw=self.settings.extract.keep_raw_html,
                        extra_tracking=tuple(self.settings.dedup.tracking_params),
                    )
                    async with slots:
                        built = await self._in_pool(job, entry, page)
                    draft, problem = built, built.fetch_error
                else:
                    problem = f"not an HTML page ({page.content_type})"
            if problem:
                log.warning(
                    "feed %r: item %s: %s; keeping the feed's text", feed.name, entry.link, problem
                )
        if draft is None:
            draft = assemble(
                entry,
                page,
                None,
                feed_title=feed_title,
                feed_language=feed.language,
                full_text=feed.full_text,
                now=now,
                future_skew=skew,
                extra_tracking=self.settings.dedup.tracking_params,
            )
            if problem and not draft.fetch_error:
                draft = replace(draft, fetch_error=problem)
        matches, evaluated = self.watch.match(
            title=draft.title,
            text=draft.text,
            author=draft.author,
            feeds=(feed.name,),
            tags=feed.tags,
        )
        stored = await self._writer.add(
            NewItem(feed.id, draft, key.url, self.clock(), matches, evaluated, revisit_of)
        )
        if stored.created:
            log.info(
                "feed %r: item %d stored: %s (%d words, %s%s)",
                feed.name,
                stored.item_id,
                draft.title or draft.url,
                draft.word_count,
                draft.extraction_method,
                f", near-duplicate of item {stored.duplicate_of}" if stored.duplicate_of else "",
            )
        elif stored.revised:
            log.info(
                "feed %r: item %d revised: %s", feed.name, stored.item_id, draft.title or draft.url
            )
        if matches and (stored.created or stored.revised):
            log.info(
                "feed %r: item %d matches %s",
                feed.name,
                stored.item_id,
                ", ".join(sorted({f"{m.watchlist}: {m.matched}" for m in matches})),
            )
        page_failed = bool(feed.full_text and draft.extraction_method != "trafilatura")
        if stored.linked:  # an exact copy, or an article stored under this URL by another feed
            return stored, page_failed, self._rematch(feed, stored.item_id)
        return stored, page_failed, bool(matches) and (stored.created or stored.revised)

    def _rematch(self, feed: FeedState, item_id: int) -> bool:
        """``feed`` was just found carrying stored item ``item_id``: match the item again
        with all the feeds that carry it, when feeds can change what it matches (a
        watchlist scoped to feeds or tags, a ``feed:`` rule).  Hits found before keep
        their first ``matched_at``; True when there are new ones."""
        if not self.watch.feed_sensitive:
            return False
        item = self.store.items.get(item_id)
        if item is None:
            return False
        tags = tuple(dict.fromkeys([*item.feed_tags, *feed_tags(self.settings.feeds, item.feeds)]))
        matches, evaluated = self.watch.match(
            title=item.title, text=item.text, author=item.author, feeds=item.feeds, tags=tags
        )
        new = self.store.matches.replace(item_id, evaluated, matches, self.clock())
        if new:
            log.info(
                "feed %r: item %d, now also carried here, matches %s",
                feed.name,
                item_id,
                ", ".join(sorted({f"{m.watchlist}: {m.matched}" for m in matches})),
            )
        return new > 0


def _newer(entry: ParsedEntry, stored: datetime | None) -> bool:
    """True when the feed dates the entry later than when this feed last carried it."""
    current = entry.updated or entry.published
    return current is not None and stored is not None and current > stored
