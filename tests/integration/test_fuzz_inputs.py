"""Property-based fuzzing of every parameter and body of every API operation.

The operations and their parameters are read from the app's own OpenAPI document, so an
endpoint or a parameter added later is fuzzed without touching this file. The values
are drawn from the classes of input that crashed or misled the service before
(../shared/RELIABILITY-CASES.md): numbers with doubled signs or other scripts' digits,
hundreds of digits, NaN and infinities, underscores, dates at the ends of the calendar,
boxes at the poles and across the antimeridian, control characters, very long text,
repeated parameters, and bodies that are truncated, nested thousands deep, not UTF-8, or
not JSON at all. Every answer must be below 500, and every 4xx a problem+json naming
the field (tests/integration/fuzzing.py).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.integration.fuzzing import FUZZ_SETTINGS, assert_well_formed, dispose, populated_app

NUMBERISH = st.sampled_from(
    [
        "0",
        "1",
        "-1",
        "38.9",
        "-77.03",
        "+5",
        "+-5",
        "--5",
        "1e3",
        "1e999",
        "-1e999",
        "1_0",
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "0x10",
        "٣",
        "１２",
        "1" * 400,
        "9" * 31,
        ".",
        "1.",
        ".5",
        "1e",
        " 1",
        "1 ",
        "",
        "90",
        "90.0000001",
        "-180",
        "180.5",
        "1000001",
        "100",
        "10",
        "5",
    ]  # fmt: skip
)
INSTANTS = st.sampled_from(
    [
        "2026-12-01T10:00:00-05:00",
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:00:00",
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
        "1969-12-31T23:59:59Z",
        "2199-12-31T23:59:59+00:00",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "٢٠٢٦-01-01T00:00:00Z",
        "2026-01-01T25:00:00Z",
        "tomorrow",
    ]  # fmt: skip
)
BOXES = st.sampled_from(
    [
        "-180,-90,180,90",
        "170,-10,-170,10",
        "-180,80,180,90",
        "0,0,1,1",
        "-77.1,38.8,-76.9,39",
        "0,-90,1,-89",
        "179.9,0,-179.9,1",
        "-90,0,90,10",
        "1,1,1,1",
        "0,1,1,0",
        "0,0,1",
        "a,b,c,d",
        "0,0,1,1,2",
        "1e999,0,1,1",
        "-181,0,0,1",
        "0,0,0.0000001,0.0000001",
    ]  # fmt: skip
)
WORDS = st.sampled_from(
    ["pickup", "cold_chain", "store", "locker", "delivery", "express", "supply", "active",
     "geojson", "json", "true", "false", "1", "0", "20001", "Washington", "Portland",
     "dc-locker-0007", "dc", "🙂" * 200, "a" * 300, "\x00", "\t", "  ", "'; DROP TABLE x;--"]
)  # fmt: skip
VALUES = st.one_of(NUMBERISH, INSTANTS, BOXES, WORDS, st.text(max_size=40))

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    NUMBERISH,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "points",
                        "lat",
                        "lon",
                        "id",
                        "mode",
                        "limit",
                        "geometry",
                        "radius_m",
                        "name",
                        "kind",
                        "capabilities",
                        "type",
                        "coordinates",
                        "opening_hours",
                    ]
                ),  # fmt: skip
                st.text(max_size=8),
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
RAW_BODIES = st.sampled_from(
    [
        b"",
        b"{",
        b'{"points": [',
        b'{"points": [],}',
        b"\xff\xfe{}",
        b"a=1&b=2",
        b"null",
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b"1" * 500,
        b'{"points":[{"lat":1e999,"lon":0}]}',
        b'{"points":[{"lat":"38.9","lon":"-77"}]}',
        b'{"points":[{"lat":NaN,"lon":0}]}',
        b'{"radius_m": ' + b"9" * 400 + b"}",
        b'{"geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[0,0]]]}}',
        b'{"geometry": {"type": "Polygon", "coordinates": [[["1","x"],[1,0],[1,1],["1","x"]]]}}',
        b'{"name": "\\ud800"}',
        '{"name": "caf\u00e9"}'.encode("latin-1"),
    ]  # fmt: skip
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=latin-1", "text/plain",
     "application/x-www-form-urlencoded", "application/geo+json", "text/csv"]
)  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_target(clone_database):
    with clone_database("locator_fuzz_inputs") as url:
        app, token = populated_app(url)
        yield app, token
        dispose(app)


def _operations(app) -> list[tuple[str, str, list[str]]]:
    """(method, path template, query parameter names) of every operation in the spec."""
    spec = app.test_client().get("/api/v1/openapi.json").json
    operations = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            operations.append((method, path, names))
    return operations


PATH_VALUES = st.sampled_from(
    ["dc-locker-0007", "dc-store-0001", "nope", "a" * 129, "%00", "x%2Fy", "..", "delivery",
     "express", "supply", "pickup", "🙂", "-"]
)  # fmt: skip


def _fill(path: str, data) -> str:
    return re.sub(r"\{[^}]+\}", lambda _m: data.draw(PATH_VALUES), path)


def test_the_spec_lists_every_endpoint(fuzz_target):
    app, _token = fuzz_target
    paths = {path for _method, path, _names in _operations(app)}
    assert {"/api/v1/pickup-points", "/api/v1/coverage/batch", "/api/v1/imports"} <= paths
    assert len(paths) >= 10


def test_every_query_parameter(fuzz_target):
    """Query strings of known and unknown names, repeated or not, with hostile values."""
    app, token = fuzz_target
    client = app.test_client()
    operations = _operations(app)
    assert operations

    @FUZZ_SETTINGS
    @given(data=st.data())
    def fuzz(data):
        method, path, names = data.draw(st.sampled_from(operations))
        keys = st.sampled_from([*names, "unknown", "LAT"]) if names else st.just("unknown")
        pairs = data.draw(st.lists(st.tuples(keys, VALUES), max_size=6))
        url = _fill(path, data)
        headers = {"Authorization": f"Bearer {token}"} if data.draw(st.booleans()) else {}
        response = client.open(
            url, method=method.upper(), query_string=pairs, headers=headers, json={}
        )
        assert_well_formed(
            response.status_code, response.content_type, response.get_data(), f"{method} {url}"
        )

    fuzz()


def test_every_body(fuzz_target):
    """Bodies of every write and POST: random JSON values, hostile raw bytes, other types."""
    app, token = fuzz_target
    client = app.test_client()
    operations = [op for op in _operations(app) if op[0] in ("post", "put")]
    assert len(operations) >= 3

    @FUZZ_SETTINGS
    @given(data=st.data())
    def fuzz(data):
        method, path, _names = data.draw(st.sampled_from(operations))
        url = _fill(path, data)
        if path.endswith("/imports"):
            url += "?filename=" + data.draw(st.sampled_from(["x.csv", "x.geojson", "x.json"]))
        if data.draw(st.booleans()):
            # The json module, not orjson: it writes integers of any size.
            body = json.dumps(data.draw(JSON_VALUES)).encode()
        else:
            body = data.draw(RAW_BODIES)
        response = client.open(
            url,
            method=method.upper(),
            data=body,
            content_type=data.draw(CONTENT_TYPES),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert_well_formed(
            response.status_code, response.content_type, response.get_data(), f"{method} {url}"
        )

    fuzz()
