"""Import at scale (issue 11): attributes, position source.

Reserved in the chain so that parallel work never forks Alembic heads; the owner of
this revision fills it in.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
