"""The JSON API v1 on the demo network: contract, filters, hours, geocoding, bad input."""

from __future__ import annotations

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import opening_hours
import pytest
from pyproj import Geod

from app.importing import ImportOptions, import_stream

GEOD = Geod(ellps="WGS84")
DC = "lat=38.9072&lon=-77.0369"


def problem_fields(response):
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == response.status_code and body["title"] and body["type"]
    return [error["field"] for error in body["errors"]]


@pytest.mark.parametrize(
    "query, field",
    [
        ("lat=91&lon=0", "lat"),
        ("lat=-90.0001&lon=0", "lat"),
        ("lat=0&lon=200", "lon"),
        ("lat=NaN&lon=0", "lat"),
        ("lat=0&lon=Infinity", "lon"),
        ("lat=0&lon=-inf", "lon"),
        ("lat=1e999&lon=0", "lat"),
        ("lat=0&lon=1_0", "lon"),
        ("", "lat"),
        ("lat=38.9", "lon"),
        (f"{DC}&q=20001", "q"),
        (f"{DC}&radius=1e12", "radius"),
        (f"{DC}&radius=-1", "radius"),
        (f"{DC}&radius=abc", "radius"),
        (f"{DC}&limit=0", "limit"),
        (f"{DC}&limit=-1", "limit"),
        (f"{DC}&limit=1e9", "limit"),
        (f"{DC}&limit=abc", "limit"),
        (f"{DC}&limit=101", "limit"),
        (f"{DC}&kind=kiosk", "kind"),
        (f"{DC}&capability=teleport", "capability"),
        (f"{DC}&open_at=tomorrow", "open_at"),
        (f"{DC}&open_at=2026-11-23T10:00:00", "open_at"),
        (f"{DC}&open_at=2026-11-23T10:00:00Z&open_now=true", "open_now"),
        (f"{DC}&cursor=garbage", "cursor"),
        (f"{DC}&sort=name;DROP TABLE locations", "sort"),
        (f"{DC}&format=xml", "format"),
    ],
)
def test_bad_input_is_a_400_problem_naming_the_field(client, query, field):
    response = client.get(f"/api/v1/pickup-points?{query}")
    assert response.status_code == 400
    # A repeatable parameter's error names the item too, e.g. kind[0].
    assert any(name == field or name.startswith(f"{field}[") for name in problem_fields(response))


def test_a_cursor_from_another_query_or_tampered_is_refused(client, demo):
    first = client.get(f"/api/v1/pickup-points?{DC}&limit=2").json
    cursor = first["next_cursor"]
    other = client.get(f"/api/v1/pickup-points?lat=38.8&lon=-77.0&limit=2&cursor={cursor}")
    assert other.status_code == 400 and problem_fields(other) == ["cursor"]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    response = client.get(f"/api/v1/pickup-points?{DC}&limit=2&cursor={tampered}")
    assert response.status_code == 400
    truncated = client.get(f"/api/v1/pickup-points?{DC}&limit=2&cursor={cursor[:10]}")
    assert truncated.status_code == 400


def test_response_shape_and_geodesic_distances(client, demo):
    response = client.get(f"/api/v1/pickup-points?{DC}&limit=5")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert body["origin"] == {
        "lat": 38.9072,
        "lon": -77.0369,
        "source": "coordinates",
        "label": None,
    }
    assert len(body["results"]) == 5 and body["next_cursor"]
    first = body["results"][0]
    assert set(first) == {
        "id", "external_id", "name", "brand", "kind", "lat", "lon", "distance_m", "address",
        "capabilities", "opening_hours", "timezone", "status", "is_open", "next_change",
    }  # fmt: skip
    assert set(first["address"]) == {"line1", "city", "region", "postcode", "country"}
    distances = [r["distance_m"] for r in body["results"]]
    assert distances == sorted(distances)
    for result in body["results"]:
        expected = GEOD.inv(-77.0369, 38.9072, result["lon"], result["lat"])[2]
        assert abs(result["distance_m"] - expected) < 1
        assert "pickup" in result["capabilities"] and result["status"] == "active"


def test_kind_and_capability_filters(client, demo):
    body = client.get(
        f"/api/v1/pickup-points?{DC}&limit=50&kind=convenience_store&capability=cold_chain"
        "&capability=frozen"
    ).json
    assert body["results"]
    for result in body["results"]:
        assert result["kind"] == "convenience_store"
        assert {"pickup", "cold_chain", "frozen"} <= set(result["capabilities"])


def test_radius_limits_the_results(client, demo):
    body = client.get(f"/api/v1/pickup-points?{DC}&radius=1500&limit=100").json
    wider = client.get(f"/api/v1/pickup-points?{DC}&radius=25000&limit=100").json
    assert body["results"] and len(body["results"]) < len(wider["results"])
    assert all(r["distance_m"] <= 1500 for r in body["results"])
    assert body["next_cursor"] is None


def test_is_open_and_next_change_follow_the_location_timezone(client, demo):
    at = "2026-11-23T07:30:00-05:00"  # a Monday, 07:30 in Washington
    body = client.get(f"/api/v1/pickup-points?{DC}&limit=100&radius=50000&open_at={at}").json
    assert body["results"], "some demo locations are open at 07:30 on a Monday"
    moment = datetime.fromisoformat(at)
    for result in body["results"]:
        assert result["is_open"] is True
        zone = ZoneInfo(result["timezone"])
        # Independent check with the parser itself, in the location's own timezone.
        schedule = opening_hours.OpeningHours(result["opening_hours"], timezone=zone)
        assert schedule.is_open(moment.astimezone(zone))
        if result["next_change"]:
            change = datetime.fromisoformat(result["next_change"])
            assert change > moment and change.utcoffset() == moment.astimezone(zone).utcoffset()

    # Without the filter, nearer locations that are closed at that moment come first.
    everyone = client.get(f"/api/v1/pickup-points?{DC}&limit=100&radius=50000").json
    open_ids = {r["id"] for r in body["results"]}
    skipped = [r for r in everyone["results"] if r["id"] not in open_ids]
    assert skipped, "some nearby demo locations are closed at 07:30"
    nearest_open = body["results"][0]["distance_m"]
    for result in skipped:
        if result["distance_m"] < nearest_open and result["opening_hours"]:
            zone = ZoneInfo(result["timezone"])
            schedule = opening_hours.OpeningHours(result["opening_hours"], timezone=zone)
            assert not schedule.is_open(moment.astimezone(zone))


def test_open_now_filters_on_the_current_time(client, demo):
    body = client.get(f"/api/v1/pickup-points?{DC}&limit=20&open_now=true").json
    assert body["results"], "the demo's 24/7 lockers are always open"
    assert all(r["is_open"] is True for r in body["results"])


def test_geojson_by_accept_header_or_format(client, demo):
    by_header = client.get(
        f"/api/v1/pickup-points?{DC}&limit=3", headers={"Accept": "application/geo+json"}
    )
    assert by_header.mimetype == "application/geo+json"
    collection = by_header.json
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 3
    feature = collection["features"][0]
    assert feature["geometry"]["coordinates"] == [
        feature["properties"]["lon"],
        feature["properties"]["lat"],
    ]
    by_param = client.get(f"/api/v1/pickup-points?{DC}&limit=3&format=geojson").json
    assert by_param["features"] == collection["features"]


def test_origin_by_postcode_uses_the_gazetteer(client, demo):
    body = client.get("/api/v1/pickup-points?q=20001&limit=3").json
    assert body["origin"]["source"] == "geocoder"
    assert body["origin"]["label"].startswith("20001 Washington")
    assert len(body["results"]) == 3


def test_an_ambiguous_place_returns_candidates_not_a_guess(client, demo):
    # Portland, OR, ME and TX: the DC network is near none of them.
    response = client.get("/api/v1/pickup-points?q=Portland")
    assert response.status_code == 422 and problem_fields(response) == ["q"]
    candidates = response.json["candidates"]
    contenders = [c for c in candidates if c["confidence"] == 1.0]
    assert len(contenders) > 1 and all(c["label"].startswith("Portland, ") for c in contenders)
    assert not any(c["near_network"] for c in candidates)


def test_namesakes_resolve_towards_the_network(client, demo):
    # Springfield, VA lies inside the DC network; MO, MA, IL and the rest do not.
    body = client.get("/api/v1/pickup-points?q=Springfield&limit=1").json
    assert body["origin"]["label"] == "Springfield, VA, US"
    assert body["results"] and body["results"][0]["distance_m"] < 25_000
    arlington = client.get("/api/v1/geocode?q=Arlington").json
    assert arlington["ambiguous"] is False
    first, *others = arlington["candidates"]
    assert first["label"] == "Arlington, VA, US" and first["near_network"] is True
    assert any(c["label"] == "Arlington, TX, US" and c["near_network"] is False for c in others)
    # A qualifier the caller wrote still beats the network.
    texas = client.get("/api/v1/geocode?q=Arlington, TX").json
    assert texas["ambiguous"] is False and texas["candidates"][0]["label"] == "Arlington, TX, US"


def test_only_pickup_points_make_a_place_near_the_network(client, connection):
    def add(row: str) -> None:
        csv = "external_id,name,kind,lat,lon,capabilities\n" + row + "\n"
        report = import_stream(connection, "one.csv", io.StringIO(csv), ImportOptions())
        assert report.applied and not report.rejected
        connection.commit()

    # A warehouse without the pickup capability, 1 km from Springfield, VA.
    add("wh-1,Depot,warehouse,38.7893,-77.1750,delivery")
    assert client.get("/api/v1/geocode?q=Springfield").json["ambiguous"] is True
    add("lk-1,Locker,locker,38.7893,-77.1750,pickup")
    body = client.get("/api/v1/geocode?q=Springfield").json
    assert body["ambiguous"] is False
    assert body["candidates"][0]["label"] == "Springfield, VA, US"


def test_without_a_nearby_network_namesakes_stay_ambiguous(client):
    # No locations at all: nothing tells the Springfields apart.
    body = client.get("/api/v1/geocode?q=Springfield").json
    assert body["ambiguous"] is True
    contenders = [c for c in body["candidates"] if c["confidence"] == 1.0]
    assert len(contenders) > 1 and not any(c["near_network"] for c in contenders)


def test_an_unknown_place_is_a_404_problem(client):
    response = client.get("/api/v1/pickup-points?q=Qwxzyv Plbbt")
    assert response.status_code == 404 and problem_fields(response) == ["q"]


def test_geocode_tolerates_typos_and_scores_confidence(client):
    body = client.get("/api/v1/geocode?q=Philadelpia").json
    best = body["candidates"][0]
    assert best["label"].startswith("Philadelphia, PA") and 0 < best["confidence"] < 1
    exact = client.get("/api/v1/geocode?q=20500").json["candidates"][0]
    assert exact["confidence"] == 1.0 and exact["kind"] == "postcode"
    assert client.get("/api/v1/geocode?q=Springfield").json["ambiguous"] is True
    assert client.get("/api/v1/geocode?q=Portland, ME").json["candidates"][0]["admin"] == "ME"
    assert client.get("/api/v1/geocode").status_code == 400
    assert client.get("/api/v1/geocode?q=Qwxzyv Plbbt").status_code == 404


def test_locations_list_filters_and_pages(client, demo):
    first = client.get("/api/v1/locations?kind=warehouse&limit=3").json
    assert len(first["results"]) == 3 and all(r["kind"] == "warehouse" for r in first["results"])
    second = client.get(f"/api/v1/locations?kind=warehouse&limit=3&cursor={first['next_cursor']}")
    ids = [r["id"] for r in first["results"] + second.json["results"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    statuses = {r["status"] for r in client.get("/api/v1/locations?limit=500").json["results"]}
    assert statuses == {"active", "temporarily_closed", "retired"}
    closed = client.get("/api/v1/locations?status=retired").json["results"]
    assert closed and all(r["status"] == "retired" for r in closed)


def test_locations_bbox_and_the_antimeridian(client, connection, tmp_path):
    from app.importing import import_file

    path = tmp_path / "fiji.csv"
    path.write_text(
        "external_id,name,kind,lat,lon\n"
        "east,East,locker,-16.5,179.9\nwest,West,locker,-16.5,-179.9\nfar,Far,locker,-16.5,170\n"
    )
    import_file(connection, path, ImportOptions())
    connection.commit()
    across = client.get("/api/v1/locations?bbox=179.5,-17,-179.5,-16").json["results"]
    assert {r["external_id"] for r in across} == {"east", "west"}
    normal = client.get("/api/v1/locations?bbox=169,-17,171,-16").json["results"]
    assert [r["external_id"] for r in normal] == ["far"]
    bad = client.get("/api/v1/locations?bbox=1,2,3")
    assert bad.status_code == 400 and problem_fields(bad) == ["bbox"]
    upside_down = client.get("/api/v1/locations?bbox=0,10,1,5")
    assert upside_down.status_code == 400


def test_location_by_external_id(client, demo):
    body = client.get("/api/v1/locations/dc-store-0001").json
    assert body["external_id"] == "dc-store-0001" and "distance_m" not in body
    missing = client.get("/api/v1/locations/nope")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_openapi_documents_every_parameter_and_error(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    operation = spec["paths"]["/api/v1/pickup-points"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {
        "lat", "lon", "q", "radius", "limit", "kind", "capability", "open_at", "open_now",
        "cursor", "format",
    } <= names  # fmt: skip
    assert {"200", "400", "404", "422", "503"} <= set(operation["responses"])
    radius = next(p for p in operation["parameters"] if p["name"] == "radius")
    assert radius["schema"]["maximum"] == 1_000_000
    for path in ("/api/v1/locations", "/api/v1/locations/{external_id}", "/api/v1/geocode"):
        assert path in spec["paths"]


def test_openapi_documents_the_client_key_and_admin_tokens(client, app):
    """Read calls may carry X-Api-Key; every scope-guarded call names its bearer token and
    scope, found here from the app's own routes rather than from a list kept by hand."""
    spec = client.get("/api/v1/openapi.json").json
    schemes = spec["components"]["securitySchemes"]
    assert schemes["clientKey"] == {**schemes["clientKey"], "type": "apiKey", "in": "header"}
    assert schemes["clientKey"]["name"] == "X-Api-Key"
    assert schemes["adminToken"]["scheme"] == "bearer"
    assert spec["security"] == [{}, {"clientKey": []}]
    assert "security" not in spec["paths"]["/api/v1/pickup-points"]["get"]
    guarded = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            handler = getattr(getattr(view, "view_class", None), method.lower(), view)
            scope = getattr(handler, "_apidoc", {}).get("manual_doc", {}).get("x-required-scope")
            if scope:
                path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
                guarded.append((path, method.lower(), scope))
    assert ("/api/v1/imports", "post", "import") in guarded
    for path, method, scope in guarded:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"adminToken": []}], (path, method)
        assert operation["x-required-scope"] == scope


def test_docs_are_served_from_local_assets(client):
    page = client.get("/api/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/api/docs/assets/") for s in sources), sources
    for source in sources:
        with client.get(source) as response:
            assert response.status_code == 200
