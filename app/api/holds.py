"""Holds and orders (DESIGN §4.6): POST /api/v1/fulfilment/holds and what follows a hold.

Every call needs an admin token with the ``orders`` scope (a checkout backend's). A
hold is made under the caller's ``Idempotency-Key``: the same key with the same body
answers with the same hold (``Idempotent-Replayed: true``), also after a timeout, so a
checkout that did not hear the answer simply sends the request again.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.auth import require_scope
from app.api.common import json_response, problem_responses
from app.api.fulfilment import (
    CartLineSchema,
    OptionSchema,
    ReasonSchema,
    each_sku_once,
    fulfilment_defaults,
    option_json,
)
from app.api.inputs import Blueprint, BodySchema, Latitude, Longitude
from app.api.schemas import OriginSchema, ProblemSchema
from app.errors import InvalidInput
from app.extensions import db
from app.limits import CART_MAX_LINES, EXTERNAL_ID_PATTERN
from app.services import fulfilment, holds
from app.services.pickup import now

bp = Blueprint("api_holds", __name__, url_prefix="/api/v1", description="Holds and orders")

IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"
IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
IDEMPOTENCY_KEY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "description": "The caller's key for this hold (1-255 visible ASCII characters): the "
    "same key with the same body gives the same hold; with another body, a 422.",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "maxLength": 255},
}


def _external_id(**kwargs):
    return fields.String(
        validate=validate.Regexp(EXTERNAL_ID_PATTERN, error="must be 1-128 of A-Z a-z 0-9 . _ : -"),
        **kwargs,
    )


class HoldBody(BodySchema):
    LIST_CAPS = {"cart": 40 * CART_MAX_LINES}

    location_external_id = _external_id(
        required=True, metadata={"description": "The option's location."}
    )
    mode = fields.String(required=True, validate=validate.OneOf(fulfilment.MODES))
    cart = fields.List(
        fields.Nested(CartLineSchema),
        required=True,
        validate=validate.Length(min=1, max=CART_MAX_LINES),
        metadata={"description": f"1..{CART_MAX_LINES} lines, each SKU once."},
    )
    supplied_from = _external_id(
        metadata={"description": "Pickup after a transfer: the option's warehouse."}
    )
    lat = Latitude(json=True, metadata={"description": "The address (express, delivery)."})
    lon = Longitude(json=True, metadata={"description": "The address (express, delivery)."})

    @validates_schema
    def consistent(self, data, **kwargs):
        each_sku_once(data.get("cart", []))
        if ("lat" in data) != ("lon" in data):
            missing = "lon" if "lat" in data else "lat"
            raise ValidationError("give lat and lon together", missing)
        mode = data.get("mode")
        if mode in ("express", "delivery") and "lat" not in data:
            raise ValidationError(f"{mode} needs the address: lat and lon", "lat")
        if mode != "pickup" and "supplied_from" in data:
            raise ValidationError("only a pickup comes after a transfer", "supplied_from")


class HoldSchema(Schema):
    hold_id = fields.UUID()
    location_external_id = fields.String()
    mode = fields.String(validate=validate.OneOf(fulfilment.MODES))
    source = fields.String(validate=validate.OneOf(["stock", "transfer"]))
    supplied_from = fields.String(allow_none=True)
    ready_at = fields.String(metadata={"description": "ISO 8601, the location's timezone."})
    arrive_by = fields.String(allow_none=True, metadata={"description": "Express only."})
    expires_at = fields.String(metadata={"description": "Unless confirmed by then (UTC)."})


class OrderSchema(Schema):
    order_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(["ordered", "collected"]))
    location_external_id = fields.String()
    mode = fields.String(validate=validate.OneOf(fulfilment.MODES))
    ready_at = fields.String()
    arrive_by = fields.String(allow_none=True)
    collect_by = fields.String(
        metadata={"description": "Its stock is given back if not collected by then (UTC)."}
    )


class HoldConflictSchema(ProblemSchema):
    reasons = fields.List(fields.Nested(ReasonSchema))
    origin = fields.Nested(OriginSchema)
    options = fields.List(
        fields.Nested(OptionSchema), metadata={"description": "What can be had now instead."}
    )


def _local(moment, timezone: str | None):
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(timezone) if timezone else UTC).isoformat()


def _hold_json(hold: dict) -> dict:
    zone = hold["timezone"]
    return {
        "hold_id": str(hold["id"]),
        "location_external_id": hold["location_external_id"],
        "mode": hold["mode"],
        "source": hold["source"],
        "supplied_from": hold["supplied_from_external_id"],
        "ready_at": _local(hold["ready_at"], zone),
        "arrive_by": _local(hold["arrive_by"], zone),
        "expires_at": _local(hold["expires_at"], None),
    }


def _order_json(order: dict) -> dict:
    zone = order["timezone"]
    return {
        "order_id": str(order["id"]),
        "status": order["status"],
        "location_external_id": order["location_external_id"],
        "mode": order["mode"],
        "ready_at": _local(order["ready_at"], zone),
        "arrive_by": _local(order["arrive_by"], zone),
        "collect_by": _local(order["collect_by"], None),
    }


def _policy() -> holds.HoldPolicy:
    config = current_app.config
    return holds.HoldPolicy(
        ttl_s=config["HOLD_TTL_S"],
        pickup_days=config["ORDER_PICKUP_DAYS"],
        defaults=fulfilment_defaults(),
        express_speed_kmh=config["EXPRESS_SPEED_KMH"],
        radius_m=config["FULFILMENT_RADIUS"],
    )


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise InvalidInput(
            "an Idempotency-Key header is required",
            field="Idempotency-Key",
            message="send a key of your own for this hold",
        )
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput(
            "the Idempotency-Key is malformed",
            field="Idempotency-Key",
            message="must be 1-255 visible ASCII characters",
        )
    return key


@bp.route("/fulfilment/holds")
class Holds(MethodView):
    @require_scope("orders")
    @bp.doc(parameters=[IDEMPOTENCY_KEY_HEADER])
    @bp.body(HoldBody)
    @bp.response(201, HoldSchema)
    @bp.alt_response(
        409, schema=HoldConflictSchema, content_type="application/problem+json",
        description="The option cannot be held now: `reasons`, and the `options` there are.",
    )  # fmt: skip
    @problem_responses(bp, 400, 401, 403, 404, 413, 415, 422, 503)
    def post(self, body):
        """Hold a fulfilment option: its stock lines and a unit of the day's capacity.

        The option is checked again with the rules of /fulfilment/options at the
        server's now. The hold lasts HOLD_TTL_S unless confirmed.
        """
        key = _idempotency_key()
        hold_request = holds.HoldRequest(
            location_external_id=body["location_external_id"],
            mode=body["mode"],
            cart=tuple(fulfilment.Line(line["sku"], line["qty"]) for line in body["cart"]),
            supplied_from=body.get("supplied_from"),
            lat=body.get("lat"),
            lon=body.get("lon"),
        )
        try:
            answer = holds.place_hold(db.transaction, hold_request, key, _policy(), now())
        except holds.HoldConflict as conflict:
            conflict.extra = {
                "reasons": conflict.reasons,
                "origin": conflict.origin.as_dict(),
                "options": [option_json(o, conflict.at) for o in conflict.plan.options],
            }
            raise
        response = json_response(_hold_json(answer.hold), status=201)
        if answer.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


@bp.route("/fulfilment/holds/<uuid:hold_id>/confirm")
class ConfirmHold(MethodView):
    @require_scope("orders")
    @bp.response(200, OrderSchema)
    @problem_responses(bp, 401, 403, 404, 409, 503)
    def post(self, hold_id: uuid.UUID):
        """Confirm a hold: it becomes an order (the same id). Confirming again gives the
        same answer; an expired or released hold is a 409."""
        order = holds.confirm(db.transaction, hold_id, _policy(), now())
        return json_response(_order_json(order))


@bp.route("/fulfilment/holds/<uuid:hold_id>")
class Hold(MethodView):
    @require_scope("orders")
    @bp.response(204)
    @problem_responses(bp, 401, 403, 404, 409, 503)
    def delete(self, hold_id: uuid.UUID):
        """Release a hold: its stock and capacity are free at once. A confirmed hold
        (an order) is a 409: cancel the order instead."""
        holds.release(db.transaction, hold_id, now())
        return "", 204


@bp.route("/fulfilment/orders/<uuid:order_id>/collected")
class CollectOrder(MethodView):
    @require_scope("orders")
    @bp.response(200, OrderSchema)
    @problem_responses(bp, 401, 403, 404, 409, 503)
    def post(self, order_id: uuid.UUID):
        """The order was collected: it ends, and its goods leave on_hand."""
        return json_response(_order_json(holds.collect(db.transaction, order_id, now())))


@bp.route("/fulfilment/orders/<uuid:order_id>")
class Order(MethodView):
    @require_scope("orders")
    @bp.response(204)
    @problem_responses(bp, 401, 403, 404, 409, 503)
    def delete(self, order_id: uuid.UUID):
        """Cancel an order: its stock and capacity come back. A collected order is a 409."""
        holds.cancel(db.transaction, order_id, now())
        return "", 204
