"""Location read queries that are not nearest-first ranking."""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.queries import as_dicts


def network_is_empty(connection: Connection) -> bool:
    """True when no location has been imported yet."""
    return connection.execute(text("SELECT NOT EXISTS (SELECT 1 FROM locations)")).scalar_one()


# What every location response is built from (see app/api/serialize.py).
LOCATION_COLUMNS = """
    l.id, l.external_id, l.name, l.brand, l.kind,
    ST_Y(l.geog::geometry) AS lat, ST_X(l.geog::geometry) AS lon,
    l.address_line1, l.city, l.region, l.postcode, l.country,
    l.capabilities, l.opening_hours, l.timezone, l.status
"""

# The bbox test is on geog::geometry, which the locations_geom_gist expression index
# answers. Three fixed statements (no box, one box, a box split at the antimeridian)
# rather than "IS NULL OR ..." so that every plan can use that index.
_BBOX_CONDITIONS = {
    None: "TRUE",
    "box": "l.geog::geometry && ST_MakeEnvelope(:west, :south, :east, :north, 4326)",
    "split": (
        "(l.geog::geometry && ST_MakeEnvelope(:west, :south, 180, :north, 4326)"
        " OR l.geog::geometry && ST_MakeEnvelope(-180, :south, :east, :north, 4326))"
    ),
}


def list_locations(
    connection: Connection,
    *,
    kinds: list[str],
    capabilities: list[str],
    statuses: list[str],
    bbox: tuple[float, float, float, float] | None,
    limit: int,
    after_id: int | None,
) -> list[dict]:
    """Locations by id (keyset paging), filtered; a bbox with west > east crosses 180°."""
    shape = None if bbox is None else ("split" if bbox[0] > bbox[2] else "box")
    statement = text(
        f"SELECT {LOCATION_COLUMNS} FROM locations AS l"
        " WHERE l.kind = ANY(:kinds) AND l.status = ANY(:statuses)"
        " AND l.capabilities @> CAST(:capabilities AS text[])"
        f" AND {_BBOX_CONDITIONS[shape]} AND l.id > :after_id"
        " ORDER BY l.id LIMIT :limit"
    )
    params = {
        "kinds": kinds,
        "statuses": statuses,
        "capabilities": capabilities,
        "after_id": after_id or 0,
        "limit": limit,
    }
    if bbox is not None:
        params.update(west=bbox[0], south=bbox[1], east=bbox[2], north=bbox[3])
    return as_dicts(connection.execute(statement, params))


def get_location(connection: Connection, external_id: str) -> dict | None:
    """One location by its external_id, or None."""
    row = (
        connection.execute(
            text(f"SELECT {LOCATION_COLUMNS} FROM locations AS l WHERE l.external_id = :id"),
            {"id": external_id},
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def delete_location(connection: Connection, external_id: str) -> bool:
    """Delete a location (its service areas go with it); False when there was none."""
    result = connection.execute(
        text("DELETE FROM locations WHERE external_id = :id"), {"id": external_id}
    )
    return result.rowcount == 1
