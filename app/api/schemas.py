"""Request and response schemas: they validate input and generate the OpenAPI document.

Request fields come from app/api/inputs.py, the one strict input layer; the limits
from app/limits.py.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.inputs import (
    BBox,
    BodySchema,
    Flag,
    Instant,
    Integer,
    Latitude,
    Longitude,
    Number,
    StrictSchema,
    Text,
    choices,
)
from app.limits import (
    DEFAULT_GEOCODE_LIMIT,
    DEFAULT_PAGE_SIZE,
    DEFAULT_PICKUP_LIMIT,
    DEFAULT_RADIUS_M,
    DEFAULT_SERVED_BY,
    DEFAULT_SERVICE_AREAS,
    MAX_CURSOR_LENGTH,
    MAX_GEOCODE_LIMIT,
    MAX_PAGE_SIZE,
    MAX_PICKUP_LIMIT,
    MAX_POINT_ID_LENGTH,
    MAX_QUERY_TEXT,
    MAX_RADIUS_M,
    MAX_SERVED_BY,
    MAX_SERVICE_AREAS,
    MAX_SIMPLIFY_M,
)
from app.models import CAPABILITIES, DEMAND_SET_NAME_PATTERN, KINDS, SERVICE_AREA_MODES, STATUSES


def _kinds():
    return choices(KINDS, "Repeatable.")


def _capabilities():
    return choices(CAPABILITIES, "Repeatable; all must be present (AND).")


def _modes(description: str = "Repeatable; default every mode."):
    return choices(SERVICE_AREA_MODES, description)


def _cursor():
    return Text(
        max_length=MAX_CURSOR_LENGTH,
        metadata={"description": "Opaque: the next_cursor of the previous page."},
    )


def _bbox(description: str = "minLon,minLat,maxLon,maxLat (WGS84)."):
    return BBox(
        metadata={"description": f"{description} minLon > maxLon crosses the antimeridian."}
    )


def _served_limit(json: bool = False):
    return Integer(
        json=json,
        load_default=DEFAULT_SERVED_BY,
        validate=validate.Range(min=1, max=MAX_SERVED_BY),
        metadata={"description": f"Nearest serving areas listed per point (1..{MAX_SERVED_BY})."},
    )


def _simplify():
    return Number(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_SIMPLIFY_M),
        metadata={
            "description": "Simplify geometries for display, tolerance in metres "
            f"(0..{MAX_SIMPLIFY_M}; 0 = exact). The shapes stay valid."
        },
    )


def _origin_latitude(json: bool = False):
    return Latitude(
        json=json, metadata={"description": "Latitude of the origin, WGS84 degrees (-90..90)."}
    )


def _origin_longitude(json: bool = False):
    return Longitude(
        json=json,
        metadata={"description": "Longitude of the origin, WGS84 degrees (-180..180)."},
    )


class OriginQuery(StrictSchema):
    lat = _origin_latitude()
    lon = _origin_longitude()
    q = Text(
        max_length=MAX_QUERY_TEXT,
        blank=False,
        metadata={"description": "Free-text origin (postcode or place), instead of lat/lon."},
    )

    @validates_schema
    def one_origin(self, data, **kwargs):
        has_point = "lat" in data or "lon" in data
        if has_point and "q" in data:
            raise ValidationError("give either lat/lon or q, not both", "q")
        if not has_point and "q" not in data:
            raise ValidationError("give an origin: lat and lon, or q", "lat")
        if has_point and not ("lat" in data and "lon" in data):
            raise ValidationError("lat and lon go together", "lon" if "lat" in data else "lat")


class OriginBody(OriginQuery):
    """The same origin in a JSON body: lat and lon as JSON numbers (or q)."""

    lat = _origin_latitude(json=True)
    lon = _origin_longitude(json=True)


class PickupPointsQuery(OriginQuery):
    radius = Number(
        load_default=DEFAULT_RADIUS_M,
        validate=validate.Range(min=1, max=MAX_RADIUS_M),
        metadata={"description": f"Search radius in geodesic metres (1..{MAX_RADIUS_M})."},
    )
    limit = Integer(
        load_default=DEFAULT_PICKUP_LIMIT,
        validate=validate.Range(min=1, max=MAX_PICKUP_LIMIT),
        metadata={"description": f"Results per page (1..{MAX_PICKUP_LIMIT})."},
    )
    kind = _kinds()
    capability = _capabilities()
    open_at = Instant(
        metadata={"description": "Only locations open at this ISO 8601 time (with offset)."}
    )
    open_now = Flag(metadata={"description": "true: only locations open now."})
    rank = fields.String(
        validate=validate.OneOf(["distance", "travel_time"]),
        metadata={
            "description": "distance (default): geodesic, nearest first. travel_time: by "
            "car over the imported road network, quickest first, with duration_s and "
            "road_distance_m (one page: no cursor; 400 without a network)."
        },
    )
    cursor = _cursor()
    format = fields.String(
        validate=validate.OneOf(["json", "geojson"]),
        metadata={"description": "geojson: a FeatureCollection (or Accept: application/geo+json)."},
    )

    @validates_schema
    def one_time(self, data, **kwargs):
        if data.get("open_now") and "open_at" in data:
            raise ValidationError("give open_at or open_now=true, not both", "open_now")

    @validates_schema
    def travel_time_has_one_page(self, data, **kwargs):
        if data.get("rank") == "travel_time" and "cursor" in data:
            raise ValidationError("rank=travel_time gives one page: no cursor", "cursor")


class LocationsQuery(StrictSchema):
    kind = _kinds()
    capability = _capabilities()
    status = choices(STATUSES, "Repeatable. Default: every status.")
    bbox = _bbox()
    limit = Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"Results per page (1..{MAX_PAGE_SIZE})."},
    )
    cursor = _cursor()


class GeocodeQuery(StrictSchema):
    q = Text(
        required=True,
        max_length=MAX_QUERY_TEXT,
        blank=False,
        metadata={"description": "A US postcode, or a place name (optionally 'name, ST')."},
    )
    limit = Integer(
        load_default=DEFAULT_GEOCODE_LIMIT,
        validate=validate.Range(min=1, max=MAX_GEOCODE_LIMIT),
        metadata={"description": f"Candidates at most (1..{MAX_GEOCODE_LIMIT})."},
    )


class CoverageQuery(OriginQuery):
    mode = _modes()
    limit = _served_limit()


class BatchPointSchema(StrictSchema):
    id = Text(max_length=MAX_POINT_ID_LENGTH, metadata={"description": "Echoed back."})
    lat = Latitude(json=True, required=True)
    lon = Longitude(json=True, required=True)


class CoverageBatchBody(BodySchema):
    # The cap on points decides the cap on bytes: a body that cannot hold a valid batch
    # is refused before it is read (a 29 MB batch used to be parsed point by point).
    MAX_BYTES = "COVERAGE_BATCH_MAX_BYTES"
    LIST_CAPS = {"points": "COVERAGE_BATCH_MAX"}

    points = fields.List(
        fields.Nested(BatchPointSchema),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "Up to COVERAGE_BATCH_MAX points (default 1000)."},
    )
    mode = _modes("Default every mode.")
    limit = _served_limit(json=True)


class ServiceAreasQuery(StrictSchema):
    location_id = Text(
        max_length=128,
        metadata={"description": "The location's external_id."},
    )
    mode = _modes()
    bbox = _bbox()
    simplify = _simplify()
    limit = Integer(
        load_default=DEFAULT_SERVICE_AREAS,
        validate=validate.Range(min=1, max=MAX_SERVICE_AREAS),
        metadata={"description": f"Features per page (1..{MAX_SERVICE_AREAS})."},
    )
    cursor = _cursor()


class CoverageSummaryQuery(StrictSchema):
    region = Text(
        max_length=128,
        metadata={"description": "An imported region's region_id (or give bbox)."},
    )
    bbox = _bbox("The box to summarise (or give region).")
    mode = _modes()
    simplify = _simplify()
    demand = fields.String(
        validate=validate.Regexp(
            DEMAND_SET_NAME_PATTERN, error="must be 1-64 of A-Z a-z 0-9 . _ : -"
        ),
        metadata={
            "description": "A demand set's name: each mode then also says how much of its"
            " weight is covered (planning; runs under PLANNING_STATEMENT_TIMEOUT_MS)."
        },
    )

    @validates_schema
    def one_target(self, data, **kwargs):
        if ("region" in data) == ("bbox" in data):
            raise ValidationError("give exactly one of region or bbox", "region")


# -- responses (documentation; the hot paths serialise plain dicts) ---------------------


class AddressSchema(Schema):
    line1 = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    postcode = fields.String(allow_none=True)
    country = fields.String(allow_none=True)


class LocationSchema(Schema):
    id = fields.Integer(metadata={"description": "Internal id; use external_id to refer to it."})
    external_id = fields.String()
    name = fields.String()
    brand = fields.String(allow_none=True)
    kind = fields.String(validate=validate.OneOf(KINDS))
    lat = fields.Float()
    lon = fields.Float()
    address = fields.Nested(AddressSchema)
    capabilities = fields.List(fields.String())
    opening_hours = fields.String(allow_none=True, metadata={"description": "OSM syntax."})
    timezone = fields.String(metadata={"description": "IANA timezone of the location."})
    status = fields.String(validate=validate.OneOf(STATUSES))
    is_open = fields.Boolean(
        allow_none=True,
        metadata={"description": "At open_at (or now); null when the hours are unknown."},
    )
    next_change = fields.String(
        allow_none=True,
        metadata={"description": "ISO 8601, in the location's timezone; null if none."},
    )


class PickupPointSchema(LocationSchema):
    distance_m = fields.Float(metadata={"description": "Geodesic distance (WGS84), metres."})
    duration_s = fields.Float(
        metadata={"description": "rank=travel_time: seconds by car from the origin."}
    )
    road_distance_m = fields.Float(
        metadata={"description": "rank=travel_time: metres driven on that route."}
    )


class OriginSchema(Schema):
    lat = fields.Float()
    lon = fields.Float()
    source = fields.String(validate=validate.OneOf(["coordinates", "geocoder"]))
    label = fields.String(allow_none=True)


class PickupPointsSchema(Schema):
    origin = fields.Nested(OriginSchema)
    results = fields.List(fields.Nested(PickupPointSchema))
    next_cursor = fields.String(allow_none=True)


class LocationPageSchema(Schema):
    results = fields.List(fields.Nested(LocationSchema))
    next_cursor = fields.String(allow_none=True)


class CandidateSchema(Schema):
    label = fields.String()
    kind = fields.String(validate=validate.OneOf(["postcode", "place"]))
    lat = fields.Float()
    lon = fields.Float()
    confidence = fields.Float(metadata={"description": "0..1; 1 is an exact match."})
    country = fields.String()
    admin = fields.String(allow_none=True)
    near_network = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "An active pickup point lies within 25 km; among equally good "
            "places, the one near the network wins. null: not checked (external geocoder)."
        },
    )


class GeocodeSchema(Schema):
    query = fields.String()
    ambiguous = fields.Boolean(
        metadata={
            "description": "true when several candidates are about equally good and the "
            "network does not tell them apart (several, or none, near it)."
        }
    )
    candidates = fields.List(fields.Nested(CandidateSchema))


class FieldErrorSchema(Schema):
    field = fields.String(allow_none=True)
    message = fields.String()


class ProblemSchema(Schema):
    """RFC 9457 problem details; every error response has this shape."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.List(fields.Nested(FieldErrorSchema))
    candidates = fields.List(
        fields.Nested(CandidateSchema),
        metadata={"description": "Only for an ambiguous q: the places it could mean."},
    )


class ServedBySchema(Schema):
    service_area_id = fields.Integer()
    mode = fields.String(validate=validate.OneOf(SERVICE_AREA_MODES))
    location_id = fields.Integer()
    external_id = fields.String()
    name = fields.String()
    kind = fields.String()
    distance_m = fields.Float(metadata={"description": "Location to point, geodesic metres."})


class CoverageSchema(Schema):
    origin = fields.Nested(OriginSchema)
    covered = fields.Boolean()
    modes = fields.List(fields.String(), metadata={"description": "Modes that serve it."})
    served_by_total = fields.Integer(metadata={"description": "Areas covering it in all."})
    served_by = fields.List(fields.Nested(ServedBySchema))


class BatchResultSchema(Schema):
    id = fields.String(allow_none=True)
    lat = fields.Float()
    lon = fields.Float()
    covered = fields.Boolean()
    modes = fields.List(fields.String())
    served_by_total = fields.Integer()
    served_by = fields.List(fields.Nested(ServedBySchema))


class CoverageBatchSchema(Schema):
    results = fields.List(fields.Nested(BatchResultSchema))


class DriveTimeDemandSchema(Schema):
    areas = fields.Integer(metadata={"description": "Drive-time areas meeting the target."})
    covered_weight = fields.Float(metadata={"description": "Reached within an area's time."})
    covered_share = fields.Float()


class UncoveredDemandSchema(Schema):
    points = fields.Integer()
    weight = fields.Float()
    heaviest = fields.Dict(
        metadata={"description": "GeoJSON FeatureCollection of the heaviest uncovered points"
                  " (weight, label), with numberMatched and numberReturned."}
    )  # fmt: skip
    hexagons = fields.Dict(
        metadata={"description": "GeoJSON FeatureCollection: uncovered weight and points"
                  " per hexagon."}
    )  # fmt: skip
    hex_edge_m = fields.Float(metadata={"description": "The hexagons' edge, north-south."})


class DemandCoverageSchema(Schema):
    set = fields.String()
    points = fields.Integer(metadata={"description": "Demand points inside the target."})
    weight = fields.Float()
    covered_weight = fields.Float()
    covered_share = fields.Float(metadata={"description": "covered_weight / weight, 0..1"})
    drive_time = fields.Nested(DriveTimeDemandSchema)
    uncovered = fields.Nested(UncoveredDemandSchema)


class ModeCoverageSchema(Schema):
    area_m2 = fields.Float(metadata={"description": "Geodesic (WGS84) area of the target."})
    covered_m2 = fields.Float()
    covered_share = fields.Float(metadata={"description": "covered_m2 / area_m2, 0..1"})
    overlap_m2 = fields.Float(metadata={"description": "Covered by two or more locations."})
    locations = fields.Integer()
    uncovered = fields.Dict(metadata={"description": "GeoJSON geometry of the gaps."})
    overlaps = fields.Dict(metadata={"description": "GeoJSON geometry of the overlaps."})
    demand = fields.Nested(DemandCoverageSchema, metadata={"description": "With demand=."})


class CoverageSummarySchema(Schema):
    region = fields.String(allow_none=True)
    bbox = fields.List(fields.Float(), allow_none=True)
    modes = fields.Dict(keys=fields.String(), values=fields.Nested(ModeCoverageSchema))


class FeatureCollectionSchema(Schema):
    """A GeoJSON FeatureCollection (RFC 7946)."""

    type = fields.String(validate=validate.Equal("FeatureCollection"))
    features = fields.List(fields.Dict())


class ServiceAreaPageSchema(FeatureCollectionSchema):
    """A page of service areas: it says how many matched, and where the next page is."""

    numberMatched = fields.Integer()  # noqa: N815 (the OGC API - Features member names)
    numberReturned = fields.Integer()  # noqa: N815
    next_cursor = fields.String(allow_none=True)
    links = fields.List(fields.Dict(), metadata={"description": "rel=next: the next page."})


# The pickup-points answer comes as JSON, or as geo+json on request (Accept or
# format=geojson). Both are listed: a hand-written "content" replaces the generated one.
PICKUP_POINTS_CONTENT = {
    "responses": {
        "200": {
            "content": {
                "application/json": {"schema": PickupPointsSchema},
                "application/geo+json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "enum": ["FeatureCollection"]},
                            "features": {"type": "array", "items": {"type": "object"}},
                        },
                    }
                },
            }
        }
    }
}
