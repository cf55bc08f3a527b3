"""Admin API: create, replace and delete locations and service areas, and upload imports.

Every write needs a bearer token with the right scope (app/auth.py) and goes through the
one import pipeline (app/importing.py), so it is validated exactly like a file row and
written all or nothing.
"""

from __future__ import annotations

import re

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from app.api import schemas
from app.api.common import json_response, problem_responses
from app.api.errors import ApiError
from app.api.serialize import location_json
from app.auth import require_scope
from app.extensions import db
from app.importing import (
    ImportFileError,
    ImportOptions,
    ImportReport,
    import_bytes,
    import_records,
)
from app.models import EXTERNAL_ID_PATTERN, SERVICE_AREA_MODES
from app.queries.locations import delete_location, get_location

EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)
bp = Blueprint("api_admin", __name__, url_prefix="/api/v1", description="Admin writes")


class ImportQuery(Schema):
    class Meta:
        unknown = RAISE

    filename = fields.String(
        required=True,
        validate=validate.Regexp(r"^[\w.-]{1,100}\.(csv|geojson|json)$"),
        metadata={"description": "Tells the format: .csv, .geojson or .json."},
    )
    skip_invalid = fields.Boolean(load_default=False)
    dry_run = fields.Boolean(load_default=False)
    make_valid = fields.Boolean(load_default=False)


class MakeValidQuery(Schema):
    class Meta:
        unknown = RAISE

    make_valid = fields.Boolean(load_default=False)


def _options(args: dict) -> ImportOptions:
    return ImportOptions(
        skip_invalid=args.get("skip_invalid", False),
        dry_run=args.get("dry_run", False),
        make_valid=args.get("make_valid", False),
        max_polygon_vertices=current_app.config["MAX_POLYGON_VERTICES"],
    )


def _rejected(report: ImportReport) -> ApiError:
    """Nothing was written: a 400 naming each rejected field."""
    return ApiError(
        400,
        f"{len(report.rejected)} rejected; nothing written",
        errors=[{"field": r.field, "message": r.message} for r in report.rejected],
    )


def _json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "the body must be a JSON object",
            errors=[{"field": None, "message": "not a JSON object"}],
        )
    return body


@bp.route("/locations/<string:external_id>")
class LocationWrite(MethodView):
    @require_scope("write")
    @bp.response(200, schemas.LocationSchema)
    @problem_responses(bp, 400, 401, 403, 503)
    def put(self, external_id):
        """Create or replace one location (fields as in the import format, JSON types).

        `capabilities` may be a list or a ';'-separated string. `id` and other internal
        fields are refused.
        """
        fields_ = dict(_json_object())
        if isinstance(fields_.get("capabilities"), list):
            if not all(isinstance(c, str) for c in fields_["capabilities"]):
                raise ApiError(
                    400,
                    "capabilities must be strings",
                    errors=[{"field": "capabilities", "message": "must be a list of strings"}],
                )
            fields_["capabilities"] = ";".join(fields_["capabilities"])
        if "external_id" in fields_ and fields_["external_id"] != external_id:
            raise ApiError(
                400,
                "external_id differs from the URL",
                errors=[{"field": "external_id", "message": "must match the URL"}],
            )
        fields_["external_id"] = external_id
        with db.transaction() as connection:
            report = import_records(connection, "locations", [(fields_, None)], _options({}))
            if not report.applied:
                raise _rejected(report)
            row = get_location(connection, external_id)
        status = 201 if report.created else 200
        response = json_response(location_json(row))
        response.status_code = status
        return response

    @require_scope("write")
    @bp.response(204)
    @problem_responses(bp, 401, 403, 404, 503)
    def delete(self, external_id):
        """Delete one location and its service areas."""
        with db.transaction() as connection:
            if not EXTERNAL_ID.fullmatch(external_id) or not delete_location(
                connection, external_id
            ):
                raise ApiError(404, f"no location with external_id {external_id!r}")
        return "", 204


@bp.route("/locations/<string:external_id>/service-areas/<string:mode>")
class ServiceAreaWrite(MethodView):
    @require_scope("write")
    @bp.arguments(MakeValidQuery, location="query", as_kwargs=False, unknown=RAISE)
    @bp.response(200, description="Which area was written, and whether it is new (201).")
    @problem_responses(bp, 400, 401, 403, 404, 413, 503)
    def put(self, args, external_id, mode):
        """Create or replace a location's service area for one mode.

        Body: `{"geometry": <GeoJSON Polygon or MultiPolygon>}` or `{"radius_m": 5000}`
        (a geodesic circle around the location). `?make_valid=true` repairs an invalid
        polygon instead of refusing it.
        """
        if mode not in SERVICE_AREA_MODES:
            raise ApiError(404, f"no service-area mode {mode!r}")
        body = _json_object()
        unknown = [key for key in body if key not in ("geometry", "radius_m")]
        if unknown or ("geometry" in body) == ("radius_m" in body):
            raise ApiError(
                400,
                "give exactly one of geometry or radius_m",
                errors=[
                    {
                        "field": unknown[0] if unknown else "geometry",
                        "message": "give geometry or radius_m",
                    }
                ],
            )
        fields_ = {"location_external_id": external_id, "mode": mode}
        if "radius_m" in body:
            fields_["radius_m"] = body["radius_m"]
        with db.transaction() as connection:
            report = import_records(
                connection, "service_areas", [(fields_, body.get("geometry"))], _options(args)
            )
            if not report.applied:
                if any(r.field == "location_external_id" for r in report.rejected):
                    raise ApiError(404, f"no location with external_id {external_id!r}")
                raise _rejected(report)
        response = json_response(
            {"location_id": external_id, "mode": mode, "created": bool(report.created)}
        )
        response.status_code = 201 if report.created else 200
        return response


@bp.route("/imports")
class Imports(MethodView):
    @require_scope("import")
    @bp.arguments(ImportQuery, location="query", as_kwargs=False, unknown=RAISE)
    @bp.response(200, description="The import report: created, updated, unchanged, rejected.")
    @problem_responses(bp, 400, 401, 403, 413, 503)
    def post(self, args):
        """Import a file sent as the request body (same formats and rules as the CLI).

        All or nothing unless skip_invalid; a rejected file is a 400 listing each row.
        """
        try:
            with db.transaction() as connection:
                report = import_bytes(
                    connection, args["filename"], request.get_data(), _options(args)
                )
        except ImportFileError as error:
            raise ApiError(
                400, str(error), errors=[{"field": "body", "message": str(error)}]
            ) from error
        if report.rejected and not report.applied and not report.dry_run:
            raise ApiError(
                400,
                f"{len(report.rejected)} rows rejected; nothing written",
                errors=[
                    {"field": f"{report.unit} {r.row}: {r.field}", "message": r.message}
                    for r in report.rejected
                ],
            )
        return json_response(report.as_dict())
