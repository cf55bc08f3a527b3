"""Locations of every kind and status: filtered keyset pages, and one by its external_id."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from app.errors import NotFound
from app.hours import add_open_state
from app.limits import DEFAULT_PAGE_SIZE, EXTERNAL_ID
from app.models import KINDS, STATUSES
from app.paging import NOT_IN_CURSOR
from app.queries import locations as sql
from app.services.pickup import now


@dataclass(frozen=True)
class LocationSearch:
    """Filters of a /locations listing; every field but ``limit`` is in the cursor."""

    kinds: frozenset[str] = frozenset(KINDS)
    capabilities: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset(STATUSES)
    bbox: tuple[float, float, float, float] | None = None
    limit: int = field(default=DEFAULT_PAGE_SIZE, metadata=NOT_IN_CURSOR)


@dataclass
class LocationPage:
    results: list[dict]
    next_after: tuple[int] | None


def list_locations(
    connection: Connection, search: LocationSearch, after: tuple[int] | None = None
) -> LocationPage:
    """One page of locations by id, each with its opening state now."""
    rows = sql.list_locations(
        connection,
        kinds=sorted(search.kinds),
        capabilities=sorted(search.capabilities),
        statuses=sorted(search.statuses),
        bbox=search.bbox,
        limit=search.limit + 1,
        after_id=after[0] if after else None,
    )
    page = rows[: search.limit]
    at = now()
    for row in page:
        add_open_state(row, at)
    has_more = len(rows) > search.limit
    return LocationPage(page, (page[-1]["id"],) if has_more else None)


def get_location(connection: Connection, external_id: str) -> dict:
    """One location with its opening state now; NotFound when there is none."""
    # An id that cannot exist (bad characters, NUL) is simply not found.
    row = sql.get_location(connection, external_id) if EXTERNAL_ID.fullmatch(external_id) else None
    if row is None:
        raise NotFound(
            f"no location with external_id {external_id!r}",
            field="external_id",
            message="no such location",
        )
    return add_open_state(row, now())
