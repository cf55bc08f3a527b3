"""Each class of bad input of issue 10 and RELIABILITY-CASES.md has a test of its own here:
a 4xx problem+json naming the field, decided before any work is done."""

from __future__ import annotations

import json

import pytest

from app.services.locations import LocationSearch
from app.services.pickup import PickupSearch
from tests.integration.fuzzing import assert_well_formed

PICKUP = "/api/v1/pickup-points?lat=38.9&lon=-77.03"
PICKUP_PATH = "/api/v1/pickup-points"
ORIGIN = {"lat": "38.9", "lon": "-77.03"}
BATCH = "/api/v1/coverage/batch"


def problem(response, status: int, field: str) -> dict:
    assert_well_formed(response.status_code, response.content_type, response.get_data(), "")
    assert response.status_code == status, response.get_data()
    body = response.json
    assert field in [e["field"] for e in body["errors"]], body
    return body


@pytest.mark.parametrize(
    "body",
    [
        b'{"points": [',  # truncated
        b'{"points": [{"lat": 1, "lon": 2}],}',  # trailing comma
        b'{"points": [{"lat": 1, "lon": 2}]}\xff',  # invalid UTF-8
        '{"points": [], "id": "caf\u00e9"}'.encode("latin-1"),  # another charset
        b"points=1&lat=2",  # a form body labelled JSON
        b'{"points": [{"lat": NaN, "lon": 0}]}',  # not JSON
        b"",
    ],
)
def test_malformed_json_is_a_400_naming_the_body(client, body):
    problem(client.post(BATCH, data=body, content_type="application/json"), 400, "body")


def test_json_nested_thousands_deep_is_a_400(client):
    body = b'{"points": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    problem(client.post(BATCH, data=body, content_type="application/json"), 400, "body")


@pytest.mark.parametrize("digits", [25, 400])
def test_integers_of_many_digits_are_refused(client, digits):
    body = b'{"points": [{"lat": 1, "lon": 2}], "limit": ' + b"9" * digits + b"}"
    response = client.post(BATCH, data=body, content_type="application/json")
    assert response.status_code == 400
    assert {e["field"] for e in response.json["errors"]} & {"limit", "body"}
    problem(client.get(PICKUP + "&limit=" + "1" * digits), 400, "limit")


@pytest.mark.parametrize("value", ["+-5", "--5", "٣", "１２", "1_0", "1e1", "10.0", " 5"])
def test_integers_are_ascii_digits_with_one_sign(client, value):
    problem(client.get(PICKUP_PATH, query_string={**ORIGIN, "limit": value}), 400, "limit")


@pytest.mark.parametrize("value", ["٣٨.٩", "３８", "NaN", "inf", "1e999", "1_0", "+-38", "0x10"])
def test_coordinates_are_ascii_decimals(client, value):
    response = client.get("/api/v1/pickup-points", query_string={"lat": value, "lon": "-77"})
    problem(response, 400, "lat")


def test_numbers_sent_as_strings_in_json_are_refused(client):
    body = {"points": [{"lat": "38.9", "lon": -77.03}]}
    problem(client.post(BATCH, json=body), 400, "points[0].lat")
    problem(client.post(BATCH, json={"points": [{"lat": 1, "lon": 1}], "limit": "5"}), 400, "limit")
    problem(client.post(BATCH, json={"points": [{"lat": True, "lon": 1}]}), 400, "points[0].lat")


@pytest.mark.parametrize("name", ["lat", "radius", "limit", "open_now", "cursor", "format"])
def test_a_repeated_scalar_parameter_is_a_400(client, name):
    values = {"lat": "1", "radius": "100", "limit": "5", "open_now": "true"}
    value = values.get(name, "x")
    url = f"{PICKUP}&{name}={value}&{name}={value}"
    if name == "lat":
        url = "/api/v1/pickup-points?lon=1&lat=1&lat=2"
    problem(client.get(url), 400, name)


def test_repeatable_parameters_stay_repeatable(client):
    response = client.get(PICKUP + "&kind=store&kind=locker&capability=pickup&capability=cash")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "2026-12-01T10:00:00",  # no offset
        "٢٠٢٦-12-01T10:00:00Z",
    ],
)
def test_instants_outside_the_computable_range_are_a_400(client, value):
    problem(client.get(PICKUP_PATH, query_string={**ORIGIN, "open_at": value}), 400, "open_at")


def test_instants_near_the_ends_of_the_range_are_computed(client):
    for value in ("1970-01-01T00:00:00Z", "2199-12-31T23:59:59+00:00"):
        assert client.get(PICKUP_PATH, query_string={**ORIGIN, "open_at": value}).status_code == 200


def test_a_batch_over_the_byte_cap_is_refused_before_it_is_read(client, app):
    cap = app.config["COVERAGE_BATCH_MAX_BYTES"]
    points = [{"lat": 0.0, "lon": 0.0}] * (cap // 10)
    body = json.dumps({"points": points}).encode()
    assert len(body) > cap
    problem(client.post(BATCH, data=body, content_type="application/json"), 413, "body")


def test_a_batch_over_the_point_cap_is_refused_before_its_points_are_validated(client, app):
    limit = app.config["COVERAGE_BATCH_MAX"]
    # Compact points fit the byte cap; the invalid ones would each be a 400 if validated.
    body = {"points": [{"lat": 999, "lon": "x"}] * (limit + 1)}
    problem(client.post(BATCH, json=body), 413, "points")


def test_a_batch_at_the_cap_is_answered(client, demo, app):
    limit = app.config["COVERAGE_BATCH_MAX"]
    body = {"points": [{"lat": 38.9, "lon": -77.03, "id": "x" * 128}] * limit}
    response = client.post(BATCH, json=body)
    assert response.status_code == 200 and len(response.json["results"]) == limit


def test_a_body_of_another_type_is_a_415(client):
    response = client.post(BATCH, data=b"points", content_type="text/plain")
    problem(response, 415, "Content-Type")


def test_405_says_what_is_allowed(client):
    response = client.delete("/api/v1/pickup-points")
    body = problem(response, 405, "method")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
    assert "GET" in body["detail"]


def test_whitespace_only_q_is_a_400(client):
    problem(client.get("/api/v1/geocode?q=%20%20%09"), 400, "q")
    problem(client.get("/api/v1/pickup-points?q=%20"), 400, "q")


def test_an_unknown_path_names_the_path(client):
    problem(client.get("/api/v1/nope"), 404, "path")


def test_refused_internal_fields_are_named(client):
    # Reported by their name, never as field: null (tests/integration/test_admin.py
    # checks the same for the admin API's writes).
    problem(client.get(PICKUP + "&id=5"), 400, "id")


# -- cursors ------------------------------------------------------------------------

# A value for each filter of each paged search, different from the base query's.
OTHER_VALUES = {
    "lat": "38.95",
    "lon": "-77.0",
    "radius": "20000",
    "kind": "store",
    "capability": "cash",
    "open_at": "2026-12-01T12:00:00-05:00",
    "open_now": "true",
    "status": "retired",
    "bbox": "-78,38,-76,40",
}


@pytest.mark.parametrize(
    "path, base, search",
    [
        ("/api/v1/pickup-points", {"lat": "38.9", "lon": "-77.03", "limit": "1"}, PickupSearch),
        ("/api/v1/locations", {"limit": "1"}, LocationSearch),
    ],
)
def test_a_cursor_cannot_be_replayed_against_other_filters(client, demo, path, base, search):
    """For every field of the search that is part of its cursor (all but those marked
    NOT_IN_CURSOR, so a new filter is covered without editing this test), a cursor made
    for one value is refused for another."""
    import dataclasses

    first = client.get(path, query_string=base)
    cursor = first.json["next_cursor"]
    assert cursor, "the demo network has more than one result"
    assert client.get(path, query_string={**base, "cursor": cursor}).status_code == 200
    parameter_of = {"radius_m": "radius", "kinds": "kind", "capabilities": "capability",
                    "statuses": "status"}  # fmt: skip
    checked = []
    for field in dataclasses.fields(search):
        if not field.metadata.get("cursor", True):
            continue
        name = parameter_of.get(field.name, field.name)
        assert name in OTHER_VALUES, f"give {name} a value in OTHER_VALUES"
        query = {**base, name: OTHER_VALUES[name], "cursor": cursor}
        if name == "open_now":
            query.pop("open_at", None)
        problem(client.get(path, query_string=query), 400, "cursor")
        checked.append(name)
    assert len(checked) >= 4
    # Changing the page size is not another query.
    assert (
        client.get(path, query_string={**base, "limit": "2", "cursor": cursor}).status_code == 200
    )
