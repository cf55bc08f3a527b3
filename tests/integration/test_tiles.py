"""Vector tiles: decoded with mapbox-vector-tile and checked against an independent oracle.

The oracle computes each tile's bounds and grid cells with pyproj (EPSG:3857 metres) and
the slippy-map formulas, in Python, and decides from the rows it generated itself which
locations and areas a tile must hold; the app computes the same in SQL (ST_TileEnvelope,
ST_AsMVT, a lon/lat envelope and Mercator y written out).
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections import Counter
from urllib.parse import quote

import mapbox_vector_tile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely import wkb
from shapely.geometry import box
from sqlalchemy import text

from app.importing import LOCATION_FIELDS, ImportOptions, import_stream
from app.limits import MAX_TILE_ZOOM
from app.queries import tokens
from app.queries.tiles import CLUSTER_CELLS, EXTENT, POINT_MIN_ZOOM, POLYGON_BUFFER
from app.services import tokens as auth

MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
HALF_WORLD_M = 20037508.342789244
# The generated network: dense around Baltimore (so high zooms have many points per
# tile), sparser over the continental US, and a few anywhere (both sides of 180°, near
# the poles, beyond Mercator's 85.05°).
CENTRE = (-76.61, 39.29)
FIXED_SEED = 20261201


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees: the slippy-map formulas."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The tile holding a point, from its EPSG:3857 metres (pyproj)."""
    mx, my = MERCATOR.transform(lon, lat)
    side = 2 * HALF_WORLD_M / 2**z
    return (
        min(2**z - 1, int((mx + HALF_WORLD_M) // side)),
        min(2**z - 1, int((HALF_WORLD_M - my) // side)),
    )


def inside(point: tuple[float, float], bounds) -> bool:
    west, south, east, north = bounds
    return west <= point[0] <= east and south <= point[1] <= north


def make_network(count: int, seed: int = FIXED_SEED) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        share = rng.random()
        if share < 0.7:
            lon, lat = rng.gauss(CENTRE[0], 0.05), rng.gauss(CENTRE[1], 0.04)
        elif share < 0.95:
            lon, lat = rng.uniform(-124, -67), rng.uniform(25, 49)
        else:
            lon, lat = rng.uniform(-180, 180), rng.uniform(-89.9, 89.9)
        rows.append(
            {
                "external_id": f"t-{i:05d}",
                "name": f"Point {i}",
                "kind": rng.choice(["store", "warehouse", "convenience_store", "locker"]),
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "timezone": "UTC",
                "status": rng.choice(["active"] * 8 + ["temporarily_closed", "retired"]),
            }
        )
    return rows


def import_csv(connection, name: str, fields, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    report = import_stream(connection, name, io.StringIO(buffer.getvalue()), ImportOptions())
    assert not report.rejected, report.rejected
    connection.commit()


@pytest.fixture
def app(make_app):
    """Quotas are tested elsewhere: the generated cases send hundreds of tile requests."""
    return make_app(RATELIMIT_ENABLED=False)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def network(connection):
    rows = make_network(1500)
    import_csv(connection, "locations.csv", LOCATION_FIELDS, rows)
    return [row for row in rows if row["status"] != "retired"]


def decode(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.data)


def layer_features(tile: dict, layer: str) -> list[dict]:
    return tile[layer]["features"] if layer in tile else []


# -- locations ------------------------------------------------------------------------

# Tiles around the dense centre and over the country, at point and cluster zooms.
zooms = st.integers(min_value=0, max_value=16)


@st.composite
def populated_tiles(draw):
    z = draw(zooms)
    lon = draw(st.floats(CENTRE[0] - 0.15, CENTRE[0] + 0.15))
    lat = draw(st.floats(CENTRE[1] - 0.12, CENTRE[1] + 0.12))
    if draw(st.booleans()):
        lon, lat = draw(st.floats(-124, -67)), draw(st.floats(25, 49))
    x, y = tile_of(lon, lat, z)
    return z, x, y


def oracle_points(network, z, x, y):
    bounds = tile_bounds(z, x, y)
    return [row for row in network if inside((row["lon"], row["lat"]), bounds)]


def oracle_cells(points, z, x, y) -> Counter:
    """Locations per CLUSTER_CELLS x CLUSTER_CELLS cell of the tile, in Mercator metres."""
    side = 2 * HALF_WORLD_M / 2**z
    west, north = -HALF_WORLD_M + x * side, HALF_WORLD_M - y * side
    cells = Counter()
    for row in points:
        mx, my = MERCATOR.transform(row["lon"], row["lat"])
        column = min(CLUSTER_CELLS - 1, int((mx - west) / side * CLUSTER_CELLS))
        line = min(CLUSTER_CELLS - 1, int((north - my) / side * CLUSTER_CELLS))
        cells[(column, line)] += 1
    return cells


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tile=populated_tiles())
def test_a_location_tile_holds_exactly_the_locations_inside_it(client, network, tile):
    z, x, y = tile
    expected = oracle_points(network, z, x, y)
    features = layer_features(decode(client.get(f"/tiles/locations/{z}/{x}/{y}.mvt")), "locations")
    if z >= POINT_MIN_ZOOM:
        got = {f["properties"]["external_id"]: f for f in features}
        assert set(got) == {row["external_id"] for row in expected}
        for row in expected:
            properties = got[row["external_id"]]["properties"]
            assert (properties["name"], properties["kind"], properties["status"]) == (
                row["name"],
                row["kind"],
                row["status"],
            )
        return
    # Clusters: the counts per grid cell, and the alone ones are themselves.
    cells = oracle_cells(expected, z, x, y)
    assert sorted(f["properties"]["count"] for f in features) == sorted(cells.values())
    assert sum(f["properties"]["count"] for f in features) == len(expected)
    alone = {f["properties"]["external_id"] for f in features if f["properties"]["count"] == 1}
    singles = {
        row["external_id"]
        for row in expected
        if cells[next(iter(oracle_cells([row], z, x, y)))] == 1
    }
    assert alone == singles
    for feature in features:
        assert feature["geometry"]["type"] == "Point"
        px, py = feature["geometry"]["coordinates"]
        assert 0 <= px <= EXTENT and 0 <= py <= EXTENT


def test_the_sampled_tiles_were_not_all_empty(client, network):
    """The oracle above would pass on empty tiles: the generated network fills some."""
    z, x, y = (POINT_MIN_ZOOM, *tile_of(*CENTRE, POINT_MIN_ZOOM))
    features = layer_features(decode(client.get(f"/tiles/locations/{z}/{x}/{y}.mvt")), "locations")
    assert len(features) == len(oracle_points(network, z, x, y)) > 10
    world = layer_features(decode(client.get("/tiles/locations/0/0/0.mvt")), "locations")
    north_of_mercator = [row for row in network if abs(row["lat"]) > 85.0511]
    assert sum(f["properties"]["count"] for f in world) == len(network) - len(north_of_mercator)
    assert len(world) <= CLUSTER_CELLS**2


def shown_locations(connection) -> list[dict]:
    """The database's own locations as they are now, those a tile shows."""
    rows = connection.execute(
        text(
            "SELECT external_id, ST_X(geog::geometry) AS lon, ST_Y(geog::geometry) AS lat"
            " FROM locations WHERE status <> 'retired'"
        )
    )
    return [dict(row._mapping) for row in rows]


def assert_clusters_match(client, locations, tiles) -> None:
    for z, x, y in tiles:
        features = layer_features(
            decode(client.get(f"/tiles/locations/{z}/{x}/{y}.mvt")), "locations"
        )
        cells = oracle_cells(oracle_points(locations, z, x, y), z, x, y)
        assert sorted(f["properties"]["count"] for f in features) == sorted(cells.values())
        alone = {f["properties"]["external_id"] for f in features if f["properties"]["count"] == 1}
        assert len(alone) == sum(1 for count in cells.values() if count == 1)


def test_clusters_follow_every_kind_of_write(client, connection, network, token):
    """The precomputed cells (migration 0014) against the locations as they are after
    imports that move, retire, bring back and rename locations, an admin PUT and DELETE,
    and plain SQL: every cluster tile is what a fresh count of the database gives."""
    tiles = [(z, *tile_of(*CENTRE, z)) for z in range(POINT_MIN_ZOOM)]
    tiles += [(z, *tile_of(-100.0, 40.0, z)) for z in (3, 5, 7)]
    rng = random.Random(FIXED_SEED + 1)
    changed = []
    for row in rng.sample(network, 300):
        row = dict(row)
        action = rng.choice(["move", "retire", "rename", "close"])
        if action == "move":
            row["lon"] = round(row["lon"] + rng.uniform(-0.2, 0.2), 6)
            row["lat"] = round(max(-89.0, min(89.0, row["lat"] + rng.uniform(-0.2, 0.2))), 6)
        elif action == "retire":
            row["status"] = "retired"
        elif action == "rename":
            row["name"] += " (renamed)"
        else:
            row["status"] = "temporarily_closed"
        changed.append(row)
    import_csv(connection, "locations.csv", LOCATION_FIELDS, changed)
    assert_clusters_match(client, shown_locations(connection), tiles)

    # Retired ones come back; new ones arrive beside them (one statement each).
    back = [{**row, "status": "active"} for row in changed if row["status"] == "retired"]
    new = [{**row, "external_id": f"new-{i}"} for i, row in enumerate(network[:50])]
    import_csv(connection, "locations.csv", LOCATION_FIELDS, back + new)
    assert_clusters_match(client, shown_locations(connection), tiles)

    headers = {"Authorization": f"Bearer {token}"}
    moved = {"name": "Moved", "kind": "store", "lat": CENTRE[1] + 0.01, "lon": CENTRE[0]}
    assert client.put("/api/v1/locations/new-1", json=moved, headers=headers).status_code in (
        200,
        201,
    )
    assert client.delete("/api/v1/locations/new-2", headers=headers).status_code in (200, 204)
    connection.execute(
        text("UPDATE locations SET status = 'retired' WHERE external_id LIKE 't-001%'")
    )
    connection.execute(text("DELETE FROM locations WHERE external_id LIKE 't-002%'"))
    connection.commit()
    assert_clusters_match(client, shown_locations(connection), tiles)
    # Nothing left shown: no cell is left behind either.
    connection.execute(text("UPDATE locations SET status = 'retired'"))
    connection.commit()
    assert connection.execute(text("SELECT count(*) FROM location_tile_cells")).scalar() == 0


# -- service areas --------------------------------------------------------------------


@pytest.fixture
def areas(connection, network):
    """Radius areas around some of the network's locations, two modes."""
    rng = random.Random(FIXED_SEED)
    near = [row for row in network if abs(row["lat"]) < 60][:300]
    rows = [
        {
            "location_external_id": row["external_id"],
            "mode": rng.choice(["delivery", "express"]),
            "radius_m": rng.choice([1500, 4000, 9000]),
        }
        for row in near
    ]
    import_csv(connection, "service_areas.csv", ["location_external_id", "mode", "radius_m"], rows)
    shapes = connection.execute(
        text(
            "SELECT l.external_id, a.mode, ST_AsBinary(a.geom) FROM service_areas AS a"
            " JOIN locations AS l ON l.id = a.location_id"
        )
    ).all()
    return [(external_id, mode, wkb.loads(bytes(shape))) for external_id, mode, shape in shapes]


@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tile=populated_tiles(), modes=st.sampled_from([(), ("delivery",), ("express",)]))
def test_an_area_tile_holds_the_areas_that_meet_it(client, areas, tile, modes):
    z, x, y = tile
    query = "&".join(f"mode={mode}" for mode in modes)
    response = client.get(f"/tiles/service_areas/{z}/{x}/{y}.mvt?{query}")
    features = layer_features(decode(response), "service_areas")
    got = {(f["properties"]["location"], f["properties"]["mode"]) for f in features}
    west, south, east, north = tile_bounds(z, x, y)
    margin = (east - west) * POLYGON_BUFFER / EXTENT
    pixel = (east - west) / 256
    tile_box = box(west, south, east, north)
    wide_box = box(west - margin, south - margin, east + margin, north + margin)
    shown = [a for a in areas if not modes or a[1] in modes]
    # Must hold every area that covers a good share of a pixel inside the tile (and is
    # itself at least a pixel across); may hold any area that meets the tile's margin.
    must = {
        (e, m)
        for e, m, shape in shown
        if shape.intersection(tile_box).area > 4 * pixel**2
        and max(shape.bounds[2] - shape.bounds[0], shape.bounds[3] - shape.bounds[1]) >= pixel
    }
    may = {(e, m) for e, m, shape in shown if shape.intersects(wide_box)}
    assert must <= got <= may
    for feature in features:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert not modes or feature["properties"]["mode"] in modes


def test_area_tiles_are_not_all_empty(client, areas):
    z, x, y = (10, *tile_of(*CENTRE, 10))
    features = layer_features(
        decode(client.get(f"/tiles/service_areas/{z}/{x}/{y}.mvt")), "service_areas"
    )
    assert len(features) > 10
    express = layer_features(
        decode(client.get(f"/tiles/service_areas/{z}/{x}/{y}.mvt?mode=express")), "service_areas"
    )
    assert 0 < len(express) < len(features)
    assert {f["properties"]["mode"] for f in express} == {"express"}


# -- ETag, 304 and the data version -----------------------------------------------------


@pytest.fixture
def token(connection):
    value = auth.new_token()
    tokens.create_token(connection, "tiles-admin", auth.hash_token(value), list(auth.SCOPES))
    connection.commit()
    return value


def test_etag_and_304_follow_the_data_version(client, connection, network, token):
    url = "/tiles/locations/12/{}/{}.mvt".format(*tile_of(*CENTRE, 12))
    first = client.get(url)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and etag.endswith('"')
    assert "max-age=" in first.headers["Cache-Control"]

    cached = client.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b"" and cached.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    # Another layer, or other parameters, is another entity.
    other = client.get(url.replace("locations", "service_areas"))
    assert other.headers["ETag"] != etag
    express = client.get(url.replace("locations", "service_areas") + "?mode=express")
    assert express.headers["ETag"] != other.headers["ETag"]

    seen = {etag}
    headers = {"Authorization": f"Bearer {token}"}
    locker = {"name": "New Locker", "kind": "locker", "lat": CENTRE[1], "lon": CENTRE[0]}

    def changed() -> str:
        response = client.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 200
        new = response.headers["ETag"]
        assert new not in seen
        seen.add(new)
        return new

    # An admin PUT: the tile changes, and holds the new locker.
    assert client.put("/api/v1/locations/new-1", json=locker, headers=headers).status_code in (
        200,
        201,
    )
    etag = changed()
    ids = {f["properties"]["external_id"] for f in decode(client.get(url))["locations"]["features"]}
    assert "new-1" in ids
    # An admin service-area PUT (another table), a DELETE, and an import.
    area = {"radius_m": 2000}
    response = client.put(
        "/api/v1/locations/new-1/service-areas/express", json=area, headers=headers
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    etag = changed()
    assert client.delete("/api/v1/locations/new-1", headers=headers).status_code in (200, 204)
    etag = changed()
    import_csv(
        connection,
        "locations.csv",
        LOCATION_FIELDS,
        [{**network[0], "external_id": "imported-1", "name": "Imported"}],
    )
    etag = changed()
    # Nothing written: the version, and so the ETag, stays.
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


# -- strict z/x/y -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/tiles/locations/-1/0/0.mvt", 400, "z"),
        ("/tiles/locations/01/0/0.mvt", 400, "z"),
        ("/tiles/locations/+1/0/0.mvt", 400, "z"),
        ("/tiles/locations/1.0/0/0.mvt", 400, "z"),
        ("/tiles/locations/1e1/0/0.mvt", 400, "z"),
        ("/tiles/locations/%D9%A1/0/0.mvt", 400, "z"),
        ("/tiles/locations/1_0/0/0.mvt", 400, "z"),
        ("/tiles/locations/ 1/0/0.mvt", 400, "z"),
        (f"/tiles/locations/{MAX_TILE_ZOOM + 1}/0/0.mvt", 404, "z"),
        ("/tiles/locations/99999999999999999999/0/0.mvt", 400, "z"),
        ("/tiles/locations/2/4/0.mvt", 404, "x"),
        ("/tiles/locations/2/0/4.mvt", 404, "y"),
        ("/tiles/locations/0/0/x.mvt", 400, "y"),
        ("/tiles/service_areas/3/8/0.mvt", 404, "x"),
        ("/tiles/service_areas/3/1/1.mvt?mode=air", 400, "mode"),
        ("/tiles/locations/3/1/1.mvt?mode=delivery", 400, "mode"),
        ("/tiles/locations/3/1/1.mvt?x=1", 400, "x"),
        ("/tiles/roads/3/1/1.mvt", 404, "path"),
        ("/tiles/locations/3/1/1.png", 404, "path"),
    ],
)
def test_bad_tile_coordinates_are_problems_naming_the_field(client, path, status, field):
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    # A repeatable parameter's error names the item: mode[0].
    assert field in {error["field"].split("[")[0] for error in response.get_json()["errors"]}


# The app is only read from: sharing it between examples is safe.
@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    z=st.one_of(st.integers(-5, 40).map(str), st.text(max_size=6)),
    x=st.one_of(st.integers(-5, 70).map(str), st.text(max_size=6)),
    y=st.one_of(st.integers(-5, 70).map(str), st.text(max_size=6)),
)
def test_any_tile_path_is_a_tile_or_a_4xx_problem(app, z, x, y):
    client = app.test_client()
    response = client.get(
        f"/tiles/locations/{quote(z, safe='')}/{quote(x, safe='')}/{quote(y, safe='')}.mvt"
    )
    if response.status_code == 200:
        zoom, column, row = int(z), int(x), int(y)
        assert str(zoom) == z and 0 <= zoom <= MAX_TILE_ZOOM
        assert 0 <= column < 2**zoom and 0 <= row < 2**zoom
        assert response.mimetype == "application/vnd.mapbox-vector-tile"
    else:
        assert response.status_code in (400, 404), response.status_code
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["errors"], response.get_json()


def test_a_point_on_the_antimeridian_and_the_mercator_edges(client, connection):
    rows = [
        {**make_network(1)[0], "external_id": name, "lon": lon, "lat": lat, "status": "active"}
        for name, lon, lat in [
            ("east-180", 180.0, -16.5),
            ("west-180", -180.0, -16.5),
            ("polar", 0.0, 89.9),  # beyond Mercator (an exact pole is refused on import)
            ("edge", 10.0, 85.0),
        ]
    ]
    import_csv(connection, "locations.csv", LOCATION_FIELDS, rows)
    z = POINT_MIN_ZOOM
    west_x, row_y = tile_of(-180.0, -16.5, z)
    ids = {
        f["properties"]["external_id"]
        for f in layer_features(
            decode(client.get(f"/tiles/locations/{z}/{west_x}/{row_y}.mvt")), "locations"
        )
    }
    assert "west-180" in ids
    east = {
        f["properties"]["external_id"]
        for f in layer_features(
            decode(client.get(f"/tiles/locations/{z}/{2**z - 1}/{row_y}.mvt")), "locations"
        )
    }
    assert "east-180" in east
    ex, ey = tile_of(10.0, 85.0, z)
    edge = layer_features(decode(client.get(f"/tiles/locations/{z}/{ex}/{ey}.mvt")), "locations")
    assert [f["properties"]["external_id"] for f in edge] == ["edge"]
    # Beyond 85.0511° there is no Mercator position: in no tile, and no error.
    top = layer_features(decode(client.get("/tiles/locations/0/0/0.mvt")), "locations")
    assert sum(f["properties"]["count"] for f in top) == 3
