"""``monitor items``: list, show, export and re-extract stored articles."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from monitor.cli.common import EXIT_USAGE, Context, err, fail, out, parse_since, safe, when

if TYPE_CHECKING:  # imported when used: light commands (--help, check) start fast
    from monitor.storage import Store
    from monitor.storage.item_queries import EntryRecord, StoredItem

app = typer.Typer(
    help="The stored articles: list, show, export, re-extract, and the entries not stored.\n\n"
    "Example: monitor items list --since 1d",
    no_args_is_help=True,
)

CSV_FIELDS = (
    "id", "url", "canonical_url", "title", "author", "published_at", "feeds", "language",
    "site_name", "categories", "word_count", "extraction_method", "cluster_id", "duplicate_of",
    "revision", "watchlists", "fetch_error", "text",
)  # fmt: skip


# A spreadsheet reads a cell that starts with one of these as a formula (=HYPERLINK(...),
# =cmd|...  DDE); feed authors write the titles and texts an analyst opens in Excel.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Format(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


@app.command("list")
def list_items(
    ctx: typer.Context,
    feed: str | None = typer.Option(None, "--feed", "-f", help="Only items this feed carried."),
    since: str | None = typer.Option(None, "--since", "-s", help="ISO date or age (2d, 12h)."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="At most this many rows."),
    collapse: bool = typer.Option(
        False, "--collapse", "-c", help="One line per story: copies elsewhere are folded in."
    ),
    pending: bool = typer.Option(
        False,
        "--pending",
        help="Only items still waiting for their article page (it failed temporarily and "
        "will be fetched again); they have the feed's text meanwhile.",
    ),
    language: list[str] = typer.Option(
        None,
        "--language",
        "-l",
        help="Only items in this language (ISO code: ar also takes ar-SA; none: unknown); "
        "repeatable. Detected languages count too.",
    ),
) -> None:
    """List stored items, newest first.

    With --collapse, the copies of one story (the same article through other
    outlets, near-duplicates) make one line, counted in the "copies" column.
    With --pending, only the items whose page is still to be fetched again.

    Example: monitor items list --feed "Al Jazeera" --since 2d --collapse --language ar
    """
    if collapse and pending:
        fail("--collapse and --pending do not go together; use one of them", EXIT_USAGE)
    context: Context = ctx.obj
    when_since = parse_since(since)
    if feed and context.settings.feed(feed) is None:
        fail(f"no feed named {feed!r} in {context.settings.config_path}", EXIT_USAGE)
    with context.store() as store:
        if collapse:
            rows = store.items.list_clusters(
                feed=feed, since=when_since, limit=limit, languages=language or ()
            )
        else:
            listed = store.items.list(
                feed=feed, since=when_since, limit=limit, pending=pending, languages=language or ()
            )
            rows = [(i, 1) for i in listed]
    noun = "stories" if collapse else "items waiting for their page" if pending else "items"
    table = Table(title=f"{len(rows)} {noun}", title_justify="left")
    columns = ["id", "published", "title", "feeds", "lang", "words", "text from"]
    if collapse:
        columns.insert(3, "copies")
    for column in columns:
        table.add_column(column, justify="right" if column in ("id", "words", "copies") else "left")
    for item, size in rows:
        cells: list[str | Text] = [
            str(item.id),
            when(item.published_at),
            safe(item.title or item.url),
            safe(", ".join(item.feeds)),
            safe(item.language or ""),
            str(item.word_count),
            safe(item.extraction_method),
        ]
        if collapse:
            cells.insert(3, str(size - 1) if size > 1 else "")
        table.add_row(*cells)
    out.print(table)


@app.command("show")
def show(ctx: typer.Context, item_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Show one item: metadata, where each field came from, and its full text.

    Example: monitor items show 42
    """
    context: Context = ctx.obj
    with context.store() as store:
        item = store.items.get(item_id)
        others = store.items.cluster(item_id)
        revisions = store.items.revisions(item_id)
        entries = store.items.entries([item_id])[item_id]
        pending = item_id in store.items.pending_ids()
    if item is None:
        fail(f"no item with id {item_id}; see monitor items list", EXIT_USAGE)
    meta = Table.grid(padding=(0, 2))
    meta.add_column(style="bold")
    meta.add_column()
    sources = item.field_sources
    for label, key, value in (
        ("title", "title", item.title),
        ("url", None, item.url),
        ("canonical", None, item.canonical_url),
        ("author", "author", item.author),
        ("published", "published_at", when(item.published_at)),
        ("site", "site_name", item.site_name),
        ("language", "language", item.language),
        ("categories", "categories", ", ".join(item.categories)),
        ("image", "image_url", item.image_url),
        ("feeds", None, ", ".join(item.feeds)),
        ("text", "text", f"{item.word_count} words via {item.extraction_method} "
         f"({item.extractor_version})"),
        ("fetched", None, when(item.fetched_at)),
    ):  # fmt: skip
        source = safe(f" ({sources[key]})", "dim") if key and key in sources else ""
        meta.add_row(label, Text.assemble(safe(value or "-"), source))
    if item.duplicate_of:
        meta.add_row("copy of", f"item {item.duplicate_of} (similarity {item.similarity:.2f})")
    if revisions:
        meta.add_row(
            "revision",
            f"{item.revision}; earlier texts kept: "
            + ", ".join(f"{r.number} (replaced {when(r.replaced_at)})" for r in revisions),
        )
    if item.fetch_error:  # quotes what the server said
        meta.add_row("problem", safe(item.fetch_error, "yellow"))
    if pending:
        meta.add_row("page", Text("pending: it will be fetched again", style="yellow"))
    out.print(Panel(meta, title=f"item {item.id}", title_align="left"))
    if len(entries) > 1:
        _print_entries(entries)
    if others:
        _print_cluster(item.cluster_id or item.id, others)
    out.print(safe(item.text) if item.text else Text("(no text)", style="dim"))


def _print_entries(entries: list[EntryRecord]) -> None:
    table = Table(title="the feed entries that led to this item", title_justify="left")
    for column in ("feed", "first seen", "guid", "link", "title"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            safe(entry.feed),
            when(entry.first_seen_at),
            safe(entry.guid or "-"),
            safe(entry.url or "-"),
            safe(entry.title or "-"),
        )
    out.print(table)


def _print_cluster(cluster_id: int, others: list[StoredItem]) -> None:
    table = Table(title=f"the same story elsewhere (cluster {cluster_id})", title_justify="left")
    for column in ("id", "outlet", "feeds", "similarity", "title"):
        table.add_column(column, justify="right" if column in ("id", "similarity") else "left")
    for other in others:
        similarity = "representative" if other.id == cluster_id else f"{other.similarity or 0:.2f}"
        table.add_row(
            str(other.id),
            safe(other.site_name or "-"),
            safe(", ".join(other.feeds)),
            similarity,
            safe(other.title or other.url),
        )
    out.print(table)


@app.command("rejected")
def rejected(
    ctx: typer.Context,
    feed: str | None = typer.Option(None, "--feed", "-f", help="Only this feed's entries."),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most this many rows."),
) -> None:
    """List the feed entries that were not stored, with the reason, newest first.

    An entry is "permanent" when it will not be tried again (a javascript: link,
    an entry with nothing in it, or one that failed three polls in a row);
    otherwise the next poll tries it again.

    Example: monitor items rejected --feed "Al Jazeera"
    """
    context: Context = ctx.obj
    if feed and context.settings.feed(feed) is None:
        fail(f"no feed named {feed!r} in {context.settings.config_path}", EXIT_USAGE)
    with context.store() as store:
        rows = store.entries.rejections(feed=feed, limit=limit)
    table = Table(title=f"{len(rows)} entries not stored", title_justify="left")
    for column in ("feed", "last seen", "entry", "reason", "tries", "permanent"):
        table.add_column(column, justify="right" if column == "tries" else "left")
    for row in rows:
        table.add_row(
            safe(row.feed),
            when(row.last_seen_at),
            safe(row.title or row.link or row.guid or row.entry_key),
            safe(row.reason),
            str(row.attempts),
            "yes" if row.permanent else "no",
        )
    out.print(table)


@app.command("export")
def export(
    ctx: typer.Context,
    format_: Format = typer.Option(Format.jsonl, "--format", help="jsonl or csv."),
    since: str | None = typer.Option(None, "--since", "-s", help="ISO date or age (2d, 12h)."),
    feed: str | None = typer.Option(None, "--feed", "-f", help="Only items this feed carried."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
    spreadsheet: bool = typer.Option(
        False,
        "--spreadsheet",
        help="CSV for Excel or LibreOffice: a cell starting with = + - @ (a formula a feed "
        "could plant) gets a leading apostrophe, so it shows as text.",
    ),
    language: list[str] = typer.Option(
        None,
        "--language",
        "-l",
        help="Only items in this language (ISO code: ar also takes ar-SA; none: unknown); "
        "repeatable. Detected languages count too.",
    ),
) -> None:
    """Export items as JSON lines or CSV (one row per item, oldest first).

    Exports are the stored data, exactly.  A feed writes the titles and texts, so
    a title such as =HYPERLINK(...) would run as a formula in a spreadsheet:
    with --spreadsheet (CSV only), such cells get a leading apostrophe.

    Example: monitor items export --format csv --spreadsheet --since 7d -o week.csv
    """
    context: Context = ctx.obj
    when_since = parse_since(since)
    with context.store() as store:
        handle: TextIO = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            items = store.items.iter_all(since=when_since, feed=feed, languages=language or ())
            rows = _with_matches(store, items)
            count = _write(handle, format_, rows, spreadsheet)
        finally:
            if output:
                handle.close()
    if output:
        err.print(safe(f"wrote {count} items to {output}"))


def _batches(items: Iterable[StoredItem], size: int) -> Iterator[list[StoredItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _with_matches(store: Store, items: Iterable[StoredItem]) -> Iterator[dict[str, Any]]:
    """Each item as a dict with its watch matches, read a batch of items at a time."""
    from monitor.storage.matches import match_as_dict

    for batch in _batches(items, 500):
        ids = [item.id for item in batch]
        matches = store.matches.for_items(ids)
        entries = store.items.entries(ids)
        for item in batch:
            row = item.as_dict()
            row["matches"] = [match_as_dict(m) for m in matches.get(item.id, [])]
            row["entries"] = [
                {
                    "feed": e.feed,
                    "guid": e.guid,
                    "url": e.url,
                    "title": e.title,
                    "first_seen_at": e.first_seen_at.isoformat(),
                }
                for e in entries.get(item.id, [])
            ]
            yield row


def _write(
    handle: TextIO, format_: Format, rows: Iterable[dict[str, Any]], spreadsheet: bool = False
) -> int:
    count = 0
    if format_ is Format.jsonl:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        row["feeds"] = "; ".join(row["feeds"])
        row["categories"] = "; ".join(row["categories"])
        row["watchlists"] = "; ".join(sorted({m["watchlist"] for m in row["matches"]}))
        cell = spreadsheet_safe if spreadsheet else _exact
        writer.writerow({key: cell(row.get(key)) for key in CSV_FIELDS})
        count += 1
    return count


def _exact(value: Any) -> Any:
    return value


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not evaluate: ``'`` before a formula's first character.

    The usual guard (OWASP, "CSV injection"): the apostrophe makes Excel and LibreOffice
    take the cell as text.  JSON lines stay exact for programs."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@app.command("reextract")
def reextract_command(
    ctx: typer.Context,
    item_ids: list[int] = typer.Argument(None, metavar="[ID]...", help="Only these items."),
    all_: bool = typer.Option(False, "--all", help="Every item with a stored page."),
) -> None:
    """Re-run extraction on stored pages (needs extract.keep_raw_html: true).

    Without IDs or --all, only items extracted by an older extractor version.

    Example: monitor items reextract --all
    """
    from monitor.reextract import reextract

    context: Context = ctx.obj
    with context.store() as store:
        changed, total = reextract(context.settings, store, item_ids or None, all_)
    out.print(f"re-extracted {total} items, {changed} changed")
