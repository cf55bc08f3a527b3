"""Response hardening: security headers on every response (quotas: app/api/clients.py).

The Content-Security-Policy allows only the app's own scripts, styles, images and
connections, plus images from the base-tile host. Pages built by folium (the planner)
and Swagger UI carry inline scripts; only those views relax script-src (see
allow_inline_scripts).
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, g, request


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


def init_app(app: Flask) -> None:
    """Security headers for every response."""
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
