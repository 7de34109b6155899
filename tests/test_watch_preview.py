"""The live preview of watchlist rules, and the snippets a match list shows.

The pure parts run on plain documents; the preview over stored items is compared
with what a backfill of a watchlist with the same rules stores (SQLite and
PostgreSQL, items from ``monitor run --once``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.storage import Store
from monitor.watch.matcher import Document, Match
from monitor.watch.preview import (
    best_snippet,
    check_rules,
    marked_snippet,
    preview,
    window_snippet,
)
from tests.conftest import Site
from tests.test_match_summaries import SEED, feeds, monitor

TEXT = (
    "The convoy left Baghdad at dawn.  Qassem   Soleimani was killed with Abu Mahdi "
    "al-Muhandis.\n\nLater, far away, " + "filler words go on and on " * 20 + "and Hamas "
    "leader Ismail Haniyeh came to Tehran for the funeral of Soleimani."
)


def doc(title: str = "", text: str = "", author: str = "", feeds: tuple[str, ...] = ()) -> Document:
    return Document(title=title, text=text, author=author, feeds=feeds)


def test_window_snippet_collapses_space_and_keeps_spans_on_the_words() -> None:
    start = TEXT.index("Qassem")
    end = TEXT.index("Soleimani") + len("Soleimani")
    other = TEXT.index("Baghdad")
    snippet, spans = window_snippet(TEXT, [(start, end), (other, other + 7)], (start, end), 80)
    assert "  " not in snippet and "\n" not in snippet
    assert [snippet[a:b] for a, b in spans] == ["Baghdad", "Qassem Soleimani"]
    assert snippet.startswith("…convoy") and snippet.endswith("…")
    whole, _ = window_snippet("short  text\nhere", [], (0, 5))
    assert whole == "short text here"  # nothing cut: no ellipsis


def test_window_snippet_marks_cuts_and_leaves_out_hits_outside() -> None:
    far = TEXT.rindex("Soleimani")
    near = TEXT.index("Baghdad")
    snippet, spans = window_snippet(TEXT, [(near, near + 7), (far, far + 9)], (far, far + 9), 60)
    assert snippet.startswith("…")
    assert [snippet[a:b] for a, b in spans] == ["Soleimani"]


def test_marked_snippet_reads_the_stored_marks() -> None:
    text, spans = marked_snippet("… the «Quds Force» and «IRGC» …")
    assert text == "… the Quds Force and IRGC …"
    assert [text[a:b] for a, b in spans] == ["Quds Force", "IRGC"]


def _hit(field: str, text: str, word: str, rule: int, nth: int = 0) -> Match:
    start = -1
    for _ in range(nth + 1):
        start = text.index(word, start + 1)
    return Match("w", rule, f"rule {rule}", field, word, start, start + len(word), f"«{word}»")


def test_best_snippet_prefers_the_title_then_the_window_with_most_rules() -> None:
    title = "Mourners fill Tehran"
    hits = [_hit("text", TEXT, "Soleimani", 0), _hit("title", title, "Tehran", 1)]
    snippet, spans = best_snippet(hits, {"title": title, "text": TEXT})
    assert snippet == title and [snippet[a:b] for a, b in spans] == ["Tehran"]
    # no title hit: the window holding three rules beats the one holding one
    hits = [
        _hit("text", TEXT, "Baghdad", 0),
        _hit("text", TEXT, "Hamas", 1),
        _hit("text", TEXT, "Haniyeh", 2),
        _hit("text", TEXT, "Soleimani", 0, nth=1),
    ]
    snippet, spans = best_snippet(hits, {"title": "x", "text": TEXT})
    assert [snippet[a:b] for a, b in spans] == ["Hamas", "Haniyeh", "Soleimani"]
    # a hit whose text changed since (or a feed-name hit) falls back to its stored snippet
    stale = Match("w", 0, "r", "text", "Gone", 0, 4, "… was «Gone» …")
    assert best_snippet([stale], {"text": TEXT}) == ("… was Gone …", ((6, 10),))


def test_preview_counts_per_rule_and_gives_snippets() -> None:
    documents = [
        (1, doc("Soleimani funeral in Tehran", TEXT)),
        (2, doc("Gaza truce", "Egypt and Qatar press Hamas to extend the truce.")),
        (3, doc("Beirut banks", "Nothing to see.")),
    ]
    result = preview(["Soleimani", "Hamas", "title:Beirut", "Quds"], documents)
    assert result.problems == []
    assert result.items == 3 and result.matched == 3
    assert result.per_rule == [1, 2, 1, 0]
    assert [h.item_id for h in result.hits] == [1, 2, 3]
    first = result.hits[0]
    assert first.rules == (0, 1) and first.hits >= 3
    assert first.snippet == "Soleimani funeral in Tehran"  # the title hit
    assert [first.snippet[a:b] for a, b in first.spans] == ["Soleimani"]
    limited = preview(["Soleimani", "Hamas", "title:Beirut"], documents, limit=1)
    assert len(limited.hits) == 1 and limited.matched == 3


def test_preview_fuzzy_case_and_variants() -> None:
    documents = [(1, doc("", "Mourners for Qasem Solemaini, IRGC and irgc"))]
    assert preview(["Soleimani"], documents).per_rule == [0]
    assert preview(["Soleimani"], documents, fuzzy=True).per_rule == [1]
    exact = preview(["IRGC"], documents, case_sensitive=True)
    assert exact.hits[0].hits == 1
    assert preview(["IRGC"], documents).hits[0].hits == 2
    spelled = preview(["Soleimani"], documents, variants={"soleimani": ["Solemaini"]})
    assert spelled.per_rule == [1]


def test_rule_errors_come_with_the_rule_and_column() -> None:
    documents = [(1, doc("Soleimani", "Hamas"))]
    result = preview(["Soleimani", "Hamas AND", '"open phrase', "", "a NEAR/x b"], documents)
    by_rule = {p.rule_index: p for p in result.problems}
    assert set(by_rule) == {1, 2, 3, 4}
    assert by_rule[1].column == len("Hamas AND") + 1  # the end: a term was expected
    assert by_rule[2].column == 1  # the unclosed quote
    assert all(p.message for p in result.problems)
    assert result.per_rule[0] == 1 and result.per_rule[1:] == [0, 0, 0, 0]
    assert check_rules(["ok", "(unbalanced"])[0].rule_index == 1
    bad_variant = preview(["Soleimani"], documents, variants={"soleimani": ["x AND"]})
    assert bad_variant.problems and "variant" in bad_variant.problems[0].message


def test_preview_over_stored_items_equals_what_backfill_stores(
    site: Site, write_config: Callable[..., Path]
) -> None:
    rules = [r if isinstance(r, str) else r["query"] for r in SEED["rules"]] + ["Gaza OR truce"]
    config = write_config(feeds(site))
    monitor(config, "run", "--once")
    watchlist = {"name": "Trial", "rules": rules, "fuzzy": True, "variants": SEED["variants"]}
    config = write_config(feeds(site), watchlists=[watchlist])
    with Store.open(load_settings(config).database_url) as store:
        result = preview(
            rules, store.items.iter_documents(batch=2), fuzzy=True, variants=SEED["variants"]
        )
        total = store.items.count()
    monitor(config, "watchlists", "backfill", "Trial")
    with Store.open(load_settings(config).database_url) as store:
        stored = store.matches.summaries("Trial", limit=1000).rows
        every = {r.item_id: store.matches.hits(r.item_id, "Trial") for r in stored}
    assert result.items == total >= 3
    assert {h.item_id for h in result.hits} == set(every)
    for hit in result.hits:
        assert hit.hits == len(every[hit.item_id])
        assert {rules[i] for i in hit.rules} == {m.rule for m in every[hit.item_id]}
    for index, rule in enumerate(rules):
        assert result.per_rule[index] == sum(
            any(m.rule == rule for m in hits) for hits in every.values()
        )
    by_id = {r.item_id: r for r in stored}
    for hit in result.hits:  # the same snippet as the match list shows
        assert (hit.snippet, hit.spans) == (by_id[hit.item_id].snippet, by_id[hit.item_id].spans)


runner = CliRunner()


def test_watchlists_test_command(site: Site, write_config: Callable[..., Path]) -> None:
    config = write_config(feeds(site))
    monitor(config, "run", "--once")
    screen = monitor(config, "watchlists", "test", "Soleimani", "truce", "--since", "30d")
    assert "items checked" in screen and "Soleimani" in screen
    assert "Palestinian delegation joins crowds mourning Soleimani" in screen
    out = monitor(config, "watchlists", "test", "Soleimani", "Hamas", "--json", "--fuzzy")
    document = json.loads(out)
    with Store.open(load_settings(config).database_url) as store:
        assert document["items"] == store.items.count() >= 3
    assert document["problems"] == []
    assert [r["rule"] for r in document["rules"]] == ["Soleimani", "Hamas"]
    assert all(r["items"] >= 1 for r in document["rules"])
    first = document["hits"][0]
    assert first["title"] and first["rules"] and first["snippet"]
    assert all(first["snippet"][a:b] for a, b in first["spans"])
    limited = json.loads(monitor(config, "watchlists", "test", "the", "--json", "-n", "1"))
    assert len(limited["hits"]) == 1 and limited["matched"] > 1
    none = json.loads(
        monitor(config, "watchlists", "test", "the", "--json", "--since", "2099-01-01")
    )
    assert none["items"] == 0


def test_watchlists_test_shows_rule_errors_with_the_column_and_exits_2(
    site: Site, write_config: Callable[..., Path]
) -> None:
    config = write_config(feeds(site))
    monitor(config, "run", "--once")
    result = runner.invoke(
        app,
        ["--config", str(config), "watchlists", "test", "Soleimani", "Hamas AND"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2
    assert "rule 2, column 10" in result.stderr
    assert "Hamas AND\n" in result.stderr and "           ^" in result.stderr
    assert "Soleimani" in result.stdout  # the good rules are still counted
    result = runner.invoke(
        app, ["--config", str(config), "watchlists", "test", "(x", "--json"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert json.loads(result.stdout)["problems"][0]["column"] >= 1
