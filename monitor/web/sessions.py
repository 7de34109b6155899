"""The auth middleware and the login routes (the rule itself: :mod:`monitor.web.auth`).

A pure ASGI middleware, so that it runs before routing for every path (pages,
API, Atom, static files) and can add the session cookie to any response.  It
sets ``request.state.user``, ``.session_nonce`` (the CSRF tokens' seed) and
``.auth_via`` (``local``, ``bearer``, ``session``, ``token`` or ``anonymous``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import Headers, QueryParams

from monitor.web.auth import SESSION_COOKIE, SESSION_MAX_AGE, AuthPolicy
from monitor.web.deps import require_csrf, templates, web
from monitor.web.throttle import LoginThrottle

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = frozenset({"/login", "/favicon.ico"})


def is_json_path(path: str) -> bool:
    """Paths whose errors are JSON (and whose 401 is not a login page)."""
    return path.startswith("/api/") or path in ("/api", "/openapi.json") or is_atom_path(path)


def is_atom_path(path: str) -> bool:
    return path.startswith("/watchlists/") and path.endswith("/atom")


def session_cookie(policy: AuthPolicy, value: str, https: bool = False) -> str:
    """The Set-Cookie value; ``Secure`` when the console is reached over HTTPS (a TLS
    proxy in front of it) or ``policy.secure_cookie`` says so."""
    secure = "; Secure" if policy.secure_cookie or https else ""
    return (
        f"{SESSION_COOKIE}={value}; Path=/; Max-Age={SESSION_MAX_AGE}; HttpOnly; "
        f"SameSite=Lax{secure}"
    )


class AuthMiddleware:
    """Finds the user of every HTTP request, or answers 401 (see the module doc)."""

    def __init__(self, app: ASGIApp, policy: AuthPolicy, throttle: LoginThrottle) -> None:
        self.app = app
        self.policy = policy
        self.throttle = throttle

    def _check(self, scope: Scope, token: str) -> str | float | None:
        return check_token(self.policy, self.throttle, client_address(scope), token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy
        headers = Headers(scope=scope)
        path: str = scope["path"]
        if not policy.host_allowed(headers.get("host", "")):
            await _plain(send, 400, "this console answers only requests to localhost (Host)")
            return
        state = scope.setdefault("state", {})
        https = scope.get("scheme") == "https"
        session = _session(policy, headers)
        new_cookie: str | None = None
        user, nonce, via = "", session[1] if session else "", "anonymous"
        if not policy.required:
            user, via = policy.local_user, "local"
        else:
            bearer = _bearer(headers)
            if bearer is not None:
                found = self._check(scope, bearer)
                if isinstance(found, float):
                    await _too_many(scope, send, found)
                    return
                if found is None:
                    await _unauthorized(scope, send, "the bearer token is not valid")
                    return
                user, via = found, "bearer"
            elif session and session[0]:
                user, via = session[0], "session"
            elif is_atom_path(path) and (token := QueryParams(scope["query_string"]).get("token")):
                found = self._check(scope, token)
                if isinstance(found, float):
                    await _too_many(scope, send, found)
                    return
                if found is not None:
                    user, via = found, "token"
        if via in ("local", "anonymous") and not session:
            new_cookie = policy.make_session(user)
            session = policy.read_session(new_cookie)
            nonce = session[1] if session else ""
        state.update(user=user, session_nonce=nonce if via != "bearer" else "", auth_via=via)
        if not user and not (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)):
            await _unauthorized(scope, send, "log in first", receive, new_cookie, policy)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and new_cookie is not None:
                current = message.setdefault("headers", [])
                mine = f"{SESSION_COOKIE}=".encode()
                if any(k.lower() == b"set-cookie" and v.startswith(mine) for k, v in current):
                    await send(message)  # the route set a session of its own (login)
                    return
                message["headers"] = [
                    *message["headers"],
                    (b"set-cookie", session_cookie(policy, new_cookie, https).encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def check_token(
    policy: AuthPolicy, throttle: LoginThrottle, address: str, token: str
) -> str | float | None:
    """The user of ``token``; the seconds to wait when ``address`` is blocked
    (:mod:`monitor.web.throttle`); None for a wrong token, which is counted."""
    now = time.monotonic()
    wait = throttle.wait(address, now)
    if wait:
        return wait
    found = policy.user_for(token) if token else None
    if found is None:
        throttle.failed(address, now)
    else:
        throttle.succeeded(address)
    return found


def client_address(scope: Scope) -> str:
    """The address the request came from (a proxy's, behind one)."""
    client = scope.get("client")
    return str(client[0]) if client else ""


def too_many_message(wait: float) -> str:
    minutes = max(1, round(wait / 60))
    return (
        f"too many wrong tokens from this address: try again in {minutes} min "
        "(a right token is refused too until then)"
    )


async def _too_many(scope: Scope, send: Send, wait: float) -> None:
    body = json.dumps({"detail": too_many_message(wait)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(round(wait)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _session(policy: AuthPolicy, headers: Headers) -> tuple[str, str] | None:
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE:
            return policy.read_session(value)
    return None


def _bearer(headers: Headers) -> str | None:
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _unauthorized(
    scope: Scope,
    send: Send,
    why: str,
    receive: Receive | None = None,
    cookie: str | None = None,
    policy: AuthPolicy | None = None,
) -> None:
    path: str = scope["path"]
    if is_json_path(path) or receive is None or policy is None:
        body = json.dumps(
            {
                "detail": f"{why}: send Authorization: Bearer TOKEN (a token of "
                "MONITOR_WEB_TOKENS or MONITOR_WEB_TOKEN)"
                + ("; Atom readers may add ?token=TOKEN" if is_atom_path(path) else "")
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="monitor"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    request = Request(scope, receive)
    target = path + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
    response = login_page(request, next_url=target, status_code=401)
    if cookie is not None:
        response.headers.append(
            "set-cookie", session_cookie(policy, cookie, scope.get("scheme") == "https")
        )
    await response(scope, receive, send)


def login_page(
    request: Request, next_url: str = "/", error: str = "", status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {"next_url": _local(next_url), "error": error},
        status_code=status_code,
    )


def _local(target: str) -> str:
    """``target`` when it is a path of this site, else ``/`` (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if web(request).auth.required and getattr(request.state, "auth_via", "") == "session":
        return RedirectResponse(_local(next), status_code=303)
    return login_page(request, next_url=next)


@router.post("/login", dependencies=[Depends(require_csrf)])
def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:
    context = web(request)
    policy = context.auth
    if not policy.required:
        return RedirectResponse(_local(next), status_code=303)
    user = check_token(policy, context.throttle, client_address(request.scope), token.strip())
    if isinstance(user, float):
        message = too_many_message(user)
        error = message[0].upper() + message[1:] + "."
        response = login_page(request, next_url=next, error=error, status_code=429)
        response.headers["Retry-After"] = str(round(user))
        return response
    if user is None:
        return login_page(request, next_url=next, error="That token is not valid.", status_code=401)
    response = RedirectResponse(_local(next), status_code=303)
    # a new session (and nonce) on login: a cookie planted before it is worth nothing
    response.headers.append(
        "set-cookie",
        session_cookie(policy, policy.make_session(user), request.url.scheme == "https"),
    )
    return response


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> Response:
    response = RedirectResponse("/login" if web(request).auth.required else "/", status_code=303)
    response.headers.append(
        "set-cookie", f"{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
    )
    return response
