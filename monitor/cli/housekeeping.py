"""``monitor prune``: retention by age, the service's housekeeping job run once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from monitor.cli.common import (
    EXIT_USAGE,
    Context,
    fail,
    handle_errors,
    out,
    progress_bar,
    safe,
    setup_logging,
)

if TYPE_CHECKING:  # imported when used: light commands (--help, check) start fast
    from monitor.storage.retention import PruneReport


def prune(
    ctx: typer.Context,
    dry_run: bool = typer.Option(
        False, "--dry-run", "-n", help="Count what would be pruned; delete nothing."
    ),
) -> None:
    """Delete items older than their retention; expire old tombstones.

    A pruned item leaves a tombstone per feed entry, so a feed still listing
    it does not bring it back.

    Rules from feeds.yaml: housekeeping.retention, each feed's retention (an
    item carried by several feeds is kept for the longest),
    housekeeping.matched_retention (items a watchlist matched).

    Batches of housekeeping.prune_batch items, each its own transaction: a
    running service keeps ingesting, and an interrupted prune loses nothing
    it should keep.

    Example: monitor prune --dry-run
    """
    from datetime import UTC, datetime

    from monitor.service.housekeeping import older_config
    from monitor.service.housekeeping import prune as run_prune
    from monitor.storage.retention import RetentionPolicy

    context: Context = ctx.obj
    setup_logging(context.verbose)
    settings = context.settings
    policy = RetentionPolicy.of(settings)
    now = datetime.now(UTC)
    with context.store() as store, handle_errors():
        refused = older_config(store, settings)
        if refused:
            fail(refused, EXIT_USAGE)
        total = store.retention.count_candidates(policy, now)
        with progress_bar() as progress:
            task = progress.add_task("checking items" if dry_run else "pruning", total=total)
            report = run_prune(
                store,
                settings,
                now,
                dry_run=dry_run,
                progress=lambda n: progress.advance(task, n),
            )
    if report.skipped:
        out.print(safe(f"nothing done: {report.skipped}; try again when it has finished"))
        return
    out.print(_table(report, policy.describe()))


def _table(report: PruneReport, rules: str) -> Table:
    pruned = "that would be pruned" if report.dry_run else "pruned"
    expired = "that would expire" if report.dry_run else "expired"
    title = "prune (dry run: nothing deleted)" if report.dry_run else "prune"
    table = Table(title=title, title_justify="left", caption=rules, caption_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = (
        (f"items {pruned}", report.items),
        ("  their feed entries (one tombstone each)", report.entries),
        ("  their pages", report.pages),
        ("  their earlier revisions", report.revisions),
        ("  their watch matches", report.matches),
        ("  their page retries", report.retries),
        ("  clusters given a new representative", report.clusters),
        ("items old enough to look at", report.scanned),
        ("  kept (a longer retention applies)", report.kept - report.kept_matched),
        ("  kept as watchlist matches", report.kept_matched),
        (f"tombstones {expired}", report.tombstones_expired),
        ("batches", report.batches),
    )
    for label, count in rows:
        table.add_row(safe(label), str(count))
    return table


def register(app: typer.Typer) -> None:
    app.command()(prune)
