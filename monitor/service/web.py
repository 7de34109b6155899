"""The web console inside ``monitor run`` (when ``web.enabled``), and the serving parts
``monitor web`` shares with it.

The console gets a socket of its own (``web.bind``:``web.port``, 127.0.0.1:8080 by
default), apart from ``/healthz`` and ``/metrics``: the two are exposed to different
people (monitoring vs analysts), with different auth.  Like the HTTP endpoint, the
socket is bound in the main thread before the scheduler starts, so a port in use
stops the service at once (exit 2, naming the address); a login needed with no
secret in the environment stops it the same way.  uvicorn runs in a daemon thread;
the console reads ``service.settings`` on every request, so a reload reaches it.
``web.bind`` and ``web.port`` themselves take effect at the next start.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from monitor.config import Settings
from monitor.service.serving import listen, serve_in_thread

if TYPE_CHECKING:
    import uvicorn

    from monitor.service.core import Service

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0


def bind_socket(host: str, port: int, how: str) -> socket.socket:
    """A listening socket; :class:`ConfigError` (exit 2) naming the address if not.
    ``how`` says what sets the address (``web.bind/web.port`` or ``--host/--port``)."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return listen(
        host,
        port,
        unresolved=lambda exc: (
            f"web console: cannot listen on {shown}: {exc}; set {how} to an address of this "
            "machine (127.0.0.1 by default)"
        ),
        unbound=lambda exc: (
            f"web console: cannot listen on {shown}: {exc.strerror or exc}. Another process "
            f"may hold the port: stop it, or choose another port with {how}"
        ),
    )


def serve_console(
    app: Any, sock: socket.socket, name: str
) -> tuple[uvicorn.Server, threading.Thread]:
    """uvicorn serving the console on ``sock`` in a daemon thread (see .serving)."""
    return serve_in_thread(
        app, sock, name, "web console: the server did not start (see the log above)"
    )


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class WebConsole:
    """The component serving the console inside the service (see the module doc)."""

    name = "web"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings.web
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None  # where it listens, once started

    def start(self, service: Service) -> None:
        if not self._settings.enabled:
            return
        from monitor.web.app import build_web_app
        from monitor.web.auth import policy_for
        from monitor.web.deps import WebContext

        web = self._settings
        policy = policy_for(web.bind, os.environ)
        sock = bind_socket(web.bind, web.port, "web.bind and web.port in the config")
        context = WebContext(
            settings=lambda: service.settings,
            store=service.store,
            config_path=service.settings.config_path,
            auth=policy,
        )
        self._server, self._thread = serve_console(build_web_app(context), sock, "web-console")
        self.url = url_of(sock)
        login = "login required" if policy.required else "no login (localhost)"
        log.info("web console listening on %s (%s)", self.url, login)

    def reconfigure(self, settings: Settings) -> None:
        new = settings.web
        if (new.enabled, new.bind, new.port) != (
            self._settings.enabled,
            self._settings.bind,
            self._settings.port,
        ):
            log.warning(
                "web.enabled, web.bind or web.port changed in the config; the console keeps "
                "its socket until the service restarts"
            )

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            log.warning("web console: still shutting down after %.0fs; leaving it", STOP_TIMEOUT)
