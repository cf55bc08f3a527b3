"""The planning endpoints over HTTP: strict inputs, nothing written, their own timeout."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from app.limits import MAX_WHATIF_CANDIDATES
from app.queries.planning import planning_scope
from tests.conftest import load_demo_database

SITE = {"lat": 38.9, "lon": -77.03, "radius_m": 2000}
BOX = [-77.1, 38.8, -76.9, 39]
POLE_SITE = {"lat": 89.9, "lon": 0, "radius_m": 20_000}


@pytest.fixture(scope="module")
def demo_url(clone_database):
    """A database of this module's own with the demo (its demand set included), loaded
    once: nothing here writes."""
    with clone_database("locator_planning_api") as url:
        load_demo_database(url)
        yield url


@pytest.fixture
def demo_app(demo_url):
    apps = []

    def make(**settings):
        app = create_app(
            {"TESTING": True, "DATABASE_URL": demo_url, "LOG_LEVEL": "WARNING", **settings}
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.dispose()


@pytest.fixture
def demo_client(demo_app):
    return demo_app().test_client()


def what_if(client, **body):
    return client.post("/api/v1/planning/what-if", json={"mode": "express", **body})


def fields_of(response) -> set[str]:
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    return {error["field"] for error in response.get_json()["errors"]}


def test_what_if_answers_per_candidate_and_combined(demo_client):
    response = what_if(
        demo_client,
        region="dc",
        demand="demo-orders",
        candidates=[SITE, {"lat": 38.95, "lon": -77.0, "radius_m": 1500, "id": "north"}],
        best_next=2,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert [c["id"] for c in body["candidates"]] == [None, "north"]
    for result in [*body["candidates"], body["combined"]]:
        assert result["area_gained_m2"] + result["overlap_m2"] == pytest.approx(result["area_m2"])
        assert result["demand_gained"] + result["demand_overlap"] == pytest.approx(
            result["demand_weight"]
        )
    assert body["candidates"][0]["geometry"]["type"] == "MultiPolygon"
    assert body["today"]["demand_weight"] > body["today"]["demand_covered_weight"] > 0
    combined = body["combined"]
    assert combined["demand_gained"] <= sum(c["demand_gained"] for c in body["candidates"])
    assert combined["demand_covered_share_after"] >= body["today"]["demand_covered_share"]


def test_what_if_writes_nothing(demo_client, demo_url):
    engine = create_engine(demo_url)

    def counts():
        with engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT (SELECT count(*) FROM locations), (SELECT count(*) FROM service_areas),"
                    " (SELECT version FROM data_version), (SELECT count(*) FROM demand_points)"
                )
            ).one()

    before = counts()
    body = {"region": "dc", "demand": "demo-orders", "candidates": [SITE], "best_next": 1}
    assert what_if(demo_client, **body).status_code == 200
    assert counts() == before
    engine.dispose()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"region": "dc", "candidates": [{"lat": 38.9, "lon": -77.03}]}, "candidates[0].radius_m"),
        (
            {"region": "dc", "candidates": [{**SITE, "drive_time_s": 600}]},
            "candidates[0].radius_m",
        ),
        ({"region": "dc", "candidates": [{**SITE, "radius_m": "2000"}]}, "candidates[0].radius_m"),
        ({"region": "dc", "candidates": [{**SITE, "lat": 91}]}, "candidates[0].lat"),
        ({"region": "dc", "candidates": []}, "candidates"),
        ({"candidates": [SITE]}, "region"),
        ({"region": "dc", "bbox": [-77.1, 38.8, -76.9, 39], "candidates": [SITE]}, "region"),
        ({"bbox": [-77.1, 39, -76.9, 38.8], "candidates": [SITE]}, "bbox"),
        ({"bbox": [-77.1, 38.8, -76.9], "candidates": [SITE]}, "bbox"),
        ({"region": "dc", "candidates": [SITE], "demand": "no such"}, "demand"),
        ({"region": "dc", "candidates": [SITE], "best_next": 1}, "best_next"),
        ({"region": "dc", "candidates": [SITE], "extra": 1}, "extra"),
        # A circle around the pole has no polygon in lon/lat.
        ({"bbox": [-180, 80, 180, 90], "candidates": [POLE_SITE]}, "candidates[0].radius_m"),
        # No road network is loaded.
        (
            {"bbox": BOX, "candidates": [{"lat": 38.9, "lon": -77.03, "drive_time_s": 600}]},
            "candidates[0].drive_time_s",
        ),
    ],
)  # fmt: skip
def test_bad_what_if_input_is_a_400_naming_the_field(client, body, field):
    response = what_if(client, **body)
    assert response.status_code == 400
    assert field in fields_of(response)


def test_unknown_region_or_demand_set_is_a_404(demo_client):
    response = what_if(demo_client, region="nowhere", candidates=[SITE])
    assert response.status_code == 404 and fields_of(response) == {"region"}
    response = what_if(demo_client, region="dc", demand="other-orders", candidates=[SITE])
    assert response.status_code == 404 and fields_of(response) == {"demand"}


def test_too_many_candidates_are_refused_before_any_work(client):
    response = what_if(client, region="dc", candidates=[SITE] * (MAX_WHATIF_CANDIDATES + 1))
    assert response.status_code == 400 and fields_of(response) == {"candidates"}
    small = {"lat": 1, "lon": 2, "radius_m": 3}
    response = what_if(client, region="dc", candidates=[small] * (10 * MAX_WHATIF_CANDIDATES + 1))
    assert response.status_code == 413 and fields_of(response) == {"candidates"}


def test_summary_with_demand_and_the_demand_endpoint_agree(demo_client):
    client = demo_client
    summary = client.get("/api/v1/coverage/summary?region=dc&mode=express&demand=demo-orders")
    assert summary.status_code == 200, summary.get_data(as_text=True)
    demand = summary.get_json()["modes"]["express"]["demand"]
    alone = client.get("/api/v1/planning/demand?region=dc&mode=express&demand=demo-orders")
    assert alone.get_json()["modes"]["express"] == demand
    assert 0 < demand["covered_share"] < 1
    assert demand["uncovered"]["heaviest"]["numberMatched"] == demand["uncovered"]["points"]
    plain = client.get("/api/v1/coverage/summary?region=dc&mode=express").get_json()
    assert "demand" not in plain["modes"]["express"]
    sets = client.get("/api/v1/planning/demand-sets").get_json()["demand_sets"]
    assert [s["name"] for s in sets] == ["demo-orders"] and sets[0]["points"] == 3000


def test_planning_runs_under_its_own_timeout_and_checkout_keeps_its(demo_app):
    app = demo_app(STATEMENT_TIMEOUT_MS=4000, PLANNING_STATEMENT_TIMEOUT_MS=1)
    client = app.test_client()
    # 1 ms is too short for a what-if: it is cut off (503), while checkout still answers.
    response = what_if(client, region="dc", demand="demo-orders", candidates=[SITE])
    assert response.status_code == 503
    assert client.get("/api/v1/pickup-points?lat=38.9&lon=-77.03").status_code == 200
    with app.test_request_context():
        connection = db.connection()
        with planning_scope(connection, 12345):
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "12345ms"
        # SET LOCAL: the pooled connection is back on the web timeout afterwards.
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "4s"


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/planning/what-if", "/api/v1/planning/demand"} <= set(paths)
    body = paths["/api/v1/planning/what-if"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]
