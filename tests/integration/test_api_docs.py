"""/api/docs: every operation is under a named, described tag, with an example request and
response (app/api/docs.py); the document is valid OpenAPI 3.0.3; and the examples are
real: each example request, sent to the app on the demo network, gets the example's
status and an answer of the example's shape, and both keep the documented schema.

An operation added without a tag and examples fails here, by name.
"""

from __future__ import annotations

import uuid

import jsonschema_rs
import mapbox_vector_tile
import pytest

# Schemathesis (a test dependency) ships the OpenAPI 3.0 meta-schema and the conversion
# of OpenAPI schemas (nullable and all) to JSON Schema; the fuzzing suite uses the same.
from schemathesis.specs.openapi.converter import to_json_schema
from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

from app.api.docs import EXAMPLES, MVT, TAGS, Example, example_url
from app.services import tokens

METHODS = ("get", "post", "put", "delete", "patch")
# Partitioning needs a road network; the demo's Baltimore one takes minutes (the example
# was captured on tests/integration/test_roads.py's grid). Its example is checked
# against the schema only.
NEEDS_A_ROAD_NETWORK = {("/api/v1/coverage/partition", "get")}


@pytest.fixture(scope="module")
def spec():
    from app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": "postgresql+psycopg://unused@/unused"})
    return app.test_client().get("/api/v1/openapi.json").json


def operations(spec) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_document_is_valid_openapi_3_0_3(spec):
    assert spec["openapi"] == "3.0.3"
    errors = [
        f"{list(e.instance_path)}: {e.message[:200]}"
        for e in OPENAPI_30_VALIDATOR.iter_errors(spec)
    ]
    assert not errors, "\n".join(errors)


def test_every_operation_has_a_described_tag_and_examples(spec):
    described = {tag["name"]: tag.get("description", "") for tag in spec["tags"]}
    assert all(len(text) > 40 for text in described.values()), described
    missing = []
    used = set()
    for path, method, operation in operations(spec):
        label = f"{method.upper()} {path}"
        if (path, method) not in EXAMPLES:
            missing.append(f"{label}: no entry in app/api/docs.py EXAMPLES")
            continue
        [tag] = operation["tags"]
        assert tag in described, f"{label}: tag {tag!r} is not in TAGS"
        used.add(tag)
        for parameter in operation.get("parameters", []):
            if parameter.get("required"):
                assert "example" in parameter, f"{label}: no example for {parameter['name']}"
        for media in operation.get("requestBody", {}).get("content", {}).values():
            assert "example" in media, f"{label}: no example request body"
        example = EXAMPLES[(path, method)]
        response = operation["responses"][str(example.status)]
        shown = [
            m for m in response.get("content", {}).values() if "example" in m or "examples" in m
        ]
        assert shown or example.status == 204, f"{label}: no example response"
    assert not missing, "\n".join(missing)
    assert used == set(described), f"tags without operations: {set(described) - used}"
    # Every example names an operation that exists: none is left behind by a rename.
    documented = {(path, method) for path, method, _ in operations(spec)}
    assert set(EXAMPLES) <= documented, set(EXAMPLES) - documented
    assert [tag["name"] for tag in TAGS] == [tag["name"] for tag in spec["tags"]]


def validator(spec, schema: dict):
    """A JSON Schema validator for an OpenAPI response schema of ``spec``."""
    components = {
        name: to_json_schema(value, "nullable", is_response_schema=True)
        for name, value in spec["components"]["schemas"].items()
    }
    root = to_json_schema(schema, "nullable", is_response_schema=True)
    return jsonschema_rs.Draft4Validator({**root, "components": {"schemas": components}})


@pytest.fixture
def docs_client(demo, connection, make_app):
    """A client on the demo network, and an admin token with every scope."""
    token = tokens.create_token(connection, "docs", list(tokens.SCOPES))
    connection.commit()
    app = make_app(RATELIMIT_ENABLED=False)
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def send(client, auth, spec, path: str, method: str, example: Example, values: dict):
    """The example request (with ``values`` for the path parameters a test made)."""
    operation = spec["paths"][path][method]
    where = {p["name"]: p["in"] for p in operation.get("parameters", [])}
    parameters = {**example.parameters, **values}
    headers = dict(auth)
    query = []
    for name, value in parameters.items():
        if where[name] == "header":
            headers[name] = value
        elif where[name] == "query":
            query += [(name, v) for v in (value if isinstance(value, list) else [value])]
    url = example_url(path, Example(tag=example.tag, parameters=parameters))
    body = {}
    if isinstance(example.body, str):
        body = {"data": example.body, "content_type": example.body_type}
    elif example.body is not None:
        body = {"json": example.body}
    return client.open(url, method=method.upper(), query_string=query, headers=headers, **body)


def test_the_examples_are_what_the_app_answers(docs_client, spec):
    client, auth = docs_client
    hold = EXAMPLES[("/api/v1/fulfilment/holds", "post")]

    def new_hold() -> str:
        # Holds and orders have ids the app makes: each example gets one of its own.
        answer = send(
            client, auth, spec, "/api/v1/fulfilment/holds", "post", hold,
            {"Idempotency-Key": str(uuid.uuid4())},
        )  # fmt: skip
        assert answer.status_code == 201, answer.json
        return answer.json["hold_id"]

    def new_order() -> str:
        order_id = new_hold()
        assert client.post(f"/api/v1/fulfilment/holds/{order_id}/confirm", headers=auth).json
        return order_id

    for (path, method), example in EXAMPLES.items():
        label = f"{method.upper()} {path}"
        operation = spec["paths"][path][method]
        media = operation["responses"][str(example.status)].get("content", {})
        if example.response is not None:
            schema = media[example.response_type]["schema"]
            check = validator(spec, schema)
            assert check.is_valid(example.response), f"{label}: the example breaks the schema"
        if (path, method) in NEEDS_A_ROAD_NETWORK:
            continue
        values = {}
        if "{hold_id}" in path:
            values["hold_id"] = new_hold()
        if "{order_id}" in path:
            values["order_id"] = new_order()
        if path == "/api/v1/fulfilment/holds":
            values["Idempotency-Key"] = str(uuid.uuid4())
        answer = send(client, auth, spec, path, method, example, values)
        assert answer.status_code == example.status, f"{label}: {answer.get_data()[:300]!r}"
        if example.response_type == MVT:
            assert answer.content_type == MVT, label
            tile = mapbox_vector_tile.decode(answer.get_data())
            assert tile, f"{label}: the example tile is empty"
            assert media[MVT]["examples"]["tile"]["externalValue"].startswith(
                example_url(path, example)
            )
        elif example.response is not None:
            assert answer.content_type.startswith(example.response_type), label
            got = answer.json
            assert check.is_valid(got), f"{label}: the answer breaks the schema"
            if isinstance(got, dict):
                assert set(got) == set(example.response), f"{label}: {set(got)}"
        else:
            assert not answer.get_data(), label
