"""The HTML digest as a mail client's browser engine shows it: headless Chromium.

Debian's /usr/bin/chromium is driven by Playwright (never a downloaded browser).
The screenshot is saved as a test artifact: under pytest's tmp dir, and also in
``$MONITOR_TEST_ARTIFACTS`` when that is set (CI collects it).  Without a
browser the test is skipped with the reason, except under CI=true.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.deliver.digest import DigestItem, Hit, build
from monitor.deliver.render import render
from tests.conftest import IN_CI

CHROMIUM = os.environ.get("MONITOR_CHROMIUM", "/usr/bin/chromium")
HOSTILE = '<img src=x onerror="window.pwned=1"> Soleimani <script>window.pwned=2</script>'


def sample_items() -> list[DigestItem]:
    """A morning's matches: one story carried by four outlets, two single ones, a revision."""

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 12, 2, hour, minute, tzinfo=UTC)

    story = (
        "Mourners filled the streets of Kerman for the funeral of General Qassem «Soleimani», "
        "the commander killed"
    )
    return [
        DigestItem(
            1,
            "Crowds mourn Soleimani in Kerman",
            "https://wire.example/kerman",
            ("Wire Service",),
            at(4, 10),
            at(4, 12),
            1,
            1,
            (Hit(0, "Soleimani", "Soleimani", story),),
            ("Wire Service", "Gazette", "Herald", "Daily"),
        ),
        *[
            DigestItem(
                i,
                "Crowds mourn Soleimani in Kerman",
                f"https://{name.lower()}.example/k",
                (name,),
                at(5, 30),
                at(5, 31),
                1,
                1,
                (Hit(0, "Soleimani", "Soleimani", story),),
            )
            for i, name in ((2, "Gazette"), (3, "Herald"), (4, "Daily"))
        ],
        DigestItem(
            5,
            "Quds Force names Soleimani's successor",
            "https://levant.example/quds",
            ("Levant Ledger",),
            at(2, 45),
            at(2, 50),
            None,
            3,
            (
                Hit(
                    0,
                    "Soleimani",
                    "Soleimani",
                    "…took over after «Soleimani» was killed in January, state media said",
                ),
            ),
        ),
        DigestItem(
            6,
            "Tanker seized in the Strait of Hormuz",
            "https://gulf.example/hormuz",
            ("Gulf Wire",),
            at(1, 5),
            at(1, 7),
            None,
            1,
            (
                Hit(
                    1,
                    "Hormuz",
                    "Hormuz",
                    "A tanker was seized in the Strait of «Hormuz» on Monday, the navy said",
                ),
            ),
        ),
        DigestItem(
            7,
            HOSTILE,
            "javascript:window.pwned=3",
            ("Gazette",),
            at(3, 0),
            at(3, 0),
            None,
            1,
            (Hit(0, "Soleimani", "Soleimani", HOSTILE.replace("Soleimani", "«Soleimani»")),),
        ),
    ]


def test_html_digest_renders_in_headless_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI=true but no browser at {CHROMIUM}; install the chromium package")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium, or set MONITOR_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    view = build(
        "axis",
        sample_items(),
        datetime(2026, 12, 1, 4, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 5, 0, tzinfo=UTC),
        "Asia/Beirut",
    )
    page_html = render(view).html
    shot = tmp_path / "digest.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 720, "height": 900})
            page.route("**/*", lambda route: route.abort())  # nothing leaves the machine
            page.set_content(page_html, wait_until="load")
            assert page.evaluate("window.pwned") is None  # no injected script ran
            assert page.locator("img").count() == 0 and page.locator("script").count() == 0
            marks = page.locator("mark").all_inner_texts()
            assert marks.count("Soleimani") == 3 and "Hormuz" in marks
            hrefs = page.eval_on_selector_all("a", "els => els.map(e => e.href)")
            assert hrefs and all(h.startswith("https://") for h in hrefs), hrefs
            assert "Also in: 3 outlets (Daily, Gazette, Herald)" in page.inner_text("body")
            assert "revised (version 3)" in page.inner_text("body")
            assert "2026-12-02 06:10 EET" in page.inner_text("body")  # 04:10 UTC in Beirut
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    artifacts = os.environ.get("MONITOR_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "digest.png")
