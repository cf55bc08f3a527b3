"""Road-network endpoints (DESIGN §4.7): who reaches each part of an area fastest by car."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.common import GEOJSON, json_response, problem_responses
from app.api.inputs import BBox, Blueprint, Integer, StrictSchema, Text
from app.api.schemas import FeatureCollectionSchema
from app.extensions import db
from app.limits import DEFAULT_PARTITION_DRIVE_TIME_S, MAX_DRIVE_TIME_S, MIN_DRIVE_TIME_S
from app.models import SERVICE_AREA_MODES
from app.services import roads

bp = Blueprint("api_roads", __name__, url_prefix="/api/v1", description="Road travel time")


class PartitionQuery(StrictSchema):
    mode = fields.String(
        required=True,
        validate=validate.OneOf(SERVICE_AREA_MODES),
        metadata={"description": f"Service mode: {', '.join(SERVICE_AREA_MODES)}."},
    )
    region = Text(
        max_length=128, metadata={"description": "An imported region's region_id (or bbox)."}
    )
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (WGS84), or region."})
    drive_time_s = Integer(
        load_default=DEFAULT_PARTITION_DRIVE_TIME_S,
        validate=validate.Range(min=MIN_DRIVE_TIME_S, max=MAX_DRIVE_TIME_S),
        metadata={"description": f"Seconds of driving ({MIN_DRIVE_TIME_S}..{MAX_DRIVE_TIME_S})."},
    )

    @validates_schema
    def one_target(self, data, **kwargs):
        if ("region" in data) == ("bbox" in data):
            raise ValidationError("give exactly one of region or bbox", "region")


@bp.route("/coverage/partition")
class CoveragePartition(MethodView):
    @bp.query(PartitionQuery)
    @bp.response(200, FeatureCollectionSchema, content_type=GEOJSON)
    @problem_responses(bp, 400, 404, 503)
    def get(self, args):
        """For each location serving the area in `mode`, the part it reaches first by car.

        Locations whose `mode` area meets the region or box compete; every road reached
        within `drive_time_s` goes to the location that reaches it soonest (pgRouting's
        equicost). The pieces are disjoint and together cover the union of their
        drive-time areas within the region or box. 400 when no road network is loaded.
        """
        collection = roads.partition_collection(
            db.connection(),
            mode=args["mode"],
            region_id=args.get("region"),
            bbox=args.get("bbox"),
            drive_time_s=args["drive_time_s"],
        )
        return json_response(collection, GEOJSON)
