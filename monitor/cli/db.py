"""``monitor db``: schema migrations."""

from __future__ import annotations

import typer

from monitor.cli.common import Context, handle_errors, out, safe

app = typer.Typer(
    help="Database schema migrations (Alembic).\n\nExample: monitor db upgrade",
    no_args_is_help=True,
)


@app.command()
def upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Migrate the database to REVISION (default: the latest).

    Example: monitor db upgrade
    """
    from monitor.storage import Store

    context: Context = ctx.obj
    settings = context.settings
    with handle_errors(), Store(settings.database_url) as store:
        store.upgrade(revision)
        out.print(safe(f"{settings.masked_database_url}: schema at {store.current_revision()}"))


@app.command()
def downgrade(ctx: typer.Context, revision: str = typer.Argument(...)) -> None:
    """Migrate the database back to REVISION ("base" removes every table).

    Example: monitor db downgrade base
    """
    from monitor.storage import Store

    context: Context = ctx.obj
    settings = context.settings
    with handle_errors(), Store(settings.database_url) as store:
        store.downgrade(revision)
        out.print(safe(f"{settings.masked_database_url}: schema at {store.current_revision()}"))


@app.command()
def current(ctx: typer.Context) -> None:
    """Show the database's schema revision and the latest one available.

    Example: monitor db current
    """
    from monitor.storage import Store
    from monitor.storage.engine import head_revision

    context: Context = ctx.obj
    settings = context.settings
    with handle_errors(), Store(settings.database_url) as store:
        revision = store.current_revision()
    head = head_revision()
    state = (
        "up to date" if revision == head else f"behind (latest is {head}); run monitor db upgrade"
    )
    out.print(safe(f"{settings.masked_database_url}: {revision or 'empty'} - {state}"))
