"""reviews: triage of matches: reviewed or dismissed, notes

``match_reviews``: the current state per item and watchlist (no row: open);
``match_review_changes``: every change, with who and when, never rewritten;
an index on ``watch_matches`` (watchlist, item, time) for the one-row-per-item lists.

Revision ID: a7c0d5e7f107
Revises: a6c0d5e7f106
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import monitor.storage.schema

revision: str = "a7c0d5e7f107"
down_revision: str | None = "a6c0d5e7f106"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = monitor.storage.schema.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "match_reviews",
        sa.Column("item_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("watchlist", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_match_reviews_item_id_items", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", "watchlist", name="pk_match_reviews"),
    )
    op.create_index("ix_match_reviews_watchlist_state", "match_reviews", ["watchlist", "state"])
    op.create_table(
        "match_review_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("watchlist", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name="fk_match_review_changes_item_id_items",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_match_review_changes"),
    )
    op.create_index(
        "ix_match_review_changes_item_id_watchlist",
        "match_review_changes",
        ["item_id", "watchlist"],
    )
    op.create_index(
        "ix_watch_matches_watchlist_item_id_matched_at",
        "watch_matches",
        ["watchlist", "item_id", "matched_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_watch_matches_watchlist_item_id_matched_at", table_name="watch_matches")
    op.drop_index("ix_match_review_changes_item_id_watchlist", table_name="match_review_changes")
    op.drop_table("match_review_changes")
    op.drop_index("ix_match_reviews_watchlist_state", table_name="match_reviews")
    op.drop_table("match_reviews")
