"""Planning endpoints (DESIGN §4.9): demand coverage and what-if sites.

They run under PLANNING_STATEMENT_TIMEOUT_MS (app/config.py), in a transaction of their
own that is rolled back: planning never writes, and the checkout endpoints keep their
shorter STATEMENT_TIMEOUT_MS.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.common import json_response, problem_responses
from app.api.inputs import (
    BBox,
    Blueprint,
    BodySchema,
    Integer,
    JsonBBox,
    Latitude,
    Longitude,
    Number,
    StrictSchema,
    Text,
    choices,
)
from app.api.schemas import DemandCoverageSchema
from app.extensions import db
from app.limits import (
    MAX_DRIVE_TIME_S,
    MAX_POINT_ID_LENGTH,
    MAX_RADIUS_M,
    MAX_WHATIF_CANDIDATES,
    MIN_DRIVE_TIME_S,
    WHATIF_BYTES_PER_CANDIDATE,
)
from app.models import DEMAND_SET_NAME_PATTERN, SERVICE_AREA_MODES
from app.services import planning

bp = Blueprint(
    "api_planning", __name__, url_prefix="/api/v1", description="Planning: demand and what-if"
)


def _timeout_ms() -> int:
    return current_app.config["PLANNING_STATEMENT_TIMEOUT_MS"]


def _demand_set(**kwargs):
    return fields.String(
        validate=validate.Regexp(
            DEMAND_SET_NAME_PATTERN, error="must be 1-64 of A-Z a-z 0-9 . _ : -"
        ),
        metadata={"description": "A demand set's name (`flask locator import FILE"
                  " --dataset demand --demand-set NAME`)."},
        **kwargs,
    )  # fmt: skip


def _one_target(data: dict) -> None:
    if ("region" in data) == ("bbox" in data):
        raise ValidationError("give exactly one of region or bbox", "region")


class DemandQuery(StrictSchema):
    region = Text(max_length=128, metadata={"description": "A region_id (or give bbox)."})
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (WGS84), or region."})
    mode = choices(SERVICE_AREA_MODES, "Repeatable; default every mode.")
    demand = _demand_set(required=True)

    @validates_schema
    def one_target(self, data, **kwargs):
        _one_target(data)


class SiteCandidateSchema(StrictSchema):
    id = Text(
        max_length=MAX_POINT_ID_LENGTH,
        metadata={"description": "The caller's name for the site, echoed back."},
    )
    lat = Latitude(json=True, required=True)
    lon = Longitude(json=True, required=True)
    radius_m = Number(
        json=True,
        validate=validate.Range(min=1, max=MAX_RADIUS_M),
        metadata={"description": f"Geodesic circle, metres (1..{MAX_RADIUS_M}); or drive_time_s."},
    )
    drive_time_s = Integer(
        json=True,
        validate=validate.Range(min=MIN_DRIVE_TIME_S, max=MAX_DRIVE_TIME_S),
        metadata={
            "description": f"The area reached by car within this many seconds "
            f"({MIN_DRIVE_TIME_S}..{MAX_DRIVE_TIME_S}; needs a road network); or radius_m."
        },
    )

    @validates_schema
    def one_reach(self, data, **kwargs):
        if ("radius_m" in data) == ("drive_time_s" in data):
            raise ValidationError("give exactly one of radius_m or drive_time_s", "radius_m")


class WhatIfBody(BodySchema):
    MAX_BYTES = MAX_WHATIF_CANDIDATES * WHATIF_BYTES_PER_CANDIDATE + 1024
    # Past 50 candidates a 400 naming the field; far past it, refused before any
    # candidate is validated (413).
    LIST_CAPS = {"candidates": 10 * MAX_WHATIF_CANDIDATES}

    region = Text(max_length=128, metadata={"description": "A region_id (or give bbox)."})
    bbox = JsonBBox(metadata={"description": "[minLon, minLat, maxLon, maxLat] (or region)."})
    mode = fields.String(
        required=True,
        validate=validate.OneOf(SERVICE_AREA_MODES),
        metadata={"description": f"Service mode: {', '.join(SERVICE_AREA_MODES)}."},
    )
    demand = _demand_set()
    candidates = fields.List(
        fields.Nested(SiteCandidateSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_WHATIF_CANDIDATES),
        metadata={"description": f"1..{MAX_WHATIF_CANDIDATES} candidate sites."},
    )
    best_next = Integer(
        json=True,
        validate=validate.Range(min=1, max=MAX_WHATIF_CANDIDATES),
        metadata={"description": "Pick this many candidates greedily by demand gained"
                  " (needs demand)."},
    )  # fmt: skip

    @validates_schema
    def one_target(self, data, **kwargs):
        _one_target(data)


# -- response documentation ------------------------------------------------------------


class LostExclusivitySchema(Schema):
    external_id = fields.String()
    name = fields.String()
    area_m2 = fields.Float(metadata={"description": "Area only it served, now shared."})
    demand_weight = fields.Float(metadata={"description": "Demand only it served, now shared."})


class GainsSchema(Schema):
    area_m2 = fields.Float(metadata={"description": "Inside the target (geodesic m²)."})
    area_gained_m2 = fields.Float(metadata={"description": "Not covered today."})
    overlap_m2 = fields.Float(metadata={"description": "Already covered today."})
    demand_weight = fields.Float(metadata={"description": "With demand: weight inside."})
    demand_gained = fields.Float()
    demand_overlap = fields.Float()
    loses_exclusivity = fields.List(fields.Nested(LostExclusivitySchema))


class CandidateResultSchema(GainsSchema):
    id = fields.String(allow_none=True)
    lat = fields.Float()
    lon = fields.Float()
    radius_m = fields.Float(allow_none=True)
    drive_time_s = fields.Integer(allow_none=True)
    geometry = fields.Dict(metadata={"description": "GeoJSON MultiPolygon of the site's area."})


class CombinedSchema(GainsSchema):
    demand_covered_share_after = fields.Float()


class TodaySchema(Schema):
    area_m2 = fields.Float()
    demand_points = fields.Integer()
    demand_weight = fields.Float()
    demand_covered_weight = fields.Float()
    demand_covered_share = fields.Float()


class PickSchema(Schema):
    candidate = fields.Integer(metadata={"description": "Index in the request's candidates."})
    id = fields.String(allow_none=True)
    demand_gained = fields.Float()
    demand_gained_total = fields.Float()


class WhatIfSchema(Schema):
    region = fields.String(allow_none=True)
    bbox = fields.List(fields.Float(), allow_none=True)
    mode = fields.String()
    demand = fields.String(allow_none=True)
    tolerance_deg = fields.Float(metadata={"description": "Largest simplification used (0)."})
    today = fields.Nested(TodaySchema)
    candidates = fields.List(fields.Nested(CandidateResultSchema))
    combined = fields.Nested(CombinedSchema)
    best_next = fields.List(fields.Nested(PickSchema), allow_none=True)


class DemandAnswerSchema(Schema):
    region = fields.String(allow_none=True)
    bbox = fields.List(fields.Float(), allow_none=True)
    modes = fields.Dict(keys=fields.String(), values=fields.Nested(DemandCoverageSchema))


class DemandSetSchema(Schema):
    name = fields.String()
    points = fields.Integer()
    weight = fields.Float()
    imported_at = fields.String()


class DemandSetsSchema(Schema):
    demand_sets = fields.List(fields.Nested(DemandSetSchema))


# -- views -----------------------------------------------------------------------------


@bp.route("/planning/what-if")
class WhatIf(MethodView):
    @bp.body(WhatIfBody)
    @bp.response(200, WhatIfSchema)
    @problem_responses(bp, 400, 404, 413, 415, 503)
    def post(self, body):
        """What candidate sites would add to today's network of one mode, in a region or box.

        Per candidate and for all together: the area and the demand (with `demand`, a
        demand set) they gain and the part they overlap with today's areas, and the
        existing locations that lose exclusivity (area or demand only they served).
        `best_next=k` picks up to k candidates greedily by demand gained. Nothing is
        written. Areas are geodesic m²; candidates' circles are geodesic.
        """
        candidates = [
            planning.Candidate(
                lat=c["lat"],
                lon=c["lon"],
                radius_m=c.get("radius_m"),
                drive_time_s=c.get("drive_time_s"),
                id=c.get("id"),
            )
            for c in body["candidates"]
        ]
        answer = planning.what_if(
            db.connection(),
            region_id=body.get("region"),
            bbox=body.get("bbox"),
            mode=body["mode"],
            candidates=candidates,
            demand=body.get("demand"),
            best_next=body.get("best_next"),
            timeout_ms=_timeout_ms(),
        )
        return json_response(answer)


@bp.route("/planning/demand")
class DemandCoverage(MethodView):
    @bp.query(DemandQuery)
    @bp.response(200, DemandAnswerSchema)
    @problem_responses(bp, 400, 404, 503)
    def get(self, args):
        """Per mode, how much of a demand set's weight inside a region or box is covered.

        The same figures as `demand` in /coverage/summary?demand=, without the area
        summary: covered weight and share, the share drive-time areas reach, and the
        uncovered demand as its heaviest points and as a hexagon grid of weights.
        """
        asked = set(args.get("mode") or SERVICE_AREA_MODES)
        modes = planning.demand_coverage(
            db.connection(),
            region_id=args.get("region"),
            bbox=args.get("bbox"),
            modes=[mode for mode in SERVICE_AREA_MODES if mode in asked],
            demand=args["demand"],
            timeout_ms=_timeout_ms(),
        )
        return json_response(
            {"region": args.get("region"), "bbox": args.get("bbox"), "modes": modes}
        )


@bp.route("/planning/demand-sets")
class DemandSets(MethodView):
    @bp.response(200, DemandSetsSchema)
    @problem_responses(bp, 503)
    def get(self):
        """The demand sets: name, number of points, total weight, when imported."""
        return json_response({"demand_sets": planning.demand_sets(db.connection())})
