"""Readiness: is the database reachable, and at which migration."""

from __future__ import annotations

from sqlalchemy import Connection, text


def database_reachable(connection: Connection) -> bool:
    """True when a trivial query answers."""
    return connection.execute(text("SELECT 1")).scalar_one() == 1


def primary_wal_position(connection: Connection) -> str:
    """The primary's current WAL position (an LSN, as text)."""
    return connection.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()


def replica_state(connection: Connection, primary_lsn: str | None):
    """A standby's recovery flag and its lag behind ``primary_lsn`` in bytes and seconds."""
    return connection.execute(
        text(
            "SELECT pg_is_in_recovery() AS in_recovery,"
            " pg_wal_lsn_diff(CAST(:primary AS pg_lsn), pg_last_wal_replay_lsn())"
            "   AS lag_bytes,"
            # Caught up when everything received is replayed: an idle primary sends
            # nothing, so the last replay's age alone would look like lag.
            " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
            "   THEN 0 ELSE extract(epoch FROM now()"
            "     - pg_last_xact_replay_timestamp()) END AS lag_seconds"
        ),
        {"primary": primary_lsn},
    ).one()
