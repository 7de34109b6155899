"""search: full-text search index over items

SQLite: an FTS5 virtual table ``item_fts`` (title, text, author; rowid = item
id; ``ascii`` tokenizer over already folded words), ``item_fts_sort`` (item id ->
its time, to order hits by) and a trigger that drops an item's rows when the
item is deleted.  PostgreSQL: ``item_search`` (item id -> tsvector of folded
words with positions, weighted by field, and the item's time to order hits by)
with a GIN index, deleted with its item by the foreign key.  Existing
items are indexed in batches.

Revision ID: a6c0d5e7f106
Revises: a5c0d5e7f105
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.watch.fts import fts5_text, tsvector_literal

revision: str = "a6c0d5e7f106"
down_revision: str | None = "a5c0d5e7f105"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def _fill(conn: sa.Connection, dialect: str) -> None:
    if dialect == "sqlite":
        insert = sa.text(
            "INSERT INTO item_fts (rowid, title, text, author) VALUES (:id, :title, :text, :author)"
        )
    else:
        insert = sa.text(
            "INSERT INTO item_search (item_id, sort_at, doc) "
            "VALUES (:id, :sort_at, CAST(:doc AS tsvector))"
        )
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT id, title, text, author, coalesce(published_at, fetched_at) AS sort_at "
                "FROM items WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        if dialect == "sqlite":
            values = [
                {
                    "id": r.id,
                    "title": fts5_text(r.title),
                    "text": fts5_text(r.text),
                    "author": fts5_text(r.author),
                }
                for r in rows
            ]
        else:
            values = [
                {
                    "id": r.id,
                    "sort_at": r.sort_at,
                    "doc": tsvector_literal(r.title, r.text, r.author),
                }
                for r in rows
            ]
        conn.execute(insert, values)
        last = rows[-1].id


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE item_fts USING fts5(title, text, author, tokenize = 'ascii')"
        )
        op.execute(
            "CREATE TABLE item_fts_sort (item_id INTEGER NOT NULL PRIMARY KEY, "
            "sort_at DATETIME NOT NULL)"
        )
        op.execute(
            "CREATE TRIGGER item_fts_delete AFTER DELETE ON items BEGIN "
            "DELETE FROM item_fts WHERE rowid = old.id; "
            "DELETE FROM item_fts_sort WHERE item_id = old.id; END"
        )
        op.execute(  # the stored text of the time, as the items table has it
            "INSERT INTO item_fts_sort (item_id, sort_at) "
            "SELECT id, coalesce(published_at, fetched_at) FROM items"
        )
    else:
        op.execute(
            "CREATE TABLE item_search ("
            "item_id INTEGER NOT NULL, sort_at TIMESTAMP WITH TIME ZONE NOT NULL, "
            "doc TSVECTOR NOT NULL, "
            "CONSTRAINT pk_item_search PRIMARY KEY (item_id), "
            "CONSTRAINT fk_item_search_item_id_items FOREIGN KEY (item_id) "
            "REFERENCES items (id) ON DELETE CASCADE)"
        )
    _fill(conn, dialect)
    if dialect != "sqlite":  # built after the fill: faster than growing it row by row
        op.execute("CREATE INDEX ix_item_search_doc ON item_search USING gin (doc)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS item_fts_delete")
        op.execute("DROP TABLE IF EXISTS item_fts_sort")
        op.execute("DROP TABLE IF EXISTS item_fts")
    else:
        op.execute("DROP TABLE IF EXISTS item_search")
