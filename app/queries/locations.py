"""Location read queries that are not nearest-first ranking."""

from __future__ import annotations

from sqlalchemy import Connection, text


def count_by_kind(connection: Connection) -> dict[str, int]:
    """How many active locations there are of each kind."""
    result = connection.execute(
        text("SELECT kind, count(*) FROM locations WHERE status = 'active' GROUP BY kind")
    )
    return dict(result.all())


def network_is_empty(connection: Connection) -> bool:
    """True when no location has been imported yet."""
    return connection.execute(text("SELECT NOT EXISTS (SELECT 1 FROM locations)")).scalar_one()
