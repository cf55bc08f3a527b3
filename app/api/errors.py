"""The one problem+json error path (RFC 9457) for every error the app returns."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, json
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://locator.example/problems/"


class ApiError(Exception):
    """An error meant for the caller: status, title, detail and the fields at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}  # RFC 9457 extension members, e.g. geocoder candidates


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[dict] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict | None = None,
) -> Response:
    """A problem+json response."""
    body = {
        "type": PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
        **(extra or {}),
    }
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    response.headers.update(headers or {})
    return response


def register_error_handlers(app: Flask) -> None:
    """Every error, expected or not, leaves as problem+json without internals."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        title = error.title or _reason(error.status)
        return problem(error.status, title, error.detail, error.errors, error.headers, error.extra)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = (getattr(error, "data", None) or {}).get("messages")
        if messages:
            # webargs rejected the request's parameters or body: a 400 naming each field.
            errors = field_errors(messages)
            detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
            return problem(400, "Bad Request", detail, errors)
        return problem(error.code or 500, _reason(error.code or 500), error.description or "")

    @app.errorhandler(PoolTimeoutError)
    def pool_exhausted(_error):
        return problem(
            503,
            "Service Unavailable",
            "all database connections are busy; retry shortly",
            headers={"Retry-After": "1"},
        )

    @app.errorhandler(DataError)
    def value_refused_by_the_database(error):
        # A value the schemas let through but PostgreSQL cannot take (the schemas should
        # have caught it: logged so it gets fixed), still the caller's input, never a 500.
        log.warning("database refused a value: %s", error.orig)
        return problem(400, "Bad Request", "a value in the request is not acceptable")

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        log.warning("database unavailable: %s", error.orig)
        return problem(
            503,
            "Service Unavailable",
            "the database is unavailable or the query took too long; retry shortly",
            headers={"Retry-After": "2"},
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error", exc_info=error)
        return problem(500, "Internal Server Error", "an unexpected error occurred")


def field_errors(messages: dict, prefix: str = "") -> list[dict]:
    """Flatten marshmallow's nested messages into [{"field", "message"}]."""
    errors = []
    for key, value in messages.items():
        if key in ("query", "json", "form", "headers", "files") and not prefix:
            errors += field_errors(value)  # the location level adds nothing for callers
            continue
        if isinstance(key, int):
            name = f"{prefix}[{key}]"  # which item of a list, e.g. points[3].lat
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        if name == "_schema":
            name = None
        if isinstance(value, dict):
            errors += field_errors(value, name or "")
        else:
            for message in value if isinstance(value, list) else [value]:
                errors.append({"field": name, "message": str(message)})
    return errors


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
