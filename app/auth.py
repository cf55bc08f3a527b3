"""Admin access: bearer tokens, stored hashed, each with scopes.

`flask locator token create NAME --scope write` prints a new token once; only its
SHA-256 is stored. A request without a token, or with a wrong or revoked one, gets 401;
a token without the needed scope gets 403. Either way the view never runs.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import wraps

from flask import request

from app.api.errors import ApiError
from app.extensions import db
from app.queries import tokens as sql

SCOPES = ("write", "import")
TOKEN_PREFIX = "lct_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A random token; the prefix makes leaked ones easy to recognise in scans."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def require_scope(scope: str):
    """Decorator: the request must carry a live bearer token with ``scope``."""

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise _unauthorized("an admin bearer token is required")
            # The primary: a token created a moment ago may not have reached a replica.
            scopes = sql.live_token_scopes(db.primary_connection(), hash_token(token.strip()))
            if scopes is None:
                raise _unauthorized("the token is unknown or revoked")
            if scope not in scopes:
                raise ApiError(403, f"the token lacks the {scope!r} scope")
            return view(*args, **kwargs)

        return guarded

    return decorate


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="locator"'})
