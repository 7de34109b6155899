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

_INDEXES = (
    ("ix_tombstones_feed_id_entry_url", ["feed_id", "entry_url"]),
    ("ix_tombstones_feed_id_canonical_url", ["feed_id", "canonical_url"]),
    ("ix_tombstones_last_seen_at", ["last_seen_at"]),
)


def upgrade() -> None:
    op.create_table(
        "tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.Text(), nullable=False),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("entry_url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("stored_at", UTC, nullable=False),
        sa.Column("pruned_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_tombstones_feed_id_feeds", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tombstones"),
        sa.UniqueConstraint("feed_id", "entry_key", name="uq_tombstones_feed_id_entry_key"),
    )
    for name, columns in _INDEXES:
        op.create_index(name, "tombstones", columns)


def downgrade() -> None:
    for name, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name="tombstones")
    op.drop_table("tombstones")
