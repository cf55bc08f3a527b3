"""Schemathesis fuzzes every operation of the app's own OpenAPI document, in positive
mode (requests the document allows) and negative mode (requests it forbids), against the
demo network and with an admin token, so that admin bodies get past the 401 and reads
find rows.

Every answer must be below 500, keep the documented response schema, and, when it is a
4xx, be a problem+json naming the field (tests/integration/fuzzing.py).

One check is left out: "schema-valid requests are accepted". OpenAPI cannot say that an
origin is either lat+lon or q, or that coverage/summary needs region or bbox, so such
requests are schema-valid and still, rightly, a 400.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import given
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.integration.fuzzing import FUZZ_SETTINGS, assert_well_formed, dispose, populated_app


@pytest.fixture(scope="module")
def fuzz_target(clone_database):
    with clone_database("locator_fuzz_schema") as url:
        app, token = populated_app(url)
        yield app, token
        dispose(app)


def _problem_json_for_every_4xx(ctx, response, case):
    # Schemathesis keeps headers with lowercase names and lists of values.
    assert_well_formed(
        response.status_code,
        (response.headers.get("content-type") or [""])[0],
        response.content,
        f"{case.method} {case.formatted_path}",
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_never_errors_and_keeps_its_schema(fuzz_target, mode):
    # Driven by hand rather than through schemathesis' pytest plugin, which does not
    # work with this pytest version.
    app, token = fuzz_target
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    headers = {"Authorization": f"Bearer {token}"}
    cannot_be_wrong = []
    for operation in operations:

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case):
            case.call_and_validate(
                headers=headers,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[_problem_json_for_every_4xx],
            )

        try:
            fuzz()
        except Unsatisfiable:
            # Negative mode finds nothing to break in an operation whose only inputs are
            # free-text path segments: every string is schema-valid there.
            assert mode is GenerationMode.NEGATIVE, operation.label
            cannot_be_wrong.append(operation)
    for operation in cannot_be_wrong:
        definition = operation.definition.raw
        kinds = {p["in"] for p in definition.get("parameters", [])}
        assert kinds <= {"path"} and "requestBody" not in definition, operation.label
    assert len(cannot_be_wrong) < len(operations) / 2
