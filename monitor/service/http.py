"""The service's HTTP endpoint: ``/healthz`` and ``/metrics``, later the web console.

A Starlette app (:func:`build_app`) served by uvicorn in a daemon thread of
the ``monitor run`` process, on ``service.http.bind``:``service.http.port``
(127.0.0.1:8425 by default: nothing on the network sees it unless the
operator says so).  The socket is bound in the main thread before the
scheduler starts, so a port already in use stops the service at once with
exit status 2 and a message naming the address and the config key, instead
of a service that runs without the endpoint its monitoring expects.

A later component (the web console) mounts into the same app through
``extra_routes``; the endpoint's handlers are plain functions, run by
Starlette in its thread pool, because they read the database (briefly, with
short timeouts: :mod:`monitor.storage.stats`).

``/healthz`` answers 200 ``{"status": "ok", ...}`` or 503 ``{"status":
"degraded", "reasons": [...]}``; each reason is a fixed phrase (``database
unreachable``, ``no successful poll``, ``pool broken``) with the particulars
in ``details``, so that alerting rules can match on it.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor import __version__
from monitor.config import HttpSettings, Settings
from monitor.service.metrics import Metrics, StatsCache, latest, service_metrics
from monitor.service.serving import listen, serve_in_thread
from monitor.workers import worker_id

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from monitor.service.core import Service

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0
DATABASE_UNREACHABLE = "database unreachable"
NO_SUCCESSFUL_POLL = "no successful poll"
POOL_BROKEN = "pool broken"
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def health(service: Service, stats: StatsCache) -> tuple[bool, dict[str, Any]]:
    """Whether ``service`` is healthy, and what ``/healthz`` shows of it."""
    now = service.clock()
    facts = service.health
    reasons: list[str] = []
    details: dict[str, str] = {}
    database = stats.database()
    if not database.ok:
        reasons.append(DATABASE_UNREACHABLE)
        details[DATABASE_UNREACHABLE] = database.error or "the probe failed"
    queues = stats.queues()
    active = queues.feeds_active if queues is not None else len(service.settings.feeds)
    last_success = latest(
        facts.last_successful_poll_at, queues.last_success_at if queues is not None else None
    )
    stale_after = service.settings.service.stale_after
    up_for = (now - facts.started_at).total_seconds()
    if active and up_for > stale_after:
        age = (now - last_success).total_seconds() if last_success is not None else None
        if age is None or age > stale_after:
            reasons.append(NO_SUCCESSFUL_POLL)
            since = "since the service started" if age is None else f"for {age:.0f}s"
            details[NO_SUCCESSFUL_POLL] = (
                f"no feed was polled successfully {since} (service.stale_after: {stale_after}s)"
            )
    pool = service.pool
    if pool.startup_failure is not None:
        reasons.append(POOL_BROKEN)
        details[POOL_BROKEN] = f"the worker processes die as they start: {pool.startup_failure}"
    elif pool.closed and not service.stop.requested:
        reasons.append(POOL_BROKEN)
        details[POOL_BROKEN] = "the process pool is closed while the service runs"
    body: dict[str, Any] = {
        "status": "degraded" if reasons else "ok",
        "reasons": reasons,
        "details": details,
        "worker": worker_id(),
        "version": __version__,
        "started_at": _iso(facts.started_at),
        "uptime_seconds": round(up_for, 1),
        "ticks": facts.ticks,
        "last_tick_at": _iso(facts.last_tick_at),
        "last_tick_seconds": facts.last_tick_seconds,
        "last_successful_poll_at": _iso(last_success),
        "database": {
            "ok": database.ok,
            "checked_at": _iso(database.checked_at),
            "error": database.error,
        },
        "pool": {"rebuilds": pool.rebuilds, "quarantined": len(pool.quarantined)},
        "feeds": None
        if queues is None
        else {
            "active": queues.feeds_active,
            "due": queues.feeds_due,
            "failing": queues.feeds_failing,
            "disabled": queues.feeds_disabled,
        },
    }
    return not reasons, body


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def build_app(
    service: Service,
    metrics: Metrics,
    stats: StatsCache,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The endpoint's app; ``extra_routes`` (a console's pages and API) are served beside
    ``/healthz`` and ``/metrics``.  ``app.state.service`` is the running service."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def healthz(_request: Request) -> Response:
        ok, body = health(service, stats)
        return JSONResponse(body, status_code=200 if ok else 503)

    def metrics_page(_request: Request) -> Response:
        return Response(metrics.render(), media_type=PROMETHEUS_TEXT)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
        *extra_routes,
    ]
    app = Starlette(routes=routes)
    app.state.service = service
    app.state.metrics = metrics
    return app


def bind(settings: HttpSettings) -> socket.socket:
    """A listening socket on ``bind``:``port``; :class:`ConfigError` (exit 2) if it cannot be."""
    where = f"{settings.bind}:{settings.port}"
    return listen(
        settings.bind,
        settings.port,
        unresolved=lambda exc: (
            f"service.http.bind: cannot listen on {where}: {exc}; set service.http.bind to an "
            "address of this machine (127.0.0.1 by default) in the config"
        ),
        unbound=lambda exc: (
            f"service.http: cannot listen on {where}: {exc.strerror or exc}. Another process "
            "(another `monitor run`?) may hold the port: stop it, or set service.http.port to a "
            "free port (0: any) or service.http.enabled: false in the config"
        ),
    )


class HttpEndpoint:
    """The component serving :func:`build_app` (see the module docstring)."""

    name = "http"

    def __init__(self, settings: Settings, extra_routes: Sequence[BaseRoute] = ()) -> None:
        self._settings = settings.service.http
        self._log_format = settings.service.log_format
        self._extra_routes = tuple(extra_routes)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.address: tuple[str, int] | None = None  # where it listens, once started

    def start(self, service: Service) -> None:
        if not self._settings.enabled:
            log.info("HTTP endpoint off (service.http.enabled: false): no /healthz, no /metrics")
            return
        sock = bind(self._settings)
        metrics, stats = service_metrics(service)
        service.observe(metrics)
        app = build_app(service, metrics, stats, self._extra_routes)
        server, thread = serve_in_thread(
            app,
            sock,
            "http-endpoint",
            f"service.http: the HTTP endpoint on {self._settings.bind}:{self._settings.port} "
            "did not start (see the log above); fix the cause or set "
            "service.http.enabled: false in the config",
        )
        self._server, self._thread = server, thread
        host, port = sock.getsockname()[:2]
        self.address = (host, port)
        shown = f"[{host}]" if ":" in host else host
        log.info("HTTP endpoint listening on http://%s:%d (/healthz, /metrics)", shown, port)

    def reconfigure(self, settings: Settings) -> None:
        if settings.service.log_format != self._log_format:
            log.warning(
                "service.log_format changed in the config; it takes effect when the service "
                "restarts (MONITOR_LOG_FORMAT, when set, still wins)"
            )
        if settings.service.http != self._settings:
            log.warning(
                "service.http changed in the config; the endpoint keeps %s:%d until the "
                "service restarts",
                self._settings.bind,
                self._settings.port,
            )

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            log.warning("HTTP endpoint: still shutting down after %.0fs; leaving it", STOP_TIMEOUT)
