"""``monitor feeds``: health, OPML import and export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from monitor.cli.common import EXIT_USAGE, Context, fail, handle_errors, out, safe, when
from monitor.errors import ConfigError, OpmlError

app = typer.Typer(
    help="The feeds: health, OPML import and export.\n\nExample: monitor feeds list",
    no_args_is_help=True,
)


@app.command("list")
def list_feeds(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Include feeds no longer in the config."),
) -> None:
    """Show every feed's health: last result, failures, items stored, next poll.

    Example: monitor feeds list
    """
    context: Context = ctx.obj
    with context.store() as store:
        store.feeds.sync(context.settings.feeds, datetime.now(UTC))
        rows = store.feeds.health(include_inactive=all_)
    table = Table(title=f"{len(rows)} feeds", title_justify="left")
    for column in ("feed", "last result", "fails", "items", "last fetched", "last ok", "next"):
        table.add_column(column, justify="right" if column in ("fails", "items") else "left")
    for row in rows:
        # the error quotes what the server said: data, never markup
        outcome = row.last_outcome or "never polled"
        result = safe(f"{outcome}: {row.last_error}", "red") if row.last_error else safe(outcome)
        name = safe(row.name) if row.active else safe(f"{row.name} (removed)", "dim")
        table.add_row(
            name,
            result,
            str(row.consecutive_failures),
            str(row.items),
            when(row.last_fetched_at),
            when(row.last_success_at),
            when(row.next_fetch_at),
        )
    out.print(table)


@app.command("import-opml")
def import_opml_command(ctx: typer.Context, file: Path = typer.Argument(..., exists=False)) -> None:
    """Add the feeds of an OPML file to the config file, keeping its comments.

    Feeds whose URL is already listed are skipped; outline folders become tags.

    Example: monitor feeds import-opml subscriptions.opml
    """
    from monitor.opml import import_opml, parse_opml

    context: Context = ctx.obj
    _ = context.settings  # refuse to edit a config that does not validate
    try:
        outlines = parse_opml(file.read_bytes(), str(file))
    except FileNotFoundError:
        fail(f"{file}: no such file", EXIT_USAGE)
    except OpmlError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        added, skipped = import_opml(context.config_path, outlines)
    except (ConfigError, ValueError) as exc:
        fail(f"{file}: {exc}", EXIT_USAGE)
    counts = f"added {len(added)} feeds, skipped {len(skipped)} already listed"
    out.print(safe(f"{context.config_path}: {counts}"))
    for name in added:  # titles from the OPML file, whoever wrote it
        out.print(safe(f"  + {name}"))


@app.command("export-opml")
def export_opml_command(
    ctx: typer.Context,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
) -> None:
    """Write the configured feeds as OPML 2.0.

    Example: monitor feeds export-opml -o feeds.opml
    """
    from monitor.opml import export_opml

    context: Context = ctx.obj
    with handle_errors():
        document = export_opml(context.settings.feeds)
    if output:
        output.write_text(document, encoding="utf-8")
    else:
        typer.echo(document, nl=False)
