"""The limit on wrong tokens (monitor.web.throttle): the sliding window, IPv6 prefixes,
and the console refusing a blocked client's login form, bearer and Atom tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from monitor.web.auth import policy_for
from monitor.web.throttle import LoginThrottle, client_key
from tests.webdata import WebData, context, csrf_of, webdata  # noqa: F401

ANA = "ana-token-0123456789abcdef"
ENV = {"MONITOR_WEB_TOKENS": f"ana:{ANA}"}


def test_a_client_is_blocked_after_the_limit_until_its_oldest_failure_is_old() -> None:
    throttle = LoginThrottle(limit=3, window=60.0)
    for second in (0.0, 10.0, 20.0):
        assert throttle.wait("203.0.113.9", second) == 0.0
        throttle.failed("203.0.113.9", second)
    assert throttle.wait("203.0.113.9", 30.0) == pytest.approx(30.0)  # until 0 + 60
    assert throttle.wait("203.0.113.10", 30.0) == 0.0  # another client is not touched
    assert throttle.wait("203.0.113.9", 60.0) == 0.0  # the failure at 0 is out of the window
    throttle.failed("203.0.113.9", 61.0)  # 10, 20, 61: three within a minute again
    assert throttle.wait("203.0.113.9", 62.0) == pytest.approx(8.0)


def test_a_success_clears_the_count_and_the_table_is_bounded() -> None:
    throttle = LoginThrottle(limit=2, window=60.0, max_clients=3)
    throttle.failed("a", 0.0)
    throttle.succeeded("a")
    throttle.failed("a", 1.0)
    assert throttle.wait("a", 2.0) == 0.0  # one failure since the success
    for name in ("b", "c", "d"):
        throttle.failed(name, 3.0)
        throttle.failed(name, 3.0)
    assert throttle.wait("a", 4.0) == 0.0 and throttle.wait("d", 4.0) > 0  # "a" went first


def test_ipv6_clients_are_their_64_prefix() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_key("testclient") == "testclient"


def test_waits_are_never_shorter_than_a_second() -> None:
    throttle = LoginThrottle(limit=1, window=60.0)
    throttle.failed("a", 0.0)
    assert throttle.wait("a", 59.99) == 1.0


def _guarded(data: WebData, limit: int) -> TestClient:
    from monitor.web.app import build_web_app

    ctx = context(data, policy_for("0.0.0.0", ENV))
    ctx.throttle = LoginThrottle(limit=limit)
    return TestClient(build_web_app(ctx), base_url="http://127.0.0.1")


def test_the_login_form_refuses_a_blocked_client_even_with_the_right_token(
    webdata: WebData,  # noqa: F811
) -> None:
    with _guarded(webdata, limit=3) as browser:
        csrf = csrf_of(browser)
        for _ in range(3):
            bad = browser.post("/login", data={"token": "wrong-wrong-wrong", "csrf": csrf})
            assert bad.status_code == 401
        blocked = browser.post("/login", data={"token": ANA, "csrf": csrf})
        assert blocked.status_code == 429 and "Too many wrong tokens" in blocked.text
        assert 800 <= int(blocked.headers["retry-after"]) <= 900
        bearer = browser.get("/api/feeds", headers={"Authorization": f"Bearer {ANA}"})
        assert bearer.status_code == 429 and "try again in 15 min" in bearer.json()["detail"]
        atom = browser.get("/watchlists/Iran/atom", params={"token": ANA})
        assert atom.status_code == 429


def test_a_right_token_clears_the_count(webdata: WebData) -> None:  # noqa: F811
    with _guarded(webdata, limit=3) as api:
        for _ in range(5):
            for _ in range(2):
                wrong = api.get("/api/feeds", headers={"Authorization": "Bearer nope"})
                assert wrong.status_code == 401
            right = api.get("/api/feeds", headers={"Authorization": f"Bearer {ANA}"})
            assert right.status_code == 200


def test_a_session_made_before_the_block_still_works(webdata: WebData) -> None:  # noqa: F811
    with _guarded(webdata, limit=2) as browser:
        csrf = csrf_of(browser)
        browser.post("/login", data={"token": ANA, "csrf": csrf}, follow_redirects=False)
        assert browser.get("/api/feeds").status_code == 200
        for _ in range(2):
            assert (
                browser.get(
                    "/api/feeds", params={}, headers={"Authorization": "Bearer x"}
                ).status_code
                == 401
            )
        assert browser.get("/api/feeds", headers={"Authorization": "Bearer x"}).status_code == 429
        assert browser.get("/api/feeds").status_code == 200  # the cookie needs no token check
