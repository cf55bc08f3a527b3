"""Fulfilment SQL: candidates, supplying warehouses, stock, settings, used capacity.

Each function answers for every location of a request at once (one statement, ids and
SKUs bound as arrays), so a request costs the same few round trips whatever its cart
or its number of candidates. The caller reads them from the primary (see
app/database.py): a replica's lag must never offer stock that was just held.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import Connection, text

from app.models import KINDS
from app.queries import as_dicts
from app.queries.coverage import served_by
from app.queries.holds import LIVE_CAPACITY, LIVE_UNITS
from app.queries.locations import LOCATION_COLUMNS
from app.queries.nearest import NearestFilter, nearest_locations

# Covering areas read per request: many more than the candidates, so that every
# candidate whose area covers the origin is among them.
MAX_COVERING_AREAS = 5_000


def products(connection: Connection, skus: Sequence[str]) -> dict[str, dict]:
    """sku -> {"name", "temperature"} of each known product among ``skus``."""
    result = connection.execute(
        text("SELECT sku, name, temperature FROM products WHERE sku = ANY(:skus)"),
        {"skus": list(skus)},
    )
    return {
        row["sku"]: {"name": row["name"], "temperature": row["temperature"]}
        for row in result.mappings()
    }


def product_temperatures(connection: Connection, skus: Sequence[str]) -> dict[str, str]:
    """sku -> temperature of each known product among ``skus``."""
    return {sku: product["temperature"] for sku, product in products(connection, skus).items()}


def candidates(
    connection: Connection,
    lon: float,
    lat: float,
    radius_m: float,
    capability: str,
    area_mode: str | None,
    limit: int,
) -> list[dict]:
    """The active locations with ``capability`` within ``radius_m``, nearest first (exact
    geodesic distance, app/queries/nearest.py); with ``area_mode``, each says whether its
    area of that mode covers the origin (``covers``)."""
    rows = nearest_locations(
        connection, lon, lat, limit, NearestFilter(radius_m, KINDS, (capability,))
    )
    if area_mode is not None and rows:
        covering = covering_location_ids(connection, lon, lat, area_mode)
        for row in rows:
            row["covers"] = row["id"] in covering
    return rows


def covering_location_ids(connection: Connection, lon: float, lat: float, mode: str) -> set[int]:
    """The locations whose area of ``mode`` covers (lon, lat)."""
    [answer] = served_by(connection, [(lon, lat)], [mode], MAX_COVERING_AREAS)
    return {area["location_id"] for area in answer["served_by"]}


# The covered pairs first, through the points' GiST index (a few supply areas, each
# against the points inside it); joined straight to the warehouses, the planner paired
# every location with every point (77,000 rows for 200 points on the demo).
_SUPPLIERS = text(
    f"""
WITH covered AS MATERIALIZED (
    SELECT p.id AS supplied_id, a.location_id
    FROM locations AS p
    JOIN service_areas AS a ON a.mode = 'supply' AND ST_Covers(a.geom, p.geog::geometry)
    WHERE p.id = ANY(:ids)
)
SELECT c.supplied_id, {LOCATION_COLUMNS}
FROM covered AS c
JOIN locations AS l ON l.id = c.location_id
WHERE l.status = 'active' AND l.id <> c.supplied_id
ORDER BY c.supplied_id, l.external_id
"""
)


def suppliers(connection: Connection, point_ids: Sequence[int]) -> list[dict]:
    """The active warehouses whose ``supply`` area covers each of ``point_ids``: location
    rows with ``supplied_id``, the point they supply."""
    if not point_ids:
        return []
    return as_dicts(connection.execute(_SUPPLIERS, {"ids": list(point_ids)}))


# What can be promised of a SKU at a location, in this one statement: on hand minus
# what live holds and uncollected orders keep at ``now`` (app/queries/holds.py), never
# below 0 (a feed may lower on_hand under what is held; the holds stand).
_AVAILABLE = text(
    f"""
SELECT s.location_id, s.sku, GREATEST(s.on_hand - COALESCE(kept.units, 0), 0) AS available
FROM stock AS s
LEFT JOIN LATERAL (
    SELECT sum(hl.qty) AS units
    FROM hold_lines AS hl JOIN holds AS h ON h.id = hl.hold_id
    WHERE hl.location_id = s.location_id AND hl.sku = s.sku AND {LIVE_UNITS}
) AS kept ON true
WHERE s.location_id = ANY(:ids) AND s.sku = ANY(:skus)
"""
)


def available_stock(
    connection: Connection, location_ids: Sequence[int], skus: Sequence[str], now: datetime
) -> dict[tuple[int, str], int]:
    """(location id, sku) -> units available at ``now``, for every pair in one set-based
    query; a pair without a stock line is absent (0 available)."""
    if not location_ids or not skus:
        return {}
    result = connection.execute(
        _AVAILABLE, {"ids": list(location_ids), "skus": list(skus), "now": now}
    )
    return {(location_id, sku): available for location_id, sku, available in result}


def fulfilment_settings(
    connection: Connection, location_ids: Sequence[int]
) -> dict[tuple[int, str], dict]:
    """(location id, mode) -> its settings row, for those that have one."""
    if not location_ids:
        return {}
    result = connection.execute(
        text(
            "SELECT location_id, mode, prep_minutes, cutoff, daily_capacity, departures,"
            " lead_minutes FROM fulfilment_settings WHERE location_id = ANY(:ids)"
        ),
        {"ids": list(location_ids)},
    )
    return {(row["location_id"], row["mode"]): dict(row) for row in result.mappings()}


def used_capacity(
    connection: Connection,
    location_ids: Iterable[int],
    first_day: date,
    last_day: date,
    now: datetime,
) -> dict[tuple[int, str, date], int]:
    """(location id, mode, local day) -> the live holds and the orders counted on that
    day at ``now``: the local day of their ready_at, and for a transfer also the
    warehouse's departure day (``supply``)."""
    ids = list(location_ids)
    if not ids:
        return {}
    result = connection.execute(
        text(
            "SELECT c.location_id, c.mode, c.day, count(*)"
            " FROM hold_capacity AS c JOIN holds AS h ON h.id = c.hold_id"
            " WHERE c.location_id = ANY(:ids) AND c.day BETWEEN :first AND :last"
            f" AND {LIVE_CAPACITY} GROUP BY c.location_id, c.mode, c.day"
        ),
        {"ids": ids, "first": first_day, "last": last_day, "now": now},
    )
    return {(location_id, mode, day): used for location_id, mode, day, used in result}


# -- writes: one location's stock lines (the admin API) -------------------------------


def location_id(connection: Connection, external_id: str) -> int | None:
    return connection.execute(
        text("SELECT id FROM locations WHERE external_id = :id"), {"id": external_id}
    ).scalar_one_or_none()


def stock_lines(connection: Connection, location: int) -> list[dict]:
    """A location's stock lines (sku, on_hand) by sku."""
    return as_dicts(
        connection.execute(
            text("SELECT sku, on_hand FROM stock WHERE location_id = :id ORDER BY sku"),
            {"id": location},
        )
    )
