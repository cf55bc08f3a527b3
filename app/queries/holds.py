"""Holds and orders SQL (DESIGN §4.6): what they keep, the locks they take, their changes.

Whether a hold still keeps something is decided by comparing its time columns with the
moment of the question (``:now``, the caller's clock), in the statements that read
availability and capacity (LIVE_UNITS, LIVE_CAPACITY): an expired hold stops counting
the instant it expires, with no job to run. Each state change is one conditional UPDATE
that names the state it starts from, so two requests racing on one hold cannot both
change it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Connection, text

from app.queries import as_dicts
from app.queries.locations import LOCATION_COLUMNS

# A hold keeps its units until it expires; an order keeps them until it is collected or
# cancelled, or its pickup window (collect_by) ends. ``h`` is the holds row.
LIVE_UNITS = (
    "((h.status = 'held' AND h.expires_at > :now)"
    " OR (h.status = 'ordered' AND h.collect_by > :now))"
)
# Capacity is orders per day: a collected order, or one never collected, was still an
# order on its day. Only a hold that expired or was released, or a cancelled order,
# gives its unit of the day back.
LIVE_CAPACITY = (
    "((h.status = 'held' AND h.expires_at > :now) OR h.status IN ('ordered', 'collected'))"
)

HOLD_COLUMNS = """
    h.id, h.idempotency_key, h.request_sha256, h.status, h.mode, h.source,
    h.ready_at, h.arrive_by, h.created_at, h.expires_at, h.confirmed_at, h.collect_by,
    h.ended_at, l.external_id AS location_external_id, l.timezone,
    w.external_id AS supplied_from_external_id
"""
_HOLD_FROM = """
FROM holds AS h
LEFT JOIN locations AS l ON l.id = h.location_id
LEFT JOIN locations AS w ON w.id = h.supplied_from_id
"""


def location(
    connection: Connection, external_id: str, lon: float | None, lat: float | None
) -> dict | None:
    """A location row (as the fulfilment rules read one) with its geodesic distance from
    (lon, lat) when given, else 0."""
    distance = (
        "ST_Distance(l.geog, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)"
        if lon is not None
        else "0.0"
    )
    rows = as_dicts(
        connection.execute(
            text(
                f"SELECT {LOCATION_COLUMNS}, {distance} AS distance_m"
                " FROM locations AS l WHERE l.external_id = :id"
            ),
            {"id": external_id, "lon": lon, "lat": lat},
        )
    )
    return rows[0] if rows else None


def hold_by_key(connection: Connection, key: str) -> dict | None:
    rows = as_dicts(
        connection.execute(
            text(f"SELECT {HOLD_COLUMNS} {_HOLD_FROM} WHERE h.idempotency_key = :key"),
            {"key": key},
        )
    )
    return rows[0] if rows else None


def hold_by_id(connection: Connection, hold_id: uuid.UUID) -> dict | None:
    rows = as_dicts(
        connection.execute(
            text(f"SELECT {HOLD_COLUMNS} {_HOLD_FROM} WHERE h.id = :id"), {"id": hold_id}
        )
    )
    return rows[0] if rows else None


def lock(connection: Connection, resources: Sequence[tuple[int, str]]) -> None:
    """Take the row lock of every (location id, resource) until the transaction ends.

    The rows are made on first use (ON CONFLICT DO NOTHING waits for a concurrent
    insert of the same row, then skips it), then locked in one statement in
    (location, resource) order: every transaction locks in that one order, so two holds
    never wait for each other in a circle.
    """
    if not resources:
        return
    ordered = sorted(set(resources))
    params = {"ids": [r[0] for r in ordered], "names": [r[1] for r in ordered]}
    connection.execute(
        text(
            "INSERT INTO hold_locks (location_id, resource)"
            " SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:names AS text[]))"
            " ORDER BY 1, 2 ON CONFLICT DO NOTHING"
        ),
        params,
    )
    connection.execute(
        text(
            "SELECT 1 FROM hold_locks AS k"
            " JOIN unnest(CAST(:ids AS bigint[]), CAST(:names AS text[])) AS r (id, name)"
            " ON k.location_id = r.id AND k.resource = r.name"
            " ORDER BY k.location_id, k.resource FOR UPDATE OF k"
        ),
        params,
    )


def insert_hold(
    connection: Connection,
    hold: dict,
    lines: Sequence[tuple[int, str, int]],
    capacity: Sequence[tuple[int, str, date]],
) -> None:
    """A new hold with its lines (location id, sku, qty) and capacity (location id, mode,
    local day). A concurrent hold with the same idempotency key makes this raise
    IntegrityError (holds_idempotency_key_key) once that one commits."""
    connection.execute(
        text(
            "INSERT INTO holds (id, idempotency_key, request_sha256, location_id, mode,"
            " source, supplied_from_id, ready_at, arrive_by, created_at, expires_at)"
            " VALUES (:id, :idempotency_key, :request_sha256, :location_id, :mode, :source,"
            " :supplied_from_id, :ready_at, :arrive_by, :created_at, :expires_at)"
        ),
        hold,
    )
    connection.execute(
        text(
            "INSERT INTO hold_lines (hold_id, location_id, sku, qty)"
            " SELECT :id, * FROM unnest(CAST(:ids AS bigint[]), CAST(:skus AS text[]),"
            " CAST(:qtys AS integer[]))"
        ),
        {
            "id": hold["id"],
            "ids": [line[0] for line in lines],
            "skus": [line[1] for line in lines],
            "qtys": [line[2] for line in lines],
        },
    )
    connection.execute(
        text(
            "INSERT INTO hold_capacity (hold_id, location_id, mode, day)"
            " SELECT :id, * FROM unnest(CAST(:ids AS bigint[]), CAST(:modes AS text[]),"
            " CAST(:days AS date[]))"
        ),
        {
            "id": hold["id"],
            "ids": [entry[0] for entry in capacity],
            "modes": [entry[1] for entry in capacity],
            "days": [entry[2] for entry in capacity],
        },
    )


def confirm(connection: Connection, hold_id: uuid.UUID, now: datetime, pickup_days: int) -> bool:
    """held and not expired -> ordered, to be collected within ``pickup_days`` of its
    ready_at; False when the hold was not in that state."""
    result = connection.execute(
        text(
            "UPDATE holds SET status = 'ordered', confirmed_at = :now,"
            " collect_by = ready_at + make_interval(days => :days)"
            " WHERE id = :id AND status = 'held' AND expires_at > :now"
        ),
        {"id": hold_id, "now": now, "days": pickup_days},
    )
    return result.rowcount == 1


def end(connection: Connection, hold_id: uuid.UUID, before: str, after: str, now: datetime) -> bool:
    """``before`` -> ``after`` (released, cancelled) while it still keeps its units;
    False when it was not so."""
    result = connection.execute(
        text(
            f"UPDATE holds AS h SET status = :after, ended_at = :now"
            f" WHERE h.id = :id AND h.status = :before AND {LIVE_UNITS}"
        ),
        {"id": hold_id, "before": before, "after": after, "now": now},
    )
    return result.rowcount == 1


def mark_expired(connection: Connection, now: datetime, hold_id: uuid.UUID | None = None) -> int:
    """Record as expired the holds (one, or all) whose time ran out unconfirmed: for the
    record and the metrics only, availability already leaves them out. Counts them."""
    only = " AND id = :id" if hold_id is not None else ""
    result = connection.execute(
        text(
            "UPDATE holds SET status = 'expired', ended_at = expires_at"
            f" WHERE status = 'held' AND expires_at <= :now{only}"
        ),
        {"now": now, "id": hold_id},
    )
    return result.rowcount


def collect(connection: Connection, hold_id: uuid.UUID, now: datetime) -> bool:
    """ordered (within its pickup window) -> collected, and its goods off ``on_hand``
    (never below 0: a feed may already count them gone); False when it was not so.

    The status changes first: the stock rows are written only by the transaction that
    won the hold, so a collection is never taken off twice.
    """
    result = connection.execute(
        text(
            "UPDATE holds SET status = 'collected', ended_at = :now"
            " WHERE id = :id AND status = 'ordered' AND collect_by > :now"
        ),
        {"id": hold_id, "now": now},
    )
    if result.rowcount != 1:
        return False
    connection.execute(
        text(
            "UPDATE stock AS s SET on_hand = GREATEST(s.on_hand - l.qty, 0), updated_at = :now"
            " FROM hold_lines AS l"
            " WHERE l.hold_id = :id AND s.location_id = l.location_id AND s.sku = l.sku"
        ),
        {"id": hold_id, "now": now},
    )
    return True


def purge(connection: Connection, before: datetime) -> int:
    """Delete the holds and orders that stopped mattering before ``before``: holds that
    expired or were released, orders collected, cancelled or past their window (their
    lines and capacity go with them), and lock rows of days gone by. Counts the holds."""
    deleted = connection.execute(
        text(
            "DELETE FROM holds WHERE expires_at < :before AND ("
            " status IN ('released', 'expired', 'held')"
            " OR (status IN ('collected', 'cancelled') AND ended_at < :before)"
            " OR (status = 'ordered' AND collect_by < :before))"
        ),
        {"before": before},
    ).rowcount
    connection.execute(
        text(
            "DELETE FROM hold_locks WHERE resource LIKE 'day:%'"
            " AND CAST(split_part(resource, ':', 3) AS date) < CAST(:before AS date) - 1"
        ),
        {"before": before},
    )
    return deleted
