"""Nearest pickup points: the exact nearest-first query, opening hours, keyset paging.

Opening hours are evaluated in Python, so filtering on them means reading further along
the nearest-first scan until enough open locations are found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection

from app.hours import add_open_state
from app.limits import DEFAULT_PICKUP_LIMIT, DEFAULT_RADIUS_M
from app.models import KINDS
from app.paging import NOT_IN_CURSOR
from app.queries.nearest import NearestFilter, nearest_locations

# With an opening-hours filter, read this many rows per requested result at a time.
OPEN_FILTER_READ_FACTOR = 4


@dataclass(frozen=True)
class PickupSearch:
    """What a shopper or checkout asks for. Every field but those marked NOT_IN_CURSOR
    is part of the cursor's fingerprint (app/paging.py): a new filter needs no more."""

    lat: float
    lon: float
    radius_m: float = DEFAULT_RADIUS_M
    kinds: frozenset[str] = frozenset(KINDS)
    capabilities: frozenset[str] = frozenset()  # besides "pickup", which is implied
    open_at: datetime | None = None  # only locations open then
    open_now: bool = False  # only locations open at the moment of the request
    limit: int = field(default=DEFAULT_PICKUP_LIMIT, metadata=NOT_IN_CURSOR)

    @property
    def only_open(self) -> bool:
        return self.open_now or self.open_at is not None

    def where(self) -> NearestFilter:
        return NearestFilter(
            self.radius_m, tuple(sorted(self.kinds)), tuple(sorted({"pickup", *self.capabilities}))
        )


@dataclass
class PickupPage:
    results: list[dict]  # location rows with distance_m, is_open and next_change
    next_after: tuple[float, int] | None  # the keyset position of the next page


def find_pickup_points(
    connection: Connection, search: PickupSearch, after: tuple[float, int] | None = None
) -> PickupPage:
    """One page of the nearest pickup points, each with is_open/next_change.

    They are evaluated at ``open_at`` when given, else now.
    """
    at = search.open_at or now()
    where = search.where()
    batch = search.limit + 1
    if search.only_open:
        batch *= OPEN_FILTER_READ_FACTOR
    results: list[dict] = []
    while len(results) <= search.limit:
        rows = nearest_locations(connection, search.lon, search.lat, batch, where, after)
        for row in rows:
            add_open_state(row, at)
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
