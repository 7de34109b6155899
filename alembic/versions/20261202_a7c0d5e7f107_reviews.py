"""reviews: triage of matches: reviewed or dismissed, notes

(being written: this revision changes nothing yet)

Revision ID: a7c0d5e7f107
Revises: a6c0d5e7f106
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

revision: str = "a7c0d5e7f107"
down_revision: str | None = "a6c0d5e7f106"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
