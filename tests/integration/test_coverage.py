"""Coverage: point-in-polygon against a shapely oracle, batches, summaries, GeoJSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely import wkb
from shapely.geometry import Point, box, shape
from shapely.geometry.polygon import orient
from shapely.ops import unary_union
from sqlalchemy import event, text

from app import queries as app_queries
from app.extensions import db
from app.importing import ImportOptions, import_file
from app.queries.coverage import SERVED_BY, coverage_of

GEOD = Geod(ellps="WGS84")


def write_json(path, document):
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def zcta_areas(connection, shared_data, tmp_path):
    """The real DC ZCTA polygons as service areas: each ZIP area served by a locker at its
    interior point (delivery), and the same shapes shifted as express areas of other
    lockers, so that areas overlap and have real, ragged edges."""
    zcta = json.loads((shared_data / "dc_zcta_2010.geojson").read_text())
    locations = ["external_id,name,kind,lat,lon"]
    areas = []
    for feature in zcta["features"]:
        code = feature["properties"]["ZCTA5CE10"]
        lat = float(feature["properties"]["INTPTLAT10"])
        lon = float(feature["properties"]["INTPTLON10"])
        locations.append(f"z-{code},ZIP {code},locker,{lat},{lon}")
        locations.append(f"s-{code},Shifted {code},locker,{lat + 0.004},{lon + 0.006}")
        shifted = shapely.affinity.translate(shape(feature["geometry"]), 0.006, 0.004)
        areas.append(
            {
                "type": "Feature",
                "geometry": feature["geometry"],
                "properties": {"location_external_id": f"z-{code}", "mode": "delivery"},
            }
        )
        areas.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shifted),
                "properties": {"location_external_id": f"s-{code}", "mode": "express"},
            }
        )
    (tmp_path / "zcta_locations.csv").write_text("\n".join(locations) + "\n")
    assert import_file(connection, tmp_path / "zcta_locations.csv", ImportOptions()).created
    collection = {"type": "FeatureCollection", "features": areas}
    report = import_file(
        connection, write_json(tmp_path / "zcta.geojson", collection), ImportOptions()
    )
    assert not report.rejected and report.created == len(areas)
    connection.commit()
    return zcta


def stored_areas(connection):
    """Every area of an active location (closed ones serve nobody), as stored."""
    rows = connection.execute(
        text(
            "SELECT a.id, a.mode, ST_AsBinary(a.geom) FROM service_areas a"
            " JOIN locations l ON l.id = a.location_id WHERE l.status = 'active' ORDER BY a.id"
        )
    ).all()
    return {area_id: (mode, wkb.loads(bytes(geom))) for area_id, mode, geom in rows}


def _import_square_area(connection, tmp_path) -> shapely.Polygon:
    """An axis-aligned square delivery area of 800 vertices, stored as several
    ST_Subdivide parts: points on its edges lie on the parts' cut lines too."""
    square = shapely.segmentize(box(-77.0, 38.9, -76.99, 38.91), max_segment_length=0.00005)
    (tmp_path / "square_location.csv").write_text(
        "external_id,name,kind,lat,lon\nedge-1,Edge Locker,locker,38.905,-76.995\n"
    )
    assert import_file(connection, tmp_path / "square_location.csv", ImportOptions()).created
    feature = {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(square),
        "properties": {"location_external_id": "edge-1", "mode": "delivery"},
    }
    collection = {"type": "FeatureCollection", "features": [feature]}
    path = write_json(tmp_path / "square.geojson", collection)
    assert import_file(connection, path, ImportOptions()).created == 1
    connection.commit()
    parts = connection.execute(
        text(
            "SELECT count(*) FROM service_area_parts p JOIN service_areas a"
            " ON a.id = p.service_area_id JOIN locations l ON l.id = a.location_id"
            " WHERE l.external_id = 'edge-1'"
        )
    ).scalar_one()
    assert parts > 1  # subdivided: the edge test crosses the parts' own edges
    return square


def test_point_coverage_agrees_with_shapely(client, connection, zcta_areas, demo, tmp_path):
    square = _import_square_area(connection, tmp_path)
    areas = stored_areas(connection)
    assert len(areas) > 250  # ZCTA-shaped plus the demo's circles and polygons
    rng = np.random.default_rng(7)
    points = [(float(x), float(y)) for x, y in zip(
        rng.uniform(-77.2, -76.85, 2500), rng.uniform(38.78, 39.05, 2500), strict=True
    )]  # fmt: skip
    # Points exactly on vertices, and on the edges of axis-aligned segments, of real areas.
    for _, geometry in list(areas.values())[:40]:
        ring = list(geometry.geoms[0].exterior.coords)
        points += [ring[i] for i in range(0, len(ring), max(1, len(ring) // 15))]
    # On the stored square's four edges, anywhere along them, and its corners.
    along = [float(t) for t in rng.uniform(0, 0.01, 50)]
    points += [(-77.0, 38.9 + t) for t in along] + [(-76.99, 38.9 + t) for t in along]
    points += [(-77.0 + t, 38.9) for t in along] + [(-77.0 + t, 38.91) for t in along]
    points += [(-77.0, 38.9), (-76.99, 38.91), (-77.0, 38.91), (-76.99, 38.9)]
    on_square_edges = [p for p in points if square.boundary.distance(Point(p)) == 0]
    assert len(on_square_edges) >= 150  # exactly on the boundary, as shapely sees it

    response = client.post(
        "/api/v1/coverage/batch",
        json={"points": [{"lat": lat, "lon": lon} for lon, lat in points][:1000]},
    )
    assert response.status_code == 200
    checked = 0
    for start in range(0, len(points), 1000):
        chunk = points[start : start + 1000]
        body = client.post(
            "/api/v1/coverage/batch",
            json={"points": [{"lat": y, "lon": x} for x, y in chunk], "limit": 100},
        ).json
        for (lon, lat), result in zip(chunk, body["results"], strict=True):
            expected = {a for a, (_, g) in areas.items() if g.covers(Point(lon, lat))}
            assert {s["service_area_id"] for s in result["served_by"]} == expected, (lon, lat)
            assert result["covered"] == bool(expected)
            assert result["served_by_total"] == len(expected)
            checked += 1
    assert checked == len(points) > 3000


def test_coverage_of_one_point_is_nearest_first(client, demo):
    body = client.get("/api/v1/coverage?lat=38.9072&lon=-77.0369").json
    assert body["covered"] and set(body["modes"]) <= {"delivery", "express", "supply"}
    distances = [s["distance_m"] for s in body["served_by"]]
    assert distances == sorted(distances)
    first = body["served_by"][0]
    assert set(first) == {
        "service_area_id", "mode", "location_id", "external_id", "name", "kind", "distance_m"
    }  # fmt: skip
    express = client.get("/api/v1/coverage?lat=38.9072&lon=-77.0369&mode=express").json
    assert {s["mode"] for s in express["served_by"]} == {"express"}
    nowhere = client.get("/api/v1/coverage?lat=0&lon=0").json
    assert nowhere == {**nowhere, "covered": False, "modes": [], "served_by": []}
    two = client.get("/api/v1/coverage?lat=38.9072&lon=-77.0369&limit=2").json
    assert two["served_by"] == body["served_by"][:2] and two["served_by_total"] > 2


def test_coverage_by_postcode(client, demo):
    body = client.get("/api/v1/coverage?q=20001").json
    assert body["origin"]["source"] == "geocoder" and body["covered"]


def test_coverage_across_the_antimeridian(client, connection, tmp_path):
    (tmp_path / "fiji.csv").write_text(
        "external_id,name,kind,lat,lon\nfj,Fiji,store,-16.5,179.99\n"
    )
    import_file(connection, tmp_path / "fiji.csv", ImportOptions())
    (tmp_path / "fiji_areas.csv").write_text(
        "location_external_id,mode,radius_m\nfj,delivery,20000\n"
    )
    import_file(connection, tmp_path / "fiji_areas.csv", ImportOptions())
    connection.commit()
    for lon in (179.95, 180, -180, -179.9):
        body = client.get(f"/api/v1/coverage?lat=-16.5&lon={lon}").json
        assert body["covered"], lon
        expected = GEOD.inv(179.99, -16.5, lon, -16.5)[2]
        assert abs(body["served_by"][0]["distance_m"] - expected) < 1
    assert not client.get("/api/v1/coverage?lat=-16.5&lon=-179.7").json["covered"]


def test_a_batch_is_one_database_statement(app, client, demo, monkeypatch):
    # Warmed up first: the engine's first connection asks the server about itself.
    assert client.post("/api/v1/coverage/batch", json={"points": [{"lat": 1, "lon": 1}]}).json
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    with app.app_context():
        engine = db.engine  # every statement of the app, on any of its connections
    event.listen(engine, "before_cursor_execute", listener)
    # The hot reads run on the driver's cursor (app/queries, HotRead): record those too.
    run_on_driver = app_queries._run

    def recorded(connection, sql, *args, **kwargs):
        statements.append(sql)
        return run_on_driver(connection, sql, *args, **kwargs)

    monkeypatch.setattr(app_queries, "_run", recorded)
    try:
        rng = np.random.default_rng(1)
        points = [
            {"lat": float(lat), "lon": float(lon), "id": str(i)}
            for i, (lat, lon) in enumerate(
                zip(rng.uniform(38.8, 39.0, 1000), rng.uniform(-77.2, -76.9, 1000), strict=True)
            )
        ]
        body = client.post("/api/v1/coverage/batch", json={"points": points}).json
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(body["results"]) == 1000
    assert [r["id"] for r in body["results"]] == [str(i) for i in range(1000)]
    assert sum(r["covered"] for r in body["results"]) > 500
    # One statement answers every point (a batch is not cached, so no version check).
    assert len(statements) == 1 and statements[0] in SERVED_BY.sent_as


def test_batch_limits_and_bad_points(client, app):
    too_many = [{"lat": 1, "lon": 1}] * (app.config["COVERAGE_BATCH_MAX"] + 1)
    response = client.post("/api/v1/coverage/batch", json={"points": too_many})
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    bad = client.post(
        "/api/v1/coverage/batch", json={"points": [{"lat": 1, "lon": 1}, {"lat": 91, "lon": 0}]}
    )
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json["errors"]] == ["points[1].lat"]
    assert client.post("/api/v1/coverage/batch", json={"points": []}).status_code == 400
    assert client.post("/api/v1/coverage/batch", data="nope").status_code in (400, 415)


def test_summary_covered_share_matches_an_independent_geodesic_computation(
    client, connection, demo
):
    body = client.get("/api/v1/coverage/summary?region=dc&mode=express&mode=delivery").json
    region = wkb.loads(
        bytes(
            connection.execute(
                text("SELECT ST_AsBinary(geom) FROM regions WHERE region_id = 'dc'")
            ).scalar_one()
        )
    )
    region_area = abs(GEOD.geometry_area_perimeter(region)[0])
    for mode in ("express", "delivery"):
        rows = connection.execute(
            text(
                "SELECT ST_AsBinary(a.geom) FROM service_areas a JOIN locations l"
                " ON l.id = a.location_id WHERE a.mode = :m AND l.status = 'active'"
            ),
            {"m": mode},
        ).scalars()
        covered = unary_union([wkb.loads(bytes(g)) for g in rows]).intersection(region)
        expected_share = abs(GEOD.geometry_area_perimeter(covered)[0]) / region_area
        summary = body["modes"][mode]
        assert summary["covered_share"] == pytest.approx(expected_share, rel=0.005)
        assert summary["area_m2"] == pytest.approx(region_area, rel=0.005)
        uncovered = shape(summary["uncovered"])
        # GeoJSON output is rounded to 6 decimals (~0.1 m).
        assert uncovered.is_empty or uncovered.within(region.buffer(1e-6))
    assert 0 < body["modes"]["express"]["covered_share"] < 1


def test_summary_for_a_bbox_and_bad_targets(client, demo):
    body = client.get("/api/v1/coverage/summary?bbox=-77.1,38.85,-76.95,38.95&mode=delivery").json
    assert body["bbox"] == [-77.1, 38.85, -76.95, 38.95]
    assert 0 < body["modes"]["delivery"]["covered_share"] <= 1
    assert client.get("/api/v1/coverage/summary").status_code == 400
    both = client.get("/api/v1/coverage/summary?region=dc&bbox=-77.1,38.85,-76.95,38.95")
    assert both.status_code == 400
    unknown = client.get("/api/v1/coverage/summary?region=atlantis")
    assert unknown.status_code == 404 and unknown.json["errors"][0]["field"] == "region"


def test_service_areas_geojson_filters_and_simplifies(client, demo):
    everything = client.get("/api/v1/service-areas").json
    assert everything["type"] == "FeatureCollection" and len(everything["features"]) > 100
    mine = client.get("/api/v1/service-areas?location_id=dc-store-0001").json["features"]
    assert mine and {f["properties"]["location_external_id"] for f in mine} == {"dc-store-0001"}
    express = client.get("/api/v1/service-areas?mode=express").json["features"]
    assert express and {f["properties"]["mode"] for f in express} == {"express"}
    boxed = client.get("/api/v1/service-areas?bbox=-77.05,38.89,-77.03,38.91").json["features"]
    assert 0 < len(boxed) < len(everything["features"])

    def vertices(features):
        return sum(len(shapely.get_coordinates(shape(f["geometry"]))) for f in features)

    simplified = client.get("/api/v1/service-areas?simplify=200").json["features"]
    assert len(simplified) == len(everything["features"]) > 0
    assert vertices(simplified) < vertices(everything["features"]) / 2
    assert all(shape(f["geometry"]).is_valid for f in simplified)
    assert client.get("/api/v1/service-areas?simplify=-1").status_code == 400


def test_simplified_areas_stay_valid_where_simplifying_breaks_them(client, connection, tmp_path):
    """A hole reaching into a bump of the outer ring: simplifying the ring flattens the
    bump and leaves the hole sticking out of it (an invalid polygon) unless repaired."""
    (tmp_path / "one.csv").write_text("external_id,name,kind,lat,lon\nbump,Bump,store,1,1\n")
    import_file(connection, tmp_path / "one.csv", ImportOptions())
    # In units of 0.001 degrees (about 111 m) from (1, 1): a 10 x 10 square with a bump
    # 0.5 deep on its right edge, and a triangular hole whose tip reaches into the bump.
    shell = [(0, 0), (10, 0), (10, 4), (10.5, 5), (10, 6), (10, 10), (0, 10), (0, 0)]
    hole = [(8, 3), (10.3, 5), (8, 7), (8, 3)]

    def ring(points):
        return [[1 + x / 1000, 1 + y / 1000] for x, y in points]

    polygon = {"type": "Polygon", "coordinates": [ring(shell), ring(hole)]}
    assert shape(polygon).is_valid
    feature = {
        "type": "Feature",
        "geometry": polygon,
        "properties": {"location_external_id": "bump", "mode": "delivery"},
    }
    collection = {"type": "FeatureCollection", "features": [feature]}
    path = write_json(tmp_path / "bump.geojson", collection)
    assert import_file(connection, path, ImportOptions()).applied
    connection.commit()
    # Douglas-Peucker alone breaks it at 70 m (0.00063 degrees): the repair is needed.
    plain_is_valid = connection.execute(
        text(
            "SELECT ST_IsValid(ST_Simplify(a.geom, 0.00063, true)) FROM service_areas AS a"
            " JOIN locations AS l ON l.id = a.location_id WHERE l.external_id = 'bump'"
        )
    ).scalar_one()
    assert plain_is_valid is False

    (area,) = client.get("/api/v1/service-areas?location_id=bump&simplify=70").json["features"]
    simplified = shape(area["geometry"])
    assert simplified.is_valid
    assert [1.0105, 1.005] not in shapely.get_coordinates(simplified).tolist()  # bump gone
    # The planner's summary simplifies before its unions: valid input, a sane answer.
    row = coverage_of(
        connection,
        region_id=None,
        bbox_wkb=box(0.999, 0.999, 1.012, 1.012).wkb,
        mode="delivery",
        simplify_deg=0.0,
        work_tolerance_deg=0.00063,
    )
    # pyproj signs rings by orientation: the hole must turn the other way to subtract.
    exact_m2 = GEOD.geometry_area_perimeter(orient(shape(polygon)))[0]
    assert row["covered_m2"] == pytest.approx(exact_m2, rel=0.02)
