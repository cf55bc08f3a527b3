"""Response hardening: security headers on every response, and per-client rate limits.

The Content-Security-Policy allows only the app's own scripts, styles, images and
connections, plus images from the base-tile host. Pages built by folium (the planner)
and Swagger UI carry inline scripts; only those views relax script-src (see
allow_inline_scripts).
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# Where flask-limiter puts its Retry-After, which only a 429 passes on (see init_app).
LIMITER_RETRY_AFTER = "X-Limiter-Retry-After"


def allow_inline_scripts(view):
    """Mark a view whose page needs inline <script> blocks (folium, Swagger UI)."""

    @wraps(view)
    def marked(*args, **kwargs):
        g.csp_inline_scripts = True
        return view(*args, **kwargs)

    return marked


def content_security_policy(app: Flask, inline_scripts: bool) -> str:
    tile_host = urlsplit(app.config["TILE_URL"]).netloc
    tile_source = ""
    if tile_host:
        # Tile URL templates may use {s} subdomains.
        tile_source = (
            " " + urlsplit(app.config["TILE_URL"]).scheme + "://" + tile_host.replace("{s}", "*")
        )
    scripts = "'self' 'unsafe-inline'" if inline_scripts else "'self'"
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:{tile_source}; connect-src 'self'; object-src 'none'; "
        f"base-uri 'self'; form-action 'self'; "
        f"frame-ancestors {app.config['FRAME_ANCESTORS']}"
    )


def init_app(app: Flask, exempt: list) -> None:
    """Headers for every response; rate limits for every view but the ``exempt`` blueprints.

    One Limiter per app: flask-limiter keeps its settings on the instance, so a shared
    one would carry the first app's limits into every later app (tests build many).
    """
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    # flask-limiter writes a Retry-After on every response, 200s included, overwrites the
    # app's own on 503s with its window's, and rounds down (to 0 as a window ends). It
    # writes to a header of its own instead; the hook below keeps it for 429s only.
    app.config["RATELIMIT_HEADER_RETRY_AFTER"] = LIMITER_RETRY_AFTER

    # Registered before the Limiter's own hook, so it runs after it (Flask runs
    # after_request hooks last registered first).
    @app.after_request
    def retry_after_where_it_belongs(response):
        seconds = response.headers.pop(LIMITER_RETRY_AFTER, None)
        if response.status_code == 429:
            response.headers["Retry-After"] = str(max(1, int(seconds or 1)))
        return response

    limiter = Limiter(key_func=get_remote_address, app=app)
    for blueprint in exempt:
        limiter.exempt(blueprint)
    policies = {inline: content_security_policy(app, inline) for inline in (False, True)}

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers["Content-Security-Policy"] = policies[bool(g.get("csp_inline_scripts"))]
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers.pop("Server", None)
        return response

    @app.before_request
    def docs_need_inline_scripts():
        # Swagger UI's page (from flask-smorest) boots with an inline script.
        if request.path == "/api/docs":
            g.csp_inline_scripts = True
