"""Road travel over the imported car network (DESIGN §4.7).

This is the seam other services use for road durations: fulfilment (express
travel, warehouse-to-store transfers) and pickup ranking by travel time. A pair
that the network does not cover is simply absent from the answer, and callers
fall back to their geodesic rule.

How a point meets the network: it attaches to the nearest vertex (geodesic) of the
network's largest strongly connected component, if one lies within ROAD_ATTACH_MAX_M;
the leg between them counts its geodesic metres at ROAD_ATTACH_SPEED_KMH. A trip is
leg + fastest vertex-to-vertex route (pgr_dijkstra) + leg.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import shapely
import shapely.geometry
from sqlalchemy import Connection

from app.errors import InvalidInput, NotFound
from app.geo import bbox_polygon, geodesic_circle
from app.limits import (
    MAX_PARTITION_LOCATIONS,
    MAX_TRAVEL_TIME_CANDIDATES,
    ROAD_AREA_BUFFER_M,
    ROAD_ATTACH_MAX_M,
    ROAD_ATTACH_SPEED_KMH,
)
from app.queries import roads as sql
from app.services.pickup import PickupPage, PickupSearch, find_pickup_points

ATTACH_SPEED_MPS = ROAD_ATTACH_SPEED_KMH / 3.6


@dataclass(frozen=True)
class RoadLeg:
    duration_s: float
    road_distance_m: float


def require_pgrouting(connection: Connection) -> None:
    """Create pgRouting if the server has it but this database does not yet; else a
    clear error (the server lacks Debian's postgresql-15-pgrouting)."""
    if sql.pgrouting_installed(connection):
        return
    if not sql.pgrouting_available(connection):
        raise InvalidInput(
            "the database server has no pgRouting: install postgresql-15-pgrouting",
            field="network",
        )
    sql.install_pgrouting(connection)


def current_network(connection: Connection, field: str) -> sql.Network:
    """The serving network, or a 400 naming ``field`` that says none is loaded."""
    network = sql.current_network(connection)
    if network is None:
        raise InvalidInput(
            "no road network is loaded (flask locator roads import FILE.osm.pbf)",
            field=field,
            message="needs a road network; none is loaded",
        )
    return network


@dataclass(frozen=True)
class Spokes:
    """Road legs asked between one ``point`` (lat, lon) and each of ``others`` (key, lat,
    lon): ``from_point`` drives from the point to each of them, ``to_point`` from each of
    them to the point (one-way streets make the two differ)."""

    point: tuple[float, float]
    others: Sequence[tuple[Hashable, float, float]]
    direction: Literal["from_point", "to_point"] = "from_point"


def road_legs(
    connection: Connection,
    point: tuple[float, float],
    others: Sequence[tuple[Hashable, float, float]],
    direction: Literal["from_point", "to_point"] = "from_point",
) -> dict[Hashable, RoadLeg]:
    """Road legs between ``point`` (lat, lon) and each of ``others`` (key, lat, lon), by
    key (see ``Spokes``). Keys that the current network does not reach, or every key
    when no network is loaded, are absent."""
    [legs] = road_legs_batch(connection, [Spokes(point, others, direction)])
    return legs


def road_legs_batch(
    connection: Connection, batch: Sequence[Spokes]
) -> list[dict[Hashable, RoadLeg]]:
    """The legs of every ``Spokes`` of ``batch`` (one answer each, as ``road_legs``), in
    a fixed number of statements whatever the batch holds: every position attached at
    once, and one many-to-many route search per direction (a ``to_point`` search runs
    over the reversed graph, from the points)."""
    answers: list[dict[Hashable, RoadLeg]] = [{} for _ in batch]
    network = sql.current_network(connection) if any(s.others for s in batch) else None
    if network is None:
        return answers
    positions: list[tuple[float, float]] = []
    firsts = []  # where each Spokes' point is in ``positions``; its others follow it
    for spokes in batch:
        firsts.append(len(positions))
        positions.append((spokes.point[1], spokes.point[0]))
        positions += [(lon, lat) for _, lat, lon in spokes.others]
    attached = sql.attach(connection, network.version, positions, ROAD_ATTACH_MAX_M)
    paths = {}
    for direction in ("from_point", "to_point"):
        group = [i for i, s in enumerate(batch) if s.direction == direction and s.others]
        hubs = [attached[firsts[i]][0] for i in group if firsts[i] in attached]
        ends = {
            attached[firsts[i] + k][0]
            for i in group
            for k in range(1, len(batch[i].others) + 1)
            if firsts[i] + k in attached
        }
        if hubs and ends:
            paths[direction] = sql.shortest_paths(
                connection, network.version, hubs, sorted(ends), reverse=direction == "to_point"
            )
    for i, spokes in enumerate(batch):
        if firsts[i] not in attached:
            continue
        hub, hub_metres = attached[firsts[i]]
        found = paths.get(spokes.direction, {})
        for k, (key, _, _) in enumerate(spokes.others, start=1):
            if firsts[i] + k not in attached:
                continue
            vertex, metres = attached[firsts[i] + k]
            path = found.get((hub, vertex))
            if path is None:
                continue
            off_network = hub_metres + metres
            answers[i][key] = RoadLeg(
                duration_s=path[0] + off_network / ATTACH_SPEED_MPS,
                road_distance_m=path[1] + off_network,
            )
    return answers


def rebuild_drive_time_areas(connection: Connection, version: int) -> int:
    """Rebuild every drive-time area on network ``version`` (inside its import's
    transaction). A location the new network no longer reaches keeps only the
    buffer around itself. Returns how many were rebuilt."""
    areas = sql.drive_time_areas(connection)
    for area in areas:
        position = (area["lon"], area["lat"])
        polygon = sql.drive_time_polygon(connection, version, position, area["drive_time_s"])
        if polygon is None:
            polygon = geodesic_circle(area["lon"], area["lat"], ROAD_AREA_BUFFER_M).wkb
        sql.replace_area_geometry(connection, area["id"], polygon, version)
    return len(areas)


def refresh_drive_time_areas(connection: Connection) -> int:
    """Rebuild the drive-time areas on the current network (`roads refresh-areas`)."""
    network = current_network(connection, "network")
    sql.lock_network_import(connection)
    sql.disable_statement_timeout(connection)
    return rebuild_drive_time_areas(connection, network.version)


def partition(
    connection: Connection,
    *,
    mode: str,
    region_id: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    drive_time_s: int,
) -> list[dict]:
    """For each location whose ``mode`` area meets the region (or box): the part of it
    that the location reaches first by car within ``drive_time_s`` (pgRouting's
    equicost, with each location's own attachment leg counted). An unknown region is
    NotFound.

    One driving-distance search from a virtual source with an edge to each location's
    vertex (costing its off-network leg) gives every network vertex the least time over
    all locations, and its shortest-path tree tells which location that is (on an exact
    tie, the one pgRouting settles first). The union of the locations' drive-time areas
    (the buffered roads reached within the time, built once) is then cut along the
    Voronoi cells of those vertices (in lon/lat), so the pieces are disjoint and together
    cover exactly what the union covers. Returns
    ``{"location": row, "seconds_max": ..., "geometry": shape}`` by external_id.
    """
    network = current_network(connection, "drive_time_s")
    field = "region" if region_id is not None else "bbox"
    if region_id is not None:
        target = sql.region_shape(connection, region_id)
        if target is None:
            raise NotFound(f"no region {region_id!r}", field="region", message="no such region")
    else:
        target = bbox_polygon(bbox)
    locations = sql.serving_locations(connection, mode, target, MAX_PARTITION_LOCATIONS + 1)
    if len(locations) > MAX_PARTITION_LOCATIONS:
        raise InvalidInput(
            f"more than {MAX_PARTITION_LOCATIONS} locations serve this area; choose a smaller one",
            field=field,
        )
    positions = [(row["lon"], row["lat"]) for row in locations]
    attached = sql.attach(connection, network.version, positions, ROAD_ATTACH_MAX_M)
    owners = sorted(attached)  # start k leaves from locations[owners[k]]
    if not owners:
        return []
    starts = [
        sql.Start(attached[i][0], attached[i][1] / ATTACH_SPEED_MPS, *positions[i]) for i in owners
    ]
    tree = sql.reached_vertices(connection, network.version, starts, drive_time_s)
    owner_of = _first_reachers(tree)
    union = sql.as_shape(
        sql.drive_time_area(connection, network.version, starts, drive_time_s, ROAD_AREA_BUFFER_M)
    )
    covered = shapely.intersection(union, target)
    if covered.is_empty or not owner_of:
        return []
    # One vertex per position: two OSM nodes may share coordinates, and Voronoi cells
    # (one per distinct point) must line up with the labels.
    by_position = {}
    for row in sorted(tree):
        if row[0] in owner_of:
            by_position.setdefault((row[4], row[5]), row)
    vertices = list(by_position.values())
    labels = [owners[owner_of[row[0]]] for row in vertices]
    if len(set(labels)) == 1:
        cells_by_owner = {labels[0]: covered}
    else:
        points = shapely.points([(row[4], row[5]) for row in vertices])
        # The cells reach a little past every point and the covered area. From the
        # bounds only: buffering the union of thousands of points and a road area, to
        # read its bounds, took 15 s and 1.5 GB on the Baltimore demo.
        min_x, min_y, max_x, max_y = shapely.total_bounds([covered, *points])
        frame = shapely.box(min_x - 0.01, min_y - 0.01, max_x + 0.01, max_y + 0.01)
        cells = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(points), extend_to=frame, ordered=True)
        )
        grouped: dict[int, list] = {}
        for label, cell in zip(labels, cells, strict=True):
            grouped.setdefault(label, []).append(cell)
        cells_by_owner = {
            label: shapely.intersection(shapely.coverage_union_all(group), covered)
            for label, group in grouped.items()
        }
    slowest: dict[int, float] = {}
    for row, label in zip(vertices, labels, strict=True):
        slowest[label] = max(slowest.get(label, 0.0), row[3])
    pieces = []
    for label in sorted(cells_by_owner, key=lambda i: locations[i]["external_id"]):
        piece = cells_by_owner[label]
        if not piece.is_valid:
            piece = shapely.make_valid(piece)
        polygons = [p for p in shapely.get_parts(piece) if p.geom_type == "Polygon" and p.area]
        if polygons:
            pieces.append(
                {
                    "location": locations[label],
                    "seconds_max": slowest[label],
                    "geometry": shapely.orient_polygons(shapely.multipolygons(polygons)),
                }
            )
    return pieces


def _first_reachers(tree) -> dict[int, int]:
    """Vertex -> index of the start whose drive reaches it first, by walking the
    shortest-path tree (vertex, predecessor, start index, ...) back to its root."""
    parent = {row[0]: row[1] for row in tree}
    direct = {row[0]: row[2] for row in tree if row[2] is not None}
    owner: dict[int, int] = {}
    for vertex in parent:
        path = []
        node = vertex
        while node not in owner and node not in direct and parent.get(node) is not None:
            path.append(node)
            node = parent[node]
        found = owner.get(node, direct.get(node))
        if found is None:
            continue
        for step in (*path, node):
            owner[step] = found
    return owner


def partition_collection(connection: Connection, *, mode: str, drive_time_s: int, **target):
    """The partition (see ``partition``) as a GeoJSON FeatureCollection, a feature per
    location with its ``location_id`` (external_id), ``name`` and ``slowest_reached_s``.
    Without a region or box: over the whole road network."""
    if not target.get("region_id") and not target.get("bbox"):
        target["bbox"] = sql.network_extent(connection)
    pieces = partition(connection, mode=mode, drive_time_s=drive_time_s, **target)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": piece["location"]["external_id"],
                "geometry": shapely.geometry.mapping(piece["geometry"]),
                "properties": {
                    "location_id": piece["location"]["external_id"],
                    "name": piece["location"]["name"],
                    "mode": mode,
                    "drive_time_s": drive_time_s,
                    "slowest_reached_s": round(piece["seconds_max"], 1),
                },
            }
            for piece in pieces
        ],
    }


def pickup_points_by_travel_time(connection: Connection, search: PickupSearch) -> PickupPage:
    """The pickup points of ``search`` quickest to drive to from its origin, in exact
    travel-time order (ties: external_id), each with ``duration_s`` and
    ``road_distance_m``; ``distance_m`` stays geodesic.

    Candidates come nearest first from the geodesic search, in batches. No route is
    faster than its geodesic length at the network's top speed (road distance is never
    shorter than the geodesic distance), so once the limit-th quickest candidate takes
    less time than the last candidate's geodesic distance at top speed, no location
    further out can overtake it. At most MAX_TRAVEL_TIME_CANDIDATES candidates are timed;
    should that not prove ``limit`` results, only the proven ones are returned. Locations
    the network does not reach are left out. One page: no cursor.
    """
    network = current_network(connection, "rank")
    top_speed_mps = max(network.max_speed_kmh, ROAD_ATTACH_SPEED_KMH) / 3.6
    origin = (search.lat, search.lon)
    batch = min(MAX_TRAVEL_TIME_CANDIDATES, max(4 * search.limit, 50))
    candidates: list[dict] = []
    timed = 0
    after = None
    while True:
        page = find_pickup_points(connection, replace(search, limit=batch), after)
        timed += len(page.results)
        legs = road_legs(
            connection, origin, [(row["id"], row["lat"], row["lon"]) for row in page.results]
        )
        for row in page.results:
            if row["id"] in legs:
                row["duration_s"] = legs[row["id"]].duration_s
                row["road_distance_m"] = legs[row["id"]].road_distance_m
                candidates.append(row)
        candidates.sort(key=lambda row: (row["duration_s"], row["external_id"]))
        if page.next_after is None:
            return PickupPage(candidates[: search.limit], None)
        # page.next_after starts with the last candidate's geodesic distance: every
        # location not yet timed is at least that far, so takes at least bound_s.
        bound_s = page.next_after[0] / top_speed_mps
        proven = [row for row in candidates if row["duration_s"] < bound_s]
        if len(proven) >= search.limit or timed >= MAX_TRAVEL_TIME_CANDIDATES:
            return PickupPage(proven[: search.limit], None)
        after = page.next_after
        batch = min(batch, MAX_TRAVEL_TIME_CANDIDATES - timed)
