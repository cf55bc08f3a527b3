"""Holds and orders (DESIGN §4.6): securing a fulfilment option between choice and payment.

A hold re-checks its option with the rules of app/services/fulfilment.py at the server's
now, and reserves its stock lines and one unit of the day's capacity in one transaction.
Confirmed, it becomes an order (the same id); an order is collected (its goods leave
``on_hand``) or cancelled, or gives its stock back when its pickup window ends.

Nothing here runs on a timer: availability compares each hold's time columns with the
moment of the question (app/queries/holds.py), so a hold stops counting the instant it
expires. ``purge`` only deletes rows that no longer matter.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import orjson
import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.errors import Conflict, IdempotencyKeyReused, InvalidInput, NotFound
from app.metrics import count_hold
from app.queries import fulfilment as fulfilment_sql
from app.queries import holds as sql
from app.services import fulfilment
from app.services.fulfilment import MODE_CAPABILITY, Candidate, Defaults, Line, Option

# A hold is tried again from the start when, under its locks, the rules chose a day it
# had not locked, when it lost a deadlock, or when a concurrent request with its
# Idempotency-Key committed first. Each needs another request to have won meanwhile, so
# a few attempts end it; past them the caller gets a 409 and retries.
MAX_ATTEMPTS = 4
RETRIED_ERRORS = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)

Begin = Callable[[], AbstractContextManager[Connection]]


@dataclass(frozen=True)
class HoldRequest:
    location_external_id: str
    mode: str
    cart: tuple[Line, ...]
    supplied_from: str | None = None  # a transfer's warehouse (pickup only)
    lat: float | None = None  # the shopper's address (express and delivery)
    lon: float | None = None

    def fingerprint(self) -> str:
        """What makes two requests the same, whatever the order of the cart's lines."""
        canonical = {
            "location_external_id": self.location_external_id,
            "mode": self.mode,
            "cart": sorted((line.sku, line.qty) for line in self.cart),
            "supplied_from": self.supplied_from,
            "lat": self.lat,
            "lon": self.lon,
        }
        return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class HoldPolicy:
    """Documented config values (app/config.py) the holds work with."""

    ttl_s: int
    pickup_days: int
    defaults: Defaults
    express_speed_kmh: float
    radius_m: float  # how far the options of a 409 look around the shopper or location


@dataclass(frozen=True)
class HoldAnswer:
    hold: dict  # the holds row (app/queries/holds.py HOLD_COLUMNS)
    replayed: bool = False  # the answer to an earlier request with the same key


class HoldConflict(Conflict):
    """The option cannot be held now: why, and what can be had instead (``plan``)."""

    def __init__(self, detail: str, reasons: Sequence[dict], origin, at, plan):
        super().__init__(detail, field="location_external_id", message=detail)
        self.reasons = list(reasons)
        self.origin, self.at, self.plan = origin, at, plan


@dataclass(frozen=True)
class _Origin:
    lat: float
    lon: float
    source: str = "coordinates"
    label: str | None = None

    def as_dict(self) -> dict:
        return {"lat": self.lat, "lon": self.lon, "source": self.source, "label": self.label}


def place_hold(
    begin: Begin, request: HoldRequest, key: str, policy: HoldPolicy, now: datetime
) -> HoldAnswer:
    """Hold ``request``'s option under the Idempotency-Key ``key``, or raise HoldConflict.

    How concurrent holds stay correct (no read-then-write race): row locks, taken in
    one order. The rules run once without locks, to learn what the option needs: the
    stock rows (location, SKU) and the capacity days (location, mode, local day). The
    transaction then locks a row of ``hold_locks`` for each, sorted (app/queries/
    holds.py ``lock``), and runs the rules again: in READ COMMITTED each statement sees
    what committed before it, so the second reading counts every hold that held those
    locks before us, and no hold on those rows can commit between that reading and our
    insert. If the second reading needs a day the first did not (someone filled it),
    the transaction starts over rather than lock out of order.

    Why these locks and not others: row locks on the ``stock`` rows would make a hold
    wait for a stock feed's whole transaction (a million rows), and a feed wait for
    holds; a serializable transaction would abort under the peak's contention more than
    it commits. Our lock rows belong to holds alone: a feed never touches them, holds
    on different locations lock different rows, and only holds that compete for the
    same units or the same day wait, for one short transaction each.
    """
    fingerprint = request.fingerprint()
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with begin() as connection:
                existing = sql.hold_by_key(connection, key)
                if existing is not None:
                    return _replay(existing, fingerprint)
                network = _network(connection, request, policy, now)
                option = _evaluate(network, request, policy, now)
                if not isinstance(option, Option):
                    break  # nothing is written: the conflict is answered below
                resources = _resources(option, request.cart)
                sql.lock(connection, resources)
                # Under the locks: what holds change (stock kept, capacity used), afresh.
                network = fulfilment.with_holdings(connection, network, request.cart, now, now)
                option = _evaluate(network, request, policy, now)
                if not isinstance(option, Option):
                    break
                if not set(_resources(option, request.cart)) <= set(resources):
                    continue  # nothing written but lock rows: start over, lock that day
                hold = _insert(connection, option, request, key, fingerprint, policy, now)
            count_hold("created")
            return HoldAnswer(hold)
        except IntegrityError as error:
            if "holds_idempotency_key_key" not in str(error.orig):
                raise
            continue  # a request with our key won: the next attempt answers with its hold
        except DBAPIError as error:
            if not isinstance(error.orig, RETRIED_ERRORS):
                raise
            continue
    count_hold("conflicted")
    with begin() as connection:
        raise _conflict(connection, request, policy, now)


def _replay(hold: dict, fingerprint: str) -> HoldAnswer:
    if hold["request_sha256"] != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used with another request",
            field="Idempotency-Key",
            message="use a new key for a new request",
        )
    return HoldAnswer(hold, replayed=True)


def _sites(connection: Connection, request: HoldRequest) -> tuple:
    """(the location's Site, the named warehouse's row or None); NotFound for an
    unknown one, InvalidInput when the location does not offer the mode."""
    row = sql.location(connection, request.location_external_id, request.lon, request.lat)
    if row is None:
        raise NotFound(
            f"no location with external_id {request.location_external_id!r}",
            field="location_external_id",
            message="no such location",
        )
    capability = MODE_CAPABILITY[request.mode]
    if capability not in row["capabilities"]:
        raise InvalidInput(
            f"{request.location_external_id} does not offer {request.mode}",
            field="mode",
            message=f"the location lacks the {capability!r} capability",
        )
    warehouse = None
    if request.supplied_from is not None:
        warehouse = sql.location(connection, request.supplied_from, None, None)
        if warehouse is None:
            raise NotFound(
                f"no location with external_id {request.supplied_from!r}",
                field="supplied_from",
                message="no such location",
            )
    return fulfilment.site_of(row), warehouse


def _network(
    connection: Connection, request: HoldRequest, policy: HoldPolicy, now: datetime
) -> fulfilment.Network | list[dict]:
    """What the rules read for this location, mode and cart (the transfer only from the
    named warehouse), or the reasons there is no option at all."""
    temperatures = fulfilment_sql.product_temperatures(
        connection, [line.sku for line in request.cart]
    )
    fulfilment.check_cart(request.cart, temperatures)
    site, warehouse = _sites(connection, request)
    if site.row["status"] != "active":
        return [{"code": "closed"}]
    covers = True
    if request.mode != "pickup":
        covers = site.id in fulfilment_sql.covering_location_ids(
            connection, request.lon, request.lat, request.mode
        )
    options_request = _options_request(request, site, policy, modes=(request.mode,))
    return fulfilment.gather_network(
        connection,
        options_request,
        [Candidate(site, request.mode, covers)],
        temperatures,
        policy.defaults,
        policy.express_speed_kmh,
        now,
        supplier_ids=frozenset() if warehouse is None else frozenset({warehouse["id"]}),
    )


def _evaluate(
    network: fulfilment.Network | list[dict], request: HoldRequest, policy: HoldPolicy, now
) -> Option | list[dict]:
    """The option the rules give at ``now``, or the reasons there is none."""
    if not isinstance(network, fulfilment.Network):
        return network
    result = fulfilment.plan(network, request.cart, now, 1, policy.defaults)
    if result.options:
        return result.options[0]
    return list(result.excluded[0].reasons)


def _options_request(
    request: HoldRequest, site, policy: HoldPolicy, modes: tuple[str, ...]
) -> fulfilment.OptionsRequest:
    lat = site.row["lat"] if request.lat is None else request.lat
    lon = site.row["lon"] if request.lon is None else request.lon
    return fulfilment.OptionsRequest(
        lat=lat, lon=lon, cart=request.cart, modes=modes, radius_m=policy.radius_m, limit=10
    )


def _day_resource(mode: str, day: date) -> str:
    return f"day:{mode}:{day.isoformat()}"


def _claims(
    option: Option, cart: Sequence[Line]
) -> tuple[list[tuple[int, str, int]], list[tuple[int, str, date]]]:
    """(stock lines, capacity days) the option keeps: a transfer keeps the lines its
    location lacks at the warehouse (whole, as the rules bring them) and the others at
    the location, a unit of the location's day and one of the warehouse's supply day."""
    site = option.site
    lines = [(site.id, line.sku, line.qty) for line in cart]
    days = [(site.id, option.mode, fulfilment.local_day(site, option.ready_at))]
    if option.supplied_from is not None:
        warehouse = option.supplied_from
        sent = set(option.transferred_skus)
        lines = [(warehouse.id if sku in sent else lid, sku, qty) for lid, sku, qty in lines]
        days.append((warehouse.id, "supply", fulfilment.local_day(warehouse, option.departs_at)))
    return lines, days


def _resources(option: Option, cart: Sequence[Line]) -> list[tuple[int, str]]:
    lines, days = _claims(option, cart)
    return [(lid, f"sku:{sku}") for lid, sku, _ in lines] + [
        (lid, _day_resource(mode, day)) for lid, mode, day in days
    ]


def _insert(connection, option, request, key, fingerprint, policy, now) -> dict:
    hold_id = uuid.uuid4()
    lines, days = _claims(option, request.cart)
    sql.insert_hold(
        connection,
        {
            "id": hold_id,
            "idempotency_key": key,
            "request_sha256": fingerprint,
            "location_id": option.site.id,
            "mode": option.mode,
            "source": option.source,
            "supplied_from_id": option.supplied_from.id if option.supplied_from else None,
            "ready_at": option.ready_at,
            "arrive_by": option.arrive_by,
            "created_at": now,
            "expires_at": now + timedelta(seconds=policy.ttl_s),
        },
        lines,
        days,
    )
    return sql.hold_by_id(connection, hold_id)


def _conflict(connection, request: HoldRequest, policy: HoldPolicy, now) -> HoldConflict:
    """Why the option cannot be held, and the options there are now for the same cart
    around the shopper (or the location), in the same mode."""
    option = _evaluate(_network(connection, request, policy, now), request, policy, now)
    reasons = [] if isinstance(option, Option) else option
    site, _ = _sites(connection, request)
    options_request = _options_request(request, site, policy, modes=(request.mode,))
    at, plan = fulfilment.find_options(
        connection, options_request, policy.defaults, policy.express_speed_kmh, now
    )
    origin = _Origin(options_request.lat, options_request.lon)
    detail = f"{request.location_external_id} cannot take this {request.mode} hold now"
    return HoldConflict(detail, reasons or [{"code": "capacity_full"}], origin, at, plan)


# -- confirm, release, collect, cancel ----------------------------------------------------


def _found(connection: Connection, hold_id: uuid.UUID, what: str = "hold") -> dict:
    hold = sql.hold_by_id(connection, hold_id)
    if hold is None:
        raise NotFound(f"no {what} {hold_id}", field="id", message=f"no such {what}")
    return hold


def _refused(hold: dict, detail: str) -> Conflict:
    return Conflict(detail, field="id", message=f"the hold is {hold['status']}")


def confirm(begin: Begin, hold_id: uuid.UUID, policy: HoldPolicy, now: datetime) -> dict:
    """The order a live hold becomes; confirming it again gives the same order. An
    expired or released hold is a Conflict: its stock may be someone else's now."""
    with begin() as connection:
        if sql.confirm(connection, hold_id, now, policy.pickup_days):
            return sql.hold_by_id(connection, hold_id)
        hold = _found(connection, hold_id)
        if hold["status"] in ("ordered", "collected"):
            return hold  # confirmed before: the same answer
        expired = sql.mark_expired(connection, now, hold_id)
    if expired:
        count_hold("expired", expired)
    hold["status"] = "expired" if expired else hold["status"]
    raise _refused(hold, f"hold {hold_id} is {hold['status']}: it can no longer be confirmed")


def release(begin: Begin, hold_id: uuid.UUID, now: datetime) -> None:
    """Free a hold's stock and capacity at once. Releasing a hold that is already free
    (released, expired) changes nothing; an order cannot be released (cancel it)."""
    with begin() as connection:
        if sql.end(connection, hold_id, "held", "released", now):
            return
        hold = _found(connection, hold_id)
        expired = sql.mark_expired(connection, now, hold_id)
    if expired:
        count_hold("expired", expired)
    if hold["status"] in ("ordered", "collected", "cancelled"):
        raise _refused(hold, f"hold {hold_id} was confirmed: cancel the order instead")


def collect(begin: Begin, order_id: uuid.UUID, now: datetime) -> dict:
    """End an order as collected and take its goods off on_hand; again, the same
    answer. A hold not confirmed, a cancelled order, or one whose pickup window ended
    (its stock was given back) is a Conflict."""
    with begin() as connection:
        if sql.collect(connection, order_id, now):
            return sql.hold_by_id(connection, order_id)
        order = _found(connection, order_id, "order")
    if order["status"] == "collected":
        return order
    if order["status"] == "ordered":
        raise _refused(order, f"order {order_id}'s pickup window ended: its stock was given back")
    raise _refused(order, f"{order_id} is not an order awaiting collection")


def cancel(begin: Begin, order_id: uuid.UUID, now: datetime) -> None:
    """Cancel an order: its stock and capacity come back. Cancelling again changes
    nothing; a collected order, or a hold never confirmed, is a Conflict."""
    with begin() as connection:
        if sql.end(connection, order_id, "ordered", "cancelled", now):
            return
        order = _found(connection, order_id, "order")
    if order["status"] == "cancelled" or (
        order["status"] == "ordered" and order["collect_by"] <= now
    ):
        return  # already free
    raise _refused(order, f"{order_id} is not an order that can be cancelled")


def purge(connection: Connection, now: datetime, keep: timedelta) -> tuple[int, int]:
    """(holds recorded as expired, rows deleted): holds and orders that ended more than
    ``keep`` ago go, and with them their Idempotency-Keys."""
    expired = sql.mark_expired(connection, now)
    if expired:
        count_hold("expired", expired)
    return expired, sql.purge(connection, now - keep)
