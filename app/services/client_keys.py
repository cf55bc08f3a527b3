"""Client keys: who a read request is, and what quota it counts against (DESIGN §4.10).

A client is a name with keys. Secret keys (``lsk_...``) are for servers; publishable
keys (``lpk_...``) are for browser pages, and count only when the request comes from
one of the origins listed on the key (its ``Origin``, else its ``Referer``): copied to
another site, a publishable key is refused there. Keys are random, shown once, and
stored as their SHA-256 (like the admin tokens).

Looking a key up costs a query, so each process remembers what it found (a live key,
or that a hash is unknown) for ``cache_ttl_s`` seconds: a revoked or rotated-out key
stops working within that time, and a known key costs no query at all.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Connection

from app import limits
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.queries import client_keys as sql

KINDS = ("publishable", "secret")
PREFIXES = {"publishable": "lpk_", "secret": "lsk_"}
HINT_LENGTH = 10  # the prefix and six random characters: enough to tell keys apart
KEY_HEADER = "X-Api-Key"


@dataclass(frozen=True)
class Client:
    """Who a request counts against: a key's client, or an anonymous address."""

    quota_id: str  # "key:<name>" or "addr:<address>": the counters' name
    name: str | None  # the client's name (logged); None when anonymous
    kind: str  # "publishable", "secret" or "anonymous"
    per_minute: int
    per_day: int


@dataclass(frozen=True)
class KeyRecord:
    """What a live key allows, as read from the database."""

    name: str
    kind: str
    allowed_origins: frozenset[str]
    per_minute: int
    per_day: int


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(kind: str) -> str:
    """A random key; the prefix tells its kind, and leaked ones are easy to scan for."""
    return PREFIXES[kind] + secrets.token_urlsafe(32)


def normalise_origin(value: str | None) -> str | None:
    """``scheme://host[:port]`` of an Origin or Referer value (default port dropped), or
    None when it is not an http(s) URL."""
    if not value or len(value) > limits.MAX_ORIGIN_LENGTH:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 80 if parts.scheme == "http" else 443
    suffix = f":{port}" if port and port != default else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{suffix}"


def checked_origins(origins: list[str]) -> list[str]:
    """Origins for a publishable key, each exactly ``scheme://host[:port]``."""
    if len(origins) > limits.MAX_KEY_ORIGINS:
        raise InvalidInput(f"at most {limits.MAX_KEY_ORIGINS} origins per key", field="origin")
    result = []
    for origin in origins:
        normal = normalise_origin(origin)
        if normal is None or normal != origin.rstrip("/").lower():
            raise InvalidInput(
                f"{origin!r} is not an origin like https://shop.example.com",
                field="origin",
            )
        result.append(normal)
    return sorted(set(result))


def create_key(
    connection: Connection,
    name: str,
    kind: str,
    *,
    origins: list[str],
    per_minute: int,
    per_day: int,
) -> str:
    """Store a new client ``name`` with one key; return the key (shown once)."""
    if not limits.CLIENT_KEY_NAME.match(name):
        raise InvalidInput("a name is 1-64 of A-Z a-z 0-9 . _ : -", field="name")
    if kind not in KINDS:
        raise InvalidInput(f"kind is one of {', '.join(KINDS)}", field="kind")
    if per_minute < 1 or per_day < 1:
        field = "per_minute" if per_minute < 1 else "per_day"
        raise InvalidInput("quotas are positive", field=field)
    origins = checked_origins(origins)
    if kind == "publishable" and not origins:
        raise InvalidInput("a publishable key needs at least one origin", field="origin")
    if kind == "secret" and origins:
        raise InvalidInput("origins apply to publishable keys only", field="origin")
    if sql.current_key(connection, name) is not None:
        raise InvalidInput(f"client {name!r} already has a live key; rotate it", field="name")
    return _insert(connection, name, kind, origins, per_minute, per_day)


def rotate_key(connection: Connection, name: str, grace_s: int = 0) -> str:
    """A new key for client ``name``; its old keys keep working for ``grace_s`` seconds."""
    current = sql.current_key(connection, name, for_update=True)
    if current is None:
        raise NotFound(f"no live key for client {name!r}", field="name")
    if grace_s < 0:
        raise InvalidInput("the grace period is not negative", field="grace")
    sql.expire_keys(connection, name, grace_s)
    return _insert(
        connection,
        name,
        current["kind"],
        current["allowed_origins"],
        current["per_minute"],
        current["per_day"],
    )


def revoke_keys(connection: Connection, name: str) -> int:
    """Revoke every live key of ``name``; raise NotFound when it has none."""
    count = sql.revoke_keys(connection, name)
    if not count:
        raise NotFound(f"no live key for client {name!r}", field="name")
    return count


def list_keys(connection: Connection) -> list[dict]:
    return sql.list_keys(connection)


def _insert(connection, name, kind, origins, per_minute, per_day) -> str:
    key = new_key(kind)
    sql.create_key(
        connection,
        name=name,
        kind=kind,
        key_sha256=hash_key(key),
        key_hint=key[:HINT_LENGTH],
        allowed_origins=list(origins),
        per_minute=per_minute,
        per_day=per_day,
    )
    return key


class KeyDirectory:
    """Live keys by hash, remembered for ``cache_ttl_s`` (see the module docstring)."""

    def __init__(self, cache_ttl_s: float):
        self.cache_ttl_s = cache_ttl_s
        self._found: dict[str, tuple[KeyRecord | None, float]] = {}
        self._lock = threading.Lock()

    def find(self, key: str, connect: Callable[[], Connection]) -> KeyRecord | None:
        """The live key ``key``, or None; ``connect`` is called only on a cache miss."""
        digest = hash_key(key)
        now = time.monotonic()
        cached = self._found.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        row = sql.live_key(connect(), digest)
        record = None
        until = now + self.cache_ttl_s
        if row is not None:
            record = KeyRecord(
                row["name"],
                row["kind"],
                frozenset(row["allowed_origins"]),
                row["per_minute"],
                row["per_day"],
            )
            if row["expires_in_s"] is not None:  # rotated out: remembered no longer than that
                until = min(until, now + float(row["expires_in_s"]))
        with self._lock:
            if len(self._found) >= limits.MAX_CACHED_CLIENT_KEYS:
                self._found.clear()
            self._found[digest] = (record, until)
        return record


def identify(
    directory: KeyDirectory,
    key: str | None,
    *,
    origin: str | None,
    referer: str | None,
    address: str,
    anonymous: tuple[int, int],
    require_key: bool,
    connect: Callable[[], Connection],
) -> Client:
    """The client of a request: by its key, else anonymous by address.

    Raises Unauthorized for a missing (when keys are required), malformed, unknown or
    revoked key, and Forbidden for a publishable key used from an origin it does not list.
    """
    if not key:
        if require_key:
            raise _unauthorized("a client key is required")
        per_minute, per_day = anonymous
        return Client(f"addr:{address}", None, "anonymous", per_minute, per_day)
    if len(key) > limits.MAX_CLIENT_KEY_LENGTH or not key.startswith(tuple(PREFIXES.values())):
        raise _unauthorized("the client key is malformed")
    record = directory.find(key, connect)
    if record is None:
        raise _unauthorized("the client key is unknown, revoked or expired")
    if record.kind == "publishable":
        # A browser sends Origin on cross-origin requests; a same-origin fetch sends only
        # a Referer (the page's policy, strict-origin-when-cross-origin, keeps its origin).
        # When Origin is sent it alone decides: "null" (a sandboxed page) is no origin.
        came_from = normalise_origin(origin) if origin else normalise_origin(referer)
        if came_from not in record.allowed_origins:
            raise Forbidden(
                f"this publishable key is not valid from {came_from or 'an unknown origin'}",
                field="Origin",
                message="send the key only from the origins listed on it",
            )
    return Client(f"key:{record.name}", record.name, record.kind, record.per_minute, record.per_day)


def _unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(
        detail,
        field=KEY_HEADER,
        message=f"send a live client key in the {KEY_HEADER} header",
        headers={"WWW-Authenticate": f'ApiKey header="{KEY_HEADER}"'},
    )
