"""Client keys and their quotas (issue 17).

A client (a retailer's checkout server, or the browser picker on its sites) is a
``name``; each of its keys is one row. Rotation adds a row for the same name and lets
the old one expire after a grace period, so a deployment can switch keys without a
gap. Only each key's SHA-256 is kept, as for the admin tokens.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE client_keys (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL CONSTRAINT client_keys_name_format
                CHECK (name ~ '^[A-Za-z0-9._:-]{1,64}$'),
            kind text NOT NULL CONSTRAINT client_keys_kind_allowed
                CHECK (kind IN ('publishable', 'secret')),
            key_sha256 text NOT NULL CONSTRAINT client_keys_hash_key UNIQUE,
            -- The key's first characters, to tell keys apart in lists and logs.
            key_hint text NOT NULL,
            -- Origins (scheme, host and port) a publishable key is accepted from.
            allowed_origins text[] NOT NULL DEFAULT '{}',
            per_minute integer NOT NULL CONSTRAINT client_keys_per_minute_positive
                CHECK (per_minute > 0),
            per_day integer NOT NULL CONSTRAINT client_keys_per_day_positive
                CHECK (per_day > 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            -- Set by a rotation: the old key keeps working until then.
            expires_at timestamptz,
            revoked_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX client_keys_name_idx ON client_keys (name)")


def downgrade() -> None:
    op.execute("DROP TABLE client_keys")
