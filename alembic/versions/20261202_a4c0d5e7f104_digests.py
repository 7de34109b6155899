"""digest windows: each watchlist's digests, sent exactly once

``digests``: one row per watchlist and window, unique, so that only one worker
sends it.

Revision ID: a4c0d5e7f104
Revises: a3c0d5e7f103
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import monitor.storage.schema

revision: str = "a4c0d5e7f104"
down_revision: str | None = "a3c0d5e7f103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = monitor.storage.schema.UTCDateTime(timezone=True)


def upgrade() -> None:
    pass  # filled in by the change that introduces these tables


def downgrade() -> None:
    pass
