"""The console's HTML pages: one router made of a module per page group.

* ``/`` and ``/watchlists/{name}``, triage (:mod:`monitor.web.pages_watchlists`)
* ``/watchlists/new``, ``/watchlists/{name}/edit``, ``/watchlists/preview``
  (:mod:`monitor.web.pages_editor`): registered first, so ``new`` and
  ``preview`` are not taken for watchlist names
* ``/items/{id}`` (:mod:`monitor.web.pages_items`), ``/feeds``
  (:mod:`monitor.web.pages_feeds`), ``/search`` (:mod:`monitor.web.pages_search`),
  ``/digest/{watchlist}`` (:mod:`monitor.web.pages_digest`)

:func:`error_page` is what the app shows for an HTTP error on a page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from monitor.web import (
    pages_digest,
    pages_editor,
    pages_feeds,
    pages_items,
    pages_search,
    pages_watchlists,
)
from monitor.web.pages_common import render

router = APIRouter(include_in_schema=False)
for _module in (
    pages_editor,
    pages_watchlists,
    pages_items,
    pages_feeds,
    pages_search,
    pages_digest,
):
    router.include_router(_module.router)

HEADINGS = {
    400: "That request is not right",
    401: "Log in first",
    403: "Not allowed",
    404: "Not found",
    409: "Changed meanwhile",
    422: "That request is not right",
}


def error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An HTTP error as a page of the console, saying what was wrong."""
    response = render(
        request,
        "error.html",
        {
            "status": status,
            "heading": HEADINGS.get(status, "Something went wrong"),
            "message": message,
        },
        status_code=status,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
