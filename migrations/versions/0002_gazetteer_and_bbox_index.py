"""Gazetteer for offline geocoding (pg_trgm), and a geometry index for bbox filters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        """
        CREATE TABLE places (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind text NOT NULL CONSTRAINT places_kind_allowed CHECK (kind IN ('postcode', 'place')),
            name text NOT NULL,
            -- lower-cased, accent-free name the trigram index searches
            search_name text NOT NULL,
            label text NOT NULL,
            admin text,
            country text NOT NULL,
            population integer NOT NULL DEFAULT 0,
            geog geography(Point, 4326) NOT NULL,
            source text NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX places_search_name_trgm ON places USING gin (search_name gin_trgm_ops)"
    )
    op.execute("CREATE INDEX places_postcode ON places (name) WHERE kind = 'postcode'")
    # Bounding boxes are lon/lat rectangles: a geometry index answers them exactly, where
    # the geography index's great-circle boxes would not.
    op.execute("CREATE INDEX locations_geom_gist ON locations USING gist ((geog::geometry))")


def downgrade() -> None:
    op.execute("DROP INDEX locations_geom_gist")
    op.execute("DROP TABLE places")
