"""Client key SQL: create, rotate, revoke, list, and look up a live key by its hash."""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.queries import as_dicts

# Live: not revoked, and not past the end of a rotation's grace period.
_LIVE = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"


def create_key(
    connection: Connection,
    *,
    name: str,
    kind: str,
    key_sha256: str,
    key_hint: str,
    allowed_origins: list[str],
    per_minute: int,
    per_day: int,
) -> None:
    connection.execute(
        text(
            "INSERT INTO client_keys"
            " (name, kind, key_sha256, key_hint, allowed_origins, per_minute, per_day)"
            " VALUES (:name, :kind, :hash, :hint, :origins, :per_minute, :per_day)"
        ),
        {
            "name": name,
            "kind": kind,
            "hash": key_sha256,
            "hint": key_hint,
            "origins": allowed_origins,
            "per_minute": per_minute,
            "per_day": per_day,
        },
    )


def current_key(connection: Connection, name: str, *, for_update: bool = False) -> dict | None:
    """The newest live key of client ``name`` (locked when ``for_update``), or None."""
    lock = " FOR UPDATE" if for_update else ""
    rows = as_dicts(
        connection.execute(
            text(
                "SELECT id, name, kind, key_hint, allowed_origins, per_minute, per_day"
                f" FROM client_keys WHERE name = :name AND {_LIVE}"
                f" ORDER BY created_at DESC, id DESC LIMIT 1{lock}"
            ),
            {"name": name},
        )
    )
    return rows[0] if rows else None


def expire_keys(connection: Connection, name: str, grace_s: int) -> None:
    """End every live key of ``name`` after ``grace_s`` seconds (0: now)."""
    connection.execute(
        text(
            "UPDATE client_keys SET expires_at = LEAST(coalesce(expires_at, 'infinity'),"
            " now() + make_interval(secs => :grace))"
            f" WHERE name = :name AND {_LIVE}"
        ),
        {"name": name, "grace": grace_s},
    )


def revoke_keys(connection: Connection, name: str) -> int:
    """Revoke every live key of ``name``; how many there were."""
    result = connection.execute(
        text(f"UPDATE client_keys SET revoked_at = now() WHERE name = :name AND {_LIVE}"),
        {"name": name},
    )
    return result.rowcount


def live_key(connection: Connection, key_sha256: str) -> dict | None:
    """The client behind a live key with this hash, or None."""
    rows = as_dicts(
        connection.execute(
            text(
                "SELECT name, kind, allowed_origins, per_minute, per_day,"
                " extract(epoch FROM expires_at - now()) AS expires_in_s"
                f" FROM client_keys WHERE key_sha256 = :hash AND {_LIVE}"
            ),
            {"hash": key_sha256},
        )
    )
    return rows[0] if rows else None


def list_keys(connection: Connection) -> list[dict]:
    """Every key ever made, newest last, with its state (never a key or its hash)."""
    return as_dicts(
        connection.execute(
            text(
                "SELECT name, kind, key_hint, allowed_origins, per_minute, per_day,"
                " created_at, expires_at, revoked_at,"
                f" ({_LIVE}) AS live"
                " FROM client_keys ORDER BY name, created_at, id"
            )
        )
    )
