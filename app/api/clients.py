"""Client keys and quotas at the edge: every metered request is identified, then counted.

Before the view runs, the request's client is found (app/services/client_keys.py): its
``X-Api-Key``, or, without one, its address (a small anonymous quota), or a 401 when
REQUIRE_CLIENT_KEY is set and the path is under /api/v1/ (the OpenAPI document excepted,
and the pages, which carry the publishable key their script sends). The request is then
counted against the client's per-minute and per-day quota (app/quotas.py): beyond it, a
429 problem with ``Retry-After``. Every metered response carries ``RateLimit-Limit``,
``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds) and ``RateLimit-Policy``.

Not metered: the health probes, /metrics and static files. Behind proxies, set
TRUSTED_PROXY_HOPS so that an anonymous client's address is its own, not the proxy's.

CORS, for publishable keys used from a shop's own pages: an API preflight (OPTIONS with
Access-Control-Request-Method) is answered at once and not metered, since a browser
sends no key with it; it lets any origin send ``X-Api-Key``. The answer itself is
readable only by the origins the key lists: a response to a publishable key carries
``Access-Control-Allow-Origin`` for the (already checked) origin of the request, and
exposes the quota headers; responses to anything else carry none.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app.errors import QuotaExceeded
from app.extensions import db
from app.limits import DAY_S, MINUTE_S
from app.quotas import counters_for, verdict
from app.services.client_keys import KEY_HEADER, KeyDirectory, identify

UNMETERED_ENDPOINTS = frozenset({"static", "swagger_ui_assets"})
API_PREFIX = "/api/v1/"
KEYLESS_API_PATHS = frozenset({"/api/v1/openapi.json"})
WINDOW_NAMES = {MINUTE_S: "minute", DAY_S: "day"}
# The quota windows' clock (seconds since the epoch); tests pin it inside one window.
clock = time.time
CORS_REQUEST_HEADERS = "Accept, Content-Type, X-Api-Key, X-Request-ID"
CORS_EXPOSED_HEADERS = (
    "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy,"
    " X-Request-ID"
)
CORS_MAX_AGE_S = 600


def init_app(app: Flask, unmetered_blueprints: tuple[str, ...]) -> None:
    """Identify and count the requests of ``app`` (see the module docstring)."""
    config = app.config
    directory = KeyDirectory(config["CLIENT_KEY_CACHE_S"])
    counters = counters_for(config["REDIS_URL"], config["QUOTA_KEY_PREFIX"])
    anonymous = (config["ANONYMOUS_PER_MINUTE"], config["ANONYMOUS_PER_DAY"])
    require_key = config["REQUIRE_CLIENT_KEY"]
    counting = config["RATELIMIT_ENABLED"]
    unmetered = frozenset(unmetered_blueprints)
    hops = config["TRUSTED_PROXY_HOPS"]
    if hops:
        # Behind a load balancer every request comes from its address: the client's is
        # the one the trusted proxies add to X-Forwarded-For (the rightmost ``hops``).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)

    @app.before_request
    def meter_client():
        if request.blueprint in unmetered or request.endpoint in UNMETERED_ENDPOINTS:
            return None
        path = request.path
        if request.method == "OPTIONS" and path.startswith(API_PREFIX):
            if "Access-Control-Request-Method" in request.headers:
                return _preflight()
        client = identify(
            directory,
            request.headers.get(KEY_HEADER),
            origin=request.headers.get("Origin"),
            referer=request.headers.get("Referer"),
            address=request.remote_addr or "unknown",
            anonymous=anonymous,
            require_key=require_key
            and path.startswith(API_PREFIX)
            and path not in KEYLESS_API_PATHS,
            connect=db.primary_connection,  # a key made a moment ago is on the primary
        )
        g.client = client
        if not counting:
            return None
        now = clock()
        g.quota = outcome = verdict(
            counters.count(client.quota_id, now), client.per_minute, client.per_day, now
        )
        if not outcome.allowed:
            raise QuotaExceeded(
                f"the quota of {outcome.limit} requests per {WINDOW_NAMES[outcome.window_s]}"
                " is used up;"
                f" retry in {outcome.reset_s} s",
                field=KEY_HEADER if client.name else "client",
                message="wait for Retry-After, or ask for a larger quota",
            )
        return None

    @app.after_request
    def quota_headers(response):
        outcome = g.get("quota")
        if outcome is not None:
            response.headers.update(outcome.headers())
        client = g.get("client")
        if client is not None and client.kind == "publishable" and "Origin" in request.headers:
            # identify() has checked this origin against the key's list.
            response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
            response.vary.add("Origin")
        return response


def _preflight() -> Response:
    """A CORS preflight's answer (see the module docstring)."""
    response = Response(status=204)
    response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = CORS_REQUEST_HEADERS
    response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_S)
    response.vary.add("Origin")
    return response
