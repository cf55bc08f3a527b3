"""Admin tokens: random secrets shown once, stored as their SHA-256, each with scopes."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Connection

from app.errors import Forbidden, InvalidInput, Unauthorized
from app.queries import tokens as sql

# write: admin edits; import: files; orders: holds and orders (checkout backends).
SCOPES = ("write", "import", "orders")
TOKEN_PREFIX = "lct_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A random token; the prefix makes leaked ones easy to recognise in scans."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(connection: Connection, name: str, scopes: list[str]) -> str:
    """Store a new token's hash under ``name``; return the token (shown once).

    Names are never reused, not even a revoked token's: logs and audits name tokens.
    """
    if sql.token_named(connection, name) is not None:
        raise InvalidInput(
            f"a token named {name!r} exists already; choose another name"
            " (revoked tokens keep their names)",
            field="name",
        )
    token = new_token()
    sql.create_token(connection, name, hash_token(token), sorted(set(scopes)))
    return token


def revoke_token(connection: Connection, name: str) -> bool:
    return sql.revoke_token(connection, name)


def list_tokens(connection: Connection) -> list[dict]:
    return sql.list_tokens(connection)


def check_scope(connection: Connection, token: str | None, scope: str) -> None:
    """Raise Unauthorized without a live token, Forbidden when it lacks ``scope``."""
    if not token:
        raise _unauthorized("an admin bearer token is required")
    scopes = sql.live_token_scopes(connection, hash_token(token))
    if scopes is None:
        raise _unauthorized("the token is unknown or revoked")
    if scope not in scopes:
        raise Forbidden(
            f"the token lacks the {scope!r} scope",
            field="Authorization",
            message=f"needs the {scope!r} scope",
        )


def _unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(
        detail,
        field="Authorization",
        message="send Authorization: Bearer <token>",
        headers={"WWW-Authenticate": 'Bearer realm="locator"'},
    )
