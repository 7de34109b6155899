"""search: full-text search index over items

(being written: this revision changes nothing yet)

Revision ID: a6c0d5e7f106
Revises: a5c0d5e7f105
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

revision: str = "a6c0d5e7f106"
down_revision: str | None = "a5c0d5e7f105"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
