"""OGC API - Features Part 1 (Core, GeoJSON) at ``/ogc`` (DESIGN §4.8), for GIS clients
such as QGIS and GDAL's OAPIF driver. Thin views over app/services/features.py.

Every response's links carry ``rel`` and ``type``; hrefs are absolute, built from the
request's own host. ``limit`` above MAX_OGC_ITEMS is clamped to it, as the standard
prescribes (7.15.3: "the server SHALL ... limit the number of items"), and the page says
what it holds (``numberReturned``) and what matched (``numberMatched``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import url_for
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api.common import GEOJSON, cursors, json_response, problem_responses
from app.api.inputs import BBox, Blueprint, Integer, StrictSchema, Text
from app.extensions import db
from app.limits import DEFAULT_OGC_ITEMS, MAX_CURSOR_LENGTH, MAX_OGC_ITEMS
from app.services import features

JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
COLLECTION = "<any(locations, service_areas):collection_id>"
LOCATION_PROPERTIES = (
    "external_id",
    "name",
    "brand",
    "kind",
    "status",
    "address_line1",
    "city",
    "region",
    "postcode",
    "country",
    "capabilities",
    "opening_hours",
    "timezone",
)

bp = Blueprint(
    "ogc", __name__, url_prefix="/ogc", description="OGC API - Features (Part 1, Core, GeoJSON)"
)


# -- schemas (documentation; the views serialise plain dicts) ---------------------------


class LinkSchema(Schema):
    href = fields.String(required=True)
    rel = fields.String(required=True)
    type = fields.String()
    title = fields.String()


class LandingPageSchema(Schema):
    title = fields.String()
    description = fields.String()
    links = fields.List(fields.Nested(LinkSchema), required=True)


class ConformanceSchema(Schema):
    conformsTo = fields.List(fields.String(), required=True)  # noqa: N815 (the standard's name)


class CollectionSchema(Schema):
    id = fields.String(required=True)
    title = fields.String()
    description = fields.String()
    itemType = fields.String()  # noqa: N815
    crs = fields.List(fields.String())
    extent = fields.Dict()
    links = fields.List(fields.Nested(LinkSchema), required=True)


class CollectionsSchema(Schema):
    links = fields.List(fields.Nested(LinkSchema), required=True)
    collections = fields.List(fields.Nested(CollectionSchema), required=True)


class FeatureSchema(Schema):
    type = fields.String(validate=validate.Equal("Feature"))
    id = fields.Raw()
    geometry = fields.Dict()
    properties = fields.Dict()
    links = fields.List(fields.Nested(LinkSchema))


class ItemsSchema(Schema):
    type = fields.String(validate=validate.Equal("FeatureCollection"))
    features = fields.List(fields.Nested(FeatureSchema))
    links = fields.List(fields.Nested(LinkSchema))
    timeStamp = fields.String()  # noqa: N815
    numberMatched = fields.Integer()  # noqa: N815
    numberReturned = fields.Integer()  # noqa: N815


class ItemsQuery(StrictSchema):
    limit = Integer(
        load_default=DEFAULT_OGC_ITEMS,
        validate=validate.Range(min=1),
        metadata={
            "description": f"Features per page (default {DEFAULT_OGC_ITEMS}); above"
            f" {MAX_OGC_ITEMS} it is clamped to {MAX_OGC_ITEMS}."
        },
    )
    bbox = BBox(
        metadata={
            "description": "minLon,minLat,maxLon,maxLat (CRS84): features that intersect it;"
            " minLon > maxLon crosses the antimeridian."
        }
    )
    cursor = Text(
        max_length=MAX_CURSOR_LENGTH,
        metadata={"description": "Opaque; follow the next and prev links."},
    )


# -- views -----------------------------------------------------------------------------


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> dict:
    link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


def _url(endpoint: str, **values) -> str:
    return url_for(f"ogc.{endpoint}", _external=True, **values)


@bp.route("", endpoint="landing")
class LandingPage(MethodView):
    @bp.response(200, LandingPageSchema)
    @problem_responses(bp, 503)
    def get(self):
        """The landing page: links to the API definition, conformance and collections."""
        return json_response(
            {
                "title": "Pickup-point and store locator",
                "description": "The network's locations and service areas as OGC API - Features.",
                "links": [
                    _link(_url("landing"), "self", JSON, "This document"),
                    _link(
                        url_for("api-docs.openapi_json", _external=True),
                        "service-desc",
                        OPENAPI,
                        "The API definition",
                    ),
                    _link(
                        url_for("api-docs.openapi_swagger_ui", _external=True),
                        "service-doc",
                        "text/html",
                        "The API documentation",
                    ),
                    _link(_url("conformance"), "conformance", JSON, "Conformance classes"),
                    _link(_url("collections"), "data", JSON, "The collections"),
                ],
            }
        )


@bp.route("/conformance", endpoint="conformance")
class Conformance(MethodView):
    @bp.response(200, ConformanceSchema)
    def get(self):
        """The conformance classes implemented: Core, GeoJSON and OpenAPI 3.0."""
        return json_response({"conformsTo": CONFORMANCE})


def _collection_json(name: str) -> dict:
    info = features.collection(name)
    extent = features.extent(db.connection(), name) or (-180.0, -90.0, 180.0, 90.0)
    return {
        "id": name,
        "title": info["title"],
        "description": info["description"],
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [list(extent)], "crs": CRS84}},
        "links": [
            _link(_url("collection", collection_id=name), "self", JSON, info["title"]),
            _link(
                _url("items", collection_id=name), "items", GEOJSON, f"{info['title']} (GeoJSON)"
            ),
        ],
    }


@bp.route("/collections", endpoint="collections")
class Collections(MethodView):
    @bp.response(200, CollectionsSchema)
    @problem_responses(bp, 503)
    def get(self):
        """The collections: locations and service_areas."""
        return json_response(
            {
                "links": [_link(_url("collections"), "self", JSON, "The collections")],
                "collections": [_collection_json(name) for name in features.COLLECTIONS],
            }
        )


@bp.route(f"/collections/{COLLECTION}", endpoint="collection")
class Collection(MethodView):
    @bp.response(200, CollectionSchema)
    @problem_responses(bp, 404, 503)
    def get(self, collection_id):
        """One collection's description, extent and links."""
        return json_response(_collection_json(collection_id))


@bp.route(f"/collections/{COLLECTION}/items", endpoint="items")
class Items(MethodView):
    @bp.query(ItemsQuery)
    @bp.response(200, ItemsSchema, content_type=GEOJSON)
    @problem_responses(bp, 400, 404, 503)
    def get(self, args, collection_id):
        """A page of features in id order, with numberMatched and next/prev links."""
        search = features.FeatureSearch(
            collection=collection_id,
            bbox=args.get("bbox"),
            limit=min(args["limit"], MAX_OGC_ITEMS),
        )
        position = cursors().decode(search, args.get("cursor"), (int, int))
        after = before = None
        if position is not None:
            after, before = (position[0], None) if position[1] > 0 else (None, position[0])
        page = features.items(db.connection(), search, after=after, before=before)

        def page_url(cursor: str | None) -> str:
            query = {"limit": search.limit}
            if search.bbox is not None:
                query["bbox"] = ",".join(repr(v) for v in search.bbox)
            if cursor is not None:
                query["cursor"] = cursor
            return _url("items", collection_id=collection_id, **query)

        links = [
            _link(page_url(args.get("cursor")), "self", GEOJSON, "This page"),
            _link(_url("collection", collection_id=collection_id), "collection", JSON),
        ]
        if page.next_after is not None:
            next_cursor = cursors().encode(search, (page.next_after, 1))
            links.append(_link(page_url(next_cursor), "next", GEOJSON, "Next page"))
        if page.prev_before is not None:
            prev_cursor = cursors().encode(search, (page.prev_before, -1))
            links.append(_link(page_url(prev_cursor), "prev", GEOJSON, "Previous page"))
        return json_response(
            {
                "type": "FeatureCollection",
                "features": [_feature(collection_id, row) for row in page.rows],
                "links": links,
                "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "numberMatched": page.number_matched,
                "numberReturned": len(page.rows),
            },
            GEOJSON,
        )


@bp.route(f"/collections/{COLLECTION}/items/<string:feature_id>", endpoint="item")
class Item(MethodView):
    @bp.response(200, FeatureSchema, content_type=GEOJSON)
    @problem_responses(bp, 404, 503)
    def get(self, collection_id, feature_id):
        """One feature: a location by its external_id, a service area by its id."""
        row = features.item(db.connection(), collection_id, feature_id)
        feature = _feature(collection_id, row)
        feature["links"] = [
            _link(
                _url("item", collection_id=collection_id, feature_id=str(feature["id"])),
                "self",
                GEOJSON,
            ),
            _link(_url("collection", collection_id=collection_id), "collection", JSON),
        ]
        return json_response(feature, GEOJSON)


def _feature(collection_id: str, row: dict) -> dict:
    """A row as a GeoJSON Feature: [lon, lat], counterclockwise rings, no crs member."""
    if collection_id == "locations":
        return {
            "type": "Feature",
            "id": row["external_id"],
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
            "properties": {name: row[name] for name in LOCATION_PROPERTIES},
        }
    properties = {k: v for k, v in row.items() if k not in ("id", "geometry")}
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": row["geometry"],
        "properties": properties,
    }
