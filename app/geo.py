"""Coordinates and geometry at the edge of the system: parse strictly, build geodesically.

This is the one place that turns outside input (query strings, CSV cells, GeoJSON) into
coordinates. PostGIS would otherwise accept and silently change bad values: geography
wraps lat 91 to 89 and lon 200 to -160, and NaN is stored as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import shapely
from pyproj import Geod
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.validation import explain_validity

WGS84 = Geod(ellps="WGS84")

# Plain decimal or scientific notation. No underscores ("1_0"), no nan/inf, no hex.
# ASCII digits only: \d would also match other scripts' digits, which float() reads.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
CIRCLE_VERTICES = 128


class InvalidValue(ValueError):
    """A value that cannot be accepted; the message is meant for the caller."""


def parse_number(value: object) -> float:
    """A finite float from a decimal string or a JSON number; anything else is refused."""
    if isinstance(value, bool):
        raise InvalidValue("must be a number, not a boolean")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            raise InvalidValue(f"must be a plain decimal number, got {value!r}")
        number = float(text)
    else:
        raise InvalidValue(f"must be a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise InvalidValue("must be a finite number")
    return number


def parse_latitude(value: object) -> float:
    """Latitude in degrees, -90..90."""
    lat = parse_number(value)
    if not -90 <= lat <= 90:
        raise InvalidValue(f"latitude must be between -90 and 90, got {lat:g}")
    return lat


def parse_longitude(value: object) -> float:
    """Longitude in degrees, -180..180."""
    lon = parse_number(value)
    if not -180 <= lon <= 180:
        raise InvalidValue(f"longitude must be between -180 and 180, got {lon:g}")
    return lon


def parse_geojson_point(geometry: object) -> tuple[float, float]:
    """(lon, lat) from a GeoJSON Point geometry object."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        raise InvalidValue("geometry must be a GeoJSON Point")
    _reject_crs(geometry)
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
        raise InvalidValue("Point coordinates must be [lon, lat]")
    return _position(coordinates)


def parse_geojson_polygon(
    geometry: object, *, max_vertices: int, make_valid: bool = False
) -> MultiPolygon:
    """A valid MultiPolygon from a GeoJSON Polygon or MultiPolygon geometry object.

    Structural faults (strings for numbers, unclosed or short rings, out-of-range or
    non-finite coordinates, a ``crs`` member, too many vertices) are always refused.
    Topological faults (self-intersections) are refused too, unless ``make_valid`` asks
    for GEOS MakeValid, the same repair PostGIS's ST_MakeValid performs.
    """
    if not isinstance(geometry, dict):
        raise InvalidValue("geometry must be a GeoJSON object")
    _reject_crs(geometry)
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        polygons_coords = [coordinates]
    elif kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise InvalidValue("MultiPolygon coordinates must be a non-empty list of polygons")
        polygons_coords = coordinates
    else:
        raise InvalidValue(f"geometry must be a Polygon or MultiPolygon, got {kind!r}")

    vertex_count = 0
    polygons = []
    for polygon_coords in polygons_coords:
        if not isinstance(polygon_coords, list) or not polygon_coords:
            raise InvalidValue("a polygon must be a non-empty list of rings")
        rings = []
        for ring_coords in polygon_coords:
            ring = _ring(ring_coords)
            vertex_count += len(ring)
            if vertex_count > max_vertices:
                raise InvalidValue(f"too many vertices (the limit is {max_vertices})")
            rings.append(ring)
        polygons.append(Polygon(rings[0], rings[1:]))
    shape = MultiPolygon(polygons)
    if not shape.is_valid:
        if not make_valid:
            raise InvalidValue(f"invalid polygon: {explain_validity(shape)}")
        shape = _polygonal_part(shapely.make_valid(shape))
        if shape.is_empty:
            raise InvalidValue("polygon has no area left after repair")
    if shape.area == 0:
        raise InvalidValue("polygon has no area")
    return shape


def geodesic_circle(lon: float, lat: float, radius_m: float) -> MultiPolygon:
    """The area within ``radius_m`` geodesic metres of (lon, lat), as a MultiPolygon.

    Vertices are computed on the WGS84 ellipsoid. A circle that crosses the antimeridian
    is split into two parts, as RFC 7946 asks, so that it stays valid in lon/lat.
    """
    pole_distance = min(
        WGS84.inv(lon, lat, lon, 90)[2],
        WGS84.inv(lon, lat, lon, -90)[2],
    )
    if radius_m >= pole_distance:
        raise InvalidValue("a circle may not contain a pole")
    azimuths = np.linspace(0, -360, CIRCLE_VERTICES, endpoint=False)  # counter-clockwise
    lons, lats, _ = WGS84.fwd(
        np.full(CIRCLE_VERTICES, lon),
        np.full(CIRCLE_VERTICES, lat),
        azimuths,
        np.full(CIRCLE_VERTICES, radius_m),
    )
    # Unwrap longitudes relative to the centre so the ring is continuous, then fold the
    # parts beyond +-180 back into range.
    lons = lon + (lons - lon + 180) % 360 - 180
    ring = Polygon(np.column_stack([lons, lats]))
    parts = []
    for shift in (-360, 0, 360):
        window = box(-180 + shift, -90, 180 + shift, 90)
        piece = ring.intersection(window)
        if not piece.is_empty:
            parts.append(affinity.translate(piece, xoff=-shift))
    return _polygonal_part(shapely.unary_union(parts) if len(parts) > 1 else parts[0])


def _polygonal_part(shape) -> MultiPolygon:
    """Keep only the polygons of a geometry (make_valid can return lines and points)."""
    polygons = [g for g in getattr(shape, "geoms", [shape]) if isinstance(g, Polygon)]
    polygons += [
        p for g in getattr(shape, "geoms", []) if isinstance(g, MultiPolygon) for p in g.geoms
    ]
    polygons = [p for p in polygons if not p.is_empty]
    return shapely.orient_polygons(MultiPolygon(polygons)) if polygons else MultiPolygon()


def _reject_crs(geojson: dict) -> None:
    if "crs" in geojson:
        raise InvalidValue("a 'crs' member is not accepted: coordinates must be WGS84 (EPSG:4326)")


def _position(coordinates: Sequence[object]) -> tuple[float, float]:
    if not isinstance(coordinates, list) or len(coordinates) not in (2, 3):
        raise InvalidValue("a position must be [lon, lat]")
    lon, lat = coordinates[0], coordinates[1]
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in (lon, lat)):
        raise InvalidValue("coordinates must be JSON numbers, not strings")
    return parse_longitude(lon), parse_latitude(lat)


def _ring(ring_coords: object) -> list[tuple[float, float]]:
    if not isinstance(ring_coords, list):
        raise InvalidValue("a ring must be a list of positions")
    ring = [_position(p) for p in ring_coords]
    if len(ring) < 4:
        raise InvalidValue("a ring needs at least 4 positions")
    if ring[0] != ring[-1]:
        raise InvalidValue("a ring must be closed (first and last positions equal)")
    return ring


def bbox_polygon(bbox: tuple[float, float, float, float]) -> MultiPolygon:
    """A lon/lat box as a MultiPolygon; west > east means it crosses the antimeridian.

    The edges are straight in lon/lat: the south and north edges are parallels, not the
    geodesics a geography polygon would draw between the corners (queries.coverage
    measures it so). A box across the antimeridian is the part east of ``west`` and the
    part west of ``east``; a part of no width (``west`` 180 or ``east`` -180) is left out.
    -180..180 is the whole width of the world. A box of no width or height is a
    degenerate polygon: it has no area, but still selects what touches its line.
    """
    west, south, east, north = bbox
    if west <= east:
        return MultiPolygon([box(west, south, east, north)])
    parts = [box(w, south, e, north) for w, e in ((west, 180), (-180, east)) if w < e]
    return MultiPolygon(parts)


METRES_PER_DEGREE = 111_320.0


def metres_to_degrees(metres: float) -> float:
    """A display tolerance in degrees (at the equator) for a distance in metres."""
    return metres / METRES_PER_DEGREE
