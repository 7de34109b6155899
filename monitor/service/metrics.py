"""``/metrics``: the pipeline's counters and histograms, and gauges read at scrape time.

Counters and histograms come from :class:`Metrics`, the :class:`~monitor.events.Events`
the service installs (``service.observe``): they count what *this* worker did
since it started, as Prometheus expects (a restart resets them; ``rate()``
copes).  Gauges describe the shared state instead, every worker's: the queue
of feeds due and page retries pending, the failing feeds and the age of the
last successful poll come from the database (:mod:`monitor.storage.stats`),
read when scraped, through :class:`StatsCache`, which asks at most every few
seconds and never raises: in a database outage the gauges keep their last
values (and ``monitor_database_up`` says 0) while ``/healthz`` says why.

Every metric lives in a registry of its own, not prometheus-client's global
one, so that two services in one process (tests) do not collide.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.events import Events
from monitor.workers import worker_id

if TYPE_CHECKING:
    from monitor.pipeline.types import Fetched
    from monitor.reports import FeedReport, RunReport
    from monitor.service.core import Service
    from monitor.storage.stats import QueueStats

log = logging.getLogger(__name__)

STATS_TTL = 2.0  # seconds a scrape reuses the database's figures
PROBE_EVERY = 2.0  # seconds between two database probes of /healthz
FETCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WORK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics(Events):
    """Counts the pipeline's events into ``self.registry`` (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "monitor_polls", "Feed polls by outcome (ok, not_modified, temporary, soft, hard)",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.items_new = Counter("monitor_items_new", "Items stored for the first time", registry=r)
        self.item_copies = Counter(
            "monitor_item_copies",
            "Entries found to be copies of stored items (same URL or near-duplicate text)",
            registry=r,
        )
        self.item_revisions = Counter(
            "monitor_item_revisions", "Stored items revised by a changed entry", registry=r
        )
        self.fetches = Counter(
            "monitor_fetches", "HTTP requests by kind (feed, page) and outcome",
            ["kind", "outcome"], registry=r,
        )  # fmt: skip
        self.page_retries = Counter(
            "monitor_page_retries",
            "Article pages fetched again, by result (upgraded, rescheduled, given_up)",
            ["result"], registry=r,
        )  # fmt: skip
        self.fetch_seconds = Histogram(
            "monitor_fetch_seconds", "Time of one HTTP request, by kind (feed, page)",
            ["kind"], buckets=FETCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.extraction_seconds = Histogram(
            "monitor_extraction_seconds",
            "Time of one task in the process pool, by kind (feed: parse, page: extract), "
            "waiting for a worker included",
            ["kind"], buckets=WORK_BUCKETS, registry=r,
        )  # fmt: skip
        for kind in ("feed", "page"):  # present from the start, at zero
            self.fetch_seconds.labels(kind)
            self.extraction_seconds.labels(kind)

    # -- Events: called from the poll's event loop; quick, never raise --------------

    def fetched(self, kind: str, fetched: Fetched) -> None:
        self.fetches.labels(kind, fetched.outcome.value).inc()
        self.fetch_seconds.labels(kind).observe(max(fetched.elapsed, 0.0))

    def worked(self, kind: str, seconds: float) -> None:
        self.extraction_seconds.labels(kind).observe(max(seconds, 0.0))

    def feed_polled(self, report: FeedReport) -> None:
        self.polls.labels(report.outcome.value).inc()
        self.items_new.inc(report.new)
        self.item_copies.inc(report.duplicates)
        self.item_revisions.inc(report.revised)

    def run_done(self, report: RunReport) -> None:
        pages = report.pages
        for result, count in (
            ("upgraded", pages.upgraded),
            ("rescheduled", pages.rescheduled),
            ("given_up", pages.given_up),
        ):
            if count:
                self.page_retries.labels(result).inc(count)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


@dataclass(frozen=True, slots=True)
class DatabaseCheck:
    ok: bool
    checked_at: datetime
    error: str | None = None


class StatsCache:
    """The database's figures and a reachability probe, each asked at most every few
    seconds; neither call raises (see the module docstring)."""

    def __init__(self, service: Service, ttl: float = STATS_TTL, every: float = PROBE_EVERY):
        self._service = service
        self._ttl, self._every = ttl, every
        self._lock = threading.Lock()  # one question to the database at a time
        self._stats: QueueStats | None = None
        self._stats_at = -float("inf")
        self._check: DatabaseCheck | None = None
        self._check_at = -float("inf")

    def queues(self) -> QueueStats | None:
        """The latest figures, None until the database has answered once."""
        with self._lock:
            down = self._check is not None and not self._check.ok
            if down and time.monotonic() - self._check_at < self._every:
                return self._stats  # the probe just failed: do not wait for a timeout again
            if time.monotonic() - self._stats_at >= self._ttl:
                self._stats_at = time.monotonic()
                try:
                    self._stats = self._service.store.stats.queues(self._service.clock())
                except Exception as exc:
                    log.debug("metrics: the database's figures are unavailable: %s", exc)
            return self._stats

    def database(self) -> DatabaseCheck:
        """Whether the database answered a probe (at most :data:`PROBE_EVERY` old)."""
        with self._lock:
            if self._check is None or time.monotonic() - self._check_at >= self._every:
                previous, self._check = self._check, self._probe()
                self._check_at = time.monotonic()
                if not self._check.ok and (previous is None or previous.ok):
                    log.warning("health: database unreachable: %s", self._check.error)
                elif self._check.ok and previous is not None and not previous.ok:
                    log.info("health: database reachable again")
            return self._check

    def _probe(self) -> DatabaseCheck:
        now = self._service.clock()
        try:
            self._service.store.stats.ping()
        except Exception as exc:
            return DatabaseCheck(False, now, _one_line(exc))
        return DatabaseCheck(True, now)


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


class ServiceCollector(Collector):
    """The gauges of a scrape: the database's figures and the service's own state."""

    def __init__(self, service: Service, stats: StatsCache, clock: Callable[[], float]) -> None:
        self._service = service
        self._stats = stats
        self._clock = clock  # wall-clock seconds (time.time), for ages

    def collect(self) -> Iterable[Metric]:
        service, health = self._service, self._service.health
        info = InfoMetricFamily("monitor_build", "This worker: monitor's version and its id")
        info.add_metric([], {"version": __version__, "worker": worker_id()})
        yield info
        yield CounterMetricFamily(
            "monitor_ticks", "Poll ticks run since the service started", value=health.ticks
        )
        database = self._stats.database()
        yield _gauge(
            "monitor_database_up", "1 when the database answered the last probe", database.ok
        )
        yield CounterMetricFamily(
            "monitor_pool_rebuilds",
            "Times the process pool was rebuilt after a worker died",
            value=service.pool.rebuilds,
        )
        yield _gauge(
            "monitor_pool_quarantined", "Inputs quarantined for killing a pool worker twice",
            len(service.pool.quarantined),
        )  # fmt: skip
        if health.last_tick_at is not None:
            yield _gauge(
                "monitor_last_tick_age_seconds", "Seconds since this worker's last poll tick",
                self._clock() - health.last_tick_at.timestamp(),
            )  # fmt: skip
        stats = self._stats.queues()
        last = latest(health.last_successful_poll_at, stats.last_success_at if stats else None)
        if last is not None:
            yield _gauge(
                "monitor_last_successful_poll_age_seconds",
                "Seconds since the last successful feed poll (any worker's)",
                max(self._clock() - last.timestamp(), 0.0),
            )
        if stats is None:
            return
        depth = GaugeMetricFamily(
            "monitor_queue_depth",
            "Work waiting: feeds due now and not leased; article pages waiting to be fetched again",
            labels=["queue"],
        )
        depth.add_metric(["feeds"], stats.feeds_due)
        depth.add_metric(["page_retries"], stats.page_retries_pending)
        yield depth
        yield _gauge(
            "monitor_page_retries_due",
            "Page retries due now and not leased",
            stats.page_retries_due,
        )
        yield _gauge(
            "monitor_feeds_active", "Feeds polled (active, not disabled)", stats.feeds_active
        )
        yield _gauge(
            "monitor_feeds_leased", "Feeds being polled by a worker now", stats.feeds_leased
        )
        yield _gauge(
            "monitor_feeds_failing", "Active feeds whose last poll failed", stats.feeds_failing
        )
        yield _gauge(
            "monitor_feeds_disabled", "Feeds disabled (a 410, or by hand)", stats.feeds_disabled
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def latest(*moments: datetime | None) -> datetime | None:
    """The latest of the moments that are known, None if none is."""
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def service_metrics(service: Service) -> tuple[Metrics, StatsCache]:
    """The metrics of ``service``: its event counters and its scrape-time gauges."""
    metrics = Metrics()
    stats = StatsCache(service)
    metrics.registry.register(ServiceCollector(service, stats, time.time))
    return metrics, stats
