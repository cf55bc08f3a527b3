"""Service areas cut into small parts for fast, index-backed point-in-polygon tests.

A point test against one polygon of 100,000 vertices reads all of them; against its
ST_Subdivide parts (at most 128 vertices each) the GiST index finds the one or two parts
that matter. A trigger keeps the parts in step with every write to service_areas.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE service_area_parts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            service_area_id bigint NOT NULL REFERENCES service_areas (id) ON DELETE CASCADE,
            geom geometry(Polygon, 4326) NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX service_area_parts_geom_gist ON service_area_parts USING gist (geom)")
    op.execute("CREATE INDEX service_area_parts_area ON service_area_parts (service_area_id)")
    op.execute(
        """
        CREATE FUNCTION service_area_parts_refresh() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM service_area_parts WHERE service_area_id = NEW.id;
            INSERT INTO service_area_parts (service_area_id, geom)
            SELECT NEW.id, part
            FROM ST_Subdivide(NEW.geom, 128) AS part
            WHERE GeometryType(part) = 'POLYGON';
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER service_area_parts_refresh
        AFTER INSERT OR UPDATE OF geom ON service_areas
        FOR EACH ROW EXECUTE FUNCTION service_area_parts_refresh()
        """
    )
    op.execute(
        "INSERT INTO service_area_parts (service_area_id, geom)"
        " SELECT a.id, part FROM service_areas a, ST_Subdivide(a.geom, 128) AS part"
        " WHERE GeometryType(part) = 'POLYGON'"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER service_area_parts_refresh ON service_areas")
    op.execute("DROP FUNCTION service_area_parts_refresh()")
    op.execute("DROP TABLE service_area_parts")
