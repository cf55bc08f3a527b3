"""Alembic brings an empty database to head and back, and agrees with app/models.py."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from app import schema
from app.models import Base

TABLES = {
    "locations",
    "service_areas",
    "regions",
    "places",
    "geocoder_cache",
    "geocoder_throttle",
    "service_area_parts",
    "api_tokens",
    "products",
    "stock",
    "fulfilment_settings",
    "data_version",
    "client_keys",
    "road_networks",
    "road_vertices",
    "road_edges",
    "demand_sets",
    "demand_points",
    "location_tile_cells",
}


@pytest.fixture
def empty_database(engine, database_url):
    """A fresh database beside the test database, dropped afterwards."""
    name = "locator_migration_test"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    fresh = create_engine(engine.url.set(database=name))
    yield fresh
    fresh.dispose()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name}"))
    admin.dispose()


def test_upgrade_downgrade_upgrade(empty_database):
    schema.upgrade(empty_database)
    with empty_database.connect() as connection:
        assert schema.current_revision(connection) == schema.head_revision()
        assert TABLES <= set(inspect(connection).get_table_names())
        gist = connection.execute(
            text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")
        ).scalars()
        assert set(gist) == {
            "locations_geog_gist",
            "locations_geom_gist",
            "service_areas_geom_gist",
            "regions_geom_gist",
            "service_area_parts_geom_gist",
            "road_vertices_geog_gist",
            "road_edges_geom_gist",
            "demand_points_geom_gist",
        }

    schema.downgrade(empty_database, "base")
    with empty_database.connect() as connection:
        assert not TABLES & set(inspect(connection).get_table_names())
        assert schema.current_revision(connection) is None

    schema.upgrade(empty_database)
    with empty_database.connect() as connection:
        assert schema.current_revision(connection) == schema.head_revision()


def test_models_match_the_migrations(connection):
    context = MigrationContext.configure(
        connection, opts={"include_object": _include_object, "compare_type": True}
    )
    assert compare_metadata(context, Base.metadata) == []


def _include_object(obj, name, type_, reflected, compare_to):
    # PostGIS's own tables (spatial_ref_sys, topology) are not ours to describe.
    return not (type_ == "table" and name not in TABLES)


POINT = "ST_SetSRID(ST_MakePoint(-77, 38.9), 4326)::geography"


@pytest.mark.parametrize(
    "values, constraint",
    [
        (f"('bad id', 'n', 'store', 'UTC', {POINT})", "locations_external_id_format"),
        (f"('a', 'n', 'kiosk', 'UTC', {POINT})", "locations_kind_allowed"),
        (f"('a', ' ', 'store', 'UTC', {POINT})", "locations_name_not_blank"),
        (
            "('a', 'n', 'store', 'UTC', "
            "ST_SetSRID(ST_MakePoint('NaN'::float8, 0), 4326)::geography)",
            "locations_position_in_range",
        ),
    ],
)
def test_constraints_keep_bad_locations_out(connection, values, constraint):
    with pytest.raises(IntegrityError, match=constraint), connection.begin_nested():
        connection.execute(
            text(f"INSERT INTO locations (external_id, name, kind, timezone, geog) VALUES {values}")
        )


def test_external_id_is_unique(connection):
    insert = text(
        f"INSERT INTO locations (external_id, name, kind, timezone, geog) "
        f"VALUES ('same', 'n', 'store', 'UTC', {POINT})"
    )
    connection.execute(insert)
    with (
        pytest.raises(IntegrityError, match="locations_external_id_key"),
        connection.begin_nested(),
    ):
        connection.execute(insert)


def test_invalid_and_wrong_srid_polygons_are_refused(connection):
    bowtie = "ST_GeomFromText('MULTIPOLYGON(((0 0,2 2,2 0,0 2,0 0)))', 4326)"
    with pytest.raises(IntegrityError, match="regions_geom_valid"), connection.begin_nested():
        connection.execute(
            text(f"INSERT INTO regions (region_id, name, geom) VALUES ('r', 'R', {bowtie})")
        )
    mercator = "ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 1,0 0)))', 3857)"
    with pytest.raises(Exception, match="SRID"), connection.begin_nested():
        connection.execute(
            text(f"INSERT INTO regions (region_id, name, geom) VALUES ('r', 'R', {mercator})")
        )
