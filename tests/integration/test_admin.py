"""Admin API: tokens and scopes, writes through the import pipeline, nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.queries import tokens
from app.services import tokens as auth


@pytest.fixture
def token(connection):
    """A live token with every scope (committed)."""
    value = auth.new_token()
    tokens.create_token(connection, "test-admin", auth.hash_token(value), list(auth.SCOPES))
    connection.commit()
    return value


def bearer(value):
    return {"Authorization": f"Bearer {value}"}


LOCKER = {"name": "Union Station Locker", "kind": "locker", "lat": 38.8977, "lon": -77.0063}


def count(connection, table="locations"):
    return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ],
)
def test_writes_without_a_valid_token_are_401_and_write_nothing(client, connection, headers):
    response = client.put("/api/v1/locations/u-1", json=LOCKER, headers=headers)
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.delete("/api/v1/locations/u-1", headers=headers).status_code == 401
    assert (
        client.post("/api/v1/imports?filename=a.csv", data=b"x", headers=headers).status_code == 401
    )
    assert count(connection) == 0


def test_a_revoked_token_is_refused(client, connection, token):
    assert tokens.revoke_token(connection, "test-admin")
    connection.commit()
    response = client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer(token))
    assert response.status_code == 401 and count(connection) == 0


def test_a_token_without_the_scope_is_403(client, connection):
    value = auth.new_token()
    tokens.create_token(connection, "importer", auth.hash_token(value), ["import"])
    connection.commit()
    response = client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer(value))
    assert response.status_code == 403 and count(connection) == 0


def test_create_replace_read_delete(client, connection, token):
    created = client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer(token))
    assert created.status_code == 201
    assert created.json["external_id"] == "u-1" and created.json["timezone"] == "America/New_York"
    # The read sees the write at once.
    assert client.get("/api/v1/locations/u-1").json["name"] == LOCKER["name"]
    replaced = client.put(
        "/api/v1/locations/u-1",
        json={**LOCKER, "name": "Renamed", "capabilities": ["pickup", "returns"]},
        headers=bearer(token),
    )
    assert replaced.status_code == 200 and replaced.json["capabilities"] == ["pickup", "returns"]
    assert client.delete("/api/v1/locations/u-1", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/locations/u-1").status_code == 404
    assert client.delete("/api/v1/locations/u-1", headers=bearer(token)).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({**LOCKER, "id": 5}, "id"),  # mass assignment: internal fields are refused
        ({**LOCKER, "created_at": "2020-01-01"}, "created_at"),
        ({**LOCKER, "lat": 91}, "lat"),
        ({**LOCKER, "lon": "1_0"}, "lon"),
        ({**LOCKER, "kind": "kiosk"}, "kind"),
        ({**LOCKER, "external_id": "other"}, "external_id"),
        ({**LOCKER, "capabilities": [1, 2]}, "capabilities"),
    ],
)
def test_bad_location_writes_are_400_and_write_nothing(client, connection, token, body, field):
    response = client.put("/api/v1/locations/u-1", json=body, headers=bearer(token))
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json["errors"]]
    assert count(connection) == 0


def test_service_area_by_radius_and_by_polygon(client, connection, token):
    client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer(token))
    url = "/api/v1/locations/u-1/service-areas/express"
    assert client.put(url, json={"radius_m": 3000}, headers=bearer(token)).status_code == 201
    assert client.get("/api/v1/coverage?lat=38.90&lon=-77.00&mode=express").json["covered"]
    square = {
        "type": "Polygon",
        "coordinates": [
            [[-77.01, 38.89], [-77.0, 38.89], [-77.0, 38.9], [-77.01, 38.9], [-77.01, 38.89]]
        ],
    }
    replaced = client.put(url, json={"geometry": square}, headers=bearer(token))
    assert replaced.status_code == 200
    source = connection.execute(text("SELECT source, radius_m FROM service_areas")).one()
    assert tuple(source) == ("polygon", None)


@pytest.mark.parametrize(
    "geometry, message",
    [
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]},
            "Self-intersection",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least 4"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "closed"),
        ({"type": "Polygon", "coordinates": [[["1", "x"], [1, 0], [1, 1], ["1", "x"]]]}, "numbers"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1e308, 0], [1, 1], [0, 0]]]}, "longitude"),
        (
            {
                "type": "Polygon",
                "crs": {"type": "name"},
                "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]],
            },
            "crs",
        ),
    ],
)
def test_invalid_polygons_are_400_and_write_nothing(client, connection, token, geometry, message):
    client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer(token))
    response = client.put(
        "/api/v1/locations/u-1/service-areas/delivery",
        json={"geometry": geometry},
        headers=bearer(token),
    )
    assert response.status_code == 400
    assert message in response.json["errors"][0]["message"]
    assert count(connection, "service_areas") == 0


def test_make_valid_repairs_through_the_api(client, connection, token):
    client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer(token))
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[-77.1, 38.8], [-76.9, 39.0], [-76.9, 38.8], [-77.1, 39.0], [-77.1, 38.8]]
        ],
    }
    response = client.put(
        "/api/v1/locations/u-1/service-areas/delivery?make_valid=true",
        json={"geometry": bowtie},
        headers=bearer(token),
    )
    assert response.status_code == 201


def test_service_area_for_an_unknown_location_or_mode_is_404(client, token):
    url = "/api/v1/locations/nope/service-areas/delivery"
    assert client.put(url, json={"radius_m": 100}, headers=bearer(token)).status_code == 404
    url = "/api/v1/locations/nope/service-areas/teleport"
    assert client.put(url, json={"radius_m": 100}, headers=bearer(token)).status_code == 404


def test_upload_import_all_or_nothing_then_applied(client, connection, token):
    bad = (
        b"external_id,name,kind,lat,lon\n"
        b"a,A,store,38.9,-77\nb,B,store,NaN,-77\nc,C,store,38.8,-77\n"
    )
    response = client.post("/api/v1/imports?filename=x.csv", data=bad, headers=bearer(token))
    assert response.status_code == 400
    assert response.json["errors"] == [
        {"field": "line 3: lat", "message": "must be a plain decimal number, got 'NaN'"}
    ]
    assert count(connection) == 0
    good = bad.replace(b"NaN", b"38.7")
    report = client.post("/api/v1/imports?filename=x.csv", data=good, headers=bearer(token)).json
    assert (report["created"], report["rejected"]) == (3, [])
    again = client.post("/api/v1/imports?filename=x.csv", data=good, headers=bearer(token)).json
    assert again["unchanged"] == 3
    assert (
        client.post("/api/v1/imports?filename=x.exe", data=good, headers=bearer(token)).status_code
        == 400
    )


def test_token_cli_creates_lists_and_revokes(runner, connection):
    created = runner.invoke(args=["locator", "token", "create", "ops", "--scope", "write"])
    assert created.exit_code == 0 and created.output.startswith(auth.TOKEN_PREFIX)
    stored = connection.execute(text("SELECT token_sha256, scopes FROM api_tokens")).one()
    assert stored.token_sha256 == auth.hash_token(created.output.strip())  # only the hash
    assert stored.scopes == ["write"]
    assert "ops\twrite\tlive" in runner.invoke(args=["locator", "token", "list"]).output
    assert runner.invoke(args=["locator", "token", "revoke", "ops"]).exit_code == 0
    assert runner.invoke(args=["locator", "token", "revoke", "ops"]).exit_code != 0


def test_token_cli_needs_scopes_and_refuses_a_taken_name_in_one_line(runner, connection):
    unscoped = runner.invoke(args=["locator", "token", "create", "ops"])
    assert unscoped.exit_code == 2 and "--scope" in unscoped.output
    assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 0
    assert (
        runner.invoke(args=["locator", "token", "create", "ops", "--scope", "write"]).exit_code == 0
    )
    runner.invoke(args=["locator", "token", "revoke", "ops"])
    again = runner.invoke(args=["locator", "token", "create", "ops", "--scope", "import"])
    assert again.exit_code == 1 and again.exception.__class__ is SystemExit
    assert again.output.strip().splitlines() == [
        "Error: a token named 'ops' exists already; choose another name (revoked tokens keep"
        " their names)"
    ]
    assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 1


def _ring_body(vertices: int, decimals: int) -> str:
    """A service-area body: a circle of ``vertices`` points around the locker, compact."""
    import json
    import math

    ring = [
        [
            round(-77.0 + 0.1 * math.cos(2 * math.pi * i / vertices), decimals),
            round(38.9 + 0.1 * math.sin(2 * math.pi * i / vertices), decimals),
        ]
        for i in range(vertices)
    ]
    ring.append(ring[0])
    body = {"geometry": {"type": "Polygon", "coordinates": [ring]}}
    return json.dumps(body, separators=(",", ":"))


def _put_area(client, token, body: str):
    """PUT the raw JSON ``body`` as u-1's delivery area."""
    return client.put(
        "/api/v1/locations/u-1/service-areas/delivery",
        data=body,
        content_type="application/json",
        headers=bearer(token),
    )


def test_a_million_vertex_polygon_is_refused_by_its_size_before_it_is_read(
    client, connection, token
):
    """RELIABILITY-CASES: a polygon of 1,000,000 vertices (about 28 MB of JSON)."""
    client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer(token))
    body = _ring_body(1_000_000, 12)
    assert len(body) > 25_000_000
    response = _put_area(client, token, body)
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert response.json["errors"][0]["field"] == "body"
    assert count(connection, "service_areas") == 0


def test_a_polygon_over_the_vertex_cap_within_the_byte_cap_is_refused_by_its_vertices(
    app, client, connection, token
):
    """Just over MAX_POLYGON_VERTICES, in a body small enough to be read: the vertex cap,
    not the byte cap, refuses it."""
    client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer(token))
    cap = app.config["MAX_POLYGON_VERTICES"]
    body = _ring_body(cap + 1_000, 4)  # about 19 bytes a vertex
    assert len(body) < app.config["MAX_CONTENT_LENGTH"] and len(body) < 40 * cap
    response = _put_area(client, token, body)
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    [error] = response.json["errors"]
    assert error["field"] == "geometry" and "too many vertices" in error["message"]
    assert count(connection, "service_areas") == 0
    # The same shape within the cap is taken.
    within = _put_area(client, token, _ring_body(cap // 2, 4))
    assert within.status_code == 201, within.json
    assert count(connection, "service_areas") == 1


def _parts(connection) -> list:
    """The stored parts of every area, as shapely shapes."""
    from shapely import wkb

    rows = connection.execute(text("SELECT ST_AsBinary(geom) FROM service_area_parts")).all()
    return [wkb.loads(bytes(row[0])) for row in rows]


def test_subdivided_parts_follow_an_area_through_update_and_delete(client, connection, token):
    """The point test reads service_area_parts: after a PUT that replaces an area, its
    parts are the new shape's and none of the old one's; a deleted location leaves none."""
    import shapely
    from shapely.geometry import box, mapping

    assert client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer(token)).status_code
    area = "/api/v1/locations/u-1/service-areas/delivery"
    west = shapely.segmentize(box(-77.05, 38.88, -77.0, 38.92), 0.0002)  # 800 vertices
    east = shapely.segmentize(box(-76.99, 38.88, -76.94, 38.92), 0.0002)
    assert client.put(area, json={"geometry": mapping(west)}, headers=bearer(token)).status_code
    parts = _parts(connection)
    assert len(parts) > 1 and shapely.union_all(parts).symmetric_difference(west).area < 1e-12
    inside_west, inside_east = "lat=38.9&lon=-77.02", "lat=38.9&lon=-76.96"
    assert client.get(f"/api/v1/coverage?{inside_west}").json["covered"]
    assert not client.get(f"/api/v1/coverage?{inside_east}").json["covered"]

    replaced = client.put(area, json={"geometry": mapping(east)}, headers=bearer(token))
    assert replaced.status_code == 200, replaced.json
    parts = _parts(connection)
    assert len(parts) > 1 and shapely.union_all(parts).symmetric_difference(east).area < 1e-12
    assert not any(part.intersects(west) for part in parts)
    assert not client.get(f"/api/v1/coverage?{inside_west}").json["covered"]
    assert client.get(f"/api/v1/coverage?{inside_east}").json["covered"]

    assert client.delete("/api/v1/locations/u-1", headers=bearer(token)).status_code in (200, 204)
    assert count(connection, "service_areas") == 0 and _parts(connection) == []
    assert not client.get(f"/api/v1/coverage?{inside_east}").json["covered"]
