"""The private-network guard: which addresses the fetcher may connect to.

Article links come from third parties, so a feed entry (or a redirect) could
point the fetcher at the machine's own services, the office network or a
cloud metadata endpoint (SSRF).  Only public addresses are fetched, except on
the one host a feed with ``allow_private: true`` names (SECURITY.md).

Three layers, each closing a gap the previous one leaves:

* :func:`vet_url`, pure, before any request and on every redirect hop: the
  scheme must be http or https, and a host written as an address (``127.1``,
  ``[::ffff:10.0.0.1]``) is classified without touching the network;
* :class:`GuardedBackend`, at connect time: the host name is resolved here
  (``loop.getaddrinfo``), *every* address is vetted and the socket is opened to
  a vetted address, so a name cannot resolve once for a check and again, to
  something else, for the connection (DNS rebinding).  TLS still sends the
  host name as SNI, because httpcore passes it to ``start_tls`` itself;
* :class:`GuardedStream`, before each request is written: a pooled keep-alive
  connection opened for an allowed private host is not reused by a request
  that lacks that allowance.

The allowance travels with each request in its ``extensions``
(:func:`guard_extensions`); :class:`GuardedTransport` turns it into a context
variable for the duration of the request, which the backend and the streams
read (httpcore connects and writes in the requesting task).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import ipaddress
import os
import re
import socket
import ssl
import typing
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import httpcore
import httpx

IPAddress = IPv4Address | IPv6Address

# Checked in order; the first network containing the address names its class.
_V4_CLASSES: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), kind)
    for net, kind in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "reserved"),  # "this network"
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),  # includes 169.254.169.254, cloud metadata
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),  # former 6to4 relay anycast
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_V6_CLASSES: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), kind)
    for net, kind in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "private"),  # local-use NAT64 (RFC 8215)
        ("100::/64", "reserved"),  # discard-only
        ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo included
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "private"),  # unique local
        ("fe80::/10", "link-local"),
        ("fec0::/10", "private"),  # deprecated site-local
        ("ff00::/8", "multicast"),
    )
)
_GLOBAL_UNICAST = IPv6Network("2000::/3")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")
_V4_COMPATIBLE = IPv6Network("::/96")
_V4_LIKE = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)
ALLOWED_SCHEMES = ("http", "https")
_HINT = (
    "article pages and feeds on private networks are only fetched for a feed with "
    "allow_private: true (its own host)"
)


@functools.lru_cache(maxsize=4096)  # pure, and asked for every connection and request
def address_class(ip: str | IPv4Address | IPv6Address) -> str | None:
    """The class of an address the fetcher refuses (``"loopback"``, ...), None if public.

    IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the address they carry, so
    ``::ffff:127.0.0.1`` is loopback and ``64:ff9b::8.8.8.8`` public; the deprecated
    IPv4-compatible ``::a.b.c.d`` is never public.  Anything outside IPv6 global
    unicast (2000::/3) that no rule names is reserved.  A string that is not an
    address raises ``ValueError``.
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, IPv6Address):
        address = IPv6Address(address.packed)  # drop a %scope; it does not change the class
        embedded = _embedded_v4(address)
        if embedded is not None:
            return _v4_class(embedded)
        if address in _V4_COMPATIBLE and int(address) > 1:  # deprecated, never routed
            return _v4_class(IPv4Address(int(address) & 0xFFFFFFFF)) or "reserved"
        for network, kind in _V6_CLASSES:
            if address in network:
                return kind
        return None if address in _GLOBAL_UNICAST else "reserved"
    return _v4_class(address)


def _v4_class(address: IPv4Address) -> str | None:
    for network, kind in _V4_CLASSES:
        if address in network:
            return kind
    return None


def _embedded_v4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@functools.lru_cache(maxsize=4096)
def canonical_host(host: str) -> str:
    """A host name or address in the one spelling used to compare it with ``allow_host``.

    Lower case, no trailing dot, no IPv6 brackets, IDNA (punycode) for
    non-ASCII names, and addresses in their compressed form.
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    address = literal_address(name)
    if address is not None:
        return str(address)
    if not name.isascii():
        # a name httpx cannot encode is left as it is: it only ever equals itself
        with contextlib.suppress(httpx.InvalidURL, UnicodeError):
            name = httpx.URL(scheme="http", host=name).raw_host.decode("ascii").rstrip(".")
    return name


@functools.lru_cache(maxsize=4096)
def literal_address(host: str) -> IPAddress | None:
    """The address a host written as a number stands for, or None for a name.

    Besides the usual forms this takes the shorthand ``inet_aton`` (and so the
    resolver) accepts, such as ``127.1``, ``0x7f.0.0.1`` and ``2130706433``.
    """
    name = host.strip("[]")
    try:
        return IPv6Address(name) if ":" in name else IPv4Address(name)  # a %scope is kept
    except ValueError:
        pass
    if _V4_LIKE.match(name):
        try:
            return IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def refusal_message(host: str, address: str, kind: str) -> str:
    """What a user reads: the host, the address, its class and what to do about it."""
    if canonical_host(host) == canonical_host(address):
        what = f"{address} is {_article(kind)} {kind} address"
    else:
        what = f"{host} resolves to {address}, {_article(kind)} {kind} address"
    return f"refused: {what}; {_HINT}"


class Refused(Exception):
    """A request the guard will not let out; its message is the user-facing reason."""


class AddressRefused(Refused):
    """A connection to a non-public address without the allowance."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        self.host, self.address, self.kind = host, address, kind
        super().__init__(refusal_message(host, address, kind))


def _allowed(host: str, allow_host: str | None) -> bool:
    return allow_host is not None and canonical_host(host) == canonical_host(allow_host)


def vet_address(host: str, address: IPAddress, allow_host: str | None) -> None:
    """Raise :class:`AddressRefused` unless ``address`` is public or ``host`` is allowed."""
    kind = address_class(address)
    if kind is not None and not _allowed(host, allow_host):
        raise AddressRefused(host, str(address), kind)


def vet_url(url: str | httpx.URL, allow_host: str | None) -> str | None:
    """Why this URL must not be requested, or None; pure, no name is resolved.

    Called before the first request and before every redirect hop.  Host names
    are vetted at connect time by :class:`GuardedBackend`, once resolved.
    """
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
    except httpx.InvalidURL as exc:
        return f"invalid URL {str(url)!r}: {exc}"
    scheme = parsed.scheme.lower()
    if not scheme:
        return f"invalid URL {str(url)!r}: no http:// or https:// scheme"
    if scheme not in ALLOWED_SCHEMES:
        return f"refused: {scheme}: URLs are not fetched (only http and https)"
    host = parsed.host
    if not host:
        return f"invalid URL {str(url)!r}: no host"
    address = literal_address(host)
    if address is not None:
        try:
            vet_address(host, address, allow_host)
        except AddressRefused as exc:
            return str(exc)
    return None


# --- the guard at connect time -----------------------------------------------------------------

GUARD_EXTENSION = "monitor.allow_host"
_ALLOW_HOST: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "monitor_allow_host", default=None
)


def guard_extensions(allow_host: str | None) -> dict[str, typing.Any]:
    """Request extensions that carry the one host that may be private for this request."""
    return {GUARD_EXTENSION: canonical_host(allow_host) if allow_host else None}


class GuardedStream(httpcore.AsyncNetworkStream):
    """A connection that remembers what it was vetted for, checked again before each request."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, host: str, address: IPAddress) -> None:
        self._inner, self._host, self._address = inner, host, address

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # A pooled connection to an allowed private host, picked up by a request
        # without that allowance, is refused before a byte of the request is sent.
        vet_address(self._host, self._address, _ALLOW_HOST.get())
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return GuardedStream(tls, self._host, self._address)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, but it resolves, vets, and connects to a vetted address."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()  # what httpx picks on asyncio

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        allow_host = _ALLOW_HOST.get()
        addresses = await self._resolve(host, port, timeout)
        for address in addresses:  # all of them first: one bad address refuses the name
            vet_address(host, address, allow_host)
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return GuardedStream(stream, host, address)
        assert failure is not None  # _resolve returns at least one address
        raise failure

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        literal = literal_address(host)
        if literal is not None:
            return [literal]
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout}s") from exc
        except OSError as exc:  # socket.gaierror: the fetcher reads it from __cause__
            raise httpcore.ConnectError(str(exc)) from exc
        addresses: list[IPAddress] = []
        for *_, sockaddr in infos:
            try:
                address = ipaddress.ip_address(str(sockaddr[0]))  # keeps a %scope
            except ValueError:
                continue  # not an IP family; nothing httpcore could connect to either
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no IPv4 or IPv6 address")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the fetcher")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once for each trust setting (``SSL_CERT_FILE``,
    ``SSL_CERT_DIR``): loading the CA bundle costs about 25 ms of CPU, which every poll
    (a fresh :class:`~monitor.pipeline.fetch.Fetcher`) paid when each built its own.
    A context may be shared by clients, event loops and threads."""
    return _ssl_context_for(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _ssl_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads the same two variables


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a :class:`GuardedBackend`, the allowance taken from each request.

    Environment proxies are not used (httpx ignores them when a transport is
    given): through a proxy the guard would vet the proxy, not the site.
    """

    def __init__(
        self, limits: httpx.Limits, inner_backend: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        ssl_context = shared_ssl_context()
        super().__init__(verify=ssl_context, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(  # the same pool, on the guarded backend
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(inner_backend),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        allow_host = request.extensions.get(GUARD_EXTENSION)
        problem = vet_url(request.url, allow_host)
        if problem is not None:  # the fetcher checks first; this catches any other caller
            raise Refused(problem)
        token = _ALLOW_HOST.set(allow_host)
        try:
            return await super().handle_async_request(request)
        finally:
            _ALLOW_HOST.reset(token)
