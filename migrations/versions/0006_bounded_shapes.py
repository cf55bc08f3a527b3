"""Bounded copies of very large service areas and regions, for the coverage summary.

An area or region may have up to 100,000 vertices (MAX_POLYGON_VERTICES). Unions,
intersections and differences of two such shapes cost seconds to minutes (two ragged
90,000-vertex polygons: 8 s for one ST_Intersection), so the summary of a region timed
out. Each shape with more than 4,096 vertices gets a copy simplified (Douglas-Peucker,
repaired where that made it invalid) by the smallest tolerance that brings it to at most
4,096 vertices, kept in step by triggers like service_area_parts (0004). The summary works
on the copies, so its cost per shape is bounded whatever the shape; ``tolerance_deg``
records how far (in degrees) a copy may stray from its original. Shapes within the limit
have no row: the summary uses them as they are, and its figures for them are exact.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The same number is in app/queries/coverage.py (BOUNDED_VERTICES), which documents it.
MAX_VERTICES = 4096

TABLES = {"service_area": "service_areas", "region": "regions"}


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION bounded_polygon(
            shape geometry, max_vertices integer,
            OUT geom geometry, OUT tolerance_deg double precision
        ) LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
        -- shape simplified by the smallest tolerance (within a factor of 1.2) that leaves
        -- at most max_vertices; found by bisection on log2(tolerance / extent) in -30..0
        -- (from 4 cm for a shape that spans the world), so at most 9 simplifications of
        -- the original. Parts smaller than the tolerance are dropped; should nothing be
        -- left (many equal, tiny parts), the convex hull.
        DECLARE
            extent double precision := greatest(
                ST_XMax(shape) - ST_XMin(shape), ST_YMax(shape) - ST_YMin(shape));
            low double precision := -30;  -- too small a tolerance
            high double precision := 0;   -- large enough
            middle double precision;
        BEGIN
            IF ST_NPoints(ST_Simplify(shape, extent * 2 ^ low, false)) <= max_vertices THEN
                high := low;
            ELSE
                FOR step IN 1..7 LOOP
                    middle := (low + high) / 2;
                    IF ST_NPoints(ST_Simplify(shape, extent * 2 ^ middle, false))
                            > max_vertices THEN
                        low := middle;
                    ELSE
                        high := middle;
                    END IF;
                END LOOP;
            END IF;
            tolerance_deg := extent * 2 ^ high;
            geom := ST_Simplify(shape, tolerance_deg, false);
            IF NOT ST_IsEmpty(geom) AND NOT ST_IsValid(geom) THEN
                geom := ST_CollectionExtract(ST_MakeValid(geom), 3);
            END IF;
            IF ST_IsEmpty(geom) THEN
                geom := ST_ConvexHull(shape);
                tolerance_deg := extent;
            END IF;
            geom := ST_Multi(geom);
        END
        $$
        """
    )
    for name, table in TABLES.items():
        op.execute(
            f"""
            CREATE TABLE {name}_bounded (
                -- The id of the shape it copies.
                id bigint PRIMARY KEY REFERENCES {table} (id) ON DELETE CASCADE,
                geom geometry(MultiPolygon, 4326) NOT NULL,
                tolerance_deg double precision NOT NULL,
                original_vertices integer NOT NULL
            )
            """
        )
        op.execute(
            f"""
            CREATE FUNCTION {name}_bounded_refresh() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                DELETE FROM {name}_bounded WHERE id = NEW.id;
                IF ST_NPoints(NEW.geom) > {MAX_VERTICES} THEN
                    INSERT INTO {name}_bounded (id, geom, tolerance_deg, original_vertices)
                    SELECT NEW.id, b.geom, b.tolerance_deg, ST_NPoints(NEW.geom)
                    FROM bounded_polygon(NEW.geom, {MAX_VERTICES}) AS b;
                END IF;
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER {name}_bounded_refresh
            AFTER INSERT OR UPDATE OF geom ON {table}
            FOR EACH ROW EXECUTE FUNCTION {name}_bounded_refresh()
            """
        )
        op.execute(
            f"""
            INSERT INTO {name}_bounded (id, geom, tolerance_deg, original_vertices)
            SELECT t.id, b.geom, b.tolerance_deg, ST_NPoints(t.geom)
            FROM {table} AS t, bounded_polygon(t.geom, {MAX_VERTICES}) AS b
            WHERE ST_NPoints(t.geom) > {MAX_VERTICES}
            """
        )


def downgrade() -> None:
    for name, table in TABLES.items():
        op.execute(f"DROP TRIGGER {name}_bounded_refresh ON {table}")
        op.execute(f"DROP FUNCTION {name}_bounded_refresh()")
        op.execute(f"DROP TABLE {name}_bounded")
    op.execute("DROP FUNCTION bounded_polygon(geometry, integer)")
