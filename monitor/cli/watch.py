"""``monitor watchlists`` and ``monitor matches``: what the analysts watch, what was found."""

from __future__ import annotations

import json
import sys

import typer
from rich.table import Table

from monitor.cli.common import (
    EXIT_USAGE,
    Context,
    fail,
    handle_errors,
    out,
    parse_since,
    progress_bar,
    safe,
    when,
)

watchlists_app = typer.Typer(
    help="The watchlists of feeds.yaml: list them, apply them to stored items.\n\n"
    'Example: monitor watchlists backfill "Iran and its allies" --since 30d',
    no_args_is_help=True,
)
matches_app = typer.Typer(
    help="What the watchlists found.\n\nExample: monitor matches list --since 1d",
    no_args_is_help=True,
)


@watchlists_app.command("list")
def list_watchlists(ctx: typer.Context) -> None:
    """Show each watchlist: its rules, scope, recipients and how many items it matched
    ("matched" counts items).

    Example: monitor watchlists list
    """
    context: Context = ctx.obj
    settings = context.settings
    with context.store() as store:
        counts = store.matches.counts()
    table = Table(title=f"{len(settings.watchlists)} watchlists", title_justify="left")
    for column in ("watchlist", "rules", "fuzzy", "scope", "recipients", "matched"):
        table.add_column(
            column,
            justify="right" if column == "matched" else "left",
            overflow="fold",
            no_wrap=column in ("fuzzy", "matched"),
        )
    for watchlist in settings.watchlists:
        scope = ", ".join([*watchlist.feeds, *(f"#{t}" for t in watchlist.tags)]) or "all feeds"
        table.add_row(
            safe(watchlist.name),
            safe("\n".join(r.query for r in watchlist.rules)),
            "yes" if watchlist.fuzzy else "no",
            safe(scope),
            safe(", ".join(watchlist.recipients) or "-"),
            str(counts.get(watchlist.name, 0)),
        )
    out.print(table)


@watchlists_app.command("backfill")
def backfill_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The watchlist, as named in feeds.yaml."),
    since: str | None = typer.Option(None, "--since", "-s", help="ISO date or age (30d)."),
) -> None:
    """Apply a new or changed watchlist to the items already stored.

    The watchlist's matches on those items are replaced by what its rules find now.

    Example: monitor watchlists backfill "Iran and its allies" --since 30d
    """
    from monitor.backfill import backfill

    context: Context = ctx.obj
    settings = context.settings
    if not any(w.name == name for w in settings.watchlists):
        known = ", ".join(repr(w.name) for w in settings.watchlists) or "none"
        fail(
            f"no watchlist named {name!r} in {settings.config_path} (defined: {known})", EXIT_USAGE
        )
    when_since = parse_since(since)
    with context.store() as store, handle_errors():
        total = store.items.count(since=when_since)
        with progress_bar() as progress:
            task = progress.add_task(f"matching {name}", total=total)
            report = backfill(
                settings, store, name, when_since, lambda n: progress.advance(task, n)
            )
    out.print(
        safe(
            f"{name}: {report.items} items checked, {report.matched_items} matched "
            f"({report.matches} matches)"
        )
    )


@matches_app.command("list")
def list_matches(
    ctx: typer.Context,
    watchlist: str | None = typer.Option(None, "--watchlist", "-w", help="Only this one."),
    since: str | None = typer.Option(None, "--since", "-s", help="ISO date or age (2d, 12h)."),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most this many rows."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """List matches, newest first: watchlist, rule, the text as written, and a snippet.

    Example: monitor matches list --watchlist "Iran and its allies" --since 1d
    """
    from monitor.storage.matches import match_as_dict

    context: Context = ctx.obj
    settings = context.settings
    if watchlist and not any(w.name == watchlist for w in settings.watchlists):
        fail(f"no watchlist named {watchlist!r} in {settings.config_path}", EXIT_USAGE)
    with context.store() as store:
        rows = store.matches.list(watchlist, parse_since(since), limit)
    if as_json:
        for row in rows:
            record = {"item_id": row.item_id, "title": row.item_title, "url": row.item_url}
            record |= match_as_dict(row.record) | {"matched_at": row.matched_at.isoformat()}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(rows)} matches", title_justify="left")
    for column in ("item", "found", "watchlist", "rule", "matched", "where", "snippet"):
        table.add_column(column, justify="right" if column == "item" else "left")
    for row in rows:
        match = row.record
        matched = safe(match.matched)  # the article's own words
        if match.fuzzy:
            matched.append(" (variant)", style="dim")
        table.add_row(
            str(row.item_id),
            when(row.matched_at),
            safe(match.watchlist),
            safe(match.rule),
            matched,
            safe(match.field),
            safe(match.snippet),
        )
    out.print(table)
