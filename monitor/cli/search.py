"""``monitor search QUERY``: full-text search over every stored item.

A thin layer over :class:`monitor.storage.search.SearchRepository`; the query
language is the watchlists' (``monitor.watch.query``), so a query tried here
finds what the same watchlist rule would match.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.table import Table
from rich.text import Text

from monitor.cli.common import EXIT_USAGE, Context, err, fail, out, parse_since, safe
from monitor.cli.common import when as shown_time

if TYPE_CHECKING:
    from monitor.storage.search import SearchHit
    from monitor.watch.query import QueryError


def highlighted(hit: SearchHit) -> Text:
    """The snippet as data (never markup), its hits in bold."""
    text = safe(hit.snippet)
    for start, end in hit.spans:
        text.stylize("bold reverse", start, end)
    return text


def _as_dict(hit: SearchHit) -> dict[str, object]:
    item = hit.item
    return {
        "id": item.id,
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "fetched_at": item.fetched_at.isoformat(),
        "feeds": list(item.feeds),
        "title": item.title,
        "url": item.url,
        "language": item.language,
        "hits": hit.hits,
        "snippet": hit.snippet,
        "spans": [list(span) for span in hit.spans],
    }


def _bad_query(exc: QueryError, query: str) -> NoReturn:
    err.print(Text.assemble(("error:", "bold red"), " bad query: ", safe(str(exc))))
    err.print(Text.assemble("  ", safe(query)))
    err.print(Text("  " + " " * (exc.column - 1) + "^", style="bold red"))
    err.print(
        "Fix the query at that column (see `monitor search --help`); put words with "
        'quotes or colons in "double quotes".',
        markup=False,
    )
    raise typer.Exit(EXIT_USAGE)


def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="A query in the watchlists' language."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="At most this many."),
    feed: str | None = typer.Option(None, "--feed", "-f", help="Only items this feed carried."),
    language: str | None = typer.Option(
        None, "--language", "-l", help="Only items in this language (ISO code; ar takes ar-SA)."
    ),
    since: str | None = typer.Option(None, "--since", "-s", help="ISO date or age (7d, 12h)."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """Search every stored item, newest first, with the best snippet of each.

    The query language is the watchlists': words (a plain query is a phrase),
    "phrases", prefix*, AND / OR / NOT, ( ), NEAR/5, and the fields title:,
    text:, author:, feed:.  Case, accents and Arabic and Persian letter
    variants do not matter.  Exits 2 on a bad query, showing the column.

    Example: monitor search 'Soleimani AND (Baghdad OR Tehran) NOT football' --since 7d
    """
    from monitor.watch.query import QueryError

    context: Context = ctx.obj
    when_since = parse_since(since)
    if feed and context.settings.feed(feed) is None:
        fail(f"no feed named {feed!r} in {context.settings.config_path}", EXIT_USAGE)
    with context.store() as store:
        try:
            page = store.search.search(
                query, limit=limit, feed=feed, language=language, since=when_since
            )
        except QueryError as exc:
            _bad_query(exc, query)
    if as_json:
        for hit in page.hits:
            sys.stdout.write(json.dumps(_as_dict(hit), ensure_ascii=False) + "\n")
        return
    more = " (more: raise --limit)" if page.next_cursor else ""
    noun = "item" if len(page.hits) == 1 else "items"
    table = Table(title=f"{len(page.hits)} {noun}{more}", title_justify="left")
    for column in ("id", "published", "feed", "title", "snippet"):
        table.add_column(column, justify="right" if column == "id" else "left")
    for hit in page.hits:
        item = hit.item
        table.add_row(
            str(item.id),
            shown_time(item.published_at or item.fetched_at),
            safe(", ".join(item.feeds)),
            safe(item.title or item.url),
            highlighted(hit),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("search")(search)
