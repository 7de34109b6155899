"""The console's view helpers (monitor/web/views.py), with hostile input: escaping first,
marks only around escaped pieces, whatever the spans say."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup

from monitor.web import views

HOSTILE = '<script>alert(1)</script> Soleimani <img src=x onerror="p()"> &amp; "q"'


def test_highlight_escapes_then_marks() -> None:
    start = HOSTILE.index("Soleimani")
    out = views.highlight(HOSTILE, [(start, start + len("Soleimani"))])
    assert isinstance(out, Markup)
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "<mark>Soleimani</mark>" in out
    assert "&amp;amp;" in out and "&#34;q&#34;" in out
    # what the reader sees is exactly the text: unescaping gives it back
    assert out.replace("<mark>", "").replace("</mark>", "").unescape() == HOSTILE
    assert out.count("<mark>") == 1


def test_highlight_span_inside_markup_characters_does_not_cut_entities() -> None:
    text = "a<b>c"
    out = views.highlight(text, [(1, 2), (2, 3)])  # "<" and "b": touching, merged
    assert str(out) == "a<mark>&lt;b</mark>&gt;c"


def test_highlight_hostile_spans() -> None:
    text = "abcdef"
    spans = [(4, 100), (-5, 1), (3, 2), (2, 2), (1, 3), (0,), (5, 6)]
    assert str(views.highlight(text, spans)) == "<mark>abc</mark>d<mark>ef</mark>"
    assert str(views.highlight(None, [(0, 4)])) == ""
    assert str(views.highlight("x", [])) == "x"


def test_highlight_removes_bidi_overrides_and_controls() -> None:
    text = "evil\u202egnp.exe\x00 Hormuz"
    start = text.index("Hormuz")
    out = str(views.highlight(text, [(start, start + 6)]))
    assert "\u202e" not in out and "\x00" not in out
    assert out.endswith("<mark>Hormuz</mark>")


def test_marked_spans_round_trip_with_highlight() -> None:
    plain, spans = views.marked_spans("…took over after «<b>Soleimani</b>» was «killed»")
    assert plain == "…took over after <b>Soleimani</b> was killed"
    out = str(views.highlight(plain, spans))
    assert "<mark>&lt;b&gt;Soleimani&lt;/b&gt;</mark>" in out and "<mark>killed</mark>" in out
    marked = str(views.highlight_marked("a «<i>b</i>» c"))
    assert marked == "a <mark>&lt;i&gt;b&lt;/i&gt;</mark> c"
    # an unclosed mark is text, not a span
    assert views.marked_spans("a « b") == ("a  b", [])


def test_paragraphs_keep_offsets_across_lines() -> None:
    text = "First <line> Kerman.\n\nSecond line names Kerman twice: Kerman."
    spans = [(m, m + 6) for m in (text.find("Kerman"), text.rfind("Kerman"))]
    paras = [str(p) for p in views.paragraphs(text, spans)]
    assert paras == [
        "First &lt;line&gt; <mark>Kerman</mark>.",
        "Second line names Kerman twice: <mark>Kerman</mark>.",
    ]
    # a span across the paragraph break marks both halves
    across = views.paragraphs("ab\ncd", [(1, 4)])
    assert [str(p) for p in across] == ["a<mark>b</mark>", "<mark>c</mark>d"]


def test_diff_lines_sentences_and_hostile_text() -> None:
    old = "The tanker was seized. The navy said so. <script>x()</script> stays."
    new = "The tanker was released. The navy said so. <script>x()</script> stays."
    lines = views.diff_lines(old, new)
    kinds = [(d.kind, d.text) for d in lines]
    assert ("removed", "The tanker was seized.") in kinds
    assert ("added", "The tanker was released.") in kinds
    assert ("same", "The navy said so.") in kinds
    assert views.diff_lines("same", "same") == []
    assert [d.kind for d in views.diff_lines(None, "new text")] == ["added"]
    many = "\n".join(f"line {i}." for i in range(30))
    changed = many.replace("line 3.", "line three.").replace("line 25.", "line 25!")
    gaps = [d for d in views.diff_lines(many, changed) if d.kind == "gap"]
    assert len(gaps) == 1


def test_day_buckets_in_the_users_zone() -> None:
    beirut = ZoneInfo("Asia/Beirut")
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # already Dec 2 in Beirut
    moments = views.in_zone([late, late - timedelta(days=1), datetime(2026, 12, 2, 8, 0)], beirut)
    days = views.day_buckets(moments, date(2026, 12, 2), days=3)
    assert [(d.day.day, d.count, d.height) for d in days] == [(30, 0, 0), (1, 1, 50), (2, 2, 100)]
    counts = views.day_buckets({date(2026, 12, 2): 4, date(2020, 1, 1): 99}, date(2026, 12, 2), 2)
    assert [(d.count, d.height) for d in counts] == [(0, 0), (4, 100)]
    assert all(d.height == 0 for d in views.day_buckets({}, date(2026, 12, 2)))
    assert len(views.day_buckets({}, date(2026, 12, 2))) == 14


def test_query_url_keeps_filters_and_drops_empty() -> None:
    params = {"feed": "Gulf & Co", "tag": "", "review": "unreviewed", "cursor": "abc"}
    url = views.query_url("/watchlists/axis", params, cursor="n=2&x")
    assert url == "/watchlists/axis?feed=Gulf+%26+Co&review=unreviewed&cursor=n%3D2%26x"
    assert views.query_url("/search", {"q": ""}) == "/search"
    assert views.query_url("/s", {"q": "a"}, trail=["", "c1"]) == "/s?q=a&trail=&trail=c1"


def test_safe_link_refuses_other_schemes() -> None:
    assert views.safe_link("https://a.example/x") == "https://a.example/x"
    assert views.safe_link(" JavaScript:alert(1)") is None
    assert views.safe_link("data:text/html,<b>") is None
    assert views.safe_link("http://[::1") is None
    assert views.safe_link(None) is None


def test_duration_and_field_sources() -> None:
    assert [views.duration(s) for s in (None, 0, 90, 900, 9000, 90000)] == [
        views.DASH,
        "0s",
        "1m30s",
        "15m",
        "2h30m",
        "1d1h",
    ]
    rows = views.field_source_rows(
        {"title": "T\u202e", "author": None, "categories": ("a", "b"), "language": "ar"},
        {"title": "page:og:title", "language": "detected"},
    )
    assert rows == [
        ("title", "T", "page:og:title"),
        ("categories", "a, b", "not recorded"),
        ("language", "ar", "detected"),
    ]


def test_pager_walks_back_through_the_trail() -> None:
    first = views.pager("/w", {"feed": "G"}, None, [], "c2")
    assert first.prev_url is None and first.page == 1
    assert first.next_url == "/w?feed=G&cursor=c2&trail="
    second = views.pager("/w", {"feed": "G"}, "c2", [""], "c3")
    assert second.prev_url == "/w?feed=G" and second.page == 2
    assert second.next_url == "/w?feed=G&cursor=c3&trail=&trail=c2"
    third = views.pager("/w", {"feed": "G"}, "c3", ["", "c2"], None)
    assert third.next_url is None and third.prev_url == "/w?feed=G&cursor=c2&trail="


def test_editor_form_reads_checks_and_keeps_what_it_does_not_edit() -> None:
    from monitor.config import WatchlistConfig
    from monitor.web.pages_editor_form import EditorForm

    form = EditorForm.read(
        {
            "name": " Gulf ",
            "rules": "Hormuz\n\n  tanker AND (  \nSoleimani\n",
            "fuzzy": "on",
            "feeds": "Gulf Wire, Gulf Wire,\nLevant Ledger",
            "recipients": "desk@example.org, not-an-address",
            "days": "9000",
        }
    )
    assert form.name == "Gulf" and form.rules == ["Hormuz", "tanker AND (", "Soleimani"]
    assert form.feeds == ["Gulf Wire", "Levant Ledger"] and form.days == 90 and form.fuzzy
    problems = form.problems(taken=["Iran"])
    assert any(p.startswith("rule 2, column") for p in problems)
    assert any("'not-an-address' is not an e-mail address" in p for p in problems)
    assert EditorForm.read({"name": "Iran", "rules": "x"}).problems(["Iran"]) == [
        "name: a watchlist named 'Iran' exists already; choose another"
    ]
    assert (
        "cannot be a watchlist's name"
        in EditorForm.read({"name": "New", "rules": "x"}).problems()[0]
    )
    assert EditorForm.read({"days": "x"}).days == 7
    existing = WatchlistConfig.model_validate(
        {
            "name": "Gulf",
            "rules": [{"query": "Hormuz", "case_sensitive": True}, "Soleimani"],
            "variants": {"Soleimani": ["Suleimani"]},
            "recipients": ["desk@example.org"],
        }
    )
    edited = EditorForm.read({"name": "Gulf", "rules": "Hormuz\nQuds", "recipients": ""})
    assert edited.mapping(existing) == {
        "name": "Gulf",
        "rules": [{"query": "Hormuz", "case_sensitive": True}, "Quds"],
        "variants": {"Soleimani": ["Suleimani"]},
    }
    with_digest = WatchlistConfig.model_validate(
        {"name": "G", "rules": ["x"], "digest": {"to": ["a@b.org"], "schedule": "0 6 * * *"}}
    )
    kept = EditorForm.of(with_digest, "h").mapping(with_digest)
    assert kept["digest"] == {"to": ["a@b.org"], "schedule": "0 6 * * *"}
