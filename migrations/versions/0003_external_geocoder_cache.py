"""Cache and shared throttle for the optional external (Nominatim-compatible) geocoder.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE geocoder_cache (
            query text PRIMARY KEY,
            candidates jsonb NOT NULL,
            fetched_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # One row, shared by every app process: when the upstream was last asked.
    op.execute(
        """
        CREATE TABLE geocoder_throttle (
            id boolean PRIMARY KEY DEFAULT true CONSTRAINT geocoder_throttle_one_row CHECK (id),
            last_request_at timestamptz NOT NULL DEFAULT '-infinity'
        )
        """
    )
    op.execute("INSERT INTO geocoder_throttle DEFAULT VALUES")


def downgrade() -> None:
    op.execute("DROP TABLE geocoder_throttle")
    op.execute("DROP TABLE geocoder_cache")
