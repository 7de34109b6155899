"""An item as an analyst reads it: the text with the hits marked, where each field came
from, its revisions with a diff, the same story elsewhere, its matches and triage."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from monitor.watch.matcher import Match
from monitor.web import views
from monitor.web.deps import WebContext, web
from monitor.web.pages_common import not_found, render

router = APIRouter(include_in_schema=False)

META_FIELDS = (
    "title",
    "author",
    "published_at",
    "updated_at",
    "language",
    "site_name",
    "categories",
    "summary",
    "image_url",
    "canonical_url",
    "guid",
)


@router.get("/items/{item_id}")
def item_page(item_id: int, request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    store = ctx.store
    item = store.items.get(item_id)
    if item is None:
        raise not_found(f"no item {item_id}: it may have been pruned by housekeeping")
    hits = store.matches.hits(item_id)
    by_watchlist: defaultdict[str, list[Match]] = defaultdict(list)
    text_spans: list[tuple[int, int]] = []
    title_spans: list[tuple[int, int]] = []
    for hit in hits:
        by_watchlist[hit.watchlist].append(hit)
        if hit.field == "text":
            text_spans.append((hit.start, hit.end))
        elif hit.field == "title":
            title_spans.append((hit.start, hit.end))
    focus = request.query_params.get("watchlist")
    matches = []
    for name, found in sorted(by_watchlist.items(), key=lambda kv: (kv[0] != focus, kv[0])):
        matches.append(
            {
                "watchlist": name,
                "hits": found,
                "rules": sorted({(h.rule_index, h.rule) for h in found}),
                "review": store.reviews.get(item_id, name),
                "history": store.reviews.history(item_id, name),
            }
        )
    revisions = store.items.revisions(item_id)
    versions = [(r.number, r.title, r.text, r.fetched_at) for r in revisions]
    versions.append((item.revision, item.title, item.text, item.fetched_at))
    diffs = [
        {
            "from": old[0],
            "to": new[0],
            "at": new[3],
            "title_changed": (old[1] or "") != (new[1] or ""),
            "old_title": old[1],
            "new_title": new[1],
            "lines": views.diff_lines(old[2], new[2]),
        }
        for old, new in pairwise(versions)
    ]
    values = {name: getattr(item, name) for name in META_FIELDS}
    return render(
        request,
        "item.html",
        {
            "item": item,
            "title": views.highlight(item.title or item.url, title_spans if item.title else ()),
            "paragraphs": views.paragraphs(item.text, text_spans),
            "meta": views.field_source_rows(values, item.field_sources),
            "matches": matches,
            "diffs": diffs[::-1],
            "cluster": store.items.cluster(item_id),
            "entries": store.items.entries([item_id]).get(item_id, []),
            "here": views.query_url(f"/items/{item_id}", {"watchlist": focus}),
        },
    )
