"""Property tests (Hypothesis) for the coordinate parser and the GeoJSON polygon validator."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from app.geo import InvalidValue, parse_geojson_polygon, parse_latitude, parse_longitude

finite = st.floats(allow_nan=False, allow_infinity=False)
anything_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)


@given(finite)
def test_latitude_accepts_exactly_the_finite_range(value):
    for form in (value, repr(value)):
        try:
            parsed = parse_latitude(form)
        except InvalidValue:
            assert not -90 <= value <= 90
        else:
            assert parsed == value and -90 <= parsed <= 90


@given(finite)
def test_longitude_accepts_exactly_the_finite_range(value):
    try:
        parsed = parse_longitude(repr(value))
    except InvalidValue:
        assert not -180 <= value <= 180
    else:
        assert parsed == value


@given(st.text(max_size=30))
def test_any_text_parses_to_a_finite_in_range_number_or_is_refused(text):
    try:
        parsed = parse_latitude(text)
    except InvalidValue:
        return
    assert math.isfinite(parsed) and -90 <= parsed <= 90
    assert "_" not in text and "nan" not in text.lower() and "inf" not in text.lower()


@settings(max_examples=300)
@given(anything_json)
def test_the_polygon_validator_never_crashes_and_returns_only_valid_polygons(document):
    for geometry in (document, {"type": "Polygon", "coordinates": document}):
        try:
            shape = parse_geojson_polygon(geometry, max_vertices=1000)
        except InvalidValue:
            continue
        assert shape.is_valid and not shape.is_empty and shape.area > 0


@given(st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90)), min_size=3, max_size=12))
def test_closed_rings_are_valid_or_refused_with_a_reason(points):
    ring = [list(p) for p in points] + [list(points[0])]
    try:
        shape = parse_geojson_polygon({"type": "Polygon", "coordinates": [ring]}, max_vertices=100)
    except InvalidValue as error:
        assert str(error)
    else:
        assert shape.is_valid and shape.area > 0
