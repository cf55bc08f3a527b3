"""JSON API v1 for checkout flows. Each view parses, calls one service, and serialises."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask.views import MethodView

from app.api import schemas
from app.api.common import GEOJSON, cursors, json_response, problem_responses
from app.api.inputs import Blueprint
from app.api.serialize import feature_collection, location_json, served_json
from app.errors import NotFound
from app.extensions import db
from app.geo import metres_to_degrees
from app.geocoding import external_geocoder_from_config, geocode
from app.models import KINDS, SERVICE_AREA_MODES, STATUSES
from app.services import coverage, locations, planning, roads
from app.services.origins import resolve_origin
from app.services.pickup import PickupSearch, find_pickup_points

bp = Blueprint(
    "api_v1", __name__, url_prefix="/api/v1", description="Pickup points, locations, geocoding"
)


def _document_errors(*statuses: int):
    return problem_responses(bp, *statuses)


def _wants_geojson(args: dict) -> bool:
    if "format" in args:
        return args["format"] == "geojson"
    return request.accept_mimetypes.best_match(["application/json", GEOJSON]) == GEOJSON


def _external_geocoder():
    return external_geocoder_from_config(current_app.config)


def _origin(args: dict):
    return resolve_origin(
        db.connection(),
        lat=args.get("lat"),
        lon=args.get("lon"),
        q=args.get("q"),
        external=_external_geocoder(),
    )


def _modes(args: dict) -> list[str]:
    """The modes asked for, in the canonical order; none means every mode."""
    asked = set(args.get("mode") or SERVICE_AREA_MODES)
    return [mode for mode in SERVICE_AREA_MODES if mode in asked]


@bp.route("/pickup-points")
class PickupPoints(MethodView):
    @bp.query(schemas.PickupPointsQuery)
    @bp.response(200, schemas.PickupPointsSchema)
    @bp.doc(**schemas.PICKUP_POINTS_CONTENT)
    @_document_errors(400, 404, 422, 503)
    def get(self, args):
        """Nearest active pickup points, nearest first by geodesic distance.

        Give the origin as lat/lon or as q (geocoded). Results carry distance_m and
        is_open/next_change at open_at (now by default). Paging: pass next_cursor back
        as cursor. Send Accept: application/geo+json or format=geojson for GeoJSON.
        rank=travel_time orders them by car travel time instead (one page).
        """
        origin = _origin(args)
        search = PickupSearch(
            lat=origin.lat,
            lon=origin.lon,
            radius_m=args["radius"],
            kinds=frozenset(args.get("kind") or KINDS),
            capabilities=frozenset(args.get("capability", ())),
            open_at=args.get("open_at"),
            open_now=bool(args.get("open_now")),
            limit=args["limit"],
        )
        after = cursors().decode(search, args.get("cursor"), (float, int))
        if args.get("rank") == "travel_time":
            page = roads.pickup_points_by_travel_time(db.connection(), search)
        else:
            page = find_pickup_points(db.connection(), search, after)
        results = [location_json(row) for row in page.results]
        next_cursor = cursors().encode(search, page.next_after) if page.next_after else None
        if _wants_geojson(args):
            body = feature_collection(results, origin=origin.as_dict(), next_cursor=next_cursor)
            return json_response(body, GEOJSON)
        return json_response(
            {"origin": origin.as_dict(), "results": results, "next_cursor": next_cursor}
        )


@bp.route("/locations")
class Locations(MethodView):
    @bp.query(schemas.LocationsQuery)
    @bp.response(200, schemas.LocationPageSchema)
    @_document_errors(400, 503)
    def get(self, args):
        """All locations of every kind and status, by id, with filters, bbox and paging."""
        search = locations.LocationSearch(
            kinds=frozenset(args.get("kind") or KINDS),
            capabilities=frozenset(args.get("capability", ())),
            statuses=frozenset(args.get("status") or STATUSES),
            bbox=args.get("bbox"),
            limit=args["limit"],
        )
        after = cursors().decode(search, args.get("cursor"), (int,))
        page = locations.list_locations(db.connection(), search, after)
        next_cursor = cursors().encode(search, page.next_after) if page.next_after else None
        return json_response(
            {"results": [location_json(row) for row in page.results], "next_cursor": next_cursor}
        )


@bp.route("/locations/<string:external_id>")
class LocationDetail(MethodView):
    @bp.response(200, schemas.LocationSchema)
    @_document_errors(404, 503)
    def get(self, external_id):
        """One location by its external_id (the retailer's own key)."""
        return json_response(location_json(locations.get_location(db.connection(), external_id)))


@bp.route("/geocode")
class Geocode(MethodView):
    @bp.query(schemas.GeocodeQuery)
    @bp.response(200, schemas.GeocodeSchema)
    @_document_errors(400, 404, 503)
    def get(self, args):
        """Candidate positions for a postcode or place name, best first, typo-tolerant.

        An ambiguous query (several equally good candidates) returns them all with
        ambiguous=true; no match is a 404 problem.
        """
        result = geocode(db.connection(), args["q"], args["limit"], external=_external_geocoder())
        if not result.candidates:
            raise NotFound(
                f"no place or postcode matches {args['q']!r}",
                field="q",
                message="no match in the gazetteer",
            )
        return json_response(
            {
                "query": result.query,
                "ambiguous": result.ambiguous,
                "candidates": [c.as_dict() for c in result.candidates],
            }
        )


# -- coverage -----------------------------------------------------------------------


@bp.route("/coverage")
class Coverage(MethodView):
    @bp.query(schemas.CoverageQuery)
    @bp.response(200, schemas.CoverageSchema)
    @_document_errors(400, 404, 422, 503)
    def get(self, args):
        """Which locations serve this point, per mode, nearest first.

        A point on an area's edge or vertex is served. Give lat/lon or q.
        """
        origin = _origin(args)
        [answer] = coverage.served_by(
            db.connection(), [(origin.lon, origin.lat)], _modes(args), args["limit"]
        )
        return json_response({"origin": origin.as_dict(), **served_json(answer)})


@bp.route("/coverage/batch")
class CoverageBatch(MethodView):
    @bp.body(schemas.CoverageBatchBody)
    @bp.response(200, schemas.CoverageBatchSchema)
    @_document_errors(400, 413, 415, 503)
    def post(self, body):
        """The same as GET /coverage for many points, answered in one database query.

        At most COVERAGE_BATCH_MAX points (default 1000); a larger body is refused with
        413 before it is read.
        """
        points = body["points"]
        answers = coverage.served_by(
            db.connection(), [(p["lon"], p["lat"]) for p in points], _modes(body), body["limit"]
        )
        results = [
            {"id": p.get("id"), "lat": p["lat"], "lon": p["lon"], **served_json(answer)}
            for p, answer in zip(points, answers, strict=True)
        ]
        return json_response({"results": results})


@bp.route("/service-areas")
class ServiceAreas(MethodView):
    @bp.query(schemas.ServiceAreasQuery)
    @bp.response(200, schemas.ServiceAreaPageSchema, content_type=GEOJSON)
    @_document_errors(400, 503)
    def get(self, args):
        """Service areas by id as a GeoJSON FeatureCollection, optionally simplified.

        numberMatched says how many match; while more remain, next_cursor (and the
        rel=next link) gives the next page. Exterior rings are counterclockwise.
        """
        search = coverage.ServiceAreaSearch(
            location_external_id=args.get("location_id"),
            modes=tuple(_modes(args)),
            bbox=args.get("bbox"),
            simplify_m=args["simplify"],
            limit=args["limit"],
        )
        after = cursors().decode(search, args.get("cursor"), (int,))
        page = coverage.service_areas(db.connection(), search, after)
        next_cursor = cursors().encode(search, page.next_after) if page.next_after else None
        links = []
        if next_cursor:
            query = request.args.to_dict(flat=False) | {"cursor": [next_cursor]}
            href = url_for("api_v1.ServiceAreas", _external=True, **query)
            links.append({"href": href, "rel": "next", "type": GEOJSON})
        body = {
            "type": "FeatureCollection",
            "features": page.features,
            "numberMatched": page.number_matched,
            "numberReturned": len(page.features),
            "next_cursor": next_cursor,
            "links": links,
        }
        return json_response(body, GEOJSON)


@bp.route("/coverage/summary")
class CoverageSummary(MethodView):
    @bp.query(schemas.CoverageSummaryQuery)
    @bp.response(200, schemas.CoverageSummarySchema)
    @_document_errors(400, 404, 503)
    def get(self, args):
        """Per mode: the covered share of a region or bbox, its gaps, and its overlaps.

        Areas are geodesic (WGS84 ellipsoid), in square metres. With `demand` (a demand
        set), each mode also says how much of its weight is covered, and where the
        uncovered demand lies (see /planning/demand).
        """
        target = {
            "region_id": args.get("region"),
            "bbox": args.get("bbox"),
            "modes": _modes(args),
            "simplify_deg": metres_to_degrees(args["simplify"]),
        }
        if "demand" in args:
            modes = planning.summary_with_demand(
                db.connection(),
                **target,
                demand=args["demand"],
                timeout_ms=current_app.config["PLANNING_STATEMENT_TIMEOUT_MS"],
            )
        else:
            modes = coverage.summary(db.connection(), **target)
        return json_response(
            {"region": args.get("region"), "bbox": args.get("bbox"), "modes": modes}
        )
