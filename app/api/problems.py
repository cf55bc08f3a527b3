"""The one problem+json path (RFC 9457): every error the app answers leaves through here.

Services raise the errors of app/errors.py; this module alone knows their HTTP status.
Every 4xx names the field at fault (a parameter, a body field, a header, or the path or
method of the request itself), so a caller can always tell what to change.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

import orjson
from flask import Flask, Response, current_app, request
from gunicorn.http.errors import ParseException
from sqlalchemy.exc import DataError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from app import errors

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://locator.example/problems/"
PROBLEM_JSON = "application/problem+json"

# Most specific first: the first class an error is an instance of decides.
STATUS_OF = (
    (errors.OriginNotFound, 404),
    (errors.NotFound, 404),
    (errors.AmbiguousOrigin, 422),
    (errors.IdempotencyKeyReused, 422),
    (errors.Conflict, 409),
    (errors.TooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.QuotaExceeded, 429),
    (errors.InvalidInput, 400),
    (errors.LocatorError, 400),
)

# Which part of the request a framework-level refusal is about.
HTTP_FIELD = {
    404: "path",
    405: "method",
    411: "Content-Length",
    413: "body",
    414: "path",
    415: "Content-Type",
    431: "headers",
}


def status_of(error: errors.LocatorError) -> int:
    return next(status for kind, status in STATUS_OF if isinstance(error, kind))


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict | None = None,
) -> Response:
    """A problem+json response."""
    title = title or reason(status)
    body = {
        "type": PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
        **(extra or {}),
    }
    response = Response(orjson.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


# app.extensions key of the pages' renderer (register_error_page).
ERROR_PAGE = "locator.error_page"


def register_error_page(app: Flask, blueprints: tuple[str, ...], render) -> None:
    """Errors of the ``blueprints`` (the pages) leave as ``render(status, detail, errors,
    headers)``, an HTML page, instead of problem+json: a browser shows it to a person.
    Their status, detail and headers (Retry-After) are decided here, as for the API."""
    app.extensions[ERROR_PAGE] = (frozenset(blueprints), render)


def error_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict | None = None,
) -> Response:
    """The answer to an error: the page's HTML for a page, else problem+json."""
    blueprints, render = current_app.extensions.get(ERROR_PAGE, ((), None))
    if render is not None and _wants_page(blueprints):
        try:
            return render(status, detail, errors or [], headers or {})
        except Exception:
            # The error still gets its status, as problem+json, when the page cannot be
            # drawn (a template fault must not turn a 404 into a 500).
            log.exception("error page failed; answering with problem+json")
    return problem(status, detail, title=title, errors=errors, headers=headers, extra=extra)


# Paths whose clients are programs: an unknown address under them stays problem+json.
MACHINE_PATHS = ("/api/", "/tiles/", "/ogc", "/metrics", "/healthz", "/readyz")


def _wants_page(blueprints: frozenset[str]) -> bool:
    """A page's error, or an address that matches no route asked for by a browser (a
    mistyped /planer): the person reading it gets a page. API clients (which accept JSON,
    or anything, first) and the API's own paths keep problem+json."""
    if request.blueprint in blueprints:
        return True
    return (
        request.url_rule is None
        and not request.path.startswith(MACHINE_PATHS)
        and request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html"
    )


def register_error_handlers(app: Flask) -> None:
    """Every error, expected or not, leaves as problem+json without internals (from the
    pages, as their error page)."""

    @app.errorhandler(errors.LocatorError)
    def locator_error(error: errors.LocatorError):
        return error_response(
            status_of(error),
            error.detail,
            title=error.title,
            errors=error.errors,
            headers=error.headers,
            extra=error.extra,
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        # Werkzeug's own headers carry meaning: Allow on a 405, for one.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        detail = error.description or reason(status)
        if status == 405:
            detail = f"{request.method} is not allowed here; allowed: {headers.get('Allow', '')}"
        field = HTTP_FIELD.get(status, "request")
        return error_response(
            status, detail, errors=[{"field": field, "message": detail}], headers=headers
        )

    @app.errorhandler(ParseException)
    def malformed_body(error):
        # gunicorn parses a chunked body as the app reads it: a bad chunk surfaces here,
        # after the worker has handed the request over, and is the caller's fault.
        return error_response(
            400,
            f"the request body is malformed: {type(error).__name__}",
            errors=[{"field": "body", "message": "malformed chunked encoding"}],
        )

    @app.errorhandler(PoolTimeoutError)
    def pool_exhausted(_error):
        return error_response(
            503, "all database connections are busy; retry shortly", headers={"Retry-After": "1"}
        )

    @app.errorhandler(DataError)
    def value_refused_by_the_database(error):
        # A value the input layer let through but PostgreSQL cannot take: logged so that
        # the input layer gets fixed, and still the caller's input, never a 500.
        log.warning("database refused a value: %s", error.orig)
        return error_response(
            400,
            "a value in the request is not acceptable",
            errors=[{"field": "request", "message": "a value is out of range"}],
        )

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        log.warning("database unavailable: %s", error.orig)
        return error_response(
            503,
            "the database is unavailable or the query took too long; retry shortly",
            headers={"Retry-After": "2"},
        )

    @app.errorhandler(InternalError)
    def internal_database_error(error):
        # A statement cut off by statement_timeout while GEOS computes (a union, a
        # difference) is reported by PostGIS as GEOS's InterruptedException, an internal
        # error, not as query_canceled: it is the same overload, and a 503.
        if "InterruptedException" in str(error.orig) or "canceling statement" in str(error.orig):
            return database_unavailable(error)
        return unexpected(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error", exc_info=error)
        return error_response(500, "an unexpected error occurred")


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
