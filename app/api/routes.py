"""JSON API v1 for checkout flows. Views parse, call one function, and serialise."""

from __future__ import annotations

import json
import re

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.api import schemas
from app.api.common import json_response, problem_responses
from app.api.errors import ApiError
from app.api.serialize import feature_collection, location_json
from app.extensions import db
from app.geo import bbox_polygon, metres_to_degrees
from app.geocoding import GeocodeResult, external_geocoder_from_config, geocode
from app.hours import add_open_state
from app.models import EXTERNAL_ID_PATTERN, KINDS, SERVICE_AREA_MODES, STATUSES
from app.pickup import (
    InvalidCursor,
    PickupSearch,
    decode_cursor,
    encode_cursor,
    find_pickup_points,
    now,
)
from app.queries.coverage import coverage_of, served_by, service_areas
from app.queries.locations import get_location, list_locations

bp = Blueprint(
    "api_v1", __name__, url_prefix="/api/v1", description="Pickup points, locations, geocoding"
)

GEOJSON = "application/geo+json"
EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)
_json = json_response


def _query(schema):
    """Parse query parameters with ``schema``; unknown parameters are a 400, not ignored.

    One schema instance serves every request: given the class, webargs would build a new
    instance (deep-copying its fields) per request, a quarter of a millisecond on the
    hot path. Loading does not change a schema, so sharing it between threads is safe.
    """
    return bp.arguments(schema(), location="query", as_kwargs=False, unknown=RAISE)


def _document_errors(*statuses: int):
    return problem_responses(bp, *statuses)


def _wants_geojson(args: dict) -> bool:
    if "format" in args:
        return args["format"] == "geojson"
    best = request.accept_mimetypes.best_match(["application/json", GEOJSON])
    return best == GEOJSON


def _cursor_position(args: dict, fingerprint: str) -> tuple[float, int] | None:
    """The (distance, id) a cursor parameter points after; a bad cursor is a 400."""
    if "cursor" not in args:
        return None
    try:
        return decode_cursor(current_app.config["SECRET_KEY"], fingerprint, args["cursor"])
    except InvalidCursor as error:
        raise ApiError(
            400, str(error), errors=[{"field": "cursor", "message": str(error)}]
        ) from error


def _external_geocoder():
    return external_geocoder_from_config(current_app.config)


def _resolve_origin(args: dict) -> dict:
    """The origin as lat/lon, from coordinates or from the geocoder (q)."""
    if "q" not in args:
        return {"lat": args["lat"], "lon": args["lon"], "source": "coordinates", "label": None}
    result = geocode(db.connection(), args["q"], external=_external_geocoder())
    if not result.candidates:
        raise ApiError(
            404,
            f"no place or postcode matches {args['q']!r}",
            title="Origin Not Found",
            errors=[{"field": "q", "message": "no match in the gazetteer"}],
        )
    if result.ambiguous:
        raise ApiError(
            422,
            f"{args['q']!r} matches several places; choose one and search by lat/lon",
            title="Ambiguous Origin",
            errors=[{"field": "q", "message": "ambiguous: see candidates"}],
            extra={"candidates": [c.as_dict() for c in result.candidates]},
        )
    best = result.candidates[0]
    return {"lat": best.lat, "lon": best.lon, "source": "geocoder", "label": best.label}


@bp.route("/pickup-points")
class PickupPoints(MethodView):
    @_query(schemas.PickupPointsQuery)
    @bp.response(200, schemas.PickupPointsSchema)
    @bp.doc(**schemas.PICKUP_POINTS_CONTENT)
    @_document_errors(400, 404, 422, 503)
    def get(self, args):
        """Nearest active pickup points, nearest first by geodesic distance.

        Give the origin as lat/lon or as q (geocoded). Results carry distance_m and
        is_open/next_change at open_at (now by default). Paging: pass next_cursor back
        as cursor. Send Accept: application/geo+json or format=geojson for GeoJSON.
        """
        origin = _resolve_origin(args)
        search = PickupSearch(
            lat=origin["lat"],
            lon=origin["lon"],
            radius_m=args["radius"],
            limit=args["limit"],
            kinds=tuple(sorted(set(args.get("kind") or KINDS))),
            capabilities=tuple(sorted({"pickup", *args.get("capability", [])})),
            at=args.get("open_at") or now(),
            only_open=bool(args.get("open_at") or args.get("open_now")),
        )
        secret = current_app.config["SECRET_KEY"]
        fingerprint = search.fingerprint()
        after = _cursor_position(args, fingerprint)
        page = find_pickup_points(db.connection(), search, after)
        results = [location_json(row) for row in page.results]
        next_cursor = (
            encode_cursor(secret, fingerprint, page.next_after) if page.next_after else None
        )
        if _wants_geojson(args):
            return _json(
                feature_collection(results, origin=origin, next_cursor=next_cursor), GEOJSON
            )
        return _json({"origin": origin, "results": results, "next_cursor": next_cursor})


@bp.route("/locations")
class Locations(MethodView):
    @_query(schemas.LocationsQuery)
    @bp.response(200, schemas.LocationPageSchema)
    @_document_errors(400, 503)
    def get(self, args):
        """All locations of every kind and status, by id, with filters, bbox and paging."""
        secret = current_app.config["SECRET_KEY"]
        fingerprint = "locations"
        after = _cursor_position(args, fingerprint)
        after_id = after[1] if after else None
        rows = list_locations(
            db.connection(),
            kinds=sorted(set(args.get("kind") or KINDS)),
            capabilities=sorted(set(args.get("capability", []))),
            statuses=sorted(set(args.get("status") or STATUSES)),
            bbox=args.get("bbox"),
            limit=args["limit"] + 1,
            after_id=after_id,
        )
        at = now()
        for row in rows:
            add_open_state(row, at)
        page = rows[: args["limit"]]
        next_cursor = (
            encode_cursor(secret, fingerprint, (0.0, page[-1]["id"]))
            if len(rows) > args["limit"]
            else None
        )
        return _json({"results": [location_json(row) for row in page], "next_cursor": next_cursor})


@bp.route("/locations/<string:external_id>")
class LocationDetail(MethodView):
    @bp.response(200, schemas.LocationSchema)
    @_document_errors(404, 503)
    def get(self, external_id):
        """One location by its external_id (the retailer's own key)."""
        # An id that cannot exist (bad characters, NUL) is simply not found.
        row = (
            get_location(db.connection(), external_id)
            if EXTERNAL_ID.fullmatch(external_id)
            else None
        )
        if row is None:
            raise ApiError(404, f"no location with external_id {external_id!r}")
        add_open_state(row, now())
        return _json(location_json(row))


@bp.route("/geocode")
class Geocode(MethodView):
    @_query(schemas.GeocodeQuery)
    @bp.response(200, schemas.GeocodeSchema)
    @_document_errors(400, 404, 503)
    def get(self, args):
        """Candidate positions for a postcode or place name, best first, typo-tolerant.

        An ambiguous query (several equally good candidates) returns them all with
        ambiguous=true; no match is a 404 problem.
        """
        result: GeocodeResult = geocode(
            db.connection(), args["q"], args["limit"], external=_external_geocoder()
        )
        if not result.candidates:
            raise ApiError(
                404,
                f"no place or postcode matches {args['q']!r}",
                errors=[{"field": "q", "message": "no match in the gazetteer"}],
            )
        return _json(
            {
                "query": result.query,
                "ambiguous": result.ambiguous,
                "candidates": [c.as_dict() for c in result.candidates],
            }
        )


# -- coverage -----------------------------------------------------------------------


def _served_json(answer: dict) -> dict:
    return {
        "covered": answer["total"] > 0,
        "modes": answer["modes"],
        "served_by_total": answer["total"],
        "served_by": [
            {**row, "distance_m": round(row["distance_m"], 1)} for row in answer["served_by"]
        ],
    }


@bp.route("/coverage")
class Coverage(MethodView):
    @_query(schemas.CoverageQuery)
    @bp.response(200, schemas.CoverageSchema)
    @_document_errors(400, 404, 422, 503)
    def get(self, args):
        """Which locations serve this point, per mode, nearest first.

        A point on an area's edge or vertex is served. Give lat/lon or q.
        """
        origin = _resolve_origin(args)
        modes = sorted(set(args.get("mode") or SERVICE_AREA_MODES))
        [answer] = served_by(
            db.connection(), [(origin["lon"], origin["lat"])], modes, args["limit"]
        )
        return _json({"origin": origin, **_served_json(answer)})


@bp.route("/coverage/batch")
class CoverageBatch(MethodView):
    @bp.arguments(schemas.CoverageBatchBody(), as_kwargs=False, unknown=RAISE)
    @bp.response(200, schemas.CoverageBatchSchema)
    @_document_errors(400, 413, 503)
    def post(self, body):
        """The same as GET /coverage for many points, answered in one database query."""
        points = body["points"]
        limit = current_app.config["COVERAGE_BATCH_MAX"]
        if len(points) > limit:
            raise ApiError(
                413,
                f"{len(points)} points; at most {limit} per call",
                errors=[{"field": "points", "message": f"at most {limit} points"}],
            )
        modes = sorted(set(body.get("mode") or SERVICE_AREA_MODES))
        answers = served_by(
            db.connection(), [(p["lon"], p["lat"]) for p in points], modes, body["limit"]
        )
        results = [
            {"id": p.get("id"), "lat": p["lat"], "lon": p["lon"], **_served_json(answer)}
            for p, answer in zip(points, answers, strict=True)
        ]
        return _json({"results": results})


@bp.route("/service-areas")
class ServiceAreas(MethodView):
    @_query(schemas.ServiceAreasQuery)
    @bp.response(200, schemas.FeatureCollectionSchema, content_type=GEOJSON)
    @_document_errors(400, 503)
    def get(self, args):
        """Service areas as a GeoJSON FeatureCollection, optionally simplified for display."""
        bbox = args.get("bbox")
        rows = service_areas(
            db.connection(),
            location_external_id=args.get("location_id"),
            modes=sorted(set(args.get("mode") or SERVICE_AREA_MODES)),
            bbox_wkb=bbox_polygon(bbox).wkb if bbox else None,
            simplify_deg=metres_to_degrees(args["simplify"]),
            limit=args["limit"],
        )
        features = [
            {
                "type": "Feature",
                "id": row.pop("id"),
                "geometry": json.loads(row.pop("geometry")),
                "properties": row,
            }
            for row in rows
        ]
        return _json({"type": "FeatureCollection", "features": features}, GEOJSON)


@bp.route("/coverage/summary")
class CoverageSummary(MethodView):
    @_query(schemas.CoverageSummaryQuery)
    @bp.response(200, schemas.CoverageSummarySchema)
    @_document_errors(400, 404, 503)
    def get(self, args):
        """Per mode: the covered share of a region or bbox, its gaps, and its overlaps.

        Areas are geodesic (WGS84 ellipsoid), in square metres.
        """
        bbox = args.get("bbox")
        modes = {}
        for mode in sorted(set(args.get("mode") or SERVICE_AREA_MODES)):
            row = coverage_of(
                db.connection(),
                region_id=args.get("region"),
                bbox_wkb=bbox_polygon(bbox).wkb if bbox else None,
                mode=mode,
                simplify_deg=metres_to_degrees(args["simplify"]),
            )
            if row is None:
                raise ApiError(
                    404,
                    f"no region {args['region']!r}",
                    errors=[{"field": "region", "message": "unknown region_id"}],
                )
            modes[mode] = {
                "area_m2": row["total_m2"],
                "covered_m2": row["covered_m2"],
                # min(): the union's and the target's areas are computed separately.
                "covered_share": min(1.0, row["covered_m2"] / row["total_m2"])
                if row["total_m2"]
                else 0.0,
                "overlap_m2": row["overlap_m2"],
                "locations": row["locations"],
                "uncovered": json.loads(row["uncovered"]),
                "overlaps": json.loads(row["overlaps"]),
            }
        return _json({"region": args.get("region"), "bbox": bbox, "modes": modes})
