"""``monitor check`` and ``monitor run``."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from monitor.cli.common import (
    EXIT_USAGE,
    Context,
    fail,
    handle_errors,
    out,
    progress_bar,
    safe,
    setup_logging,
    visible,
)
from monitor.heap import freeze_start_up

if TYPE_CHECKING:  # imported when used: light commands (--help, check) start fast
    from monitor.orchestrator import Orchestrator
    from monitor.reports import FeedReport, RunReport
    from monitor.stopping import StopSignal

log = logging.getLogger(__name__)


def check(ctx: typer.Context) -> None:
    """Validate the configuration file and show what it defines.

    Exits with status 2 and names file, line and field when something is wrong.

    Example: monitor --config feeds.yaml check
    """
    context: Context = ctx.obj
    settings = context.settings
    out.print(
        Text.assemble(
            ("ok", "green"),
            " ",
            safe(
                f"{settings.config_path}: {len(settings.feeds)} feeds, "
                f"{len(settings.watchlists)} watchlists, database {settings.masked_database_url}"
            ),
        ),
        soft_wrap=True,  # paths stay whole, for copying, however narrow the terminal
    )


def run(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Poll every feed once, print a summary, exit."),
    due: bool = typer.Option(False, "--due", help="With --once: only feeds whose time has come."),
    feed: list[str] = typer.Option(None, "--feed", "-f", help="Only this feed (repeatable)."),
    tick: int = typer.Option(30, "--tick", min=1, help="Service mode: seconds between checks."),
) -> None:
    """Poll the feeds and store their articles; without --once, run as a service.

    SIGTERM or Ctrl-C stops cleanly: the work in flight finishes (up to 5 s), the
    rest is left for the next run, and the exit status is 0.

    Example: monitor run --once
    """
    from monitor.orchestrator import Orchestrator
    from monitor.stopping import StopSignal
    from monitor.workers import registered, single_writer  # SQLite: one service

    context: Context = ctx.obj
    settings = context.settings
    if not once and (feed or due):
        fail(
            "--feed and --due only go with --once; the service (run without --once) polls "
            "every feed when it is due. Try: monitor run --once --feed NAME",
            EXIT_USAGE,
        )
    unknown = [name for name in feed or () if settings.feed(name) is None]
    if unknown:
        fail(f"no feed named {', '.join(map(repr, unknown))} in {settings.config_path}", EXIT_USAGE)
    stop = StopSignal()
    if not once:
        from monitor.service.core import Service, default_components

        with (
            handle_errors(),
            single_writer(settings.database_url, "service"),
            context.store() as store,
        ):
            setup_logging(context.verbose, logging.INFO, settings.service.log_format)
            service = Service(settings, store, tick_seconds=tick, stop=stop)
            for component in default_components(settings):
                service.add(component)
            service.orchestrator.sync_feeds()
            freeze_start_up(collect=True)
            service.run()
        return
    with _stop_on_signals(stop):  # until the summary is out: a late SIGTERM is a clean stop
        with (
            handle_errors(),
            single_writer(settings.database_url, "once"),
            context.store() as store,
            registered(store, settings),  # for `monitor status`
            Orchestrator(settings, store, stop=stop) as orchestrator,
        ):
            setup_logging(context.verbose)
            freeze_start_up(collect=False)
            report = _run_with_progress(orchestrator, feed or None, due)
        _summary(report)
        if report.stopped or stop.requested:  # a clean end: what was left is done next time
            out.print("stopped on request: unfinished feeds and items are left for the next run")
            return
    if report.feeds and len(report.failed) == len(report.feeds):
        raise typer.Exit(1)


@contextmanager
def _stop_on_signals(stop: StopSignal) -> Iterator[None]:
    """For the whole of ``run --once``: the first SIGTERM or SIGINT asks for a clean
    stop, a second one interrupts at once.  (The service installs its own handlers.)"""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        log.warning(
            "received %s: finishing the work in flight (up to %.0fs), leaving the rest for the "
            "next run; send it again to stop at once",
            signal.Signals(signum).name,
            stop.grace,
        )
        stop.request()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _run_with_progress(orchestrator: Orchestrator, names: list[str] | None, due: bool) -> RunReport:
    with progress_bar() as progress:
        task = progress.add_task("polling feeds", total=None)

        def claimed(n: int) -> None:
            progress.update(task, total=n)

        def done(report: FeedReport) -> None:
            progress.update(task, advance=1, description=f"{visible(report.name)[:30]:<30}")

        return orchestrator.run_once(names=names, due_only=due, on_claimed=claimed, on_feed=done)


# Past this many feeds the table lists only those worth a look (failed, new items, work
# left); a thousand rows of "not_modified" hide the three that matter, and cost a second.
FULL_TABLE_UP_TO = 40


def _worth_a_row(feed: FeedReport) -> bool:
    return feed.failed or bool(feed.new or feed.revised or feed.deferred or feed.page_failures)


def _summary(report: RunReport) -> None:
    rows = report.feeds
    if len(rows) > FULL_TABLE_UP_TO:
        rows = [f for f in rows if _worth_a_row(f)]
    title = "monitor run --once"
    if len(rows) < len(report.feeds):
        title += (
            f": {len(rows)} of {len(report.feeds)} feeds listed, the rest not modified or "
            "with nothing new (monitor feeds list shows every feed)"
        )
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("feed", "left"),
        ("result", "left"),
        ("entries", "right"),
        ("new", "right"),
        ("seen", "right"),
        ("no full text", "right"),
        ("time", "right"),
    ):
        table.add_column(
            column,
            justify=justify,  # type: ignore[arg-type]
            # On a narrow terminal the counts keep their width; names and errors wrap.
            no_wrap=justify == "right",
            min_width=len(column) if justify == "right" else None,
        )
    for feed in sorted(rows, key=lambda f: (not f.failed, f.name)):
        result = Text(feed.outcome.value, style="red" if feed.failed else "")
        if feed.error:  # quotes what the server or the document said
            result.append_text(safe(f": {feed.error}"))
        table.add_row(
            safe(feed.name),
            result,
            str(feed.entries),
            str(feed.new),
            str(feed.seen + feed.linked),
            str(feed.page_failures),
            f"{feed.duration:.1f}s",
        )
    out.print(table)
    for feed in report.failed:  # the table may cut errors short; here they are whole
        line = safe(f" {feed.name}: {feed.outcome.value}: {feed.error}")
        out.print(Text.assemble(("failed", "red"), line), soft_wrap=True)
    ok = len(report.feeds) - len(report.failed)
    out.print(
        f"feeds: {ok} ok, {len(report.failed)} failed · items: {report.new} new, "
        f"{report.seen} seen, {report.revised} revised, {report.duplicates} copies of "
        f"stored stories · {report.matched} matched a watchlist · {report.elapsed:.1f}s"
    )


def register(app: typer.Typer) -> None:
    app.command()(check)
    app.command()(run)
