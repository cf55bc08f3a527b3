"""The JSON API: flask-smorest generates the OpenAPI document from the schemas."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Flask, send_from_directory
from flask_smorest import Api

from app.api.auth import ADMIN_TOKEN_SCHEME
from app.api.docs import TAGS, ExamplesPlugin
from app.api.problems import PROBLEM_JSON
from app.api.schemas import ProblemSchema
from app.services.client_keys import KEY_HEADER

SWAGGER_UI_DIR = Path(swagger_ui_bundle.swagger_ui_path)


class LocatorApi(Api):
    """flask-smorest, with errors left to the app's one problem+json path."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        """No-op: app/api/problems.py handles every HTTPException."""

    def _register_responses(self):
        """Error responses, the "default" one of every operation included, are documented
        as problem+json: a status a view does not list is still documented truthfully."""
        saved, self.DEFAULT_RESPONSE_CONTENT_TYPE = self.DEFAULT_RESPONSE_CONTENT_TYPE, PROBLEM_JSON
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = saved


API_SETTINGS = {
    "API_TITLE": "Pickup-point and store locator",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "v1/openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    # Swagger UI's files come from the swagger-ui-bundle package, served by this app:
    # the docs work with no internet access.
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
    # Every operation may carry a client key (app/api/clients.py): without one a call
    # counts against its address's small anonymous quota, or gets a 401 when
    # REQUIRE_CLIENT_KEY is set. Admin and order operations name their bearer token
    # instead (app/api/auth.py).
    # The tags /api/docs groups operations under, named for a reader (app/api/docs.py),
    # instead of one per blueprint.
    "API_SPEC_OPTIONS": {"security": [{}, {"clientKey": []}], "tags": TAGS},
}

SECURITY_SCHEMES = {
    "clientKey": {
        "type": "apiKey",
        "in": "header",
        "name": KEY_HEADER,
        "description": "A client key (`flask locator keys create NAME`): a publishable key"
        " works only from the origins it lists, a secret key from servers. Quotas are per"
        " key; calls without a key share their address's anonymous quota.",
    },
    ADMIN_TOKEN_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "An admin token (`flask locator token create NAME --scope ...`)."
        " Each operation names the scope it needs in `x-required-scope`: a token without"
        " it gets a 403.",
    },
}


def init_app(app: Flask) -> None:
    """Register the API blueprints and their OpenAPI document on ``app``."""
    for key, value in API_SETTINGS.items():
        app.config.setdefault(key, value)
    # One Api per app: flask-smorest keeps the spec on the instance.
    # ExamplesPlugin tags every operation and adds its examples as it is registered.
    api = LocatorApi(app, spec_kwargs={"extra_plugins": [ExamplesPlugin()]})
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    from app.api import admin, fulfilment, holds, ogc, planning, roads, routes, tiles

    api.register_blueprint(routes.bp)
    api.register_blueprint(admin.bp)
    api.register_blueprint(fulfilment.bp)
    api.register_blueprint(holds.bp)
    api.register_blueprint(tiles.bp)
    api.register_blueprint(ogc.bp)
    api.register_blueprint(roads.bp)
    api.register_blueprint(planning.bp)

    @app.get("/api/docs/assets/<path:filename>")
    def swagger_ui_assets(filename):
        return send_from_directory(SWAGGER_UI_DIR, filename, max_age=86400)
