"""The watchlist editor: create or edit a watchlist with a live preview of what its rules
would have matched over the last N days, and save it into ``feeds.yaml``.

The preview is an HTML fragment (``GET /watchlists/preview``) that the page's
script fetches as the analyst types (debounced); without script the Preview
button posts the form (``preview=1``) and the editor comes back with the same
fragment in place, nothing saved.  Saving goes through
:func:`monitor.config_edit.save_watchlist` with the hash of the file as it was
when the form was opened, so an edit made meanwhile (by hand or in another tab)
is refused rather than overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from monitor.config import Settings, WatchlistConfig
from monitor.watch.matcher import Document
from monitor.watch.preview import Preview, preview
from monitor.watch.stage import feed_tags
from monitor.web import views
from monitor.web.deps import WebContext, require_csrf, templates, web
from monitor.web.pages_common import formatter, not_found, render
from monitor.web.pages_editor_form import EditorForm

router = APIRouter(include_in_schema=False)

SHOWN = 30  # matched items listed in the preview (the counts cover them all)
KEPT = 5000  # matched items kept while previewing (the newest SHOWN are shown)


def _find(settings: Settings, name: str) -> WatchlistConfig | None:
    return next((w for w in settings.watchlists if w.name == name), None)


def _hash(ctx: WebContext) -> str:
    from monitor.config_edit import file_hash

    return file_hash(ctx.config_path)


def _scoped(
    documents: Iterator[tuple[int, Document]], form: EditorForm, settings: Settings
) -> Iterator[tuple[int, Document]]:
    """Only the items the watchlist's feeds: / tags: would cover, as the watch stage does."""
    feeds, tags = set(form.feeds), set(form.tags)
    if not feeds and not tags:
        yield from documents
        return
    for item_id, document in documents:
        if feeds.intersection(document.feeds) or tags.intersection(
            feed_tags(settings.feeds, document.feeds)
        ):
            yield item_id, document


def run_preview(ctx: WebContext, form: EditorForm) -> dict[str, Any]:
    """What the rules would have matched over the last ``form.days`` days: the counts,
    the newest matched items with their best snippet, the problems at rule and column."""
    settings = ctx.settings()
    since = datetime.now(UTC) - timedelta(days=form.days)
    rules = form.rules
    if not rules:
        return {"form": form, "result": None, "items": [], "rules": []}
    documents = _scoped(ctx.store.items.iter_documents(since), form, settings)
    result: Preview = preview(rules, documents, fuzzy=form.fuzzy, limit=KEPT)
    newest = result.hits[-SHOWN:][::-1]
    items = []
    for hit in newest:
        item = ctx.store.items.get(hit.item_id)
        if item is None:  # pruned meanwhile
            continue
        items.append({"hit": hit, "item": item, "rules": [rules[i] for i in hit.rules]})
    problems: dict[int, list[Any]] = {}
    for problem in result.problems:
        problems.setdefault(problem.rule_index, []).append(problem)
    rows = [
        {"index": i, "text": text, "count": result.per_rule[i], "problems": problems.get(i, [])}
        for i, text in enumerate(rules)
    ]
    return {"form": form, "result": result, "items": items, "rules": rows}


def _editor(
    request: Request,
    ctx: WebContext,
    form: EditorForm,
    editing: WatchlistConfig | None,
    *,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    action = f"/watchlists/{quote(editing.name, safe='')}/edit" if editing else "/watchlists/new"
    return render(
        request,
        "editor.html",
        {
            "nav": "new" if editing is None else "overview",
            "form": form,
            "editing": editing,
            "action": action,
            "errors": errors or [],
            "preview": run_preview(ctx, form),
            "feed_names": [f.name for f in ctx.settings().feeds],
            "config_path": str(ctx.config_path),
            "config_name": ctx.config_path.name,
        },
        status_code=status_code,
    )


def _submitted(values: Mapping[str, Any]) -> bool:
    return "rules" in values or "name" in values


@router.get("/watchlists/new")
def new_watchlist(request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    values = request.query_params
    form = EditorForm.read(values) if _submitted(values) else EditorForm()
    if not form.expected_hash:
        form.expected_hash = _hash(ctx)
    return _editor(request, ctx, form, None)


@router.get("/watchlists/preview")
def preview_fragment(request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    """The preview alone, for the editor's script (an HTML fragment, no layout)."""
    form = EditorForm.read(request.query_params)
    context = {
        "preview": run_preview(ctx, form),
        "t": formatter(ctx.zone(request)),
        "highlight": views.highlight,
    }
    return templates.TemplateResponse(request, "_preview.html", context)


@router.get("/watchlists/{name}/edit")
def edit_watchlist(
    name: str, request: Request, ctx: Annotated[WebContext, Depends(web)]
) -> Response:
    editing = _find(ctx.settings(), name)
    if editing is None:
        raise not_found(f"no watchlist named {name!r} in {ctx.config_path}")
    values = request.query_params
    form = EditorForm.read(values) if _submitted(values) else EditorForm.of(editing, "")
    if not form.expected_hash:
        form.expected_hash = _hash(ctx)
    return _editor(request, ctx, form, editing)


async def _save(request: Request, ctx: WebContext, editing: WatchlistConfig | None) -> Response:
    from monitor.config_edit import save_watchlist
    from monitor.errors import ConfigError

    values = await request.form()
    form = EditorForm.read({k: v for k, v in values.items() if isinstance(v, str)})
    if values.get("preview"):  # the Preview button without script: show, save nothing
        return _editor(request, ctx, form, editing)
    settings = ctx.settings()
    taken = [w.name for w in settings.watchlists if editing is None or w.name != editing.name]
    errors = form.problems(taken)
    if errors:
        return _editor(request, ctx, form, editing, errors=errors, status_code=400)
    try:
        save_watchlist(
            ctx.config_path,
            form.mapping(editing),
            replace=editing.name if editing else None,
            expected_hash=form.expected_hash or None,
        )
    except ConfigError as exc:
        # config_edit's words for a file changed since expected_hash was taken
        conflict = "edited the file since" in str(exc) or "contents changed" in str(exc)
        if conflict:
            message = (
                f"{ctx.config_path} was changed by someone else since this form was opened, "
                "so nothing was saved. Copy your rules, reload the page to see the current "
                f"file, and make your change again. ({exc})"
            )
        else:
            message = str(exc)
        return _editor(
            request, ctx, form, editing, errors=[message], status_code=409 if conflict else 400
        )
    target = f"/watchlists/{quote(form.name, safe='')}?saved=1"
    return RedirectResponse(target, status_code=303)


@router.post("/watchlists/new", dependencies=[Depends(require_csrf)])
async def create_watchlist(request: Request, ctx: Annotated[WebContext, Depends(web)]) -> Response:
    return await _save(request, ctx, None)


@router.post("/watchlists/{name}/edit", dependencies=[Depends(require_csrf)])
async def update_watchlist(
    name: str, request: Request, ctx: Annotated[WebContext, Depends(web)]
) -> Response:
    editing = _find(ctx.settings(), name)
    if editing is None:
        raise not_found(f"no watchlist named {name!r} in {ctx.config_path}")
    return await _save(request, ctx, editing)
