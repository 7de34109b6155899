"""digest windows: each watchlist's digests, sent exactly once

``digests``: one row per watchlist and window, unique, so that only one worker
sends it; ``digest_matches``: which digest carried each match (one at most).

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
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watchlist", sa.String(200), nullable=False),
        sa.Column("window_start", UTC, nullable=False),
        sa.Column("window_end", UTC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_digests"),
        sa.UniqueConstraint("watchlist", "window_start", name="uq_digests_watchlist_window_start"),
    )
    op.create_index("ix_digests_status_next_attempt_at", "digests", ["status", "next_attempt_at"])
    op.create_table(
        "digest_matches",
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["watch_matches.id"],
            name="fk_digest_matches_match_id_watch_matches",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["digests.id"],
            name="fk_digest_matches_digest_id_digests",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("match_id", name="pk_digest_matches"),
    )
    op.create_index("ix_digest_matches_digest_id", "digest_matches", ["digest_id"])


def downgrade() -> None:
    op.drop_index("ix_digest_matches_digest_id", table_name="digest_matches")
    op.drop_table("digest_matches")
    op.drop_index("ix_digests_status_next_attempt_at", table_name="digests")
    op.drop_table("digests")
