"""Full-text search over every stored item, in the watchlists' query language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response

from monitor.watch.query import QueryError
from monitor.web import views
from monitor.web.deps import WebContext, web
from monitor.web.pages_common import PAGE_SIZE, page_size, render, window

router = APIRouter(include_in_schema=False)

MAX_QUERY = 1000


@router.get("/search")
def search_page(request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    q = request.query_params
    query = q.get("q", "")
    if len(query) > MAX_QUERY:
        raise HTTPException(status_code=400, detail=f"q: at most {MAX_QUERY} characters")
    zone = ctx.zone(request)
    span = window(request, zone)
    feed = q.get("feed", "").strip()
    language = q.get("language", "").strip()
    cursor = q.get("cursor") or None
    trail = q.getlist("trail")
    size = page_size(request)
    params: dict[str, Any] = {"q": query, "feed": feed, "language": language, **span.params}
    params["per_page"] = "" if size == PAGE_SIZE else str(size)
    context: dict[str, Any] = {
        "nav": "search",
        "query": query,
        "feed": feed,
        "language": language,
        "span": span.params,
        "feeds": ctx.store.feeds.names(),
        "hits": [],
        "error": None,
        "pager": None,
    }
    status = 200
    if query.strip():
        try:
            page = ctx.store.search.search(
                query,
                limit=size,
                cursor=cursor,
                feed=feed or None,
                language=language or None,
                since=span.since,
                until=span.until,
            )
        except QueryError as exc:
            context["error"] = {"column": exc.column, "message": exc.message, "query": query}
            status = 400
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        else:
            context["hits"] = page.hits
            context["pager"] = views.pager("/search", params, cursor, trail, page.next_cursor)
    return render(request, "search.html", context, status_code=status)
