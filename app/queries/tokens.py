"""Admin token SQL: create, revoke, and look up by hash."""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.queries import as_dicts


def create_token(connection: Connection, name: str, token_sha256: str, scopes: list[str]) -> None:
    connection.execute(
        text("INSERT INTO api_tokens (name, token_sha256, scopes) VALUES (:n, :h, :s)"),
        {"n": name, "h": token_sha256, "s": scopes},
    )


def token_named(connection: Connection, name: str) -> int | None:
    """The id of the token called ``name``, live or revoked, if there is one."""
    return connection.execute(
        text("SELECT id FROM api_tokens WHERE name = :n"), {"n": name}
    ).scalar_one_or_none()


def revoke_token(connection: Connection, name: str) -> bool:
    """Revoke by name; False when no live token has that name."""
    result = connection.execute(
        text("UPDATE api_tokens SET revoked_at = now() WHERE name = :n AND revoked_at IS NULL"),
        {"n": name},
    )
    return result.rowcount == 1


def live_token_scopes(connection: Connection, token_sha256: str) -> list[str] | None:
    """The scopes of an unrevoked token with this hash, or None."""
    return connection.execute(
        text("SELECT scopes FROM api_tokens WHERE token_sha256 = :h AND revoked_at IS NULL"),
        {"h": token_sha256},
    ).scalar_one_or_none()


def list_tokens(connection: Connection) -> list[dict]:
    result = connection.execute(
        text("SELECT name, scopes, created_at, revoked_at FROM api_tokens ORDER BY id")
    )
    return as_dicts(result)
