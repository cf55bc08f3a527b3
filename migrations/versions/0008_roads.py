"""Roads: pgRouting network, drive-time service areas (issue 14).

The car network lives in versioned tables: every import writes a new ``network_version``
next to the serving one and flips ``road_networks.is_current`` in the same transaction,
so readers see the old network or the new one, never a mix. Vertices are OSM node ids
(unique within a version); edges carry pgRouting's ``cost``/``reverse_cost`` in seconds
(negative: that direction is closed) and ``length_m`` in geodesic metres.

pgRouting is created when the server has it. A PostGIS without it still migrates: the
tables exist, and the road features answer a clear problem instead.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting') THEN
                CREATE EXTENSION IF NOT EXISTS pgrouting;
            END IF;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TABLE road_networks (
            version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source_name text NOT NULL,
            imported_at timestamptz NOT NULL DEFAULT now(),
            is_current boolean NOT NULL DEFAULT false,
            edges integer NOT NULL,
            vertices integer NOT NULL,
            -- share of vertices in the largest strongly connected component, 0..1
            largest_component_share double precision NOT NULL,
            -- the fastest edge speed; bounds how far a route of a given time can reach
            max_speed_kmh double precision NOT NULL
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX road_networks_one_current ON road_networks (is_current)"
        " WHERE is_current"
    )
    op.execute(
        """
        CREATE TABLE road_vertices (
            network_version bigint NOT NULL
                REFERENCES road_networks (version) ON DELETE CASCADE,
            id bigint NOT NULL,
            -- in the largest strongly connected component: points attach only to these,
            -- so every attached pair has a route both ways
            in_main_component boolean NOT NULL DEFAULT false,
            geom geometry(Point, 4326) NOT NULL,
            PRIMARY KEY (network_version, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX road_vertices_geog_gist ON road_vertices USING gist ((geom::geography))"
    )
    op.execute(
        """
        CREATE TABLE road_edges (
            network_version bigint NOT NULL
                REFERENCES road_networks (version) ON DELETE CASCADE,
            id bigint NOT NULL,
            source bigint NOT NULL,
            target bigint NOT NULL,
            cost double precision NOT NULL,
            reverse_cost double precision NOT NULL,
            length_m double precision NOT NULL,
            speed_kmh double precision NOT NULL,
            highway text NOT NULL,
            osm_way_id bigint NOT NULL,
            geom geometry(LineString, 4326) NOT NULL,
            PRIMARY KEY (network_version, id),
            CONSTRAINT road_edges_some_direction CHECK (cost >= 0 OR reverse_cost >= 0)
        )
        """
    )
    op.execute("CREATE INDEX road_edges_geom_gist ON road_edges USING gist (geom)")
    op.execute("ALTER TABLE service_areas DROP CONSTRAINT service_areas_source_allowed")
    op.execute(
        "ALTER TABLE service_areas ADD CONSTRAINT service_areas_source_allowed"
        " CHECK (source IN ('polygon', 'radius', 'drive_time'))"
    )
    op.execute("ALTER TABLE service_areas ADD COLUMN drive_time_s integer")
    op.execute("ALTER TABLE service_areas ADD COLUMN network_version bigint")
    op.execute(
        "ALTER TABLE service_areas ADD CONSTRAINT service_areas_drive_time_fields"
        " CHECK ((source = 'drive_time')"
        " = (drive_time_s IS NOT NULL AND network_version IS NOT NULL))"
    )
    op.execute(
        "ALTER TABLE service_areas ADD CONSTRAINT service_areas_drive_time_range"
        " CHECK (drive_time_s > 0 AND drive_time_s <= 7200)"
    )


def downgrade() -> None:
    op.execute("DELETE FROM service_areas WHERE source = 'drive_time'")
    op.execute("ALTER TABLE service_areas DROP CONSTRAINT service_areas_drive_time_range")
    op.execute("ALTER TABLE service_areas DROP CONSTRAINT service_areas_drive_time_fields")
    op.execute("ALTER TABLE service_areas DROP COLUMN network_version")
    op.execute("ALTER TABLE service_areas DROP COLUMN drive_time_s")
    op.execute("ALTER TABLE service_areas DROP CONSTRAINT service_areas_source_allowed")
    op.execute(
        "ALTER TABLE service_areas ADD CONSTRAINT service_areas_source_allowed"
        " CHECK (source IN ('polygon', 'radius'))"
    )
    op.execute("DROP TABLE road_edges")
    op.execute("DROP TABLE road_vertices")
    op.execute("DROP TABLE road_networks")
    op.execute("DROP EXTENSION IF EXISTS pgrouting")
