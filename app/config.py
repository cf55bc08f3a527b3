"""Settings, read from environment variables. Every one is documented in .env.example."""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _int_or_off(name: str, default: int) -> int | None:
    """An integer setting that "off" (or an empty value) turns off: None."""
    value = os.environ.get(name, str(default)).strip().lower()
    return None if value in ("", "off") else int(value)


class Config:
    """Defaults suit a developer machine; production overrides them through the environment."""

    # Empty means: start and use the embedded PostGIS cluster under instance/postgres.
    DATABASE_URL = os.environ.get("DATABASE_URL", "")
    # Read replicas, comma separated (each may be a libpq multi-host URL with
    # target_session_attrs=prefer-standby). Empty: every read goes to DATABASE_URL.
    DATABASE_REPLICA_URLS = os.environ.get("DATABASE_REPLICA_URLS", "")
    # Seconds a replica's health (reachable, lag) is trusted before it is checked again.
    REPLICA_HEALTH_TTL_S = float(os.environ.get("REPLICA_HEALTH_TTL_S", "2"))
    # A replica further behind the primary than this is skipped.
    REPLICA_MAX_LAG_BYTES = _int("REPLICA_MAX_LAG_BYTES", 16 * 1024 * 1024)
    REPLICA_MAX_LAG_S = float(os.environ.get("REPLICA_MAX_LAG_S", "10"))
    # After a write, that client's reads go to the primary for this many seconds.
    READ_YOUR_WRITES_S = _int("READ_YOUR_WRITES_S", 10)
    DB_POOL_SIZE = _int("DB_POOL_SIZE", 5)
    DB_MAX_OVERFLOW = _int("DB_MAX_OVERFLOW", 5)
    # Seconds a request waits for a pooled connection before it is refused.
    DB_POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", "2"))
    # A pooled connection idle for longer than this is pinged before use (and replaced
    # if the database restarted meanwhile); busier ones are used without a round trip.
    DB_PING_IDLE_S = float(os.environ.get("DB_PING_IDLE_S", "1"))
    # Every statement of a web request is cut off after this long (milliseconds).
    STATEMENT_TIMEOUT_MS = _int("STATEMENT_TIMEOUT_MS", 5000)
    # Planning (the coverage summary with demand, /api/v1/planning/*) weighs every demand
    # point of a region against every area: its statements are cut off after this long
    # instead (milliseconds), in a transaction of their own; checkout calls keep the above.
    PLANNING_STATEMENT_TIMEOUT_MS = _int("PLANNING_STATEMENT_TIMEOUT_MS", 60000)
    # psycopg prepares a statement on a connection once it has run this many times there
    # (it saves the planning). "off" for pgbouncer in transaction mode before 1.21: the
    # next transaction may get another server connection, where the statement is unknown.
    DB_PREPARE_THRESHOLD = _int_or_off("DB_PREPARE_THRESHOLD", 5)
    # Rows of hot-read answers (nearest pickup points, coverage of a point) each process
    # keeps, per data version: a repeated search costs one trivial query (app/queries,
    # ReadCache). About 1 KB a row: the default holds some 2,000 recent searches in
    # about 50 MB. 0 turns the cache off.
    READ_CACHE_ROWS = _int("READ_CACHE_ROWS", 50_000)
    # Polygons with more vertices than this are rejected on import.
    MAX_POLYGON_VERTICES = _int("MAX_POLYGON_VERTICES", 100_000)
    # Points per POST /api/v1/coverage/batch call.
    COVERAGE_BATCH_MAX = _int("COVERAGE_BATCH_MAX", 1000)
    # A batch body larger than this is refused before it is read: room for
    # COVERAGE_BATCH_MAX points of BATCH_BYTES_PER_POINT bytes each (app/limits.py).
    COVERAGE_BATCH_MAX_BYTES = _int("COVERAGE_BATCH_MAX_BYTES", COVERAGE_BATCH_MAX * 256 + 1024)
    # Request bodies larger than this are refused with 413 (bytes).
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 32 * 1024 * 1024)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Optional Nominatim-compatible search URL, asked only when the offline gazetteer has
    # no answer. Empty (the default) means offline only.
    GEOCODER_URL = os.environ.get("GEOCODER_URL", "")
    GEOCODER_USER_AGENT = os.environ.get("GEOCODER_USER_AGENT", "pickup-locator/0.1")
    GEOCODER_TIMEOUT_S = float(os.environ.get("GEOCODER_TIMEOUT_S", "3"))
    # The upstream sees at most one request per this many seconds, across all processes.
    GEOCODER_MIN_INTERVAL_S = float(os.environ.get("GEOCODER_MIN_INTERVAL_S", "1"))
    # Base map tiles (a Leaflet URL template). Empty: no base layer; the overlays still
    # draw. Pages never load anything else from outside the app.
    TILE_URL = os.environ.get("TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    TILE_ATTRIBUTION = os.environ.get(
        "TILE_ATTRIBUTION",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    )
    # Who may embed the pages in a frame (CSP frame-ancestors), e.g. "'self'
    # https://checkout.example.com". 'none' forbids framing.
    FRAME_ANCESTORS = os.environ.get("FRAME_ANCESTORS", "'self'")
    # Quotas (app/quotas.py): "false" stops counting requests; keys are still checked.
    RATELIMIT_ENABLED = os.environ.get("RATELIMIT_ENABLED", "true").lower() != "false"
    # Requests without a client key, per address (a 429 with Retry-After beyond).
    ANONYMOUS_PER_MINUTE = _int("ANONYMOUS_PER_MINUTE", 600)
    ANONYMOUS_PER_DAY = _int("ANONYMOUS_PER_DAY", 20_000)
    # "true": every /api/v1/ request needs an X-Api-Key (401 without); pages stay open.
    REQUIRE_CLIENT_KEY = os.environ.get("REQUIRE_CLIENT_KEY", "false").lower() == "true"
    # Proxies in front of the app that add X-Forwarded-For (a load balancer: 1). Their
    # entries give an anonymous client's address; 0: the connection's address.
    TRUSTED_PROXY_HOPS = _int("TRUSTED_PROXY_HOPS", 0)
    # Quotas `flask locator keys create` gives a new key unless told otherwise.
    CLIENT_KEY_PER_MINUTE = _int("CLIENT_KEY_PER_MINUTE", 6_000)
    CLIENT_KEY_PER_DAY = _int("CLIENT_KEY_PER_DAY", 2_000_000)
    # Seconds each process remembers a key lookup: a revoked key stops within this.
    CLIENT_KEY_CACHE_S = float(os.environ.get("CLIENT_KEY_CACHE_S", "10"))
    # The publishable key the picker page (/) sends with its API calls; empty: none.
    PICKER_PUBLISHABLE_KEY = os.environ.get("PICKER_PUBLISHABLE_KEY", "")
    # Quota counters shared by every app process; empty: each process counts in memory.
    REDIS_URL = os.environ.get("REDIS_URL", "")
    # Prefix of the counters' names in Redis (several deployments may share one Redis).
    QUOTA_KEY_PREFIX = os.environ.get("QUOTA_KEY_PREFIX", "locator:quota")
    # /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>"; empty: 404.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
    # "json": one JSON object per log line (request id on each); "text": plain lines.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    # "pgbouncer" (transaction pooling): no prepared statements, no startup options.
    DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "")
    # Where the shopper page may send a chosen pickup point (return_url) and post
    # messages to: absolute http(s) URLs separated by commas or spaces. An origin allows
    # any path on it; a URL with a path allows that path and below. Empty: nowhere.
    RETURN_URL_ALLOWLIST = os.environ.get("RETURN_URL_ALLOWLIST", "")
    # Fulfilment (DESIGN §4.5): what a location without a settings row for a mode uses.
    # No cut-off and no capacity limit are the defaults; supply runs without departures
    # leave as soon as the warehouse has prepared the order.
    FULFILMENT_DEFAULT_PREP_MINUTES = _int("FULFILMENT_DEFAULT_PREP_MINUTES", 30)
    FULFILMENT_DEFAULT_LEAD_MINUTES = _int("FULFILMENT_DEFAULT_LEAD_MINUTES", 120)
    # Express is offered only when it arrives within this many minutes of the order.
    EXPRESS_PROMISE_MINUTES = _int("EXPRESS_PROMISE_MINUTES", 60)
    # Courier speed for express travel where no road network covers the trip (geodesic).
    EXPRESS_SPEED_KMH = float(os.environ.get("EXPRESS_SPEED_KMH", "25"))
    # How far (geodesic metres) /fulfilment/options looks when the request does not say.
    FULFILMENT_RADIUS = float(os.environ.get("FULFILMENT_RADIUS", "25000"))
    # Holds (DESIGN §4.6): seconds a hold keeps its stock and capacity unless confirmed;
    # days after its ready_at an order keeps its stock unless collected or cancelled.
    HOLD_TTL_S = _int("HOLD_TTL_S", 900)
    ORDER_PICKUP_DAYS = _int("ORDER_PICKUP_DAYS", 3)
    # Road speeds (km/h) per OSM highway class for `flask locator roads import`, over the
    # documented defaults (app/services/road_network.py), e.g. "residential=20,primary=45".
    ROAD_SPEEDS_KMH = os.environ.get("ROAD_SPEEDS_KMH", "")
    # Signs paging cursors. Set it in production, the same for every app process.
    SECRET_KEY = os.environ.get("SECRET_KEY", "locator-development-key")
