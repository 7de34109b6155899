"""Languages nobody declared are detected from the words, and analysts filter by them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app
from monitor.pipeline.language import detect_language
from tests.conftest import Site

runner = CliRunner()

ARTICLES = {
    "/fr/1": (
        "Reprise des négociations",
        "Le ministère des Affaires étrangères a annoncé lundi que les négociations "
        "reprendraient la semaine prochaine dans la capitale. Selon les autorités locales, "
        "les discussions porteront sur le cessez-le-feu et sur l'aide humanitaire.",
    ),
    "/en/1": (
        "Talks to resume",
        "The foreign ministry said on Monday that talks would resume next week in the "
        "capital. Officials said the discussions would cover the ceasefire and the delivery "
        "of humanitarian aid to the region.",
    ),
    "/ar/1": (
        "استئناف المحادثات",
        "أعلنت وزارة الخارجية أن المحادثات ستستأنف الأسبوع المقبل في العاصمة. وقال مسؤولون "
        "إن المباحثات ستتناول وقف إطلاق النار وإيصال المساعدات الإنسانية.",
    ),
}


def _serve(site: Site) -> None:
    items = "".join(
        f"<item><title>{title}</title><link>{site.url(path)}</link><guid>{path}</guid>"
        f"<pubDate>Mon, 30 Nov 2026 0{n}:00:00 GMT</pubDate></item>"
        for n, (path, (title, _)) in enumerate(ARTICLES.items())
    )
    # neither the feed nor the pages declare a language
    site.serve(
        "/mixed/feed.rss",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Mixed desk</title>'
        f"<link>{site.url('/')}</link>{items}</channel></rss>",
        "application/rss+xml",
    )
    for path, (title, text) in ARTICLES.items():
        paragraphs = "".join(f"<p>{s}.</p>" for s in text.split(". "))
        site.serve(
            path,
            f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"{paragraphs}</article></body></html>",
            "text/html; charset=utf-8",
        )


def _monitor(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(config), *args], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def test_undeclared_languages_are_detected_and_filtered(
    site: Site, write_config: Callable[..., Path]
) -> None:
    _serve(site)
    config = write_config(
        [{"name": "Mixed desk", "url": site.url("/mixed/feed.rss")}],
        defaults={"interval": "15m", "allow_private": True},  # no language: line
    )
    _monitor(config, "run", "--once")
    rows = [json.loads(line) for line in _monitor(config, "items", "export").splitlines()]
    found = {row["url"].rsplit("/", 2)[-2]: row for row in rows}
    assert {k: v["language"] for k, v in found.items()} == {"fr": "fr", "en": "en", "ar": "ar"}
    assert all(row["field_sources"]["language"] == "detected" for row in rows)

    french = _monitor(config, "items", "list", "--language", "fr")
    assert "Reprise des négociations" in french
    assert "Talks to resume" not in french
    both = _monitor(config, "items", "list", "-l", "en", "-l", "AR")
    assert "Talks to resume" in both and "استئناف المحادثات" in both
    assert "Reprise" not in both
    assert "0 items" in _monitor(config, "items", "list", "--language", "none")
    exported = _monitor(config, "items", "export", "--language", "ar").splitlines()
    assert [json.loads(line)["language"] for line in exported] == ["ar"]


def test_detection_answers_only_when_there_are_words_enough() -> None:
    assert detect_language("2026-11-30", "12:00") is None
    assert detect_language(None, "") is None
    assert detect_language("Le ministère a annoncé la reprise des négociations.") == "fr"
