"""Admin API: create, replace and delete locations and service areas, and upload imports.

Every write needs a bearer token with the right scope (app/api/auth.py) and goes through the
one import pipeline (app/importing.py), so it is validated exactly like a file row and
written all or nothing.
"""

from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from marshmallow import fields, validate

from app.api import schemas
from app.api.auth import require_scope
from app.api.common import json_response, problem_responses
from app.api.inputs import Blueprint, Flag, StrictSchema, read_json_object
from app.api.serialize import location_json
from app.errors import InvalidInput, NotFound, TooLarge
from app.extensions import db
from app.importing import (
    DATASETS,
    PLAUSIBILITY_CHECKS,
    ImportFileError,
    ImportOptions,
    ImportReport,
    import_bytes,
    import_records,
)
from app.limits import EXTERNAL_ID, MAX_SMALL_BODY_BYTES
from app.models import SERVICE_AREA_MODES
from app.queries.locations import delete_location, get_location

bp = Blueprint("api_admin", __name__, url_prefix="/api/v1", description="Admin writes")


class ImportQuery(StrictSchema):
    filename = fields.String(
        required=True,
        validate=validate.Regexp(r"^[\w.-]{1,100}\.(csv|geojson|json)$"),
        metadata={"description": "Tells the format: .csv, .geojson or .json."},
    )
    skip_invalid = Flag(load_default=False)
    dry_run = Flag(load_default=False)
    make_valid = Flag(load_default=False)
    dataset = fields.String(
        validate=validate.OneOf(DATASETS),
        metadata={"description": "The kind of file, when its header cannot tell."},
    )
    demand_set = fields.String(
        validate=validate.Regexp(r"^[A-Za-z0-9._:-]{1,64}$"),
        metadata={"description": "Demand: the named set the file replaces."},
    )
    allow = fields.List(
        fields.String(validate=validate.OneOf(PLAUSIBILITY_CHECKS)),
        load_default=[],
        metadata={"description": "Plausibility checks that only warn (repeatable)."},
    )


class MakeValidQuery(StrictSchema):
    make_valid = Flag(load_default=False)


def _options(args: dict) -> ImportOptions:
    return ImportOptions(
        skip_invalid=args.get("skip_invalid", False),
        dry_run=args.get("dry_run", False),
        make_valid=args.get("make_valid", False),
        max_polygon_vertices=current_app.config["MAX_POLYGON_VERTICES"],
        dataset=args.get("dataset"),
        demand_set=args.get("demand_set"),
        allow=frozenset(args.get("allow", ())),
    )


def _rejected(report: ImportReport) -> InvalidInput:
    """Nothing was written: a 400 naming each rejected field."""
    return InvalidInput(
        f"{len(report.rejected)} rejected; nothing written",
        errors=[{"field": r.field or "body", "message": r.message} for r in report.rejected],
    )


def _polygon_body_bytes() -> int:
    """A service-area body may carry a polygon of up to MAX_POLYGON_VERTICES vertices:
    about 40 bytes a vertex in compact JSON, and room for whitespace."""
    return min(
        current_app.config["MAX_CONTENT_LENGTH"],
        64 * current_app.config["MAX_POLYGON_VERTICES"] + MAX_SMALL_BODY_BYTES,
    )


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
        fields_ = dict(read_json_object(MAX_SMALL_BODY_BYTES))
        if isinstance(fields_.get("capabilities"), list):
            if not all(isinstance(c, str) for c in fields_["capabilities"]):
                raise InvalidInput(
                    "capabilities must be strings",
                    field="capabilities",
                    message="must be a list of strings",
                )
            fields_["capabilities"] = ";".join(fields_["capabilities"])
        if "external_id" in fields_ and fields_["external_id"] != external_id:
            raise InvalidInput(
                "external_id differs from the URL",
                field="external_id",
                message="must match the URL",
            )
        if not EXTERNAL_ID.fullmatch(external_id):
            raise InvalidInput(
                f"{external_id!r} is not a valid external_id",
                field="external_id",
                message="1 to 128 of A-Z a-z 0-9 . _ : -",
            )
        fields_["external_id"] = external_id
        with db.transaction() as connection:
            report = import_records(connection, "locations", [(fields_, None)], _options({}))
            if not report.applied:
                raise _rejected(report)
            row = get_location(connection, external_id)
        return json_response(location_json(row), status=201 if report.created else 200)

    @require_scope("write")
    @bp.response(204)
    @problem_responses(bp, 401, 403, 404, 503)
    def delete(self, external_id):
        """Delete one location and its service areas."""
        with db.transaction() as connection:
            if not EXTERNAL_ID.fullmatch(external_id) or not delete_location(
                connection, external_id
            ):
                raise _no_location(external_id)
        return "", 204


@bp.route("/locations/<string:external_id>/service-areas/<string:mode>")
class ServiceAreaWrite(MethodView):
    @require_scope("write")
    @bp.query(MakeValidQuery)
    @bp.response(200, description="Which area was written, and whether it is new (201).")
    @problem_responses(bp, 400, 401, 403, 404, 413, 503)
    def put(self, args, external_id, mode):
        """Create or replace a location's service area for one mode.

        Body: `{"geometry": <GeoJSON Polygon or MultiPolygon>}`, `{"radius_m": 5000}`
        (a geodesic circle around the location) or `{"drive_time_s": 900}` (the roads a
        car from the location reaches in that time, on the current road network).
        `?make_valid=true` repairs an invalid polygon instead of refusing it.
        """
        if mode not in SERVICE_AREA_MODES:
            raise NotFound(
                f"no service-area mode {mode!r}",
                field="mode",
                message=f"one of {', '.join(SERVICE_AREA_MODES)}",
            )
        body = read_json_object(_polygon_body_bytes())
        shapes = ("geometry", "radius_m", "drive_time_s")
        unknown = [key for key in body if key not in shapes]
        if unknown or sum(key in body for key in shapes) != 1:
            raise InvalidInput(
                "give exactly one of geometry, radius_m or drive_time_s",
                field=unknown[0] if unknown else "geometry",
                message="give geometry, radius_m or drive_time_s",
            )
        fields_ = {"location_external_id": external_id, "mode": mode}
        for key in ("radius_m", "drive_time_s"):
            if key in body:
                fields_[key] = body[key]
        with db.transaction() as connection:
            report = import_records(
                connection, "service_areas", [(fields_, body.get("geometry"))], _options(args)
            )
            if not report.applied:
                if any(r.field == "location_external_id" for r in report.rejected):
                    raise _no_location(external_id)
                if any("too many vertices" in r.message for r in report.rejected):
                    raise TooLarge(
                        "the polygon has too many vertices",
                        errors=[
                            {"field": "geometry", "message": r.message} for r in report.rejected
                        ],
                    )
                raise _rejected(report)
        return json_response(
            {"location_id": external_id, "mode": mode, "created": bool(report.created)},
            status=201 if report.created else 200,
        )


@bp.route("/imports")
class Imports(MethodView):
    @require_scope("import")
    @bp.query(ImportQuery)
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
            raise InvalidInput(str(error), field="body") from error
        if report.rejected and not report.applied and not report.dry_run:
            raise InvalidInput(
                f"{len(report.rejected)} rows rejected; nothing written",
                errors=[
                    {"field": f"{report.unit} {r.row}: {r.field}", "message": r.message}
                    for r in report.rejected
                ],
            )
        return json_response(report.as_dict())


def _no_location(external_id: str) -> NotFound:
    return NotFound(
        f"no location with external_id {external_id!r}",
        field="external_id",
        message="no such location",
    )
