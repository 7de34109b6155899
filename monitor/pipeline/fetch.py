"""HTTP fetching: the pipeline's network edge.

Every call returns a :class:`~monitor.pipeline.types.Fetched` whose
``outcome`` says what happened; network trouble is a value, not an exception.
Feeds use conditional GET, and a feed body whose hash equals the previous one
is reported as ``NOT_MODIFIED`` so the parser never sees it.

Limits, each because a hostile or broken server would otherwise hold the
process (docs/design.md, "Fetching"):

* one deadline per request, ``total_timeout``, over connect, headers, body and
  every redirect: ``read_timeout`` alone restarts with each byte, so a server
  dripping a byte a second would never be cut off;
* ``max_bytes`` on the bytes received and on the bytes decoded, the body read
  raw and decompressed here piece by piece (:mod:`monitor.pipeline.decode`),
  so a compression bomb stops at the cap instead of filling memory;
* the private-network guard (:mod:`monitor.pipeline.netguard`): only http and
  https, only public addresses unless the caller names the one host that may
  be private, checked on every redirect hop (redirects are followed here, at
  most ten) and again at connect time on the resolved address.

Politeness, per host, for feeds and pages alike (:mod:`monitor.pipeline.hosts`):
``per_host`` requests at once, ``per_host_delay`` seconds between request
starts, and a ``Retry-After`` on a 429 or 503 pausing the whole host.  A feed
whose leading redirects are permanent (301, 308) reports where it moved
(``Fetched.moved_to``); 302 and 307 are followed and change nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import socket
import ssl
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import cast
from urllib.parse import urlsplit

import httpx

from monitor.config import FetchSettings
from monitor.events import NO_EVENTS, Events
from monitor.pipeline.decode import BodyTooLarge, DecodeError, read_body
from monitor.pipeline.hosts import HostBusy, HostGates, HostPauses
from monitor.pipeline.netguard import GuardedTransport, Refused, guard_extensions, vet_url
from monitor.pipeline.types import Fetched, Outcome, Validators

MAX_REDIRECTS = 10
_REDIRECT_BODY = 64 * 1024  # read from a redirect to keep its connection; more is dropped

_PERMANENT_REDIRECTS = {301, 308}
_PAUSING_STATUSES = {429, 503}  # their Retry-After pauses the whole host
_TEMPORARY_STATUSES = {408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


def body_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _retry_after(value: str | None) -> int | None:
    if not value:
        return None
    if value.strip().isdigit():
        return int(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int(when.timestamp() - time.time()))


def classify_status(status: int) -> Outcome:
    if status == 304:
        return Outcome.NOT_MODIFIED
    if 200 <= status < 300:
        return Outcome.OK
    if status in _TEMPORARY_STATUSES or status >= 500:
        return Outcome.TEMPORARY
    return Outcome.HARD


def _connect_failure(url: str, exc: httpx.ConnectError) -> Fetched:
    """A refused or reset connection may heal; a bad certificate or unknown host will not."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return Fetched(url, Outcome.HARD, error=f"TLS failure: {cause}")
        if isinstance(cause, socket.gaierror) and cause.errno != socket.EAI_AGAIN:
            host = urlsplit(url).hostname
            return Fetched(url, Outcome.HARD, error=f"unknown host {host!r}: {cause.strerror}")
        if isinstance(cause, OSError) and cause.errno:
            host, port = urlsplit(url).hostname, urlsplit(url).port
            where = f"{host}:{port}" if port else str(host)
            reason = os.strerror(cause.errno)
            return Fetched(url, Outcome.TEMPORARY, error=f"cannot connect to {where}: {reason}")
        cause = cause.__cause__ or cause.__context__
    return Fetched(url, Outcome.TEMPORARY, error=f"cannot connect: {exc}")


def _failure(url: str, exc: Exception, target: str | None = None) -> Fetched:
    """The outcome for an exception raised while sending a request to ``target``."""
    if isinstance(exc, Refused):
        return Fetched(url, Outcome.HARD, error=str(exc))
    if isinstance(exc, httpx.TimeoutException):
        return Fetched(url, Outcome.TEMPORARY, error=f"timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError):
        return replace(_connect_failure(target or url, exc), url=url)
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return Fetched(url, Outcome.HARD, error=f"invalid URL: {exc}")
    if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc).lower():
        return Fetched(url, Outcome.HARD, error=f"invalid redirect: {exc}")
    return Fetched(url, Outcome.TEMPORARY, error=f"{type(exc).__name__}: {exc}")


def _raw(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    """The body as received, still encoded (``aiter_raw`` is an async generator)."""
    return cast(AsyncGenerator[bytes, None], response.aiter_raw())


class Fetcher:
    """An ``httpx.AsyncClient`` with the project's limits; use as an async context manager.

    ``allow_host`` (keyword-only on both fetch methods) is the one host that may
    be on a loopback, private or link-local address for that request; the
    orchestrator passes a feed's own host name when the feed has
    ``allow_private: true``.  Everything else must be public.

    ``pauses`` carries the hosts' Retry-After pauses from one poll to the next
    (a fresh, empty one by default).
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        events: Events = NO_EVENTS,
        pauses: HostPauses | None = None,
    ) -> None:
        self._settings = settings
        self._events = events
        limits = httpx.Limits(
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
        )
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(limits),
            follow_redirects=False,  # followed in _follow, each hop vetted
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=None,
            ),
            headers={
                "User-Agent": settings.user_agent,
                "Accept-Encoding": "gzip, deflate, br",
            },
        )
        self._hosts = HostGates(
            settings.per_host,
            settings.per_host_delay,
            pauses if pauses is not None else HostPauses(),
        )
        # Requests wait here, before their deadline starts, rather than in the pool.
        self._slots = asyncio.Semaphore(settings.concurrency)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    async def fetch_feed(
        self, url: str, previous: Validators, *, allow_host: str | None = None
    ) -> Fetched:
        headers = {"Accept": FEED_ACCEPT}
        if previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
        result = await self._get(url, headers, allow_host)
        self._events.fetched("feed", result)
        if result.outcome is not Outcome.OK:
            if result.outcome is Outcome.NOT_MODIFIED:
                return replace(result, validators=previous)
            return result
        digest = body_hash(result.content)
        validators = Validators(
            etag=result.validators.etag or previous.etag,
            last_modified=result.validators.last_modified or previous.last_modified,
            body_hash=digest,
        )
        if previous.body_hash == digest:
            return Fetched(
                url=url,
                outcome=Outcome.NOT_MODIFIED,
                final_url=result.final_url,
                status=result.status,
                validators=validators,
                elapsed=result.elapsed,
            )
        return replace(result, validators=validators)

    async def fetch_page(self, url: str, *, allow_host: str | None = None) -> Fetched:
        result = await self._get(url, {"Accept": PAGE_ACCEPT}, allow_host)
        self._events.fetched("page", result)
        return result

    async def _get(self, url: str, headers: dict[str, str], allow_host: str | None) -> Fetched:
        problem = vet_url(url, allow_host)
        if problem is not None:  # a bad scheme or a private address: not even a connection
            return Fetched(url, Outcome.HARD, error=problem)
        host = urlsplit(url).hostname or ""
        try:
            async with self._hosts[host].slot():
                result = await self._timed(url, headers, allow_host)
        except HostBusy as busy:
            return Fetched(
                url, Outcome.TEMPORARY, error=str(busy), retry_after=math.ceil(busy.seconds)
            )
        if result.status in _PAUSING_STATUSES and result.retry_after:
            why = f"HTTP {result.status} with Retry-After {result.retry_after}s"
            self._hosts.pauses.pause(host, result.retry_after, why)
        return result

    async def _timed(self, url: str, headers: dict[str, str], allow_host: str | None) -> Fetched:
        """One request within its deadline (the host's slot already held)."""
        total = self._settings.total_timeout
        async with self._slots:
            started = time.perf_counter()
            deadline = asyncio.timeout(total)
            try:
                async with deadline:
                    return await self._follow(url, headers, allow_host, started)
            except TimeoutError:
                if not deadline.expired():
                    raise
                return Fetched(
                    url,
                    Outcome.TEMPORARY,
                    error=(
                        f"timed out: the request took longer than {total:g}s in all "
                        "(fetch.total_timeout), connect, redirects and body included"
                    ),
                    elapsed=time.perf_counter() - started,
                )
            except (httpx.HTTPError, httpx.InvalidURL, Refused) as exc:
                return _failure(url, exc)

    async def _follow(
        self, url: str, headers: dict[str, str], allow_host: str | None, started: float
    ) -> Fetched:
        """Send the request and its redirects, each hop vetted before it is sent."""
        request = self._client.build_request(
            "GET", url, headers=headers, extensions=guard_extensions(allow_host)
        )
        sent: set[tuple[str, str | None]] = set()
        moved_to: str | None = None
        permanent = True  # so far every redirect was a 301 or 308
        for hop in range(MAX_REDIRECTS + 1):
            target = str(request.url)
            problem = vet_url(request.url, allow_host)
            if problem is not None:
                return Fetched(url, Outcome.HARD, final_url=target, error=problem)
            # The same URL with the same cookies would get the same answer again.
            key = (target, request.headers.get("Cookie"))
            if key in sent:
                return Fetched(
                    url, Outcome.HARD, final_url=target, error=f"redirect loop at {target}"
                )
            sent.add(key)
            try:
                step = await self._send(url, request, started)
            except (httpx.HTTPError, httpx.InvalidURL, Refused) as exc:
                failed = _failure(url, exc, target)
                return replace(failed, final_url=target) if hop else failed
            if isinstance(step, Fetched):
                return replace(step, moved_to=moved_to) if moved_to else step
            status, request = step
            permanent = permanent and status in _PERMANENT_REDIRECTS
            if permanent:
                moved_to = str(request.url)
        return Fetched(
            url,
            Outcome.HARD,
            final_url=str(request.url),
            error=f"too many redirects (more than {MAX_REDIRECTS})",
        )

    async def _send(
        self, url: str, request: httpx.Request, started: float
    ) -> Fetched | tuple[int, httpx.Request]:
        """One hop: the final result, or the redirect's status and the request it asks
        for next."""
        response = await self._client.send(request, stream=True)
        try:
            following = response.next_request  # set by httpx for 301/302/303/307/308
            if following is None:
                return await self._finish(url, response, started)
            async with aclosing(_raw(response)) as raw:  # a short body keeps the connection
                kept = 0
                async for chunk in raw:
                    kept += len(chunk)
                    if kept > _REDIRECT_BODY:
                        break
            return response.status_code, following
        finally:
            await response.aclose()

    async def _finish(self, url: str, response: httpx.Response, started: float) -> Fetched:
        """The final response of a request: its status, then its body within the cap."""
        limit = self._settings.max_bytes
        final_url = str(response.url)
        status = response.status_code
        outcome = classify_status(status)
        validators = Validators(
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        if outcome is not Outcome.OK:
            return Fetched(
                url,
                outcome,
                final_url=final_url,
                status=status,
                validators=validators,
                error=None if outcome is Outcome.NOT_MODIFIED else f"HTTP {status}",
                retry_after=_retry_after(response.headers.get("Retry-After")),
                elapsed=time.perf_counter() - started,
            )
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            return Fetched(
                url,
                Outcome.SOFT,
                final_url=final_url,
                status=status,
                error=(
                    f"response of {int(declared)} bytes exceeds the {limit}-byte cap "
                    "(fetch.max_bytes)"
                ),
                elapsed=time.perf_counter() - started,
            )
        try:
            async with aclosing(_raw(response)) as raw:
                content = await read_body(raw, response.headers.get("Content-Encoding"), limit)
        except (BodyTooLarge, DecodeError) as exc:
            return Fetched(
                url,
                Outcome.SOFT,
                final_url=final_url,
                status=status,
                error=str(exc),
                elapsed=time.perf_counter() - started,
            )
        content_type = response.headers.get("Content-Type")
        return Fetched(
            url,
            Outcome.OK,
            final_url=final_url,
            status=status,
            content=content,
            content_type=content_type.split(";")[0].strip().lower() if content_type else None,
            charset=response.charset_encoding,
            validators=validators,
            elapsed=time.perf_counter() - started,
        )
