"""What every route of the console gets: the context, the user, CSRF, the templates.

The contract the pages (:mod:`monitor.web.pages`) and the API build on:

* :class:`WebContext` on ``app.state.web``: ``settings()`` (the current
  :class:`~monitor.config.Settings`), ``store``, ``config_path``, ``auth``,
  ``throttle`` (the wrong tokens per client) and ``zone(request)``.
* :func:`web`, :func:`current_user`, :func:`csrf_token` for handlers;
  :func:`require_csrf` as the dependency of every unsafe route.
* :data:`templates`: Jinja2 over ``monitor/web/templates``, autoescaped, with
  ``csrf_token(request)``, ``current_user(request)`` and ``localtime(dt,
  request)`` (also a filter: ``{{ item.published_at | localtime(request) }}``).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from fastapi import HTTPException, Request
from fastapi.templating import Jinja2Templates

from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.storage import Store
from monitor.web.auth import AuthPolicy
from monitor.web.throttle import LoginThrottle

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
TZ_COOKIE = "tz"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _zone(name: str | None) -> ZoneInfo | None:
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass
class WebContext:
    """The console's view of the world, shared by every request."""

    settings: Callable[[], Settings]
    store: Store
    config_path: Path
    auth: AuthPolicy
    throttle: LoginThrottle = field(default_factory=LoginThrottle)  # wrong tokens per client

    def zone(self, request: Request) -> ZoneInfo:
        """The ``tz`` cookie the pages set from the browser (when it names a zone), else
        ``web.timezone``, else UTC."""
        return (
            _zone(request.cookies.get(TZ_COOKIE))
            or _zone(self.settings().web.timezone)
            or ZoneInfo("UTC")
        )


@dataclass
class FileSettings:
    """``monitor web``'s settings: feeds.yaml re-read when it changed (its mtime, size
    or inode), the last good settings kept while the file is invalid."""

    path: Path
    current: Settings
    _stat: tuple[int, int, int] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _bad: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        self._stat = self._stat_now()

    def _stat_now(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def __call__(self) -> Settings:
        now = self._stat_now()
        if now is None or now == self._stat or now == self._bad:
            return self.current
        with self._lock:
            if now == self._stat:
                return self.current
            try:
                self.current = load_settings(self.path)
            except ConfigError as exc:
                self._bad = now
                log.error(
                    "%s changed but is invalid; the console keeps the last good one: %s",
                    self.path,
                    exc,
                )
                return self.current
            self._stat = now
            log.info("%s changed: the console uses the new configuration", self.path)
        return self.current


def web(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


def current_user(request: Request) -> str:
    """The user the auth middleware found (the OS user when no login is needed)."""
    user: str = getattr(request.state, "user", "")
    return user


def csrf_token(request: Request) -> str:
    """The CSRF token of this request's session (the hidden ``csrf`` field of forms)."""
    nonce: str | None = getattr(request.state, "session_nonce", None)
    if not nonce:
        return ""
    return web(request).auth.csrf_for(nonce)


def _cross_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/").lower() != host.lower()


async def require_csrf(request: Request) -> None:
    """403 for an unsafe request that a cross-site page could have sent: one carrying
    the session cookie, or a form, or from another origin, without the session's token
    (form field ``csrf`` or header ``X-CSRF-Token``).  A request with a bearer token
    needs none: no browser adds that header by itself."""
    if request.method in SAFE_METHODS or getattr(request.state, "auth_via", "") == "bearer":
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    formish = content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/plain",
    )
    from monitor.web.auth import SESSION_COOKIE

    if not (SESSION_COOKIE in request.cookies or formish or _cross_origin(request)):
        return  # a script on this machine (curl with JSON): no browser sends that alone
    given = request.headers.get(CSRF_HEADER, "")
    if not given and formish and content_type != "text/plain":
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else ""
    expected = csrf_token(request)
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=403,
            detail="CSRF token missing or wrong: reload the page and submit the form again "
            f"(scripts: send the {CSRF_HEADER} header, or use a bearer token)",
        )


def localtime(value: datetime | None, request: Request, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``value`` in the reader's zone (see :meth:`WebContext.zone`); '' for None."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(web(request).zone(request)).strftime(fmt)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
    )
    env.globals["csrf_token"] = csrf_token
    env.globals["current_user"] = current_user
    env.globals["localtime"] = localtime
    env.filters["localtime"] = localtime
    return env


templates = Jinja2Templates(env=_environment())
