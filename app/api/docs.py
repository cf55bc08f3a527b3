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
# Captured from the app on the demo network (the partition on a small road grid near
# Baltimore), lists and polygons cut short.
EXAMPLES: dict[tuple[str, str], Example] = {
    ("/api/v1/pickup-points", "get"): Example(
        tag="Pickup points",
        parameters={"lat": 38.9, "lon": -77.03, "capability": ["cold_chain"], "limit": 2},
        response={
            "origin": {"lat": 38.9, "lon": -77.03, "source": "coordinates", "label": None},
            "results": [
                {
                    "id": 253,
                    "external_id": "dc-convenience-0133",
                    "name": "Fernleaf Corner Store Washington (K St NW)",
                    "brand": "Fernleaf Corner Store",
                    "kind": "convenience_store",
                    "lat": 38.89325,
                    "lon": -77.027924,
                    "distance_m": 770.7,
                    "address": {
                        "line1": "5822 K St NW",
                        "city": "Washington",
                        "region": "DC",
                        "postcode": "20004",
                        "country": "US",
                    },
                    "capabilities": ["cash", "cold_chain", "pickup"],
                    "opening_hours": "Mo-Su 07:00-22:00",
                    "timezone": "America/New_York",
                    "status": "active",
                    "is_open": True,
                    "next_change": "2026-12-01T22:00:00-05:00",
                },
                {
                    "id": 149,
                    "external_id": "dc-convenience-0029",
                    "name": "Fernleaf Corner Store Washington (Rhode Island Ave NW)",
                    "brand": "Fernleaf Corner Store",
                    "kind": "convenience_store",
                    "lat": 38.907292,
                    "lon": -77.02951,
                    "distance_m": 810.6,
                    "address": {
                        "line1": "3566 Rhode Island Ave NW",
                        "city": "Washington",
                        "region": "DC",
                        "postcode": "20005",
                        "country": "US",
                    },
                    "capabilities": ["cash", "cold_chain", "pickup"],
                    "opening_hours": "Mo-Su 06:00-23:00",
                    "timezone": "America/New_York",
                    "status": "active",
                    "is_open": True,
                    "next_change": "2026-12-01T23:00:00-05:00",
                },
            ],
            "next_cursor": (
                "eyJmIjoiNDdjZDFlMDZkYWJiNGRlYSIsInAiOls4MTAuNjI2NTkzNDYsMTQ5XX0."
                "rt8KCl5kl8qXQ97lDK8UxtBfzP4"
            ),
        },
    ),
    ("/api/v1/locations", "get"): Example(
        tag="Pickup points",
        parameters={"kind": ["locker"], "limit": 2},
        response={
            "results": [
                {
                    "id": 273,
                    "external_id": "dc-locker-0001",
                    "name": "Northwind Locker Washington (Connecticut Ave NW)",
                    "brand": "Northwind Locker",
                    "kind": "locker",
                    "lat": 38.933401,
                    "lon": -77.06347,
                    "address": {
                        "line1": "1358 Connecticut Ave NW",
                        "city": "Washington",
                        "region": "DC",
                        "postcode": "20008",
                        "country": "US",
                    },
                    "capabilities": ["pickup"],
                    "opening_hours": "24/7",
                    "timezone": "America/New_York",
                    "status": "active",
                    "is_open": True,
                    "next_change": None,
                },
                {
                    "id": 274,
                    "external_id": "dc-locker-0002",
                    "name": "Northwind Locker Takoma Park (Elm St)",
                    "brand": "Northwind Locker",
                    "kind": "locker",
                    "lat": 38.982096,
                    "lon": -76.998277,
                    "address": {
                        "line1": "6350 Elm St",
                        "city": "Takoma Park",
                        "region": "MD",
                        "postcode": "20912",
                        "country": "US",
                    },
                    "capabilities": ["pickup"],
                    "opening_hours": "Mo-Su 05:00-24:00",
                    "timezone": "America/New_York",
                    "status": "active",
                    "is_open": True,
                    "next_change": "2026-12-02T00:00:00-05:00",
                },
            ],
            "next_cursor": (
                "eyJmIjoiMDk4YTY1Y2U0MmU0MDVlZCIsInAiOlsyNzRdfQ.m8Y7d4bDax5Xh8ijTfEk9K4iOcs"
            ),
        },
    ),
    ("/api/v1/locations/{external_id}", "get"): Example(
        tag="Pickup points",
        parameters={"external_id": "dc-store-0001"},
        response={
            "id": 1,
            "external_id": "dc-store-0001",
            "name": "Northwind Market Burtonsville (Hillcrest Ave)",
            "brand": "Northwind Market",
            "kind": "store",
            "lat": 39.092916,
            "lon": -76.931765,
            "address": {
                "line1": "7436 Hillcrest Ave",
                "city": "Burtonsville",
                "region": "MD",
                "postcode": "20866",
                "country": "US",
            },
            "capabilities": ["accessible", "cash", "cold_chain", "delivery", "pickup", "returns"],
            "opening_hours": "Mo-Sa 08:00-21:00; Su 10:00-18:00",
            "timezone": "America/New_York",
            "status": "active",
            "is_open": True,
            "next_change": "2026-12-01T21:00:00-05:00",
        },
    ),
    ("/api/v1/geocode", "get"): Example(
        tag="Geocoding",
        parameters={"q": "20001", "limit": 2},
        response={
            "query": "20001",
            "ambiguous": False,
            "candidates": [
                {
                    "label": "20001 Washington, DC, US",
                    "kind": "postcode",
                    "lat": 38.9122,
                    "lon": -77.0177,
                    "confidence": 1.0,
                    "country": "US",
                    "admin": "DC",
                    "near_network": True,
                }
            ],
        },
    ),
    ("/api/v1/coverage", "get"): Example(
        tag="Coverage",
        parameters={"lat": 38.9, "lon": -77.03, "mode": ["delivery", "express"], "limit": 2},
        response={
            "origin": {"lat": 38.9, "lon": -77.03, "source": "coordinates", "label": None},
            "covered": True,
            "modes": ["delivery", "express"],
            "served_by_total": 34,
            "served_by": [
                {
                    "service_area_id": 63,
                    "mode": "delivery",
                    "location_id": 50,
                    "external_id": "dc-store-0050",
                    "name": "Northwind Market Washington (H St NW)",
                    "kind": "store",
                    "distance_m": 840.5,
                }
            ],
        },
    ),
    ("/api/v1/coverage/batch", "post"): Example(
        tag="Coverage",
        body={
            "points": [
                {"id": "order-1", "lat": 38.9, "lon": -77.03},
                {"id": "order-2", "lat": 39.0, "lon": -77.1},
            ],
            "mode": ["express"],
            "limit": 2,
        },
        response={
            "results": [
                {
                    "id": "order-1",
                    "lat": 38.9,
                    "lon": -77.03,
                    "covered": True,
                    "modes": ["express"],
                    "served_by_total": 4,
                    "served_by": [
                        {
                            "service_area_id": 6,
                            "mode": "express",
                            "location_id": 6,
                            "external_id": "dc-store-0006",
                            "name": "Northwind Market Washington (Massachusetts Ave NW)",
                            "kind": "store",
                            "distance_m": 1532.3,
                        }
                    ],
                },
                {
                    "id": "order-2",
                    "lat": 39.0,
                    "lon": -77.1,
                    "covered": True,
                    "modes": ["express"],
                    "served_by_total": 2,
                    "served_by": [
                        {
                            "service_area_id": 35,
                            "mode": "express",
                            "location_id": 28,
                            "external_id": "dc-store-0028",
                            "name": "Northwind Market Chevy Chase (Hillcrest Ave)",
                            "kind": "store",
                            "distance_m": 2693.7,
                        }
                    ],
                },
            ]
        },
    ),
    ("/api/v1/service-areas", "get"): Example(
        tag="Coverage",
        parameters={"location_id": "dc-store-0004", "mode": ["express"], "simplify": 0.001},
        response={
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": 4,
                    "geometry": {
                        "type": "MultiPolygon",
                        "coordinates": [
                            [
                                [
                                    [-76.995067, 39.090381],
                                    [-77.031389, 39.064712],
                                    [-76.998468, 39.036401],
                                    [-76.962148, 39.06206],
                                    [-76.995067, 39.090381],
                                ]
                            ]
                        ],
                    },
                    "properties": {
                        "mode": "express",
                        "source": "radius",
                        "radius_m": 3000.0,
                        "location_external_id": "dc-store-0004",
                        "location_name": "Northwind Market Silver Spring (Park Ave)",
                        "location_kind": "store",
                    },
                }
            ],
            "numberMatched": 1,
            "numberReturned": 1,
            "next_cursor": None,
            "links": [],
        },
        response_type="application/geo+json",
    ),
    ("/api/v1/coverage/summary", "get"): Example(
        tag="Coverage",
        parameters={"region": "dc", "mode": ["express"], "simplify": 0.005},
        response={
            "region": "dc",
            "bbox": None,
            "modes": {
                "express": {
                    "area_m2": 176556257.239928,
                    "covered_m2": 153578777.227471,
                    "covered_share": 0.869857,
                    "overlap_m2": 100940964.237805,
                    "locations": 19,
                    "uncovered": {
                        "type": "MultiPolygon",
                        "coordinates": [
                            [
                                [
                                    [-76.917279, 38.86884],
                                    [-76.946088, 38.91286],
                                    [-76.954501, 38.884432],
                                    [-76.979105, 38.862],
                                    [-76.917279, 38.86884],
                                ]
                            ]
                        ],
                    },
                    "overlaps": {
                        "type": "MultiPolygon",
                        "coordinates": [
                            [
                                [
                                    [-77.076961, 38.904496],
                                    [-76.982681, 38.897584],
                                    [-77.00146, 38.956114],
                                    [-77.081413, 38.941476],
                                    [-77.076961, 38.904496],
                                ]
                            ]
                        ],
                    },
                }
            },
        },
    ),
    ("/api/v1/coverage/partition", "get"): Example(
        tag="Coverage",
        parameters={"mode": "delivery", "bbox": "-76.625,39.285,-76.6,39.305", "drive_time_s": 180},
        response={
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "grid-a",
                    "geometry": {
                        "type": "MultiPolygon",
                        "coordinates": [
                            [
                                [
                                    [-76.61942031424039, 39.29345],
                                    [-76.62057956398998, 39.28999193278896],
                                    [-76.6170099808852, 39.289549562498735],
                                    [-76.61402, 39.294149573828655],
                                    [-76.61942031424039, 39.29345],
                                ]
                            ]
                        ],
                    },
                    "properties": {
                        "location_id": "grid-a",
                        "name": "Shop grid-a",
                        "mode": "delivery",
                        "drive_time_s": 180,
                        "slowest_reached_s": 97.6,
                    },
                }
            ],
        },
        response_type="application/geo+json",
    ),
    ("/api/v1/fulfilment/options", "post"): Example(
        tag="Fulfilment",
        body={
            "lat": 38.9,
            "lon": -77.03,
            "cart": [{"sku": "milk-1l", "qty": 2}, {"sku": "bread", "qty": 1}],
            "modes": ["pickup", "express"],
            "limit": 2,
        },
        response={
            "origin": {"lat": 38.9, "lon": -77.03, "source": "coordinates", "label": None},
            "at": "2026-12-02T01:53:49.746558+00:00",
            "cart": [
                {"sku": "milk-1l", "qty": 2, "name": "Whole milk 1 l", "temperature": "chilled"},
                {"sku": "bread", "qty": 1, "name": "Sourdough loaf", "temperature": "ambient"},
            ],
            "options": [
                {
                    "mode": "pickup",
                    "source": "stock",
                    "location": {
                        "id": 142,
                        "external_id": "dc-convenience-0022",
                        "name": "Bluebird Mini Mart Washington (U St NW)",
                        "brand": "Bluebird Mini Mart",
                        "kind": "convenience_store",
                        "lat": 38.919484,
                        "lon": -77.036887,
                        "distance_m": 2244.0,
                        "address": {
                            "line1": "6528 U St NW",
                            "city": "Washington",
                            "region": "DC",
                            "postcode": "20009",
                            "country": "US",
                        },
                        "capabilities": ["cold_chain", "frozen", "pickup"],
                        "opening_hours": "Mo-Th 06:00-23:00; Fr,Sa 06:00-01:00; Su 07:00-23:00",
                        "timezone": "America/New_York",
                        "status": "active",
                        "is_open": True,
                        "next_change": "2026-12-01T23:00:00-05:00",
                    },
                    "supplied_from": None,
                    "ready_at": "2026-12-01T21:08:49.746558-05:00",
                    "arrive_by": None,
                    "distance_m": 2244.0,
                    "duration_s": None,
                    "hours_unknown": False,
                },
                {
                    "mode": "pickup",
                    "source": "stock",
                    "location": {
                        "id": 237,
                        "external_id": "dc-convenience-0117",
                        "name": "Fernleaf Corner Store Mount Rainier (Ridge Rd)",
                        "brand": "Fernleaf Corner Store",
                        "kind": "convenience_store",
                        "lat": 38.941445,
                        "lon": -76.965256,
                        "distance_m": 7259.1,
                        "address": {
                            "line1": "3316 Ridge Rd",
                            "city": "Mount Rainier",
                            "region": "MD",
                            "postcode": "20712",
                            "country": "US",
                        },
                        "capabilities": ["cash", "cold_chain", "frozen", "pickup"],
                        "opening_hours": "Mo-Su 06:00-23:00",
                        "timezone": "America/New_York",
                        "status": "active",
                        "is_open": True,
                        "next_change": "2026-12-01T23:00:00-05:00",
                    },
                    "supplied_from": None,
                    "ready_at": "2026-12-01T21:08:49.746558-05:00",
                    "arrive_by": None,
                    "distance_m": 7259.1,
                    "duration_s": None,
                    "hours_unknown": False,
                },
            ],
            "options_total": 57,
            "excluded": [
                {
                    "location": {
                        "external_id": "dc-convenience-0101",
                        "name": "Potomac Pantry Washington (Rhode Island Ave NW)",
                        "kind": "convenience_store",
                        "distance_m": 644.8,
                    },
                    "mode": "pickup",
                    "reasons": [{"code": "temperature", "needs": "cold_chain"}],
                }
            ],
            "excluded_total": 181,
        },
    ),
    ("/api/v1/fulfilment/holds", "post"): Example(
        tag="Holds and orders",
        parameters={"Idempotency-Key": "checkout-7f3a-1"},
        body={
            "location_external_id": "dc-store-0001",
            "mode": "pickup",
            "cart": [{"sku": "milk-1l", "qty": 2}],
        },
        status=201,
        response={
            "hold_id": "dd53ea92-40e8-48dc-b1d9-3d29f2eebad4",
            "location_external_id": "dc-store-0001",
            "mode": "pickup",
            "source": "stock",
            "supplied_from": None,
            "ready_at": "2026-12-02T08:30:00-05:00",
            "arrive_by": None,
            "expires_at": "2026-12-02T02:08:50.034330+00:00",
        },
    ),
    ("/api/v1/fulfilment/holds/{hold_id}/confirm", "post"): Example(
        tag="Holds and orders",
        parameters={"hold_id": "dd53ea92-40e8-48dc-b1d9-3d29f2eebad4"},
        response={
            "order_id": "dd53ea92-40e8-48dc-b1d9-3d29f2eebad4",
            "status": "ordered",
            "location_external_id": "dc-store-0001",
            "mode": "pickup",
            "ready_at": "2026-12-02T08:30:00-05:00",
            "arrive_by": None,
            "collect_by": "2026-12-05T13:30:00+00:00",
        },
    ),
    ("/api/v1/fulfilment/orders/{order_id}/collected", "post"): Example(
        tag="Holds and orders",
        parameters={"order_id": "dd53ea92-40e8-48dc-b1d9-3d29f2eebad4"},
        response={
            "order_id": "dd53ea92-40e8-48dc-b1d9-3d29f2eebad4",
            "status": "collected",
            "location_external_id": "dc-store-0001",
            "mode": "pickup",
            "ready_at": "2026-12-02T08:30:00-05:00",
            "arrive_by": None,
            "collect_by": "2026-12-05T13:30:00+00:00",
        },
    ),
    ("/api/v1/fulfilment/holds/{hold_id}", "delete"): Example(
        tag="Holds and orders",
        parameters={"hold_id": "dd53ea92-40e8-48dc-b1d9-3d29f2eebad4"},
        status=204,
    ),
    ("/api/v1/fulfilment/orders/{order_id}", "delete"): Example(
        tag="Holds and orders",
        parameters={"order_id": "dd53ea92-40e8-48dc-b1d9-3d29f2eebad4"},
        status=204,
    ),
    ("/api/v1/planning/demand-sets", "get"): Example(
        tag="Planning",
        response={
            "demand_sets": [
                {
                    "name": "demo-orders",
                    "imported_at": "2026-12-02T01:53:41.798276+00:00",
                    "points": 3000,
                    "weight": 5020.0,
                }
            ]
        },
    ),
    ("/api/v1/planning/demand", "get"): Example(
        tag="Planning",
        parameters={"demand": "demo-orders", "region": "dc", "mode": ["delivery", "express"]},
        response={
            "region": "dc",
            "bbox": None,
            "modes": {
                "delivery": {
                    "set": "demo-orders",
                    "points": 789,
                    "weight": 1282.0,
                    "covered_weight": 1282.0,
                    "covered_share": 1.0,
                    "drive_time": {"areas": 0, "covered_weight": 0.0, "covered_share": 0.0},
                    "uncovered": {
                        "points": 0,
                        "weight": 0,
                        "heaviest": {
                            "type": "FeatureCollection",
                            "features": [],
                            "numberMatched": 0,
                            "numberReturned": 0,
                        },
                        "hexagons": {"type": "FeatureCollection", "features": []},
                        "hex_edge_m": 322.150803,
                    },
                },
                "express": {
                    "set": "demo-orders",
                    "points": 789,
                    "weight": 1282.0,
                    "covered_weight": 1195.0,
                    "covered_share": 0.932137,
                    "drive_time": {"areas": 0, "covered_weight": 0.0, "covered_share": 0.0},
                    "uncovered": {
                        "points": 55,
                        "weight": 87,
                        "heaviest": {
                            "type": "FeatureCollection",
                            "features": [
                                {
                                    "type": "Feature",
                                    "id": 1746,
                                    "geometry": {
                                        "type": "Point",
                                        "coordinates": [-76.963448, 38.870082],
                                    },
                                    "properties": {"weight": 6, "label": "addr-01746"},
                                }
                            ],
                            "numberMatched": 55,
                            "numberReturned": 55,
                        },
                        "hexagons": {
                            "type": "FeatureCollection",
                            "features": [
                                {
                                    "type": "Feature",
                                    "id": "10,7755",
                                    "geometry": {
                                        "type": "Polygon",
                                        "coordinates": [
                                            [
                                                [-76.96552, 38.871245],
                                                [-76.963661, 38.868739],
                                                [-76.959942, 38.868739],
                                                [-76.958083, 38.871245],
                                                [-76.96552, 38.871245],
                                            ]
                                        ],
                                    },
                                    "properties": {"weight": 6, "points": 1},
                                }
                            ],
                        },
                        "hex_edge_m": 322.150803,
                    },
                },
            },
        },
    ),
    ("/api/v1/planning/what-if", "post"): Example(
        tag="Planning",
        body={
            "region": "dc",
            "mode": "express",
            "demand": "demo-orders",
            "candidates": [
                {"id": "site-a", "lat": 38.9, "lon": -77.03, "radius_m": 3000},
                {"id": "site-b", "lat": 38.95, "lon": -77.0, "radius_m": 3000},
            ],
        },
        response={
            "region": "dc",
            "bbox": None,
            "mode": "express",
            "demand": "demo-orders",
            "tolerance_deg": 0.0,
            "today": {
                "area_m2": 176556257.239928,
                "demand_points": 789,
                "demand_weight": 1282.0,
                "demand_covered_weight": 1195.0,
                "demand_covered_share": 0.932137,
            },
            "candidates": [
                {
                    "id": "site-a",
                    "lat": 38.9,
                    "lon": -77.03,
                    "radius_m": 3000.0,
                    "drive_time_s": None,
                    "area_m2": 27964422.507698,
                    "area_gained_m2": 0.271817,
                    "overlap_m2": 27964422.23588,
                    "demand_weight": 424.0,
                    "demand_gained": 0,
                    "demand_overlap": 424.0,
                    "loses_exclusivity": [
                        {
                            "external_id": "dc-store-0102",
                            "name": "Northwind Market Washington (Massachusetts Ave SW)",
                            "area_m2": 3510986.909061,
                            "demand_weight": 32.0,
                        },
                        {
                            "external_id": "dc-store-0008",
                            "name": "Northwind Market Washington (U St NW)",
                            "area_m2": 176289.128611,
                            "demand_weight": 1.0,
                        },
                    ],
                    "geometry": {
                        "type": "MultiPolygon",
                        "coordinates": [
                            [
                                [
                                    [-77.02830245735393, 38.92699109626574],
                                    [-77.06454183131063, 38.901320881863704],
                                    [-77.03169625784733, 38.87300875394672],
                                    [-76.99545945348748, 38.8986688997267],
                                    [-77.02830245735393, 38.92699109626574],
                                ]
                            ]
                        ],
                    },
                }
            ],
            "combined": {
                "area_m2": 47630008.280571,
                "area_gained_m2": 205168.170281,
                "overlap_m2": 47424840.110291,
                "demand_weight": 605.0,
                "demand_gained": 0,
                "demand_overlap": 605.0,
                "loses_exclusivity": [
                    {
                        "external_id": "dc-store-0102",
                        "name": "Northwind Market Washington (Massachusetts Ave SW)",
                        "area_m2": 3510986.909061,
                        "demand_weight": 32.0,
                    },
                    {
                        "external_id": "dc-store-0109",
                        "name": "Northwind Market Washington (H St NE)",
                        "area_m2": 4181569.087663,
                        "demand_weight": 13.0,
                    },
                ],
                "demand_covered_share_after": 0.932137,
            },
            "best_next": None,
        },
    ),
    ("/api/v1/locations/{external_id}", "put"): Example(
        tag="Admin",
        parameters={"external_id": "dc-locker-0901"},
        body={
            "name": "Parcel locker Union Station",
            "kind": "locker",
            "lat": 38.8973,
            "lon": -77.0063,
            "address": "50 Massachusetts Ave NE",
            "city": "Washington",
            "region": "DC",
            "postcode": "20002",
            "country": "US",
            "opening_hours": "24/7",
            "capabilities": ["pickup", "returns"],
        },
        status=201,
        response={
            "id": 401,
            "external_id": "dc-locker-0901",
            "name": "Parcel locker Union Station",
            "brand": None,
            "kind": "locker",
            "lat": 38.8973,
            "lon": -77.0063,
            "address": {
                "line1": "50 Massachusetts Ave NE",
                "city": "Washington",
                "region": "DC",
                "postcode": "20002",
                "country": "US",
            },
            "capabilities": ["pickup", "returns"],
            "opening_hours": "24/7",
            "timezone": "America/New_York",
            "status": "active",
            "is_open": None,
            "next_change": None,
        },
    ),
    ("/api/v1/locations/{external_id}/service-areas/{mode}", "put"): Example(
        tag="Admin",
        parameters={"external_id": "dc-store-0002", "mode": "delivery"},
        body={"radius_m": 8000},
        response={"location_id": "dc-store-0002", "mode": "delivery", "created": False},
    ),
    ("/api/v1/locations/{external_id}/stock", "put"): Example(
        tag="Admin",
        parameters={"external_id": "dc-store-0001"},
        body={
            "lines": [{"sku": "milk-1l", "on_hand": 24}, {"sku": "bread", "on_hand": 40}],
            "replace": False,
        },
        response={
            "location_external_id": "dc-store-0001",
            "lines": [{"sku": "batteries-aa", "on_hand": 12}],
        },
    ),
    ("/api/v1/imports", "post"): Example(
        tag="Admin",
        parameters={"filename": "stock.csv"},
        body="location_external_id,sku,on_hand\ndc-store-0001,yoghurt,12\ndc-store-0001,pasta,30\n",
        body_type="text/csv",
        response={
            "dataset": "stock",
            "total": 2,
            "created": 0,
            "updated": 1,
            "unchanged": 1,
            "replaced": 0,
            "rejected": [],
            "warnings": [],
            "warning_count": 0,
            "merged": 0,
            "attributes": [],
            "dry_run": False,
            "applied": True,
            "seconds": 0.037,
            "timings": {
                "reading": 0.0,
                "validation": 0.0,
                "copy": 0.024,
                "upsert": 0.006,
                "analyze": 0.0,
            },
            "rows_per_second": 54,
        },
    ),
    ("/api/v1/locations/{external_id}", "delete"): Example(
        tag="Admin", parameters={"external_id": "dc-locker-0901"}, status=204
    ),
    ("/tiles/locations/{z}/{x}/{y}.mvt", "get"): Example(
        tag="Map tiles",
        parameters={"z": 12, "x": 1171, "y": 1566},
        response_type="application/vnd.mapbox-vector-tile",
    ),
    ("/tiles/service_areas/{z}/{x}/{y}.mvt", "get"): Example(
        tag="Map tiles",
        parameters={"z": 10, "x": 292, "y": 391, "mode": ["express"]},
        response_type="application/vnd.mapbox-vector-tile",
    ),
    ("/ogc", "get"): Example(
        tag="OGC API - Features",
        response={
            "title": "Pickup-point and store locator",
            "description": "The network's locations and service areas as OGC API - Features.",
            "links": [
                {
                    "href": "http://localhost/ogc",
                    "rel": "self",
                    "type": "application/json",
                    "title": "This document",
                },
                {
                    "href": "http://localhost/api/v1/openapi.json",
                    "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                    "title": "The API definition",
                },
                {
                    "href": "http://localhost/api/docs",
                    "rel": "service-doc",
                    "type": "text/html",
                    "title": "The API documentation",
                },
                {
                    "href": "http://localhost/ogc/conformance",
                    "rel": "conformance",
                    "type": "application/json",
                    "title": "Conformance classes",
                },
                {
                    "href": "http://localhost/ogc/collections",
                    "rel": "data",
                    "type": "application/json",
                    "title": "The collections",
                },
            ],
        },
    ),
    ("/ogc/conformance", "get"): Example(
        tag="OGC API - Features",
        response={
            "conformsTo": [
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
            ]
        },
    ),
    ("/ogc/collections", "get"): Example(
        tag="OGC API - Features",
        response={
            "links": [
                {
                    "href": "http://localhost/ogc/collections",
                    "rel": "self",
                    "type": "application/json",
                    "title": "The collections",
                }
            ],
            "collections": [
                {
                    "id": "locations",
                    "title": "Locations",
                    "description": (
                        "Stores, warehouses, convenience stores and lockers, of every status."
                    ),
                    "itemType": "feature",
                    "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
                    "extent": {
                        "spatial": {
                            "bbox": [[-77.375701, 38.66923]],
                            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                        }
                    },
                    "links": [
                        {
                            "href": "http://localhost/ogc/collections/locations",
                            "rel": "self",
                            "type": "application/json",
                            "title": "Locations",
                        },
                        {
                            "href": "http://localhost/ogc/collections/locations/items",
                            "rel": "items",
                            "type": "application/geo+json",
                            "title": "Locations (GeoJSON)",
                        },
                    ],
                },
                {
                    "id": "service_areas",
                    "title": "Service areas",
                    "description": (
                        "Where each location delivers (delivery, express) or supplies from, one "
                        "area per location and mode; areas of retired locations are left out."
                    ),
                    "itemType": "feature",
                    "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
                    "extent": {
                        "spatial": {
                            "bbox": [[-77.388295, 38.564593]],
                            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                        }
                    },
                    "links": [
                        {
                            "href": "http://localhost/ogc/collections/service_areas",
                            "rel": "self",
                            "type": "application/json",
                            "title": "Service areas",
                        },
                        {
                            "href": "http://localhost/ogc/collections/service_areas/items",
                            "rel": "items",
                            "type": "application/geo+json",
                            "title": "Service areas (GeoJSON)",
                        },
                    ],
                },
            ],
        },
    ),
    ("/ogc/collections/{collection_id}", "get"): Example(
        tag="OGC API - Features",
        parameters={"collection_id": "locations"},
        response={
            "id": "locations",
            "title": "Locations",
            "description": "Stores, warehouses, convenience stores and lockers, of every status.",
            "itemType": "feature",
            "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
            "extent": {
                "spatial": {
                    "bbox": [[-77.375701, 38.66923]],
                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                }
            },
            "links": [
                {
                    "href": "http://localhost/ogc/collections/locations",
                    "rel": "self",
                    "type": "application/json",
                    "title": "Locations",
                },
                {
                    "href": "http://localhost/ogc/collections/locations/items",
                    "rel": "items",
                    "type": "application/geo+json",
                    "title": "Locations (GeoJSON)",
                },
            ],
        },
    ),
    ("/ogc/collections/{collection_id}/items", "get"): Example(
        tag="OGC API - Features",
        parameters={"collection_id": "locations", "bbox": "-77.05,38.88,-77.0,38.92", "limit": 2},
        response={
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "dc-store-0006",
                    "geometry": {"type": "Point", "coordinates": [-77.042733, 38.909567]},
                    "properties": {
                        "external_id": "dc-store-0006",
                        "name": "Northwind Market Washington (Massachusetts Ave NW)",
                        "brand": "Northwind Market",
                        "kind": "store",
                        "status": "active",
                        "address_line1": "4744 Massachusetts Ave NW",
                        "city": "Washington",
                        "region": "DC",
                        "postcode": "20036",
                        "country": "US",
                        "capabilities": [
                            "accessible",
                            "bulky",
                            "cold_chain",
                            "delivery",
                            "express_delivery",
                            "frozen",
                            "pickup",
                            "returns",
                        ],
                        "opening_hours": "Mo-Sa 07:00-22:00; Su 08:00-20:00",
                        "timezone": "America/New_York",
                    },
                }
            ],
            "links": [
                {
                    "href": (
                        "http://localhost/ogc/collections/locations/items?limit=2&bbox=-77.05,38."
                        "88,-77.0,38.92"
                    ),
                    "rel": "self",
                    "type": "application/geo+json",
                    "title": "This page",
                },
                {
                    "href": "http://localhost/ogc/collections/locations",
                    "rel": "collection",
                    "type": "application/json",
                },
                {
                    "href": (
                        "http://localhost/ogc/collections/locations/items?limit=2&bbox=-77.05,38."
                        "88,-77.0,38.92&cursor=eyJmIjoiNTg2YzA5MDJlYzBmZTg4ZSIsInAiOlsyMCwxXX0."
                        "rS_ObJ8BSlQN4Wrk640DYb6XDKc"
                    ),
                    "rel": "next",
                    "type": "application/geo+json",
                    "title": "Next page",
                },
            ],
            "timeStamp": "2026-12-02T01:53:55Z",
            "numberMatched": 25,
            "numberReturned": 2,
        },
        response_type="application/geo+json",
    ),
    ("/ogc/collections/{collection_id}/items/{feature_id}", "get"): Example(
        tag="OGC API - Features",
        parameters={"collection_id": "locations", "feature_id": "dc-store-0001"},
        response={
            "type": "Feature",
            "id": "dc-store-0001",
            "geometry": {"type": "Point", "coordinates": [-76.931765, 39.092916]},
            "properties": {
                "external_id": "dc-store-0001",
                "name": "Northwind Market Burtonsville (Hillcrest Ave)",
                "brand": "Northwind Market",
                "kind": "store",
                "status": "active",
                "address_line1": "7436 Hillcrest Ave",
                "city": "Burtonsville",
                "region": "MD",
                "postcode": "20866",
                "country": "US",
                "capabilities": [
                    "accessible",
                    "cash",
                    "cold_chain",
                    "delivery",
                    "pickup",
                    "returns",
                ],
                "opening_hours": "Mo-Sa 08:00-21:00; Su 10:00-18:00",
                "timezone": "America/New_York",
            },
            "links": [
                {
                    "href": "http://localhost/ogc/collections/locations/items/dc-store-0001",
                    "rel": "self",
                    "type": "application/geo+json",
                },
                {
                    "href": "http://localhost/ogc/collections/locations",
                    "rel": "collection",
                    "type": "application/json",
                },
            ],
        },
        response_type="application/geo+json",
    ),
}


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
    response = responses.setdefault(str(example.status), {})
    # OpenAPI requires one; a view that documents only its content leaves it out.
    response.setdefault("description", _reason(example))
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
