"""alerts: each item alerted once per watchlist

``alerts``: one row per item and watchlist, unique, with delivery attempts.

Revision ID: a5c0d5e7f105
Revises: a4c0d5e7f104
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import monitor.storage.schema

revision: str = "a5c0d5e7f105"
down_revision: str | None = "a4c0d5e7f104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = monitor.storage.schema.UTCDateTime(timezone=True)


def upgrade() -> None:
    pass  # filled in by the change that introduces these tables


def downgrade() -> None:
    pass
