"""The ``monitor`` command line: a thin Typer layer over the library.

Each command imports the library modules it uses inside its body (annotations name them
under ``TYPE_CHECKING``): ``--help``, ``--version`` and ``check`` then start in a fraction
of the time that importing SQLAlchemy, Alembic, trafilatura and numpy takes.
tests/test_startup.py keeps it so; bench/startup.py measures it.
"""

from __future__ import annotations

import signal
from pathlib import Path

import typer

from monitor import __version__
from monitor.cli import alerts as alerts_cli
from monitor.cli import db, feeds, items, run, status, watch
from monitor.cli import digest as digest_cli
from monitor.cli import housekeeping as housekeeping_cli
from monitor.cli import search as search_cli
from monitor.cli import web as web_cli
from monitor.cli.common import Context

# monitor.config's DEFAULT_CONFIG, written out: importing the config module (pydantic, the
# models) for the option's default would cost every --help a fifth of a second.
# tests/test_startup.py checks that the two agree.
DEFAULT_CONFIG = Path("feeds.yaml")

app = typer.Typer(
    name="monitor",
    help=(
        "Media-monitoring feed ingester: polls the feeds in feeds.yaml, extracts each "
        "article's full text and stores it.\n\nExample: monitor --config feeds.yaml run --once"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"monitor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path = typer.Option(
        DEFAULT_CONFIG,
        "--config",
        "-c",
        help="The feeds.yaml to use.",
        envvar="MONITOR_CONFIG",
        readable=False,  # monitor says itself what is wrong with an unreadable file
    ),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="-v info, -vv debug."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    ctx.obj = Context(config_path=config, verbose=verbose)


run.register(app)
housekeeping_cli.register(app)
status.register(app)
search_cli.register(app)
app.add_typer(feeds.app, name="feeds")
app.add_typer(items.app, name="items")
app.add_typer(watch.watchlists_app, name="watchlists")
app.add_typer(watch.matches_app, name="matches")
app.add_typer(db.app, name="db")
app.add_typer(alerts_cli.app, name="alerts")
app.add_typer(digest_cli.app, name="digest")
web_cli.register(app)


_GLOBAL_FLAGS = ("--verbose", "-v", "-vv", "-vvv")


def hoist_global_options(argv: list[str]) -> list[str]:
    """Let ``--config FILE`` and ``-v`` come after the subcommand too
    (``monitor check --config x.yaml``): moved in front of it, where Click reads them.

    Only the long ``--config`` is moved (``-c`` means ``--collapse`` to ``items list``);
    nothing after ``--`` is touched."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            rest.extend(argv[index:])
            break
        if arg == "--config" and index + 1 < len(argv) and rest:
            front += argv[index : index + 2]
            index += 2
            continue
        if (arg.startswith("--config=") or arg in _GLOBAL_FLAGS) and rest:
            front.append(arg)
        else:
            rest.append(arg)
        index += 1
    return front + rest if front else argv


def main() -> None:
    import sys

    try:
        app(args=hoist_global_options(sys.argv[1:]))
    finally:
        # The command is over and its work recorded.  A SIGTERM while the interpreter winds
        # down (joining the pool's processes) changes nothing, and must not turn a clean
        # exit into death by signal.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
