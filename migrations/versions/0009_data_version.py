"""Data version for tiles and OGC API caching (issue 15).

A single-row counter that every write to locations, service_areas or regions bumps,
through statement-level triggers: an import, an admin write, a psql session or a future
write path cannot forget it. Tiles and OGC responses derive their ETag from it, so a
client's cached copy is valid exactly until the data changes.

The bump is an UPDATE of the one row inside the writing transaction: readers see the new
version when, and only when, they see the new data. Concurrent writers queue on that row
until the first commits; writes here are imports and admin edits, rare and short next to
reads, so the serialisation costs nothing that matters and keeps the version exact.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("locations", "service_areas", "regions")


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE data_version (
            id boolean PRIMARY KEY DEFAULT true CONSTRAINT data_version_one_row CHECK (id),
            version bigint NOT NULL DEFAULT 1,
            changed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("INSERT INTO data_version DEFAULT VALUES")
    op.execute(
        """
        CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE data_version SET version = version + 1, changed_at = now();
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        # TRUNCATE too: emptying a table changes every tile.
        op.execute(
            f"""
            CREATE TRIGGER {table}_bump_data_version
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()
            """
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_bump_data_version ON {table}")
    op.execute("DROP FUNCTION bump_data_version()")
    op.execute("DROP TABLE data_version")
