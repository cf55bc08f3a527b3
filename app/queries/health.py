"""Readiness: is the database reachable, and at which migration."""

from __future__ import annotations

from sqlalchemy import Connection, text


def database_reachable(connection: Connection) -> bool:
    """True when a trivial query answers."""
    return connection.execute(text("SELECT 1")).scalar_one() == 1
