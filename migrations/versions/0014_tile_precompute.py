"""Precomputed tile aggregates (issue 15).

Reserved in the chain so that parallel work never forks Alembic heads; the owner of
this revision fills it in.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
