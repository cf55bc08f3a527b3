"""OGC API - Features SQL: pages of a collection by id (keyset), their count, one feature.

Two collections: ``locations`` (every status; the feature id is the external_id) and
``service_areas`` (those of locations that are not retired, as /api/v1/service-areas;
the feature id is the area's id). A bbox selects the features whose geometry intersects
it: a box with west > east crosses the antimeridian and is tested as its two halves, each
through the GiST index (one && against the halves' common box would be the whole band of
latitudes). Polygons leave counterclockwise (RFC 7946), as GeoJSON with 7 decimals
(about 1 cm).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.queries import as_dicts
from app.queries.locations import LOCATION_COLUMNS

_LOCATION_GEOM = "l.geog::geometry"
_AREA_GEOM = "a.geom"

_SOURCES = {
    "locations": {
        "columns": LOCATION_COLUMNS,
        "from": "locations AS l",
        "where": "TRUE",
        "id": "l.id",
        "geom": _LOCATION_GEOM,
        "key": "l.external_id",
    },
    "service_areas": {
        "columns": """a.id, a.mode, a.source, a.radius_m,
            l.external_id AS location, l.name AS location_name, l.kind AS location_kind,
            ST_AsGeoJSON(ST_ForcePolygonCCW(a.geom), 7) AS geometry""",
        "from": "service_areas AS a JOIN locations AS l ON l.id = a.location_id",
        "where": "l.status <> 'retired'",
        "id": "a.id",
        "geom": _AREA_GEOM,
        "key": "a.id",
    },
}


def _bbox_condition(geom: str, bbox: tuple[float, float, float, float] | None) -> str:
    """SQL selecting what intersects ``bbox`` (params west, south, east, north)."""
    if bbox is None:
        return "TRUE"
    halves = [(":west", ":east")] if bbox[0] <= bbox[2] else [(":west", "180"), ("-180", ":east")]
    tests = [
        f"ST_Intersects({geom}, ST_MakeEnvelope({west}, :south, {east}, :north, 4326))"
        for west, east in halves
    ]
    return "(" + " OR ".join(tests) + ")"


def _bbox_params(bbox: tuple[float, float, float, float] | None) -> dict:
    if bbox is None:
        return {}
    west, south, east, north = bbox
    return {"west": west, "south": south, "east": east, "north": north}


def _filters(collection: str, bbox) -> str:
    source = _SOURCES[collection]
    return f"{source['where']} AND {_bbox_condition(source['geom'], bbox)}"


def page(
    connection: Connection,
    collection: str,
    *,
    bbox: tuple[float, float, float, float] | None,
    limit: int,
    after_id: int | None = None,
    before_id: int | None = None,
) -> list[dict]:
    """Up to ``limit`` features in id order: after ``after_id``, or the last ones before
    ``before_id`` (a previous page), or the first ones. Each row has its ``id``."""
    source = _SOURCES[collection]
    backwards = before_id is not None
    position = f"{source['id']} < :before" if backwards else f"{source['id']} > :after"
    statement = text(
        f"SELECT {source['columns']} FROM {source['from']}"
        f" WHERE {_filters(collection, bbox)} AND {position}"
        f" ORDER BY {source['id']} {'DESC' if backwards else 'ASC'} LIMIT :limit"
    )
    params = {"after": after_id or 0, "before": before_id, "limit": limit, **_bbox_params(bbox)}
    rows = as_dicts(connection.execute(statement, params))
    return rows[::-1] if backwards else rows


def count(
    connection: Connection, collection: str, *, bbox: tuple[float, float, float, float] | None
) -> int:
    """How many features of ``collection`` the bbox selects (numberMatched)."""
    source = _SOURCES[collection]
    statement = text(f"SELECT count(*) FROM {source['from']} WHERE {_filters(collection, bbox)}")
    return connection.execute(statement, _bbox_params(bbox)).scalar_one()


def one(connection: Connection, collection: str, key: str | int) -> dict | None:
    """The feature whose id (external_id for locations, id for areas) is ``key``, or None."""
    source = _SOURCES[collection]
    statement = text(
        f"SELECT {source['columns']} FROM {source['from']}"
        f" WHERE {source['where']} AND {source['key']} = :key"
    )
    rows = as_dicts(connection.execute(statement, {"key": key}))
    return rows[0] if rows else None


def extent(connection: Connection, collection: str) -> tuple[float, float, float, float] | None:
    """The collection's bounding box (west, south, east, north), or None when it is empty."""
    source = _SOURCES[collection]
    row = connection.execute(
        text(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM"
            f" (SELECT ST_Extent({source['geom']}) AS e FROM {source['from']}"
            f" WHERE {source['where']}) AS x"
        )
    ).first()
    return None if row is None or row[0] is None else tuple(row)
