"""The pickup-point and store locator: create_app() builds the Flask application."""

from __future__ import annotations

import logging
import os
import re

import orjson
from flask import Flask, g, request
from flask.json.provider import JSONProvider
from flask.sessions import SessionInterface

from app import logs
from app.config import Config

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; tests pass their own settings in ``test_config``."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    app.json = OrjsonProvider(app)
    app.session_interface = NoSessions()
    logs.configure(app)
    # Alembic narrates every plugin at INFO; its warnings are what matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from app import api, cli, health, metrics, security
    from app.api import clients, tiles
    from app.api.problems import register_error_handlers, register_error_page
    from app.extensions import db
    from app.web import error_pages, pages, planner

    db.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    register_error_handlers(app)
    # The pages answer their errors as pages of their own, with the same statuses.
    register_error_page(app, (pages.bp.name, planner.bp.name), error_pages.render)
    security.init_app(app)
    # Before the metering hooks: their refusals and log lines carry the request id too.
    _add_request_id(app)
    # Its clock starts before, and its count follows, the hooks registered after it.
    metrics.init_app(app, unobserved_blueprints=(health.bp.name,))
    # Health probes and metrics are never metered: load balancers and Prometheus poll them.
    # Nor are map tiles: a map view asks for dozens at once, each public, cheap and cached
    # by ETag (a panning planner would spend an anonymous minute's quota in seconds).
    clients.init_app(app, unmetered_blueprints=(health.bp.name, metrics.bp.name, tiles.bp.name))
    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(planner.bp)
    return app


class OrjsonProvider(JSONProvider):
    """Flask's JSON (jsonify, request.get_json) through orjson: several times faster than
    the json module, strict when reading (no NaN, invalid UTF-8 or trailing commas), and
    it keeps the documented field order. NaN and infinities are written as null."""

    mimetype = "application/json"

    def dumps(self, obj, **kwargs) -> str:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s, **kwargs):
        return orjson.loads(s)

    def response(self, *args, **kwargs):
        body = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(
            orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), mimetype=self.mimetype
        )


class NoSessions(SessionInterface):
    """The app keeps no per-user session: state lives in signed cursors, cookies of its
    own and the database. Flask's cookie session would build a signing serializer on
    every request for nothing (2% of a coverage request)."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        pass


def _add_request_id(app: Flask) -> None:
    """Echo the caller's X-Request-ID (when well formed) or mint one, on every response."""

    @app.before_request
    def assign_request_id():
        supplied = request.headers.get("X-Request-ID")
        if supplied and _REQUEST_ID.fullmatch(supplied):
            g.request_id = supplied
        else:
            g.request_id = os.urandom(16).hex()  # as random as uuid4().hex, without the UUID

    @app.after_request
    def send_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id") or os.urandom(16).hex()
        return response
