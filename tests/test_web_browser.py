"""The console in headless Chromium: a real server on 127.0.0.1 over a database filled
through the real pipeline (tests/webdata.py), at a laptop size and a phone size.

Debian's /usr/bin/chromium is driven by Playwright (never a downloaded browser);
every request that is not to the console is aborted.  Screenshots are saved as
artifacts (``$MONITOR_TEST_ARTIFACTS`` when set, else the test's tmp dir); with
``MONITOR_WRITE_DOCS_SCREENSHOTS=1`` the laptop ones are also written to
``docs/web-*.png`` (the README shows them).  Without a browser the tests are
skipped with the reason, except under CI=true.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from ruamel.yaml import YAML

from monitor.config import load_settings
from tests.conftest import IN_CI, Site
from tests.webdata import HOSTILE_TITLE, WebData, context, fill

CHROMIUM = os.environ.get("MONITOR_CHROMIUM", "/usr/bin/chromium")
DOCS = Path(__file__).resolve().parent.parent / "docs"
WRITE_DOCS = os.environ.get("MONITOR_WRITE_DOCS_SCREENSHOTS") == "1"
SIZES = {"laptop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844}}
ZONE = "Asia/Beirut"

pytestmark = pytest.mark.slow


def _need_browser() -> None:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI=true but no browser at {CHROMIUM}; install the chromium package")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium, or set MONITOR_CHROMIUM)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


HEAD_COMMENT = "# the desk's feeds and watchlists (this comment must survive the console)"


def with_comments(data: WebData) -> WebData:
    """The filled config rewritten as YAML with comments (webdata writes JSON)."""
    raw = json.loads(data.config.read_text(encoding="utf-8"))
    raw["watchlists"][0]["recipients"] = ["desk@example.org"]  # a digest to preview
    out = io.StringIO()
    YAML().dump(raw, out)
    body = out.getvalue()
    body = body.replace("watchlists:\n", "# what the desk follows\nwatchlists:\n", 1)
    data.config.write_text(f"{HEAD_COMMENT}\n{body}# end\n", encoding="utf-8")
    return replace(data, settings=load_settings(data.config))


class Console:
    """``build_web_app`` served by uvicorn in a thread, on 127.0.0.1."""

    def __init__(self, data: WebData) -> None:
        import uvicorn

        from monitor.web.app import build_web_app

        self.data = data
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            build_web_app(context(data)), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Console:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    _need_browser()
    directory = tmp_path_factory.mktemp("webbrowser")
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    site = Site(server)
    server.expect_request(re.compile(".*")).respond_with_handler(site.handle)
    try:
        data = with_comments(fill(directory, f"sqlite:///{directory / 'monitor.db'}", site))
        try:
            with Console(data) as running:
                yield running
        finally:
            data.store.close()
    finally:
        server.clear()
        server.stop()


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(params=list(SIZES))
def page(request: pytest.FixtureRequest, browser: Any, console: Console) -> Iterator[Any]:
    size = request.param
    ctx = browser.new_context(viewport=SIZES[size], timezone_id=ZONE, locale="en-GB")
    allowed = console.url + "/"

    def guard(route: Any) -> None:
        if route.request.url.startswith(allowed):
            route.continue_()
        else:
            route.abort()  # nothing leaves the machine

    ctx.route("**/*", guard)
    if "overview" not in request.node.name:
        # the zone cookie console.js would set (the overview test watches it do so), so
        # no first-visit reload races the test's clicks
        ctx.add_cookies([{"name": "tz", "value": ZONE, "url": console.url}])
    tab = ctx.new_page()
    tab.size = size
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.errors = errors
    try:
        yield tab
    finally:
        ctx.close()


def shoot(page: Any, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot as an artifact; the laptop one also in docs/ when asked."""
    shot = tmp_path / f"web-{name}-{page.size}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5_000
    artifacts = os.environ.get("MONITOR_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / shot.name)
    if WRITE_DOCS and page.size == "laptop":
        shutil.copy(shot, DOCS / f"web-{name}.png")
    return shot


def no_horizontal_scroll(page: Any) -> None:
    """Readable on a phone: nothing wider than the screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, f"{width}px wide at {page.size}"


def test_overview_and_feeds(page: Any, console: Console, tmp_path: Path) -> None:
    page.goto(console.url + "/")
    # the first visit: console.js sets the zone cookie and reloads once, in that zone
    page.locator("footer", has_text=ZONE).wait_for(timeout=10_000)
    assert page.title() == "Watchlists · monitor"
    cards = page.locator("section.watchlist")
    assert cards.count() == 2
    assert "Iran" in cards.first.inner_text() and "unreviewed" in cards.first.inner_text()
    # the tz cookie the script set is the browser's zone, and the page says it
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies.get("tz") == ZONE
    no_horizontal_scroll(page)
    shoot(page, "overview", tmp_path)
    page.click("nav >> text=Feeds")
    page.wait_for_url("**/feeds")
    rows = page.locator("table.feeds tbody tr")
    assert rows.count() == 3
    assert "Gulf Wire" in page.inner_text("table.feeds")
    no_horizontal_scroll(page)
    shoot(page, "feeds", tmp_path)
    assert page.errors == []


def test_search_then_item(page: Any, console: Console, tmp_path: Path) -> None:
    page.goto(console.url + "/search")
    page.fill("main input[name=q]", "Soleimani")
    page.press("main input[name=q]", "Enter")
    page.wait_for_url("**/search?q=Soleimani*")
    results = page.locator("article.match")
    assert results.count() >= 2
    marks = [m.lower() for m in page.locator("article.match mark").all_inner_texts()]
    assert "soleimani" in marks
    # the hostile title is text, and no injected script ran nor image loaded
    assert HOSTILE_TITLE in page.inner_text("main")
    assert page.evaluate("window.alerted") is None
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    no_horizontal_scroll(page)
    shoot(page, "search", tmp_path)
    # a real article of the fixture site (not the hostile one) for the item page
    page.locator("article.match h3 a", has_text="Palestinian delegation").click()
    page.wait_for_url("**/items/*")
    assert page.locator("section#matches").count() == 1
    assert page.locator(".item-text mark").count() >= 1
    assert "where it came from" in page.inner_text("main")
    no_horizontal_scroll(page)
    shoot(page, "item", tmp_path)
    assert page.errors == []


def test_mark_a_match_reviewed(page: Any, console: Console, tmp_path: Path) -> None:
    store = console.data.store
    page.goto(console.url + "/watchlists/Iran?review=open")
    first = page.locator("article.match").first
    item_id = int(first.get_attribute("id").removeprefix("item-"))
    no_horizontal_scroll(page)
    shoot(page, "matches", tmp_path)
    first.locator("button[data-state=reviewed]").click()
    page.wait_for_load_state("load")
    assert "/watchlists/Iran" in page.url
    review = store.reviews.get(item_id, "Iran")
    assert review is not None and review.state == "reviewed"
    # the unreviewed list no longer shows it
    assert page.locator(f"article#item-{item_id}").count() == 0
    page.goto(console.url + f"/items/{item_id}?watchlist=Iran")
    assert "reviewed" in page.locator("section#matches").inner_text()
    store.reviews.set(item_id, "Iran", "open", by="test")  # the other size starts afresh
    assert page.errors == []


def test_create_a_watchlist_through_its_preview(
    page: Any, console: Console, tmp_path: Path
) -> None:
    name = f"Hormuz {page.size}"
    page.goto(console.url + "/")
    page.click("nav >> text=New watchlist")
    page.wait_for_url("**/watchlists/new")
    page.fill("input[name=name]", name)
    box = page.locator("#preview")
    assert "Write a rule" in box.inner_text()
    page.locator("textarea[name=rules]").type("Soleimani\nGaza AND (", delay=5)
    # the preview follows the typing: the broken rule at its column, the good one counted
    box.locator(".problem").first.wait_for(timeout=10_000)
    assert "rule 2, column" in box.inner_text()
    page.locator("textarea[name=rules]").fill("Soleimani\nGaza OR Hamas")  # one input event
    # (the page's policy allows no eval, so waits are on elements, not on script)
    box.locator(".problem").first.wait_for(state="detached", timeout=10_000)
    box.locator(".preview-item").first.wait_for(timeout=10_000)
    rows = box.locator("table.per-rule tbody tr")
    assert rows.count() == 2
    counts = [int(rows.nth(i).locator("td.num").inner_text()) for i in range(2)]
    assert counts[0] >= 1 and counts[1] >= 1
    assert box.locator("mark").count() >= 1
    assert HOSTILE_TITLE not in box.inner_html()  # escaped, if shown at all
    no_horizontal_scroll(page)
    shoot(page, "editor", tmp_path)
    page.click("button[name=save]")
    page.wait_for_url("**/watchlists/Hormuz*")
    text = console.data.config.read_text(encoding="utf-8")
    assert text.startswith(HEAD_COMMENT) and "# what the desk follows" in text
    assert text.rstrip().endswith("# end")
    saved = next(w for w in load_settings(console.data.config).watchlists if w.name == name)
    assert [r.query for r in saved.rules] == ["Soleimani", "Gaza OR Hamas"]
    # the new watchlist's page says it was saved and how it takes effect
    assert "picks it up" in page.inner_text("main")
    assert page.errors == []


def test_digest_preview(page: Any, console: Console, tmp_path: Path) -> None:
    page.goto(console.url + "/digest/Iran")
    assert "desk@example.org" in page.inner_text("main")
    frame = page.frame_locator("iframe.digest")
    frame.locator("body").wait_for()
    assert "Soleimani" in frame.locator("body").inner_text()
    no_horizontal_scroll(page)
    if page.size == "laptop":
        shoot(page, "digest", tmp_path)
    assert page.errors == []
