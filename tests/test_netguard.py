"""The private-network guard's pure parts: address classes, host spellings, URL vetting.

Nothing here touches the network: the ``no_network`` fixture makes any socket
connection or name lookup fail the test, so public addresses such as 8.8.8.8 are
classified without ever being contacted.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest

from monitor.pipeline.netguard import (
    AddressRefused,
    address_class,
    canonical_host,
    literal_address,
    refusal_message,
    vet_address,
    vet_url,
)

HINT = (
    "article pages and feeds on private networks are only fetched for a feed with "
    "allow_private: true (its own host)"
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def forbidden(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the guard's pure functions must not use the network")

    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket.socket, "connect_ex", forbidden)
    monkeypatch.setattr(socket, "getaddrinfo", forbidden)
    monkeypatch.setattr(socket, "gethostbyname", forbidden)
    yield


PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "9.255.255.255",  # just below 10/8
    "11.0.0.0",  # just above 10/8
    "100.63.255.255",  # just below 100.64/10
    "100.128.0.0",  # just above
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.255",
    "192.0.3.0",
    "192.167.255.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",  # the last unicast address before multicast
    "2606:4700::1",
    "2001:4860:4860::8888",
    "2a00:1450:4001:80b::200e",
    "2001:200::1",  # just above 2001::/23
    "2001:db7:ffff::1",  # just below 2001:db8::/32
    "::ffff:8.8.8.8",  # IPv4-mapped public
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "3fff:1000::1",  # just above 3fff::/20
]


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert address_class(address) is None


REFUSED = [
    # IPv4
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "reserved"),
    ("0.255.255.255", "reserved"),
    ("10.0.0.0", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.0", "shared (carrier-grade NAT)"),
    ("100.127.255.255", "shared (carrier-grade NAT)"),
    ("127.0.0.1", "loopback"),
    ("127.0.0.2", "loopback"),
    ("127.255.255.255", "loopback"),
    ("169.254.0.1", "link-local"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("172.16.0.0", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.1", "documentation"),
    ("192.88.99.1", "reserved"),
    ("192.168.0.1", "private"),
    ("192.168.255.255", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.255", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.254", "reserved"),
    ("255.255.255.255", "broadcast"),
    # IPv6
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("0:0:0:0:0:0:0:1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:7f00:2", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
    ("::8.8.8.8", "reserved"),  # IPv4-compatible is never routed, even for a public one
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("64:ff9b::c0a8:101", "private"),  # NAT64 of 192.168.1.1
    ("64:ff9b:1::1", "private"),  # local-use NAT64
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
    ("2002:a9fe:a9fe::", "link-local"),
    ("100::1", "reserved"),  # discard-only
    ("2001::1", "reserved"),  # Teredo
    ("2001:1ff:ffff::1", "reserved"),  # the top of 2001::/23
    ("2001:db8::1", "documentation"),
    ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation"),
    ("3fff::1", "documentation"),
    ("fc00::1", "private"),
    ("fd12:3456:789a::1", "private"),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("febf:ffff::1", "link-local"),
    ("fec0::1", "private"),  # deprecated site-local
    ("ff02::1", "multicast"),
    ("ff05::2", "multicast"),
    ("1::1", "reserved"),  # outside 2000::/3
    ("4000::1", "reserved"),
    ("5f00::1", "reserved"),
    ("fe00::1", "reserved"),
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_non_public_addresses_are_classified(address: str, kind: str) -> None:
    assert address_class(address) == kind


def test_address_objects_are_accepted() -> None:
    assert address_class(IPv4Address("127.0.0.1")) == "loopback"
    assert address_class(IPv6Address("fe80::1")) == "link-local"
    assert address_class(IPv4Address("8.8.8.8")) is None
    assert address_class(IPv6Address("2606:4700::1")) is None


@pytest.mark.parametrize("text", ["example.com", "", "127.0.0.256", "::g"])
def test_a_non_address_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        address_class(text)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),  # shorthand the resolver accepts too
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("2130706433", "127.0.0.1"),  # one 32-bit number
        ("0xa9fea9fe", "169.254.169.254"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ],
)
def test_literal_address_reads_every_spelling(host: str, address: str) -> None:
    found = literal_address(host)
    assert found is not None
    assert str(found) == address


@pytest.mark.parametrize("host", ["example.com", "localhost", "cafe.be", "deadbeef", "1e100.net"])
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(
    ("host", "canonical"),
    [
        ("Example.COM.", "example.com"),
        ("news.example", "news.example"),
        ("[::1]", "::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("127.1", "127.0.0.1"),
        ("B\u00fccher.example", "xn--bcher-kva.example"),
    ],
)
def test_canonical_host(host: str, canonical: str) -> None:
    assert canonical_host(host) == canonical


def test_refusal_names_the_address_its_class_and_what_to_do() -> None:
    assert refusal_message("127.0.0.2", "127.0.0.2", "loopback") == (
        f"refused: 127.0.0.2 is a loopback address; {HINT}"
    )
    assert refusal_message("intranet.example", "10.1.2.3", "private") == (
        f"refused: intranet.example resolves to 10.1.2.3, a private address; {HINT}"
    )
    assert refusal_message("::", "::", "unspecified").startswith(
        "refused: :: is an unspecified address;"
    )


def test_vet_address_honours_only_the_allowed_host() -> None:
    loopback = IPv4Address("127.0.0.1")
    vet_address("intranet.example", loopback, "INTRANET.example.")  # allowed: no exception
    vet_address("news.example", IPv4Address("8.8.8.8"), None)  # public: no exception
    with pytest.raises(AddressRefused) as refused:
        vet_address("other.example", loopback, "intranet.example")
    assert (refused.value.host, refused.value.address, refused.value.kind) == (
        "other.example",
        "127.0.0.1",
        "loopback",
    )
    assert "other.example resolves to 127.0.0.1, a loopback address" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("javascript:alert(1)", "javascript"),
        ("data:text/html,<p>hi</p>", "data"),
        ("file:///etc/passwd", "file"),
        ("ftp://127.0.0.1/feed.xml", "ftp"),
        ("gopher://127.0.0.1:70/_GET", "gopher"),
        ("ws://news.example/socket", "ws"),
        ("FILE:///etc/passwd", "file"),
    ],
)
def test_vet_url_refuses_other_schemes(url: str, scheme: str) -> None:
    assert vet_url(url, None) == f"refused: {scheme}: URLs are not fetched (only http and https)"
    assert vet_url(url, "127.0.0.1") is not None  # an allowance does not change the scheme rule


def test_vet_url_refuses_a_url_without_scheme_or_host() -> None:
    assert vet_url("news.test/feed/", None) == (
        "invalid URL 'news.test/feed/': no http:// or https:// scheme"
    )
    problem = vet_url("http:///feed/", None)
    assert problem is not None
    assert "no host" in problem


@pytest.mark.parametrize(
    ("url", "shown", "kind"),
    [
        ("http://127.0.0.2:8080/feed/", "127.0.0.2", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
        ("http://[::1]/", "::1", "loopback"),
        ("http://[::ffff:192.168.1.1]/", "::ffff:c0a8:101", "private"),
        ("http://2130706433/", "127.0.0.1", "loopback"),
        ("http://0x7f.1/", "127.0.0.1", "loopback"),
        ("http://10.0.0.1/", "10.0.0.1", "private"),
        ("http://0/", "0.0.0.0", "unspecified"),  # which Linux connects to as localhost
        ("http://0.0.0.0:8080/", "0.0.0.0", "unspecified"),
        ("http://[fe80::1%25eth0]/", "fe80::1", "link-local"),
    ],
)
def test_vet_url_refuses_private_literals(url: str, shown: str, kind: str) -> None:
    problem = vet_url(url, None)
    assert problem is not None
    assert problem.startswith("refused: ")
    assert shown in problem
    assert f"{kind} address" in problem
    assert problem.endswith(HINT)


def test_vet_url_passes_public_literals_names_and_the_allowed_host() -> None:
    assert vet_url("http://8.8.8.8/", None) is None
    assert vet_url("https://[2606:4700::1]/feed", None) is None
    assert vet_url("https://news.example/feed", None) is None  # names are vetted at connect
    assert vet_url("http://127.0.0.2:8080/feed/", "127.0.0.2") is None
    assert vet_url("http://[::1]/", "[::1]") is None
    assert vet_url("http://[::1]/", "::1") is None
    assert vet_url("http://127.0.0.2/", "127.0.0.1") is not None  # another loopback host
