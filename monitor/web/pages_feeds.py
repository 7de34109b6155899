"""Feed health: every feed's state, last fetch, error, current interval and why, items per
day; and one feed with its fetch history."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from monitor.storage.feed_health import FeedHealthQueries
from monitor.web import views
from monitor.web.deps import WebContext, web
from monitor.web.pages_common import DAYS, not_found, render, start_of, today

router = APIRouter(include_in_schema=False)


def _arrivals(
    ctx: WebContext, request: Request, feed: str | None = None
) -> dict[str, list[views.Day]]:
    zone = ctx.zone(request)
    day = today(zone)
    since = start_of(day - timedelta(days=DAYS - 1), zone)
    found = FeedHealthQueries(ctx.store.engine).arrivals(since, feed)
    return {
        name: views.day_buckets(views.in_zone(times, zone), day, DAYS)
        for name, times in found.items()
    }


@router.get("/feeds")
def feeds_page(request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    show_all = request.query_params.get("all") == "1"
    rows = ctx.store.feeds.health(include_inactive=show_all)
    per_day = _arrivals(ctx, request)
    empty = views.day_buckets({}, today(ctx.zone(request)), DAYS)
    failing = sum(1 for r in rows if r.active and r.consecutive_failures)
    disabled = sum(1 for r in rows if r.active and r.disabled_reason)
    return render(
        request,
        "feeds.html",
        {
            "nav": "feeds",
            "rows": rows,
            "per_day": per_day,
            "empty_days": empty,
            "failing": failing,
            "disabled": disabled,
            "show_all": show_all,
            "config_path": str(ctx.config_path),
            "days": DAYS,
        },
    )


@router.get("/feeds/{name}")
def feed_page(name: str, request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    settings = ctx.settings()
    details = ctx.store.feeds.details(name, history=settings.housekeeping.history)
    if details is None:
        raise not_found(f"no feed named {name!r} in the database; /feeds lists them")
    days = _arrivals(ctx, request, name).get(name) or views.day_buckets(
        {}, today(ctx.zone(request)), DAYS
    )
    schedule = settings.schedule
    return render(
        request,
        "feed.html",
        {
            "nav": "feeds",
            "d": details,
            "row": details.health,
            "days": days,
            "low": details.min_interval or schedule.min_interval,
            "high": details.max_interval or schedule.max_interval,
        },
    )
