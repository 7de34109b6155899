"""The JSON API (described at /openapi.json): items, search, matches and their triage,
feeds, watchlists and the preview of rules, and CSV / JSON lines exports.

Every list is newest first with cursor pagination (``next_cursor`` -> ``cursor=``).
Handlers are plain functions (FastAPI runs them in its thread pool): they read the
database.  Bad parameters are 4xx naming the parameter; a bad query is 400 with the
column of the problem.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response

from monitor.config import Settings, WatchlistConfig
from monitor.storage.item_queries import StoredItem
from monitor.watch.query import QueryError
from monitor.web import api_models as m
from monitor.web import exports
from monitor.web.api_params import MAX_ID, FiltersDep, bad, check_cursor, parse_when
from monitor.web.deps import WebContext, current_user, require_csrf, web

router = APIRouter(prefix="/api", tags=["api"])
WebDep = Annotated[WebContext, Depends(web)]
Format = Literal["json", "csv", "jsonl"]
PER_DAY = 14


# -- items ---------------------------------------------------------------------


def _item_cursor(item: StoredItem) -> str:
    moment = (item.published_at or item.fetched_at).astimezone(UTC).isoformat()
    raw = json.dumps([moment, item.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_item_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        moment, item_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(moment)
        if not isinstance(item_id, int) or not 0 < item_id <= MAX_ID or when.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad(
            "cursor", "not a cursor of this list: pass a previous page's next_cursor"
        ) from None
    return when, item_id


@router.get("/items", response_model=m.ItemPage, summary="Stored items, newest first")
def list_items(context: WebDep, f: FiltersDep) -> m.ItemPage:
    # a page's cursor is older than ``until`` already; without one, ``until`` is the start
    before = _read_item_cursor(f.cursor) if f.cursor else (f.until, 0) if f.until else None
    items = context.store.items.list(
        f.feed,
        f.since,
        f.limit + 1,
        languages=[f.language] if f.language else (),
        before=before,
    )
    more = len(items) > f.limit
    items = items[: f.limit]
    return m.ItemPage(
        items=[m.ItemOut.of(i) for i in items],
        next_cursor=_item_cursor(items[-1]) if more and items else None,
    )


@router.get(
    "/items/{item_id}",
    response_model=m.ItemDetail,
    summary="An item: text, field sources, matches, reviews, revisions, duplicates",
    responses={404: {"description": "no such item"}},
)
def get_item(context: WebDep, item_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> m.ItemDetail:
    store = context.store
    item = store.items.get(item_id)
    if item is None:
        raise HTTPException(404, detail=f"no item {item_id}")
    hits = store.matches.hits(item_id)
    watchlists = sorted({h.watchlist for h in hits})
    reviews = store.reviews.many([(item_id, w) for w in watchlists])
    return m.ItemDetail(
        item=m.ItemOut.of(item),
        text=item.text,
        field_sources=item.field_sources,
        matches=[m.HitOut.of(h) for h in hits],
        reviews=[m.ReviewOut.of(r) for r in reviews.values()],
        revisions=[m.RevisionOut.of(r) for r in store.items.revisions(item_id)],
        entries=[m.EntryOut.of(e) for e in store.items.entries([item_id]).get(item_id, [])],
        cluster=[m.ItemOut.of(i) for i in store.items.cluster(item_id)],
    )


# -- search --------------------------------------------------------------------


def _search_page(context: WebContext, q: str, f: Any, limit: int, cursor: str | None) -> Any:
    from monitor.storage.search import decode_cursor

    check_cursor(cursor, decode_cursor)
    try:
        return context.store.search.search(
            q,
            limit=limit,
            cursor=cursor,
            feed=f.feed,
            language=f.language,
            since=f.since,
            until=f.until,
        )
    except QueryError as exc:
        raise bad("q", f"column {exc.column}: {exc.message} in {q!r}") from None
    except ValueError as exc:
        raise bad("cursor", str(exc)) from None


@router.get(
    "/search",
    response_model=m.SearchPageOut,
    summary="Items matching a query in the watchlists' language",
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
def search(
    context: WebDep,
    f: FiltersDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="the query")],
    format: Format = "json",
) -> Any:
    page = _search_page(context, q, f, f.limit, f.cursor)
    if format != "json":
        return exports.search_export(
            format, page, lambda cursor: _search_page(context, q, f, exports.BATCH, cursor)
        )
    return m.SearchPageOut(
        query=q,
        hits=[
            m.SearchHitOut(
                item=m.ItemOut.of(h.item),
                snippet=h.snippet,
                spans=[(a, b) for a, b in h.spans],
                hits=h.hits,
            )
            for h in page.hits
        ],
        next_cursor=page.next_cursor,
    )


@router.get("/search.{format}", include_in_schema=False)
def search_file(
    context: WebDep,
    f: FiltersDep,
    format: Literal["csv", "jsonl"],
    q: Annotated[str, Query(min_length=1, max_length=1000)],
) -> Response:
    page = _search_page(context, q, f, exports.BATCH, f.cursor)
    return exports.search_export(
        format, page, lambda cursor: _search_page(context, q, f, exports.BATCH, cursor)
    )


# -- matches and triage --------------------------------------------------------


def _known_watchlist(context: WebContext, name: str, parameter: str = "watchlist") -> None:
    configured = {w.name for w in context.settings().watchlists}
    if name not in configured and name not in context.store.matches.counts():
        known = ", ".join(sorted(configured)) or "none configured"
        raise HTTPException(404, detail=f"{parameter}: no watchlist {name!r} (known: {known})")


def _summaries(
    context: WebContext,
    watchlist: str | None,
    f: Any,
    tag: str | None,
    review: str,
    limit: int,
    cursor: str | None,
) -> Any:
    from monitor.storage.match_summaries import decode_cursor

    check_cursor(cursor, decode_cursor)
    try:
        return context.store.matches.summaries(
            watchlist,
            feed=f.feed,
            tag=tag,
            language=f.language,
            since=f.since,
            until=f.until,
            review=review,
            limit=limit,
            cursor=cursor,
        )
    except ValueError as exc:
        raise bad("cursor" if cursor and "cursor" in str(exc) else "review", str(exc)) from None


@router.get(
    "/matches",
    response_model=m.MatchPageOut,
    summary="Matches, one row per item and watchlist, newest first",
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
def matches(
    context: WebDep,
    f: FiltersDep,
    watchlist: Annotated[str | None, Query(description="one watchlist (default: all)")] = None,
    tag: Annotated[str | None, Query(description="carried by a feed with this tag")] = None,
    review: m.ReviewFilter = "all",
    format: Format = "json",
) -> Any:
    if watchlist:
        _known_watchlist(context, watchlist)
    if format != "json":
        return _match_export(context, format, watchlist or None, f, tag, review)
    page = _summaries(context, watchlist or None, f, tag, review, f.limit, f.cursor)
    return m.MatchPageOut(
        watchlist=watchlist or None,
        rows=[m.MatchSummaryOut.of(s) for s in page.rows],
        next_cursor=page.next_cursor,
    )


@router.get("/matches.{format}", include_in_schema=False)
def matches_file(
    context: WebDep,
    f: FiltersDep,
    format: Literal["csv", "jsonl"],
    watchlist: str | None = None,
    tag: str | None = None,
    review: m.ReviewFilter = "all",
) -> Response:
    if watchlist:
        _known_watchlist(context, watchlist)
    return _match_export(context, format, watchlist or None, f, tag, review)


def _match_export(
    context: WebContext, format: str, watchlist: str | None, f: Any, tag: str | None, review: str
) -> Response:
    first = _summaries(context, watchlist, f, tag, review, exports.BATCH, f.cursor)
    return exports.match_export(
        format,
        first,
        lambda cursor: _summaries(context, watchlist, f, tag, review, exports.BATCH, cursor),
        name=watchlist or "matches",
    )


ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
Watchlist = Annotated[str, Path(min_length=1, max_length=200)]


@router.get(
    "/matches/{item_id}/{watchlist}/review",
    response_model=list[m.ReviewOut],
    summary="The triage history of one match, oldest first",
)
def review_history(context: WebDep, item_id: ItemId, watchlist: Watchlist) -> list[m.ReviewOut]:
    return [m.ReviewOut.of(r) for r in context.store.reviews.history(item_id, watchlist)]


@router.post(
    "/matches/{item_id}/{watchlist}/review",
    response_model=m.ReviewOut,
    summary="Mark a match reviewed, dismissed or open again, with a note",
    dependencies=[Depends(require_csrf)],
    responses={404: {"description": "the item has no match in that watchlist"}},
)
def set_review(
    context: WebDep, request: Request, item_id: ItemId, watchlist: Watchlist, body: m.ReviewIn
) -> m.ReviewOut:
    try:
        review = context.store.reviews.set(
            item_id, watchlist, body.state, by=current_user(request), note=body.note
        )
    except LookupError as exc:
        raise HTTPException(404, detail=str(exc).strip("'\"")) from None
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    return m.ReviewOut.of(review)


# -- feeds ---------------------------------------------------------------------


@router.get("/feeds", response_model=list[m.FeedOut], summary="Every feed and its health")
def feeds(
    context: WebDep, inactive: Annotated[bool, Query(description="include removed feeds")] = False
) -> list[m.FeedOut]:
    return [m.FeedOut.of(h) for h in context.store.feeds.health(include_inactive=inactive)]


@router.get(
    "/feeds/{name}",
    response_model=m.FeedDetailOut,
    summary="A feed: settings, state and its latest polls",
    responses={404: {"description": "no such feed"}},
)
def feed(
    context: WebDep,
    name: Annotated[str, Path(min_length=1, max_length=500)],
    history: Annotated[int, Query(ge=0, le=1000)] = 50,
) -> m.FeedDetailOut:
    details = context.store.feeds.details(name, history=history)
    if details is None:
        raise HTTPException(404, detail=f"no feed {name!r} (see /api/feeds)")
    return m.FeedDetailOut.of(details)


# -- watchlists ----------------------------------------------------------------


def _watchlist_out(
    config: WatchlistConfig, counts: dict[str, int], days: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": config.name,
        "rules": [r.query for r in config.rules],
        "feeds": list(config.feeds),
        "tags": list(config.tags),
        "fuzzy": config.fuzzy,
        "matched_items": counts.get(config.name, 0),
        "per_day": days.get(config.name, {}),
        "atom": f"/watchlists/{config.name}/atom",
    }


@router.get("/watchlists", response_model=list[m.WatchlistOut], summary="The watchlists")
def watchlists(context: WebDep, request: Request) -> list[m.WatchlistOut]:
    settings: Settings = context.settings()
    counts = context.store.matches.counts()
    days = context.store.matches.per_day(None, PER_DAY, context.zone(request).key)
    return [m.WatchlistOut(**_watchlist_out(w, counts, days)) for w in settings.watchlists]


@router.get(
    "/watchlists/{name}",
    response_model=m.WatchlistDetail,
    summary="A watchlist as configured, with its counts",
    responses={404: {"description": "no such watchlist"}},
)
def watchlist(
    context: WebDep, request: Request, name: Annotated[str, Path(min_length=1, max_length=200)]
) -> m.WatchlistDetail:
    found = next((w for w in context.settings().watchlists if w.name == name), None)
    if found is None:
        raise HTTPException(
            404, detail=f"no watchlist {name!r} in the config (see /api/watchlists)"
        )
    counts = context.store.matches.counts()
    days = context.store.matches.per_day(name, PER_DAY, context.zone(request).key)
    return m.WatchlistDetail(
        **_watchlist_out(found, counts, days),
        config=found.model_dump(mode="json", by_alias=True, exclude_defaults=True),
    )


@router.post(
    "/watchlists/preview",
    response_model=m.PreviewOut,
    summary="What rules would have matched over the last days, before they are saved",
    dependencies=[Depends(require_csrf)],
)
def preview(context: WebDep, body: m.PreviewIn) -> m.PreviewOut:
    from monitor.watch.preview import preview as run_preview

    since = parse_when("since", body.since)
    result = run_preview(
        body.rules,
        context.store.items.iter_documents(since),  # what the watch stage would match
        fuzzy=body.fuzzy,
        case_sensitive=body.case_sensitive,
        limit=body.limit,
    )
    items = {i.id: i for i in context.store.items.get_many([h.item_id for h in result.hits])}
    return m.PreviewOut(
        problems=[
            m.ProblemOut(rule_index=p.rule_index, column=p.column, message=p.message)
            for p in result.problems
        ],
        items=result.items,
        matched=result.matched,
        per_rule=result.per_rule,
        hits=[
            m.PreviewHitOut(
                item_id=h.item_id,
                title=items[h.item_id].title,
                url=items[h.item_id].url,
                published_at=items[h.item_id].published_at,
                rules=list(h.rules),
                hits=h.hits,
                snippet=h.snippet,
                spans=[(a, b) for a, b in h.spans],
            )
            for h in result.hits
            if h.item_id in items
        ],
    )
