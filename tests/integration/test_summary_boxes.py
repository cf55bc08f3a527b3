"""The coverage summary for any box on the WGS84 ellipsoid, and for shapes near the cap.

Two oracles that share nothing with the app's SQL:
- the closed form of a lon/lat box's area on the ellipsoid (a zone between two parallels,
  times the box's share of the longitudes);
- pyproj's geodesic areas (GeographicLib) of shapely's unions and intersections of the
  stored areas, densified so that their edges follow the parallels and meridians that a
  lon/lat box's edges are. pyproj signs a ring's area by its direction and reduces it to
  at most half the ellipsoid, so the oracle measures in 90-degree strips.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely import wkb
from shapely.geometry import box, shape
from shapely.geometry.polygon import orient
from sqlalchemy import text

from app.geo import bbox_polygon
from app.importing import ImportOptions, import_file
from app.queries.coverage import BOUNDED_VERTICES

GEOD = Geod(ellps="WGS84")
MODES = ("delivery", "express", "supply")
SUMMARY = "/api/v1/coverage/summary"


def zone_m2(latitude: float) -> float:
    """Area on the WGS84 ellipsoid between the equator and ``latitude`` (all longitudes)."""
    a, f = GEOD.a, GEOD.f
    e2 = f * (2 - f)
    e, b = math.sqrt(e2), a * (1 - f)
    s = math.sin(math.radians(latitude))
    return 2 * math.pi * b * b * (s / (2 * (1 - e2 * s * s)) + math.atanh(e * s) / (2 * e))


def exact_box_m2(west: float, south: float, east: float, north: float) -> float:
    """The closed form: a box's edges are parallels and meridians."""
    width = east - west if west <= east else east - west + 360
    return width / 360 * (zone_m2(north) - zone_m2(south))


def geodesic_m2(geometry) -> float:
    """pyproj's geodesic area of a lon/lat geometry, densified to 0.01 degrees."""
    total = 0.0
    for west in (-180, -90, 0, 90):
        piece = geometry.intersection(box(west, -90, west + 90, 90))
        for polygon in shapely.get_parts(piece):
            if polygon.geom_type == "Polygon" and not polygon.is_empty:
                densified = orient(shapely.segmentize(polygon, 0.01))
                total += GEOD.geometry_area_perimeter(densified)[0]
    return total


def write_json(path, document):
    path.write_text(json.dumps(document))
    return path


def polygon_feature(coordinates, location, mode):
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [coordinates]},
        "properties": {"location_external_id": location, "mode": mode},
    }


@pytest.fixture
def network(connection, demo, tmp_path):
    """The demo network around Washington, plus areas that cross the antimeridian (Fiji
    and Tonga, overlapping) and that touch the North Pole (two overlapping caps)."""
    (tmp_path / "far.csv").write_text(
        "external_id,name,kind,lat,lon\n"
        "fiji,Fiji,store,-17.7,178.6\n"
        "tonga,Tonga,store,-16.0,-179.6\n"
        "polar-a,Polar A,warehouse,78.2,15.6\n"
        "polar-b,Polar B,warehouse,78.9,11.9\n"
    )
    (tmp_path / "far_areas.csv").write_text(
        "location_external_id,mode,radius_m\n"
        "fiji,delivery,300000\n"
        "tonga,delivery,250000\n"
        "fiji,express,80000\n"
    )
    caps = {
        "type": "FeatureCollection",
        "features": [
            polygon_feature([[0, 84], [120, 84], [120, 90], [0, 90], [0, 84]], "polar-a", "supply"),
            polygon_feature(
                [[-60, 86], [60, 86], [60, 90], [-60, 90], [-60, 86]], "polar-b", "supply"
            ),
        ],
    }
    for path in (tmp_path / "far.csv", tmp_path / "far_areas.csv"):
        report = import_file(connection, path, ImportOptions())
        assert report.applied and not report.rejected, report
    report = import_file(connection, write_json(tmp_path / "caps.geojson", caps), ImportOptions())
    assert report.created == 2 and not report.rejected, report
    connection.commit()


def active_areas(connection, mode):
    """The stored areas of active locations for one mode, as shapely geometries."""
    rows = connection.execute(
        text(
            "SELECT ST_AsBinary(a.geom) FROM service_areas a JOIN locations l"
            " ON l.id = a.location_id WHERE a.mode = :mode AND l.status = 'active'"
            " ORDER BY a.id"
        ),
        {"mode": mode},
    ).scalars()
    return tuple(bytes(row) for row in rows)


@lru_cache(maxsize=8)
def union_and_overlap(areas_wkb: tuple[bytes, ...]):
    """shapely's union of the areas, and the union of their pairwise intersections."""
    areas = [wkb.loads(area) for area in areas_wkb]
    tree = shapely.STRtree(areas)
    pairs = [
        areas[i].intersection(areas[j])
        for i, j in tree.query(areas, predicate="intersects").T
        if i < j
    ]
    return shapely.unary_union(areas), shapely.unary_union(pairs)


BOXES = [
    pytest.param((-180, -90, 180, 90), id="whole-world"),
    pytest.param((170, -10, -170, 10), id="antimeridian"),
    pytest.param((170, -25, -170, -5), id="antimeridian-fiji-tonga"),
    pytest.param((10, -90, 5, 90), id="antimeridian-355-wide"),
    pytest.param((-180, 80, 180, 90), id="polar-cap"),
    pytest.param((0, 85, 30, 90), id="touching-the-pole"),
    pytest.param((-180, -90, 180, 0), id="southern-hemisphere"),
    pytest.param((0, 0, 1, 1), id="one-degree"),
    pytest.param((-170, 0, 9, 60), id="179-wide"),
    pytest.param((-100, 20, 81, 60), id="181-wide"),
    pytest.param((-77.1, 38.85, -76.95, 38.95), id="washington"),
]


@pytest.mark.parametrize("bbox", BOXES)
def test_summary_of_any_box_matches_the_geodesic_oracles(client, connection, network, bbox):
    response = client.get(f"{SUMMARY}?bbox={','.join(map(str, bbox))}")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["bbox"] == list(bbox)
    assert set(body["modes"]) == set(MODES)

    target = bbox_polygon(bbox)
    expected_area = geodesic_m2(target)
    assert expected_area == pytest.approx(exact_box_m2(*bbox), rel=1e-7)  # the oracles agree
    covered_somewhere = False
    for mode in MODES:
        summary = body["modes"][mode]
        assert summary["area_m2"] == pytest.approx(exact_box_m2(*bbox), rel=1e-9)
        assert summary["area_m2"] == pytest.approx(expected_area, rel=1e-7)

        union, overlap = union_and_overlap(active_areas(connection, mode))
        expected_covered = geodesic_m2(union.intersection(target))
        expected_overlap = geodesic_m2(overlap.intersection(target))
        # The stored areas' own edges (polygon and circle edges of up to 15 km) are
        # geodesics to pyproj and straight lon/lat lines to the app: a few m² apart.
        assert summary["covered_m2"] == pytest.approx(expected_covered, rel=1e-6, abs=100)
        assert summary["overlap_m2"] == pytest.approx(expected_overlap, rel=1e-6, abs=100)
        assert summary["covered_share"] == pytest.approx(
            expected_covered / expected_area, rel=1e-6, abs=1e-12
        )
        assert 0 <= summary["covered_share"] <= 1
        assert summary["overlap_m2"] <= summary["covered_m2"] <= summary["area_m2"]
        covered_somewhere |= expected_covered > 0

        uncovered, overlaps = shape(summary["uncovered"]), shape(summary["overlaps"])
        assert uncovered.is_valid and overlaps.is_valid
        # GeoJSON is rounded to 6 decimals (~0.1 m) along edges of up to a few 1,000 km.
        slack = 2e-9 * summary["area_m2"] + 1e5
        assert geodesic_m2(uncovered) == pytest.approx(
            summary["area_m2"] - summary["covered_m2"], abs=slack
        )
        assert geodesic_m2(overlaps) == pytest.approx(summary["overlap_m2"], abs=slack)
    if bbox not in ((170, -10, -170, 10), (0, 0, 1, 1)):
        assert covered_somewhere  # the box meets areas: the figures are not trivially 0


@pytest.mark.parametrize(
    "bbox", ["0,0,0,1", "0,1,1,1", "180,0,-180,1", "180,-90,180,90", "-180,0,-180,1"]
)
def test_a_box_of_no_area_is_refused(client, network, bbox):
    """No width (180 to -180 across the antimeridian is none either) or no height: a 400
    that names the field, before any work."""
    response = client.get(f"{SUMMARY}?bbox={bbox}")
    assert response.status_code == 400, response.json
    assert response.mimetype == "application/problem+json"
    assert [error["field"] for error in response.json["errors"]] == ["bbox"]


LONGITUDES = st.one_of(
    st.sampled_from([-180, -179.999, -90, -77.02, 0, 5, 90, 178.6, 179.999, 180]),
    st.floats(-180, 180),
)
LATITUDES = st.one_of(
    st.sampled_from([-90, -89.999, -17, 0, 38.9, 84, 89.999, 90]), st.floats(-90, 90)
)


def test_every_box_is_measured_on_the_ellipsoid_or_refused(client, network):
    """Any box, edges on the poles and the antimeridian included: a 200 whose area is
    the box's closed form and whose figures nest, or a 400 that names the box."""

    @settings(max_examples=40, deadline=None, database=None, derandomize=True)
    @given(
        lons=st.tuples(LONGITUDES, LONGITUDES).filter(lambda lons: lons[0] != lons[1]),
        lats=st.tuples(LATITUDES, LATITUDES).filter(lambda lats: lats[0] != lats[1]),
    )
    def check(lons, lats):
        (west, east), (south, north) = lons, sorted(lats)
        bbox = (west, south, east, north)
        response = client.get(f"{SUMMARY}?bbox={','.join(map(repr, bbox))}")
        if response.status_code == 400:
            assert [error["field"] for error in response.json["errors"]] == ["bbox"]
            return
        assert response.status_code == 200, (bbox, response.json)
        for summary in response.json["modes"].values():
            assert summary["area_m2"] == pytest.approx(exact_box_m2(*bbox), rel=1e-9, abs=1e-3)
            assert 0 <= summary["overlap_m2"] <= summary["covered_m2"] <= summary["area_m2"]
            assert 0 <= summary["covered_share"] <= 1

    check()


def test_the_whole_world_answers_well_within_the_statement_timeout(client, network):
    client.get(f"{SUMMARY}?bbox=-180,-90,180,90")  # warm the connection and the caches
    started = time.perf_counter()
    response = client.get(f"{SUMMARY}?bbox=-180,-90,180,90")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.json["modes"]["delivery"]["area_m2"] == pytest.approx(5.10065621724e14)
    # Three statements (one per mode) under a 5 s statement timeout each; 0.3 s on an
    # idle machine.
    assert elapsed < 4, elapsed


def fractal_ring(lon, lat, radius_deg, vertices, seed):
    """A closed ring of ``vertices`` points with a coastline-like, self-similar edge."""
    rng = np.random.default_rng(seed)
    spectrum = np.zeros(vertices // 2 + 1, complex)
    k = np.arange(2, vertices // 2 + 1)
    spectrum[2:] = k**-1.3 * np.exp(2j * np.pi * rng.random(k.size))
    noise = np.fft.irfft(spectrum, vertices)
    radius = radius_deg * (1 + 0.25 * noise / np.abs(noise).max())
    angle = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    ring = np.column_stack(
        [lon + radius * np.cos(angle) / math.cos(math.radians(lat)), lat + radius * np.sin(angle)]
    ).tolist()
    return ring + [ring[0]]


def test_a_90000_vertex_area_and_region_are_summarised_within_the_timeout(
    client, connection, tmp_path
):
    """Both shapes just under the vertex cap: before the bounded copies, the summary of
    that region ran into the statement timeout (503); the planner's page too."""
    lon, lat = -98.0, 38.5  # away from the demo network: the big area decides the figures
    (tmp_path / "locations.csv").write_text(
        "external_id,name,kind,lat,lon\n"
        f"big,Big,store,{lat},{lon}\n"
        + "".join(f"small-{i},Small {i},locker,{lat + dy},{lon + dx}\n"
                  for i, (dx, dy) in enumerate([(0.14, 0), (-0.1, 0.08), (0, -0.12)]))
    )  # fmt: skip
    (tmp_path / "circles.csv").write_text(
        "location_external_id,mode,radius_m\n"
        + "".join(f"small-{i},delivery,{radius}\n" for i, radius in enumerate([6000, 4000, 5000]))
    )
    area = polygon_feature(fractal_ring(lon, lat, 0.12, 90_000, 1), "big", "delivery")
    region = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [fractal_ring(lon - 0.03, lat + 0.02, 0.1, 90_000, 2)],
        },
        "properties": {"region_id": "big-region", "name": "Big region"},
    }
    for path in (
        tmp_path / "locations.csv",
        tmp_path / "circles.csv",
        write_json(tmp_path / "area.geojson", {"type": "FeatureCollection", "features": [area]}),
        write_json(
            tmp_path / "region.geojson", {"type": "FeatureCollection", "features": [region]}
        ),
    ):
        report = import_file(connection, path, ImportOptions())
        assert report.applied and not report.rejected, report
    connection.commit()
    copies = connection.execute(
        text(
            "SELECT original_vertices, ST_NPoints(geom), tolerance_deg FROM service_area_bounded"
            " UNION ALL SELECT original_vertices, ST_NPoints(geom), tolerance_deg"
            " FROM region_bounded"
        )
    ).all()
    assert len(copies) == 2
    for original, vertices, tolerance in copies:
        assert original == 90_001 and vertices <= BOUNDED_VERTICES and 0 < tolerance < 1e-3

    started = time.perf_counter()
    response = client.get(f"{SUMMARY}?region=big-region")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.json  # not 503: within the timeout
    summary = response.json["modes"]["delivery"]

    region_shape = shape(region["geometry"])
    union, overlap = union_and_overlap(active_areas(connection, "delivery"))
    region_m2 = geodesic_m2(region_shape)
    covered_share = geodesic_m2(union.intersection(region_shape)) / region_m2
    overlap_m2 = geodesic_m2(overlap.intersection(region_shape))
    assert 0.5 < covered_share < 0.95  # the big area covers much of the region, not all
    assert overlap_m2 > 1e7  # and the small circles overlap it inside the region
    # Measured on the bounded copies (about 10 m of simplification here).
    assert summary["area_m2"] == pytest.approx(region_m2, rel=1e-4)
    assert summary["covered_share"] == pytest.approx(covered_share, abs=1e-4)
    assert summary["overlap_m2"] == pytest.approx(overlap_m2, rel=1e-3)
    assert summary["locations"] == 4
    assert elapsed < 4, elapsed  # three statements; about 0.5 s on an idle machine

    page = client.get("/planner?region=big-region")
    assert page.status_code == 200


def test_bounded_copies_follow_every_write(connection):
    """The triggers keep a copy exactly for the shapes over the limit: after an insert,
    an update either way across the limit, and a delete."""
    connection.execute(
        text(
            "INSERT INTO locations (external_id, name, kind, timezone, geog)"
            " VALUES ('l', 'L', 'store', 'UTC', ST_SetSRID(ST_MakePoint(0, 0), 4326)::geography)"
        )
    )

    def circle(vertices):  # a circle of radius 0.1 degrees with about that many vertices
        return f"ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(0, 0), 4326), 0.1, {vertices // 4}))"

    def copies():
        return connection.execute(
            text(
                "SELECT (SELECT count(*) FROM service_area_bounded),"
                " (SELECT count(*) FROM region_bounded),"
                " (SELECT max(ST_NPoints(geom)) FROM service_area_bounded)"
            )
        ).one()

    connection.execute(
        text(
            "INSERT INTO service_areas (location_id, mode, geom, source)"
            f" SELECT id, 'delivery', {circle(8000)}, 'polygon' FROM locations"
        )
    )
    connection.execute(
        text(f"INSERT INTO regions (region_id, name, geom) VALUES ('r', 'R', {circle(8000)})")
    )
    areas, regions, vertices = copies()
    assert (areas, regions) == (1, 1) and vertices <= BOUNDED_VERTICES
    connection.execute(text(f"UPDATE service_areas SET geom = {circle(400)}"))
    connection.execute(text(f"UPDATE regions SET geom = {circle(400)}"))
    assert copies()[:2] == (0, 0)
    connection.execute(text(f"UPDATE service_areas SET geom = {circle(6000)}"))
    connection.execute(text(f"UPDATE regions SET geom = {circle(6000)}"))
    assert copies()[:2] == (1, 1)
    connection.execute(text("DELETE FROM service_areas"))
    connection.execute(text("DELETE FROM regions"))
    assert copies()[:2] == (0, 0)
    connection.rollback()


def test_the_migration_bounds_shapes_at_the_documented_limit():
    path = Path(__file__).parents[2] / "migrations" / "versions" / "0006_bounded_shapes.py"
    spec = importlib.util.spec_from_file_location("bounded_shapes_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.MAX_VERTICES == BOUNDED_VERTICES
