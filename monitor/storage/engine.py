"""Engine creation and schema migrations.

SQLite is opened in WAL mode with a busy timeout, so a reader (``monitor
items list``) never blocks the running service.  The schema is only ever made
by Alembic: :func:`upgrade` runs the migrations, serialised across workers on
PostgreSQL by an advisory lock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from monitor.config import mask_url
from monitor.errors import StorageError

if TYPE_CHECKING:  # Alembic is imported when there is something to migrate (upgrade())
    from alembic.config import Config

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
    from alembic.config import Config

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
    if revision == "head" and _at_head(engine):
        return  # nothing to migrate (every run --once asks): Alembic not even imported
    from alembic import command

    try:
        with _migration_lock(engine):
            command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise _wrap(engine, "database upgrade", exc) from exc


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    try:
        with _migration_lock(engine):
            command.downgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise _wrap(engine, "database downgrade", exc) from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise _wrap(engine, "reading the schema version", exc) from exc


def head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return ScriptDirectory.from_config(config).get_current_head()


_REVISION = re.compile(r"""^revision(?:: *str)? *= *["']([0-9A-Za-z_]+)["'] *$""", re.MULTILINE)
_DOWN = re.compile(
    r"""^down_revision(?:: *[^=]+)? *= *(?:None|["']([0-9A-Za-z_]+)["']) *$""", re.MULTILINE
)


@cache
def file_head() -> str | None:
    """The newest migration, read from the versions folder's ``revision = "..."`` and
    ``down_revision = "..."`` lines without Alembic; None when the files are not one
    plain chain (a merge, a branch, a line written otherwise): then Alembic decides."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in sorted((script_location() / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0]:
            downs.add(down[0])
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 and downs <= revisions else None


def _at_head(engine: Engine) -> bool:
    """Whether the database is already at the newest migration (one cheap query): most
    opens find it so, and Alembic's own check costs its import, a tenth of a second."""
    head = file_head()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:  # no table yet (a new database), or unreachable: Alembic says which
        return False
    return list(found) == [head]
