"""The serving parts the HTTP endpoint (:mod:`.http`) and the web console (:mod:`.web`)
share: a listening socket bound in the caller's thread, so that a port in use is a
:class:`ConfigError` at once, and uvicorn serving an app on it in a daemon thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from monitor.errors import ConfigError

if TYPE_CHECKING:
    import uvicorn

STARTUP_TIMEOUT = 10.0  # seconds for uvicorn to start serving on the bound socket


def listen(
    host: str,
    port: int,
    *,
    unresolved: Callable[[OSError], str],
    unbound: Callable[[OSError], str],
) -> socket.socket:
    """A listening socket on ``host``:``port``; :class:`ConfigError` (exit 2) with the
    message ``unresolved(error)`` when the address is not this machine's, or
    ``unbound(error)`` when it cannot be bound (a port in use)."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(unresolved(exc)) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(unbound(exc)) from None
    return sock


def serve_in_thread(
    app: Any, sock: socket.socket, name: str, failed: str
) -> tuple[uvicorn.Server, threading.Thread]:
    """uvicorn serving ``app`` on ``sock`` in a daemon thread, once it accepts requests;
    :class:`ConfigError` ``failed`` when it does not start within :data:`STARTUP_TIMEOUT`."""
    import uvicorn

    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        sock.close()
        raise ConfigError(failed)
    return server, thread
