"""Request and response schemas: they validate input and generate the OpenAPI document.

Numbers in query strings go through app.geo's strict parser, the one coordinate parser:
Python's float() would accept "NaN", "inf", "1e999" and "1_0".
"""

from __future__ import annotations

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from app.geo import InvalidValue, parse_latitude, parse_longitude, parse_number
from app.models import CAPABILITIES, KINDS, SERVICE_AREA_MODES, STATUSES
from app.pickup import DEFAULT_RADIUS_M

MAX_RADIUS_M = 1_000_000
MAX_PICKUP_LIMIT = 100
DEFAULT_PICKUP_LIMIT = 10
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


class StrictNumber(fields.Float):
    """A finite decimal number: no NaN, infinity, underscores or hex."""

    parser = staticmethod(parse_number)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.parser(value)
        except InvalidValue as error:
            raise ValidationError(str(error)) from error


class Latitude(StrictNumber):
    parser = staticmethod(parse_latitude)


class Longitude(StrictNumber):
    parser = staticmethod(parse_longitude)


class CleanString(fields.String):
    """Text without control characters: PostgreSQL refuses NUL, and none belong here."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise ValidationError("must not contain control characters")
        return text


class StrictInteger(fields.Integer):
    """A whole number written plainly ("10", not "1e1", "10.0" or "1_0")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not value.strip().lstrip("+-").isdigit():
            raise ValidationError("must be a whole number")
        return int(value)


class BBox(fields.String):
    """minLon,minLat,maxLon,maxLat; minLon > maxLon means the box crosses the antimeridian."""

    def _deserialize(self, value, attr, data, **kwargs):
        parts = str(value).split(",")
        if len(parts) != 4:
            raise ValidationError("must be minLon,minLat,maxLon,maxLat")
        try:
            min_lon, max_lon = parse_longitude(parts[0]), parse_longitude(parts[2])
            min_lat, max_lat = parse_latitude(parts[1]), parse_latitude(parts[3])
        except InvalidValue as error:
            raise ValidationError(str(error)) from error
        if min_lat > max_lat:
            raise ValidationError("minLat must not be greater than maxLat")
        return (min_lon, min_lat, max_lon, max_lat)


def _kind_list():
    return fields.List(
        fields.String(validate=validate.OneOf(KINDS)),
        metadata={"description": f"Repeatable. One of: {', '.join(KINDS)}."},
    )


def _capability_list():
    return fields.List(
        fields.String(validate=validate.OneOf(CAPABILITIES)),
        metadata={
            "description": "Repeatable; all must be present (AND). "
            f"One of: {', '.join(CAPABILITIES)}."
        },
    )


class StrictQuery(Schema):
    """Unknown parameters are refused, so a typo never silently widens a search."""

    class Meta:
        unknown = RAISE


class OriginQuery(StrictQuery):
    lat = Latitude(metadata={"description": "Latitude of the origin, WGS84 degrees (-90..90)."})
    lon = Longitude(metadata={"description": "Longitude of the origin, WGS84 degrees (-180..180)."})
    q = CleanString(
        validate=validate.Length(min=1, max=200),
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


class PickupPointsQuery(OriginQuery):
    radius = StrictNumber(
        load_default=DEFAULT_RADIUS_M,
        validate=validate.Range(min=1, max=MAX_RADIUS_M),
        metadata={"description": f"Search radius in geodesic metres (1..{MAX_RADIUS_M})."},
    )
    limit = StrictInteger(
        load_default=DEFAULT_PICKUP_LIMIT,
        validate=validate.Range(min=1, max=MAX_PICKUP_LIMIT),
        metadata={"description": f"Results per page (1..{MAX_PICKUP_LIMIT})."},
    )
    kind = _kind_list()
    capability = _capability_list()
    open_at = fields.AwareDateTime(
        format="iso",
        metadata={"description": "Only locations open at this ISO 8601 time (with offset)."},
    )
    open_now = fields.Boolean(
        metadata={"description": "true: only locations open now."},
        truthy={"true", "1"},
        falsy={"false", "0"},
    )
    cursor = CleanString(
        validate=validate.Length(max=1000),
        metadata={"description": "Opaque: the next_cursor of the previous page."},
    )
    format = fields.String(
        validate=validate.OneOf(["json", "geojson"]),
        metadata={"description": "geojson: a FeatureCollection (or Accept: application/geo+json)."},
    )

    @validates_schema
    def one_time(self, data, **kwargs):
        if data.get("open_now") and "open_at" in data:
            raise ValidationError("give open_at or open_now=true, not both", "open_now")


class LocationsQuery(StrictQuery):
    kind = _kind_list()
    capability = _capability_list()
    status = fields.List(
        fields.String(validate=validate.OneOf(STATUSES)),
        metadata={"description": "Repeatable. Default: every status."},
    )
    bbox = BBox(
        metadata={
            "description": "minLon,minLat,maxLon,maxLat (WGS84). minLon > maxLon crosses "
            "the antimeridian."
        }
    )
    limit = StrictInteger(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"Results per page (1..{MAX_PAGE_SIZE})."},
    )
    cursor = CleanString(
        validate=validate.Length(max=1000),
        metadata={"description": "Opaque: the next_cursor of the previous page."},
    )


class GeocodeQuery(StrictQuery):
    q = CleanString(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "A US postcode, or a place name (optionally 'name, ST')."},
    )
    limit = StrictInteger(load_default=5, validate=validate.Range(min=1, max=20))


MAX_SIMPLIFY_M = 10_000
MAX_SERVICE_AREAS = 5_000


def _mode_list(description: str):
    return fields.List(
        fields.String(validate=validate.OneOf(SERVICE_AREA_MODES)),
        metadata={"description": f"{description} One of: {', '.join(SERVICE_AREA_MODES)}."},
    )


def _simplify():
    return StrictNumber(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_SIMPLIFY_M),
        metadata={
            "description": "Simplify geometries for display, tolerance in metres "
            f"(0..{MAX_SIMPLIFY_M}; 0 = exact). Topology is preserved."
        },
    )


def _served_limit():
    return StrictInteger(
        load_default=10,
        validate=validate.Range(min=1, max=MAX_SERVED_BY),
        metadata={"description": f"Nearest serving areas listed per point (1..{MAX_SERVED_BY})."},
    )


MAX_SERVED_BY = 100


class CoverageQuery(OriginQuery):
    mode = _mode_list("Repeatable; default every mode.")
    limit = _served_limit()


class BatchPointSchema(Schema):
    class Meta:
        unknown = RAISE

    id = CleanString(validate=validate.Length(max=128), metadata={"description": "Echoed back."})
    lat = Latitude(required=True)
    lon = Longitude(required=True)


class CoverageBatchBody(Schema):
    class Meta:
        unknown = RAISE

    points = fields.List(
        fields.Nested(BatchPointSchema),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "Up to COVERAGE_BATCH_MAX points (default 1000)."},
    )
    mode = _mode_list("Default every mode.")
    limit = fields.Integer(
        load_default=10,
        strict=True,
        validate=validate.Range(min=1, max=MAX_SERVED_BY),
        metadata={"description": f"Nearest serving areas listed per point (1..{MAX_SERVED_BY})."},
    )


class ServiceAreasQuery(StrictQuery):
    location_id = CleanString(
        validate=validate.Length(min=1, max=128),
        metadata={"description": "The location's external_id."},
    )
    mode = _mode_list("Repeatable; default every mode.")
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (WGS84)."})
    simplify = _simplify()
    limit = StrictInteger(load_default=1000, validate=validate.Range(min=1, max=MAX_SERVICE_AREAS))


class CoverageSummaryQuery(StrictQuery):
    region = CleanString(
        validate=validate.Length(min=1, max=128),
        metadata={"description": "An imported region's region_id (or give bbox)."},
    )
    bbox = BBox(metadata={"description": "minLon,minLat,maxLon,maxLat (or give region)."})
    mode = _mode_list("Repeatable; default every mode.")
    simplify = _simplify()

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


class ModeCoverageSchema(Schema):
    area_m2 = fields.Float(metadata={"description": "Geodesic (WGS84) area of the target."})
    covered_m2 = fields.Float()
    covered_share = fields.Float(metadata={"description": "covered_m2 / area_m2, 0..1"})
    overlap_m2 = fields.Float(metadata={"description": "Covered by two or more locations."})
    locations = fields.Integer()
    uncovered = fields.Dict(metadata={"description": "GeoJSON geometry of the gaps."})
    overlaps = fields.Dict(metadata={"description": "GeoJSON geometry of the overlaps."})


class CoverageSummarySchema(Schema):
    region = fields.String(allow_none=True)
    bbox = fields.List(fields.Float(), allow_none=True)
    modes = fields.Dict(keys=fields.String(), values=fields.Nested(ModeCoverageSchema))


class FeatureCollectionSchema(Schema):
    """A GeoJSON FeatureCollection (RFC 7946)."""

    type = fields.String(validate=validate.Equal("FeatureCollection"))
    features = fields.List(fields.Dict())


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
