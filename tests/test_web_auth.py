"""The console's login rule: 401s, bearer tokens, the login form and its cookie, CSRF,
the Host check without a login, and a `monitor web` refused without a secret."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from monitor.errors import ConfigError
from monitor.web.auth import SESSION_COOKIE, is_loopback_bind, parse_tokens, policy_for
from tests.webdata import WebData, client, csrf_of, webdata  # noqa: F401

ANA = "ana-token-0123456789abcdef"
OMAR = "omar-token-0123456789abcdef"
ENV = {"MONITOR_WEB_TOKENS": f"ana:{ANA},omar:{OMAR}"}


@pytest.fixture(scope="module")
def guarded(webdata: WebData) -> Iterator[TestClient]:  # noqa: F811
    with client(webdata, env=ENV) as test_client:
        yield test_client


def test_the_rule_names_addresses_not_the_loopback_range() -> None:
    assert is_loopback_bind("127.0.0.1") and is_loopback_bind("::1") and is_loopback_bind("[::1]")
    assert is_loopback_bind("localhost")
    assert not is_loopback_bind("127.0.0.2") and not is_loopback_bind("0.0.0.0")


def test_tokens_from_the_environment() -> None:
    assert parse_tokens(ENV) == {ANA: "ana", OMAR: "omar"}
    assert parse_tokens({"MONITOR_WEB_TOKEN": ANA}) == {ANA: "web"}
    with pytest.raises(ConfigError, match="user:token"):
        parse_tokens({"MONITOR_WEB_TOKENS": "justatoken"})
    with pytest.raises(ConfigError, match="shorter"):
        parse_tokens({"MONITOR_WEB_TOKENS": "ana:short"})
    with pytest.raises(ConfigError, match="MONITOR_WEB_TOKENS"):
        policy_for("0.0.0.0", {})
    assert ANA not in repr(policy_for("0.0.0.0", ENV))


@pytest.mark.parametrize(
    "path", ["/api/items", "/api/feeds", "/openapi.json", "/watchlists/Iran/atom", "/api/nope"]
)
def test_every_api_path_is_401_without_a_login(guarded: TestClient, path: str) -> None:
    response = guarded.get(path)
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_pages_without_a_login_get_the_login_page(guarded: TestClient) -> None:
    response = guarded.get("/")
    assert response.status_code == 401 and 'name="token"' in response.text
    assert response.headers["content-security-policy"]


def test_a_bearer_token_names_its_user(guarded: TestClient, webdata: WebData) -> None:  # noqa: F811
    assert guarded.get("/api/feeds", headers={"Authorization": f"Bearer {ANA}"}).status_code == 200
    wrong = guarded.get("/api/feeds", headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401
    item = next(i.id for i in webdata.store.items.list(limit=None) if "mourning" in (i.title or ""))
    response = guarded.post(
        f"/api/matches/{item}/Iran/review",
        json={"state": "dismissed"},
        headers={"Authorization": f"Bearer {OMAR}"},
    )
    assert response.status_code == 200 and response.json()["by"] == "omar"  # no CSRF needed
    guarded.post(
        f"/api/matches/{item}/Iran/review",
        json={"state": "open"},
        headers={"Authorization": f"Bearer {OMAR}"},
    )


def test_atom_readers_may_pass_the_token_in_the_url(guarded: TestClient) -> None:
    assert guarded.get("/watchlists/Iran/atom", params={"token": ANA}).status_code == 200
    assert guarded.get("/watchlists/Iran/atom", params={"token": "bad"}).status_code == 401
    assert guarded.get("/api/feeds", params={"token": ANA}).status_code == 401  # Atom only


def _csrf(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_login_form_sets_a_session_cookie_and_csrf_guards_posts(webdata: WebData) -> None:  # noqa: F811
    with client(webdata, env=ENV) as browser:
        form = browser.get("/login")
        token = _csrf(form.text)
        refused = browser.post("/login", data={"token": ANA, "next": "/api/feeds"})
        assert refused.status_code == 403  # no CSRF field
        bad = browser.post("/login", data={"token": "wrong", "csrf": token})
        assert bad.status_code == 401 and "not valid" in bad.text
        response = browser.post(
            "/login",
            data={"token": ANA, "csrf": token, "next": "/api/feeds"},
            follow_redirects=False,
        )
        assert response.status_code == 303 and response.headers["location"] == "/api/feeds"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and ANA not in cookie
        assert browser.get("/api/feeds").status_code == 200
        item = next(
            i.id for i in webdata.store.items.list(limit=None) if "mourning" in (i.title or "")
        )
        path = f"/api/matches/{item}/Iran/review"
        no_token = browser.post(path, json={"state": "reviewed"})
        assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
        # the CSRF token of the logged-in session: from a page that renders a form
        csrf = csrf_of(browser)
        assert browser.cookies.get(SESSION_COOKIE)
        ok = browser.post(path, json={"state": "reviewed"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200 and ok.json()["by"] == "ana"
        browser.post(path, json={"state": "open"}, headers={"X-CSRF-Token": csrf})
        stale = browser.post(path, json={"state": "open"}, headers={"X-CSRF-Token": token})
        assert stale.status_code == 403  # the pre-login token is not this session's


def test_a_forged_cookie_is_no_login(webdata: WebData) -> None:  # noqa: F811
    with client(webdata, env=ENV) as browser:
        browser.cookies.set(SESSION_COOKIE, "YW5h|9999999999|nonce|forged")
        assert browser.get("/api/feeds").status_code == 401


def test_without_login_on_localhost_the_host_must_be_local(webdata: WebData) -> None:  # noqa: F811
    with client(webdata) as local:
        assert local.get("/api/feeds").status_code == 200
        rebound = local.get("/api/feeds", headers={"Host": "evil.example"})
        assert rebound.status_code == 400
        cross = local.post(
            "/api/watchlists/preview",
            data={"rules": "x"},
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status_code == 403


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        return int(s.getsockname()[1])


def _monitor_web(config: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "web", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_monitor_web_on_127_0_0_2_refuses_to_start_without_a_secret(webdata: WebData) -> None:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_WEB_TOKEN")}
    process = _monitor_web(webdata.config, env, "--host", "127.0.0.2", "--port", "0")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2, output
    assert "MONITOR_WEB_TOKENS" in output and "127.0.0.2" in output


@pytest.mark.slow
def test_monitor_web_on_127_0_0_2_asks_for_a_login(webdata: WebData) -> None:  # noqa: F811
    port = _free_port()
    env = {**os.environ, **ENV}
    process = _monitor_web(webdata.config, env, "--host", "127.0.0.2", "--port", str(port))
    try:
        base = f"http://127.0.0.2:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                first = httpx.get(f"{base}/api/feeds", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "did not start"
                time.sleep(0.1)
        assert first.status_code == 401
        ok = httpx.get(f"{base}/api/feeds", headers={"Authorization": f"Bearer {ANA}"})
        assert ok.status_code == 200 and ok.json()
        # ten wrong tokens from one address block it (the right token too), not another
        guesser = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.4"))
        with guesser:
            for attempt in range(10):
                wrong = {"Authorization": f"Bearer guess-{attempt:02d}-0123456789"}
                assert guesser.get(f"{base}/api/feeds", headers=wrong).status_code == 401
            blocked = guesser.get(f"{base}/api/feeds", headers={"Authorization": f"Bearer {ANA}"})
            assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 800
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.5"))
        with other:
            assert (
                other.get(
                    f"{base}/api/feeds", headers={"Authorization": f"Bearer {ANA}"}
                ).status_code
                == 200
            )
        taken = _monitor_web(webdata.config, env, "--host", "127.0.0.2", "--port", str(port))
        output, _ = taken.communicate(timeout=60)
        assert taken.returncode == 2 and f"127.0.0.2:{port}" in output
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_logout_ends_the_session(webdata: WebData) -> None:  # noqa: F811
    with client(webdata, env=ENV) as browser:
        token = _csrf(browser.get("/login").text)
        browser.post("/login", data={"token": OMAR, "csrf": token}, follow_redirects=False)
        assert browser.get("/api/feeds").status_code == 200
        out = browser.post("/logout", data={"csrf": csrf_of(browser)}, follow_redirects=False)
        assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
        browser.cookies.clear()
        assert browser.get("/api/feeds").status_code == 401


def test_the_cookie_is_secure_over_https(webdata: WebData) -> None:  # noqa: F811
    from monitor.web.app import build_web_app
    from tests.webdata import context

    app = build_web_app(context(webdata, policy_for("0.0.0.0", ENV)))
    with TestClient(app, base_url="https://127.0.0.1") as browser:
        cookie = browser.get("/login").headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
