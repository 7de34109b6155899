"""alerts: each item alerted once per watchlist

``alerts``: one row per item and watchlist, unique, with delivery attempts;
``alert_watchlists``: when each watchlist's alerts began and how far its
matches were queued.

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
    op.create_table(
        "alert_watchlists",
        sa.Column("watchlist", sa.String(200), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("scanned_until", UTC, nullable=False),
        sa.Column("stopped_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("watchlist", name="pk_alert_watchlists"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("watchlist", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("last_attempt_at", UTC, nullable=True),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_alerts_item_id_items", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("item_id", "watchlist", name="uq_alerts_item_id_watchlist"),
    )
    op.create_index("ix_alerts_status_next_attempt_at", "alerts", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_status_next_attempt_at", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("alert_watchlists")
