"""Initial schema: locations, service_areas, regions.

Written as plain DDL so the constraints read exactly as PostgreSQL will enforce them.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# "+" and a length check, not "{1,128}": PostgreSQL's regex engine expands bounded
# repetition, and that form made a million-row import 7 s slower.
EXTERNAL_ID_PATTERN = "^[A-Za-z0-9._:-]+$"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(
        f"""
        CREATE TABLE locations (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            external_id text NOT NULL
                CONSTRAINT locations_external_id_key UNIQUE
                CONSTRAINT locations_external_id_format
                CHECK (external_id ~ '{EXTERNAL_ID_PATTERN}' AND length(external_id) <= 128),
            name text NOT NULL CONSTRAINT locations_name_not_blank CHECK (btrim(name) <> ''),
            kind text NOT NULL CONSTRAINT locations_kind_allowed
                CHECK (kind IN ('store', 'warehouse', 'convenience_store', 'locker')),
            brand text,
            address_line1 text,
            city text,
            region text,
            postcode text,
            country text CONSTRAINT locations_country_iso CHECK (country ~ '^[A-Z][A-Z]$'),
            opening_hours text,
            timezone text NOT NULL,
            capabilities text[] NOT NULL DEFAULT '{{}}',
            status text NOT NULL DEFAULT 'active' CONSTRAINT locations_status_allowed
                CHECK (status IN ('active', 'temporarily_closed', 'retired')),
            -- geography, not geometry: distances and KNN ordering are then on the
            -- ellipsoid/sphere, right across the antimeridian and at the poles.
            geog geography(Point, 4326) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            -- geography silently wraps out-of-range input; the importer rejects it first,
            -- and this keeps NaN and anything written around the importer out.
            CONSTRAINT locations_position_in_range CHECK (
                ST_Y(geog::geometry) BETWEEN -90 AND 90
                AND ST_X(geog::geometry) BETWEEN -180 AND 180
            )
        )
        """
    )
    op.execute("CREATE INDEX locations_geog_gist ON locations USING gist (geog)")
    op.execute("CREATE INDEX locations_capabilities_gin ON locations USING gin (capabilities)")

    op.execute(
        """
        CREATE TABLE service_areas (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            location_id bigint NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
            mode text NOT NULL CONSTRAINT service_areas_mode_allowed
                CHECK (mode IN ('delivery', 'express', 'supply')),
            geom geometry(MultiPolygon, 4326) NOT NULL
                CONSTRAINT service_areas_geom_valid
                CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
            -- How the area was made, so that it can be regenerated: an imported polygon,
            -- or a geodesic circle of radius_m around center.
            source text NOT NULL CONSTRAINT service_areas_source_allowed
                CHECK (source IN ('polygon', 'radius')),
            radius_m double precision
                CONSTRAINT service_areas_radius_range CHECK (radius_m > 0 AND radius_m <= 1000000),
            center geography(Point, 4326),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT service_areas_radius_has_center
                CHECK ((source = 'radius') = (radius_m IS NOT NULL AND center IS NOT NULL)),
            CONSTRAINT service_areas_location_mode_key UNIQUE (location_id, mode)
        )
        """
    )
    op.execute("CREATE INDEX service_areas_geom_gist ON service_areas USING gist (geom)")

    op.execute(
        f"""
        CREATE TABLE regions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            region_id text NOT NULL
                CONSTRAINT regions_region_id_key UNIQUE
                CONSTRAINT regions_region_id_format
                CHECK (region_id ~ '{EXTERNAL_ID_PATTERN}' AND length(region_id) <= 128),
            name text NOT NULL CONSTRAINT regions_name_not_blank CHECK (btrim(name) <> ''),
            geom geometry(MultiPolygon, 4326) NOT NULL
                CONSTRAINT regions_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX regions_geom_gist ON regions USING gist (geom)")


def downgrade() -> None:
    # The postgis extension stays: other databases objects may use it.
    op.execute("DROP TABLE regions")
    op.execute("DROP TABLE service_areas")
    op.execute("DROP TABLE locations")
