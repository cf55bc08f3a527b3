"""Planning SQL (DESIGN §4.9): demand sets, the demand a network covers, and what-if sites.

Demand points are tested against the service areas themselves with ST_Covers (a point
on an edge is served), area by area (see _DEMAND). The
target (a region or a box) is app/queries/coverage.py's, so that shares of demand and
of area are of the same shape. Everything is set-based: one statement per mode for the
demand coverage, two for a what-if, whatever the number of points and candidates.

Nothing here writes: planning runs in a transaction that is always rolled back
(``planning_scope``), under its own statement timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

from app.queries import as_dicts
from app.queries.coverage import DENSIFY_DEG, area_m2_sql, target_sql

# Memory a planning statement's sorts and hashes may use before they spill to disk: the
# (point, area) pairs of a region's demand are grouped by point, and with the default
# 4 MB the 1.9 million pairs of 100,000 points in the demo's overlapping circles were
# sorted on disk (2 s; 170 MB in memory). Planning calls are few; checkout's many small
# statements keep the default.
PLANNING_WORK_MEM = "256MB"


@contextmanager
def planning_scope(connection: Connection, timeout_ms: int) -> Iterator[None]:
    """Run the block in a transaction of its own, with ``statement_timeout`` at
    ``timeout_ms``, and roll it back at the end.

    The request's connection reads in autocommit, so there is no transaction for SET
    LOCAL to live in: psycopg opens one (BEGIN, or a savepoint inside a caller's
    transaction). SET LOCAL, not SET: it ends with the transaction, so the pooled
    connection (or, behind pgbouncer in transaction mode, the server connection) keeps
    the web timeout for the next request. The rollback also guarantees that planning
    leaves nothing behind.
    """
    driver = connection.connection.driver_connection
    with driver.transaction(force_rollback=True):
        connection.execute(
            text(
                "SELECT set_config('statement_timeout', :ms, true),"
                " set_config('work_mem', :work_mem, true)"
            ),
            {"ms": str(int(timeout_ms)), "work_mem": PLANNING_WORK_MEM},
        )
        yield


def demand_set(connection: Connection, name: str) -> dict | None:
    """A demand set's id and name, or None when there is none of that name."""
    row = connection.execute(
        text("SELECT id, name FROM demand_sets WHERE name = :name"), {"name": name}
    ).first()
    return dict(row._mapping) if row is not None else None


def demand_sets(connection: Connection) -> list[dict]:
    """Every demand set by name: how many points it holds, their total weight, and when
    it was imported (for the planner's selector)."""
    return as_dicts(
        connection.execute(
            text(
                """
SELECT s.name, s.imported_at, count(p.id) AS points, coalesce(sum(p.weight), 0) AS weight
FROM demand_sets AS s LEFT JOIN demand_points AS p ON p.set_id = s.id
GROUP BY s.id ORDER BY s.name
"""
            )
        )
    )


def demand_set_names(connection: Connection) -> list[str]:
    """The demand sets' names, sorted (cheap: for a page's selector)."""
    return list(connection.execute(text("SELECT name FROM demand_sets ORDER BY name")).scalars())


# One row per demand point of set :set_id inside the target: its weight, position and
# label; how many active locations' areas of :mode cover it (``servers``), the lowest of
# their ids (the one location, when there is one: whose exclusive demand it is) and
# whether a drive-time area is among them; and, in a what-if, the candidates covering it
# ({candidate_rows} adds their rows).
#
# Each area meeting the target finds the points in its box through demand_points' GiST
# index and tests them against itself: consecutive tests against the same polygon let
# PostGIS prepare it once (an indexed polygon), so a point costs the same whatever the
# area's size, and the test is exact (ST_Covers: a point on an edge is served). Testing
# each point against the subdivided parts instead, as /coverage does for a few points,
# took 24 s for 100,000 points in the demo's circles; this takes 5.
#
# The points, their (point, area) pairs and their (point, candidate) pairs are one
# UNION ALL grouped by point, never a join of one set to another: the planner cannot
# estimate such sets, took each for a row or two, and joined 100,000 points to 30,000
# covered ones in a nested loop (minutes).
_DEMAND = """
demand AS MATERIALIZED (
    SELECT id, max(weight) AS weight, max(lon) AS lon, max(lat) AS lat, max(label) AS label,
           count(location_id) AS servers, min(location_id) AS location_id,
           coalesce(bool_or(by_drive_time), false) AS by_drive_time,
           coalesce(array_agg(candidate ORDER BY candidate)
                    FILTER (WHERE candidate IS NOT NULL), '{{}}') AS candidates
    FROM (
        SELECT p.id, p.weight, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.label,
               NULL::bigint AS location_id, NULL::boolean AS by_drive_time,
               NULL::int AS candidate
        FROM target AS t
        JOIN demand_points AS p ON p.geom && t.geom
        WHERE p.set_id = :set_id AND ST_Covers(t.geom, p.geom)
        UNION ALL
        SELECT p.id, NULL, NULL, NULL, NULL, a.location_id, a.source = 'drive_time', NULL
        FROM target AS t
        JOIN service_areas AS a ON a.geom && t.geom
        JOIN locations AS l ON l.id = a.location_id
        JOIN demand_points AS p ON p.geom && a.geom
        WHERE a.mode = :mode AND l.status = 'active' AND p.set_id = :set_id
          AND p.geom && t.geom AND ST_Covers(a.geom, p.geom)
        {candidate_rows}
    ) AS rows
    GROUP BY id
    HAVING count(weight) > 0  -- inside the target: outside it, only pairs have rows
)"""

# A what-if's candidates (WKB, numbered from 1), and a row per point each one covers.
_GIVEN = """
given AS (
    SELECT c.idx::int AS idx, ST_GeomFromWKB(c.wkb, 4326) AS geom
    FROM unnest(CAST(:candidates AS bytea[])) WITH ORDINALITY AS c(wkb, idx)
)"""
_CANDIDATE_ROWS = """
        UNION ALL
        SELECT p.id, NULL, NULL, NULL, NULL, NULL, NULL, k.idx
        FROM given AS k
        CROSS JOIN target AS t
        JOIN demand_points AS p ON p.geom && k.geom
        WHERE p.set_id = :set_id AND p.geom && t.geom AND ST_Covers(k.geom, p.geom)"""

# Hexagons for the uncovered demand, in a plane local to the target: x is longitude
# (relative to the target's middle meridian, wrapped) times the cosine of the target's
# middle latitude, y is latitude, both in degrees; there a hexagon of edge s degrees is
# close to regular and of even size across a city or a region, at any latitude (Web
# Mercator fails at the poles). Flat-topped hexagons as ST_Hexagon(s, i, j) lays them:
# column i's centre at x = 1.5 s i, y = sqrt(3) s (j + (i odd ? 1/2 : 0)). Their centres
# are two rectangular lattices (even and odd columns); a point's hexagon is the one whose
# centre is nearest, so every point falls in exactly one. The edge is the target's larger
# extent over 1.5 :cells_across (at least :min_edge_deg), so about :cells_across columns
# span it and the grid's size is bounded whatever the target.
_HEXAGONS = """
frame AS (
    SELECT (ST_XMin(e) + ST_XMax(e)) / 2 AS lon0,
           greatest(cos(radians((ST_YMin(e) + ST_YMax(e)) / 2)), 0.01) AS k,
           greatest(
               greatest((ST_XMax(e) - ST_XMin(e)) * cos(radians((ST_YMin(e) + ST_YMax(e)) / 2)),
                        ST_YMax(e) - ST_YMin(e)) / (1.5 * :cells_across),
               :min_edge_deg) AS s
    FROM (SELECT ST_Envelope(geom) AS e FROM target) AS box
),
local AS (
    SELECT u.weight, f.s, f.k, f.lon0,
           (u.lon - f.lon0 + 180 - 360 * floor((u.lon - f.lon0 + 180) / 360) - 180) * f.k AS x,
           u.lat AS y
    FROM uncovered AS u CROSS JOIN frame AS f
),
nearest AS (
    SELECT weight, s, k, lon0, x, y,
           round(x / (3 * s)) AS a0, round(y / (sqrt(3) * s)) AS b0,
           round((x - 1.5 * s) / (3 * s)) AS a1, round((y - sqrt(3) / 2 * s) / (sqrt(3) * s)) AS b1
    FROM local
),
cells AS (
    SELECT weight, s, k, lon0,
           CASE WHEN even THEN 2 * a0 ELSE 2 * a1 + 1 END::int AS i,
           CASE WHEN even THEN b0 ELSE b1 END::int AS j
    FROM nearest
    CROSS JOIN LATERAL (
        SELECT (x - 3 * s * a0) ^ 2 + (y - sqrt(3) * s * b0) ^ 2
               <= (x - 3 * s * a1 - 1.5 * s) ^ 2 + (y - sqrt(3) * s * (b1 + 0.5)) ^ 2 AS even
    ) AS nearer
),
hexagons AS (
    SELECT i, j, sum(weight) AS weight, count(*) AS points,
           ST_AsGeoJSON(ST_SetSRID(ST_Affine(ST_Hexagon(min(s), i, j),
                                             1 / min(k), 0, 0, 1, min(lon0), 0), 4326), 6)
               AS geometry
    FROM cells GROUP BY i, j
)"""


def demand_coverage(
    connection: Connection,
    *,
    region_id: str | None,
    bbox_wkb: bytes | None,
    set_id: int,
    mode: str,
    max_points: int,
    cells_across: int,
    min_edge_deg: float,
) -> dict | None:
    """The demand of set ``set_id`` inside a region or box, for one mode: its points and
    weight, the weight covered (by any area, and by drive-time areas), the number of
    drive-time areas meeting the target, the heaviest ``max_points`` uncovered points
    (weight, then id) with how many there are, and the uncovered weight per hexagon (see
    _HEXAGONS) with the hexagons' edge in degrees of latitude. None when the region does
    not exist."""
    statement = text(
        f"""
WITH target AS ({target_sql(region_id)}),
{_DEMAND.format(candidate_rows="")},
uncovered AS MATERIALIZED (
    SELECT id, lon, lat, weight, label FROM demand WHERE servers = 0
),
{_HEXAGONS}
SELECT (SELECT count(*) FROM demand) AS points,
       (SELECT coalesce(sum(weight), 0) FROM demand) AS weight,
       (SELECT coalesce(sum(weight), 0) FROM demand WHERE servers > 0) AS covered_weight,
       (SELECT coalesce(sum(weight), 0) FROM demand WHERE by_drive_time) AS drive_time_weight,
       (SELECT count(*) FROM service_areas AS a JOIN locations AS l ON l.id = a.location_id
        WHERE a.mode = :mode AND a.source = 'drive_time' AND l.status = 'active'
          AND a.geom && t.geom AND ST_Intersects(a.geom, t.geom)) AS drive_time_areas,
       (SELECT count(*) FROM uncovered) AS uncovered_points,
       (SELECT coalesce(json_agg(json_build_object(
                   'id', h.id, 'lon', h.lon, 'lat', h.lat,
                   'weight', h.weight, 'label', h.label) ORDER BY h.weight DESC, h.id), '[]')
        FROM (SELECT * FROM uncovered ORDER BY weight DESC, id LIMIT :max_points) AS h)
           AS heaviest,
       (SELECT coalesce(json_agg(json_build_object(
                   'i', h.i, 'j', h.j, 'weight', h.weight, 'points', h.points,
                   'geometry', h.geometry::json) ORDER BY h.weight DESC, h.i, h.j), '[]')
        FROM hexagons AS h) AS hexagons,
       (SELECT s FROM frame) AS hex_edge_deg
FROM target AS t
"""
    )
    row = (
        connection.execute(
            statement,
            {
                "region_id": region_id,
                "bbox": bbox_wkb,
                "set_id": set_id,
                "mode": mode,
                "max_points": max_points,
                "cells_across": cells_across,
                "min_edge_deg": min_edge_deg,
            },
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def what_if_areas(
    connection: Connection,
    *,
    region_id: str | None,
    bbox_wkb: bytes | None,
    mode: str,
    candidates: list[bytes],
    min_area_m2: float,
) -> dict | None:
    """Areas of a what-if, for each candidate (WKB MultiPolygons, numbered from 1) and
    for all of them together (number 0): the part inside the target, how much of it
    today's active ``mode`` areas already cover (the overlap), and, per existing location
    whose area meets it, the area only that location served there that the candidate
    would now share (at least ``min_area_m2``: GEOS rounds where it cuts).

    Today's areas are taken as the coverage summary takes them (bounded copies of shapes
    of more than BOUNDED_VERTICES vertices), so gains agree with recomputing it. Returns
    ``{"target_m2", "tolerance_deg", "candidates": [{"idx", "area_m2", "overlap_m2"}],
    "exclusive": [{"idx", "location_id", "area_m2"}]}``; None when the region does not
    exist.
    """
    statement = text(
        f"""
WITH target AS ({target_sql(region_id)}),
{_GIVEN},
cut AS MATERIALIZED (
    SELECT k.idx,
           CASE WHEN ST_CoveredBy(k.geom, t.geom) THEN k.geom
                ELSE ST_CollectionExtract(ST_Intersection(k.geom, t.geom), 3) END AS geom
    FROM (SELECT idx, geom FROM given
          UNION ALL SELECT 0, ST_Union(geom) FROM given) AS k
    CROSS JOIN target AS t
),
pieces AS MATERIALIZED (
    -- Today's areas inside each candidate: found through the areas' GiST index.
    SELECT k.idx, a.location_id, coalesce(b.tolerance_deg, 0) AS tolerance_deg,
           ST_CollectionExtract(ST_Intersection(w.geom, k.geom), 3) AS geom
    FROM cut AS k
    JOIN service_areas AS a ON a.geom && k.geom AND a.mode = :mode
    JOIN locations AS l ON l.id = a.location_id AND l.status = 'active'
    LEFT JOIN service_area_bounded AS b ON b.id = a.id
    CROSS JOIN LATERAL (SELECT coalesce(b.geom, a.geom) AS geom) AS w
    WHERE NOT ST_IsEmpty(k.geom) AND ST_Intersects(w.geom, k.geom)
),
overlap AS (
    SELECT idx, ST_Union(geom) AS geom FROM pieces GROUP BY idx
),
exclusive AS (
    -- A location's piece less the pieces of the other locations it meets: what only it
    -- served inside the candidate.
    SELECT x.idx, x.location_id,
           {
            area_m2_sql(
                "ST_Difference(x.geom, coalesce(("
                "SELECT ST_Union(y.geom) FROM pieces AS y"
                " WHERE y.idx = x.idx AND y.location_id <> x.location_id"
                " AND ST_Intersects(x.geom, y.geom)),"
                " 'SRID=4326;POLYGON EMPTY'::geometry))"
            )
        } AS area_m2
    FROM pieces AS x
)
SELECT (SELECT {area_m2_sql("t.geom")} FROM target AS t) AS target_m2,
       greatest((SELECT tolerance_deg FROM target),
                (SELECT max(tolerance_deg) FROM pieces)) AS tolerance_deg,
       (SELECT json_agg(json_build_object(
                   'idx', k.idx, 'area_m2', {area_m2_sql("k.geom")},
                   'overlap_m2', {area_m2_sql("o.geom")}) ORDER BY k.idx)
        FROM cut AS k LEFT JOIN overlap AS o ON o.idx = k.idx) AS candidates,
       (SELECT coalesce(json_agg(json_build_object(
                   'idx', e.idx, 'location_id', e.location_id, 'area_m2', e.area_m2)
                   ORDER BY e.idx, e.location_id), '[]')
        FROM exclusive AS e WHERE e.area_m2 >= :min_area_m2) AS exclusive
WHERE EXISTS (SELECT 1 FROM target)
"""
    )
    row = (
        connection.execute(
            statement,
            {
                "region_id": region_id,
                "bbox": bbox_wkb,
                "mode": mode,
                "candidates": candidates,
                "min_area_m2": min_area_m2,
                "densify": DENSIFY_DEG,
            },
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def what_if_demand(
    connection: Connection,
    *,
    region_id: str | None,
    bbox_wkb: bytes | None,
    set_id: int,
    mode: str,
    candidates: list[bytes],
) -> list[dict]:
    """The demand of a what-if in groups: the points of set ``set_id`` inside the target
    grouped by whether today's ``mode`` areas cover them (``covered``), the one location
    that alone covers them (``exclusive_location``, only for points some candidate
    covers) and the candidates (numbered from 1) that cover them (``candidates``, empty
    for none), each group with its ``weight`` and ``points``. Everything a what-if says
    about demand (gains, overlaps, exclusivity lost, the greedy choice) is a sum over
    these groups, and there are few of them: points that no candidate covers fall into
    two."""
    statement = text(
        f"""
WITH target AS ({target_sql(region_id)}),
{_GIVEN},
{_DEMAND.format(candidate_rows=_CANDIDATE_ROWS)}
SELECT servers > 0 AS covered,
       CASE WHEN servers = 1 AND candidates <> '{{}}' THEN location_id END
           AS exclusive_location,
       candidates, sum(weight) AS weight, count(*) AS points
FROM demand
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""
    )
    return as_dicts(
        connection.execute(
            statement,
            {
                "region_id": region_id,
                "bbox": bbox_wkb,
                "set_id": set_id,
                "mode": mode,
                "candidates": candidates,
            },
        )
    )


def location_names(connection: Connection, ids: list[int]) -> dict[int, dict]:
    """external_id and name of locations by internal id."""
    rows = connection.execute(
        text("SELECT id, external_id, name FROM locations WHERE id = ANY(:ids)"), {"ids": ids}
    )
    return {row.id: {"external_id": row.external_id, "name": row.name} for row in rows}


def region_exists(connection: Connection, region_id: str) -> bool:
    return connection.execute(
        text("SELECT EXISTS (SELECT 1 FROM regions WHERE region_id = :id)"), {"id": region_id}
    ).scalar_one()
