"""Planning (DESIGN §4.9): demand coverage against a shapely oracle on the real DC ZCTA
polygons, and what-if gains against recomputing the summary with the candidate added."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely import wkb
from shapely.geometry import box, shape
from sqlalchemy import text

from app.geo import geodesic_circle
from app.importing import ImportOptions, import_file
from app.services import coverage, planning

TIMEOUT_MS = 60_000
DC_BOX = (-77.12, 38.80, -76.91, 38.99)


def load_demand(connection, name: str, lons, lats, weights) -> int:
    """A demand set written with COPY (the importer's own tests cover the CSV path)."""
    set_id = connection.execute(
        text("INSERT INTO demand_sets (name) VALUES (:name) RETURNING id"), {"name": name}
    ).scalar_one()
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy("COPY demand_points (set_id, geom, weight) FROM STDIN") as copy:
        for lon, lat, weight in zip(lons, lats, weights, strict=True):
            copy.write_row(
                (set_id, f"SRID=4326;POINT({float(lon)!r} {float(lat)!r})", float(weight))
            )
    connection.execute(text("ANALYZE demand_points"))
    return set_id


def active_areas(connection, mode: str) -> dict[str, shapely.Geometry]:
    """Each active location's stored area of ``mode``, by external_id."""
    rows = connection.execute(
        text(
            "SELECT l.external_id, ST_AsBinary(a.geom) FROM service_areas a"
            " JOIN locations l ON l.id = a.location_id"
            " WHERE l.status = 'active' AND a.mode = :mode ORDER BY l.external_id"
        ),
        {"mode": mode},
    ).all()
    return {external_id: wkb.loads(bytes(geom)) for external_id, geom in rows}


def servers_of(points, areas: dict[str, shapely.Geometry]) -> list[set[str]]:
    """The oracle: for each point, the locations whose area covers it (shapely)."""
    names = list(areas)
    tree = shapely.STRtree(list(areas.values()))
    point_index, area_index = tree.query(points, predicate="covered_by")
    servers = [set() for _ in range(len(points))]
    for p, a in zip(point_index, area_index, strict=True):
        servers[p].add(names[a])
    return servers


@pytest.fixture
def zcta_network(connection, shared_data, tmp_path):
    """The DC ZCTA polygons as delivery areas: two of every three ZIPs served by a locker
    (so there are gaps along real, ragged edges), and every other ZIP also by a second
    locker whose area is the ZIP moved 600 m east (so that areas overlap)."""
    zcta = json.loads((shared_data / "dc_zcta_2010.geojson").read_text())
    locations = ["external_id,name,kind,lat,lon"]
    areas = []
    for index, feature in enumerate(zcta["features"]):
        code = feature["properties"]["ZCTA5CE10"]
        lat = float(feature["properties"]["INTPTLAT10"])
        lon = float(feature["properties"]["INTPTLON10"])
        shapes = []
        if index % 3:
            shapes.append((f"z-{code}", feature["geometry"]))
        if index % 2 == 0:
            moved = shapely.affinity.translate(shape(feature["geometry"]), 0.007, 0)
            shapes.append((f"m-{code}", shapely.geometry.mapping(moved)))
        for external_id, geometry in shapes:
            locations.append(f"{external_id},Locker {external_id},locker,{lat},{lon}")
            areas.append(
                {
                    "type": "Feature",
                    "geometry": geometry,
                    "properties": {"location_external_id": external_id, "mode": "delivery"},
                }
            )
    (tmp_path / "locations.csv").write_text("\n".join(locations) + "\n")
    assert import_file(connection, tmp_path / "locations.csv", ImportOptions()).created
    (tmp_path / "areas.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": areas})
    )
    report = import_file(connection, tmp_path / "areas.geojson", ImportOptions())
    assert not report.rejected and report.created == len(areas)
    connection.commit()
    return active_areas(connection, "delivery")


def test_demand_share_agrees_with_shapely_on_the_dc_zcta_polygons(connection, zcta_network):
    rng = np.random.default_rng(16)
    n = 100_000
    lons = rng.uniform(-77.13, -76.90, n)
    lats = rng.uniform(38.79, 39.00, n)
    # Points exactly on the areas' vertices too: a point on an edge is served.
    vertices = np.concatenate(
        [shapely.get_coordinates(area)[::97] for area in zcta_network.values()]
    )
    lons, lats = np.concatenate([lons, vertices[:, 0]]), np.concatenate([lats, vertices[:, 1]])
    weights = rng.lognormal(0, 1, len(lons))
    load_demand(connection, "zcta-demand", lons, lats, weights)

    [figures] = planning.demand_coverage(
        connection,
        region_id=None,
        bbox=DC_BOX,
        modes=["delivery"],
        demand="zcta-demand",
        timeout_ms=TIMEOUT_MS,
    ).values()

    points = shapely.points(lons, lats)
    inside = shapely.covers(box(*DC_BOX), points)
    covered = np.array([bool(s) for s in servers_of(points, zcta_network)]) & inside
    assert 0.3 < covered.sum() / inside.sum() < 0.9  # gaps and coverage both matter
    assert figures["points"] == inside.sum()
    assert figures["weight"] == pytest.approx(weights[inside].sum(), rel=1e-9)
    assert figures["covered_weight"] == pytest.approx(weights[covered].sum(), rel=1e-9)
    assert figures["covered_share"] == pytest.approx(
        weights[covered].sum() / weights[inside].sum(), rel=1e-9
    )
    uncovered = figures["uncovered"]
    assert uncovered["points"] == (inside & ~covered).sum()
    assert uncovered["weight"] == pytest.approx(weights[inside & ~covered].sum(), rel=1e-9)
    assert figures["drive_time"] == {"areas": 0, "covered_weight": 0, "covered_share": 0}

    # The heaviest uncovered points are the oracle's heaviest uncovered points.
    heaviest = uncovered["heaviest"]
    assert heaviest["numberMatched"] == uncovered["points"]
    expected = np.sort(weights[inside & ~covered])[::-1][: heaviest["numberReturned"]]
    got = [f["properties"]["weight"] for f in heaviest["features"]]
    assert got == pytest.approx(list(expected), rel=1e-12)

    # The hexagons partition the uncovered demand: their weights add up to it, and each
    # uncovered point lies in one of them.
    cells = uncovered["hexagons"]["features"]
    assert sum(c["properties"]["points"] for c in cells) == uncovered["points"]
    assert 20 < len(cells) <= 3000
    hexagons = shapely.STRtree([shape(c["geometry"]) for c in cells])
    sample = shapely.points([f["geometry"]["coordinates"] for f in heaviest["features"]])
    hits = hexagons.query(shapely.buffer(sample, 1e-6), predicate="intersects")
    assert set(hits[0]) == set(range(len(sample)))
    assert 100 < uncovered["hex_edge_m"] < 2000


def test_hexagons_hold_the_points_they_count(connection):
    """Each hexagon's weight is the weight of the uncovered points inside it."""
    rng = np.random.default_rng(3)
    lons, lats = rng.uniform(10, 10.5, 3000), rng.uniform(59.8, 60.1, 3000)  # Oslo-ish
    weights = rng.integers(1, 5, 3000)
    load_demand(connection, "north", lons, lats, weights)
    [figures] = planning.demand_coverage(
        connection,
        region_id=None,
        bbox=(9.9, 59.7, 10.6, 60.2),
        modes=["express"],
        demand="north",
        timeout_ms=TIMEOUT_MS,
    ).values()
    assert figures["covered_weight"] == 0  # no network at all here
    points = shapely.points(lons, lats)
    for cell in figures["uncovered"]["hexagons"]["features"]:
        hexagon = shape(cell["geometry"])
        # Rounded to 6 decimals: a point on an edge may fall either side by a hair.
        strictly = shapely.contains(hexagon.buffer(-1e-6), points)
        loosely = shapely.intersects(hexagon.buffer(1e-6), points)
        assert weights[strictly].sum() <= cell["properties"]["weight"] <= weights[loosely].sum()
    total = sum(c["properties"]["weight"] for c in figures["uncovered"]["hexagons"]["features"])
    assert total == weights.sum()


# -- what-if ---------------------------------------------------------------------------


def add_site(connection, index: int, lon: float, lat: float, radius_m: float, mode: str) -> None:
    """The candidate as a real location with a radius area, as an import would store it."""
    location_id = connection.execute(
        text(
            "INSERT INTO locations (external_id, name, kind, timezone, geog) VALUES"
            " (:external_id, 'Candidate', 'store', 'UTC',"
            " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) RETURNING id"
        ),
        {"external_id": f"candidate-{index}", "lon": lon, "lat": lat},
    ).scalar_one()
    connection.execute(
        text(
            "INSERT INTO service_areas (location_id, mode, geom, source, radius_m, center)"
            " VALUES (:location_id, :mode, ST_GeomFromWKB(:geom, 4326), 'radius', :radius,"
            " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)"
        ),
        {
            "location_id": location_id,
            "mode": mode,
            "geom": geodesic_circle(lon, lat, radius_m).wkb,
            "radius": radius_m,
            "lon": lon,
            "lat": lat,
        },
    )


# Central Washington: the demo's express areas overlap and leave gaps there.
CENTRE_BOX = (-77.07, 38.86, -76.97, 38.94)


def summary_of(connection, mode: str) -> tuple[float, float]:
    """(covered m², covered demand) of CENTRE_BOX, recomputed from scratch."""
    area = coverage.summary(
        connection, region_id=None, bbox=CENTRE_BOX, modes=[mode], simplify_deg=0
    )[mode]
    [demand] = planning.demand_coverage(
        connection,
        region_id=None,
        bbox=CENTRE_BOX,
        modes=[mode],
        demand="demo-orders",
        timeout_ms=TIMEOUT_MS,
    ).values()
    return area["covered_m2"], demand["covered_weight"]


def test_what_if_gains_agree_with_recomputing_the_summary(connection, demo):
    mode = "express"
    rng = np.random.default_rng(200)
    west, south, east, north = CENTRE_BOX
    candidates = [
        planning.Candidate(
            lat=float(rng.uniform(south - 0.01, north + 0.01)),
            lon=float(rng.uniform(west - 0.01, east + 0.01)),
            radius_m=float(rng.uniform(200, 2500)),
            id=f"c{i}",
        )
        for i in range(200)
    ]
    results = []
    for start in range(0, len(candidates), 50):
        answer = planning.what_if(
            connection,
            region_id=None,
            bbox=CENTRE_BOX,
            mode=mode,
            candidates=candidates[start : start + 50],
            demand="demo-orders",
            timeout_ms=TIMEOUT_MS,
        )
        results += answer["candidates"]
    today_m2, today_weight = summary_of(connection, mode)
    assert answer["today"]["demand_covered_weight"] == pytest.approx(today_weight)
    assert 0 < today_weight < answer["today"]["demand_weight"]  # there is demand to gain

    # The oracle of exclusivity: which location alone serves each demo order (shapely).
    orders = connection.execute(
        text(
            "SELECT ST_X(p.geom), ST_Y(p.geom), p.weight FROM demand_points p"
            " JOIN demand_sets s ON s.id = p.set_id WHERE s.name = 'demo-orders'"
        )
    ).all()
    order_points = shapely.points([(x, y) for x, y, _ in orders])
    order_weights = np.array([w for _, _, w in orders])
    inside_box = shapely.covers(box(*CENTRE_BOX), order_points)
    order_points, order_weights = order_points[inside_box], order_weights[inside_box]
    servers = servers_of(order_points, active_areas(connection, mode))

    gained_somewhere = gained_area = 0
    for index, (candidate, result) in enumerate(zip(candidates, results, strict=True)):
        with connection.begin_nested() as added:
            add_site(connection, index, candidate.lon, candidate.lat, candidate.radius_m, mode)
            after_m2, after_weight = summary_of(connection, mode)
            added.rollback()
        # Areas agree to GEOS's rounding where shapes are cut (a few m² along a ragged
        # region edge); a planner's gains are in hectares.
        assert result["area_gained_m2"] == pytest.approx(after_m2 - today_m2, rel=1e-5, abs=50)
        assert result["demand_gained"] == pytest.approx(after_weight - today_weight, abs=1e-6)
        assert result["area_gained_m2"] + result["overlap_m2"] == pytest.approx(result["area_m2"])
        gained_somewhere += result["demand_gained"] > 0
        gained_area += result["area_gained_m2"] > 10_000

        inside = shapely.covers(shapely.from_geojson(json.dumps(result["geometry"])), order_points)
        lost: dict[str, float] = {}
        for point_index in np.flatnonzero(inside):
            if len(servers[point_index]) == 1:
                [alone] = servers[point_index]
                lost[alone] = lost.get(alone, 0) + order_weights[point_index]
        reported = {e["external_id"]: e["demand_weight"] for e in result["loses_exclusivity"]}
        assert {k: v for k, v in reported.items() if v} == pytest.approx(lost)
    # Not a vacuous agreement: many candidates gain area, and some gain demand.
    assert gained_somewhere >= 10 and gained_area >= 20


def test_best_next_is_greedy_by_demand_gained(connection, demo):
    rng = np.random.default_rng(5)
    candidates = [
        planning.Candidate(
            lat=float(rng.uniform(38.80, 38.99)),
            lon=float(rng.uniform(-77.12, -76.91)),
            radius_m=float(rng.uniform(1000, 3000)),
        )
        for _ in range(12)
    ]

    def what_if(sites, **extra):
        return planning.what_if(
            connection,
            region_id="dc",
            bbox=None,
            mode="express",
            candidates=sites,
            demand="demo-orders",
            timeout_ms=TIMEOUT_MS,
            **extra,
        )

    answer = what_if(candidates, best_next=3)
    picks = answer["best_next"]
    assert picks
    best_single = max(c["demand_gained"] for c in answer["candidates"])
    assert picks[0]["demand_gained"] == pytest.approx(best_single)
    # Each pick's total is what opening the picks so far would gain together.
    for n in range(1, len(picks) + 1):
        chosen = [candidates[p["candidate"]] for p in picks[:n]]
        together = what_if(chosen)["combined"]["demand_gained"]
        assert picks[n - 1]["demand_gained_total"] == pytest.approx(together)
        # ...and no other candidate added to the picks before would have gained more.
        before = [candidates[p["candidate"]] for p in picks[: n - 1]]
        base = what_if(before)["combined"]["demand_gained"] if before else 0
        for other in set(range(len(candidates))) - {p["candidate"] for p in picks[:n]}:
            alternative = what_if([*before, candidates[other]])["combined"]["demand_gained"]
            assert alternative - base <= picks[n - 1]["demand_gained"] + 1e-9


# -- drive time ------------------------------------------------------------------------


def test_drive_time_demand_and_candidates_on_a_road_grid(app, runner, connection, tmp_path):
    """The demand inside drive-time areas is their share reached within their time, and a
    drive-time candidate gains what adding it as a drive-time area would."""
    from tests.integration.test_roads import SIZE, grid_locations_csv, node_position, write_grid

    write_grid(tmp_path / "grid.osm.pbf")
    result = runner.invoke(args=["locator", "roads", "import", str(tmp_path / "grid.osm.pbf")])
    assert result.exit_code == 0, result.output
    (tmp_path / "shops.csv").write_text(grid_locations_csv())
    assert import_file(connection, tmp_path / "shops.csv", ImportOptions()).created
    (tmp_path / "drive.csv").write_text(
        "location_external_id,mode,drive_time_s\ngrid-a,express,90\ngrid-d,express,60\n"
    )
    assert import_file(connection, tmp_path / "drive.csv", ImportOptions()).created == 2
    (west, south), (east, north) = node_position(0, 0), node_position(SIZE - 1, SIZE - 1)
    rng = np.random.default_rng(9)
    lons = rng.uniform(west - 0.002, east + 0.002, 4000)
    lats = rng.uniform(south - 0.002, north + 0.002, 4000)
    weights = rng.uniform(1, 3, 4000)
    load_demand(connection, "grid-demand", lons, lats, weights)
    connection.commit()
    grid_box = (west - 0.003, south - 0.003, east + 0.003, north + 0.003)

    [figures] = planning.demand_coverage(
        connection, region_id=None, bbox=grid_box, modes=["express"], demand="grid-demand",
        timeout_ms=TIMEOUT_MS,
    ).values()  # fmt: skip
    areas = active_areas(connection, "express")
    inside = np.array([bool(s) for s in servers_of(shapely.points(lons, lats), areas)])
    assert 0 < inside.sum() < len(lons)
    assert figures["drive_time"]["areas"] == 2
    assert figures["drive_time"]["covered_weight"] == pytest.approx(weights[inside].sum())
    assert figures["covered_weight"] == figures["drive_time"]["covered_weight"]

    lon, lat = node_position(3, 3)
    site = planning.Candidate(lat=lat, lon=lon, drive_time_s=120)
    answer = planning.what_if(
        connection, region_id=None, bbox=grid_box, mode="express", candidates=[site],
        demand="grid-demand", timeout_ms=TIMEOUT_MS,
    )  # fmt: skip
    [result] = answer["candidates"]
    assert result["drive_time_s"] == 120 and result["demand_weight"] > 0
    # The same site as a location with a drive-time area, built by the importer.
    (tmp_path / "site.csv").write_text(
        f"external_id,name,kind,lat,lon\nsite,Site,store,{lat},{lon}\n"
    )
    assert import_file(connection, tmp_path / "site.csv", ImportOptions()).created
    (tmp_path / "site_area.csv").write_text(
        "location_external_id,mode,drive_time_s\nsite,express,120\n"
    )
    assert import_file(connection, tmp_path / "site_area.csv", ImportOptions()).created
    [after] = planning.demand_coverage(
        connection, region_id=None, bbox=grid_box, modes=["express"], demand="grid-demand",
        timeout_ms=TIMEOUT_MS,
    ).values()  # fmt: skip
    assert result["demand_gained"] == pytest.approx(
        after["covered_weight"] - figures["covered_weight"]
    )
    connection.rollback()
