"""Road network import and road legs on a small hand-made extract, against networkx.

The extract is written with osmium's SimpleWriter: a grid of streets with known one-way,
access and maxspeed tags. The oracle rebuilds the graph from the rules written out here
(not from the importer's code) and from the imported edge table, and compares shortest
durations with networkx's Dijkstra and a brute-force geodesic attachment.
"""

from __future__ import annotations

import io
import itertools
import math

import networkx as nx
import osmium
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape
from sqlalchemy import text

from app.cli import DEMO_ROADS
from app.extensions import db
from app.importing import ImportOptions, import_stream
from app.queries import roads as roads_sql
from app.queries import tokens
from app.queries.locations import get_location
from app.services import road_network
from app.services import tokens as auth
from app.services.roads import road_legs
from tests.integration.roads_oracle import GEOD, RoadOracle, oracle_graph

# A 6 x 6 grid of intersections about 200 m apart, near Baltimore.
WEST, SOUTH, STEP = -76.62, 39.29, 0.0023
SIZE = 6

# Street tags by (orientation, index): rows run west->east, columns south->north.
STREET_TAGS = {
    ("row", 0): {"highway": "primary", "maxspeed": "30 mph"},
    ("row", 1): {"highway": "residential", "oneway": "yes"},
    ("row", 2): {"highway": "residential", "oneway": "-1"},
    ("row", 3): {"highway": "secondary", "maxspeed": "50"},
    ("row", 4): {"highway": "residential", "access": "private"},
    ("row", 5): {"highway": "tertiary", "maxspeed": "US:urban"},
    ("col", 0): {"highway": "residential"},
    ("col", 1): {"highway": "residential", "oneway": "true", "maxspeed": "none"},
    ("col", 2): {"highway": "footway"},
    ("col", 3): {"highway": "service", "access": "no", "motorcar": "yes"},
    ("col", 4): {"highway": "unclassified", "motor_vehicle": "no"},
    ("col", 5): {"highway": "living_street"},
}


def node_id(row: int, col: int) -> int:
    return 1000 + row * SIZE + col


def node_position(row: int, col: int) -> tuple[float, float]:
    return WEST + col * STEP * 1.3, SOUTH + row * STEP


def street_nodes(orientation: str, index: int) -> list[int]:
    if orientation == "row":
        return [node_id(index, col) for col in range(SIZE)]
    return [node_id(row, index) for row in range(SIZE)]


def write_grid(path) -> None:
    """The grid extract, plus a roundabout-free detached dead end and a 'reversible' way."""
    with osmium.SimpleWriter(str(path)) as writer:
        for row in range(SIZE):
            for col in range(SIZE):
                writer.add_node(
                    osmium.osm.mutable.Node(id=node_id(row, col), location=node_position(row, col))
                )
        writer.add_node(osmium.osm.mutable.Node(id=9001, location=(WEST - 0.01, SOUTH - 0.01)))
        writer.add_node(osmium.osm.mutable.Node(id=9002, location=(WEST - 0.011, SOUTH - 0.01)))
        way = 1
        for (orientation, index), tags in sorted(STREET_TAGS.items()):
            writer.add_way(
                osmium.osm.mutable.Way(id=way, nodes=street_nodes(orientation, index), tags=tags)
            )
            way += 1
        writer.add_way(
            osmium.osm.mutable.Way(id=500, nodes=[9001, 9002], tags={"highway": "residential"})
        )
        writer.add_way(
            osmium.osm.mutable.Way(
                id=501,
                nodes=[node_id(0, 0), node_id(1, 1)],
                tags={"highway": "primary", "oneway": "reversible"},
            )
        )


# What the rules above say, written out by hand: speeds (km/h) and directions per street.
SPEED_30_MPH = 30 * 1.609344 * 0.8
EXPECTED = {
    ("row", 0): (SPEED_30_MPH, True, True),
    ("row", 1): (25, True, False),
    ("row", 2): (25, False, True),
    ("row", 3): (40.0, True, True),  # 50 km/h posted, driven at 80%
    ("row", 5): (40, True, True),  # US:urban names no number: the tertiary speed
    ("col", 0): (25, True, True),
    ("col", 1): (25, True, False),  # maxspeed=none: the class speed
    ("col", 3): (15, True, True),  # access=no but motorcar=yes: open to cars
    ("col", 5): (10, True, True),
}


@pytest.fixture
def grid_file(tmp_path):
    path = tmp_path / "grid.osm.pbf"
    write_grid(path)
    return path


@pytest.fixture
def grid_network(app, runner, grid_file):
    result = runner.invoke(args=["locator", "roads", "import", str(grid_file)])
    assert result.exit_code == 0, result.output
    with app.app_context(), db.engine.connect() as connection:
        network = roads_sql.current_network(connection)
        edges = roads_sql.edge_rows(connection, network.version)
        vertices = roads_sql.vertex_rows(connection, network.version)
    return network, edges, vertices, result.output


def test_import_keeps_drivable_streets_split_at_intersections(grid_network):
    network, edges, vertices, output = grid_network
    by_way: dict[int, list[dict]] = {}
    for edge in edges:
        by_way.setdefault(edge["osm_way_id"], []).append(edge)
    ways = {way: key for way, key in enumerate(sorted(STREET_TAGS), start=1)}
    kept = {ways[way] for way in by_way if way in ways}
    assert kept == set(EXPECTED)
    for way, street in ways.items():
        if street not in EXPECTED:
            continue
        speed, forward, backward = EXPECTED[street]
        # Split where a drivable street of the other direction crosses it (inside the
        # grid: the ends are vertices anyway).
        other = "col" if street[0] == "row" else "row"
        crossings = sum((other, i) in EXPECTED for i in range(1, SIZE - 1))
        assert len(by_way[way]) == crossings + 1, street
        for edge in by_way[way]:
            assert edge["speed_kmh"] == pytest.approx(speed)
            seconds = edge["length_m"] / (speed / 3.6)
            assert (edge["cost"] >= 0) == forward and (edge["reverse_cost"] >= 0) == backward
            if forward:
                assert edge["cost"] == pytest.approx(seconds)
            if backward:
                assert edge["reverse_cost"] == pytest.approx(seconds)
    assert 500 in by_way and 501 not in by_way  # detached dead end kept; reversible not
    assert network.edges == len(edges) and network.vertices == len(vertices)
    assert "largest strongly connected component" in output
    # The detached dead end is not in the main component; the grid is.
    main = {v["id"] for v in vertices if v["in_main_component"]}
    assert 9001 not in main and node_id(3, 3) in main
    assert network.largest_component_share == pytest.approx(len(main) / len(vertices))


def test_the_main_component_is_networkx_s_largest_strong_component(grid_network):
    _, edges, vertices, _ = grid_network
    largest = max(nx.strongly_connected_components(oracle_graph(edges)), key=len)
    assert {v["id"] for v in vertices if v["in_main_component"]} == largest


positions = st.tuples(
    st.floats(WEST - 0.002, WEST + SIZE * STEP * 1.3 + 0.002),
    st.floats(SOUTH - 0.002, SOUTH + SIZE * STEP + 0.002),
)


@pytest.fixture
def grid_oracle(app, grid_network):
    _, edges, vertices, _ = grid_network
    return app, RoadOracle(edges, vertices)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    origin=positions,
    destinations=st.lists(positions, min_size=1, max_size=6),
    to_point=st.booleans(),
)
def test_road_legs_match_networkx_dijkstra(grid_oracle, origin, destinations, to_point):
    app, oracle = grid_oracle
    others = [(index, lat, lon) for index, (lon, lat) in enumerate(destinations)]
    with app.app_context(), db.engine.connect() as connection:
        legs = road_legs(
            connection, (origin[1], origin[0]), others, "to_point" if to_point else "from_point"
        )
    expectations = oracle.durations(origin, destinations, to_point)
    for index, (destination, expected) in enumerate(zip(destinations, expectations, strict=True)):
        if expected is None:
            assert index not in legs
            continue
        assert legs[index].duration_s == pytest.approx(expected, abs=1e-6)
        assert legs[index].road_distance_m >= GEOD.inv(*origin, *destination)[2] - 1e-6


def test_one_way_streets_make_the_directions_differ(grid_oracle):
    app, oracle = grid_oracle
    # Row 1 runs west->east only: along it east is quicker than back west.
    west, east = node_position(1, 1), node_position(1, 4)
    with app.app_context(), db.engine.connect() as connection:
        there = road_legs(connection, (west[1], west[0]), [("e", east[1], east[0])])
        back = road_legs(connection, (east[1], east[0]), [("w", west[1], west[0])])
    assert there["e"].duration_s < back["w"].duration_s
    assert there["e"].duration_s == pytest.approx(oracle.duration(west, east))
    assert back["w"].duration_s == pytest.approx(oracle.duration(east, west))


def test_without_a_network_road_legs_are_absent(app):
    with app.app_context(), db.engine.connect() as connection:
        assert road_legs(connection, (39.3, -76.6), [("a", 39.31, -76.61)]) == {}


def test_far_points_are_not_attached(grid_oracle):
    app, _ = grid_oracle
    inside = node_position(3, 3)  # a vertex: no off-network leg
    others = [("near", inside[1], inside[0]), ("far", 40.0, -76.6)]
    with app.app_context(), db.engine.connect() as connection:
        legs = road_legs(connection, (inside[1], inside[0]), others)
    assert set(legs) == {"near"} and legs["near"].duration_s == 0


def test_a_failing_import_leaves_the_old_network_serving(app, runner, grid_network, tmp_path):
    network, _, _, _ = grid_network
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"this is not a pbf file at all")
    result = runner.invoke(args=["locator", "roads", "import", str(broken)])
    assert result.exit_code != 0
    assert "cannot read broken.osm.pbf as OSM data" in result.output
    with app.app_context(), db.engine.connect() as connection:
        assert roads_sql.current_network(connection) == network


def test_a_new_import_replaces_the_version_whole(app, runner, grid_network, grid_file):
    network, edges, _, _ = grid_network
    result = runner.invoke(args=["locator", "roads", "import", str(grid_file)])
    assert result.exit_code == 0, result.output
    with app.app_context(), db.engine.connect() as connection:
        current = roads_sql.current_network(connection)
        assert current.version > network.version
        assert len(roads_sql.edge_rows(connection, current.version)) == len(edges)
        assert roads_sql.edge_rows(connection, network.version) == []


def test_import_refuses_a_missing_file_and_a_file_without_roads(runner, tmp_path):
    result = runner.invoke(args=["locator", "roads", "import", str(tmp_path / "none.osm.pbf")])
    assert result.exit_code != 0 and "does not exist" in result.output
    empty = tmp_path / "empty.osm.pbf"
    with osmium.SimpleWriter(str(empty)) as writer:
        writer.add_node(osmium.osm.mutable.Node(id=1, location=(1.0, 2.0)))
    result = runner.invoke(args=["locator", "roads", "import", str(empty)])
    assert result.exit_code != 0 and "has no drivable roads" in result.output


@pytest.mark.parametrize(
    ("tag", "kmh"),
    [
        ("50", 50.0),
        ("30 mph", 30 * 1.609344),
        ("20 knots", 20 * 1.852),
        ("50;30", 50.0),
        ("none", None),
        ("US:urban", None),
        ("signals", None),
        ("0", None),
        ("", None),
    ],
)
def test_maxspeed_parsing(tag, kmh):
    parsed = road_network.parse_maxspeed(tag)
    assert (parsed is None and kmh is None) or math.isclose(parsed, kmh)


# -- drive-time areas, travel-time ranking and the partition on the grid ---------------

GRID_LOCATIONS = [
    # external_id, (row, col) of the intersection it stands at
    ("grid-a", (0, 0)),
    ("grid-b", (5, 5)),
    ("grid-c", (3, 1)),
    ("grid-d", (0, 5)),
]


def import_text(app, name: str, body: str):
    with app.app_context(), db.transaction() as connection:
        return import_stream(connection, name, io.StringIO(body), ImportOptions())


def grid_locations_csv() -> str:
    lines = ["external_id,name,kind,lat,lon,capabilities,timezone"]
    for external_id, (row, col) in GRID_LOCATIONS:
        lon, lat = node_position(row, col)
        lines.append(
            f"{external_id},Shop {external_id},store,{lat},{lon},pickup;delivery,America/New_York"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture
def grid_shops(app, grid_network):
    report = import_text(app, "locations.csv", grid_locations_csv())
    assert report.applied and report.created == len(GRID_LOCATIONS)
    return grid_network


@pytest.fixture
def token(connection):
    value = auth.new_token()
    tokens.create_token(connection, "roads-admin", auth.hash_token(value), list(auth.SCOPES))
    connection.commit()
    return {"Authorization": f"Bearer {value}"}


def area_row(app, external_id: str, mode: str) -> dict:
    with app.app_context(), db.engine.connect() as connection:
        rows = [
            row
            for row in roads_sql.drive_time_areas(connection)
            if row["location_id"] == _location_id(connection, external_id) and row["mode"] == mode
        ]
        assert len(rows) == 1
        return rows[0]


def _location_id(connection, external_id: str) -> int:
    return get_location(connection, external_id)["id"]


def served(client, lon: float, lat: float, mode: str) -> set[str]:
    response = client.get(f"/api/v1/coverage?lat={lat}&lon={lon}&mode={mode}")
    assert response.status_code == 200, response.json
    return {row["external_id"] for row in response.json["served_by"]}


def test_a_drive_time_area_through_the_admin_api_covers_what_is_reached(
    app, client, grid_shops, token
):
    network = grid_shops[0]
    response = client.put(
        "/api/v1/locations/grid-a/service-areas/express",
        json={"drive_time_s": 120},
        headers=token,
    )
    assert response.status_code == 201, response.json
    stored = area_row(app, "grid-a", "express")
    assert stored["drive_time_s"] == 120
    with app.app_context(), db.engine.connect() as connection:
        version = connection.execute(
            text("SELECT network_version, source FROM service_areas WHERE drive_time_s = 120")
        ).one()
    assert tuple(version) == (network.version, "drive_time")
    # 120 s from (0, 0) along row 0 (30 mph posted: 38.6 km/h) reaches about 1.3 km:
    # the first intersection east of it, 300 m away, is in; the far corner is not.
    near_lon, near_lat = node_position(0, 1)
    far_lon, far_lat = node_position(5, 5)
    assert "grid-a" in served(client, near_lon, near_lat, "express")
    assert "grid-a" not in served(client, far_lon, far_lat, "express")


def test_drive_time_areas_agree_with_the_oracle_on_grid_points(app, client, grid_shops, token):
    oracle = RoadOracle(*grid_shops[1:3])
    seconds = 150
    response = client.put(
        "/api/v1/locations/grid-c/service-areas/delivery",
        json={"drive_time_s": seconds},
        headers=token,
    )
    assert response.status_code == 201
    origin = node_position(3, 1)
    # The intersections themselves (no off-network leg at either end): reached or not,
    # decided by the oracle; the polygon must agree on every one.
    checked = 0
    for row in range(SIZE):
        for col in range(SIZE):
            point = node_position(row, col)
            attached = oracle.attach(*point)
            if attached is None or attached[1] > 1:
                continue  # not a vertex (a footway crossing): its leg blurs the edge
            duration = oracle.duration(origin, point)
            reached = duration is not None and duration <= seconds
            assert reached == ("grid-c" in served(client, *point, "delivery")), (row, col)
            checked += 1
    assert checked >= 20


def test_drive_time_areas_from_csv_with_rejections_by_line(app, grid_shops):
    report = import_text(
        app,
        "areas.csv",
        "location_external_id,mode,drive_time_s\ngrid-a,delivery,600\ngrid-b,delivery,10\n"
        "grid-c,delivery,1.5\nnobody,delivery,600\n",
    )
    assert not report.applied
    rejected = {(r.row, r.field) for r in report.rejected}
    assert rejected == {
        (3, "drive_time_s"),
        (4, "drive_time_s"),
        (5, "location_external_id"),
    }
    report = import_text(
        app,
        "areas.csv",
        "location_external_id,mode,drive_time_s\ngrid-a,delivery,600\ngrid-b,express,300\n",
    )
    assert report.applied and report.created == 2
    assert area_row(app, "grid-b", "express")["drive_time_s"] == 300
    # The same file again changes nothing.
    report = import_text(
        app,
        "areas.csv",
        "location_external_id,mode,drive_time_s\ngrid-a,delivery,600\ngrid-b,express,300\n",
    )
    assert report.applied and report.created == 0 and report.unchanged == 2


def test_a_new_network_rebuilds_the_drive_time_areas(app, runner, grid_shops, grid_file):
    import_text(app, "areas.csv", "location_external_id,mode,drive_time_s\ngrid-a,delivery,300\n")
    result = runner.invoke(args=["locator", "roads", "import", str(grid_file)])
    assert result.exit_code == 0 and "1 drive-time areas rebuilt" in result.output
    with app.app_context(), db.engine.connect() as connection:
        current = roads_sql.current_network(connection).version
        assert (
            connection.execute(
                text("SELECT network_version FROM service_areas WHERE source = 'drive_time'")
            ).scalar_one()
            == current
        )
    result = runner.invoke(args=["locator", "roads", "refresh-areas"])
    assert result.exit_code == 0 and "1 drive-time areas rebuilt" in result.output


def test_drive_times_need_a_network_and_bounded_seconds(app, client, token):
    import_text(app, "locations.csv", grid_locations_csv())
    response = client.put(
        "/api/v1/locations/grid-a/service-areas/express",
        json={"drive_time_s": 600},
        headers=token,
    )
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "drive_time_s"
    assert "no road network" in response.json["errors"][0]["message"]
    for bad in (0, 59, 7201, "ten", 1e300, True):
        response = client.put(
            "/api/v1/locations/grid-a/service-areas/express",
            json={"drive_time_s": bad},
            headers=token,
        )
        assert response.status_code == 400, bad
        assert response.json["errors"][0]["field"] == "drive_time_s"
    response = client.get("/api/v1/pickup-points?lat=39.29&lon=-76.62&rank=travel_time")
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "rank"
    response = client.get("/api/v1/coverage/partition?mode=delivery&bbox=-76.63,39.28,-76.6,39.31")
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "drive_time_s"


def test_rank_by_travel_time_is_the_oracle_s_order(app, client, grid_shops):
    oracle = RoadOracle(*grid_shops[1:3])
    positions = {external_id: node_position(*cell) for external_id, cell in GRID_LOCATIONS}
    for origin in [node_position(r, c) for r in range(SIZE) for c in range(0, SIZE, 2)]:
        response = client.get(
            f"/api/v1/pickup-points?lat={origin[1]}&lon={origin[0]}&rank=travel_time&limit=10"
        )
        assert response.status_code == 200, response.json
        results = response.json["results"]
        expected = sorted(
            (oracle.duration(origin, position), external_id)
            for external_id, position in positions.items()
        )
        assert [r["external_id"] for r in results] == [e for _, e in expected]
        for result, (seconds, _) in zip(results, expected, strict=True):
            assert result["duration_s"] == pytest.approx(seconds, abs=0.05)
            assert result["road_distance_m"] >= result["distance_m"] - 0.1


def test_rank_by_travel_time_refuses_a_cursor(client):
    response = client.get("/api/v1/pickup-points?lat=39.29&lon=-76.62&rank=travel_time&cursor=abc")
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "cursor"


def test_the_partition_is_disjoint_and_covers_the_union(app, client, grid_shops, token):
    seconds = 180
    for external_id, _ in GRID_LOCATIONS:
        response = client.put(
            f"/api/v1/locations/{external_id}/service-areas/delivery",
            json={"drive_time_s": seconds},
            headers=token,
        )
        assert response.status_code == 201
    bbox = (WEST - 0.01, SOUTH - 0.01, WEST + 0.03, SOUTH + 0.03)
    response = client.get(
        f"/api/v1/coverage/partition?mode=delivery&drive_time_s={seconds}"
        f"&bbox={','.join(map(str, bbox))}"
    )
    assert response.status_code == 200, response.json
    assert response.headers["Content-Type"].startswith("application/geo+json")
    features = response.json["features"]
    assert {f["properties"]["location_id"] for f in features} == {e for e, _ in GRID_LOCATIONS}
    pieces = {f["properties"]["location_id"]: shape(f["geometry"]) for f in features}
    for a, b in itertools.combinations(pieces, 2):
        assert pieces[a].intersection(pieces[b]).area < 1e-12, (a, b)
    with app.app_context(), db.engine.connect() as connection:
        areas = connection.execute(
            text("SELECT ST_AsBinary(geom) FROM service_areas WHERE mode = 'delivery'")
        ).scalars()
        union = shapely.union_all([shapely.from_wkb(bytes(a)) for a in areas])
    covered = shapely.union_all(list(pieces.values()))
    # Up to slivers: the areas' roads are simplified by 5 m before buffering, and a road
    # reached part way by one location and whole by another simplifies differently.
    assert covered.symmetric_difference(union).area < 1e-4 * union.area
    # Each location's own corner is in its own piece.
    for external_id, cell in GRID_LOCATIONS:
        assert pieces[external_id].covers(Point(node_position(*cell)))


def test_the_demo_brings_baltimore_s_roads_shops_and_express_areas(app, runner):
    result = runner.invoke(args=["locator", "load-demo"])
    assert result.exit_code == 0, result.output
    assert "road network version" in result.output
    with app.app_context(), db.engine.connect() as connection:
        network = roads_sql.current_network(connection)
        assert network.source_name == "baltimore.osm.pbf"
        areas = roads_sql.drive_time_areas(connection)
        assert areas and all(a["drive_time_s"] == 600 for a in areas)
        assert {a["mode"] for a in areas} == {"express"}
        shops = connection.execute(
            text("SELECT count(*) FROM locations WHERE external_id LIKE 'osm-%'")
        ).scalar_one()
    assert shops == len(road_network.osm_shops(DEMO_ROADS))
