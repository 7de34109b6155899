"""``/watchlists/{name}/atom``: a watchlist's latest matches as an Atom feed.

Atom readers cannot send headers: when a login is needed they may add
``?token=TOKEN`` to this URL (and only to it; see :mod:`monitor.web.auth`).
The links in the feed never carry the token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response

from monitor.web.atom import MEDIA_TYPE, AtomEntry, build_feed, tag_authority
from monitor.web.deps import WebContext, web

router = APIRouter(tags=["atom"])


@router.get(
    "/watchlists/{name}/atom",
    summary="The watchlist's latest matches as an Atom 1.0 feed",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}, 404: {"description": "unknown"}},
)
def watchlist_atom(
    request: Request,
    context: Annotated[WebContext, Depends(web)],
    name: Annotated[str, Path(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    token: Annotated[
        str | None, Query(description="for feed readers, when a login is needed")
    ] = None,
) -> Response:
    del token  # read by the auth middleware
    configured = {w.name for w in context.settings().watchlists}
    if name not in configured:
        raise HTTPException(
            404, detail=f"no watchlist {name!r} in the config (see /api/watchlists)"
        )
    page = context.store.matches.summaries(name, limit=limit)
    entries = [
        AtomEntry(
            item_id=s.item_id,
            title=s.title,
            url=s.url,
            published_at=s.published_at,
            matched_at=s.matched_at,
            snippet=s.snippet,
            rules=s.rules,
            feeds=s.feeds,
            state=s.state,
        )
        for s in page.rows
    ]
    base = str(request.base_url).rstrip("/")
    body = build_feed(
        name,
        entries,
        self_url=f"{base}{request.url.path}",
        console_url=base,
        authority=tag_authority(request.url.hostname),
        now=datetime.now(UTC),
    )
    return Response(body, media_type=MEDIA_TYPE)
