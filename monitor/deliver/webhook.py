"""The webhook transport: POST a body, get back what happened as a value.

The request goes out as the fetcher's do (:mod:`monitor.pipeline.fetch`): the
same timeouts (``fetch.connect_timeout``, ``read_timeout`` and one deadline,
``total_timeout``, over the whole request) and the private-network guard
(:mod:`monitor.pipeline.netguard`), so a webhook cannot be pointed at the
machine's own services unless the watchlist's ``alert.allow_private`` names
its host.  Redirects are not followed: a receiver that moved says so in the
error, and the URL is fixed in ``feeds.yaml``.

Nothing here logs, and no message returned contains the webhook URL: it is a
secret (see :func:`monitor.deliver.alerts.mask_webhook`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from monitor.config import FetchSettings
from monitor.deliver.alerts import scrub
from monitor.pipeline.netguard import GuardedTransport, Refused, guard_extensions, vet_url

_RESPONSE_KEPT = 300  # characters of a refusing receiver's body kept in the error


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one POST: ``ok`` when the receiver answered 2xx."""

    ok: bool
    status: int | None = None
    error: str | None = None


class WebhookClient:
    """An HTTP client for webhooks with the fetcher's limits; an async context manager."""

    def __init__(self, settings: FetchSettings, concurrency: int = 8) -> None:
        self._settings = settings
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(limits),
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.total_timeout,
            ),
            headers={"User-Agent": settings.user_agent},
        )

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    async def post(
        self, url: str, body: bytes, *, allow_private: bool = False, key: str | None = None
    ) -> Delivery:
        """POST ``body`` (JSON) to ``url``; ``key`` goes out as ``Idempotency-Key`` so a
        receiver can drop the copy a crash between its answer and our record may cause."""
        allow_host = urlsplit(url).hostname if allow_private else None
        problem = vet_url(url, allow_host)
        if problem is not None:
            return Delivery(False, error=scrub(problem, url))
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if key:
            headers["Idempotency-Key"] = key
        try:
            async with asyncio.timeout(self._settings.total_timeout):
                response = await self._client.post(
                    url, content=body, headers=headers, extensions=guard_extensions(allow_host)
                )
                text = (await response.aread())[: _RESPONSE_KEPT * 4].decode("utf-8", "replace")
        except TimeoutError:
            return Delivery(False, error=f"no answer within {self._settings.total_timeout:g}s")
        except Refused as exc:
            return Delivery(False, error=scrub(str(exc), url))
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            return Delivery(False, error=scrub(f"{type(exc).__name__}: {detail}", url))
        if 200 <= response.status_code < 300:
            return Delivery(True, response.status_code)
        reason = " ".join(text.split())[:_RESPONSE_KEPT]
        error = f"HTTP {response.status_code}" + (f": {reason}" if reason else "")
        if response.is_redirect:
            error += "; redirects are not followed: write the new address in feeds.yaml"
        return Delivery(False, response.status_code, scrub(error, url))
