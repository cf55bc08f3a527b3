"""Holds and orders (issue 13).

Reserved in the chain so that parallel work never forks Alembic heads; the owner of
this revision fills it in.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
