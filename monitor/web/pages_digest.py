"""The digest a watchlist would get now, as ``monitor digest preview`` renders it, with
each item's review state beside it.

The digest's HTML is the e-mail's own (inline styles, as mail clients need),
so it is served on its own URL with a policy of its own (no script at all,
``sandbox``) and shown in a sandboxed frame; the console's pages keep their
strict policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from monitor.config import Settings, WatchlistConfig
from monitor.deliver.digest import build
from monitor.deliver.render import Rendered
from monitor.deliver.render import render as render_digest
from monitor.errors import NotifyError
from monitor.storage.reviews import Review
from monitor.web.deps import WebContext, web
from monitor.web.pages_common import not_found, render

router = APIRouter(include_in_schema=False)

DIGEST_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'none'; sandbox"
)


@dataclass(frozen=True)
class DigestPreview:
    config: WatchlistConfig
    since: datetime
    until: datetime
    rendered: Rendered
    items: list[tuple[int, str | None, Review | None]]  # item id, title, review


def _watchlist(settings: Settings, name: str) -> WatchlistConfig:
    config = next((w for w in settings.watchlists if w.name == name), None)
    if config is None:
        raise not_found(f"no watchlist named {name!r} in {settings.config_path}")
    if config.digest is None:
        raise not_found(
            f"watchlist {name!r} has no digest: section (nor recipients:) in "
            f"{settings.config_path}; add recipients in its editor to get one"
        )
    return config


def digest_preview(ctx: WebContext, name: str) -> DigestPreview:
    """What ``monitor digest preview NAME`` shows: from where the next digest starts
    (the end of the last one, else the latest scheduled time, else a day ago) to now."""
    from monitor.service.digests import latest_fire, trigger

    settings = ctx.settings()
    config = _watchlist(settings, name)
    digest = config.digest
    assert digest is not None
    now = datetime.now(UTC)
    store = ctx.store
    start = store.digests.last_end(name) or latest_fire(trigger(digest), now, strict=True)
    start = start or now - timedelta(days=1)
    found = store.digests.preview(name, start, now)
    view = build(name, found, start, now, digest.timezone, digest.group_by)
    template_dir = digest.template_dir
    if template_dir and not Path(template_dir).is_absolute():
        template_dir = str(settings.config_path.parent / template_dir)
    try:
        rendered = render_digest(view, template_dir)
    except NotifyError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from None
    reviews = store.reviews.many([(i.item_id, name) for i in found])
    items = [(i.item_id, i.title, reviews.get((i.item_id, name))) for i in found]
    return DigestPreview(config, start, now, rendered, items)


@router.get("/digest/{name}")
def digest_page(name: str, request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    shown = digest_preview(ctx, name)
    return render(
        request,
        "digest.html",
        {
            "nav": "overview",
            "name": name,
            "d": shown,
            "frame": f"/digest/{quote(name, safe='')}/html",
            "reviewed": sum(1 for _, _, r in shown.items if r is not None),
        },
    )


@router.get("/digest/{name}/html")
def digest_html(name: str, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    """The HTML part alone, for the frame: no script can run in it."""
    shown = digest_preview(ctx, name)
    return HTMLResponse(
        shown.rendered.html,
        headers={"Content-Security-Policy": DIGEST_CSP, "X-Frame-Options": "SAMEORIGIN"},
    )
