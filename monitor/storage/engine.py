"""Engine creation and schema migrations.

SQLite is opened in WAL mode with a busy timeout, so a reader (``monitor
items list``) never blocks the running service.  The schema is only ever made
by Alembic: :func:`upgrade` runs the migrations, serialised across workers on
PostgreSQL by an advisory lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from monitor.config import mask_url
from monitor.errors import StorageError

log = logging.getLogger(__name__)
_MIGRATION_LOCK = 0x6D6F6E69  # "moni": advisory-lock key for PostgreSQL upgrades


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create the engine for ``url``; SQLite gets WAL and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A pooled connection stays open: closing the last connection to a WAL
        # database checkpoints and truncates the WAL, an fsync per transaction.
        engine = create_engine(url, echo=echo)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10)


def script_location() -> Path:
    """The ``alembic/`` folder: in the source tree, or bundled in the wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "alembic", package / "_alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise StorageError(
        "the Alembic migrations folder is missing from this installation; "
        "reinstall monitor (pip install .) from a full checkout"
    )


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["engine"] = engine
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})


def _wrap(engine: Engine, action: str, exc: OperationalError) -> StorageError:
    where = mask_url(str(engine.url))
    reason = str(exc.orig or exc).strip()
    if "connection" in reason.lower() or "could not connect" in reason.lower():
        # The usual case: the server is down or unreachable (a running service waits for it).
        return StorageError(
            f"database unreachable at {where}: {reason}. Check that the database server is "
            "running and the URL (database: in the config or MONITOR_DATABASE_URL) is right; "
            "a running `monitor run` service keeps going and resumes when it is back."
        )
    return StorageError(
        f"{action} failed on {where}: {reason}. "
        "Check that the database server is running and the URL (database: in the config "
        "or MONITOR_DATABASE_URL) is right."
    )


def upgrade(engine: Engine, revision: str = "head") -> None:
    try:
        with _migration_lock(engine):
            command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise _wrap(engine, "database upgrade", exc) from exc


def downgrade(engine: Engine, revision: str) -> None:
    try:
        with _migration_lock(engine):
            command.downgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise _wrap(engine, "database downgrade", exc) from exc


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise _wrap(engine, "reading the schema version", exc) from exc


def head_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return ScriptDirectory.from_config(config).get_current_head()
