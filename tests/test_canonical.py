"""URL canonicalisation: examples, then properties over generated http(s) URLs."""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.pipeline.canonical import canonicalize, is_tracking


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://News.Example.COM/Path/Story", "http://news.example.com/Path/Story"),
        ("https://EXAMPLE.com", "https://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?b=2#x?y=1", "https://example.com/a?b=2"),
    ],
)
def test_scheme_host_port_fragment(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


def test_tracking_parameters_are_removed() -> None:
    url = (
        "https://example.com/story?utm_source=rss&utm_medium=feed&UTM_Campaign=x"
        "&fbclid=abc&gclid=def&mc_cid=123&id=7"
    )
    assert canonicalize(url) == "https://example.com/story?id=7"


def test_only_tracking_parameters_leave_no_query() -> None:
    assert canonicalize("https://example.com/a?utm_source=x&fbclid=y") == "https://example.com/a"


def test_remaining_query_is_sorted_and_blank_values_kept() -> None:
    url = "https://example.com/a?z=1&b=&a=2&a=1"
    assert canonicalize(url) == "https://example.com/a?a=1&a=2&b=&z=1"


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/2026/01/story", "https://example.com/feed/", "https://example.com/2026/01/story"),
        ("../b?utm_source=x", "https://example.com/a/c/", "https://example.com/a/b"),
        ("story", "https://example.com/news/index.html", "https://example.com/news/story"),
        ("https://other.org/x", "https://example.com/", "https://other.org/x"),
    ],
)
def test_relative_url_is_resolved_against_base(url: str, base: str, expected: str) -> None:
    assert canonicalize(url, base=base) == expected


def test_extra_tracking_parameters() -> None:
    url = "https://example.com/a?ref=rss&Source=home&id=3"
    assert canonicalize(url, extra_tracking=["REF", "source"]) == "https://example.com/a?id=3"
    assert canonicalize(url) == "https://example.com/a?Source=home&id=3&ref=rss"


def test_non_http_urls_are_left_alone() -> None:
    assert canonicalize("mailto:Someone@Example.com") == "mailto:Someone@Example.com"


def test_ipv6_host_keeps_its_brackets() -> None:
    # urlsplit().hostname strips the brackets; without them the port is glued to the address.
    assert canonicalize("http://[::1]:8080/x") == "http://[::1]:8080/x"


def test_escaped_slash_is_idempotent() -> None:
    once = canonicalize("http://example.com/a/%2F/b")
    assert canonicalize(once) == once


def test_literal_plus_in_a_query_value_survives() -> None:
    # ``%2B`` is a literal "+"; written back unescaped it reads as a space.
    out = canonicalize("https://example.com/search?q=c%2B%2B")
    assert parse_qsl(urlsplit(out).query, keep_blank_values=True) == [("q", "c++")]


# -- properties -------------------------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), max_codepoint=0x2FFF)
    | st.sampled_from("%+&=;/?#é日 ~"),
    max_size=8,
)
_RAW_SEGMENT = st.lists(
    st.sampled_from([*"abcXYZ019-._~!$&'()*+,;=:@é日%", "%41", "%2f", "%7E", "%zz"]),
    max_size=6,
).map("".join)
_SEGMENT = _RAW_SEGMENT | _TEXT.map(lambda s: quote(s, safe=""))
_HOST = st.sampled_from(
    ["example.com", "Example.COM", "news.example.org.", "bücher.example", "localhost", "a.b.c"]
)
_PORT = st.sampled_from(["", ":80", ":443", ":8080"])
_KEY = _TEXT | st.sampled_from(["utm_source", "UTM_medium", "fbclid", "gclid", "mc_cid", "id"])
_PAIRS = st.lists(st.tuples(_KEY, _TEXT), max_size=5)


@st.composite
def http_urls(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """An http(s) URL and the decoded (key, value) pairs of its query."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    path = "/".join(draw(st.lists(_SEGMENT, max_size=5)))
    if path and draw(st.booleans()):
        path = "/" + path
    pairs = draw(_PAIRS)
    plus = draw(st.booleans())
    query = urlencode(pairs) if plus else urlencode(pairs, quote_via=quote)
    fragment = draw(st.sampled_from(["", "#top", "#a=b"]))
    netloc = draw(_HOST) + draw(_PORT)
    url = f"{scheme}://{netloc}{'/' if path and not path.startswith('/') else ''}{path}"
    if query or draw(st.booleans()):
        url += "?" + query
    return url + fragment, pairs


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(http_urls())
@example(("http://example.com/%2F", []))
@example(("http://example.com/?q=%2B", [("q", "+")]))
def test_canonicalize_is_idempotent(generated: tuple[str, list[tuple[str, str]]]) -> None:
    url, _ = generated
    once = canonicalize(url)
    assert canonicalize(once) == once


@FAST
@given(http_urls())
@example(("http://example.com/?q=%2B", [("q", "+")]))
def test_no_non_tracking_query_pair_is_dropped(
    generated: tuple[str, list[tuple[str, str]]],
) -> None:
    url, pairs = generated
    assert parse_qsl(urlsplit(url).query, keep_blank_values=True) == pairs  # generator sanity
    out = Counter(parse_qsl(urlsplit(canonicalize(url)).query, keep_blank_values=True))
    kept = Counter((k, v) for k, v in pairs if not is_tracking(k))
    assert kept - out == Counter()
    assert all(not is_tracking(k) for k, _ in out)
