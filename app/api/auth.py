"""Admin access at the edge: the bearer token of a request, checked before the view runs.

A request without a token, or with a wrong or revoked one, gets 401; a token without the
needed scope gets 403. Either way the view never runs.
"""

from __future__ import annotations

from functools import wraps

from flask import request
from flask_smorest.utils import deepupdate

from app.extensions import db
from app.services.tokens import check_scope

# The OpenAPI name of the admin token's scheme (registered in app/api/__init__.py).
ADMIN_TOKEN_SCHEME = "adminToken"


def require_scope(scope: str):
    """Decorator: the request must carry a live bearer token with ``scope``."""

    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            kind, _, token = request.headers.get("Authorization", "").partition(" ")
            token = token.strip() if kind.lower() == "bearer" else ""
            # The primary: a token created a moment ago may not have reached a replica.
            check_scope(db.primary_connection(), token or None, scope)
            return view(*args, **kwargs)

        # The operation documents its token, and no client key: a scope-guarded call
        # is identified by its bearer token.
        guarded._apidoc = dict(getattr(view, "_apidoc", {}))
        guarded._apidoc["manual_doc"] = deepupdate(
            dict(guarded._apidoc.get("manual_doc", {})),
            {"security": [{ADMIN_TOKEN_SCHEME: []}], "x-required-scope": scope},
        )
        return guarded

    return decorate
