"""Admin API tokens, stored as SHA-256 hashes with scopes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE api_tokens (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL CONSTRAINT api_tokens_name_key UNIQUE,
            -- Only the hash is kept: a leaked table does not leak usable tokens.
            token_sha256 text NOT NULL CONSTRAINT api_tokens_hash_key UNIQUE,
            scopes text[] NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE api_tokens")
