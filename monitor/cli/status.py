"""``monitor status``: the service's health, read from the database.

Every worker writes what ``status`` needs into the shared database (its row in
``workers``, its leases, each feed's schedule and outcome), so the command
works from any machine that can reach the database, whether or not a service
runs there.  :func:`assess` is pure: it turns the overview into worker states
and the reasons the service is degraded, so the rules are tested with plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from monitor.cli.common import EXIT_FAILURE, Context, fail, handle_errors, out, safe
from monitor.errors import StorageError

if TYPE_CHECKING:
    from monitor.storage.config_version import ConfigVersion
    from monitor.storage.workers import Overview, WorkerRow

OVERDUE = timedelta(minutes=10)  # a feed due for longer than this: nobody is polling it


@dataclass(frozen=True, slots=True)
class Assessment:
    """Each shown worker's state, and why the service is degraded (empty: healthy)."""

    states: dict[str, str]  # worker id -> alive / running / stopped / silent / gone / lost
    config: dict[str, str]  # worker id -> current / older / newer / unknown
    reasons: list[str]


def worker_state(row: WorkerRow, now: datetime, silent_after: timedelta, lease: timedelta) -> str:
    """``alive`` (a service beating), ``running`` (a ``run --once`` not ended), ``stopped``
    (ended cleanly), ``gone`` (a process of this host that ended without saying so),
    ``silent`` (a service whose heartbeat stopped, or a ``run --once`` older than a lease)."""
    from monitor.workers import is_dead_local

    if row.stopped_at is not None:
        return "stopped"
    if is_dead_local(row.id):
        return "gone"
    if row.mode == "service":
        return "alive" if row.seen_at >= now - silent_after else "silent"
    return "running" if row.seen_at >= now - lease else "silent"


def assess(
    overview: Overview,
    followed: ConfigVersion | None,
    *,
    silent_after: timedelta,
    lease: timedelta,
    stale_after: timedelta,
    overdue: timedelta = OVERDUE,
) -> Assessment:
    """The rules of ``monitor status`` (pure): degraded when a worker died or fell silent
    within ``stale_after``, a live worker runs an older feeds.yaml, feeds are due for
    longer than ``overdue``, no feed was polled successfully for ``stale_after``, or
    every feed polled is failing."""
    from monitor.workers import compare_label

    now = overview.now
    states: dict[str, str] = {}
    config: dict[str, str] = {}
    reasons: list[str] = []
    for row in overview.workers:
        state = worker_state(row, now, silent_after, lease)
        states[row.id] = state
        config[row.id] = compare_label(row.config_version, followed)
        recent = row.seen_at >= now - stale_after
        if state in ("silent", "gone") and recent:
            what = (
                "ended without stopping (killed or crashed)"
                if state == "gone"
                else f"silent for {_age(now - row.seen_at)}"
            )
            reasons.append(
                f"worker {row.id} {what}, last seen {_at(row.seen_at)}; its leases are "
                "taken over by the other workers"
            )
        elif state == "silent":
            states[row.id] = "lost"  # long ago: shown, no longer a reason
        if state in ("alive", "running") and config[row.id] == "older":
            reasons.append(
                f"worker {row.id} runs a feeds.yaml older than the one the database follows "
                "and does not sync it: give it the newer file (or raise its config_version:)"
            )
    if overview.overdue:
        reasons.append(
            f"{overview.overdue} feeds due for more than {_age(overdue)}: is a worker "
            "running? (`monitor run`, or `systemctl status monitor`)"
        )
    last = overview.last_success_at
    if overview.active_feeds and last is not None and last < now - stale_after:
        reasons.append(
            f"no feed polled successfully for {_age(now - last)} "
            f"(service.stale_after is {_age(stale_after)})"
        )
    if overview.polled_feeds and overview.failing >= overview.polled_feeds:
        reasons.append(
            f"every feed polled is failing ({overview.failing}): is the network or "
            "the fetcher's proxy down?"
        )
    return Assessment(states, config, reasons)


def status(ctx: typer.Context) -> None:
    """Show the service's health from the database: workers, leases, feeds.

    Workers are alive (a service whose heartbeat is recent), running (a
    run --once), stopped, silent (no heartbeat for 30 s: its leases go to
    the others) or gone (a process of this host that ended without
    stopping). Also: leases held, feeds due, overdue and failing, the last
    successful poll, page retries pending.

    Exit status 0 when healthy, 1 when degraded (the reasons are printed)
    or when the database is unreachable.

    Example: monitor status
    """
    from monitor.orchestrator import LEASE
    from monitor.storage import Store, is_transient
    from monitor.storage.engine import head_revision
    from monitor.workers import SILENT_AFTER

    context: Context = ctx.obj
    settings = context.settings
    now = datetime.now(UTC)
    stale_after = timedelta(seconds=settings.service.stale_after)
    where = settings.masked_database_url
    with handle_errors(), Store(settings.database_url) as store:
        try:
            revision = store.current_revision()
        except StorageError as exc:  # unreachable: one line (the driver's message has two)
            fail(" ".join(str(exc).split()))
        if revision != head_revision():
            fail(
                f"the database at {where} is at schema revision {revision or 'none'}, not "
                f"{head_revision()}: run `monitor db upgrade` (a starting `monitor run` "
                "does it too)"
            )
        try:
            overview = store.workers.overview(now, OVERDUE, now - stale_after)
            followed = store.config_version.current()
        except Exception as exc:
            if not is_transient(exc):
                raise
            fail(
                " ".join(f"database unreachable at {where} while reading the status: {exc}".split())
            )
    version = followed.version if followed is not None else None
    verdict = assess(
        overview, version, silent_after=SILENT_AFTER, lease=LEASE, stale_after=stale_after
    )
    _print(overview, verdict, where, version)
    if verdict.reasons:
        raise typer.Exit(EXIT_FAILURE)


_STYLES = {"alive": "green", "running": "green", "stopped": "", "lost": "dim"}


def _print(
    overview: Overview, verdict: Assessment, where: str, followed: ConfigVersion | None
) -> None:
    now = overview.now
    version = followed.describe() if followed is not None else "none recorded yet"
    out.print(safe(f"database {where} · feeds.yaml followed: {version}"), soft_wrap=True)
    workers = Table(title="workers", title_justify="left")
    for column in ("host", "pid", "mode", "state", "last heartbeat", "started", "config"):
        workers.add_column(column, justify="right" if column == "pid" else "left")
    workers.add_column("version")
    for row in overview.workers:
        state = verdict.states[row.id]
        workers.add_row(
            safe(row.host),
            str(row.pid),
            row.mode,
            Text(state, style=_STYLES.get(state, "bold red")),
            f"{_age(now - row.seen_at)} ago",
            _at(row.started_at),
            verdict.config[row.id],
            safe(row.software or "-"),
        )
    if overview.workers:
        out.print(workers)
    else:
        out.print("workers: none seen (no `monitor run` has used this database lately)")
    if overview.leases:
        leases = Table(title="leases held", title_justify="left")
        for column in ("holder", "feeds", "until"):
            leases.add_column(column)
        for lease in overview.leases:
            leases.add_row(safe(lease.owner), str(lease.feeds), _at(lease.until))
        out.print(leases)
    else:
        out.print("leases held: none")
    oldest = f", the oldest since {_at(overview.oldest_due)}" if overview.oldest_due else ""
    out.print(
        f"feeds: {overview.active_feeds} active, {overview.due} due now{oldest}, "
        f"{overview.overdue} overdue, {overview.failing} failing, "
        f"{overview.disabled} disabled (410)"
    )
    last = _at(overview.last_success_at) if overview.last_success_at else "never"
    out.print(f"last successful poll: {last}")
    out.print(f"page retries pending: {overview.retries_pending} ({overview.retries_due} due now)")
    for feed in overview.failing_shown:
        out.print(
            Text.assemble(
                ("failing", "red"),
                safe(f" {feed.name}: {feed.failures} in a row: {feed.last_error or '-'}"),
            ),
            soft_wrap=True,
        )
    if overview.failing > len(overview.failing_shown):
        out.print(f"... and {overview.failing - len(overview.failing_shown)} more failing feeds")
    if verdict.reasons:
        out.print(Text("degraded:", style="bold red"))
        for reason in verdict.reasons:
            out.print(safe(f"  - {reason}"), soft_wrap=True)
    else:
        out.print(Text("healthy", style="green"))


def _at(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _age(delta: timedelta) -> str:
    """A duration to the unit that reads well: 45s, 12m, 3h, 2d."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def register(app: typer.Typer) -> None:
    app.command()(status)
