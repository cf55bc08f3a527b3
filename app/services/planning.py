"""Planning (DESIGN §4.9): how much demand a network covers, and what candidate sites
would add to it.

A planner's questions are about orders and people rather than square metres, so every
figure here comes with demand: the weight of a demand set's points (historic orders,
population) that an area covers. Nothing is ever written: each call runs in a
transaction of its own that is rolled back, under PLANNING_STATEMENT_TIMEOUT_MS
(app/config.py) instead of the checkout endpoints' shorter timeout.

What-if semantics, for one mode inside a region or box:
- a candidate's ``area_m2`` is its part inside the target; ``overlap_m2`` the share of
  that which today's active areas of the mode already cover; ``area_gained_m2`` the
  rest. The same with demand weight: ``demand_weight``, ``demand_overlap``,
  ``demand_gained``;
- ``combined`` is all candidates at once (their union): its gains are what opening them
  all would add, which is less than the sum of the candidates' gains where they overlap
  each other;
- an existing location "loses exclusivity" where it alone served the area or demand and
  the candidate would serve it too: ``loses_exclusivity`` lists each such location with
  that area and demand weight;
- ``best_next`` (``best_next=k``) picks, greedily, the candidate that gains the most
  demand, then the one that gains the most of what is still uncovered, and so on, k
  times at most; it stops early when no candidate gains anything more. Ties go to the
  candidate given first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import shapely
import shapely.geometry
from sqlalchemy import Connection

from app.errors import InvalidInput, NotFound
from app.geo import METRES_PER_DEGREE, InvalidValue, bbox_polygon, geodesic_circle
from app.limits import (
    DEMAND_HEX_CELLS_ACROSS,
    MAX_UNCOVERED_POINTS,
    MIN_DEMAND_HEX_EDGE_M,
    MIN_EXCLUSIVE_AREA_M2,
    ROAD_ATTACH_MAX_M,
)
from app.queries import planning as sql
from app.queries import roads as roads_sql
from app.services import coverage
from app.services.roads import current_network

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Candidate:
    """A site to weigh: a geodesic circle of ``radius_m``, or the area reached by car
    within ``drive_time_s`` (built as drive-time service areas are, DESIGN §4.7)."""

    lat: float
    lon: float
    radius_m: float | None = None
    drive_time_s: int | None = None
    id: str | None = None


def demand_sets(connection: Connection) -> list[dict]:
    """Every demand set: name, points, total weight, when it was imported."""
    return [
        {**row, "imported_at": row["imported_at"].isoformat()}
        for row in sql.demand_sets(connection)
    ]


def demand_set_names(connection: Connection) -> list[str]:
    return sql.demand_set_names(connection)


def share(part: float, whole: float) -> float:
    """part / whole in 0..1, 0 for nothing at all (see coverage.covered_share)."""
    return coverage.covered_share(part, whole)


def _demand_set_id(connection: Connection, name: str) -> int:
    found = sql.demand_set(connection, name)
    if found is None:
        raise NotFound(f"no demand set {name!r}", field="demand", message="unknown demand set")
    return found["id"]


def _target_wkb(bbox: BBox | None) -> bytes | None:
    return bbox_polygon(bbox).wkb if bbox else None


def _unknown_region(region_id: str | None) -> NotFound:
    return NotFound(f"no region {region_id!r}", field="region", message="unknown region_id")


# -- demand coverage -------------------------------------------------------------------


def demand_coverage(
    connection: Connection,
    *,
    region_id: str | None,
    bbox: BBox | None,
    modes: Sequence[str],
    demand: str,
    timeout_ms: int,
) -> dict[str, dict]:
    """Per mode, the demand of set ``demand`` inside the region or box (see _demand)."""
    with sql.planning_scope(connection, timeout_ms):
        return _demand(connection, region_id=region_id, bbox=bbox, modes=modes, demand=demand)


def summary_with_demand(
    connection: Connection,
    *,
    region_id: str | None,
    bbox: BBox | None,
    modes: Sequence[str],
    simplify_deg: float,
    demand: str,
    timeout_ms: int,
) -> dict[str, dict]:
    """The coverage summary (app/services/coverage.py), each mode with its ``demand``."""
    with sql.planning_scope(connection, timeout_ms):
        result = coverage.summary(
            connection, region_id=region_id, bbox=bbox, modes=list(modes), simplify_deg=simplify_deg
        )
        by_mode = _demand(connection, region_id=region_id, bbox=bbox, modes=modes, demand=demand)
    for mode, figures in by_mode.items():
        result[mode]["demand"] = figures
    return result


def _demand(
    connection: Connection,
    *,
    region_id: str | None,
    bbox: BBox | None,
    modes: Sequence[str],
    demand: str,
) -> dict[str, dict]:
    """Per mode: the set's points and weight inside the target, the weight and share that
    the mode's active areas cover, the same for its drive-time areas (the demand reached
    within their drive time), and the uncovered demand: its weight, its heaviest
    MAX_UNCOVERED_POINTS points (a FeatureCollection that says how many there are) and
    its weight per hexagon (a FeatureCollection of hexagons with ``weight`` and
    ``points``; ``hex_edge_m`` is their edge, north to south)."""
    set_id = _demand_set_id(connection, demand)
    result = {}
    for mode in modes:
        row = sql.demand_coverage(
            connection,
            region_id=region_id,
            bbox_wkb=_target_wkb(bbox),
            set_id=set_id,
            mode=mode,
            max_points=MAX_UNCOVERED_POINTS,
            cells_across=DEMAND_HEX_CELLS_ACROSS,
            min_edge_deg=MIN_DEMAND_HEX_EDGE_M / METRES_PER_DEGREE,
        )
        if row is None:
            raise _unknown_region(region_id)
        weight, covered = row["weight"], row["covered_weight"]
        heaviest = _json(row["heaviest"])
        hexagons = _json(row["hexagons"])
        result[mode] = {
            "set": demand,
            "points": row["points"],
            "weight": weight,
            "covered_weight": covered,
            "covered_share": share(covered, weight),
            "drive_time": {
                "areas": row["drive_time_areas"],
                "covered_weight": row["drive_time_weight"],
                "covered_share": share(row["drive_time_weight"], weight),
            },
            "uncovered": {
                "points": row["uncovered_points"],
                "weight": sum(cell["weight"] for cell in hexagons),
                "heaviest": _point_collection(heaviest, row["uncovered_points"]),
                "hexagons": _hexagon_collection(hexagons),
                "hex_edge_m": row["hex_edge_deg"] * METRES_PER_DEGREE,
            },
        }
    return result


def _json(value):
    """A json column as psycopg hands it over (already parsed), or as text."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _point_collection(points: list[dict], matched: int) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": point["id"],
                "geometry": {"type": "Point", "coordinates": [point["lon"], point["lat"]]},
                "properties": {"weight": point["weight"], "label": point["label"]},
            }
            for point in points
        ],
        "numberMatched": matched,
        "numberReturned": len(points),
    }


def _hexagon_collection(cells: list[dict]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f"{cell['i']},{cell['j']}",
                "geometry": cell["geometry"],
                "properties": {"weight": cell["weight"], "points": cell["points"]},
            }
            for cell in cells
        ],
    }


# -- what-if ---------------------------------------------------------------------------


def what_if(
    connection: Connection,
    *,
    region_id: str | None,
    bbox: BBox | None,
    mode: str,
    candidates: Sequence[Candidate],
    demand: str | None = None,
    best_next: int | None = None,
    timeout_ms: int,
) -> dict:
    """What the candidate sites would add to today's ``mode`` network inside the region
    or box: per candidate and combined (see the module's docstring). Nothing is written.

    A circle around a pole, a drive time without a road network, or a drive-time site
    off the network is an InvalidInput naming the candidate's field; an unknown region
    or demand set is NotFound; ``best_next`` needs a demand set."""
    if best_next is not None and demand is None:
        raise InvalidInput(
            "best_next ranks candidates by demand gained: give a demand set",
            field="best_next",
            message="needs demand",
        )
    with sql.planning_scope(connection, timeout_ms):
        set_id = _demand_set_id(connection, demand) if demand is not None else None
        if region_id is not None and not sql.region_exists(connection, region_id):
            raise _unknown_region(region_id)
        shapes = [_candidate_shape(connection, c, index) for index, c in enumerate(candidates)]
        wkbs = [shape.wkb for shape in shapes]
        areas = sql.what_if_areas(
            connection,
            region_id=region_id,
            bbox_wkb=_target_wkb(bbox),
            mode=mode,
            candidates=wkbs,
            min_area_m2=MIN_EXCLUSIVE_AREA_M2,
        )
        if areas is None:
            raise _unknown_region(region_id)
        groups = None
        if set_id is not None:
            groups = sql.what_if_demand(
                connection,
                region_id=region_id,
                bbox_wkb=_target_wkb(bbox),
                set_id=set_id,
                mode=mode,
                candidates=wkbs,
            )
        exclusive = _json(areas["exclusive"])
        ids = {row["location_id"] for row in exclusive}
        ids |= {g["exclusive_location"] for g in groups or [] if g["exclusive_location"]}
        names = sql.location_names(connection, sorted(ids))
    figures = {row["idx"]: row for row in _json(areas["candidates"])}
    everyone = frozenset(range(1, len(candidates) + 1))
    today = _today(areas["target_m2"], groups)
    answer = {
        "region": region_id,
        "bbox": list(bbox) if bbox else None,
        "mode": mode,
        "demand": demand,
        "tolerance_deg": areas["tolerance_deg"] or 0.0,
        "today": today,
        "candidates": [
            {
                "id": candidate.id,
                "lat": candidate.lat,
                "lon": candidate.lon,
                "radius_m": candidate.radius_m,
                "drive_time_s": candidate.drive_time_s,
                **_gains(figures[index], frozenset({index}), groups, exclusive, names, index),
                "geometry": shapely.geometry.mapping(shapes[index - 1]),
            }
            for index, candidate in enumerate(candidates, start=1)
        ],
        "combined": _gains(figures[0], everyone, groups, exclusive, names, 0),
        "best_next": None,
    }
    if groups is not None:
        combined = answer["combined"]
        combined["demand_covered_share_after"] = share(
            today["demand_covered_weight"] + combined["demand_gained"], today["demand_weight"]
        )
        if best_next is not None:
            answer["best_next"] = _greedy(groups, candidates, best_next)
    return answer


def _candidate_shape(connection: Connection, candidate: Candidate, index: int):
    """A candidate's area, oriented as RFC 7946 asks (exterior rings counterclockwise)."""
    if candidate.radius_m is not None:
        try:
            return geodesic_circle(candidate.lon, candidate.lat, candidate.radius_m)
        except InvalidValue as error:
            raise InvalidInput(
                f"candidates[{index}]: {error}", field=f"candidates[{index}].radius_m"
            ) from error
    field = f"candidates[{index}].drive_time_s"
    network = current_network(connection, field)
    polygon = roads_sql.drive_time_polygon(
        connection, network.version, (candidate.lon, candidate.lat), candidate.drive_time_s
    )
    if polygon is None:
        raise InvalidInput(
            f"candidates[{index}] is more than {ROAD_ATTACH_MAX_M} m from the road network",
            field=field,
            message="off the road network",
        )
    return shapely.orient_polygons(shapely.from_wkb(bytes(polygon)))


def _today(target_m2: float, groups: list[dict] | None) -> dict:
    """The target's area and, with a demand set, its demand and the part covered today."""
    today = {"area_m2": target_m2}
    if groups is not None:
        weight = sum(g["weight"] for g in groups)
        covered = sum(g["weight"] for g in groups if g["covered"])
        today |= {
            "demand_points": sum(g["points"] for g in groups),
            "demand_weight": weight,
            "demand_covered_weight": covered,
            "demand_covered_share": share(covered, weight),
        }
    return today


def _gains(
    figures: dict,
    chosen: frozenset[int],
    groups: list[dict] | None,
    exclusive: list[dict],
    names: dict[int, dict],
    idx: int,
) -> dict:
    """Area and demand that the candidates ``chosen`` (numbered from 1; ``idx`` is the
    row of their area figures, 0 for all together) would gain and would overlap, and the
    existing locations that would lose exclusivity to them."""
    area, overlap = figures["area_m2"], min(figures["overlap_m2"], figures["area_m2"])
    gains = {"area_m2": area, "area_gained_m2": area - overlap, "overlap_m2": overlap}
    lost: dict[int, dict] = {}
    for row in exclusive:
        if row["idx"] == idx:
            lost[row["location_id"]] = {"area_m2": row["area_m2"], "demand_weight": 0.0}
    if groups is not None:
        inside = [g for g in groups if chosen.intersection(g["candidates"])]
        covered = sum(g["weight"] for g in inside if g["covered"])
        gains |= {
            "demand_weight": sum(g["weight"] for g in inside),
            "demand_gained": sum(g["weight"] for g in inside if not g["covered"]),
            "demand_overlap": covered,
        }
        for g in inside:
            if g["exclusive_location"] is not None:
                entry = lost.setdefault(
                    g["exclusive_location"], {"area_m2": 0.0, "demand_weight": 0.0}
                )
                entry["demand_weight"] += g["weight"]
    gains["loses_exclusivity"] = sorted(
        ({**names[location_id], **entry} for location_id, entry in lost.items()),
        key=lambda entry: (-entry["demand_weight"], -entry["area_m2"], entry["external_id"]),
    )
    return gains


def _greedy(groups: list[dict], candidates: Sequence[Candidate], k: int) -> list[dict]:
    """Up to ``k`` candidates, each the one that gains the most still-uncovered demand
    given today's network and the ones picked before it (ties: the one given first)."""
    open_groups = [
        (frozenset(g["candidates"]), g["weight"])
        for g in groups
        if not g["covered"] and g["candidates"]
    ]
    remaining = list(range(1, len(candidates) + 1))
    picks, total = [], 0.0
    while remaining and len(picks) < k:
        gains = dict.fromkeys(remaining, 0.0)
        for members, weight in open_groups:
            for index in members.intersection(remaining):
                gains[index] += weight
        best = max(remaining, key=lambda index: (gains[index], -index))
        if gains[best] <= 0:
            break
        total += gains[best]
        picks.append(
            {
                "candidate": best - 1,
                "id": candidates[best - 1].id,
                "demand_gained": gains[best],
                "demand_gained_total": total,
            }
        )
        open_groups = [(members, w) for members, w in open_groups if best not in members]
        remaining.remove(best)
    return picks
