"""URL canonicalisation (pure).

The canonical form is the key under which an article is stored once, however
many feeds or tracking links lead to it:

* scheme and host lower-cased, default port and fragment dropped, IDN hosts
  kept as written (lower-cased) so the key stays readable;
* tracking parameters removed (``utm_*``, ``fbclid``, ``gclid`` ... see
  :data:`TRACKING_PARAMS`), the remaining query sorted, blank values kept;
* an empty path becomes ``/``; percent-encoding is normalised to upper-case
  escapes of reserved bytes only.

``canonicalize(canonicalize(u)) == canonicalize(u)`` holds for every input.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "cmpid",
        "ito",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "at_medium",
        "at_campaign",
        "ocid",
        "ref_src",
        "ref_url",
        "spm",
        "share",
        "amp",
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "hsa_", "__twitter")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that never need escaping in a path or query component.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
# "+" is not safe in a query: written back bare it would read as a space.
_QUERY_SAFE = "/:@!$'()*,;-._~?"
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalise_escapes(path: str) -> str:
    """Escape what must be escaped, unescape only unreserved bytes, upper-case the rest.

    An escaped reserved byte such as ``%2F`` keeps its meaning (it is not a
    path separator), so it is never decoded.
    """
    path = _LONE_PERCENT.sub("%25", path)

    def unescape_unreserved(m: re.Match[str]) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in _UNRESERVED else "%" + m.group(1).upper()

    return quote(_ESCAPE.sub(unescape_unreserved, path), safe=_PATH_SAFE + "%")


def is_tracking(name: str, extra: Iterable[str] = ()) -> bool:
    lowered = name.lower()
    return (
        lowered in TRACKING_PARAMS
        or lowered in extra
        or any(lowered.startswith(p) for p in TRACKING_PREFIXES)
    )


def canonicalize(url: str, base: str | None = None, extra_tracking: Iterable[str] = ()) -> str:
    """Return the canonical form of ``url`` (resolved against ``base`` if relative)."""
    url = url.strip()
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"[{host}]" if ":" in host else host
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    path = _normalise_escapes(re.sub(r"/{2,}", "/", parts.path) or "/")
    extra = frozenset(p.lower() for p in extra_tracking)
    pairs = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking(k, extra)
    ]
    pairs.sort()
    query = urlencode(pairs, quote_via=quote, safe=_QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def same_site(a: str, b: str) -> bool:
    """True when both URLs are on the same registrable-ish host (``www.`` ignored)."""

    def host(u: str) -> str:
        h = (urlsplit(u).hostname or "").lower()
        return h.removeprefix("www.")

    return bool(host(a)) and host(a) == host(b)
