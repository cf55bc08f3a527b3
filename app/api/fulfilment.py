"""POST /api/v1/fulfilment/options, and the admin write of one location's stock lines."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.auth import require_scope
from app.api.common import json_response, problem_responses
from app.api.inputs import (
    Blueprint,
    BodySchema,
    Instant,
    Integer,
    Number,
    StrictSchema,
)
from app.api.schemas import OriginBody, OriginSchema, PickupPointSchema
from app.api.serialize import location_json
from app.errors import InvalidInput
from app.extensions import db
from app.geocoding import external_geocoder_from_config
from app.hours import add_open_state
from app.importing import ImportOptions, import_records
from app.limits import (
    CART_MAX_LINES,
    DEFAULT_OPTIONS_LIMIT,
    MAX_LINE_QTY,
    MAX_OPTIONS_LIMIT,
    MAX_RADIUS_M,
    MAX_STOCK_LINES_PER_CALL,
    MIN_LINE_QTY,
    SKU_PATTERN,
)
from app.services import fulfilment
from app.services.origins import resolve_origin
from app.services.pickup import now

bp = Blueprint("api_fulfilment", __name__, url_prefix="/api/v1", description="Fulfilment options")

REASON_CODES = (
    "out_of_stock",
    "temperature",
    "capacity_full",
    "after_cutoff",
    "closed",
    "outside_area",
    "too_slow",
    "not_supplied",
)


def _sku(**kwargs):
    return fields.String(
        validate=validate.Regexp(SKU_PATTERN, error="must be 1-64 of A-Z a-z 0-9 . _ -"),
        metadata={"description": "A product's SKU: 1-64 of A-Z a-z 0-9 . _ -."},
        **kwargs,
    )


class CartLineSchema(StrictSchema):
    sku = _sku(required=True)
    qty = Integer(
        json=True,
        required=True,
        validate=validate.Range(min=MIN_LINE_QTY, max=MAX_LINE_QTY),
        metadata={"description": f"Units ({MIN_LINE_QTY}..{MAX_LINE_QTY})."},
    )


def each_sku_once(lines: list[dict]) -> None:
    seen: dict[str, int] = {}
    errors = {}
    for index, line in enumerate(lines):
        first = seen.setdefault(line["sku"], index)
        if first != index:
            errors[index] = {"sku": [f"the same SKU as cart[{first}]; give each SKU once"]}
    if errors:
        raise ValidationError(errors, "cart")


class OptionsBody(BodySchema, OriginBody):
    """The cart, the origin (lat/lon or q, as every endpoint takes it) and the moment."""

    # Past the cap of 50 lines a cart is a 400 naming the line count; far past it (a
    # body of thousands), refused before any line is validated.
    LIST_CAPS = {"cart": 40 * CART_MAX_LINES, "modes": 3 * len(fulfilment.MODES)}

    cart = fields.List(
        fields.Nested(CartLineSchema),
        required=True,
        validate=validate.Length(min=1, max=CART_MAX_LINES),
        metadata={"description": f"1..{CART_MAX_LINES} lines, each SKU once."},
    )
    at = Instant(
        metadata={
            "description": "When the order is placed (ISO 8601 with offset; default now), "
            "between a day ago and 60 days ahead."
        }
    )
    modes = fields.List(
        fields.String(validate=validate.OneOf(fulfilment.MODES)),
        validate=validate.Length(min=1),
        metadata={"description": "Default: pickup, express and delivery."},
    )
    radius = Number(
        json=True,
        validate=validate.Range(min=1, max=MAX_RADIUS_M),
        metadata={"description": f"Geodesic metres (1..{MAX_RADIUS_M}); default 25000."},
    )
    limit = Integer(
        json=True,
        load_default=DEFAULT_OPTIONS_LIMIT,
        validate=validate.Range(min=1, max=MAX_OPTIONS_LIMIT),
        metadata={"description": f"Options, and exclusions, at most (1..{MAX_OPTIONS_LIMIT})."},
    )

    @validates_schema
    def skus_once(self, data, **kwargs):
        each_sku_once(data.get("cart", []))


# -- response documentation ----------------------------------------------------------


class SuppliedFromSchema(Schema):
    external_id = fields.String()
    name = fields.String()


class OptionSchema(Schema):
    mode = fields.String(validate=validate.OneOf(fulfilment.MODES))
    source = fields.String(validate=validate.OneOf(["stock", "transfer"]))
    location = fields.Nested(PickupPointSchema)
    supplied_from = fields.Nested(SuppliedFromSchema, allow_none=True)
    ready_at = fields.String(metadata={"description": "ISO 8601, the location's timezone."})
    arrive_by = fields.String(allow_none=True, metadata={"description": "Express only."})
    distance_m = fields.Float()
    duration_s = fields.Float(
        allow_none=True,
        metadata={
            "description": "Seconds of travel: express, the trip to the origin; a transfer, "
            "the supply run (by road when a network covers both ends, else the "
            "geodesic estimate or lead_minutes); else null."
        },
    )
    hours_unknown = fields.Boolean()


class ReasonSchema(Schema):
    code = fields.String(validate=validate.OneOf(REASON_CODES))
    skus = fields.List(fields.String(), metadata={"description": "out_of_stock only."})
    needs = fields.String(metadata={"description": "temperature only: the capability."})


class ExcludedLocationSchema(Schema):
    external_id = fields.String()
    name = fields.String()
    kind = fields.String()
    distance_m = fields.Float()


class ExclusionSchema(Schema):
    location = fields.Nested(ExcludedLocationSchema)
    mode = fields.String(validate=validate.OneOf(fulfilment.MODES))
    reasons = fields.List(fields.Nested(ReasonSchema))


class CartProductSchema(Schema):
    sku = fields.String()
    qty = fields.Integer()
    name = fields.String(metadata={"description": "The product's name, to show the line."})
    temperature = fields.String(validate=validate.OneOf(["ambient", "chilled", "frozen"]))


class OptionsSchema(Schema):
    origin = fields.Nested(OriginSchema)
    at = fields.String()
    cart = fields.List(
        fields.Nested(CartProductSchema),
        metadata={"description": "The cart's lines in the order given, with their products."},
    )
    options = fields.List(fields.Nested(OptionSchema))
    options_total = fields.Integer()
    excluded = fields.List(fields.Nested(ExclusionSchema))
    excluded_total = fields.Integer()


def _instant(site: fulfilment.Site, moment):
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(site.timezone)).isoformat()


def option_json(option: fulfilment.Option, at) -> dict:
    site = option.site
    supplier = option.supplied_from
    return {
        "mode": option.mode,
        "source": option.source,
        "location": location_json(add_open_state(dict(site.row), at)),
        "supplied_from": (
            {"external_id": supplier.external_id, "name": supplier.name} if supplier else None
        ),
        "ready_at": _instant(site, option.ready_at),
        "arrive_by": _instant(site, option.arrive_by),
        "distance_m": round(site.distance_m, 1),
        "duration_s": None if option.duration_s is None else round(option.duration_s, 1),
        "hours_unknown": site.hours_unknown,
    }


def _exclusion_json(exclusion: fulfilment.Exclusion) -> dict:
    site = exclusion.site
    return {
        "location": {
            "external_id": site.external_id,
            "name": site.name,
            "kind": site.kind,
            "distance_m": round(site.distance_m, 1),
        },
        "mode": exclusion.mode,
        "reasons": list(exclusion.reasons),
    }


def fulfilment_defaults() -> fulfilment.Defaults:
    config = current_app.config
    return fulfilment.Defaults(
        prep_minutes=config["FULFILMENT_DEFAULT_PREP_MINUTES"],
        lead_minutes=config["FULFILMENT_DEFAULT_LEAD_MINUTES"],
        express_promise_minutes=config["EXPRESS_PROMISE_MINUTES"],
    )


@bp.route("/fulfilment/options")
class FulfilmentOptions(MethodView):
    @bp.body(OptionsBody)
    @bp.response(200, OptionsSchema)
    @problem_responses(bp, 400, 404, 413, 415, 422, 503)
    def post(self, body):
        """Where, and by when, this cart can be had: pickup (from stock or after a
        transfer from a warehouse), express and delivery, earliest first.

        Every candidate not offered in a mode is in `excluded` with all its reasons.
        Stock is read from the primary, never from a replica.
        """
        # The primary: a replica's lag must never offer stock that was just held.
        connection = db.primary_connection()
        origin = resolve_origin(
            connection,
            lat=body.get("lat"),
            lon=body.get("lon"),
            q=body.get("q"),
            external=external_geocoder_from_config(current_app.config),
        )
        request = fulfilment.OptionsRequest(
            lat=origin.lat,
            lon=origin.lon,
            cart=tuple(fulfilment.Line(line["sku"], line["qty"]) for line in body["cart"]),
            modes=tuple(m for m in fulfilment.MODES if m in body.get("modes", fulfilment.MODES)),
            radius_m=body.get("radius", current_app.config["FULFILMENT_RADIUS"]),
            limit=body["limit"],
            at=body.get("at"),
        )
        at, result = fulfilment.find_options(
            connection,
            request,
            fulfilment_defaults(),
            current_app.config["EXPRESS_SPEED_KMH"],
            now(),
        )
        return json_response(
            {
                "origin": origin.as_dict(),
                "at": at.isoformat(),
                "cart": [
                    {"sku": line.sku, "qty": line.qty, **result.products[line.sku]}
                    for line in request.cart
                ],
                "options": [option_json(option, at) for option in result.options],
                "options_total": result.options_total,
                "excluded": [_exclusion_json(exclusion) for exclusion in result.excluded],
                "excluded_total": result.excluded_total,
            }
        )


# -- admin: one location's stock ------------------------------------------------------


class StockLineSchema(StrictSchema):
    sku = _sku(required=True)
    on_hand = Integer(
        json=True,
        required=True,
        validate=validate.Range(min=0, max=2**31 - 1),
        metadata={"description": "Units on hand (0 or more)."},
    )


class StockBody(BodySchema):
    MAX_BYTES = MAX_STOCK_LINES_PER_CALL * 128 + 1024
    LIST_CAPS = {"lines": MAX_STOCK_LINES_PER_CALL}

    lines = fields.List(
        fields.Nested(StockLineSchema),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": f"Up to {MAX_STOCK_LINES_PER_CALL} lines, each SKU once."},
    )
    replace = fields.Boolean(
        load_default=True,
        metadata={
            "description": "true (default): these lines are the location's whole stock; "
            "its other SKUs drop to 0. false: upsert these lines only."
        },
    )

    @validates_schema
    def skus_once(self, data, **kwargs):
        each_sku_once(data.get("lines", []))


class StockLinesSchema(Schema):
    location_external_id = fields.String()
    lines = fields.List(fields.Nested(StockLineSchema))


@bp.route("/locations/<string:external_id>/stock")
class LocationStock(MethodView):
    @require_scope("write")
    @bp.body(StockBody)
    @bp.response(200, StockLinesSchema)
    @problem_responses(bp, 400, 401, 403, 404, 413, 415, 503)
    def put(self, body, external_id):
        """Set one location's stock lines, through the import pipeline (all or nothing).

        Answers with the location's stock lines after the write.
        """
        records = [
            (
                {
                    "location_external_id": external_id,
                    "sku": line["sku"],
                    "on_hand": line["on_hand"],
                },
                None,
            )
            for line in body["lines"]
        ]
        with db.transaction() as connection:
            lines = fulfilment.location_stock(connection, external_id)  # 404 when unknown
            report = import_records(
                connection, "stock", records, ImportOptions(replace=body["replace"])
            )
            if not report.applied:
                raise InvalidInput(
                    f"{len(report.rejected)} lines rejected; nothing written",
                    errors=[
                        {"field": f"lines[{r.row - 1}].{r.field}", "message": r.message}
                        for r in report.rejected
                    ],
                )
            lines = fulfilment.location_stock(connection, external_id)
        return json_response({"location_external_id": external_id, "lines": lines})
