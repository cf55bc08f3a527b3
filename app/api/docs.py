"""What /api/docs shows a reader: named tags with descriptions, and an example request and
response for every operation.

The views document their parameters and schemas (flask-smorest); this module adds what a
reader needs on top, in one place: ``TAGS``, and ``EXAMPLES`` keyed by (path, method).
``ExamplesPlugin`` writes both into the OpenAPI document as flask-smorest builds it, so
the views stay as they are. tests/integration/test_api_docs.py sends every example
request to the app on the demo network and checks the answer against the example and
the schema: an operation added without a tag and examples fails there.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apispec import BasePlugin

MVT = "application/vnd.mapbox-vector-tile"

# In the order /api/docs lists them: the checkout's calls first, operators' last.
TAGS = [
    {
        "name": "Pickup points",
        "description": "For checkout flows: the nearest pickup points to an address or a"
        " position (stores, lockers, partner shops), with distance, opening hours and"
        " services; and the locations of every kind, by filter or one by one.",
    },
    {
        "name": "Geocoding",
        "description": "Candidate positions for a postcode, a place or an address, from the"
        " offline gazetteer (and an external geocoder when one is configured).",
    },
    {
        "name": "Coverage",
        "description": "Which locations deliver to a point (delivery, one-hour express,"
        " warehouse supply); their service areas as GeoJSON; and for planners, how much of"
        " a region is covered, where the gaps and overlaps are, and who reaches each part"
        " first by car.",
    },
    {
        "name": "Fulfilment",
        "description": "Where and by when a cart can be had: pickup from stock or after a"
        " transfer from a warehouse, express and delivery, earliest first, with the reasons"
        " every other location cannot take it.",
    },
    {
        "name": "Holds and orders",
        "description": "Reserve a fulfilment option's stock and capacity (a hold, which"
        " expires unless confirmed), turn it into an order, and end the order when it is"
        " collected or cancelled. Needs a token with the `orders` scope.",
    },
    {
        "name": "Planning",
        "description": "Demand sets (historic orders, population points), the share of"
        " demand each mode covers, and what candidate sites would add to today's network.",
    },
    {
        "name": "Admin",
        "description": "Write the network: locations, service areas, stock and whole"
        " files (the same import pipeline as `flask locator import`). Needs a token with"
        " the scope each operation names in `x-required-scope`.",
    },
    {
        "name": "Map tiles",
        "description": "Mapbox Vector Tiles of the locations and service areas in the Web"
        " Mercator tile grid, built by PostGIS, with ETag and Cache-Control: what the"
        " planner's map draws.",
    },
    {
        "name": "OGC API - Features",
        "description": "The locations and service areas as OGC API - Features (Part 1,"
        " Core, GeoJSON), for GIS clients such as QGIS and GDAL.",
    },
]


@dataclass(frozen=True)
class Example:
    """One operation's tag, and an example request and the answer it got.

    ``parameters`` are the request's path, query and header values by name; ``body`` its
    body (``body_type`` says how it is sent). ``response`` is the body of the answer
    (None when it has none, or when it is binary: the request's own URL is then the
    example, as ``externalValue``).
    """

    tag: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    body: Any = None
    body_type: str = "application/json"
    status: int = 200
    response: Any = None
    response_type: str = "application/json"


# In an order the requests can be sent one after another on the demo network (the test
# does): what one creates, a later one changes or deletes.
EXAMPLES: dict[tuple[str, str], Example] = {}


def example_url(path: str, example: Example) -> str:
    """The example request's path with its path parameters filled in."""
    for name, value in example.parameters.items():
        path = path.replace("{" + name + "}", str(value))
    return path


class ExamplesPlugin(BasePlugin):
    """An apispec plugin: tags and examples from ``EXAMPLES``, added to each operation as
    flask-smorest registers it. An operation without an entry is left as it is (the test
    names it)."""

    def path_helper(self, path=None, operations=None, parameters=None, **kwargs):
        # Path parameters are declared once for the path; each operation gets its own
        # copy, so that the GET and the DELETE of one path can show different examples.
        if parameters and operations:
            shared = [p for p in parameters if isinstance(p, Mapping) and p.get("in") == "path"]
            for operation in operations.values():
                operation.setdefault("parameters", []).extend(copy.deepcopy(shared))
            parameters[:] = [p for p in parameters if p not in shared]

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            example = EXAMPLES.get((path, method))
            if example is not None:
                _annotate(operation, path, example)


def _annotate(operation: dict, path: str, example: Example) -> None:
    operation["tags"] = [example.tag]
    for parameter in operation.get("parameters", []):
        if isinstance(parameter, Mapping) and parameter.get("name") in example.parameters:
            parameter["example"] = example.parameters[parameter["name"]]
    if example.body is not None:
        body = operation.setdefault("requestBody", {"required": True, "content": {}})
        content = body.setdefault("content", {})
        media = content.setdefault(example.body_type, {"schema": _schema_of(example.body)})
        media["example"] = example.body
    responses = operation.setdefault("responses", {})
    response = responses.setdefault(str(example.status), {"description": _reason(example)})
    if example.response_type == MVT:
        media = response.setdefault("content", {}).setdefault(
            MVT, {"schema": {"type": "string", "format": "binary"}}
        )
        media["examples"] = {
            "tile": {
                "summary": "A tile of the demo network",
                "externalValue": _with_query(example_url(path, example), operation, example),
            }
        }
    elif example.response is not None:
        content = response.setdefault("content", {})
        media = content.setdefault(example.response_type, {"schema": {"type": "object"}})
        media["example"] = example.response


def _schema_of(body: Any) -> dict:
    """The least a body with no documented schema is: text, or a JSON object."""
    return {"type": "string"} if isinstance(body, str) else {"type": "object"}


def _reason(example: Example) -> str:
    return {200: "OK", 201: "Created", 204: "No Content"}.get(example.status, "Example")


def _with_query(url: str, operation: dict, example: Example) -> str:
    """``url`` with the example's query parameters (repeated ones once per value)."""
    names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
    query = [
        f"{name}={value}"
        for name in names
        if name in example.parameters
        for value in _values(example.parameters[name])
    ]
    return url + ("?" + "&".join(query) if query else "")


def _values(value: Any) -> list:
    return value if isinstance(value, list) else [value]
