"""The app's one family of errors. Services raise them; the edge turns them into problems.

A service knows why a request cannot be answered (a field is wrong, a thing does not
exist, an origin is ambiguous) but not how HTTP says so: ``app/api/problems.py`` maps
each class to its status, once, for the API and the pages alike.
"""

from __future__ import annotations


class LocatorError(Exception):
    """An error meant for the caller: a detail, the fields at fault, extension members."""

    title: str | None = None  # None: the edge uses its status's reason phrase

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        message: str | None = None,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        if errors is None:
            errors = [{"field": field, "message": message or detail}] if field else []
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}  # RFC 9457 extension members, e.g. geocoder candidates


class InvalidInput(LocatorError):
    """A parameter, body field or header the service cannot take (names the field)."""


class NotFound(LocatorError):
    """The thing asked for does not exist."""


class OriginNotFound(NotFound):
    title = "Origin Not Found"


class AmbiguousOrigin(LocatorError):
    """A free-text origin that matches several places the network cannot tell apart."""

    title = "Ambiguous Origin"


class TooLarge(LocatorError):
    """A body, or a list inside it, over its documented cap; refused before any work."""


class UnsupportedMediaType(LocatorError):
    """A body in a format the endpoint does not read."""


class Unauthorized(LocatorError):
    """No credential, or an unknown or revoked one."""


class Forbidden(LocatorError):
    """A credential without the scope the operation needs."""


class QuotaExceeded(LocatorError):
    """A client over its per-minute or per-day quota (its headers say when to retry)."""

    title = "Too Many Requests"


class Conflict(LocatorError):
    """The request cannot be met as the data stands now (a hold on stock that is gone,
    confirming an expired hold); ``extra`` says what can be had instead."""

    title = "Conflict"


class IdempotencyKeyReused(LocatorError):
    """An Idempotency-Key sent again with another request than the first."""

    title = "Idempotency Key Reused"
