"""entries, rejections and page retries: nothing a feed served is lost

* ``feed_items`` gets a surrogate key: one row per (feed, entry) instead of one
  per (feed, item), the entry named by ``entry_key`` (its GUID, else its link),
  and the entry's own ``title``.  A feed carrying one item through several
  entries keeps every entry's GUID, URL and title.
* ``entry_rejections``: entries not stored, with the reason.
* ``page_retries``: items whose article page failed temporarily, to fetch again.
* ``feeds.allow_private``: the feed's opt-in to its own host on a private network.

Revision ID: 8b1e4c2d9f30
Revises: 6cf8a7242295
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import monitor.storage.schema

revision: str = "8b1e4c2d9f30"
down_revision: str | None = "6cf8a7242295"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = monitor.storage.schema.UTCDateTime(timezone=True)


def _feed_items(with_entries: bool) -> None:
    columns: list[sa.Column] = []
    constraints: list[sa.Constraint] = [
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_feed_items_feed_id_feeds", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_feed_items_item_id_items", ondelete="CASCADE"
        ),
    ]
    if with_entries:
        columns.append(sa.Column("id", sa.Integer(), nullable=False))
        constraints += [
            sa.PrimaryKeyConstraint("id", name="pk_feed_items"),
            sa.UniqueConstraint("feed_id", "entry_key", name="uq_feed_items_feed_id_entry_key"),
        ]
    else:
        constraints += [
            sa.PrimaryKeyConstraint("feed_id", "item_id", name="pk_feed_items"),
            sa.UniqueConstraint("feed_id", "guid", name="uq_feed_items_feed_id_guid"),
        ]
    columns += [
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
    ]
    if with_entries:
        columns.append(sa.Column("entry_key", sa.Text(), nullable=False))
    columns += [
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("entry_url", sa.Text(), nullable=True),
    ]
    if with_entries:
        columns.append(sa.Column("title", sa.Text(), nullable=True))
    columns += [
        sa.Column("first_seen_at", UTC, nullable=False),
        sa.Column("entry_updated", UTC, nullable=True),
    ]
    op.create_table("feed_items", *columns, *constraints)
    op.create_index("ix_feed_items_entry_url", "feed_items", ["entry_url"])
    op.create_index("ix_feed_items_item_id", "feed_items", ["item_id"])
    if with_entries:
        op.create_index("ix_feed_items_feed_id_item_id", "feed_items", ["feed_id", "item_id"])


def _copy_aside() -> None:
    op.execute(
        "CREATE TABLE feed_items_old AS SELECT feed_id, item_id, guid, entry_url, "
        "first_seen_at, entry_updated FROM feed_items"
    )
    op.drop_table("feed_items")


def upgrade() -> None:
    _copy_aside()
    _feed_items(with_entries=True)
    op.execute(
        "INSERT INTO feed_items (feed_id, item_id, entry_key, guid, entry_url, first_seen_at, "
        "entry_updated) SELECT feed_id, item_id, "
        "COALESCE(NULLIF(guid, ''), 'url:' || COALESCE(entry_url, '')), guid, entry_url, "
        "first_seen_at, entry_updated FROM feed_items_old ORDER BY first_seen_at "
        "ON CONFLICT DO NOTHING"
    )
    op.drop_table("feed_items_old")

    op.create_table(
        "entry_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.Text(), nullable=False),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("permanent", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_entry_rejections_feed_id_feeds", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_entry_rejections"),
        sa.UniqueConstraint("feed_id", "entry_key", name="uq_entry_rejections_feed_id_entry_key"),
    )
    op.create_table(
        "page_retries",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", UTC, nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name="fk_page_retries_feed_id_feeds", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name="fk_page_retries_item_id_items", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", name="pk_page_retries"),
    )
    op.create_index("ix_page_retries_next_attempt_at", "page_retries", ["next_attempt_at"])
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allow_private", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("allow_private")
    op.drop_index("ix_page_retries_next_attempt_at", table_name="page_retries")
    op.drop_table("page_retries")
    op.drop_table("entry_rejections")
    # Back to one row per (feed, item): the first entry of each is kept.
    _copy_aside()
    _feed_items(with_entries=False)
    op.execute(
        "INSERT INTO feed_items (feed_id, item_id, guid, entry_url, first_seen_at, entry_updated) "
        "SELECT feed_id, item_id, guid, entry_url, first_seen_at, entry_updated "
        "FROM feed_items_old ORDER BY first_seen_at ON CONFLICT DO NOTHING"
    )
    op.drop_table("feed_items_old")
