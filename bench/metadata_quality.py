"""Metadata quality on a hand-labelled set: publication day, authors and title.

``bench/data/metadata_labels.json`` holds 64 article-bench pages (one per site)
labelled by reading each page as a reader sees it; its ``rules`` say which date
and which names count.  This script runs, on every labelled page:

* ``before``: trafilatura's metadata as monitor used it up to extractor profile 2,
  ``bare_extraction(with_metadata=True)`` with monitor's settings, the page's value
  preferred and the feed's title the fallback (the old assembly);
* ``after``: today's pool task, :func:`extract_and_assemble`, with a feed entry that
  carries the page's real title and nothing else (as bench/pipeline_throughput.py);
* ``page only``: the same with an entry that carries no title, so the title comes
  from the page (the structured-data reader and its fallbacks on their own).

A value is *right* when it matches the label, *wrong* when it does not, *missing*
when none was found (for a page the labels say has no byline, any author is wrong,
none is right):

* day: the instant lies within the labelled day in some time zone (UTC-12 to
  UTC+14), because pages print the day in their own zone and the item stores UTC;
  the ``UTC day`` column counts exact UTC-day matches as well;
* authors: the same set of names after folding case, diacritics, full stops
  ("Sarah E Needleman" is "Sarah E. Needleman"), whitespace and a leading "By", in
  any order (several names split on ``;``, ``,``, `` and ``, ``&``);
* title: equal after folding whitespace, quotes, dashes and ellipses (not case).

    .venv/bin/python bench/metadata_quality.py [--show-wrong]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.article_metric import DEFAULT_CORPUS, Page, load_corpus

LABELS = Path(__file__).resolve().parent / "data" / "metadata_labels.json"
FIELDS = ("published", "authors", "title")
_QUOTES = str.maketrans(
    dict.fromkeys("\u2018\u2019\u201a\u2032", "'")
    | dict.fromkeys("\u201c\u201d\u201e\u00ab\u00bb", '"')
    | dict.fromkeys("\u2010\u2013\u2014", "-")
)
_SPLIT = re.compile(r"\s*(?:;|,|\band\b|&)\s*", re.I)


def fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.replace(".", " "))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", plain).strip().casefold()


def norm_title(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(_QUOTES).replace("…", "...")).strip()


def names(text: str | None) -> frozenset[str]:
    if not text:
        return frozenset()
    parts = (re.sub(r"^by\s+", "", fold(p)) for p in _SPLIT.split(text))
    return frozenset(p for p in parts if p)


def judge(field: str, label: Any, value: Any) -> str:
    """'right', 'wrong' or 'missing' for one field of one page."""
    if field == "authors":
        if not value:
            return "right" if not label else "missing"
        return "right" if names(value) == frozenset(names("; ".join(label))) else "wrong"
    if value is None:
        return "missing"
    if field == "title":
        return "right" if norm_title(value) == norm_title(label) else "wrong"
    day = date.fromisoformat(label)
    start = datetime.combine(day, time(), UTC)
    inside = start - timedelta(hours=14) <= value < start + timedelta(hours=36)
    return "right" if inside else "wrong"


def real_titles(pages: Sequence[Page], labels: Path = LABELS) -> list[str | None]:
    """Each page's real headline, for feed entries that carry it: the labelled one,
    else trafilatura's title search on the page (its h1 and title elements)."""
    from trafilatura.metadata import extract_title
    from trafilatura.utils import load_html

    known = json.loads(labels.read_text())["pages"]
    titles: list[str | None] = []
    for page in pages:
        if page.id in known:
            titles.append(known[page.id]["title"])
            continue
        tree = load_html(page.html)
        titles.append(extract_title(tree) if tree is not None else None)
    return titles


def before(page: Page, label: dict[str, Any]) -> dict[str, Any]:
    """What monitor stored up to profile 2: trafilatura's metadata, the page first."""
    import trafilatura
    from trafilatura.settings import Document

    from monitor.pipeline.extract import TRAFILATURA_OPTIONS, parse_page_date

    document = trafilatura.bare_extraction(page.html, url=page.url, **TRAFILATURA_OPTIONS)
    if not isinstance(document, Document):
        return {"published": None, "authors": None, "title": label["title"]}
    found = parse_page_date(document.date)
    return {
        "published": found.value if found else None,
        "authors": document.author or None,
        "title": document.title or label["title"],
    }


def after(page: Page, title: str | None) -> dict[str, Any]:
    """Today's pool task with a feed entry carrying ``title`` only."""
    from monitor.pipeline.assemble import extract_and_assemble
    from monitor.pipeline.types import Fetched, Outcome, ParsedEntry

    fetched = Fetched(page.url, Outcome.OK, page.url, 200, page.html.encode(), "text/html", "utf-8")
    draft = extract_and_assemble(
        ParsedEntry(link=page.url, guid=page.url, title=title),
        fetched,
        feed_title="bench",
        feed_language=None,
        now=datetime.now(UTC),
        future_skew=timedelta(minutes=15),
        keep_raw=False,
    )
    return {
        "published": draft.published_at,
        "authors": draft.author,
        "title": draft.title,
        "sources": draft.field_sources,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: .venv/bin/python bench/metadata_quality.py --show-wrong",
    )
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--labels", default=str(LABELS))
    parser.add_argument("--show-wrong", action="store_true", help="List every page judged wrong.")
    args = parser.parse_args(argv)
    labels: dict[str, dict[str, Any]] = json.loads(Path(args.labels).read_text())["pages"]
    pages = {p.id: p for p in load_corpus(args.corpus) if p.id in labels}
    if len(pages) != len(labels):
        print(
            f"{len(labels) - len(pages)} labelled pages are not in {args.corpus}", file=sys.stderr
        )
        return 2
    runs: dict[str, Callable[[Page, dict[str, Any]], dict[str, Any]]] = {
        "before": before,
        "after": lambda p, lab: after(p, lab["title"]),
        "page only": lambda p, lab: after(p, None),
    }
    counts: dict[str, Counter[str]] = {name: Counter() for name in runs}
    sources: dict[str, Counter[str]] = {f: Counter() for f in ("published_at", "author")}
    for page_id, label in labels.items():
        for name, run in runs.items():
            got = run(pages[page_id], label)
            if name == "after":
                for f, counter in sources.items():
                    counter[got["sources"].get(f, "none")] += 1
            for field in FIELDS:
                verdict = judge(field, label[field], got[field])
                counts[name][f"{field}:{verdict}"] += 1
                if field == "published" and got[field] is not None:
                    utc_day = got[field].astimezone(UTC).date().isoformat() == label[field]
                    counts[name]["published:utc"] += utc_day
                if args.show_wrong and verdict != "right":
                    print(f"{name:9} {field:9} {verdict:7} {page_id[:8]} label={label[field]!r}"
                          f" got={got[field]!r}", file=sys.stderr)  # fmt: skip
    print(f"pages: {len(labels)} labelled ({args.labels})")
    print()
    print("| field | run | right | wrong | missing | UTC day |")
    print("|---|---|---:|---:|---:|---:|")
    for field in FIELDS:
        for name in runs:
            c = counts[name]
            utc = str(c["published:utc"]) if field == "published" else "-"
            print(f"| {field} | {name} | {c[f'{field}:right']} | {c[f'{field}:wrong']}"
                  f" | {c[f'{field}:missing']} | {utc} |")  # fmt: skip
    print()
    for f, counter in sources.items():
        print(f"after, {f} from: " + ", ".join(f"{k} {v}" for k, v in counter.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
