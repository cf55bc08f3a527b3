"""A committed import leaves the planner statistics of the tables it wrote up to date.

Without them the first queries after a bulk load run on guessed selectivities (the issue
measured 69 req/s right after an import against 400 later). Each test imports through
the CLI, as a user does, into a database of its own: the import commits, and the
statistics of the session's shared database stay untouched.
"""

from __future__ import annotations

import csv
import os

import pytest
from sqlalchemy import create_engine, text

from app import create_app, schema
from app.extensions import db

LOCATION_HEADER = ("external_id", "name", "kind", "lat", "lon", "capabilities", "status")


@pytest.fixture
def fresh_database(database_url):
    """A migrated, empty database beside the test database, dropped afterwards."""
    name = f"locator_analyze_test_{os.getpid()}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    fresh = create_engine(admin.url.set(database=name))
    schema.upgrade(fresh)
    yield fresh
    fresh.dispose()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def locator_import(fresh_database, tmp_path):
    """Run `flask locator import --no-progress FILE [options]` against the fresh database."""
    url = fresh_database.url.render_as_string(hide_password=False)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    app.instance_path = str(tmp_path / "instance")
    runner = app.test_cli_runner()

    def run(path, *options):
        result = runner.invoke(args=["locator", "import", "--no-progress", *options, str(path)])
        assert result.exit_code == 0, result.output
        return result.output

    yield run
    with app.app_context():
        db.dispose()


def write_locations(path, count, start=0, name="Store"):
    """``count`` active pickup stores on a small grid in Washington, DC."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(LOCATION_HEADER)
        for n in range(start, start + count):
            lat, lon = 38.85 + (n % 40) / 400, -77.10 + (n // 40) / 400
            writer.writerow((f"a-{n:05d}", f"{name} {n}", "store", lat, lon, "pickup", "active"))
    return path


def write_radius_areas(path, count):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("location_external_id", "mode", "radius_m"))
        writer.writerows((f"a-{n:05d}", "delivery", 3000) for n in range(count))
    return path


def statistics(engine, table):
    """(manual ANALYZE count, reltuples, columns with pg_stats rows), read afresh."""
    with engine.connect() as connection:
        analyzed, reltuples = connection.execute(
            text(
                "SELECT s.analyze_count, c.reltuples FROM pg_stat_user_tables s "
                "JOIN pg_class c ON c.oid = s.relid WHERE s.relname = :table"
            ),
            {"table": table},
        ).one()
        columns = connection.execute(
            text("SELECT attname FROM pg_stats WHERE tablename = :table"), {"table": table}
        ).scalars()
        return analyzed, reltuples, set(columns)


def test_an_import_analyzes_the_locations_it_wrote(fresh_database, locator_import, tmp_path):
    assert statistics(fresh_database, "locations")[0] == 0
    output = locator_import(write_locations(tmp_path / "locations.csv", 400))
    assert "created 400" in output

    analyzed, reltuples, columns = statistics(fresh_database, "locations")
    assert analyzed == 1
    assert reltuples == 400
    # The columns the hot path filters and orders by have statistics of their own.
    assert {"status", "capabilities", "geog"} <= columns


def test_a_dry_run_analyzes_nothing(fresh_database, locator_import, tmp_path):
    output = locator_import(write_locations(tmp_path / "locations.csv", 400), "--dry-run")
    assert "dry run: 400 valid" in output
    assert statistics(fresh_database, "locations")[0] == 0


def test_only_a_large_share_of_changed_rows_analyzes_again(
    fresh_database, locator_import, tmp_path
):
    locator_import(write_locations(tmp_path / "first.csv", 400))
    assert statistics(fresh_database, "locations")[0] == 1

    # Unchanged rows write nothing; one changed row in 400 is left to autovacuum.
    assert "unchanged 400" in locator_import(tmp_path / "first.csv")
    assert "updated 1" in locator_import(write_locations(tmp_path / "one.csv", 1, name="New"))
    assert statistics(fresh_database, "locations")[0] == 1

    # 100 new rows are a quarter of the table: its statistics are refreshed.
    output = locator_import(write_locations(tmp_path / "more.csv", 100, start=400))
    assert "created 100" in output
    analyzed, reltuples, _ = statistics(fresh_database, "locations")
    assert (analyzed, reltuples) == (2, 500)


def test_a_service_area_import_analyzes_the_areas_and_their_parts(
    fresh_database, locator_import, tmp_path
):
    locator_import(write_locations(tmp_path / "locations.csv", 50))
    output = locator_import(write_radius_areas(tmp_path / "areas.csv", 50))
    assert "created 50" in output

    analyzed, reltuples, columns = statistics(fresh_database, "service_areas")
    assert (analyzed, reltuples) == (1, 50)
    assert "geom" in columns
    parts_analyzed, parts, _ = statistics(fresh_database, "service_area_parts")
    assert parts_analyzed == 1
    assert parts >= 50  # every circle is at least one part
    # The bounded copies too (none here: circles are within the vertex bound).
    bounded_analyzed, _, _ = statistics(fresh_database, "service_area_bounded")
    assert bounded_analyzed == 1
