"""adaptive schedule, host politeness state, moved/gone feeds, fetch history

feeds get their adaptive interval and its reason, a disabled reason and the URL they
moved from; ``fetch_history`` keeps the last polls of each feed.

Revision ID: a1c0d5e7f101
Revises: 8b1e4c2d9f30
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import monitor.storage.schema

revision: str = "a1c0d5e7f101"
down_revision: str | None = "8b1e4c2d9f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = monitor.storage.schema.UTCDateTime(timezone=True)


def upgrade() -> None:
    pass  # filled in by the change that introduces these tables


def downgrade() -> None:
    pass
