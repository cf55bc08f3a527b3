"""Keyset cursors that belong to the search that made them.

A cursor carries the position after which the next page starts and a fingerprint of
the search. The fingerprint is derived from the search object's own fields (a frozen
dataclass), so a filter added to a search is part of it without anyone remembering to
list it; fields that may change between pages without changing the result set (the page
size, the moment "now") opt out with ``field(metadata=NOT_IN_CURSOR)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from itsdangerous import BadSignature, URLSafeSerializer

from app.errors import InvalidInput

NOT_IN_CURSOR = {"cursor": False}


def fingerprint(search) -> str:
    """A short digest of every field of the frozen dataclass ``search`` that pages depend on."""
    key = {
        field.name: getattr(search, field.name)
        for field in dataclasses.fields(search)
        if field.metadata.get("cursor", True)
    }
    key["__search__"] = type(search).__name__
    encoded = json.dumps(_canonical(key), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


def _canonical(value):
    """A JSON-able form that is the same in every process (sets are sorted: their
    iteration order follows string hashing, which differs between processes)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # datetimes (isoformat-like), enums


class Cursors:
    """Signs and checks cursors with the app's SECRET_KEY."""

    def __init__(self, secret: str):
        self._serializer = URLSafeSerializer(secret, salt="locator-cursor")

    def encode(self, search, position: tuple) -> str:
        """An opaque cursor: the last row's keyset position, tied to ``search``."""
        return self._serializer.dumps({"f": fingerprint(search), "p": list(position)})

    def decode(self, search, cursor: str | None, shape: tuple[type, ...]) -> tuple | None:
        """The position inside ``cursor`` (None for no cursor); a foreign one is refused.

        ``shape`` gives the type of each part of the position, e.g. (float, int).
        """
        if cursor is None:
            return None
        try:
            payload = self._serializer.loads(cursor)
        except BadSignature as error:
            raise _invalid("the cursor is not one this service issued") from error
        if not isinstance(payload, dict) or payload.get("f") != fingerprint(search):
            raise _invalid("the cursor belongs to a different query")
        position = payload.get("p")
        if not isinstance(position, list) or len(position) != len(shape):
            raise _invalid("the cursor is malformed")
        parts = []
        for value, kind in zip(position, shape, strict=True):
            if isinstance(value, bool) or not isinstance(value, kind | int):
                raise _invalid("the cursor is malformed")
            parts.append(kind(value))
        return tuple(parts)


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, field="cursor")
