"""End to end: watchlists matched at ingest, listed, exported, re-evaluated, backfilled.

The articles are the fixture site's (``tests/fixtures/pages``): the funeral
report spells the commander "Qassem Soleimani", "Qasem Soleimani" and
"Solemaini", and names "Hamas" (never in capitals).  Everything runs through
``monitor run --once`` on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner
from werkzeug import Request, Response

from monitor.cli import app
from monitor.config import load_settings
from monitor.storage import Store
from monitor.watch.matcher import Match
from tests.conftest import Site

runner = CliRunner()
FUNERAL = "/2020/01/07/funeral-report/"


def monitor(config: Path, *args: str) -> str:
    result = runner.invoke(
        app, ["--config", str(config), *args], catch_exceptions=False, env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def levant(site: Site) -> dict[str, Any]:
    return {"name": "Levant Ledger", "url": site.url("/feed/"), "tags": ["levant"]}


def gulf(site: Site) -> dict[str, Any]:
    return {"name": "Gulf Wire", "url": site.url("/gulf/feed.atom"), "tags": ["gulf"]}


def matches_by_item(config: Path) -> dict[str, list[Match]]:
    """canonical path -> matches, from the database."""
    with Store.open(load_settings(config).database_url) as store:
        items = {i.id: i.canonical_url for i in store.items.iter_all()}
        found = store.matches.for_items(list(items))
    return {items[i].split("://", 1)[1].split("/", 1)[1]: m for i, m in found.items()}


def watchlist(**fields: Any) -> dict[str, Any]:
    return {"name": "Iran", **fields}


def test_matches_are_stored_at_ingest_with_position_and_snippet(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = write_config(
        [levant(site)], watchlists=[watchlist(rules=["Qassem Soleimani", "Haniyeh NEAR/8 Hamas"])]
    )
    output = monitor(config, "run", "--once")
    assert "matched a watchlist" in output
    found = matches_by_item(config)
    funeral = found["2020/01/07/funeral-report/"]
    phrase = [m for m in funeral if m.rule == "Qassem Soleimani"]
    assert [m.matched for m in phrase if m.field == "text"] == ["Qassem Soleimani"]
    hit = next(m for m in phrase if m.field == "text")
    with Store.open(load_settings(config).database_url) as store:
        item = next(i for i in store.items.iter_all() if i.canonical_url.endswith(FUNERAL))
    assert (item.text or "")[hit.start : hit.end] == "Qassem Soleimani"
    assert "Qassem Soleimani" in hit.snippet and len(hit.snippet) < 400
    assert any(m.rule == "Haniyeh NEAR/8 Hamas" for m in funeral)
    assert not any(m.fuzzy for m in funeral)  # fuzzy is off: "Solemaini" is not a hit


def test_fuzzy_watchlist_matches_spelling_variants_and_is_flagged(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = write_config([levant(site)], watchlists=[watchlist(fuzzy=True, rules=["Soleimani"])])
    monitor(config, "run", "--once")
    funeral = matches_by_item(config)["2020/01/07/funeral-report/"]
    variants = {m.matched for m in funeral if m.fuzzy}
    assert variants == {"Solemaini"}
    assert {m.matched for m in funeral if not m.fuzzy} == {"Soleimani"}


def test_case_sensitive_rule_and_field_scope(site: Site, write_config: Callable[..., Path]) -> None:
    config = write_config(
        [levant(site)],
        watchlists=[
            watchlist(
                rules=[
                    {"query": "HAMAS", "case_sensitive": True},
                    "title:Soleimani",
                    "author:Ledger",
                ]
            )
        ],
    )
    monitor(config, "run", "--once")
    funeral = matches_by_item(config)["2020/01/07/funeral-report/"]
    assert not [m for m in funeral if m.rule == "HAMAS"]  # the text says "Hamas"
    title_hits = [m for m in funeral if m.rule == "title:Soleimani"]
    assert title_hits and {m.field for m in title_hits} == {"title"}
    assert {m.field for m in funeral if m.rule == "author:Ledger"} == {"author"}


def test_watchlist_scope_by_feed_and_tag(site: Site, write_config: Callable[..., Path]) -> None:
    config = write_config(
        [levant(site), gulf(site)],
        watchlists=[
            {"name": "Gulf desk", "rules": ["Soleimani"], "tags": ["gulf"]},
            {"name": "Levant desk", "rules": ["Soleimani"], "feeds": ["Levant Ledger"]},
        ],
    )
    monitor(config, "run", "--once")
    found = matches_by_item(config)
    # The funeral report is carried by the Levant Ledger only.
    assert {m.watchlist for m in found["2020/01/07/funeral-report/"]} == {"Levant desk"}


def test_matches_list_and_export_carry_the_matches(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = write_config([levant(site)], watchlists=[watchlist(rules=["Soleimani"])])
    monitor(config, "run", "--once")
    table = monitor(config, "matches", "list", "--watchlist", "Iran")
    assert "Soleimani" in table and "Iran" in table
    lines = monitor(config, "matches", "list", "--hits", "--json").splitlines()
    records = [json.loads(line) for line in lines]
    assert records and all(r["watchlist"] == "Iran" and r["matched"] for r in records)
    items = [json.loads(line) for line in monitor(config, "matches", "list", "--json").splitlines()]
    assert len(items) == len({r["item_id"] for r in records})  # one row per item
    assert all(i["watchlist"] == "Iran" and i["rules"] == ["Soleimani"] for i in items)
    assert sum(i["hits"] for i in items) == len(records)
    export = monitor(config, "items", "export", "--format", "jsonl").splitlines()
    rows = {json.loads(line)["canonical_url"]: json.loads(line) for line in export}
    funeral = rows[site.url(FUNERAL)]
    assert {m["matched"] for m in funeral["matches"]} == {"Soleimani"}
    assert all({"rule", "field", "start", "end", "snippet"} <= m.keys() for m in funeral["matches"])
    assert "Iran" in monitor(config, "watchlists", "list")


def test_backfill_applies_a_new_watchlist_and_replaces_a_changed_one(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = write_config([levant(site)])
    monitor(config, "run", "--once")
    assert matches_by_item(config) == {}
    config = write_config([levant(site)], watchlists=[watchlist(rules=["Haniyeh"])])
    output = monitor(config, "watchlists", "backfill", "Iran")
    assert "3 items checked, 1 matched" in output
    assert {m.matched for m in matches_by_item(config)["2020/01/07/funeral-report/"]} == {"Haniyeh"}
    config = write_config([levant(site)], watchlists=[watchlist(rules=["Kerman"])])
    monitor(config, "watchlists", "backfill", "Iran")
    assert {m.matched for m in matches_by_item(config)["2020/01/07/funeral-report/"]} == {"Kerman"}


def test_backfill_of_an_unknown_watchlist_is_a_usage_error(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = write_config([levant(site)], watchlists=[watchlist(rules=["Haniyeh"])])
    result = runner.invoke(app, ["--config", str(config), "watchlists", "backfill", "Irn"])
    assert result.exit_code == 2
    assert "no watchlist named 'Irn'" in result.output and "'Iran'" in result.output


def test_a_revision_is_matched_again(site: Site, write_config: Callable[..., Path]) -> None:
    state = {"version": 1}
    paragraph = (
        "<p>Officials in Baghdad met on {day} to discuss the withdrawal of foreign troops, "
        "a question that has divided the parliament since the strike near the airport. "
        "{who} was mentioned by several speakers, who argued about the consequences for "
        "the region and about the security of the convoys that cross the border every week. "
        "The session ended without a vote and will resume after the holiday.</p>"
    )

    def page(_: Request) -> Response:
        who = "Soleimani" if state["version"] == 1 else "The commander"
        day = "Monday" if state["version"] == 1 else "Tuesday"
        body = "".join(paragraph.format(day=day, who=who) for _ in range(3))
        html = (
            "<html lang='en'><head><title>Baghdad session</title></head><body><article>"
            f"<h1>Baghdad session</h1>{body}</article></body></html>"
        )
        return Response(html, content_type="text/html; charset=utf-8")

    def feed(_: Request) -> Response:
        date = (
            "Mon, 06 Jan 2020 10:00:00 +0000"
            if state["version"] == 1
            else ("Tue, 07 Jan 2020 10:00:00 +0000")
        )
        rss = (
            "<?xml version='1.0'?><rss version='2.0'><channel><title>Desk</title>"
            f"<link>{site.base}/</link><item><title>Baghdad session</title>"
            f"<link>{site.url('/baghdad/')}</link><guid>baghdad-1</guid>"
            f"<pubDate>{date}</pubDate></item></channel></rss>"
        )
        return Response(rss, content_type="application/rss+xml")

    site.route("/baghdad/", page)
    site.route("/desk.rss", feed)
    config = write_config(
        [{"name": "Desk", "url": site.url("/desk.rss")}],
        watchlists=[watchlist(rules=["Soleimani"])],
    )
    monitor(config, "run", "--once")
    assert {m.matched for m in matches_by_item(config)["baghdad/"]} == {"Soleimani"}
    state["version"] = 2
    output = monitor(config, "run", "--once")
    assert "1 revised" in output, output
    assert "baghdad/" not in matches_by_item(config)  # the new text no longer names him


ARABIC_PAGE = """<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>جنازة في طهران</title></head><body><nav><a href="/">الرئيسية</a></nav>
<article><h1>مئات الآلاف يشيعون القائد في طهـــران</h1>
<p>طهران — شارك مئات الآلاف من المشيعين يوم الاثنين في جنازة قاسِم سُليماني، قائد فيلق
القدس في الحرس الثوري، الذي قُتل في غارة قرب مطار بغداد يوم الجمعة الماضي.</p>
<p>وقال مسؤولون في الجمهورية الإسلامية إن وفداً من الفصائل الفلسطينية وصل إلى العاصمة مساء
الأحد للمشاركة في المراسم، وإن الوفد سيلتقي عدداً من المسؤولين قبل مغادرته.</p>
<p>وتجمعت الحشود منذ الفجر قرب جامعة طهران حيث أقيمت الصلاة على النعوش، وتوقفت حركة السير في
وسط المدينة معظم ساعات الصباح بسبب كثافة المشاركين في الموكب.</p>
<p>ومن المقرر نقل الجثمان يوم الثلاثاء إلى مدينة كرمان، مسقط رأس القائد، لدفنه هناك، وقال
المسؤولون إن الإجراءات الأمنية على طول الطريق ستُشدَّد بعد حجم التجمعات في المدن.</p>
</article><footer>جميع الحقوق محفوظة</footer></body></html>"""


def test_arabic_and_persian_spellings_match_through_the_pipeline(
    site: Site, write_config: Callable[..., Path]
) -> None:
    """Tashkeel, tatweel, alef maqsura, ta marbuta, hamza on alef and Persian yeh fold away."""
    site.serve("/ar/funeral/", ARABIC_PAGE, "text/html; charset=utf-8")
    rss = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>عربي</title>"
        f"<link>{site.base}/ar/</link><item><title>جنازة في طهـــران</title>"
        f"<link>{site.url('/ar/funeral/')}</link><guid>ar-1</guid>"
        "<pubDate>Mon, 06 Jan 2020 10:00:00 +0000</pubDate></item></channel></rss>"
    )
    site.serve("/ar/feed.rss", rss, "application/rss+xml; charset=utf-8")
    rules = [
        "قاسم سليمانى",  # alef maqsura for ya; the text has tashkeel
        "سلیمانی",  # Persian yeh
        "الجمهوريه الاسلاميه",  # ta marbuta as ha, bare alef for hamza-on-alef
        "title:طهران",  # the feed's title (which the item keeps) writes it with tatweel
    ]
    config = write_config(
        [{"name": "Arabic desk", "url": site.url("/ar/feed.rss"), "language": "ar"}],
        watchlists=[watchlist(rules=rules)],
    )
    monitor(config, "run", "--once")
    found = matches_by_item(config)["ar/funeral/"]
    by_rule = {rule: {m.matched for m in found if m.rule == rule} for rule in rules}
    assert by_rule[rules[0]] == {"قاسِم سُليماني"}
    assert by_rule[rules[1]] == {"سُليماني"}
    assert by_rule[rules[2]] == {"الجمهورية الإسلامية"}
    assert by_rule[rules[3]] == {"طهـــران"}


def test_a_feed_in_scope_that_carries_a_stored_item_later_brings_its_matches(
    site: Site, write_config: Callable[..., Path]
) -> None:
    """The truce story is stored from the Levant Ledger, outside the Gulf desk's scope;
    when the Gulf Wire (tagged gulf) is added and carries it too, it is matched then,
    without a backfill, and a later backfill keeps when each hit was first found."""
    desk = {"name": "Gulf desk", "rules": ["Rafah"], "tags": ["gulf"]}
    config = write_config([levant(site)], watchlists=[desk])
    monitor(config, "run", "--once")
    assert "2020/01/08/second-story/" not in matches_by_item(config)

    config = write_config([levant(site), gulf(site)], watchlists=[desk])
    output = monitor(config, "run", "--once")
    assert "matched a watchlist" in output
    story = matches_by_item(config)["2020/01/08/second-story/"]
    assert {(m.watchlist, m.matched) for m in story} == {("Gulf desk", "Rafah")}

    with Store.open(load_settings(config).database_url) as store:
        first = [(m.record, m.matched_at) for m in store.matches.list("Gulf desk")]
    monitor(config, "watchlists", "backfill", "Gulf desk")
    with Store.open(load_settings(config).database_url) as store:
        again = [(m.record, m.matched_at) for m in store.matches.list("Gulf desk")]
    assert again == first and first
