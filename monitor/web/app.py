"""The console's FastAPI app: the pages, the API, Atom, static files, auth, headers.

:func:`build_web_app` is the one place that knows the order: the auth
middleware outside everything (so no path escapes it), the security headers
on every response, JSON errors naming the parameter for the API paths.
Interactive docs (``/docs``) are off: they load scripts from a CDN, which the
Content-Security-Policy forbids; ``/openapi.json`` describes the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor import __version__
from monitor.web.deps import STATIC, WebContext
from monitor.web.sessions import (
    ASGIApp,
    AuthMiddleware,
    Message,
    Receive,
    Scope,
    Send,
    is_json_path,
)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    kinds = {"query": "query parameter", "path": "path parameter", "body": "body field"}
    if not loc:
        return "request"
    head, *rest = loc
    name = ".".join(str(p) for p in rest) or str(head)
    return f"{kinds.get(str(head), str(head))} {name!r}" if rest else name


def validation_message(exc: RequestValidationError) -> str:
    """One line per bad parameter: which one, what was wrong, the value given."""
    lines = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            loc = error.get("loc", ())
            at = f" at character {loc[-1]}" if len(loc) > 1 else ""
            reason = (error.get("ctx") or {}).get("error", "")
            lines.append(f"request body: not valid JSON{at}" + (f" ({reason})" if reason else ""))
            continue
        given = error.get("input")
        shown = f" (got {given!r})" if given is not None and not isinstance(given, dict) else ""
        lines.append(f"{_where(error.get('loc', ()))}: {error.get('msg', 'invalid')}{shown}")
    return "; ".join(lines) or "invalid request"


def build_web_app(context: WebContext) -> FastAPI:
    """The console over ``context`` (settings, store, auth policy)."""
    from monitor.web import api, api_edit, atom_routes, pages, sessions

    app = FastAPI(
        title="monitor console API",
        version=__version__,
        description="The media monitor's items, matches, feeds, watchlists and search. "
        "Authentication (when the console is not bound to localhost): "
        "`Authorization: Bearer TOKEN`.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.web = context
    app.include_router(api.router)
    app.include_router(api_edit.router)
    app.include_router(atom_routes.router)
    app.include_router(sessions.router)
    app.include_router(pages.router)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        message = validation_message(exc)
        if is_json_path(request.url.path):
            return JSONResponse({"detail": message}, status_code=422)
        return _page_error(request, 422, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such path: {request.url.path} (the API is described at /openapi.json)"
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {request.url.path}"
        if is_json_path(request.url.path) or not isinstance(detail, str):
            return JSONResponse(
                {"detail": detail}, status_code=exc.status_code, headers=exc.headers
            )
        return _page_error(request, exc.status_code, detail, exc.headers)

    app.add_middleware(AuthMiddleware, policy=context.auth, throttle=context.throttle)
    app.add_middleware(SecurityHeaders)  # outermost (added last): 401s get them too
    return app


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response (and ``no-store`` to the API's);
    refuses a path or query parameter with a NUL character (400 naming it): no text
    column, file name or log line should get one, and PostgreSQL refuses them with an
    error that would otherwise be a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = is_json_path(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        bad = _nul_parameter(scope)
        if bad is not None:
            detail = f"{bad}: contains a NUL character (%00), which text cannot hold"
            await JSONResponse({"detail": detail}, status_code=400)(
                scope, receive, send_with_headers
            )
            return
        await self.app(scope, receive, send_with_headers)


def _nul_parameter(scope: Scope) -> str | None:
    """Where a NUL character is in the request's path or query, or None."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return f"query parameter {name!r}"
    return "query"


def _page_error(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An HTML error page when the pages offer one (``pages.error_page``), else JSON."""
    from monitor.web import pages

    render = getattr(pages, "error_page", None)
    if render is not None:
        response: Response = render(request, status, message)
        return response
    return JSONResponse({"detail": message}, status_code=status, headers=dict(headers or {}))
