"""retention: tombstones of pruned items

``tombstones``: what retention pruned, so an entry still listed in its feed is
not stored again.

Revision ID: a2c0d5e7f102
Revises: a1c0d5e7f101
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import monitor.storage.schema

revision: str = "a2c0d5e7f102"
down_revision: str | None = "a1c0d5e7f101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = monitor.storage.schema.UTCDateTime(timezone=True)


def upgrade() -> None:
    pass  # filled in by the change that introduces these tables


def downgrade() -> None:
    pass
