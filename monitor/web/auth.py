"""Who is asking: the console's login rule, sessions and CSRF tokens.

The rule (docs in /tmp/notes/webapi-design.md):

* Bound to ``127.0.0.1``, ``::1`` or ``localhost`` with no secret in the
  environment: no login; the user is the OS user.  Every other address
  (127.0.0.2 included: the rule names addresses, not the loopback range) needs
  a login on every request, and a start without a secret is refused (exit 2).
* The secrets come only from the environment: ``MONITOR_WEB_TOKENS="ana:tok1,
  omar:tok2"`` names one token per user; ``MONITOR_WEB_TOKEN`` is one shared
  token (its user is ``web``).  Both may be set.  A secret set on a loopback
  bind turns the login on there too.
* API clients send ``Authorization: Bearer TOKEN``; browsers log in once at
  ``/login`` (the token as password) and get a signed, HttpOnly, SameSite=Lax
  session cookie; Atom readers, which cannot send headers, may add ``?token=``
  to an Atom URL (and only there: a token in a URL ends up in histories and
  proxy logs, so it is accepted where nothing else works).
* Tokens are compared in constant time; none is logged or shown.

The session cookie is ``user|issued|nonce|signature`` (HMAC-SHA256 under a key
derived from the secrets, or a random per-process key with no secrets: a
changed token ends every session made with the old one).  The CSRF token is an
HMAC of the session's nonce, so it is bound to the session.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from monitor.errors import ConfigError

TOKENS_ENV = "MONITOR_WEB_TOKENS"
TOKEN_ENV = "MONITOR_WEB_TOKEN"
SHARED_USER = "web"
SESSION_COOKIE = "monitor_session"
SESSION_MAX_AGE = 14 * 86400  # seconds a browser session lasts
LOOPBACK_BINDS = frozenset({"127.0.0.1", "::1", "localhost"})
MIN_TOKEN_LENGTH = 16


def is_loopback_bind(host: str) -> bool:
    """True for the addresses that may serve without a login (see the module doc)."""
    return host.strip("[]").lower() in LOOPBACK_BINDS


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return "local"


def parse_tokens(env: Mapping[str, str]) -> dict[str, str]:
    """``{token: user}`` from the environment; :class:`ConfigError` on a malformed value."""
    found: dict[str, str] = {}
    raw = env.get(TOKENS_ENV, "").strip()
    for index, part in enumerate(p.strip() for p in raw.split(",")):
        if not part:
            continue
        user, sep, token = part.partition(":")
        user, token = user.strip(), token.strip()
        if not sep or not user or not token:
            raise ConfigError(
                f"{TOKENS_ENV}: entry {index + 1} is not user:token; write it as "
                f'{TOKENS_ENV}="ana:TOKEN1,omar:TOKEN2"'
            )
        found[token] = user
    shared = env.get(TOKEN_ENV, "").strip()
    if shared:
        found[shared] = SHARED_USER
    for token, user in found.items():
        if len(token) < MIN_TOKEN_LENGTH:
            where = TOKEN_ENV if user == SHARED_USER and token == shared else TOKENS_ENV
            raise ConfigError(
                f"{where}: the token of {user!r} is shorter than {MIN_TOKEN_LENGTH} characters; "
                "use a long random one, e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(24))'`"
            )
    return found


@dataclass(frozen=True)
class AuthPolicy:
    """Whether a login is needed, the tokens that give one, and the signing key."""

    required: bool
    tokens: Mapping[str, str] = field(default_factory=dict)  # token -> user; never shown
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    local_user: str = field(default_factory=_local_user)
    # with no login, the Host header must name this machine (a DNS-rebinding page cannot)
    allowed_hosts: frozenset[str] = LOOPBACK_BINDS
    secure_cookie: bool = False

    def __repr__(self) -> str:  # the tokens stay out of every log line
        return f"AuthPolicy(required={self.required}, users={sorted(set(self.tokens.values()))})"

    def user_for(self, token: str) -> str | None:
        """The user of ``token``, comparing with every known token in constant time."""
        found: str | None = None
        given = token.encode()
        for known, user in self.tokens.items():
            if hmac.compare_digest(given, known.encode()):
                found = user
        return found

    # -- sessions ----------------------------------------------------------------

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self.key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def make_session(self, user: str, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        name = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
        payload = f"{name}|{issued}|{secrets.token_urlsafe(16)}"
        return f"{payload}|{self._sign(payload)}"

    def read_session(self, value: str, now: float | None = None) -> tuple[str, str] | None:
        """``(user, nonce)`` of a valid, unexpired cookie value; None otherwise."""
        parts = value.split("|")
        if len(parts) != 4:
            return None
        name, issued, nonce, signature = parts
        expected = self._sign(f"{name}|{issued}|{nonce}")
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        try:
            age = (time.time() if now is None else now) - int(issued)
            user = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        if age > SESSION_MAX_AGE or age < -300:
            return None
        return user, nonce

    def csrf_for(self, nonce: str) -> str:
        return self._sign(f"csrf|{nonce}")

    def host_allowed(self, host_header: str) -> bool:
        """With no login, only requests naming this machine as their Host are answered."""
        if self.required:
            return True
        host = host_header.strip().lower()
        if host.startswith("["):
            host = host[1 : host.find("]")] if "]" in host else host
        else:
            host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if host in self.allowed_hosts:
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def policy_for(bind: str, env: Mapping[str, str]) -> AuthPolicy:
    """The policy for a console bound to ``bind``; :class:`ConfigError` (exit 2) when a
    login is needed and the environment gives no secret."""
    tokens = parse_tokens(env)
    loopback = is_loopback_bind(bind)
    if not loopback and not tokens:
        raise ConfigError(
            f"web: bound to {bind}, which is not 127.0.0.1, ::1 or localhost, so every request "
            f'needs a login, and no secret is set: set {TOKENS_ENV}="user:token,..." or '
            f"{TOKEN_ENV}=token in the environment, or bind to 127.0.0.1"
        )
    if not tokens:
        return AuthPolicy(required=False, allowed_hosts=LOOPBACK_BINDS | {bind.lower()})
    material = "\n".join(f"{user}:{token}" for token, user in sorted(tokens.items()))
    key = hmac.new(b"monitor-web-session-v1", material.encode(), hashlib.sha256).digest()
    return AuthPolicy(required=True, tokens=dict(tokens), key=key)
