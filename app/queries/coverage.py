"""Coverage SQL: who serves a point, service areas as GeoJSON, and coverage of an area.

Point tests run against service_area_parts (ST_Subdivide pieces of at most 128 vertices,
kept in step by a trigger): their tight boxes rule out most areas even when an area has
100,000 vertices, and testing a small part is cheap. ST_Covers, not ST_Contains: a
point on an edge or a vertex is served. Areas are stored split at the antimeridian
(RFC 7946), so a point at longitude 180 is also tested as -180.

Areas are measured on the WGS84 ellipsoid (ST_Area of geography), never in degrees².
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.queries import as_dicts

# ``{geom}`` simplified by ``{tolerance}`` degrees (0: not at all) as ``{alias}.geom``,
# still valid: Douglas-Peucker (ST_Simplify, keeping parts that would collapse), repaired
# only where it made an edge cross another. 25 times faster than
# ST_SimplifyPreserveTopology on the planner's circles, and unions, intersections and
# API clients need valid polygons.
_SIMPLIFIED = """
CROSS JOIN LATERAL (SELECT ST_Simplify({geom}, {tolerance}, true) AS geom) AS {alias}_dp
CROSS JOIN LATERAL (
    SELECT CASE WHEN {tolerance} <= 0 THEN {geom}
                WHEN ST_IsValid({alias}_dp.geom) THEN {alias}_dp.geom
                ELSE ST_CollectionExtract(ST_MakeValid({alias}_dp.geom), 3) END AS geom
) AS {alias}
"""

_SERVED = text(
    """
WITH q AS (
    SELECT idx, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS point
    FROM unnest(CAST(:idx AS int[]), CAST(:lons AS float8[]), CAST(:lats AS float8[]))
         AS t(idx, lon, lat)
),
hits AS (
    -- The parts' tight boxes pick the few areas worth testing, and the small parts answer
    -- the test. Only a point within 1e-9 degrees of a part's edge is tested against the
    -- area itself: ST_Subdivide rounds the points where it cuts, so near an original
    -- edge a part may differ from the area by a hair.
    SELECT DISTINCT q.idx, q.point, p.service_area_id
    FROM q JOIN service_area_parts AS p ON p.geom && q.point
    WHERE CASE
        WHEN ST_DWithin(ST_Boundary(p.geom), q.point, 1e-9) THEN ST_Covers(
            (SELECT a.geom FROM service_areas AS a WHERE a.id = p.service_area_id), q.point)
        ELSE ST_Covers(p.geom, q.point)
    END
),
served AS (
    SELECT DISTINCT ON (h.idx, a.id) h.idx, a.id AS service_area_id, a.mode,
           l.id AS location_id, l.external_id, l.name, l.kind,
           ST_Distance(l.geog, h.point::geography) AS distance_m
    FROM hits AS h
    JOIN service_areas AS a ON a.id = h.service_area_id
    JOIN locations AS l ON l.id = a.location_id
    WHERE l.status = 'active' AND a.mode = ANY(:modes)
),
ranked AS (
    -- Window functions, not a join to a GROUP BY: the planner cannot estimate CTEs and
    -- chose a quadratic nested loop for that (50 s for 1,000 points).
    SELECT *,
           row_number() OVER (PARTITION BY idx ORDER BY distance_m, service_area_id) AS rank,
           count(*) OVER (PARTITION BY idx) AS total,
           array_agg(mode) OVER (PARTITION BY idx) AS modes
    FROM served
)
SELECT * FROM ranked WHERE rank <= :limit ORDER BY idx, rank
"""
)


def served_by(
    connection: Connection, points: list[tuple[float, float]], modes: list[str], limit: int
) -> list[dict]:
    """For each (lon, lat): the nearest ``limit`` service areas covering it, how many cover
    it in all, and the modes they serve it by.

    One statement for any number of points (set-based, one round trip).
    """
    idx, lons, lats = [], [], []
    for index, (lon, lat) in enumerate(points):
        for variant in (lon, -lon) if abs(lon) == 180 else (lon,):
            idx.append(index)
            lons.append(variant)
            lats.append(lat)
    rows = as_dicts(
        connection.execute(
            _SERVED,
            {"idx": idx, "lons": lons, "lats": lats, "modes": modes, "limit": limit},
        )
    )
    answers = [{"served_by": [], "total": 0, "modes": []} for _ in points]
    for row in rows:
        answer = answers[row["idx"]]
        answer["served_by"].append(
            {k: v for k, v in row.items() if k not in ("idx", "rank", "total", "modes")}
        )
        answer["total"], answer["modes"] = row["total"], sorted(set(row["modes"]))
    return answers


def service_areas(
    connection: Connection,
    *,
    location_external_id: str | None,
    modes: list[str],
    bbox_wkb: bytes | None,
    simplify_deg: float,
    limit: int,
) -> list[dict]:
    """Service areas with their geometry as a GeoJSON string, optionally simplified.

    The simplification keeps the polygons valid and is for display only.
    """
    conditions = ["a.mode = ANY(:modes)", "l.status <> 'retired'"]
    if location_external_id is not None:
        conditions.append("l.external_id = :location")
    if bbox_wkb is not None:
        conditions.append("a.geom && ST_GeomFromWKB(:bbox, 4326)")
    # The page of areas first, then the simplification: only the areas shown pay for it.
    statement = text(
        f"""
SELECT a.id, a.mode, a.source, a.radius_m, a.location_external_id, a.location_name,
       a.location_kind, ST_AsGeoJSON(shown.geom, 6) AS geometry
FROM (
    SELECT a.id, a.mode, a.source, a.radius_m, a.geom,
           l.external_id AS location_external_id, l.name AS location_name,
           l.kind AS location_kind
    FROM service_areas AS a JOIN locations AS l ON l.id = a.location_id
    WHERE {" AND ".join(conditions)}
    ORDER BY a.id LIMIT :limit
) AS a
{_SIMPLIFIED.format(geom="a.geom", tolerance=":tolerance", alias="shown")}
ORDER BY a.id
"""
    )
    params = {
        "modes": modes,
        "location": location_external_id,
        "bbox": bbox_wkb,
        "tolerance": simplify_deg,
        "limit": limit,
    }
    return as_dicts(connection.execute(statement, params))


_SUMMARY = f"""
WITH target AS ({{target}}),
areas AS (
    -- Each area clipped to the target. One inside the target needs no clipping, and
    -- testing that (PostGIS prepares the repeated target once) costs far less than
    -- intersecting.
    SELECT a.id, a.location_id,
           CASE WHEN ST_CoveredBy(s.geom, t.geom) THEN s.geom
                ELSE ST_Intersection(s.geom, t.geom) END AS geom
    FROM service_areas AS a
    JOIN locations AS l ON l.id = a.location_id
    CROSS JOIN target AS t
    {_SIMPLIFIED.format(geom="a.geom", tolerance=":work_tolerance", alias="s")}
    WHERE a.mode = :mode AND l.status = 'active' AND ST_Intersects(a.geom, t.geom)
),
covered AS (SELECT ST_Union(geom) AS geom FROM areas),
overlap AS (
    -- Covered by two or more different locations. The pairs that meet are found through
    -- the service areas' GiST index: a CTE has none, and joining areas to itself tested
    -- every pair (quadratic; 0.5 s of 2 s for 1,700 areas). A clipped, simplified area
    -- lies within its original's box, so the index test misses no pair.
    SELECT ST_Union(ST_Intersection(x.geom, y.geom)) AS geom
    FROM areas AS x
    JOIN service_areas AS neighbour ON neighbour.geom && x.geom AND neighbour.mode = :mode
    JOIN areas AS y ON y.id = neighbour.id AND x.location_id < y.location_id
    WHERE ST_Intersects(x.geom, y.geom)
)
SELECT ST_Area(t.geom::geography) AS total_m2,
       coalesce(ST_Area(c.geom::geography), 0) AS covered_m2,
       coalesce(ST_Area(o.geom::geography), 0) AS overlap_m2,
       (SELECT count(DISTINCT location_id) FROM areas) AS locations,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(
           ST_CollectionExtract(ST_Difference(t.geom, coalesce(c.geom, 'POLYGON EMPTY')), 3),
           :tolerance), 6) AS uncovered,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(
           ST_CollectionExtract(coalesce(o.geom, 'POLYGON EMPTY'), 3), :tolerance), 6)
           AS overlaps
FROM target AS t CROSS JOIN covered AS c CROSS JOIN overlap AS o
"""

_REGION_TARGET = "SELECT geom FROM regions WHERE region_id = :region_id"
_BBOX_TARGET = "SELECT ST_GeomFromWKB(:bbox, 4326) AS geom"


def coverage_of(
    connection: Connection,
    *,
    region_id: str | None,
    bbox_wkb: bytes | None,
    mode: str,
    simplify_deg: float,
    work_tolerance_deg: float = 0.0,
) -> dict | None:
    """Covered share, uncovered part and overlaps of a region or bbox for one mode.

    ``simplify_deg`` simplifies the returned shapes; ``work_tolerance_deg`` simplifies
    the areas before the unions and intersections, which makes maps of thousands of
    areas fast at the price of exactness (the API passes 0: exact figures).
    None when the region does not exist.
    """
    target = _REGION_TARGET if region_id is not None else _BBOX_TARGET
    row = (
        connection.execute(
            text(_SUMMARY.format(target=target)),
            {
                "region_id": region_id,
                "bbox": bbox_wkb,
                "mode": mode,
                "tolerance": simplify_deg,
                "work_tolerance": work_tolerance_deg,
            },
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def regions(connection: Connection) -> list[dict]:
    """Every region: id, name and its geometry as GeoJSON (for the planner's selector)."""
    result = connection.execute(
        text(
            "SELECT region_id, name, ST_AsGeoJSON(geom, 6) AS geometry,"
            " ST_Area(geom::geography) AS area_m2 FROM regions ORDER BY name"
        )
    )
    return as_dicts(result)
