"""The overview of every watchlist, a watchlist's match list, and triage of a match."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from monitor.web import views
from monitor.web.deps import WebContext, current_user, require_csrf, web
from monitor.web.pages_common import (
    DAYS,
    PAGE_SIZE,
    back_to,
    not_found,
    page_size,
    render,
    today,
    window,
)

router = APIRouter(include_in_schema=False)

SAVED = (
    "Saved to {path}. The running service picks it up by its reload (it watches the "
    "file; `kill -HUP` makes it read it at once): new items are matched from then on, "
    "and `monitor watchlists backfill NAME` matches the stored ones."
)
OPEN_CAP = 100  # unreviewed items counted on the overview ("100+" beyond)
REVIEW_FILTERS = (
    ("all", "All"),
    ("open", "Unreviewed"),
    ("reviewed", "Reviewed"),
    ("dismissed", "Dismissed"),
)


def _open_count(ctx: WebContext, name: str) -> tuple[int, bool]:
    page = ctx.store.matches.summaries(name, review="open", limit=OPEN_CAP)
    return len(page.rows), page.next_cursor is not None


@router.get("/")
def overview(request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    """Every watchlist: matched items per day over two weeks (the reader's days), how
    many are still unreviewed, links to its matches, digest and editor."""
    zone = ctx.zone(request)
    settings = ctx.settings()
    per_day = ctx.store.matches.per_day(None, DAYS, str(zone.key))
    day = today(zone)
    cards = []
    for watchlist in settings.watchlists:
        counts = per_day.get(watchlist.name, {})
        unreviewed, more = _open_count(ctx, watchlist.name)
        cards.append(
            {
                "name": watchlist.name,
                "rules": [r.query for r in watchlist.rules],
                "days": views.day_buckets(counts, day, DAYS),
                "total": sum(counts.values()),
                "unreviewed": unreviewed,
                "more": more,
                "digest": watchlist.digest is not None,
                "url": f"/watchlists/{quote(watchlist.name, safe='')}",
            }
        )
    # matches of watchlists no longer configured are still in the database
    gone = sorted(set(per_day) - {w.name for w in settings.watchlists})
    return render(
        request,
        "overview.html",
        {
            "nav": "overview",
            "cards": cards,
            "gone": gone,
            "days": DAYS,
            "config_path": str(ctx.config_path),
        },
    )


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    review = q.get("review", "all")
    if review not in {k for k, _ in REVIEW_FILTERS}:
        raise HTTPException(
            status_code=400,
            detail=f"review: expected one of all, open, reviewed, dismissed; got {review[:40]!r}",
        )
    return {
        "feed": q.get("feed", "").strip(),
        "tag": q.get("tag", "").strip(),
        "language": q.get("language", "").strip(),
        "review": review,
    }


@router.get("/watchlists/{name}")
def match_list(name: str, request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    """One row per matched item, newest first, with filters and keyset pagination."""
    settings = ctx.settings()
    config = next((w for w in settings.watchlists if w.name == name), None)
    zone = ctx.zone(request)
    filters = _filters(request)
    span = window(request, zone)
    cursor = request.query_params.get("cursor") or None
    trail = request.query_params.getlist("trail")
    size = page_size(request)
    try:
        page = ctx.store.matches.summaries(
            name,
            feed=filters["feed"] or None,
            tag=filters["tag"] or None,
            language=filters["language"] or None,
            since=span.since,
            until=span.until,
            review=filters["review"],
            limit=size,
            cursor=cursor,
        )
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if config is None and not page.rows and cursor is None:
        known = ", ".join(w.name for w in settings.watchlists) or "none yet"
        raise not_found(f"no watchlist named {name!r} (watchlists: {known})")
    params: dict[str, Any] = {**filters, **span.params}
    if params.get("review") == "all":
        params["review"] = ""
    params["per_page"] = "" if size == PAGE_SIZE else str(size)
    path = f"/watchlists/{quote(name, safe='')}"
    pager = views.pager(path, params, cursor, trail, page.next_cursor)
    here = views.query_url(path, params, cursor=cursor or "", trail=trail)
    feeds = sorted(set(config.feeds if config else []) | set(ctx.store.feeds.names()))
    tags = sorted({t for f in settings.feeds for t in f.tags})
    return render(
        request,
        "matches.html",
        {
            "nav": "overview",
            "name": name,
            "config": config,
            "rows": page.rows,
            "filters": filters,
            "span": span.params,
            "pager": pager,
            "here": here,
            "path": path,
            "feeds": feeds,
            "tags": tags,
            "review_filters": REVIEW_FILTERS,
            "flashes": [SAVED.format(path=ctx.config_path)]
            if request.query_params.get("saved") == "1"
            else [],
            "filtered": any(v for k, v in params.items() if k != "per_page"),
        },
    )


@router.post("/items/{item_id}/review", dependencies=[Depends(require_csrf)])
def review(
    item_id: int,
    request: Request,
    ctx: Annotated[WebContext, Depends(web)],
    watchlist: Annotated[str, Form()],
    state: Annotated[str, Form()],
    note: Annotated[str | None, Form()] = None,
    back: Annotated[str | None, Form()] = None,
) -> Response:
    """Mark the item's matches in ``watchlist`` reviewed / dismissed / open, with a note;
    then back to the page the form was on (a plain form: works without script)."""
    if len(note or "") > 2000:
        raise HTTPException(status_code=400, detail="note: at most 2000 characters")
    try:
        ctx.store.reviews.set(item_id, watchlist, state, by=current_user(request), note=note)
    except LookupError as exc:
        raise HTTPException(status_code=404, detail=str(exc).strip("'\"")) from None
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    target = back_to(back, f"/items/{item_id}")
    anchor = "" if "#" in target else f"#item-{item_id}"
    return RedirectResponse(target + anchor, status_code=303)
