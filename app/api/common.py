"""Helpers every API blueprint shares: JSON responses, cursors, documented error responses."""

from __future__ import annotations

import orjson
from flask import current_app
from flask_smorest import Blueprint

from app.api.problems import PROBLEM_JSON
from app.api.schemas import ProblemSchema
from app.paging import Cursors

GEOJSON = "application/geo+json"

ERROR_DESCRIPTIONS = {
    400: "Bad input: `errors` names each field.",
    401: "No admin token, or an unknown or revoked one.",
    403: "The token lacks the scope this needs.",
    404: "Not found.",
    413: "Too large: the body, or a list in it, is over its cap.",
    415: "The body is not application/json.",
    409: "In conflict with the data as it stands now (see detail).",
    422: "Understood but not processable (see detail).",
    503: "Overloaded or database down; retry after Retry-After.",
}


def json_response(body: dict, mimetype: str = "application/json", status: int = 200):
    """A JSON response, written by orjson (NaN and infinities become null, never bare)."""
    return current_app.response_class(orjson.dumps(body), status=status, mimetype=mimetype)


def cursors() -> Cursors:
    """The app's cursor signer (built once per app from SECRET_KEY)."""
    state = current_app.extensions.setdefault("locator_cursors", {})
    if "cursors" not in state:
        state["cursors"] = Cursors(current_app.config["SECRET_KEY"])
    return state["cursors"]


def problem_responses(bp: Blueprint, *statuses: int):
    """Attach problem+json error responses to a view's OpenAPI entry."""

    def decorate(view):
        documented = view
        for status in statuses:
            documented = bp.alt_response(
                status,
                schema=ProblemSchema,
                description=ERROR_DESCRIPTIONS.get(status, "Problem"),
                content_type=PROBLEM_JSON,
            )(documented)
        # Only the documentation is kept: each alt_response wrapper would otherwise run
        # on every request (a call through current_app.ensure_sync each) for nothing.
        view._apidoc = documented._apidoc
        return view

    return decorate
