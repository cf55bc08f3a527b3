"""Road network SQL: versioned pgRouting tables, attachment, shortest paths, drive times.

pgRouting functions take the edges as an SQL string; ``_edges_sql`` builds it for one
network version from an integer only (never from caller text). Every road function runs
on the current version, read in the same statement or transaction, so an import that
swaps versions meanwhile is seen whole or not at all.

Points attach to the nearest vertex of the network's largest strongly connected
component (KNN on the geography index, re-ranked by exact geodesic distance, ties by
vertex id): from there every other attached point has a route both ways.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shapely import wkb
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from app.limits import ROAD_AREA_BUFFER_M, ROAD_ATTACH_MAX_M, ROAD_ATTACH_SPEED_KMH
from app.queries import as_dicts


@dataclass(frozen=True)
class Network:
    version: int
    source_name: str
    edges: int
    vertices: int
    largest_component_share: float
    max_speed_kmh: float


def _edges_sql(version: int, reverse: bool = False) -> str:
    """pgRouting's edges query for ``version``; ``reverse`` swaps every edge's direction
    (a route from P in the reversed graph is a route to P in the real one)."""
    costs = "reverse_cost AS cost, cost AS reverse_cost" if reverse else "cost, reverse_cost"
    return (
        f"SELECT id, source, target, {costs} FROM road_edges WHERE network_version = {int(version)}"
    )


def pgrouting_installed(connection: Connection) -> bool:
    """Whether the pgrouting extension exists in this database (migration 0008)."""
    return connection.execute(
        text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgrouting')")
    ).scalar_one()


def pgrouting_available(connection: Connection) -> bool:
    """Whether the server has pgRouting at all (installed or installable)."""
    return connection.execute(
        text("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting')")
    ).scalar_one()


def install_pgrouting(connection: Connection) -> None:
    """Create the extension (a database migrated before the server had the package)."""
    connection.execute(text("CREATE EXTENSION IF NOT EXISTS pgrouting"))


def current_network(connection: Connection) -> Network | None:
    """The network that serves, or None when none was imported."""
    row = connection.execute(
        text(
            "SELECT version, source_name, edges, vertices, largest_component_share,"
            " max_speed_kmh FROM road_networks WHERE is_current"
        )
    ).one_or_none()
    return Network(*row) if row else None


def lock_network_import(connection: Connection) -> None:
    """One network import (or area refresh) at a time, until the transaction ends."""
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('roads:import'))"))


def create_network_version(connection: Connection, source_name: str) -> int:
    """A new, not yet current network version to load edges into."""
    return connection.execute(
        text(
            "INSERT INTO road_networks (source_name, edges, vertices,"
            " largest_component_share, max_speed_kmh)"
            " VALUES (:name, 0, 0, 0, 0) RETURNING version"
        ),
        {"name": source_name},
    ).scalar_one()


def _copy(connection: Connection, statement: str, rows: Iterable[tuple]) -> int:
    cursor = connection.connection.driver_connection.cursor()
    copied = 0
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            copied += 1
    return copied


def copy_vertices(connection: Connection, version: int, rows: Iterable[tuple]) -> int:
    """COPY (id, lon, lat) vertices into ``version``; returns the count."""
    return _copy(
        connection,
        "COPY road_vertices (network_version, id, geom) FROM STDIN",
        ((version, vid, f"SRID=4326;POINT({lon!r} {lat!r})") for vid, lon, lat in rows),
    )


def copy_edges(connection: Connection, version: int, rows: Iterable[tuple]) -> int:
    """COPY edges (id, source, target, cost, reverse_cost, length_m, speed_kmh, highway,
    osm_way_id, [(lon, lat), ...]) into ``version``; returns the count."""

    def encoded():
        for *values, coordinates in rows:
            line = ",".join(f"{lon!r} {lat!r}" for lon, lat in coordinates)
            yield (version, *values, f"SRID=4326;LINESTRING({line})")

    return _copy(
        connection,
        "COPY road_edges (network_version, id, source, target, cost, reverse_cost, length_m,"
        " speed_kmh, highway, osm_way_id, geom) FROM STDIN",
        encoded(),
    )


def mark_main_component(connection: Connection, version: int) -> int:
    """Flag the vertices of the largest strongly connected component; returns its size."""
    return connection.execute(
        text(
            """
            WITH components AS (
                SELECT component, node FROM pgr_strongComponents(CAST(:edges AS text))
            ),
            largest AS (
                SELECT component FROM components
                GROUP BY component ORDER BY count(*) DESC, component LIMIT 1
            )
            UPDATE road_vertices AS v SET in_main_component = true
            FROM components AS c
            WHERE c.component = (SELECT component FROM largest)
              AND v.network_version = :version AND v.id = c.node
            """
        ),
        {"edges": _edges_sql(version), "version": version},
    ).rowcount


def finish_network_version(
    connection: Connection, version: int, edges: int, vertices: int, share: float, top: float
) -> None:
    """Record the counts of ``version``, make it current and drop every other version.

    Two statements, old off then new on: the one-current unique index is checked row by
    row. Run inside the import's transaction, so readers switch at its commit.
    """
    connection.execute(
        text(
            "UPDATE road_networks SET edges = :edges, vertices = :vertices,"
            " largest_component_share = :share, max_speed_kmh = :top WHERE version = :version"
        ),
        {"edges": edges, "vertices": vertices, "share": share, "top": top, "version": version},
    )
    connection.execute(text("UPDATE road_networks SET is_current = false WHERE is_current"))
    connection.execute(
        text("UPDATE road_networks SET is_current = true WHERE version = :version"),
        {"version": version},
    )
    connection.execute(
        text("DELETE FROM road_networks WHERE version <> :version"), {"version": version}
    )
    for table in ("road_networks", "road_vertices", "road_edges"):
        connection.execute(text(f"ANALYZE {table}"))


_ATTACH = text(
    """
    SELECT p.idx, v.id, v.distance_m
    FROM unnest(CAST(:idx AS int[]), CAST(:lons AS float8[]), CAST(:lats AS float8[]))
         AS p(idx, lon, lat)
    CROSS JOIN LATERAL (
        SELECT c.id, ST_Distance(c.geog, ST_MakePoint(p.lon, p.lat)::geography) AS distance_m
        FROM (
            -- KNN on the index orders by distance on the sphere; the exact (ellipsoid)
            -- distance re-ranks the few nearest, so the chosen vertex is the nearest.
            SELECT id, geom::geography AS geog FROM road_vertices
            WHERE network_version = :version AND in_main_component
            ORDER BY geom::geography <-> ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)::geography
            LIMIT 8
        ) AS c
        ORDER BY distance_m, c.id
        LIMIT 1
    ) AS v
    WHERE v.distance_m <= :max_m
    """
)


def attach(
    connection: Connection, version: int, positions: Sequence[tuple[float, float]], max_m: float
) -> dict[int, tuple[int, float]]:
    """Index in ``positions`` (lon, lat) -> (vertex id, metres to it), within ``max_m``."""
    if not positions:
        return {}
    rows = connection.execute(
        _ATTACH,
        {
            "idx": list(range(len(positions))),
            "lons": [lon for lon, _ in positions],
            "lats": [lat for _, lat in positions],
            "version": version,
            "max_m": max_m,
        },
    )
    return {idx: (vertex, distance) for idx, vertex, distance in rows}


_PATHS = text(
    """
    SELECT d.start_vid, d.end_vid, sum(d.cost) AS duration_s,
           coalesce(sum(e.length_m), 0) AS length_m
    FROM pgr_dijkstra(CAST(:edges AS text), CAST(:starts AS bigint[]),
                      CAST(:ends AS bigint[]), true) AS d
    LEFT JOIN road_edges AS e ON e.network_version = :version AND e.id = d.edge
    GROUP BY d.start_vid, d.end_vid
    """
)


def shortest_paths(
    connection: Connection,
    version: int,
    starts: Sequence[int],
    ends: Sequence[int],
    reverse: bool = False,
) -> dict[tuple[int, int], tuple[float, float]]:
    """(start, end) vertex -> (seconds, metres) of the fastest path; a vertex to itself is 0.

    ``reverse``: the seconds are those of driving from each end to the start (one
    Dijkstra from the start over the reversed graph, not one per end). Pairs with no path
    are absent. pgRouting returns no row for a vertex to itself.
    """
    found = {(s, s): (0.0, 0.0) for s in set(starts) & set(ends)}
    if not starts or not ends:
        return found
    rows = connection.execute(
        _PATHS,
        {
            "edges": _edges_sql(version, reverse),
            "starts": sorted(set(starts)),
            "ends": sorted(set(ends)),
            "version": version,
        },
    )
    for start, end, duration, length in rows:
        found[(start, end)] = (float(duration), float(length))
    return found


def _edges_from_starts_sql(version: int, starts: Sequence[tuple[int, float]]) -> str:
    """The edges of ``version`` plus a virtual vertex -1 with an edge to each start
    vertex costing its start seconds (its off-network leg): one driving-distance search
    from -1 then gives every vertex the least time over all starts (pgRouting's
    equicost, with each start's own head start counted). Virtual edge -k leads to the
    k-th start. Built from numbers only."""
    if not starts:
        return _edges_sql(version)
    virtual = " UNION ALL ".join(
        f"SELECT {-(index + 1)}::bigint, -1::bigint, {int(vertex)}::bigint,"
        f" {float(seconds)!r}::float8, -1::float8"
        for index, (vertex, seconds) in enumerate(starts)
    )
    return f"{_edges_sql(version)} UNION ALL {virtual}"


# The part of every edge driven within :budget seconds of the starts: whole edges, and
# the first fraction of an edge whose end is not reached (driving goes on along it for
# the seconds left). Each direction is counted on its own (a one-way street is only
# driven from its source). Each piece, and the starts' own positions, is buffered by
# :width_m metres in the UTM zone of the first start (UPS near the poles), and the
# buffers are unioned: 1.2 s for all of Baltimore's 8,000 edges, where one buffer of
# the collected lines took 50 s (GEOS buffers a large multi-line by overlaying its
# parts' buffers). Pieces are first simplified by 5 m and their buffers drawn with one
# segment per quarter circle: half the time and vertices (Liechtenstein, 15 minutes:
# 1.5 s against 2.9 s), for corners a few metres off a 50 m buffer.
_DRIVE_TIME_AREA = text(
    """
WITH reached AS (
    SELECT node, agg_cost
    FROM pgr_drivingDistance(CAST(:edges AS text), -1, CAST(:budget AS float8), true)
),
pieces AS (
    SELECT CASE WHEN r.agg_cost + e.cost <= :budget THEN e.geom
                ELSE ST_LineSubstring(e.geom, 0, (:budget - r.agg_cost) / e.cost) END AS geom
    FROM road_edges AS e JOIN reached AS r ON r.node = e.source
    WHERE e.network_version = :version AND e.cost >= 0
    UNION ALL
    SELECT CASE WHEN r.agg_cost + e.reverse_cost <= :budget THEN e.geom
                ELSE ST_LineSubstring(e.geom, 1 - (:budget - r.agg_cost) / e.reverse_cost, 1)
           END
    FROM road_edges AS e JOIN reached AS r ON r.node = e.target
    WHERE e.network_version = :version AND e.reverse_cost >= 0
    UNION ALL
    SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326)
    FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) AS s(lon, lat)
),
zone AS (
    SELECT CASE WHEN :lat >= 84 THEN 5041 WHEN :lat <= -80 THEN 5042
                ELSE (CASE WHEN :lat >= 0 THEN 32600 ELSE 32700 END)
                     + least(60, floor((:lon + 180) / 6)::int + 1) END AS srid
),
area AS (
    SELECT ST_Transform(ST_Union(ST_Buffer(
        ST_Simplify(ST_Transform(p.geom, z.srid), 5), :width_m, 'quad_segs=1')), 4326
    ) AS geom
    FROM pieces AS p, zone AS z
)
-- Transforming back may, rarely, leave a ring touching itself: repaired only then.
SELECT ST_AsBinary(ST_Multi(CASE WHEN ST_IsValid(geom) THEN geom
                                 ELSE ST_CollectionExtract(ST_MakeValid(geom), 3) END))
FROM area
"""
)


@dataclass(frozen=True)
class Start:
    """Where a drive begins: a network vertex, the seconds spent before reaching it (the
    off-network leg), and the position (lon, lat) the drive really starts from."""

    vertex: int
    seconds: float
    lon: float
    lat: float


def drive_time_area(
    connection: Connection,
    version: int,
    starts: Sequence[Start],
    budget_s: float,
    width_m: float,
) -> bytes:
    """WKB MultiPolygon of the roads reached from any of ``starts`` within ``budget_s``
    seconds (each start's head start counted), buffered by ``width_m``, with the starts'
    own positions."""
    usable = [start for start in starts if start.seconds <= budget_s]
    return bytes(
        connection.execute(
            _DRIVE_TIME_AREA,
            {
                "edges": _edges_from_starts_sql(version, [(s.vertex, s.seconds) for s in usable]),
                "budget": budget_s,
                "version": version,
                "lons": [s.lon for s in usable] or [starts[0].lon],
                "lats": [s.lat for s in usable] or [starts[0].lat],
                "lon": starts[0].lon,
                "lat": starts[0].lat,
                "width_m": width_m,
            },
        ).scalar_one()
    )


def reached_vertices(
    connection: Connection, version: int, starts: Sequence[Start], budget_s: float
) -> list[tuple[int, int | None, int | None, float, float, float]]:
    """Every vertex reached from the starts within the budget, as (vertex, predecessor
    vertex or None, index of the start it leaves from directly or None, seconds, lon,
    lat): the shortest-path tree, to tell which start reaches each vertex first."""
    rows = connection.execute(
        text(
            """
            SELECT d.node,
                   CASE WHEN d.edge > 0 THEN
                       CASE WHEN e.target = d.node THEN e.source ELSE e.target END END,
                   CASE WHEN d.edge < 0 THEN -d.edge - 1 END,
                   d.agg_cost, ST_X(v.geom), ST_Y(v.geom)
            FROM pgr_drivingDistance(CAST(:edges AS text), -1, CAST(:budget AS float8), true)
                 AS d
            JOIN road_vertices AS v ON v.network_version = :version AND v.id = d.node
            LEFT JOIN road_edges AS e ON e.network_version = :version AND e.id = d.edge
            """
        ),
        {
            "edges": _edges_from_starts_sql(version, [(s.vertex, s.seconds) for s in starts]),
            "budget": budget_s,
            "version": version,
        },
    )
    return [tuple(row) for row in rows]


def as_shape(data: bytes) -> BaseGeometry:
    """A WKB result as a shapely geometry (the queries/ boundary)."""
    return wkb.loads(data)


def drive_time_areas(connection: Connection) -> list[dict]:
    """Every drive-time service area, with its location's position, for a rebuild."""
    return as_dicts(
        connection.execute(
            text(
                "SELECT a.id, a.location_id, a.mode, a.drive_time_s,"
                " ST_X(l.geog::geometry) AS lon, ST_Y(l.geog::geometry) AS lat"
                " FROM service_areas AS a JOIN locations AS l ON l.id = a.location_id"
                " WHERE a.source = 'drive_time' ORDER BY a.id"
            )
        )
    )


def replace_area_geometry(
    connection: Connection, area_id: int, geom_wkb: bytes, version: int
) -> None:
    """Store a rebuilt drive-time polygon and the network version it was built on."""
    connection.execute(
        text(
            "UPDATE service_areas SET geom = ST_GeomFromWKB(:geom, 4326),"
            " network_version = :version, updated_at = now() WHERE id = :id"
        ),
        {"geom": geom_wkb, "version": version, "id": area_id},
    )


def upsert_drive_time_area(
    connection: Connection,
    location_id: int,
    mode: str,
    geom_wkb: bytes,
    drive_time_s: int,
    version: int,
) -> tuple[int, bool]:
    """Create or replace a location's area in ``mode`` as a drive-time area.

    Returns (area id, created)."""
    row = connection.execute(
        text(
            """
            INSERT INTO service_areas
                (location_id, mode, geom, source, drive_time_s, network_version)
            VALUES (:location_id, :mode, ST_GeomFromWKB(:geom, 4326), 'drive_time',
                    :seconds, :version)
            ON CONFLICT (location_id, mode) DO UPDATE SET
                geom = EXCLUDED.geom, source = 'drive_time', radius_m = NULL, center = NULL,
                drive_time_s = EXCLUDED.drive_time_s,
                network_version = EXCLUDED.network_version, updated_at = now()
            RETURNING id, (xmax = 0) AS created
            """
        ),
        {
            "location_id": location_id,
            "mode": mode,
            "geom": geom_wkb,
            "seconds": drive_time_s,
            "version": version,
        },
    ).one()
    return row[0], row[1]


def edge_rows(connection: Connection, version: int) -> list[dict]:
    """Every edge of ``version`` (for oracles and reports)."""
    return as_dicts(
        connection.execute(
            text(
                "SELECT id, source, target, cost, reverse_cost, length_m, speed_kmh, highway,"
                " osm_way_id FROM road_edges WHERE network_version = :version ORDER BY id"
            ),
            {"version": version},
        )
    )


def vertex_rows(connection: Connection, version: int) -> list[dict]:
    """Every vertex of ``version`` with its position and component flag."""
    return as_dicts(
        connection.execute(
            text(
                "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat, in_main_component"
                " FROM road_vertices WHERE network_version = :version ORDER BY id"
            ),
            {"version": version},
        )
    )


def disable_statement_timeout(connection: Connection) -> None:
    """A network import runs for seconds to minutes; lift the web timeout for it."""
    connection.execute(text("SET LOCAL statement_timeout = 0"))


def analyze_network(connection: Connection) -> None:
    """Statistics for the freshly copied rows, before the joins that follow read them."""
    for table in ("road_vertices", "road_edges"):
        connection.execute(text(f"ANALYZE {table}"))


def drive_time_polygon(
    connection: Connection,
    version: int,
    position: tuple[float, float],
    seconds: float,
    *,
    attach_max_m: float = ROAD_ATTACH_MAX_M,
    attach_speed_kmh: float = ROAD_ATTACH_SPEED_KMH,
    width_m: float = ROAD_AREA_BUFFER_M,
) -> bytes | None:
    """WKB of the area reached from ``position`` (lon, lat) within ``seconds``: the drive
    starts after the off-network leg to the nearest vertex (app/services/roads.py tells
    the rule); None when the position does not attach to the network."""
    attached = attach(connection, version, [position], attach_max_m)
    if 0 not in attached:
        return None
    vertex, metres = attached[0]
    start = Start(vertex, metres / (attach_speed_kmh / 3.6), *position)
    return drive_time_area(connection, version, [start], seconds, width_m)


def region_shape(connection: Connection, region_id: str) -> BaseGeometry | None:
    """An imported region's polygon, or None when there is no such region."""
    data = connection.execute(
        text("SELECT ST_AsBinary(geom) FROM regions WHERE region_id = :id"), {"id": region_id}
    ).scalar_one_or_none()
    return wkb.loads(bytes(data)) if data is not None else None


def serving_locations(
    connection: Connection, mode: str, target: BaseGeometry, limit: int
) -> list[dict]:
    """Active locations whose ``mode`` area meets ``target``, by external_id, at most
    ``limit``: the competitors of a partition."""
    return as_dicts(
        connection.execute(
            text(
                """
                SELECT l.id, l.external_id, l.name,
                       ST_X(l.geog::geometry) AS lon, ST_Y(l.geog::geometry) AS lat
                FROM locations AS l
                WHERE l.status = 'active' AND EXISTS (
                    SELECT 1 FROM service_area_parts AS p
                    JOIN service_areas AS a ON a.id = p.service_area_id
                    WHERE a.location_id = l.id AND a.mode = :mode
                      AND ST_Intersects(p.geom, ST_GeomFromWKB(:target, 4326)))
                ORDER BY l.external_id
                LIMIT :limit
                """
            ),
            {"mode": mode, "target": target.wkb, "limit": limit},
        )
    )


def network_extent(connection: Connection) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of the current network, or None without one."""
    row = connection.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
            " SELECT ST_Extent(v.geom) AS e FROM road_vertices AS v"
            " JOIN road_networks AS n ON n.version = v.network_version AND n.is_current) AS x"
        )
    ).one()
    return None if row[0] is None else tuple(row)
