"""What every HTML page shares: the template context, times in the reader's zone, the
filters of a match list read from a query string, safe redirects back.

The pages never mark feed text safe: templates get plain strings (autoescaped)
or :class:`~markupsafe.Markup` made by :mod:`monitor.web.views`, which escapes
first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Request
from starlette.responses import Response

from monitor.web import views
from monitor.web.deps import csrf_token, current_user, templates, web

DAYS = 14  # the per-day charts
PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def formatter(zone: ZoneInfo) -> Callable[..., str]:
    """``t(moment)`` for the templates: a stored (UTC) time in the reader's zone."""

    def t(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return views.DASH
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(zone).strftime(fmt)

    return t


def render(
    request: Request, name: str, context: Mapping[str, Any], status_code: int = 200
) -> Response:
    """Template ``name`` with what every page needs: the user, the CSRF token, the zone,
    ``t`` for times and the view helpers."""
    ctx = web(request)
    zone = ctx.zone(request)
    full: dict[str, Any] = {
        "login_required": ctx.auth.required,
        # the first visit reloads once in the reader's zone: never a page a POST made
        "reloadable": request.method == "GET",
        "user": current_user(request),
        "csrf": csrf_token(request),
        "zone_name": str(zone.key),
        "t": formatter(zone),
        "highlight": views.highlight,
        "marked": views.highlight_marked,
        "safe_link": views.safe_link,
        "duration": views.duration,
        "query_url": views.query_url,
        **context,
    }
    return templates.TemplateResponse(request, name, full, status_code=status_code)


def today(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone).date()


def start_of(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in ``zone``, as a UTC time (what storage compares)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def parse_day(value: str | None, what: str) -> date | None:
    """A ``YYYY-MM-DD`` filter; a clear 400 for anything else."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status_code=400, detail=f"{what}: expected a date as YYYY-MM-DD, got {value[:40]!r}"
        ) from None


@dataclass(frozen=True)
class Window:
    """A date range filter (``from``/``to``, days in the reader's zone) as UTC times."""

    since: datetime | None
    until: datetime | None
    params: dict[str, str]


def window(request: Request, zone: ZoneInfo) -> Window:
    first = parse_day(request.query_params.get("from"), "from")
    last = parse_day(request.query_params.get("to"), "to")
    if first and last and last < first:
        raise HTTPException(status_code=400, detail="to: the end date is before the start date")
    return Window(
        since=start_of(first, zone) if first else None,
        until=start_of(last + timedelta(days=1), zone) if last else None,
        params={"from": first.isoformat() if first else "", "to": last.isoformat() if last else ""},
    )


def page_size(request: Request) -> int:
    """``per_page`` (1 to 100), else :data:`PAGE_SIZE`."""
    value = request.query_params.get("per_page")
    if not value:
        return PAGE_SIZE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise HTTPException(
            status_code=400, detail=f"per_page: expected 1 to {MAX_PAGE_SIZE}, got {value[:20]!r}"
        )
    return int(value)


def back_to(value: str | None, default: str) -> str:
    """Where a form sends the reader back: a path of this site only (never another host,
    never ``//host`` or a scheme), else ``default``."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(c in value for c in "\r\n\t")
    ):
        return default
    return value


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)
