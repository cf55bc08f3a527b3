"""Nearest-first search: the GiST index proposes candidates, exact geodesic distance ranks.

Two index scans can propose them. The planar one (lon/lat degrees, the geometry
expression index) is about five times faster, but planar distance is not geodesic
distance, so its answer is used only when a bound proves it (see
_planar_ranking_is_exact); near the poles and the antimeridian it cannot, and the
spherical scan below runs instead.

`geog <-> origin` on a geography column is an index-assisted KNN scan, ordered by
distance on a sphere. The radius is applied after the scan, not as ST_DWithin in it:
with ST_DWithin the planner may collect every location in the radius and sort them
(100 ms in a dense city of the 1M benchmark, against 1 ms for the KNN scan).

The true distance is on the WGS84 ellipsoid (ST_Distance with use_spheroid, the default
for geography), which differs from the sphere's by less than about 0.6%. So the scan
fetches a few more candidates than asked for, ranks them by the exact distance, and
checks that no point beyond the candidates could still outrank the last result; if one
could, it fetches more. The order is therefore exact, also across the antimeridian and at
the poles, where geography has no edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Connection, text

from app.queries import HotRead
from app.queries.locations import LOCATION_COLUMNS

# Bound on |ellipsoidal / spherical distance - 1| for the sphere PostGIS's KNN uses
# (radius 6371008.8 m): local radii of curvature range from 6335 km to 6400 km, so 0.6%
# suffices; 1% leaves room.
SPHERE_ERROR = 0.01


ORIGIN = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
# The two index scans: planar lon/lat (the locations_geom_gist expression index; fast)
# and spherical (the geography index; right everywhere, about 5x slower in dense cities).
PLANAR_SCAN = f"l.geog::geometry <-> {ORIGIN}"
SPHERICAL_SCAN = f"l.geog <-> {ORIGIN}::geography"


def _nearest_sql(scan: str) -> HotRead:
    return HotRead(
        text(
            f"""
WITH candidates AS (
    SELECT l.id, {scan} AS scan_distance
    FROM locations AS l
    WHERE l.status = ANY(:statuses)
      AND l.kind = ANY(:kinds)
      AND l.capabilities @> CAST(:capabilities AS text[])
      AND (CAST(:after_distance AS float8) IS NULL
           OR (ST_Distance(l.geog, {ORIGIN}::geography), l.id) > (:after_distance, :after_id))
    ORDER BY {scan}
    LIMIT :candidates
)
SELECT {LOCATION_COLUMNS},
       ST_Distance(l.geog, {ORIGIN}::geography) AS distance_m,
       c.scan_distance
FROM candidates AS c JOIN locations AS l ON l.id = c.id
ORDER BY distance_m, l.id
"""
        ),
        cached=True,
    )


_PLANAR_SQL = _nearest_sql(PLANAR_SCAN)
_NEAREST_SQL = _nearest_sql(SPHERICAL_SCAN)
EARTH_RADIUS_M = 6_371_008.8  # the sphere of PostGIS's geography KNN


@dataclass(frozen=True)
class NearestFilter:
    """What the caller asked for, besides the origin."""

    radius_m: float
    kinds: tuple[str, ...]
    capabilities: tuple[str, ...]
    statuses: tuple[str, ...] = ("active",)


def nearest_locations(
    connection: Connection,
    lon: float,
    lat: float,
    limit: int,
    where: NearestFilter,
    after: tuple[float, int] | None = None,
) -> list[dict]:
    """Up to ``limit`` locations nearest to (lon, lat), exactly ranked by geodesic metres.

    ``after`` is the (distance_m, id) of the last row of the previous page (keyset paging);
    rows come strictly after it, ordered by (distance_m, id).
    """
    params = {
        "lon": lon,
        "lat": lat,
        "kinds": list(where.kinds),
        "capabilities": list(where.capabilities),
        "statuses": list(where.statuses),
        "after_distance": after[0] if after else None,
        "after_id": after[1] if after else None,
    }

    def scan(statement, candidates: int) -> tuple[list[dict], list[dict]]:
        scanned = statement.fetch(connection, {**params, "candidates": candidates})
        return scanned, [row for row in scanned if row["distance_m"] <= where.radius_m]

    # First the planar scan, twice at most; it stands only where it can prove its answer.
    candidates = 2 * limit + 8
    for _ in range(2):
        scanned, rows = scan(_PLANAR_SQL, candidates)
        if _planar_ranking_is_exact(scanned, rows, candidates, limit, where.radius_m, lon, lat):
            return rows[:limit]
        candidates *= 4
    # Near a pole or the antimeridian (or in a very uneven spread), the spherical scan.
    candidates = 2 * limit + 8
    while True:
        scanned, rows = scan(_NEAREST_SQL, candidates)
        if _ranking_is_exact(scanned, rows, candidates, limit, where.radius_m):
            return rows[:limit]
        candidates *= 4


def _ranking_is_exact(
    scanned: list[dict], rows: list[dict], candidates: int, limit: int, radius_m: float
) -> bool:
    """True when no location the scan did not reach could belong in the first ``limit``.

    ``scanned`` are the candidates in exact order; ``rows`` those within the radius.
    """
    if len(scanned) < candidates:
        return True  # the scan ran out: every location that qualifies is in scanned
    farthest_candidate = max(row["scan_distance"] for row in scanned)
    # The distance a location must beat to matter: the limit-th result's, or the radius.
    bound = rows[limit - 1]["distance_m"] if len(rows) >= limit else radius_m
    # Any location not fetched is at least farthest_candidate away on the sphere, so at
    # least farthest_candidate * (1 - SPHERE_ERROR) away on the ellipsoid.
    return farthest_candidate * (1 - SPHERE_ERROR) > bound


def _planar_ranking_is_exact(
    scanned: list[dict],
    rows: list[dict],
    candidates: int,
    limit: int,
    radius_m: float,
    lon: float,
    lat: float,
) -> bool:
    """True when a planar (lon/lat degrees) KNN scan provably found the nearest ``limit``.

    Every location the scan did not reach is at least D degrees away in the plane (D: the
    farthest candidate's planar distance). On the sphere that means a central angle of at
    least 2·asin(c·sin(D/2)), where c bounds cos(latitude) over every point that could
    still matter (haversine, and sin x >= x·sin(X)/X on [0, X]). That holds only if no
    such point lies across the antimeridian (its planar distance would be wrong) and c > 0
    (no pole within reach); otherwise this says no and the spherical scan takes over.
    """
    if len(scanned) < candidates:
        return True  # the scan ran out: every location that qualifies is in scanned
    bound_m = rows[limit - 1]["distance_m"] if len(rows) >= limit else radius_m
    # How far (central angle) a location that could still matter may be from the origin.
    reach = bound_m / (EARTH_RADIUS_M * (1 - SPHERE_ERROR))
    max_lat = abs(math.radians(lat)) + reach
    if max_lat >= math.pi / 2:
        return False
    c = math.cos(max_lat)
    # The widest longitude difference within that reach; it must not cross +-180.
    half = math.sin(reach / 2) / c
    if half >= 1:
        return False
    if abs(lon) + math.degrees(2 * math.asin(half)) >= 180:
        return False
    planar = math.radians(max(row["scan_distance"] for row in scanned))
    if planar >= math.pi:
        return False
    lower_m = 2 * math.asin(c * math.sin(planar / 2)) * EARTH_RADIUS_M * (1 - SPHERE_ERROR)
    return lower_m > bound_m
