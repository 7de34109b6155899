"""``monitor digest``: preview, send and list the watchlists' digest e-mails."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from monitor.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    Context,
    fail,
    handle_errors,
    out,
    parse_since,
    safe,
    visible,
    when,
)

if TYPE_CHECKING:
    from monitor.config import Settings, WatchlistConfig

app = typer.Typer(
    help="Digest e-mails of watchlists with a digest: section (sent by monitor run on their "
    "schedule).\n\nExample: monitor digest preview axis --html /tmp/axis.html",
    no_args_is_help=True,
)


def _watchlist(settings: Settings, name: str) -> WatchlistConfig:
    for watchlist in settings.watchlists:
        if watchlist.name == name:
            if watchlist.digest is None:
                fail(
                    f"watchlist {name!r} has no digest: section (nor recipients:) in "
                    f"{settings.config_path}; add one with to: [address]",
                    EXIT_USAGE,
                )
            return watchlist
    known = ", ".join(w.name for w in settings.watchlists if w.digest) or "none"
    fail(
        f"no watchlist named {name!r} in {settings.config_path}; those with a digest: {known}",
        EXIT_USAGE,
    )


@app.command("preview")
def preview(
    ctx: typer.Context,
    watchlist: str = typer.Argument(..., help="The watchlist's name."),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Start of the period: an ISO date or datetime, or an age (2d, 12h). Default: "
        "where the next digest starts.",
    ),
    html: Path | None = typer.Option(None, "--html", help="Also write the HTML part here."),
) -> None:
    """Render the digest WATCHLIST would get now, without sending or recording anything.

    The plain-text part is printed; --html writes the HTML part to a file to open in
    a browser.  Items an analyst triaged are marked ("[reviewed by ana]"); the digest
    sent carries no such mark and includes the same items.

    Example: monitor digest preview axis --since 1d --html axis.html
    """
    from monitor.deliver.digest import build, review_label
    from monitor.deliver.render import render
    from monitor.service.digests import latest_fire, trigger

    context: Context = ctx.obj
    settings = context.settings
    config = _watchlist(settings, watchlist)
    digest = config.digest
    assert digest is not None
    now = datetime.now(UTC)
    start = parse_since(since, now)
    with context.store() as store, handle_errors():
        if start is None:
            start = store.digests.last_end(watchlist) or latest_fire(
                trigger(digest), now, strict=True
            )
        start = start or now - timedelta(days=1)
        items = store.digests.preview(watchlist, start, now)
        triaged = store.reviews.many([(item.item_id, watchlist) for item in items])
        view = build(
            watchlist,
            items,
            start,
            now,
            digest.timezone,
            digest.group_by,
            reviews={key[0]: review_label(r.state, r.by) for key, r in triaged.items()},
        )
        template_dir = digest.template_dir
        if template_dir and not Path(template_dir).is_absolute():
            template_dir = str(settings.config_path.parent / template_dir)
        rendered = render(view, template_dir)
    sys.stdout.write(f"Subject: {visible(rendered.subject)}\n\n{visible(rendered.text)}")
    if html is not None:
        try:
            html.write_text(rendered.html, encoding="utf-8")
        except OSError as exc:
            fail(f"--html {html}: cannot write the file ({exc.strerror}); choose another path")


@app.command("send")
def send(
    ctx: typer.Context,
    watchlist: str = typer.Argument(..., help="The watchlist's name."),
    now: bool = typer.Option(
        False,
        "--now",
        help="Close the current window now (its end: this moment) instead of at the last "
        "scheduled time.",
    ),
) -> None:
    """Send WATCHLIST's due digest (a schedule passed and not sent yet) and any to retry.

    With --now the window up to this moment is closed and sent; the next scheduled one
    starts where it ended, so nothing is sent twice.  Exit 1 if a digest could not be sent
    (it stays due and is retried by monitor run).

    Example: monitor digest send axis --now
    """
    from monitor.service.digests import DigestSender

    context: Context = ctx.obj
    settings = context.settings
    config = _watchlist(settings, watchlist)
    if settings.smtp is None:
        fail(f"{settings.config_path} has no smtp: section; add host: or output:", EXIT_USAGE)
    with context.store() as store, handle_errors():
        sender = DigestSender(settings, store)
        moment = datetime.now(UTC)
        opened = sender.open_now(config, moment) if now else sender.open_due(config, moment)
        results = sender.send_due([watchlist])
    if opened is not None and opened.status == "skipped":
        out.print(safe(f"{watchlist}: nothing matched in the window; skipped (empty: skip)"))
    if not results and (opened is None or opened.status != "skipped"):
        out.print(safe(f"{watchlist}: no digest is due"))
    failed = False
    for row, error in results:
        span = f"{row.window_start.isoformat()} to {row.window_end.isoformat()}"
        if error is None:
            out.print(safe(f"{watchlist}: digest of {span} sent ({row.items} items)"))
        else:
            failed = True
            out.print(safe(f"{watchlist}: digest of {span} NOT sent: {error}", "red"))
    if failed:
        raise typer.Exit(EXIT_FAILURE)


@app.command("list")
def list_digests(
    ctx: typer.Context,
    watchlist: str | None = typer.Option(None, "--watchlist", "-w", help="Only this one."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="At most this many rows."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """List digest windows, newest first: sent, pending, failed or skipped (empty).

    Each row shows the window (UTC), its state, the matched items, the attempts, when it
    was sent or is tried next, and the last error; then each watchlist's next window.  A
    failed digest is still retried by monitor run.

    Example: monitor digest list --watchlist axis
    """
    from monitor.service.digests import latest_fire, trigger

    context: Context = ctx.obj
    settings = context.settings
    if watchlist:
        _watchlist(settings, watchlist)
    with context.store() as store, handle_errors():
        rows = store.digests.list(watchlist, limit)
        ends = {
            w.name: store.digests.last_end(w.name)
            for w in settings.watchlists
            if w.digest and (not watchlist or w.name == watchlist)
        }
    if as_json:
        for row in rows:
            record = {
                "id": row.id,
                "watchlist": row.watchlist,
                "window_start": row.window_start.isoformat(),
                "window_end": row.window_end.isoformat(),
                "status": row.status,
                "items": row.items,
                "attempts": row.attempts,
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "next_attempt_at": row.next_attempt_at.isoformat(),
                "last_error": row.last_error,
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(rows)} digest windows", title_justify="left")
    for column in (
        "id",
        "watchlist",
        "from (UTC)",
        "to (UTC)",
        "state",
        "items",
        "tries",
        "when",
        "error",
    ):
        table.add_column(column, justify="right" if column in ("id", "items", "tries") else "left")
    for row in rows:
        moment = (
            f"sent {when(row.sent_at)}"
            if row.status == "sent"
            else "-"
            if row.status == "skipped"
            else f"next {when(row.next_attempt_at)}"
        )
        table.add_row(
            str(row.id),
            safe(row.watchlist),
            when(row.window_start),
            when(row.window_end),
            safe(row.status, "red" if row.status == "failed" else ""),
            str(row.items),
            str(row.attempts),
            moment,
            safe(row.last_error or ""),
        )
    out.print(table)
    now = datetime.now(UTC)
    for config in settings.watchlists:
        if config.digest is None or config.name not in ends:
            continue
        cron = trigger(config.digest)
        upcoming = cron.get_next_fire_time(None, now)
        start = ends[config.name] or latest_fire(cron, upcoming, strict=True) if upcoming else None
        out.print(
            safe(
                f"next: {config.name}: {when(start)} to {when(upcoming)} UTC "
                f"({config.digest.schedule} {config.digest.timezone})"
            )
        )
