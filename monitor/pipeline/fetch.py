"""HTTP fetching: the pipeline's network edge.

Every call returns a :class:`~monitor.pipeline.types.Fetched` whose
``outcome`` says what happened; network trouble is a value, not an exception.
Responses are streamed and cut off at ``max_bytes`` (after decompression, so a
gzip bomb is cut too); gzip, deflate and brotli are accepted; redirects are
followed and the final URL kept.  Feeds use conditional GET, and a feed body
whose hash equals the previous one is reported as ``NOT_MODIFIED`` so the
parser never sees it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import ssl
import time
from collections import defaultdict
from dataclasses import replace
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from monitor.config import FetchSettings
from monitor.pipeline.types import Fetched, Outcome, Validators

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


class Fetcher:
    """An ``httpx.AsyncClient`` with the project's limits; use as an async context manager."""

    def __init__(self, settings: FetchSettings) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(
            follow_redirects=True,
            max_redirects=10,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=None,
            ),
            limits=httpx.Limits(
                max_connections=settings.concurrency,
                max_keepalive_connections=settings.concurrency,
            ),
            headers={
                "User-Agent": settings.user_agent,
                "Accept-Encoding": "gzip, deflate, br",
            },
        )
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host)
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    async def fetch_feed(self, url: str, previous: Validators) -> Fetched:
        headers = {"Accept": FEED_ACCEPT}
        if previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
        result = await self._get(url, headers)
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

    async def fetch_page(self, url: str) -> Fetched:
        return await self._get(url, {"Accept": PAGE_ACCEPT})

    async def _get(self, url: str, headers: dict[str, str]) -> Fetched:
        host = urlsplit(url).hostname or ""
        started = time.perf_counter()
        async with self._hosts[host]:
            try:
                return await self._stream(url, headers, started)
            except httpx.TooManyRedirects:
                return Fetched(url, Outcome.HARD, error="too many redirects (more than 10)")
            except httpx.TimeoutException as exc:
                kind = type(exc).__name__
                return Fetched(url, Outcome.TEMPORARY, error=f"timed out ({kind})")
            except httpx.ConnectError as exc:
                return _connect_failure(url, exc)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                return Fetched(url, Outcome.HARD, error=f"invalid URL: {exc}")
            except httpx.HTTPError as exc:
                return Fetched(url, Outcome.TEMPORARY, error=f"{type(exc).__name__}: {exc}")

    async def _stream(self, url: str, headers: dict[str, str], started: float) -> Fetched:
        limit = self._settings.max_bytes
        async with self._client.stream("GET", url, headers=headers) as response:
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
                    error=f"response of {int(declared)} bytes exceeds the {limit}-byte cap",
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    return Fetched(
                        url,
                        Outcome.SOFT,
                        final_url=final_url,
                        status=status,
                        error=f"response exceeds the {limit}-byte cap (fetch.max_bytes)",
                    )
                chunks.append(chunk)
            content_type = response.headers.get("Content-Type")
            return Fetched(
                url,
                Outcome.OK,
                final_url=final_url,
                status=status,
                content=b"".join(chunks),
                content_type=content_type.split(";")[0].strip().lower() if content_type else None,
                charset=response.charset_encoding,
                validators=validators,
                elapsed=time.perf_counter() - started,
            )
