"""The orchestrator: the only module that knows the order of the stages.

For each claimed feed::

    fetch feed --(not modified)--> record, done
        |
    parse (process pool) --> look up entries already stored --> link to this feed
        |
    identify entries (pure) --> for each new entry, newest first, within the poll's budget:
        fetch page --> extract (process pool) --> assemble --> match --> store
        |
    record the outcome and the next poll time

    then: pages that failed temporarily before, whose time has come, are fetched
    again and their items upgraded

Fetching is concurrent (asyncio + httpx); parsing and extraction, which are
CPU-bound, run in a process pool so every core is used.  A feed that fails,
for whatever reason, is recorded as failed and never stops the others.

**Nothing lost.**  A feed document counts as done only when every new entry in
it is stored, or recorded as not stored with the reason; otherwise its ETag
and body hash are not saved, so the next poll reads it again (and finds the
stored entries already there).  A stop request (SIGTERM) lets the work in
flight finish for :data:`STOP_GRACE` seconds and leaves the rest for later.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from monitor.config import Settings
from monitor.events import NO_EVENTS, Events
from monitor.page_retries import HTML_TYPES, PageRetries
from monitor.pipeline.canonical import canonicalize
from monitor.pipeline.fetch import Fetcher
from monitor.pipeline.hosts import HostPauses
from monitor.pipeline.identity import Identified, identify
from monitor.pipeline.types import Fetched, ItemDraft, Outcome, ParsedEntry, ParsedFeed
from monitor.pool import Quarantined, WorkerPool, WorkerStartupError, worker_count
from monitor.reports import FeedReport, PageReport, RunReport
from monitor.schedule import Bounds, next_page_attempt, plan, starting
from monitor.stopping import Stopped, StopSignal
from monitor.storage import Store, is_transient
from monitor.storage.entries import RetryPlan
from monitor.storage.feeds import FeedState, FetchRecord
from monitor.storage.items import EntryKey, NewItem, Stored
from monitor.watch.stage import WatchStage, feed_tags
from monitor.workers import lease_holder_gone, worker_id
from monitor.writer import BatchWriter

log = logging.getLogger(__name__)
T = TypeVar("T")
LEASE = timedelta(minutes=15)
BACKLOG_POLL = 120  # seconds: a feed left with unworked entries is polled again this soon


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
        pool: WorkerPool | None = None,
        stop: StopSignal | None = None,
        events: Events = NO_EVENTS,
    ) -> None:
        self.settings = settings
        self.events = events
        self.store = store
        self.clock = clock
        self.owner = worker_id()
        self._workers = worker_count(settings.extract.workers)
        self._pool = pool
        self._own_pool = pool is None
        self.watch = WatchStage(settings.watchlists)
        self._writer: BatchWriter[NewItem, Stored]
        self._recorder: BatchWriter[tuple[int, FetchRecord, datetime], str | None]
        self.stop = stop or StopSignal()
        self._synced = False  # feeds synced (or refused as older) once: not on every tick
        self._page_slots = asyncio.Semaphore(1)
        self._pauses = HostPauses()  # hosts' Retry-After, from one poll to the next
        self._retries = PageRetries(
            settings,
            store,
            self.watch,
            owner=self.owner,
            clock=clock,
            pool=lambda: self.pool,
            stop=self.stop,
        )

    @property
    def pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(self._workers)
        return self._pool

    def close(self) -> None:
        if self._own_pool and self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- entry points -------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop soon: start no new work, let the work in flight finish for
        :data:`~monitor.stopping.STOP_GRACE` seconds, leave the rest for the next poll.
        Safe to call from a signal handler or another thread."""
        self.stop.request()

    @property
    def stop_requested(self) -> bool:
        return self.stop.requested

    def sync_feeds(self) -> bool:
        """Sync the configured feeds into the database, unless it follows a newer
        feeds.yaml (then warn once and poll what it lists); True when synced."""
        result = self.store.config_version.sync_feeds(self.settings, self.owner, self.clock)
        self._synced = True
        return result.synced

    def run_once(
        self,
        names: Sequence[str] | None = None,
        due_only: bool = False,
        on_claimed: Callable[[int], None] | None = None,
        on_feed: Callable[[FeedReport], None] | None = None,
        *,
        handle_signals: bool = False,
    ) -> RunReport:
        """Claim feeds (all active ones, or only due ones) and poll them once; then fetch
        again the pages whose retry time has come.  ``handle_signals`` makes SIGTERM and
        SIGINT request a stop (when called from the main thread)."""
        started = time.perf_counter()
        if self.stop_requested:
            return RunReport([], 0.0, stopped=True)
        if not self._synced:  # the service syncs at start and on reload only
            self.sync_feeds()
        feeds = self.store.feeds.claim(
            self.owner,
            self.clock(),
            LEASE,
            names=names,
            due_only=due_only,
            is_dead=lease_holder_gone(self.store, self.clock()),
            reclaim_own=True,
        )
        if on_claimed:
            on_claimed(len(feeds))
        feed_ids = [f.id for f in feeds] if names else None
        try:
            reports, pages = asyncio.run(self._poll_all(feeds, on_feed, feed_ids, handle_signals))
        finally:
            self._release()
        run = RunReport(reports, time.perf_counter() - started, pages, self.stop_requested)
        self.events.run_done(run)
        return run

    def _release(self) -> None:
        try:
            self.store.feeds.release(self.owner)
            self.store.entries.release_retries(self.owner)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.error("could not release this worker's leases (%s); they expire by themselves", exc)

    # -- the pipeline -------------------------------------------------------------

    async def _poll_all(
        self,
        feeds: Sequence[FeedState],
        on_feed: Callable[[FeedReport], None] | None,
        retry_feed_ids: Sequence[int] | None,
        signals: bool,
    ) -> tuple[list[FeedReport], PageReport]:
        # Pages held in memory (fetched, waiting for or in extraction) are bounded.
        self._page_slots = asyncio.Semaphore(self._workers * 4)
        async with (
            self.stop.attached(signals),
            Fetcher(self.settings.fetch, events=self.events, pauses=self._pauses) as fetcher,
            BatchWriter(self.store.items.add_many) as self._writer,
            # the end of each feed's poll, a few hundred feeds to a transaction
            BatchWriter(self.store.feeds.record_many, max_batch=250, linger=0.02) as self._recorder,
        ):

            async def one(feed: FeedState) -> FeedReport:
                report = await self._poll_guarded(fetcher, feed)
                self.events.feed_polled(report)
                if on_feed:
                    on_feed(report)
                return report

            reports = list(await asyncio.gather(*(one(f) for f in feeds)))
            pages = await self._retries.run(fetcher, self._page_slots, retry_feed_ids)
            return reports, pages

    async def _in_pool(self, kind: str, key: str, fn: Callable[..., T], *args: object) -> T:
        started = time.perf_counter()
        try:
            return await self.pool.run(key, fn, *args, kind=kind)
        finally:
            self.events.worked(kind, time.perf_counter() - started)

    async def _poll_guarded(self, fetcher: Fetcher, feed: FeedState) -> FeedReport:
        started = time.perf_counter()
        report = FeedReport(feed.name)
        fetched: Fetched | None = None
        parsed: ParsedFeed | None = None
        if self.stop.stopping:
            report.outcome, report.error = Outcome.TEMPORARY, "not polled: stopping"
            report.deferred = 1
            return report
        try:
            fetched = await self.stop.guard(
                fetcher.fetch_feed(feed.url, feed.validators, allow_host=_allowed(feed))
            )
            report.outcome, report.status, report.error = (
                fetched.outcome,
                fetched.status,
                fetched.error,
            )
            if fetched.outcome is Outcome.OK:
                from monitor.pipeline.parse import parse_feed  # not when every feed says 304

                parsed = await self.stop.guard(
                    self._in_pool(
                        "feed",
                        feed.url,
                        parse_feed,
                        fetched.content,
                        fetched.final_url or feed.url,
                        fetched.content_type_header,
                    )
                )
                await self._ingest(fetcher, feed, parsed, report)
        except Stopped as stop:
            report.outcome, report.error, report.deferred = Outcome.TEMPORARY, str(stop), 1
        except Quarantined as exc:
            report.outcome, report.error = Outcome.SOFT, str(exc)
        except WorkerStartupError as exc:
            log.error("feed %r: %s", feed.name, exc)
            report.outcome, report.error = Outcome.TEMPORARY, str(exc)
            report.deferred = max(report.deferred, 1)
        except Exception as exc:
            if is_transient(exc):
                log.error("feed %r: database unreachable while polling: %s", feed.name, exc)
                report.outcome, report.error = Outcome.TEMPORARY, f"database unreachable: {exc}"
                report.deferred = max(report.deferred, 1)
            else:
                log.exception("feed %r: unexpected error while polling %s", feed.name, feed.url)
                report.outcome, report.error = Outcome.TEMPORARY, f"internal error: {exc!r}"
        report.duration = time.perf_counter() - started
        await self._record(feed, fetched, parsed, report)
        return report

    async def _record(
        self,
        feed: FeedState,
        fetched: Fetched | None,
        parsed: ParsedFeed | None,
        report: FeedReport,
    ) -> None:
        now = self.clock()
        failures = feed.consecutive_failures + 1 if report.failed else 0
        validators = feed.validators
        if fetched is not None and not report.failed and report.complete:
            validators = fetched.validators
        schedule = self.settings.schedule
        next_plan = plan(
            feed.cadence or starting(feed.interval_seconds),
            outcome=report.outcome,
            failures=failures,
            new=report.new + report.linked,
            complete=report.complete,
            now=now,
            bounds=Bounds.of(
                feed.interval_seconds,
                feed.min_interval or schedule.min_interval,
                feed.max_interval or schedule.max_interval,
            ),
            adaptive=schedule.adaptive,
            retry_after=fetched.retry_after if fetched else None,
            jitter=schedule.jitter,
            spread=random.uniform(-1.0, 1.0),
        )
        when = next_plan.next_at
        if not report.complete:  # read the document again soon, for what was left
            soon = now if self.stop.stopping else now + timedelta(seconds=BACKLOG_POLL)
            when = min(when, soon)
        moved_to, gone, note = self._moved_or_gone(feed, fetched, report)
        record = FetchRecord(
            outcome=report.outcome.value,
            status=report.status,
            error=report.error,
            validators=validators,
            title=parsed.title if parsed else None,
            site_url=parsed.link if parsed else None,
            new_items=report.new,
            duration=report.duration,
            failed=report.failed,
            next_fetch_at=when,
            entries=report.entries,
            url=feed.url,
            cadence=next_plan.cadence,
            moved_to=moved_to,
            gone=gone,
            note=note,
            history=self.settings.housekeeping.history,
        )
        try:
            refused = await self._recorder.add((feed.id, record, now))
            if refused:
                log.warning("feed %r: %s", feed.name, refused)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.error(
                "feed %r: its poll could not be recorded (database unreachable: %s); "
                "it will be polled again",
                feed.name,
                exc,
            )
        level = logging.WARNING if report.failed or not report.complete else logging.INFO
        log.log(
            level,
            "feed %r: %s%s, %d entries, %d new, %d already stored, %d rejected, %d left for "
            "later, %d pages to fetch again, %.2fs",
            feed.name,
            report.outcome.value,
            f" ({report.error})" if report.error else "",
            report.entries,
            report.new,
            report.seen + report.linked,
            report.rejected,
            report.deferred,
            report.pages_pending,
            report.duration,
        )

    def _moved_or_gone(
        self, feed: FeedState, fetched: Fetched | None, report: FeedReport
    ) -> tuple[str | None, str | None, str | None]:
        """A 301/308 to a URL that answered: the feed's new URL.  A 410: the reason the
        feed is disabled.  Each logged as a WARNING saying what to change in the config;
        returned with the note for the fetch history."""
        if fetched is None:
            return None, None, None
        if fetched.status == 410:
            gone = (
                f"410 Gone from {fetched.final_url or feed.url} on "
                f"{self.clock():%Y-%m-%d %H:%M} UTC: not polled any more"
            )
            log.warning(
                "feed %r: %s %s; give it a new URL in the config, remove it, or run "
                "`monitor feeds enable %s` to poll it again",
                feed.name,
                feed.url,
                gone,
                feed.name,
            )
            moved = fetched.moved_to if fetched.moved_to != feed.url else None
            after = f" (after a move to {moved})" if moved else ""
            return None, gone, f"disabled: {gone}{after}"
        if fetched.moved_to and fetched.moved_to != feed.url and not report.failed:
            log.warning(
                "feed %r: %s has moved permanently (HTTP 301/308) to %s; polling the new "
                "URL from now on. Change its url in the config to %s",
                feed.name,
                feed.url,
                fetched.moved_to,
                fetched.moved_to,
            )
            note = f"moved permanently from {feed.url} to {fetched.moved_to}"
            return fetched.moved_to, None, note
        return None, None, None

    async def _ingest(
        self,
        fetcher: Fetcher,
        feed: FeedState,
        parsed: ParsedFeed,
        report: FeedReport,
    ) -> None:
        """Every entry of the document: known ones counted or linked, new ones worked
        (newest first, within the poll's budgets), the rest left for the next poll."""
        report.entries = len(parsed.entries)
        if not parsed.entries:
            if parsed.problem and parsed.problem != "the feed has no entries":
                report.outcome, report.error = Outcome.SOFT, parsed.problem
            return
        if parsed.bozo:
            log.info(
                "feed %r: malformed document, read what could be read: %s", feed.name, parsed.bozo
            )
        now = self.clock()
        fresh = self._new_entries(feed, parsed, report, now)
        total_new, budget = len(fresh), self.settings.fetch.max_entries_per_poll
        if total_new > budget:
            log.warning(
                "feed %r: %d new entries; the newest %d now, the rest at the next polls",
                feed.name,
                total_new,
                budget,
            )
            report.deferred += total_new - budget
            fresh = fresh[:budget]
        tasks = [
            asyncio.create_task(self.stop.guard(self._new_entry(fetcher, feed, parsed, i, k, r)))
            for i, k, r in fresh
        ]
        if tasks:
            await self._within_budget(feed, tasks)
            self._tally(feed, fresh, tasks, report, now)
        if report.deferred and not report.error:
            report.error = f"{report.deferred} of {total_new} new entries left for the next poll"

    def _new_entries(
        self, feed: FeedState, parsed: ParsedFeed, report: FeedReport, now: datetime
    ) -> list[tuple[Identified, EntryKey, int | None]]:
        """The entries to work, newest first, with the stored item each revises (if any).
        Entries already stored are counted; those stored for another feed are linked."""
        entries = identify(parsed.entries, feed.id, self._canonical)
        self._reject(feed, [e for e in entries if e.rejected], report, now)
        entries = [e for e in entries if not e.rejected]
        keys = [EntryKey(e.guid, e.url, e.entry.title, e.key) for e in entries]
        known = self.store.items.lookup(feed.id, keys, now)
        unknown = [k.entry_key for k, hit in zip(keys, known, strict=True) if hit is None]
        given_up = self.store.entries.permanently_rejected(feed.id, unknown)
        fresh: list[tuple[Identified, EntryKey, int | None]] = []
        for ident, key, hit in zip(entries, keys, known, strict=True):
            entry = ident.entry
            if hit is None:
                if key.entry_key in given_up:
                    report.rejected += 1
                else:
                    fresh.append((ident, key, None))
            elif hit.linked and _newer(entry, hit.entry_updated):
                # The feed says the article changed since we stored it: read it again.
                fresh.append((ident, key, hit.item_id))
            elif hit.linked:
                report.seen += 1
            elif self._link_entry(feed, hit.item_id, entry, key, now):
                report.linked += 1
                log.info("feed %r: item %d also carried here: %s", feed.name, hit.item_id, key.url)
                report.matched += self._rematch(feed, hit.item_id)
            else:
                report.seen += 1
        return fresh

    async def _within_budget(self, feed: FeedState, tasks: Sequence[asyncio.Task[T]]) -> None:
        """Wait for the entries' work, at most ``fetch.feed_budget``; cancel what is left.
        The budget is for working entries: reading a huge document does not use it up,
        or a feed of 50,000 entries would never get to its first page."""
        _done, late = await asyncio.wait(tasks, timeout=self.settings.fetch.feed_budget)
        if not late:
            return
        log.warning(
            "feed %r: the poll's time budget (fetch.feed_budget, %ds) ran out with %d "
            "entries unfinished; they are left for the next poll",
            feed.name,
            self.settings.fetch.feed_budget,
            len(late),
        )
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _tally(
        self,
        feed: FeedState,
        fresh: Sequence[tuple[Identified, EntryKey, int | None]],
        tasks: Sequence[asyncio.Task[tuple[Stored | None, bool, bool, bool]]],
        report: FeedReport,
        now: datetime,
    ) -> None:
        """What became of each worked entry, into the report; failures recorded."""
        stored_keys: list[str] = []
        for (ident, key, revisit), task in zip(fresh, tasks, strict=True):
            error = None if task.cancelled() else task.exception()
            if task.cancelled() or isinstance(error, Stopped):
                report.deferred += 1
                continue
            if error is not None:
                self._entry_failed(feed, ident, key, error, report, now)
                continue
            stored, page_failed, pending, matched = task.result()
            stored_keys.append(key.entry_key)
            report.matched += matched
            report.new += stored is not None and stored.created
            report.revised += stored is not None and stored.revised
            report.duplicates += stored is not None and stored.duplicate_of is not None
            report.pages_pending += pending
            if stored is None or not (stored.created or stored.revised):
                if revisit is not None:
                    report.seen += 1
                else:
                    report.linked += 1
            report.page_failures += page_failed
        if stored_keys:  # entries that failed before and are stored now
            self.store.entries.forget_rejections(feed.id, stored_keys)

    def _reject(
        self, feed: FeedState, entries: Sequence[Identified], report: FeedReport, now: datetime
    ) -> None:
        """Entries that can never be stored: recorded once with the reason, then counted."""
        if not entries:
            return
        known = self.store.entries.permanently_rejected(feed.id, [e.key for e in entries])
        budget = self.settings.fetch.max_entries_per_poll
        for ident in entries:
            if ident.key in known:
                report.rejected += 1
                continue
            if budget <= 0:  # a document of thousands of bad entries is recorded in turns
                report.deferred += 1
                continue
            budget -= 1
            report.rejected += 1
            log.warning(
                "feed %r: entry %s not stored: %s",
                feed.name,
                ident.entry.link or ident.entry.guid or ident.entry.title,
                ident.rejected,
            )
            self.store.entries.reject(
                feed.id,
                ident.key,
                ident.entry.guid,
                ident.entry.link,
                ident.entry.title,
                ident.rejected or "rejected",
                now,
                permanent=True,
            )

    def _entry_failed(
        self,
        feed: FeedState,
        ident: Identified,
        key: EntryKey,
        error: BaseException,
        report: FeedReport,
        now: datetime,
    ) -> None:
        """An entry could not be stored.  A database outage leaves it for the next poll;
        another error is recorded with its reason, and after a few tries for good."""
        link = ident.entry.link
        if is_transient(error):
            log.error(
                "feed %r: item %s not stored, database unreachable: %s", feed.name, link, error
            )
            report.deferred += 1
            return
        if isinstance(error, WorkerStartupError):  # the machine's fault, not the entry's
            log.error("feed %r: item %s left for the next poll: %s", feed.name, link, error)
            report.deferred += 1
            return
        log.error("feed %r: item %s could not be stored", feed.name, link, exc_info=error)
        reason = f"internal error: {type(error).__name__}: {error}"
        try:
            permanent = self.store.entries.reject(
                feed.id,
                key.entry_key,
                ident.entry.guid,
                link,
                ident.entry.title,
                reason,
                now,
                permanent=False,
            )
        except Exception as exc:
            if not is_transient(exc):
                raise
            permanent = False
        if permanent:
            report.rejected += 1
        else:
            report.deferred += 1

    def _canonical(self, url: str) -> str:
        return canonicalize(url, extra_tracking=self.settings.dedup.tracking_params)

    async def _new_entry(
        self,
        fetcher: Fetcher,
        feed: FeedState,
        parsed: ParsedFeed,
        ident: Identified,
        key: EntryKey,
        revisit_of: int | None = None,
    ) -> tuple[Stored | None, bool, bool, bool]:
        """Fetch, extract, assemble, match and store one new (or revised) entry.

        Returns what became of it (None when it turned out to be linked to an
        item stored under its final URL), whether its page failed, whether the
        page is to be fetched again later, and whether it matched a watchlist."""
        if self.stop.stopping:
            raise Stopped("stopping: left for the next poll")
        entry = ident.entry
        feed_title, now = parsed.title or feed.title, self.clock()
        page: Fetched | None = None
        draft: ItemDraft | None = None
        problem: str | None = None
        retry: RetryPlan | None = None
        if feed.full_text and ident.fetch_page and entry.link:
            async with self._page_slots:  # taken before fetching: pages held are bounded
                page = await fetcher.fetch_page(entry.link, allow_host=_allowed(feed))
                if page.outcome is not Outcome.OK:
                    problem = page.error
                    if page.outcome is Outcome.TEMPORARY:
                        retry = RetryPlan(
                            entry.link,
                            page.error or "temporary failure",
                            next_page_attempt(1, now, page.retry_after),
                        )
                else:
                    final = self._canonical(page.final_url or entry.link)
                    if final != key.url and revisit_of is None:  # redirected: to a stored one?
                        hit = self.store.items.lookup(feed.id, [EntryKey(None, final)])[0]
                        if hit is not None:
                            linked = self._link_entry(feed, hit.item_id, entry, key, self.clock())
                            return None, False, False, linked and self._rematch(feed, hit.item_id)
                    if page.content_type in HTML_TYPES:
                        from monitor.pipeline.assemble import extraction_job

                        try:
                            job = extraction_job(
                                self.settings,
                                feed_title=feed_title,
                                feed_language=feed.language,
                                now=self.clock(),
                            )
                            built = await self._in_pool("page", entry.link, job, entry, page)
                        except Quarantined as exc:
                            problem = str(exc)
                        else:
                            draft, problem = built, built.fetch_error
                    else:
                        problem = f"not an HTML page ({page.content_type})"
            if problem:
                log.warning(
                    "feed %r: item %s: %s; keeping the feed's text%s",
                    feed.name,
                    entry.link,
                    problem,
                    " for now, the page will be fetched again" if retry else "",
                )
        if retry is not None and revisit_of is not None:
            # A revision whose page is not there yet: read the entry again next poll.
            raise Stopped(f"the revised page is unavailable ({problem}); left for the next poll")
        if draft is None:
            draft = self._feed_draft(feed, entry, page, feed_title, now, fetch=ident.fetch_page)
            if problem and not draft.fetch_error:
                draft = replace(draft, fetch_error=problem)
        if not ident.fetch_page and ident.url:
            # anchored or link-less entries are known by their identity, not by a page
            draft = replace(draft, canonical_url=ident.url, url=entry.link or ident.url)
        matches, evaluated = self.watch.match(
            title=draft.title,
            text=draft.text,
            author=draft.author,
            feeds=(feed.name,),
            tags=feed.tags,
        )
        stored = await self._writer.add(
            NewItem(
                feed.id,
                draft,
                key.url,
                self.clock(),
                matches,
                evaluated,
                revisit_of,
                entry_title=entry.title,
                entry_key=key.entry_key,
                retry=retry,
            )
        )
        self._log_stored(feed, draft, stored, matches)
        page_failed = bool(
            feed.full_text and ident.fetch_page and draft.extraction_method != "trafilatura"
        )
        pending = retry is not None and stored.created
        if stored.linked:  # an exact copy, or an article stored under this URL by another feed
            return stored, page_failed, pending, self._rematch(feed, stored.item_id)
        return stored, page_failed, pending, bool(matches) and (stored.created or stored.revised)

    def _feed_draft(
        self,
        feed: FeedState,
        entry: ParsedEntry,
        page: Fetched | None,
        feed_title: str | None,
        now: datetime,
        *,
        fetch: bool,
    ) -> ItemDraft:
        from monitor.pipeline.assemble import assemble  # trafilatura: only with new entries

        return assemble(
            entry,
            page,
            None,
            feed_title=feed_title,
            feed_language=feed.language,
            full_text=feed.full_text and fetch,
            now=now,
            future_skew=timedelta(seconds=self.settings.extract.future_skew),
            extra_tracking=self.settings.dedup.tracking_params,
        )

    def _log_stored(
        self, feed: FeedState, draft: ItemDraft, stored: Stored, matches: Sequence[object]
    ) -> None:
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
                ", ".join(sorted({f"{m.watchlist}: {m.matched}" for m in matches})),  # type: ignore[attr-defined]
            )

    # -- pages fetched again ------------------------------------------------------

    def _link_entry(
        self, feed: FeedState, item_id: int, entry: ParsedEntry, key: EntryKey, now: datetime
    ) -> bool:
        """Record ``entry`` as this feed's entry of stored item ``item_id``; False if known."""
        return self.store.items.link(
            feed.id,
            item_id,
            entry.guid,
            key.url,
            now,
            entry.updated or entry.published,
            entry.title,
            key.entry_key,
        )

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


def _allowed(feed: FeedState) -> str | None:
    """The one private-network host a feed may reach: its own, when it opted in."""
    return urlsplit(feed.url).hostname if feed.allow_private else None
