"""Vector tiles: ``/tiles/{layer}/{z}/{x}/{y}.mvt`` (DESIGN §4.8), thin views over
app/services/tiles.py.

z, x and y are taken as written: ASCII digits in canonical form ("7", never "07", "+7",
"7.0" or "٧"), so each tile has one URL and caches hold one copy of it. A coordinate that
is not such a number is a 400; a tile outside the grid, a 404; both name the field.
"""

from __future__ import annotations

import re

from flask import current_app, request
from flask.views import MethodView

from app.api.common import problem_responses
from app.api.inputs import Blueprint, StrictSchema, choices
from app.errors import InvalidInput
from app.extensions import db
from app.limits import MAX_TILE_ZOOM, TILE_MAX_AGE_S
from app.models import SERVICE_AREA_MODES
from app.services import tiles

MVT = "application/vnd.mapbox-vector-tile"
_CANONICAL_INTEGER = re.compile(r"0|[1-9][0-9]{0,9}", re.ASCII)

bp = Blueprint(
    "tiles",
    __name__,
    url_prefix="/tiles",
    description="Mapbox Vector Tiles of the network (Web Mercator grid)",
)

_TILE_PARAMETERS = [
    {
        "in": "path",
        "name": "z",
        "description": f"Zoom, 0..{MAX_TILE_ZOOM}.",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TILE_ZOOM},
    },
    {
        "in": "path",
        "name": "x",
        "description": "Column, 0..2^z - 1.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "in": "path",
        "name": "y",
        "description": "Row from the north, 0..2^z - 1.",
        "schema": {"type": "integer", "minimum": 0},
    },
]


class LocationTileQuery(StrictSchema):
    """No parameters: an unknown one is refused rather than cached under a second URL."""


class ServiceAreaTileQuery(StrictSchema):
    mode = choices(SERVICE_AREA_MODES, "Repeatable. Default: every mode.")


def _coordinate(name: str, value: str) -> int:
    if not _CANONICAL_INTEGER.fullmatch(value):
        raise InvalidInput(
            f"{name} must be a whole number",
            field=name,
            message="must be a non-negative whole number in ASCII digits, without leading zeros",
        )
    return int(value)


def _tile_response(tile: tiles.TileRequest):
    """The tile, or 304 when the caller's copy (If-None-Match) is still the current one."""
    connection = db.connection()
    if request.if_none_match:
        etag = tiles.etag(connection, tile)
        if request.if_none_match.contains(etag):
            return current_app.response_class(status=304, headers=_cache_headers(etag))
    etag, body = tiles.render(connection, tile)
    return current_app.response_class(body, mimetype=MVT, headers=_cache_headers(etag))


def _cache_headers(etag: str) -> dict[str, str]:
    return {"ETag": f'"{etag}"', "Cache-Control": f"public, max-age={TILE_MAX_AGE_S}"}


def _documented(view):
    view = bp.response(
        200,
        content_type=MVT,
        description="The tile (empty when nothing is in it), with ETag and Cache-Control.",
    )(view)
    view = bp.alt_response(304, description="Not modified: the If-None-Match ETag is current.")(
        view
    )
    return problem_responses(bp, 400, 404, 503)(view)


@bp.route("/locations/<z>/<x>/<y>.mvt", parameters=_TILE_PARAMETERS)
class LocationTile(MethodView):
    @bp.query(LocationTileQuery)
    @_documented
    def get(self, args, z, x, y):
        """Locations: from zoom 12 each one (id, external_id, name, kind, status, hours,
        capabilities); below
        it, clusters on a 64 x 64 grid per tile with their ``count`` (a cluster of one
        carries that location's attributes)."""
        return _tile_response(tiles.TileRequest("locations", *_zxy(z, x, y)))


@bp.route("/service_areas/<z>/<x>/<y>.mvt", parameters=_TILE_PARAMETERS)
class ServiceAreaTile(MethodView):
    @bp.query(ServiceAreaTileQuery)
    @_documented
    def get(self, args, z, x, y):
        """Service areas (id, mode, location, location_name), simplified to about a pixel
        at each zoom; areas smaller than a pixel are left out."""
        asked = set(args.get("mode") or SERVICE_AREA_MODES)
        modes = tuple(mode for mode in SERVICE_AREA_MODES if mode in asked)
        return _tile_response(tiles.TileRequest("service_areas", *_zxy(z, x, y), modes=modes))


def _zxy(z: str, x: str, y: str) -> tuple[int, int, int]:
    return _coordinate("z", z), _coordinate("x", x), _coordinate("y", y)
