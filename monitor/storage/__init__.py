"""Storage: the only package that imports SQLAlchemy.

One module per domain (:mod:`.feeds`, :mod:`.items`), a schema module that is
the source of truth for the Alembic migrations, and :class:`Store`, the
handle the orchestrator and the CLI hold.
"""

from monitor.storage.store import Store, is_transient

__all__ = ["Store", "is_transient"]
