"""``monitor feeds``: health, schedule and history, enabling, OPML import and export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from monitor.cli.common import EXIT_USAGE, Context, fail, handle_errors, out, safe, when
from monitor.errors import ConfigError, OpmlError

if TYPE_CHECKING:
    from monitor.storage.feeds import FeedHealth

app = typer.Typer(
    help=(
        "The feeds: health, schedule and fetch history, OPML import and export.\n\n"
        "Example: monitor feeds list"
    ),
    no_args_is_help=True,
)


def span(seconds: int | None) -> str:
    """An interval as people write it: 90s, 15m, 2h30m, 1d."""
    from monitor.schedule import interval_text

    return "-" if seconds is None else interval_text(seconds)


def _state(row: FeedHealth) -> Text:
    """The last result; failing and disabled feeds in bold red so they stand out."""
    if row.disabled_reason:
        return safe(f"disabled: {row.disabled_reason}", "bold red")
    outcome = row.last_outcome or "never polled"
    style = "bold red" if row.consecutive_failures else "red"
    # the error quotes what the server said: data, never markup
    return safe(f"{outcome}: {row.last_error}", style) if row.last_error else safe(outcome)


def _interval(row: FeedHealth) -> Text:
    text = span(row.interval)
    if row.configured_interval is not None and row.interval != row.configured_interval:
        text += f" (set {span(row.configured_interval)})"
    return safe(text)


@app.command("list")
def list_feeds(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Include feeds no longer in the config."),
) -> None:
    """Show every feed's health and schedule: last result (failing and disabled feeds in
    red), failures, items stored, last fetched, last ok, next poll, and the current
    interval and why.

    Example: monitor feeds list
    """
    context: Context = ctx.obj
    with context.store() as store:
        store.config_version.sync_feeds(context.settings)  # not over a newer feeds.yaml
        rows = store.feeds.health(include_inactive=all_)
    failing = sum(1 for r in rows if r.active and r.consecutive_failures)
    disabled = sum(1 for r in rows if r.active and r.disabled_reason)
    title = f"{len(rows)} feeds"
    if failing:
        title += f", {failing} failing"
    if disabled:
        title += f", {disabled} disabled"
    table = Table(title=title, title_justify="left")
    columns = ("feed", "last result", "fails", "items", "last fetched", "last ok", "next")
    for column in (*columns, "interval", "why"):
        table.add_column(column, justify="right" if column in ("fails", "items") else "left")
    for row in rows:
        bad = bool(row.consecutive_failures or row.disabled_reason)
        if not row.active:
            name = safe(f"{row.name} (removed)", "dim")
        else:
            name = safe(row.name, "bold red" if bad else "")
        table.add_row(
            name,
            _state(row),
            str(row.consecutive_failures),
            str(row.items),
            when(row.last_fetched_at),
            when(row.last_success_at),
            "-" if row.disabled_reason or not row.active else when(row.next_fetch_at),
            _interval(row),
            safe(
                row.interval_reason + (f"; moved from {row.moved_from}" if row.moved_from else "")
                if row.interval_reason
                else None
            ),
        )
    out.print(table)


@app.command("show")
def show_feed(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The feed's name, as in feeds.yaml."),
    limit: int = typer.Option(
        0, "--limit", "-n", min=0, help="Polls of history to show (0: all kept)."
    ),
) -> None:
    """Show one feed: its settings, its state, its current interval and why, and its
    fetch history (the last housekeeping.history polls, newest first).

    Example: monitor feeds show "Gulf Times"
    """
    context: Context = ctx.obj
    settings = context.settings
    keep = limit or settings.housekeeping.history
    with context.store() as store:
        store.config_version.sync_feeds(settings)  # not over a newer feeds.yaml
        details = store.feeds.details(name, history=keep)
    if details is None:
        fail(
            f"no feed named {name!r} in the database; `monitor feeds list --all` shows the names",
            EXIT_USAGE,
        )
    row = details.health
    schedule = settings.schedule
    low = details.min_interval or schedule.min_interval
    high = details.max_interval or schedule.max_interval
    facts: list[tuple[str, Text]] = [
        ("feed", safe(row.name, "bold")),
        ("url", safe(row.url)),
    ]
    if row.moved_from:
        facts.append(
            ("moved from", safe(f"{row.moved_from} (301/308: change the url in the config)"))
        )
    facts += [
        ("title", safe(details.title or "-")),
        ("tags", safe(", ".join(details.tags) or "-")),
        ("language", safe(details.language or "-")),
        ("full text", safe("yes" if details.full_text else "no")),
        ("state", _state(row)),
        ("interval", _interval(row)),
        ("why", safe(row.interval_reason)),
        (
            "bounds",
            safe(
                f"{span(min(low, row.configured_interval or low))} to "
                f"{span(max(high, row.configured_interval or high))}"
                + ("" if schedule.adaptive else " (schedule.adaptive is off)")
            ),
        ),
        (
            "entry rate",
            safe(f"{details.entry_rate:.2f} new an hour" if details.entry_rate else "-"),
        ),
        ("failures", safe(str(row.consecutive_failures))),
        ("items", safe(str(row.items))),
        ("last fetched", safe(when(row.last_fetched_at))),
        ("last ok", safe(when(row.last_success_at))),
        ("next poll", safe("-" if row.disabled_reason else when(row.next_fetch_at))),
    ]
    facts_table = Table.grid(padding=(0, 2))
    facts_table.add_column(style="bold")
    facts_table.add_column()
    for label, value in facts:
        facts_table.add_row(label, value)
    out.print(facts_table)
    history = Table(title=f"last {len(details.history)} polls", title_justify="left")
    columns = ("time", "outcome", "status", "entries", "new", "took", "interval", "why", "note")
    for column in columns:
        right = column in ("status", "entries", "new", "took")
        history.add_column(column, justify="right" if right else "left")
    for poll in details.history:
        note = "; ".join(x for x in (poll.error, poll.note) if x)
        if poll.url != row.url and poll.url not in note:
            note = f"{note}; url {poll.url}" if note else f"url {poll.url}"
        history.add_row(
            poll.fetched_at.strftime("%Y-%m-%d %H:%M:%S"),
            safe(poll.outcome, "red" if poll.error else ""),
            str(poll.status or "-"),
            str(poll.entries),
            str(poll.new_items),
            f"{poll.duration:.2f}s" if poll.duration is not None else "-",
            span(poll.interval),
            safe(poll.reason or "-"),
            safe(note),
        )
    out.print(history)


@app.command("enable")
def enable_feed(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The feed's name, as in feeds.yaml."),
) -> None:
    """Poll again a feed that was disabled (its server answered 410 Gone): its failures
    are forgotten and it is polled at the next run.

    Example: monitor feeds enable "Gulf Times"
    """
    context: Context = ctx.obj
    with context.store() as store:
        store.config_version.sync_feeds(context.settings)  # not over a newer feeds.yaml
        found = store.feeds.enable(name, datetime.now(UTC))
    if not found:
        fail(
            f"no feed named {name!r} in the database; `monitor feeds list --all` shows the names",
            EXIT_USAGE,
        )
    out.print(safe(f"feed {name!r} enabled: it is polled at the next run"))


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
