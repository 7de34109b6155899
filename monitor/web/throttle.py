"""How many wrong tokens one client may try: the console's limit on failed logins.

Pure (the clock is passed in), used by :class:`monitor.web.sessions.AuthMiddleware`
for every way a token arrives: the ``/login`` form, ``Authorization: Bearer`` and an
Atom URL's ``?token=``.  A client is its address, an IPv6 one by its /64 (one host
usually holds the whole prefix).  After ``limit`` failures within ``window`` seconds
the client's further tries are refused (429, with ``Retry-After``) until the oldest
of those failures is ``window`` old, whether the token it sends is right or not:
guessing on stays as slow as the limit.  A success clears the client's count.

Tokens are at least 16 random characters (:data:`monitor.web.auth.MIN_TOKEN_LENGTH`),
so the limit is a second line, against a short or leaked-in-part token and against
the noise of a guessing script in the logs; behind a proxy every client has the
proxy's address and shares one count (docs/configuration.md says so).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

FAILED_LOGINS_LIMIT = 10  # failures that block a client ...
FAILED_LOGINS_WINDOW = 15 * 60.0  # ... within this many seconds
MAX_CLIENTS = 10_000  # clients remembered at once; the least recently failing go first


def client_key(address: str) -> str:
    """The client an address belongs to: itself, or its /64 for IPv6."""
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address  # not an IP (a Unix socket, a test client): itself
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass
class LoginThrottle:
    """Failed token checks per client, within a sliding window (see the module doc)."""

    limit: int = FAILED_LOGINS_LIMIT
    window: float = FAILED_LOGINS_WINDOW
    max_clients: int = MAX_CLIENTS
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    # the login route runs in a worker thread, the bearer and Atom checks on the event loop
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wait(self, address: str, now: float) -> float:
        """Seconds ``address`` must wait before its next try; 0 when it may try now."""
        with self._lock:
            times = self._failures.get(client_key(address))
            if times is None:
                return 0.0
            while times and now - times[0] >= self.window:
                times.popleft()
            if len(times) < self.limit:
                return 0.0
            return max(self.window - (now - times[0]), 1.0)

    def failed(self, address: str, now: float) -> None:
        """Counts one wrong token from ``address``; logs when the client becomes blocked."""
        key = client_key(address)
        with self._lock:
            times = self._failures.pop(key, None) or deque(maxlen=self.limit)
            times.append(now)
            self._failures[key] = times  # the most recently failing last
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
            blocked = len(times) == self.limit and now - times[0] < self.window
        if blocked:
            log.warning(
                "web: %d wrong tokens from %s within %d min: its logins are refused for "
                "up to %d min",
                self.limit,
                key,
                round(self.window / 60),
                round(self.window / 60),
            )

    def succeeded(self, address: str) -> None:
        """A right token from ``address``: its count starts again."""
        with self._lock:
            self._failures.pop(client_key(address), None)
