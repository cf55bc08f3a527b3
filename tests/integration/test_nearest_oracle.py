"""Nearest-first results against a brute-force geodesic oracle on 20,000+ points.

The oracle ranks every point by its WGS84 geodesic distance (pyproj's Geod, Karney's
algorithm), independently of PostGIS. The API must return the same ids in the same order,
with distance_m within 1 m. The points include dense city clusters, exact duplicates,
neighbours across the antimeridian and points around both poles.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from pyproj import Geod
from sqlalchemy import create_engine

from app import create_app
from app.extensions import db
from app.importing import PLAUSIBILITY_CHECKS, ImportOptions, import_stream
from app.models import KINDS

GEOD = Geod(ellps="WGS84")
RNG_SEED = 20261123
CITY_CENTRES = [  # (lat, lon)
    (38.9072, -77.0369),
    (40.7128, -74.0060),
    (51.5074, -0.1278),
    (35.6762, 139.6503),
    (-33.8688, 151.2093),
    (-23.5505, -46.6333),
    (64.1466, -21.9426),
    (1.3521, 103.8198),
]


def _points() -> dict[str, np.ndarray]:
    """About 22,000 points with the hard cases in deliberate numbers."""
    rng = np.random.default_rng(RNG_SEED)
    lats, lons = [], []
    for lat, lon in CITY_CENTRES:  # city clusters, ~5 km spread
        lats.append(rng.normal(lat, 0.05, 1500))
        lons.append(rng.normal(lon, 0.05 / np.cos(np.radians(lat)), 1500))
    # Uniform over the sphere.
    lats.append(np.degrees(np.arcsin(rng.uniform(-1, 1, 3000))))
    lons.append(rng.uniform(-180, 180, 3000))
    # Both sides of the antimeridian, around Fiji.
    lats.append(rng.uniform(-17.5, -15.5, 2000))
    lons.append(np.where(rng.random(2000) < 0.5, 1, -1) * rng.uniform(179.0, 180.0, 2000))
    # Around both poles, every longitude.
    lats.append(np.concatenate([rng.uniform(88.5, 90, 1000), rng.uniform(-90, -88.5, 1000)]))
    lons.append(rng.uniform(-180, 180, 2000))
    # A dense cluster: 2,000 points within ~100 m, a fifth of them exact duplicates.
    dense_lat = rng.normal(48.8584, 0.0005, 2000)
    dense_lon = rng.normal(2.2945, 0.0007, 2000)
    dense_lat[:400] = dense_lat[400:800]
    dense_lon[:400] = dense_lon[400:800]
    lats.append(dense_lat)
    lons.append(dense_lon)
    lat = np.clip(np.concatenate(lats), -90, 90).round(6)
    lon = ((np.concatenate(lons) + 180) % 360 - 180).round(6)
    n = len(lat)
    kinds = np.array(KINDS)[rng.integers(0, len(KINDS), n)]
    # Most have pickup; some lack it, and cold_chain is a second filter to AND with.
    pickup = rng.random(n) < 0.85
    cold = rng.random(n) < 0.3
    return {"lat": lat, "lon": lon, "kind": kinds, "pickup": pickup, "cold": cold}


POINTS = _points()


def _csv(points: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["external_id", "name", "kind", "lat", "lon", "capabilities", "timezone"])
    for i in range(len(points["lat"])):
        caps = [
            c
            for c, on in (("pickup", points["pickup"][i]), ("cold_chain", points["cold"][i]))
            if on
        ]
        writer.writerow(
            [
                f"o-{i}",
                f"Point {i}",
                points["kind"][i],
                f"{points['lat'][i]:.6f}",
                f"{points['lon'][i]:.6f}",
                ";".join(caps),
                "UTC",
            ]
        )
    return out.getvalue()


@pytest.fixture(scope="module")
def oracle_db(clone_database):
    """The points imported (committed) once, into a database of the module's own."""
    with clone_database("locator_oracle") as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                report = import_stream(
                    connection,
                    "oracle.csv",
                    io.StringIO(_csv(POINTS)),
                    # Points by the poles on purpose: the plausibility checks only warn.
                    ImportOptions(allow=frozenset(PLAUSIBILITY_CHECKS)),
                )
                assert report.created == len(POINTS["lat"]) and not report.rejected
                rows = connection.exec_driver_sql(
                    "SELECT external_id, id FROM locations WHERE external_id LIKE 'o-%%'"
                ).all()
        finally:
            engine.dispose()
        ids = np.zeros(len(POINTS["lat"]), dtype=np.int64)
        for external_id, row_id in rows:
            ids[int(external_id[2:])] = row_id
        yield url, ids


@pytest.fixture(scope="module")
def api(oracle_db, tmp_path_factory):
    url, _ = oracle_db
    app = create_app({"TESTING": True, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    app.instance_path = str(tmp_path_factory.mktemp("oracle-instance"))
    yield app.test_client()
    with app.app_context():
        db.dispose()


def oracle(ids, lat, lon, radius, limit, kinds=None, cold_chain=False):
    """Brute force: every point's geodesic distance, filtered, sorted by (distance, id)."""
    n = len(POINTS["lat"])
    _, _, distance = GEOD.inv(np.full(n, lon), np.full(n, lat), POINTS["lon"], POINTS["lat"])
    keep = POINTS["pickup"] & (distance <= radius)
    if kinds:
        keep &= np.isin(POINTS["kind"], kinds)
    if cold_chain:
        keep &= POINTS["cold"]
    chosen = np.flatnonzero(keep)
    order = np.lexsort((ids[chosen], distance[chosen]))[:limit]
    return ids[chosen][order].tolist(), distance[chosen][order]


ORIGINS = [
    ("DC centre", 38.9072, -77.0369, 25_000),
    ("Tokyo edge", 35.70, 139.70, 25_000),
    ("dense cluster", 48.8584, 2.2945, 1_000),
    ("antimeridian east side", -16.5, 179.9999, 300_000),
    ("antimeridian west side", -16.5, -179.9999, 300_000),
    ("north pole", 90.0, 0.0, 200_000),
    ("south pole", -90.0, 45.0, 200_000),
    ("near north pole", 89.7, -120.0, 100_000),
    ("mid-ocean", 0.0, -140.0, 1_000_000),
    ("Reykjavik", 64.1466, -21.9426, 50_000),
]


@pytest.mark.parametrize("name, lat, lon, radius", ORIGINS, ids=[o[0] for o in ORIGINS])
def test_nearest_matches_the_brute_force_oracle(api, oracle_db, name, lat, lon, radius):
    _, ids = oracle_db
    response = api.get(f"/api/v1/pickup-points?lat={lat}&lon={lon}&radius={radius}&limit=100")
    assert response.status_code == 200, response.json
    results = response.json["results"]
    expected_ids, expected_distances = oracle(ids, lat, lon, radius, 100)
    assert len(expected_ids) > 0, "the origin should have points in range"
    assert [r["id"] for r in results] == expected_ids
    assert np.abs(np.array([r["distance_m"] for r in results]) - expected_distances).max() < 1.0


@pytest.mark.parametrize("lat, lon", [(10.0, 20.0), (-45.5, 170.2), (60.0, -100.0)])
def test_random_origins_with_filters(api, oracle_db, lat, lon):
    _, ids = oracle_db
    response = api.get(
        f"/api/v1/pickup-points?lat={lat}&lon={lon}&radius=1000000&limit=50"
        "&kind=locker&kind=store&capability=cold_chain"
    )
    expected_ids, _ = oracle(ids, lat, lon, 1_000_000, 50, ["locker", "store"], cold_chain=True)
    assert [r["id"] for r in response.json["results"]] == expected_ids


def test_neighbours_across_the_antimeridian_are_ranked_together(api):
    east = api.get("/api/v1/pickup-points?lat=-16.5&lon=179.9999&radius=300000&limit=100")
    sides = {r["lon"] > 0 for r in east.json["results"]}
    assert sides == {True, False}


def test_results_at_the_pole_do_not_depend_on_longitude(api):
    first = api.get("/api/v1/pickup-points?lat=90&lon=0&radius=200000&limit=100").json
    other = api.get("/api/v1/pickup-points?lat=90&lon=180&radius=200000&limit=100").json
    assert [r["id"] for r in first["results"]] == [r["id"] for r in other["results"]]
    assert first["results"], "points lie within 200 km of the pole"


def test_cursor_pages_continue_the_exact_order(api, oracle_db):
    _, ids = oracle_db
    url = "/api/v1/pickup-points?lat=48.8584&lon=2.2945&radius=1000&limit=40"
    seen = []
    page = api.get(url).json
    while True:
        seen += [r["id"] for r in page["results"]]
        if not page["next_cursor"] or len(seen) >= 200:
            break
        page = api.get(f"{url}&cursor={page['next_cursor']}").json
    expected_ids, _ = oracle(ids, 48.8584, 2.2945, 1000, len(seen))
    assert seen == expected_ids and len(seen) == 200
