"""Saving watchlists into feeds.yaml from the API (the console's editor does the same
through its form): ``PUT`` and ``DELETE /api/watchlists/{name}``.

The file keeps its comments and layout (:mod:`monitor.config_edit` splices the
watchlist's lines); the result is validated before it replaces the file, so a bad rule
is a 422 with its line and column and the file is untouched.  ``expected_hash`` (the
``config_hash`` a GET returned) makes a save refuse, with 409, to overwrite a file
someone else changed meanwhile.  The running service picks the change up by its reload.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field

from monitor.errors import ConfigError
from monitor.web.api_models import RuleText, Text
from monitor.web.deps import WebContext, require_csrf, web

router = APIRouter(prefix="/api", tags=["api"])
WebDep = Annotated[WebContext, Depends(web)]
Name = Annotated[str, Path(min_length=1, max_length=200)]


class WatchlistIn(BaseModel):
    rules: list[RuleText] = Field(min_length=1, max_length=500)
    feeds: list[Text] = Field(default_factory=list)
    tags: list[Text] = Field(default_factory=list)
    fuzzy: bool = False
    rename_to: Text | None = Field(default=None, min_length=1, max_length=200)
    expected_hash: str | None = Field(
        default=None, description="the config_hash of a previous read: 409 if it changed"
    )


class SavedOut(BaseModel):
    name: str
    created: bool
    config_hash: str = Field(description="the file's sha256 after the change")


class HashOut(BaseModel):
    config_hash: str


def _check_hash(context: WebContext, expected: str | None) -> None:
    from monitor.config_edit import file_hash

    if expected is not None and file_hash(context.config_path) != expected:
        raise HTTPException(
            409,
            detail=f"{context.config_path} changed since it was read (expected_hash): "
            "read the watchlist again and make the change on the new version",
        )


@router.get("/config-hash", response_model=HashOut, summary="feeds.yaml's hash, for saves")
def config_hash(context: WebDep) -> HashOut:
    from monitor.config_edit import file_hash

    return HashOut(config_hash=file_hash(context.config_path))


@router.put(
    "/watchlists/{name}",
    response_model=SavedOut,
    summary="Create or replace a watchlist in feeds.yaml (comments and layout kept)",
    dependencies=[Depends(require_csrf)],
    responses={409: {"description": "the file changed"}, 422: {"description": "invalid"}},
)
def save(context: WebDep, name: Name, body: WatchlistIn) -> SavedOut:
    from monitor.config_edit import file_hash, save_watchlist

    _check_hash(context, body.expected_hash)
    existing = {w.name for w in context.settings().watchlists}
    mapping: dict[str, Any] = {"name": body.rename_to or name, "rules": body.rules}
    if body.feeds:
        mapping["feeds"] = body.feeds
    if body.tags:
        mapping["tags"] = body.tags
    if body.fuzzy:
        mapping["fuzzy"] = True
    created = name not in existing
    try:
        save_watchlist(
            context.config_path,
            mapping,
            replace=None if created else name,
            expected_hash=body.expected_hash,
        )
    except ConfigError as exc:
        status = 409 if "someone else edited" in str(exc) else 422
        raise HTTPException(status, detail=str(exc)) from None
    return SavedOut(
        name=mapping["name"], created=created, config_hash=file_hash(context.config_path)
    )


@router.delete(
    "/watchlists/{name}",
    response_model=HashOut,
    summary="Remove a watchlist from feeds.yaml (its stored matches stay)",
    dependencies=[Depends(require_csrf)],
    responses={404: {"description": "no such watchlist"}, 409: {"description": "changed"}},
)
def delete(context: WebDep, name: Name, expected_hash: str | None = None) -> HashOut:
    from monitor.config_edit import delete_watchlist, file_hash

    _check_hash(context, expected_hash)
    try:
        delete_watchlist(context.config_path, name, expected_hash=expected_hash)
    except ConfigError as exc:
        status = 404 if "no watchlist named" in str(exc) else 422
        raise HTTPException(status, detail=str(exc)) from None
    return HashOut(config_hash=file_hash(context.config_path))
