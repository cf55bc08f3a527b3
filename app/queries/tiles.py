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
  a cell of one location carries that location's attributes, so it stays clickable. The
  cells are precomputed (migration 0014, kept in step by triggers in the writing
  transaction): such a tile reads at most CLUSTER_CELLS² rows, not the points under it;
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
# The cells of a clustered tile z are the tiles of zoom z + CELL_ZOOM_OFFSET (migration
# 0014 keeps them for tile zooms 0 to POINT_MIN_ZOOM - 1).
CELL_ZOOM_OFFSET = 6
CLUSTER_CELLS = 2**CELL_ZOOM_OFFSET
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
           array_to_string(l.capabilities, ', ') AS capabilities,
           l.attributes::text AS attributes"""
# attributes: the import file's extra columns (migration 0011), as JSON text; absent
# from the feature when the location has none.

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

# Clusters come from the cells that migration 0014 keeps in step with every write: for
# tile z/x/y, the CLUSTER_CELLS x CLUSTER_CELLS cells of zoom z + CELL_ZOOM_OFFSET under
# it, one primary-key range (at most 4,096 rows, whatever the network). A cell holds the
# sums of its locations' positions on a 2^GRID_BITS Web Mercator grid, so its mean
# position in the tile's own coordinates is plain arithmetic, and the sum of their ids,
# which for a cell of one location is that location's id.
GRID_BITS = 32
# A cluster's feature id: its cell's zoom, column and row under bit 45, so it is never a
# location's id (those stay far below 2^45) and stays exact in JavaScript (< 2^53).
_CLUSTER_ID = "((1::bigint << 45) | (c.zoom::bigint << 34) | (c.cx::bigint << 17) | c.cy)"
_LOCATION_CLUSTERS = f"""
SELECT {_VERSION}, coalesce(ST_AsMVT(f, 'locations', {EXTENT}, 'geom', 'id'), '') FROM (
    SELECT CASE WHEN c.count = 1 THEN c.sum_id ELSE {_CLUSTER_ID} END AS id, c.count,
           {_LOCATION_ATTRIBUTES},
           ST_MakePoint(round((c.sum_x::float8 / c.count - :x0) / :scale),
                        round((c.sum_y::float8 / c.count - :y0) / :scale)) AS geom
    FROM location_tile_cells AS c
    LEFT JOIN locations AS l ON c.count = 1 AND l.id = c.sum_id
    WHERE c.zoom = :cell_zoom AND c.cx BETWEEN :cx0 AND :cx1 AND c.cy BETWEEN :cy0 AND :cy1
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
    if z >= POINT_MIN_ZOOM:
        return _tile(connection, _LOCATION_POINTS, {"z": z, "x": x, "y": y})
    # The tile's origin and one of its EXTENT units, on the position grid.
    tile_side = 2 ** (GRID_BITS - z)
    params = {
        "cell_zoom": z + CELL_ZOOM_OFFSET,
        "cx0": x * CLUSTER_CELLS,
        "cx1": (x + 1) * CLUSTER_CELLS - 1,
        "cy0": y * CLUSTER_CELLS,
        "cy1": (y + 1) * CLUSTER_CELLS - 1,
        "x0": x * tile_side,
        "y0": y * tile_side,
        "scale": tile_side / EXTENT,
    }
    return _tile(connection, _LOCATION_CLUSTERS, params)


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
