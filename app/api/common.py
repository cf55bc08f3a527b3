"""Helpers every API blueprint shares: JSON responses and documented error responses."""

from __future__ import annotations

from flask import current_app
from flask import json as flask_json
from flask_smorest import Blueprint

from app.api.schemas import ProblemSchema

ERROR_DESCRIPTIONS = {
    400: "Bad input: `errors` names each field.",
    401: "No admin token, or an unknown or revoked one.",
    403: "The token lacks the scope this needs.",
    404: "Not found.",
    413: "Too large.",
    422: "Understood but not processable (see detail).",
    503: "Overloaded or database down; retry after Retry-After.",
}


def json_response(body: dict, mimetype: str = "application/json"):
    return current_app.response_class(flask_json.dumps(body), mimetype=mimetype)


def problem_responses(bp: Blueprint, *statuses: int):
    """Attach problem+json error responses to a view's OpenAPI entry."""

    def decorate(view):
        for status in statuses:
            view = bp.alt_response(
                status,
                schema=ProblemSchema,
                description=ERROR_DESCRIPTIONS.get(status, "Problem"),
                content_type="application/problem+json",
            )(view)
        return view

    return decorate
