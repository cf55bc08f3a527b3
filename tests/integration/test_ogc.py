"""OGC API - Features at /ogc, /api/v1/service-areas paging, and RFC 7946 ring orientation.

The oracle for paging and bbox is the database's own rows read with plain SQL and tested
with shapely; the third-party client is Debian's GDAL (ogrinfo and ogr2ogr with the OAPIF
driver) against a live server on loopback.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import threading
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from shapely import wkb, wkt
from shapely.geometry import box, shape
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.importing import ImportOptions, import_stream
from app.limits import MAX_OGC_ITEMS
from tests.conftest import load_demo_database

OGC_DATABASE = "locator_ogc"
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CLASS = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
# Boxes over the demo network (around Washington DC), one over nothing, one across 180°.
BOXES = [
    None,
    (-77.1, 38.85, -76.95, 38.95),
    (-77.5, 38.5, -76.5, 39.5),
    (10.0, 10.0, 11.0, 11.0),
    (170.0, -10.0, -170.0, 10.0),
]


@pytest.fixture(scope="module")
def ogc_database(clone_database):
    """The demo network, committed, in a database of this module's own."""
    with clone_database(OGC_DATABASE) as url:
        load_demo_database(url)
        yield url


@pytest.fixture(scope="module")
def ogc_app(ogc_database):
    # Quotas are tested elsewhere; GDAL and the paging walks send hundreds of requests.
    settings = {"DATABASE_URL": ogc_database, "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": False}
    app = create_app({"TESTING": True, **settings})
    yield app
    with app.app_context():
        db.dispose()


@pytest.fixture
def ogc_client(ogc_app):
    return ogc_app.test_client()


@pytest.fixture(scope="module")
def rows(ogc_database):
    """What the database holds, read with plain SQL: the paging oracle."""
    engine = create_engine(ogc_database)
    try:
        with engine.connect() as connection:
            locations = connection.execute(
                text("SELECT external_id, ST_AsBinary(geog::geometry) FROM locations ORDER BY id")
            ).all()
            areas = connection.execute(
                text(
                    "SELECT a.id, ST_AsBinary(a.geom) FROM service_areas AS a"
                    " JOIN locations AS l ON l.id = a.location_id"
                    " WHERE l.status <> 'retired' ORDER BY a.id"
                )
            ).all()
    finally:
        engine.dispose()
    return {
        "locations": [(key, wkb.loads(bytes(geom))) for key, geom in locations],
        "service_areas": [(key, wkb.loads(bytes(geom))) for key, geom in areas],
    }


def oracle_ids(rows, collection, bbox):
    if bbox is None:
        return [key for key, _ in rows[collection]]
    west, south, east, north = bbox
    halves = (
        [box(west, south, east, north)]
        if west <= east
        else [
            box(west, south, 180, north),
            box(-180, south, east, north),
        ]
    )
    return [key for key, geom in rows[collection] if any(geom.intersects(h) for h in halves)]


def local(url: str) -> str:
    """An absolute link as the test client's path and query."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def links_by_rel(document: dict) -> dict[str, dict]:
    links = document["links"]
    assert links
    for link in links:
        assert link["href"].startswith("http") and link["rel"] and link["type"]
    return {link["rel"]: link for link in links}


# -- the documents -----------------------------------------------------------------------


def test_landing_page_and_conformance(ogc_client):
    response = ogc_client.get("/ogc")
    assert response.status_code == 200 and response.mimetype == "application/json"
    links = links_by_rel(response.get_json())
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(links)
    assert links["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
    assert links["data"]["type"] == "application/json"
    spec = ogc_client.get(local(links["service-desc"]["href"]))
    assert spec.status_code == 200 and "/ogc/collections/{collection_id}/items" in str(
        spec.get_json()["paths"]
    )
    conformance = ogc_client.get(local(links["conformance"]["href"])).get_json()
    assert {CORE, GEOJSON_CLASS} <= set(conformance["conformsTo"])


def test_collections(ogc_client, rows):
    document = ogc_client.get("/ogc/collections").get_json()
    links_by_rel(document)
    collections = {c["id"]: c for c in document["collections"]}
    assert set(collections) == {"locations", "service_areas"}
    for name, collection in collections.items():
        links = links_by_rel(collection)
        assert links["items"]["type"] == "application/geo+json"
        assert collection["itemType"] == "feature"
        [[west, south, east, north]] = collection["extent"]["spatial"]["bbox"]
        bounds = [geom.bounds for _, geom in rows[name]]
        assert bounds
        assert west == pytest.approx(min(b[0] for b in bounds))
        assert north == pytest.approx(max(b[3] for b in bounds))
        assert south <= north and west <= east
        single = ogc_client.get(f"/ogc/collections/{name}")
        assert single.status_code == 200 and single.get_json()["id"] == name
    missing = ogc_client.get("/ogc/collections/roads")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


# -- items: paging, bbox, counts -----------------------------------------------------------


def follow(client, url: str, rel: str = "next") -> tuple[list, list[dict]]:
    """Every feature id along ``rel`` links from ``url``, and each page's document."""
    ids, pages = [], []
    while url:
        response = client.get(local(url))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/geo+json"
        page = response.get_json()
        assert page["type"] == "FeatureCollection"
        assert page["numberReturned"] == len(page["features"])
        pages.append(page)
        ids += [feature["id"] for feature in page["features"]]
        url = links_by_rel(page).get(rel, {}).get("href")
        assert len(pages) < 1000
    return ids, pages


@pytest.mark.parametrize("collection", ["locations", "service_areas"])
@pytest.mark.parametrize("limit", [4, 61, 1000])
@pytest.mark.parametrize("bbox", BOXES)
def test_following_next_to_the_end_gives_every_feature_once(
    ogc_client, rows, collection, limit, bbox
):
    url = f"/ogc/collections/{collection}/items?limit={limit}"
    if bbox:
        url += "&bbox=" + ",".join(str(v) for v in bbox)
    ids, pages = follow(ogc_client, url)
    expected = oracle_ids(rows, collection, bbox)
    assert ids == expected
    assert {page["numberMatched"] for page in pages} == {len(expected)}
    assert all(page["numberReturned"] <= limit for page in pages)
    # And back: prev from the last page walks the same pages in reverse.
    back, _ = follow(ogc_client, links_by_rel(pages[-1])["self"]["href"], "prev")
    page_sizes = [page["numberReturned"] for page in pages]
    assert len(back) == len(expected) or page_sizes == [0]
    assert sorted(back) == sorted(expected)


def test_the_demo_pages_are_not_empty(rows):
    assert len(rows["locations"]) > 300 and len(rows["service_areas"]) > 100
    assert oracle_ids(rows, "locations", BOXES[1])
    assert not oracle_ids(rows, "locations", BOXES[3])


def test_limit_is_clamped_and_bad_parameters_are_400(ogc_client, rows):
    page = ogc_client.get(f"/ogc/collections/locations/items?limit={10 * MAX_OGC_ITEMS}")
    assert page.status_code == 200
    body = page.get_json()
    assert body["numberReturned"] == min(MAX_OGC_ITEMS, len(rows["locations"]))
    next_link = links_by_rel(body).get("next")
    if next_link:
        assert parse_qs(urlsplit(next_link["href"]).query)["limit"] == [str(MAX_OGC_ITEMS)]
    for query, field in [
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=0,91,1,92", "bbox"),
        ("cursor=garbage", "cursor"),
        ("filter=name%3D1", "filter"),
    ]:
        response = ogc_client.get(f"/ogc/collections/locations/items?{query}")
        assert response.status_code == 400, query
        assert response.mimetype == "application/problem+json"
        assert field in {e["field"] for e in response.get_json()["errors"]}, query
    # A cursor of one collection or bbox is refused for another.
    first = ogc_client.get("/ogc/collections/locations/items?limit=5").get_json()
    cursor = parse_qs(urlsplit(links_by_rel(first)["next"]["href"]).query)["cursor"][0]
    other = ogc_client.get(f"/ogc/collections/service_areas/items?cursor={cursor}")
    assert other.status_code == 400


def test_one_feature_by_id(ogc_client, rows):
    key, geom = rows["locations"][0]
    feature = ogc_client.get(f"/ogc/collections/locations/items/{key}")
    assert feature.status_code == 200 and feature.mimetype == "application/geo+json"
    body = feature.get_json()
    assert body["id"] == key and body["geometry"]["coordinates"] == pytest.approx([geom.x, geom.y])
    assert {"self", "collection"} <= set(links_by_rel(body))
    area_id, area = rows["service_areas"][0]
    body = ogc_client.get(f"/ogc/collections/service_areas/items/{area_id}").get_json()
    assert body["id"] == area_id
    # 7 decimals move each vertex by 5e-8 degrees at most.
    assert shape(body["geometry"]).symmetric_difference(area).area < area.length * 1e-7
    for path in [
        "/ogc/collections/locations/items/nope",
        "/ogc/collections/locations/items/%00",
        "/ogc/collections/service_areas/items/999999999",
        "/ogc/collections/service_areas/items/99999999999999999999999",
        "/ogc/collections/service_areas/items/1.5",
        "/ogc/collections/service_areas/items/-1",
    ]:
        response = ogc_client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json"
        assert {e["field"] for e in response.get_json()["errors"]} & {"featureId", "path"}


# -- RFC 7946: counterclockwise exterior rings, everywhere polygons leave --------------------


def polygons(geometry: dict):
    geom = shape(geometry)
    parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    return [part for part in parts if not part.is_empty]


def assert_rfc7946_rings(features: list[dict]) -> int:
    """Every exterior ring counterclockwise, every hole clockwise; returns polygons seen."""
    seen = 0
    for feature in features:
        assert "crs" not in feature
        for polygon in polygons(feature["geometry"]):
            assert polygon.exterior.is_ccw, feature["id"]
            assert not any(ring.is_ccw for ring in polygon.interiors), feature["id"]
            seen += 1
    return seen


CLOCKWISE_WITH_HOLE = {
    "type": "Feature",
    "properties": {"location_external_id": "dc-store-0001", "mode": "express"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            # Exterior clockwise, hole counterclockwise: both the wrong way round.
            [[-77.0, 38.9], [-77.0, 39.0], [-76.9, 39.0], [-76.9, 38.9], [-77.0, 38.9]],
            [[-76.97, 38.93], [-76.93, 38.93], [-76.93, 38.97], [-76.97, 38.97], [-76.97, 38.93]],
        ],
    },
}


@pytest.fixture
def client(make_app):
    """Quotas are tested elsewhere: the walks here send hundreds of requests."""
    return make_app(RATELIMIT_ENABLED=False).test_client()


@pytest.fixture
def clockwise_area(connection, demo):
    """A demo network plus an area given with clockwise exterior and counterclockwise hole."""
    document = orjson.dumps({"type": "FeatureCollection", "features": [CLOCKWISE_WITH_HOLE]})
    report = import_stream(
        connection, "areas.geojson", io.StringIO(document.decode()), ImportOptions()
    )
    assert not report.rejected, report.rejected
    connection.commit()


def import_locations(connection, rows: list[tuple[str, float, float]]) -> None:
    lines = ["external_id,name,kind,lat,lon,timezone"]
    lines += [f"{name},{name},store,{lat},{lon},UTC" for name, lon, lat in rows]
    report = import_stream(
        connection, "locations.csv", io.StringIO("\n".join(lines)), ImportOptions()
    )
    assert not report.rejected, report.rejected
    connection.commit()


def test_a_collection_extent_follows_every_write(client, connection):
    """Extents are kept per data version: each write shows in the next /collections."""

    def extent() -> list[float]:
        document = client.get("/ogc/collections").get_json()
        [locations] = [c for c in document["collections"] if c["id"] == "locations"]
        [bbox] = locations["extent"]["spatial"]["bbox"]
        return bbox

    import_locations(connection, [("west-one", -77.2, 38.8), ("east-one", -76.9, 39.1)])
    assert extent() == pytest.approx([-77.2, 38.8, -76.9, 39.1])
    assert extent() == pytest.approx([-77.2, 38.8, -76.9, 39.1])  # the kept one
    import_locations(connection, [("far-one", 2.35, 48.85)])
    assert extent() == pytest.approx([-77.2, 38.8, 2.35, 48.85])
    connection.execute(text("DELETE FROM locations WHERE external_id = 'far-one'"))
    connection.commit()
    assert extent() == pytest.approx([-77.2, 38.8, -76.9, 39.1])


def test_every_polygon_endpoint_writes_counterclockwise_rings(client, clockwise_area):
    seen = 0
    ids, pages = follow(client, "/ogc/collections/service_areas/items?limit=50")
    assert ids
    for page in pages:
        seen += assert_rfc7946_rings(page["features"])
    for simplify in (0, 50):
        features = client.get(f"/api/v1/service-areas?limit=5000&simplify={simplify}").get_json()
        seen += assert_rfc7946_rings(features["features"])
    one = client.get(f"/ogc/collections/service_areas/items/{ids[-1]}").get_json()
    seen += assert_rfc7946_rings([one])
    # The coverage summary's gaps and overlaps are polygons too.
    summary = client.get("/api/v1/coverage/summary?bbox=-77.2,38.8,-76.9,39.1").get_json()
    shapes = [
        {"id": f"{mode}-{part}", "geometry": figures[part]}
        for mode, figures in summary["modes"].items()
        for part in ("uncovered", "overlaps")
    ]
    seen += assert_rfc7946_rings(shapes)
    holes = [
        p
        for page in pages
        for f in page["features"]
        for p in polygons(f["geometry"])
        if p.interiors
    ]
    assert holes, "the clockwise area with a hole should be among them"
    assert seen > 100


# -- /api/v1/service-areas says when it is cut off ------------------------------------------


def test_service_areas_pages_until_exhausted(client, connection, demo):
    total = connection.execute(
        text(
            "SELECT count(*) FROM service_areas AS a JOIN locations AS l ON l.id = a.location_id"
            " WHERE l.status <> 'retired'"
        )
    ).scalar_one()
    assert total > 20
    url, seen, pages = "/api/v1/service-areas?limit=7", [], 0
    while url:
        body = client.get(url).get_json()
        assert body["numberMatched"] == total
        assert body["numberReturned"] == len(body["features"]) <= 7
        seen += [f["id"] for f in body["features"]]
        pages += 1
        next_links = [link for link in body["links"] if link["rel"] == "next"]
        assert bool(next_links) == (body["next_cursor"] is not None)
        url = local(next_links[0]["href"]) if next_links else None
    assert len(seen) == len(set(seen)) == total and pages == -(-total // 7)
    first = client.get("/api/v1/service-areas?limit=7&mode=express").get_json()
    cursor = first["next_cursor"]
    assert client.get(f"/api/v1/service-areas?limit=7&cursor={cursor}").status_code == 400


# -- GDAL's OAPIF driver, against a live server ---------------------------------------------


@pytest.fixture(scope="module")
def ogc_server(ogc_app):
    if not shutil.which("ogrinfo"):
        message = "ogrinfo not found: apt-get install gdal-bin (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = make_server("127.0.0.1", 0, ogc_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="ogc-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ogc"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


GDAL_ENV = {"GDAL_HTTP_TIMEOUT": "60", "CPL_DEBUG": "OFF", "GDAL_DISABLE_READDIR_ON_OPEN": "YES"}


def gdal(*args: str) -> str:
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **GDAL_ENV},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ogrinfo_lists_both_collections_and_counts_every_feature(ogc_server, rows):
    listing = gdal("ogrinfo", "-ro", f"OAPIF:{ogc_server}")
    assert "locations" in listing and "service_areas" in listing
    for name in ("locations", "service_areas"):
        # -al reads every feature, page by page along the next links (the page size is
        # small, so there are many pages).
        out = gdal("ogrinfo", "-ro", "-al", "-oo", "PAGE_SIZE=97", f"OAPIF:{ogc_server}", name)
        features = out.count("OGRFeature(")
        assert features == len(rows[name])
        assert f"Feature Count: {len(rows[name])}" in out


def test_ogr2ogr_copies_service_areas_to_a_geopackage(ogc_server, rows, tmp_path):
    target = tmp_path / "areas.gpkg"
    gdal(
        "ogr2ogr",
        "-f",
        "GPKG",
        str(target),
        f"OAPIF:{ogc_server}",
        "service_areas",
        "-oo",
        "PAGE_SIZE=50",
    )
    listing = gdal("ogrinfo", "-ro", "-al", "-geom=ISO_WKT", str(target))
    copied = {}
    feature = None
    for line in listing.splitlines():
        line = line.strip()
        if line.startswith("OGRFeature("):
            feature = int(line.rsplit(":", 1)[1])
        elif line.startswith(("POLYGON", "MULTIPOLYGON")) and feature is not None:
            copied[feature] = wkt.loads(line)
    expected = dict(rows["service_areas"])
    assert set(copied) == set(expected)
    for key, geom in expected.items():
        # GeoJSON with 7 decimals moves each vertex by 5e-8 degrees at most.
        assert copied[key].symmetric_difference(geom).area < geom.length * 1e-7
    with sqlite3.connect(target) as gpkg:
        assert gpkg.execute("SELECT count(*) FROM service_areas").fetchone()[0] == len(expected)
