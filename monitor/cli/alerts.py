"""``monitor alerts``: the webhook alerts the service sent, is sending and failed to send."""

from __future__ import annotations

import json
import sys

import typer
from rich.table import Table

from monitor.cli.common import EXIT_USAGE, Context, fail, handle_errors, out, safe, when

app = typer.Typer(
    help="Webhook alerts of watchlists with an alert: section (sent by monitor run).\n\n"
    "Example: monitor alerts list --status failed",
    no_args_is_help=True,
)

_STATUSES = ("pending", "sent", "failed")


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, "--status", help="Only alerts in this state: pending, sent or failed."
    ),
    watchlist: str | None = typer.Option(None, "--watchlist", "-w", help="Only this one."),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most this many rows."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """List alerts, newest first, each sent, pending or failed.

    Each row shows the item, its state, the attempts, the next attempt (or when it was
    sent) and the last error.  A failed alert is still tried again; the webhook is shown
    as scheme://host/… only.

    Example: monitor alerts list --watchlist axis --status pending
    """
    context: Context = ctx.obj
    settings = context.settings
    if status and status not in _STATUSES:
        fail(f"--status {status!r}: expected one of {', '.join(_STATUSES)}", EXIT_USAGE)
    if watchlist and not any(w.name == watchlist for w in settings.watchlists):
        fail(f"no watchlist named {watchlist!r} in {settings.config_path}", EXIT_USAGE)
    with context.store() as store, handle_errors():
        rows = store.alerts.list(status, watchlist, limit)
        counts = store.alerts.counts(watchlist)
    if as_json:
        for row in rows:
            record = {
                "id": row.id,
                "item_id": row.item_id,
                "watchlist": row.watchlist,
                "title": row.title,
                "url": row.url,
                "status": row.status,
                "attempts": row.attempts,
                "created_at": row.created_at.isoformat(),
                "next_attempt_at": None
                if row.status == "sent"
                else row.next_attempt_at.isoformat(),
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "last_status": row.last_status,
                "last_error": row.last_error,
                "target": row.target,
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in _STATUSES)
    table = Table(title=f"{len(rows)} alerts shown ({summary})", title_justify="left")
    for column in ("id", "item", "watchlist", "title", "state", "tries", "when", "to", "error"):
        table.add_column(column, justify="right" if column in ("id", "item", "tries") else "left")
    for row in rows:
        moment = (
            f"sent {when(row.sent_at)}"
            if row.status == "sent"
            else f"next {when(row.next_attempt_at)}"
        )
        table.add_row(
            str(row.id),
            str(row.item_id),
            safe(row.watchlist),
            safe(row.title or row.url),
            safe(row.status, "red" if row.status == "failed" else ""),
            str(row.attempts),
            moment,
            safe(row.target or "-"),
            safe(row.last_error or ""),
        )
    out.print(table)
