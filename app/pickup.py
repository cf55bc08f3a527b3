"""Nearest pickup points: the exact nearest-first query, opening hours, keyset paging.

Kept apart from the view (which only parses and serialises) and from queries/ (which
only holds SQL): opening hours are evaluated in Python, so filtering on them means
reading further pages of the nearest-first scan until enough open locations are found.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection

from app.hours import add_open_state
from app.queries.nearest import NearestFilter, nearest_locations

# How far a pickup search reaches when the caller does not say (metres).
DEFAULT_RADIUS_M = 25_000
# With an opening-hours filter, read this many rows per requested result at a time.
OPEN_FILTER_READ_FACTOR = 4


class InvalidCursor(ValueError):
    """The cursor is garbage, tampered with, or belongs to another query."""


@dataclass(frozen=True)
class PickupSearch:
    lat: float
    lon: float
    radius_m: float
    limit: int
    kinds: tuple[str, ...]
    capabilities: tuple[str, ...]  # always includes "pickup"
    at: datetime  # when is_open is evaluated
    only_open: bool

    def fingerprint(self) -> str:
        """Identifies the query a cursor belongs to (time excluded: 'now' moves)."""
        key = [self.lat, self.lon, self.radius_m, self.kinds, self.capabilities, self.only_open]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


@dataclass
class PickupPage:
    results: list[dict]
    next_after: tuple[float, int] | None


def find_pickup_points(
    connection: Connection, search: PickupSearch, after: tuple[float, int] | None
) -> PickupPage:
    """One page of the nearest pickup points, each with is_open/next_change at search.at."""
    where = NearestFilter(search.radius_m, search.kinds, search.capabilities)
    batch = search.limit + 1
    if search.only_open:
        batch *= OPEN_FILTER_READ_FACTOR
    results: list[dict] = []
    while len(results) <= search.limit:
        rows = nearest_locations(connection, search.lon, search.lat, batch, where, after)
        for row in rows:
            add_open_state(row, search.at)
            if search.only_open and row["is_open"] is not True:
                continue
            results.append(row)
            if len(results) > search.limit:
                break
        if len(rows) < batch:
            break  # the scan is exhausted
        after = (rows[-1]["distance_m"], rows[-1]["id"])
    has_more = len(results) > search.limit
    results = results[: search.limit]
    next_after = (results[-1]["distance_m"], results[-1]["id"]) if has_more else None
    return PickupPage(results, next_after)


def now() -> datetime:
    return datetime.now(UTC)


# -- cursors ------------------------------------------------------------------------


def encode_cursor(secret: str, fingerprint: str, after: tuple[float, int]) -> str:
    """A signed, opaque cursor: the last (distance, id) and the query it belongs to."""
    return _serializer(secret).dumps({"f": fingerprint, "d": after[0], "i": after[1]})


def decode_cursor(secret: str, fingerprint: str, cursor: str) -> tuple[float, int]:
    """The (distance, id) inside a cursor made by encode_cursor for the same query."""
    try:
        payload = _serializer(secret).loads(cursor)
    except BadSignature as error:
        raise InvalidCursor("the cursor is not one this service issued") from error
    if not isinstance(payload, dict) or payload.get("f") != fingerprint:
        raise InvalidCursor("the cursor belongs to a different query")
    distance, last_id = payload.get("d"), payload.get("i")
    if not isinstance(distance, float | int) or not isinstance(last_id, int):
        raise InvalidCursor("the cursor is malformed")
    return float(distance), last_id


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="locator-cursor")
