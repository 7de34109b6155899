"""adaptive schedule, host politeness state, moved/gone feeds, fetch history

feeds get their adaptive interval and its reason, a disabled reason and the URL they
moved from; ``fetch_history`` keeps the last polls of each feed.

Revision ID: a1c0d5e7f101
Revises: 8b1e4c2d9f30
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import monitor.storage.schema

revision: str = "a1c0d5e7f101"
down_revision: str | None = "8b1e4c2d9f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = monitor.storage.schema.UTCDateTime(timezone=True)


_FEED_COLUMNS: list[tuple[str, Any, str | None]] = [
    ("min_interval_seconds", sa.Integer(), None),
    ("max_interval_seconds", sa.Integer(), None),
    ("current_interval", sa.Integer(), None),
    ("interval_reason", sa.Text(), None),
    ("entry_rate", sa.Float(), None),
    ("observed_at", UTC, None),
    ("pending_new", sa.Integer(), "0"),
    ("busy_new", sa.Integer(), "0"),
    ("busy_polls", sa.Integer(), "0"),
    ("quiet_polls", sa.Integer(), "0"),
    ("moved_from", sa.Text(), None),
    ("disabled_reason", sa.Text(), None),
    ("disabled_at", UTC, None),
]


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        for name, type_, default in _FEED_COLUMNS:
            batch.add_column(
                sa.Column(name, type_, nullable=default is None, server_default=default)
            )
    op.create_table(
        "fetch_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", UTC, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("new_items", sa.Integer(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_fetch_history_feed_id_feeds", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_fetch_history"),
    )
    op.create_index("ix_fetch_history_feed_id_id", "fetch_history", ["feed_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_fetch_history_feed_id_id", table_name="fetch_history")
    op.drop_table("fetch_history")
    with op.batch_alter_table("feeds") as batch:
        for name, _type, _default in reversed(_FEED_COLUMNS):
            batch.drop_column(name)
