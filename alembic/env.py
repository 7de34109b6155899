"""Alembic environment for monitor.

``monitor db upgrade`` passes its engine in ``config.attributes["engine"]``.
For development (``alembic revision --autogenerate``) the URL comes from
``MONITOR_DATABASE_URL`` or ``-x url=...``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Engine

from monitor.storage.engine import make_engine
from monitor.storage.schema import Base, not_search_index

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine  # type: ignore[no-any-return]
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "MONITOR_DATABASE_URL", "sqlite:///monitor.db"
    )
    return make_engine(url)


def run_migrations_offline() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "MONITOR_DATABASE_URL", "sqlite:///monitor.db"
    )
    context.configure(
        url=url,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_name=not_search_index,  # the search index's tables are made by SQL, not models
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=not_search_index,  # the search index's tables are made by SQL, not models
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
