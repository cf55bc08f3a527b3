"""The import pipeline against a real PostGIS: success, upsert, all-or-nothing, reports."""

import csv
import json

import pytest
from sqlalchemy import text

from app.importing import (
    DEMO_DEMAND_FILE,
    DEMO_DIR,
    PLAUSIBILITY_CHECKS,
    ImportFileError,
    ImportOptions,
    import_file,
    load_demo_data,
)

HEADER = (
    "external_id,name,kind,lat,lon,brand,address,city,region,postcode,country,"
    "opening_hours,timezone,capabilities,status"
)


def location_row(n, **overrides):
    row = {
        "external_id": f"t-{n:04d}",
        "name": f"Test store {n}",
        "kind": "store",
        "lat": f"{38.9 + n / 1000:.6f}",
        "lon": f"{-77.03 - n / 1000:.6f}",
        "brand": "Test",
        "address": f"{n} Main St",
        "city": "Washington",
        "region": "DC",
        "postcode": "20001",
        "country": "US",
        "opening_hours": "Mo-Sa 08:00-20:00",
        "timezone": "America/New_York",
        "capabilities": "pickup;returns",
        "status": "active",
    }
    row.update(overrides)
    return row


def ABROAD(country):  # noqa: N802 - reads as a constant in the rows
    """A row outside the US: its own country, no US postcode (the plausibility checks)."""
    return {"country": country, "postcode": "", "city": "", "region": ""}


def write_csv(path, rows, header=HEADER):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header.split(","))
        writer.writeheader()
        writer.writerows(rows)
    return path


def count(connection, table):
    return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_demo_data_imports_and_reimports_unchanged(connection):
    first = list(load_demo_data(connection, ImportOptions()))
    # with products, stock and settings (and the planning demand, when its file is there)
    assert len(first) >= 7 and all(not r.rejected for r in first)
    locations_report = first[0]
    assert locations_report.created == locations_report.total == count(connection, "locations")
    kinds = dict(connection.execute(text("SELECT kind, count(*) FROM locations GROUP BY 1")).all())
    assert set(kinds) == {"store", "warehouse", "convenience_store", "locker"}
    assert count(connection, "service_areas") == first[1].total + first[2].total
    assert count(connection, "regions") == first[3].total

    again = list(load_demo_data(connection, ImportOptions()))
    for report in again:
        assert (report.created, report.updated, report.unchanged) == (0, 0, report.total)


def test_timezone_is_derived_from_the_position_when_empty(connection, tmp_path):
    rows = [
        location_row(1, timezone=""),
        location_row(2, timezone="", lat="-33.8688", lon="151.2093", **ABROAD("AU")),  # Sydney
        # Fiji, by the antimeridian
        location_row(3, timezone="", lat="-16.5", lon="179.99", **ABROAD("FJ")),
    ]
    import_file(connection, write_csv(tmp_path / "tz.csv", rows), ImportOptions())
    zones = dict(connection.execute(text("SELECT external_id, timezone FROM locations")).all())
    assert zones == {
        "t-0001": "America/New_York",
        "t-0002": "Australia/Sydney",
        "t-0003": "Pacific/Fiji",
    }


def test_positions_are_stored_exactly_as_given(connection, tmp_path):
    rows = [location_row(1, lat="89.999", lon="-180"), location_row(2, lat="-90", lon="180")]
    # The poles and the antimeridian on purpose: the plausibility checks are opted out of.
    every_check = ImportOptions(allow=frozenset(PLAUSIBILITY_CHECKS))
    report = import_file(connection, write_csv(tmp_path / "edges.csv", rows), every_check)
    assert len(report.warnings) >= 2  # each still reported, as a warning
    stored = connection.execute(
        text("SELECT ST_Y(geog::geometry), ST_X(geog::geometry) FROM locations ORDER BY 1 DESC")
    ).all()
    assert stored == [(89.999, -180.0), (-90.0, 180.0)]


def test_changed_rows_are_updated_and_the_rest_left_alone(connection, tmp_path):
    rows = [location_row(n) for n in range(1, 6)]
    assert (
        import_file(connection, write_csv(tmp_path / "a.csv", rows), ImportOptions()).created == 5
    )
    rows[2]["name"] = "Renamed"
    rows[4]["lat"] = "39.5"
    rows.append(location_row(6))
    report = import_file(connection, write_csv(tmp_path / "b.csv", rows), ImportOptions())
    assert (report.created, report.updated, report.unchanged) == (1, 2, 3)
    name = connection.execute(text("SELECT name FROM locations WHERE external_id = 't-0003'"))
    assert name.scalar_one() == "Renamed"


def test_one_bad_row_in_the_middle_writes_nothing_and_is_named(connection, tmp_path):
    rows = [location_row(n) for n in range(1, 8)]
    rows[3]["lat"] = "91"  # data row 4 is line 5 (the header is line 1)
    report = import_file(connection, write_csv(tmp_path / "bad.csv", rows), ImportOptions())
    assert not report.applied
    assert [(r.row, r.field) for r in report.rejected] == [(5, "lat")]
    assert "between -90 and 90" in report.rejected[0].message
    assert "line 5, lat" in report.rejected[0].describe(report.unit)
    assert count(connection, "locations") == 0


def test_skip_invalid_imports_the_good_rows_and_reports_the_rest(connection, tmp_path):
    rows = [location_row(n) for n in range(1, 6)]
    rows[1]["kind"] = "kiosk"
    rows[3]["capabilities"] = "pickup;teleport"
    report = import_file(
        connection, write_csv(tmp_path / "mixed.csv", rows), ImportOptions(skip_invalid=True)
    )
    assert report.applied and report.created == 3
    assert [(r.row, r.field) for r in report.rejected] == [(3, "kind"), (5, "capabilities")]
    assert count(connection, "locations") == 3


def test_dry_run_validates_and_writes_nothing(connection, tmp_path):
    rows = [location_row(n) for n in range(1, 4)]
    report = import_file(
        connection, write_csv(tmp_path / "dry.csv", rows), ImportOptions(dry_run=True)
    )
    assert report.dry_run and not report.applied and report.valid == 3
    assert count(connection, "locations") == 0


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"lat": "NaN"}, "lat"),
        ({"lon": "Infinity"}, "lon"),
        ({"lat": "1e999"}, "lat"),
        ({"lon": "1_0"}, "lon"),
        ({"lon": "200"}, "lon"),
        ({"external_id": "has space"}, "external_id"),
        ({"external_id": "x" * 129}, "external_id"),
        ({"name": "  "}, "name"),
        ({"opening_hours": "for request only"}, "opening_hours"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"status": "open"}, "status"),
        ({"country": "USA"}, "country"),
    ],
)
def test_each_bad_field_is_reported_by_name(connection, tmp_path, overrides, field):
    rows = [location_row(1), location_row(2, **overrides)]
    report = import_file(connection, write_csv(tmp_path / "f.csv", rows), ImportOptions())
    assert [(r.row, r.field) for r in report.rejected] == [(3, field)]
    assert count(connection, "locations") == 0


def test_every_problem_of_a_row_is_reported(connection, tmp_path):
    rows = [location_row(1, lat="abc", kind="shop", capabilities="x")]
    report = import_file(connection, write_csv(tmp_path / "many.csv", rows), ImportOptions())
    assert sorted(r.field for r in report.rejected) == ["capabilities", "kind", "lat"]


def test_duplicate_keys_in_one_file_are_rejected(connection, tmp_path):
    rows = [location_row(1), location_row(2), location_row(1, name="again")]
    report = import_file(connection, write_csv(tmp_path / "dup.csv", rows), ImportOptions())
    assert [(r.row, r.field) for r in report.rejected] == [(4, "external_id")]
    assert "duplicate of 2" in report.rejected[0].message


@pytest.mark.parametrize("options", [ImportOptions(dry_run=True), ImportOptions(skip_invalid=True)])
def test_duplicates_are_found_after_a_rejection_and_the_first_one_stands(
    connection, tmp_path, options
):
    rows = [
        location_row(1),
        location_row(2, lat="x"),  # rejected first: the keys after it are still checked
        location_row(1, name="again"),
        location_row(3),
        location_row(3, name="thrice"),
        location_row(3, name="thrice again"),
    ]
    report = import_file(connection, write_csv(tmp_path / "dup.csv", rows), options)
    assert [(r.row, r.field) for r in report.rejected] == [
        (3, "lat"),
        (4, "external_id"),
        (6, "external_id"),
        (7, "external_id"),
    ]
    assert [r.message[:14] for r in report.rejected[1:]] == [
        "duplicate of 2",
        *["duplicate of 5"] * 2,
    ]
    names = dict(connection.execute(text("SELECT external_id, name FROM locations")).all())
    expected = {} if options.dry_run else {"t-0001": "Test store 1", "t-0003": "Test store 3"}
    assert names == expected


def test_internal_columns_are_refused_not_assigned(connection, tmp_path):
    header = "id," + HEADER
    rows = [{"id": 99, **location_row(1)}]
    with pytest.raises(ImportFileError, match="internal column"):
        import_file(connection, write_csv(tmp_path / "id.csv", rows, header), ImportOptions())
    assert count(connection, "locations") == 0


def test_missing_required_column_is_a_file_error(connection, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("external_id,name,lat,lon\nx,y,1,2\n")  # no kind
    with pytest.raises(ImportFileError, match="missing required column"):
        import_file(connection, path, ImportOptions())


def test_locations_from_geojson(connection, tmp_path):
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-77.03, 38.9]},
            "properties": {"external_id": "g-1", "name": "Locker", "kind": "locker"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": ["-77", "38"]},
            "properties": {"external_id": "g-2", "name": "Bad", "kind": "locker"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-77.1, 38.8]},
            "properties": {"external_id": "g-3", "name": "Sneaky", "kind": "locker", "id": 5},
        },
    ]
    path = tmp_path / "points.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    report = import_file(connection, path, ImportOptions(skip_invalid=True))
    assert report.created == 1
    assert [(r.row, r.field) for r in report.rejected] == [(2, "geometry"), (3, "id")]
    assert "internal field" in report.rejected[1].message


def _seed_locations(connection, tmp_path):
    rows = [
        location_row(1),
        location_row(2),
        location_row(3, lat="-16.5", lon="179.99", **ABROAD("FJ")),
    ]
    import_file(connection, write_csv(tmp_path / "seed.csv", rows), ImportOptions())


def test_radius_service_areas_are_geodesic_circles_that_remember_their_origin(connection, tmp_path):
    _seed_locations(connection, tmp_path)
    path = tmp_path / "areas.csv"
    path.write_text(
        "location_external_id,mode,radius_m\nt-0001,delivery,8000\nt-0001,express,3000\n"
        "t-0003,delivery,10000\n"
    )
    report = import_file(connection, path, ImportOptions())
    assert report.created == 3 and not report.rejected
    rows = connection.execute(
        text(
            "SELECT l.external_id, a.mode, a.source, a.radius_m, ST_NumGeometries(a.geom),"
            " ST_Distance(a.center, l.geog) FROM service_areas a"
            " JOIN locations l ON l.id = a.location_id ORDER BY 1, 2"
        )
    ).all()
    assert [r[:4] for r in rows] == [
        ("t-0001", "delivery", "radius", 8000.0),
        ("t-0001", "express", "radius", 3000.0),
        ("t-0003", "delivery", "radius", 10000.0),
    ]
    assert rows[2][4] == 2  # split at the antimeridian
    assert all(r[5] == 0 for r in rows)  # the centre is the location's position
    assert import_file(connection, path, ImportOptions()).unchanged == 3


def test_service_areas_for_unknown_locations_are_rejected(connection, tmp_path):
    _seed_locations(connection, tmp_path)
    path = tmp_path / "areas.csv"
    path.write_text(
        "location_external_id,mode,radius_m\nt-0001,delivery,8000\nnope,delivery,100\n"
        "t-0002,teleport,5\nt-0002,express,-1\n"
    )
    report = import_file(connection, path, ImportOptions())
    assert [(r.row, r.field) for r in report.rejected] == [
        (3, "location_external_id"),
        (4, "mode"),
        (5, "radius_m"),
    ]
    assert count(connection, "service_areas") == 0


def polygon_feature(coordinates, **properties):
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": coordinates},
        "properties": {"location_external_id": "t-0001", "mode": "delivery", **properties},
    }


def write_features(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


SQUARE = [[[-77.1, 38.8], [-76.9, 38.8], [-76.9, 39.0], [-77.1, 39.0], [-77.1, 38.8]]]
BOWTIE = [[[-77.1, 38.8], [-76.9, 39.0], [-76.9, 38.8], [-77.1, 39.0], [-77.1, 38.8]]]


@pytest.mark.parametrize(
    "coordinates, message",
    [
        (BOWTIE, "invalid polygon: Self-intersection"),
        ([[[-77.1, 38.8], [-76.9, 38.8], [-76.9, 39.0]]], "at least 4 positions"),
        ([[[-77.1, 38.8], [-76.9, 38.8], [-76.9, 39.0], [-77.0, 39.0]]], "closed"),
        ([[["-77.1", "38.8"], [-76.9, 38.8], [-76.9, 39.0], ["-77.1", "38.8"]]], "numbers"),
    ],
)
def test_invalid_polygons_are_rejected_and_nothing_is_written(
    connection, tmp_path, coordinates, message
):
    _seed_locations(connection, tmp_path)
    features = [polygon_feature(SQUARE, mode="express"), polygon_feature(coordinates)]
    report = import_file(
        connection, write_features(tmp_path / "p.geojson", features), ImportOptions()
    )
    assert [(r.row, r.field) for r in report.rejected] == [(2, "geometry")]
    assert message in report.rejected[0].message
    assert count(connection, "service_areas") == 0


def test_a_crs_member_is_refused(connection, tmp_path):
    _seed_locations(connection, tmp_path)
    path = tmp_path / "crs.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
                "features": [polygon_feature(SQUARE)],
            }
        )
    )
    with pytest.raises(ImportFileError, match="crs"):
        import_file(connection, path, ImportOptions())


def test_make_valid_repairs_instead_of_rejecting(connection, tmp_path):
    _seed_locations(connection, tmp_path)
    path = write_features(tmp_path / "bowtie.geojson", [polygon_feature(BOWTIE)])
    report = import_file(connection, path, ImportOptions(make_valid=True))
    assert report.created == 1
    valid = connection.execute(text("SELECT bool_and(ST_IsValid(geom)) FROM service_areas"))
    assert valid.scalar_one() is True


def test_regions_import_and_upsert(connection, tmp_path):
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": SQUARE},
            "properties": {"region_id": "r1", "name": "Square"},
        }
    ]
    path = write_features(tmp_path / "regions.geojson", features)
    assert import_file(connection, path, ImportOptions()).created == 1
    features[0]["properties"]["name"] = "Renamed square"
    write_features(path, features)
    report = import_file(connection, path, ImportOptions())
    assert (report.created, report.updated) == (0, 1)


def test_the_demo_files_exist_where_the_importer_looks():
    assert sorted(p.name for p in DEMO_DIR.iterdir()) == sorted(
        [
            "locations.csv",
            "regions.geojson",
            "service_areas.csv",
            "service_areas.geojson",
            "products.csv",
            "stock.csv",
            "fulfilment_settings.csv",
        ]
        + ([DEMO_DEMAND_FILE] if (DEMO_DIR / DEMO_DEMAND_FILE).exists() else [])
    )
