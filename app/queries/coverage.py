"""Coverage SQL: who serves a point, service areas as GeoJSON, and coverage of an area.

Point tests run against service_area_parts (ST_Subdivide pieces of at most 128 vertices,
kept in step by a trigger): their tight boxes rule out most areas even when an area has
100,000 vertices, and testing a small part is cheap. ST_Covers, not ST_Contains: a
point on an edge or a vertex is served. Areas are stored split at the antimeridian
(RFC 7946), so a point at longitude 180 is also tested as -180.

Areas are measured on the WGS84 ellipsoid, never in degrees²: in the ellipsoid's
equal-area projection, where a lon/lat box is a rectangle of its true area at the poles,
across the antimeridian and around the world (see _AREA_M2). The coverage summary works
on bounded copies of shapes with more than BOUNDED_VERTICES vertices (service_area_bounded
and region_bounded, kept by triggers), so one shape costs it a bounded amount of work.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.queries import HotRead, as_dicts

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

SERVED_BY = HotRead(
    text(
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
    ),
    # Index scans of the parts, then key lookups: the same plan is right for one point
    # or a thousand (HotRead: 0.9 -> 0.35 ms for one point, 1.1 -> 0.15 s for 1,000).
    generic_plan={
        "idx": "int[]",
        "lons": "float8[]",
        "lats": "float8[]",
        "modes": "text[]",
        "limit": "bigint",
    },
    cached=True,
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
    rows = SERVED_BY.fetch(
        connection,
        {"idx": idx, "lons": lons, "lats": lats, "modes": modes, "limit": limit},
        cache_answer=len(points) == 1,
    )
    answers = [{"served_by": [], "total": 0, "modes": []} for _ in points]
    for row in rows:
        answer = answers[row["idx"]]
        answer["served_by"].append(
            {k: v for k, v in row.items() if k not in ("idx", "rank", "total", "modes")}
        )
        answer["total"], answer["modes"] = row["total"], sorted(set(row["modes"]))
    return answers


def _service_area_conditions(location_external_id: str | None, bbox_wkb: bytes | None) -> str:
    conditions = ["a.mode = ANY(:modes)", "l.status <> 'retired'"]
    if location_external_id is not None:
        conditions.append("l.external_id = :location")
    if bbox_wkb is not None:
        # ST_Intersects, not &&: a box across the antimeridian is a MultiPolygon of two
        # halves, and && against their common box would select the whole band of latitudes.
        conditions.append("ST_Intersects(a.geom, ST_GeomFromWKB(:bbox, 4326))")
    return " AND ".join(conditions)


def service_areas(
    connection: Connection,
    *,
    location_external_id: str | None,
    modes: list[str],
    bbox_wkb: bytes | None,
    simplify_deg: float,
    limit: int,
    after_id: int | None = None,
) -> list[dict]:
    """Service areas by id (after ``after_id``), their geometry as a GeoJSON string,
    optionally simplified, exterior rings counterclockwise (RFC 7946).

    The simplification keeps the polygons valid and is for display only.
    """
    # The page of areas first, then the simplification: only the areas shown pay for it.
    statement = text(
        f"""
SELECT a.id, a.mode, a.source, a.radius_m, a.location_external_id, a.location_name,
       a.location_kind, ST_AsGeoJSON(ST_ForcePolygonCCW(shown.geom), 6) AS geometry
FROM (
    SELECT a.id, a.mode, a.source, a.radius_m, a.geom,
           l.external_id AS location_external_id, l.name AS location_name,
           l.kind AS location_kind
    FROM service_areas AS a JOIN locations AS l ON l.id = a.location_id
    WHERE {_service_area_conditions(location_external_id, bbox_wkb)} AND a.id > :after
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
        "after": after_id or 0,
    }
    return as_dicts(connection.execute(statement, params))


def count_service_areas(
    connection: Connection,
    *,
    location_external_id: str | None,
    modes: list[str],
    bbox_wkb: bytes | None,
) -> int:
    """How many service areas ``service_areas`` would page through (numberMatched)."""
    statement = text(
        "SELECT count(*) FROM service_areas AS a JOIN locations AS l ON l.id = a.location_id"
        f" WHERE {_service_area_conditions(location_external_id, bbox_wkb)}"
    )
    params = {"modes": modes, "location": location_external_id, "bbox": bbox_wkb}
    return connection.execute(statement, params).scalar_one()


# Above this many vertices a service area or region has a bounded copy (migration 0006,
# tables service_area_bounded and region_bounded): the smallest Douglas-Peucker
# simplification that leaves at most this many vertices. The summary works on the copies,
# so what one shape costs it is bounded whatever the shape (two ragged 90,000-vertex
# polygons took 8 s to intersect; their copies take 0.1 s). Shapes within the limit, all
# of the demo's and nearly all real ones, are used as they are.
BOUNDED_VERTICES = 4096

# Areas in m² on the WGS84 ellipsoid, as the area of the shape in EPSG:6933, the
# cylindrical equal-area projection of the ellipsoid. There, parallels and meridians are
# straight lines, so a lon/lat box (whose edges are parallels and meridians) becomes a
# rectangle of exactly its area on the ellipsoid: at the poles, across the antimeridian
# and around the whole world alike. Measuring as geography did not: its edges are
# geodesics (a 180-degree-wide box's parallels became one great circle over the pole, so
# it had no area), and its polygons must be smaller than a hemisphere (a wider box was
# measured as its complement; the whole world failed).
EQUAL_AREA_SRID = 6933
# Other edges are straight in lon/lat too (RFC 7946), which in the projection are
# slightly curved: cut to at most 0.01 degrees first, an edge's chord strays from the
# curve by a few centimetres at most. Box edges gain vertices but lose nothing.
DENSIFY_DEG = 0.01
_AREA_M2 = (
    f"coalesce(ST_Area(ST_Transform(ST_Segmentize({{geom}}, :densify), {EQUAL_AREA_SRID})), 0)"
)

_SUMMARY = f"""
WITH target AS ({{target}}),
areas AS (
    -- Each area that meets the target (its bounded copy if it has one), cut to the
    -- target's box: a rectangle, so the cut adds straight edges only. An area inside the
    -- box needs no cut. The cut to the target itself waits for the unions below: cutting
    -- every area along a ragged region boundary gave pieces that all share that boundary,
    -- and unions of such pieces are slow (4.7 s for 78 pieces of a 4,000-vertex region).
    SELECT a.id, a.location_id, coalesce(b.tolerance_deg, 0) AS tolerance_deg,
           ST_NPoints(c.geom) AS size, c.geom
    FROM service_areas AS a
    JOIN locations AS l ON l.id = a.location_id
    LEFT JOIN service_area_bounded AS b ON b.id = a.id
    CROSS JOIN target AS t
    CROSS JOIN LATERAL (SELECT coalesce(b.geom, a.geom) AS geom) AS w
    {_SIMPLIFIED.format(geom="w.geom", tolerance=":work_tolerance", alias="s")}
    CROSS JOIN LATERAL (
        SELECT CASE WHEN s.geom @ t.box THEN s.geom
                    ELSE ST_CollectionExtract(ST_Intersection(s.geom, t.box), 3) END AS geom
    ) AS c
    WHERE a.mode = :mode AND l.status = 'active' AND a.geom && t.geom
      AND ST_Intersects(w.geom, t.geom)
),
smaller_neighbours AS MATERIALIZED (
    -- Per area, the union of the areas it meets that come before it in (size, location)
    -- order. Every pair of areas that overlap is counted once, at the larger one, so the
    -- overlap is the union of each area cut by its smaller neighbours: one cut per area
    -- rather than one per pair, and a large area is cut once, not by each small one
    -- (2,000 pairs around a 4,000-vertex area: 4.5 s pair by pair, 1.5 s like this).
    -- The neighbours are found through the service areas' GiST index (a CTE has none);
    -- a cut, simplified area lies within its original's box, so the index misses none.
    SELECT x.id, ST_Union(y.geom) AS geom
    FROM areas AS x
    JOIN service_areas AS neighbour ON neighbour.geom && x.geom AND neighbour.mode = :mode
    JOIN areas AS y ON y.id = neighbour.id
        AND (y.size, y.location_id) < (x.size, x.location_id)
    WHERE ST_Intersects(x.geom, y.geom)
    GROUP BY x.id
),
unions AS MATERIALIZED (
    SELECT (SELECT ST_Union(geom) FROM areas) AS covered,
           (SELECT ST_Union(ST_CollectionExtract(ST_Intersection(x.geom, n.geom), 3))
            FROM areas AS x JOIN smaller_neighbours AS n ON n.id = x.id) AS overlap
),
cut AS MATERIALIZED (
    -- Covered and overlapping parts, cut to the target (a box target needs no cut).
    -- MATERIALIZED here and above: inlined, each use of a column would compute it again.
    SELECT CASE WHEN u.covered IS NULL OR ST_CoveredBy(u.covered, t.geom) THEN u.covered
                ELSE ST_CollectionExtract(ST_Intersection(u.covered, t.geom), 3)
           END AS covered,
           CASE WHEN u.overlap IS NULL OR ST_CoveredBy(u.overlap, t.geom) THEN u.overlap
                ELSE ST_CollectionExtract(ST_Intersection(u.overlap, t.geom), 3)
           END AS overlap
    FROM unions AS u CROSS JOIN target AS t
)
SELECT {_AREA_M2.format(geom="t.geom")} AS total_m2,
       {_AREA_M2.format(geom="c.covered")} AS covered_m2,
       {_AREA_M2.format(geom="c.overlap")} AS overlap_m2,
       (SELECT count(DISTINCT location_id) FROM areas) AS locations,
       greatest(t.tolerance_deg, (SELECT max(tolerance_deg) FROM areas)) AS tolerance_deg,
       ST_AsGeoJSON(ST_ForcePolygonCCW(ST_SimplifyPreserveTopology(
           CASE WHEN c.covered IS NULL THEN t.geom
                ELSE ST_CollectionExtract(ST_Difference(t.geom, c.covered), 3) END,
           :tolerance)), 6) AS uncovered,
       ST_AsGeoJSON(ST_ForcePolygonCCW(ST_SimplifyPreserveTopology(
           coalesce(c.overlap, ST_GeomFromText('POLYGON EMPTY', 4326)), :tolerance)), 6)
           AS overlaps
FROM target AS t CROSS JOIN cut AS c
"""

_REGION_TARGET = """
SELECT s.geom, ST_Envelope(s.geom) AS box, coalesce(b.tolerance_deg, 0) AS tolerance_deg
FROM regions AS r
LEFT JOIN region_bounded AS b ON b.id = r.id
CROSS JOIN LATERAL (SELECT coalesce(b.geom, r.geom) AS geom) AS s
WHERE r.region_id = :region_id"""
# The box as given; one of no width or height (a line) has no polygon and no area.
_BBOX_TARGET = """
SELECT s.geom, ST_Envelope(s.geom) AS box, 0.0 AS tolerance_deg
FROM (SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(:bbox, 4326)), 3))
             AS geom) AS s"""


def target_sql(region_id: str | None) -> str:
    """The summary's target, a region (its bounded copy when it has one) or a box, as a
    SELECT of ``geom``, ``box`` and ``tolerance_deg`` taking ``:region_id`` or ``:bbox``:
    planning's statements (app/queries/planning.py) measure the very same shape."""
    return _REGION_TARGET if region_id is not None else _BBOX_TARGET


def area_m2_sql(geom: str) -> str:
    """SQL for the geodesic area in m² of the geometry expression ``geom`` (see _AREA_M2;
    the statement takes ``:densify``, DENSIFY_DEG)."""
    return _AREA_M2.format(geom=geom)


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

    Any box is measured right, across the antimeridian, at the poles and around the
    world: ``bbox_wkb`` is a lon/lat (Multi)Polygon such as ``geo.bbox_polygon`` builds,
    its edges straight lines in lon/lat (so a box's edges are parallels and meridians),
    and every area is geodesic on the WGS84 ellipsoid, in m² (see ``_AREA_M2``).

    ``simplify_deg`` simplifies the returned shapes; ``work_tolerance_deg`` simplifies
    the areas before the unions and intersections, which makes maps of thousands of
    areas fast at the price of exactness (the API passes 0: exact figures). Shapes of
    more than ``BOUNDED_VERTICES`` vertices are always worked on as their bounded copies;
    ``tolerance_deg`` in the answer is the largest simplification that went into the
    figures (0: exact); the covered share is app/services/coverage.py's. None when the
    region does not exist.
    """
    target = _REGION_TARGET if region_id is not None else _BBOX_TARGET
    # PostgreSQL JIT-compiles a statement whose estimated cost is high, and PostGIS rates
    # its functions high: this one was compiled on every call, 0.5 to 4 s against 0.1 to
    # 0.8 s of work. The app's connections run with jit=off (app/database.py).
    row = (
        connection.execute(
            text(_SUMMARY.format(target=target)),
            {
                "region_id": region_id,
                "bbox": bbox_wkb,
                "mode": mode,
                "tolerance": simplify_deg,
                "work_tolerance": work_tolerance_deg,
                "densify": DENSIFY_DEG,
            },
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    row = dict(row)
    row["tolerance_deg"] = max(row["tolerance_deg"] or 0.0, work_tolerance_deg)
    return row


def regions(connection: Connection) -> list[dict]:
    """Every region: id, name, its geometry as GeoJSON (for the planner's selector and
    map) and its geodesic area, both of its bounded copy when it has one (the shape the
    summary measures, so the page's shares are of the area it shows)."""
    result = connection.execute(
        text(
            f"""
SELECT r.region_id, r.name, ST_AsGeoJSON(ST_ForcePolygonCCW(s.geom), 6) AS geometry,
       {_AREA_M2.format(geom="s.geom")} AS area_m2
FROM regions AS r
LEFT JOIN region_bounded AS b ON b.id = r.id
CROSS JOIN LATERAL (SELECT coalesce(b.geom, r.geom) AS geom) AS s
ORDER BY r.name
"""
        ),
        {"densify": DENSIFY_DEG},
    )
    return as_dicts(result)
