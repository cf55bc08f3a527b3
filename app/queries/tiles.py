"""Vector-tile SQL: Mapbox Vector Tiles built by PostGIS (ST_AsMVT) in the Web Mercator grid.

Each tile is one statement. Rows are picked in lon/lat, through the GiST indexes
(``locations_geom_gist`` on geog::geometry, ``service_areas_geom_gist``), with the tile's
envelope transformed to EPSG:4326: Web Mercator is separable (x depends on lon only, y on
lat only), so the envelope of a tile is exactly a lon/lat box, and nothing is transformed
before the index has ruled it out.

What a tile costs is bounded by zoom:
- locations: below POINT_MIN_ZOOM, the points of a tile are clustered on a grid of
  CLUSTER_CELLS x CLUSTER_CELLS cells (a count per cell, placed at the mean of its
  points), so a national view sends at most CLUSTER_CELLS² features whatever the network;
  a cell of one location carries that location's attributes, so it stays clickable;
- service areas: simplified to about a pixel of the tile (the bounded copies of
  migration 0006 stand in for huge shapes when they are at least that precise), cut to
  the tile first, and left out when smaller than MIN_AREA_PIXELS pixels.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# The tile's own coordinate space (the MVT default) and the margin kept around it, in
# those units, so that polygon outlines do not show seams at tile edges.
EXTENT = 4096
POLYGON_BUFFER = 64
# Below this zoom, locations are clustered; from it on every location is its own feature
# (a z12 tile is about 10 km across: even a dense city sends a few thousand points).
POINT_MIN_ZOOM = 12
CLUSTER_CELLS = 64
# An area narrower and lower than this many tile pixels (of 256) is invisible: not sent.
MIN_AREA_PIXELS = 1
# Web Mercator ends at about 85.0511 degrees; geometry is cut a little beyond it before it
# is transformed (a pole has no Mercator y).
MERCATOR_MAX_LAT = 85.06

# Each tile statement also reads the data version its rows belong to (migration 0009):
# the ETag and the tile come from one snapshot, in one round trip.
_VERSION = "(SELECT version FROM data_version)"

_ENVELOPE = """
tile AS (SELECT ST_TileEnvelope(:z, :x, :y) AS merc),
box AS (
    SELECT merc, ST_Transform(merc, 4326) AS lonlat,
           ST_XMin(ST_Transform(merc, 4326)) AS west, ST_XMax(ST_Transform(merc, 4326)) AS east,
           ST_YMin(ST_Transform(merc, 4326)) AS south, ST_YMax(ST_Transform(merc, 4326)) AS north
    FROM tile
)"""

# What a location's feature carries: enough for the planner's tooltip and popup, so the
# page needs no other request to show a location's details.
_LOCATION_ATTRIBUTES = """l.external_id, l.name, l.kind, l.status, l.opening_hours AS hours,
           array_to_string(l.capabilities, ', ') AS capabilities"""

# Retired locations are gone from the network; temporarily closed ones are still shown.
_LOCATION_POINTS = f"""
WITH {_ENVELOPE}
SELECT {_VERSION}, coalesce(ST_AsMVT(f, 'locations', {EXTENT}, 'geom', 'id'), '') FROM (
    SELECT l.id, {_LOCATION_ATTRIBUTES},
           ST_AsMVTGeom(ST_Transform(l.geog::geometry, 3857), box.merc, {EXTENT}, 0, true)
               AS geom
    FROM locations AS l CROSS JOIN box
    WHERE l.geog::geometry && box.lonlat AND l.status <> 'retired'
) AS f
"""

# The cell of a point: its column is linear in lon (Mercator x is); its row uses the
# Mercator y of lat, ln(tan(pi/4 + lat/2)), written out rather than ST_Transform per point
# (a national tile reads hundreds of thousands of points).
_MERCATOR_Y = "ln(tan(pi() / 4 + radians({lat}) / 2))"
_LOCATION_CLUSTERS = f"""
WITH {_ENVELOPE},
points AS (
    SELECT l.id, {_LOCATION_ATTRIBUTES},
           ST_X(l.geog::geometry) AS lon, ST_Y(l.geog::geometry) AS lat,
           least({CLUSTER_CELLS - 1}, floor(
               (ST_X(l.geog::geometry) - box.west) / (box.east - box.west) * {CLUSTER_CELLS}
           ))::int AS col,
           least({CLUSTER_CELLS - 1}, floor(
               ({_MERCATOR_Y.format(lat="ST_Y(l.geog::geometry)")}
                - {_MERCATOR_Y.format(lat="box.south")})
               / ({_MERCATOR_Y.format(lat="box.north")} - {_MERCATOR_Y.format(lat="box.south")})
               * {CLUSTER_CELLS}
           ))::int AS row
    FROM locations AS l CROSS JOIN box
    WHERE l.geog::geometry && box.lonlat AND l.status <> 'retired'
),
cells AS (
    -- A cell of one location is that location; the smallest id speaks for a bigger one.
    SELECT count(*) AS count, min(id) AS id,
           CASE WHEN count(*) = 1 THEN min(external_id) END AS external_id,
           CASE WHEN count(*) = 1 THEN min(name) END AS name,
           CASE WHEN count(*) = 1 THEN min(kind) END AS kind,
           CASE WHEN count(*) = 1 THEN min(status) END AS status,
           CASE WHEN count(*) = 1 THEN min(hours) END AS hours,
           CASE WHEN count(*) = 1 THEN min(capabilities) END AS capabilities,
           avg(lon) AS lon, avg(lat) AS lat
    FROM points GROUP BY col, row
)
SELECT {_VERSION}, coalesce(ST_AsMVT(f, 'locations', {EXTENT}, 'geom', 'id'), '') FROM (
    SELECT c.id, c.count, c.external_id, c.name, c.kind, c.status, c.hours, c.capabilities,
           ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326), 3857),
                        box.merc, {EXTENT}, 0, true) AS geom
    FROM cells AS c CROSS JOIN box
) AS f
"""

_SERVICE_AREAS = f"""
WITH {_ENVELOPE},
cut AS (
    -- The tile's box with the buffer, in lon/lat, within Mercator's latitudes.
    SELECT ST_MakeEnvelope(
        box.west - :margin, greatest(box.south - :margin, -{MERCATOR_MAX_LAT}),
        box.east + :margin, least(box.north + :margin, {MERCATOR_MAX_LAT}), 4326) AS geom
    FROM box
)
SELECT {_VERSION}, coalesce(ST_AsMVT(f, 'service_areas', {EXTENT}, 'geom', 'id'), '')
FROM (
    SELECT a.id, a.mode, l.external_id AS location, l.name AS location_name,
           ST_AsMVTGeom(ST_Transform(ST_Simplify(ST_ClipByBox2D(
               CASE WHEN b.tolerance_deg <= :tolerance THEN b.geom ELSE a.geom END,
               cut.geom), :tolerance, true), 3857),
               box.merc, {EXTENT}, {POLYGON_BUFFER}, true) AS geom
    FROM service_areas AS a
    JOIN locations AS l ON l.id = a.location_id
    LEFT JOIN service_area_bounded AS b ON b.id = a.id
    CROSS JOIN box CROSS JOIN cut
    WHERE a.geom && cut.geom AND a.mode = ANY(:modes) AND l.status <> 'retired'
      AND (ST_XMax(a.geom) - ST_XMin(a.geom) >= :min_size
           OR ST_YMax(a.geom) - ST_YMin(a.geom) >= :min_size)
) AS f
WHERE f.geom IS NOT NULL
"""


def _tile(connection: Connection, statement: str, params: dict) -> tuple[int, bytes]:
    """Run a tile statement. A low-zoom tile reads up to every location, and PostgreSQL
    would JIT-compile it for longer than the work takes: the app's connections run with
    jit=off (app/database.py)."""
    version, tile = connection.execute(text(statement), params).one()
    return version, bytes(tile)


def locations_tile(connection: Connection, z: int, x: int, y: int) -> tuple[int, bytes]:
    """The data version and the ``locations`` layer of tile z/x/y: points from
    POINT_MIN_ZOOM, clusters below."""
    clustered = z < POINT_MIN_ZOOM
    statement = _LOCATION_CLUSTERS if clustered else _LOCATION_POINTS
    return _tile(connection, statement, {"z": z, "x": x, "y": y})


def service_areas_tile(
    connection: Connection, z: int, x: int, y: int, modes: list[str]
) -> tuple[int, bytes]:
    """The data version and the ``service_areas`` layer of tile z/x/y for ``modes``,
    simplified for zoom ``z``."""
    # One pixel of a 256-pixel tile, in degrees of longitude: what a screen can show.
    pixel_deg = 360.0 / 2**z / 256
    params = {
        "z": z,
        "x": x,
        "y": y,
        "modes": modes,
        "tolerance": pixel_deg / 2,
        "margin": 360.0 / 2**z * POLYGON_BUFFER / EXTENT,
        "min_size": pixel_deg * MIN_AREA_PIXELS,
    }
    return _tile(connection, _SERVICE_AREAS, params)


def data_version(connection: Connection) -> int:
    """The data's version (migration 0009): it changes with every write to the network."""
    return connection.execute(text("SELECT version FROM data_version")).scalar_one()


# The planner opens where the network is: the box from the EXTENT_SHARE quantile to the
# 1 - EXTENT_SHARE quantile of the locations' lon and lat, so a few stray points (a
# locker in the ocean, a test row at a pole) do not make it open on the whole world.
# Read from a sample of about EXTENT_SAMPLE_ROWS rows: a quantile of a random sample is
# as good for a map's opening view, and costs milliseconds at a million locations.
EXTENT_SHARE = 0.01
EXTENT_SAMPLE_ROWS = 20_000

_SAMPLE_PERCENT = text(
    """
SELECT CASE WHEN reltuples <= :rows THEN 100 ELSE 100 * :rows / reltuples END
FROM pg_class WHERE oid = 'locations'::regclass
"""
)
_EXTENT = text(
    """
SELECT percentile_cont(:low) WITHIN GROUP (ORDER BY lon),
       percentile_cont(:low) WITHIN GROUP (ORDER BY lat),
       percentile_cont(:high) WITHIN GROUP (ORDER BY lon),
       percentile_cont(:high) WITHIN GROUP (ORDER BY lat)
FROM (
    SELECT ST_X(l.geog::geometry) AS lon, ST_Y(l.geog::geometry) AS lat
    FROM locations AS l TABLESAMPLE SYSTEM (:percent)
    WHERE l.status <> 'retired'
) AS sample
"""
)


def data_extent(connection: Connection) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) where nearly all shown locations are; None if none."""
    percent = connection.execute(_SAMPLE_PERCENT, {"rows": EXTENT_SAMPLE_ROWS}).scalar_one()
    row = connection.execute(
        _EXTENT, {"low": EXTENT_SHARE, "high": 1 - EXTENT_SHARE, "percent": percent}
    ).first()
    return None if row is None or row[0] is None else tuple(row)
