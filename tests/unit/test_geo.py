"""The coordinate parser and the geometry builders, without a database."""

import math

import pytest
from pyproj import Geod
from shapely.geometry import Point

from app.geo import (
    InvalidValue,
    geodesic_circle,
    parse_geojson_point,
    parse_geojson_polygon,
    parse_latitude,
    parse_longitude,
    parse_number,
)

GEOD = Geod(ellps="WGS84")
SQUARE = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]


@pytest.mark.parametrize("text, expected", [("38.9", 38.9), (" -77.03 ", -77.03), ("1e1", 10.0)])
def test_plain_numbers_parse(text, expected):
    assert parse_number(text) == expected


@pytest.mark.parametrize(
    "text", ["NaN", "nan", "Infinity", "-inf", "1e999", "1_0", "0x10", "", "abc", "1,5"]
)
def test_numbers_that_python_or_postgis_would_bend_are_refused(text):
    with pytest.raises(InvalidValue):
        parse_number(text)


@pytest.mark.parametrize("value", [True, None, [1], float("nan"), float("inf")])
def test_non_numbers_from_json_are_refused(value):
    with pytest.raises(InvalidValue):
        parse_number(value)


@pytest.mark.parametrize("text", ["91", "-90.0001", "200"])
def test_latitude_range_is_enforced(text):
    with pytest.raises(InvalidValue, match="latitude"):
        parse_latitude(text)


@pytest.mark.parametrize("text", ["180.0001", "200", "-181"])
def test_longitude_range_is_enforced(text):
    with pytest.raises(InvalidValue, match="longitude"):
        parse_longitude(text)


def test_range_edges_are_accepted():
    assert parse_latitude("90") == 90 and parse_latitude("-90") == -90
    assert parse_longitude("180") == 180 and parse_longitude("-180") == -180


def test_point_coordinates_must_be_numbers():
    assert parse_geojson_point({"type": "Point", "coordinates": [1.5, 2]}) == (1.5, 2)
    with pytest.raises(InvalidValue, match="numbers"):
        parse_geojson_point({"type": "Point", "coordinates": ["1", "x"]})


@pytest.mark.parametrize(
    "geometry, message",
    [
        ({"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}, "invalid"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least 4"),
        ({"type": "Polygon", "coordinates": [[["0", "0"], [1, 0], [1, 1], ["0", "0"]]]}, "numbers"),
        ({"type": "Polygon", "coordinates": [SQUARE], "crs": {"type": "name"}}, "crs"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1e308, 0], [1, 1], [0, 0]]]}, "longitude"),
        ({"type": "Point", "coordinates": [0, 0]}, "Polygon or MultiPolygon"),
    ],
)
def test_bad_polygons_are_refused_with_a_reason(geometry, message):
    with pytest.raises(InvalidValue, match=message):
        parse_geojson_polygon(geometry, max_vertices=1000)


def test_vertex_cap():
    ring = [[math.cos(a / 100), math.sin(a / 100)] for a in range(600)]
    ring.append(ring[0])
    with pytest.raises(InvalidValue, match="too many vertices"):
        parse_geojson_polygon({"type": "Polygon", "coordinates": [ring]}, max_vertices=500)


def test_make_valid_repairs_a_bowtie():
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    repaired = parse_geojson_polygon(bowtie, max_vertices=100, make_valid=True)
    assert repaired.is_valid and repaired.area == pytest.approx(2.0)


def test_geodesic_circle_vertices_lie_at_the_radius():
    circle = geodesic_circle(-77.0369, 38.9072, 5000)
    assert circle.is_valid
    for lon, lat in circle.geoms[0].exterior.coords:
        assert GEOD.inv(-77.0369, 38.9072, lon, lat)[2] == pytest.approx(5000, abs=0.01)


def test_geodesic_circle_across_the_antimeridian_is_split_and_valid():
    circle = geodesic_circle(179.99, -16.5, 10_000)
    assert circle.is_valid and len(circle.geoms) == 2
    minx, _, maxx, _ = circle.bounds
    assert minx == pytest.approx(-180) and maxx == pytest.approx(180)
    # Both sides of the line are inside: a point 2 km east, across the line, and its centre.
    assert circle.covers(Point(179.99, -16.5))
    assert circle.covers(Point(-179.995, -16.5))


def test_geodesic_circle_may_not_contain_a_pole():
    with pytest.raises(InvalidValue, match="pole"):
        geodesic_circle(0, 89.99, 5000)
