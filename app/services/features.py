"""OGC API - Features (Part 1, Core): the collections, pages of their features, one feature.

Pages are keyset pages by id, in both directions (``next`` and ``prev``), so a client
that follows ``next`` to the end has every feature exactly once, whatever it asked for as
``limit``. ``numberMatched`` counts what the bbox selects.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, Engine

from app.errors import NotFound
from app.limits import DEFAULT_OGC_ITEMS, EXTERNAL_ID
from app.paging import NOT_IN_CURSOR
from app.queries import features as sql
from app.queries.tiles import data_version

COLLECTIONS = {
    "locations": {
        "title": "Locations",
        "description": "Stores, warehouses, convenience stores and lockers, of every status.",
    },
    "service_areas": {
        "title": "Service areas",
        "description": "Where each location delivers (delivery, express) or supplies from, "
        "one area per location and mode; areas of retired locations are left out.",
    },
}


@dataclass(frozen=True)
class FeatureSearch:
    """What an /items request selects; the page size may change between pages."""

    collection: str
    bbox: tuple[float, float, float, float] | None = None
    limit: int = field(default=DEFAULT_OGC_ITEMS, metadata=NOT_IN_CURSOR)


@dataclass
class FeaturePage:
    """Rows of one page (areas with their geometry parsed), and where its neighbours start."""

    rows: list[dict]
    number_matched: int
    next_after: int | None  # the next page starts after this id
    prev_before: int | None  # the previous page ends before this id


def collection(name: str) -> dict:
    """A collection's title and description; NotFound for an unknown one."""
    if name not in COLLECTIONS:
        raise NotFound(
            f"no collection {name!r}", field="collectionId", message="no such collection"
        )
    return COLLECTIONS[name]


# Each collection's extent per engine, with the data version it was read at. ST_Extent
# reads every row (a third of a second at a million locations) and /collections shows
# both extents on every call, while the data changes rarely: a call costs the version
# query, and the scan runs once per process after each write.
_extents: weakref.WeakKeyDictionary[Engine, dict[str, tuple[int, tuple | None]]] = (
    weakref.WeakKeyDictionary()
)
_extents_lock = threading.Lock()


def extent(connection: Connection, name: str) -> tuple[float, float, float, float] | None:
    """The collection's (west, south, east, north), or None when it is empty.

    Stored under the version read *before* the scan: a write committed in between makes
    the stored extent newer than its version, never older, so a later reader (who sees
    the new version) scans again; it is never stale."""
    collection(name)
    version = data_version(connection)
    with _extents_lock:
        known = _extents.setdefault(connection.engine, {}).get(name)
    if known is not None and known[0] == version:
        return known[1]
    bbox = sql.extent(connection, name)
    with _extents_lock:
        _extents[connection.engine][name] = (version, bbox)
    return bbox


def items(
    connection: Connection,
    search: FeatureSearch,
    *,
    after: int | None = None,
    before: int | None = None,
) -> FeaturePage:
    """One page of ``search``: the first one, the one after id ``after``, or the one
    before id ``before``."""
    collection(search.collection)
    rows = sql.page(
        connection,
        search.collection,
        bbox=search.bbox,
        limit=search.limit + 1,
        after_id=after,
        before_id=before,
    )
    more = len(rows) > search.limit
    if before is not None:
        # Read backwards: the extra row is the first one, and a next page always exists.
        rows = rows[1:] if more else rows
        has_next, has_prev = bool(rows), more
    else:
        rows = rows[: search.limit]
        has_next, has_prev = more, after is not None and bool(rows)
    for row in rows:
        _parse_geometry(row)
    return FeaturePage(
        rows=rows,
        number_matched=sql.count(connection, search.collection, bbox=search.bbox),
        next_after=rows[-1]["id"] if has_next else None,
        prev_before=rows[0]["id"] if has_prev else None,
    )


def item(connection: Connection, name: str, feature_id: str) -> dict:
    """One feature's row: a location by external_id, an area by id; NotFound otherwise."""
    collection(name)
    row = None
    if name == "locations" and EXTERNAL_ID.fullmatch(feature_id):
        row = sql.one(connection, name, feature_id)
    elif name == "service_areas" and feature_id.isascii() and feature_id.isdigit():
        if len(feature_id) <= 18:  # beyond a bigint there is no such id
            row = sql.one(connection, name, int(feature_id))
    if row is None:
        raise NotFound(
            f"no feature {feature_id!r} in {name}", field="featureId", message="no such feature"
        )
    return _parse_geometry(row)


def _parse_geometry(row: dict) -> dict:
    if "geometry" in row:
        row["geometry"] = orjson.loads(row["geometry"])
    return row
