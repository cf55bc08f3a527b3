"""Holds and orders (DESIGN §4.6) through the API, on a small network in Asia/Tokyo (not
the server's timezone), with the app's clock in the test's hands: expiry and pickup
windows are crossed by moving the clock, with no job running, ever.

After each scenario the database is checked against a brute-force oracle that knows
nothing of the service's SQL: per (location, sku), the units kept by live holds and
orders (from the rows, in Python) never exceed what was on hand; per (location, mode,
local day), orders never exceed the capacity.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.importing import SETTINGS_FIELDS
from app.queries import tokens
from app.services import tokens as auth
from tests.integration.test_fulfilment_api import import_rows

TOKYO = ZoneInfo("Asia/Tokyo")
TTL_S = 900
PICKUP_DAYS = 3
# Tokyo station; the warehouse 5 km north supplies the locker 1 km from it (not the shop).
SHOP = (35.6812, 139.7671)
CAPS = "pickup;cold_chain;express_delivery;delivery"
LOCATIONS = [
    ("tk-shop", "store", SHOP[0], SHOP[1], "", CAPS),
    ("tk-locker", "locker", SHOP[0] + 0.036, SHOP[1], "", "pickup;cold_chain"),
    ("tk-wh", "warehouse", SHOP[0] + 0.045, SHOP[1], "", "cold_chain"),
]
AREAS = [
    ("tk-wh", "supply", 2000),
    ("tk-shop", "express", 3000),
    ("tk-shop", "delivery", 3000),
]
PRODUCTS = [("milk-1l", "Milk", "chilled"), ("bread", "Bread", "ambient")]
STOCK = [
    ("tk-shop", "bread", 5),
    ("tk-shop", "milk-1l", 2),
    ("tk-wh", "milk-1l", 50),
    ("tk-wh", "bread", 50),
]
SETTINGS = [
    ("tk-shop", "pickup", 5, "", "2", "", ""),
    ("tk-shop", "express", 10, "", "", "", ""),
    ("tk-shop", "delivery", 30, "", "", "", ""),
    ("tk-locker", "pickup", 5, "", "", "", ""),
    ("tk-wh", "supply", 10, "", "", "", "20"),
]


class Clock:
    """The app's clock (app.services.pickup.now, as the API modules hold it)."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    # 12:00 in Tokyo tomorrow: far from a local midnight unless a test goes there.
    tomorrow = datetime.now(TOKYO).date() + timedelta(days=1)
    clock = Clock(datetime(tomorrow.year, tomorrow.month, tomorrow.day, 12, tzinfo=TOKYO))
    for module in ("app.api.holds", "app.api.fulfilment"):
        monkeypatch.setattr(f"{module}.now", clock)
    return clock


@pytest.fixture
def tokyo(connection, tmp_path):
    header = ["external_id", "name", "kind", "lat", "lon", "opening_hours", "timezone"]
    import_rows(
        connection,
        tmp_path / "locations.csv",
        [*header, "capabilities", "country"],
        [
            (e, e.upper(), k, lat, lon, h, "Asia/Tokyo", c, "JP")
            for e, k, lat, lon, h, c in LOCATIONS
        ],
    )
    import_rows(
        connection, tmp_path / "areas.csv", ["location_external_id", "mode", "radius_m"], AREAS
    )
    import_rows(connection, tmp_path / "products.csv", ["sku", "name", "temperature"], PRODUCTS)
    import_rows(
        connection, tmp_path / "stock.csv", ["location_external_id", "sku", "on_hand"], STOCK
    )
    import_rows(connection, tmp_path / "settings.csv", SETTINGS_FIELDS, SETTINGS)
    connection.commit()


@pytest.fixture
def orders_token(connection):
    value = auth.new_token()
    tokens.create_token(connection, "checkout", auth.hash_token(value), ["orders"])
    connection.commit()
    return value


@pytest.fixture
def checkout(make_app, tokyo, orders_token, clock):
    """A checkout backend's calls against the app (its token, its own keys)."""
    return Checkout(make_app(HOLD_TTL_S=TTL_S, ORDER_PICKUP_DAYS=PICKUP_DAYS), orders_token)


class Checkout:
    def __init__(self, app, token: str):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def hold(self, cart, location="tk-shop", mode="pickup", key=None, **extra):
        body = {"location_external_id": location, "mode": mode, "cart": cart, **extra}
        headers = {**self.headers, "Idempotency-Key": key or str(uuid.uuid4())}
        return self.client.post("/api/v1/fulfilment/holds", json=body, headers=headers)

    def confirm(self, hold_id):
        return self.client.post(f"/api/v1/fulfilment/holds/{hold_id}/confirm", headers=self.headers)

    def release(self, hold_id):
        return self.client.delete(f"/api/v1/fulfilment/holds/{hold_id}", headers=self.headers)

    def collected(self, order_id):
        url = f"/api/v1/fulfilment/orders/{order_id}/collected"
        return self.client.post(url, headers=self.headers)

    def cancel(self, order_id):
        return self.client.delete(f"/api/v1/fulfilment/orders/{order_id}", headers=self.headers)

    def options(self, cart, mode="pickup"):
        body = {"lat": SHOP[0], "lon": SHOP[1], "cart": cart, "modes": [mode], "limit": 100}
        response = self.client.post("/api/v1/fulfilment/options", json=body)
        assert response.status_code == 200, response.json
        return response.json

    def offered(self, cart, location="tk-shop", mode="pickup") -> bool:
        answer = self.options(cart, mode)
        return any(o["location"]["external_id"] == location for o in answer["options"])


def bread(qty: int) -> list[dict]:
    return [{"sku": "bread", "qty": qty}]


def check_invariants(connection, now: datetime) -> None:
    """The oracle: from the raw rows, per location and SKU units kept <= on hand at the
    time (on_hand, plus what collections took off), and per location, mode and local
    day, live holds and orders <= daily capacity."""
    connection.rollback()
    holds = {
        row.id: row
        for row in connection.execute(text("SELECT id, status, expires_at, collect_by FROM holds"))
    }

    def keeps_units(hold) -> bool:
        return (hold.status == "held" and hold.expires_at > now) or (
            hold.status == "ordered" and hold.collect_by > now
        )

    def keeps_capacity(hold) -> bool:
        return (hold.status == "held" and hold.expires_at > now) or hold.status in (
            "ordered",
            "collected",
        )

    on_hand = {
        (r.location_id, r.sku): r.on_hand
        for r in connection.execute(text("SELECT location_id, sku, on_hand FROM stock"))
    }
    kept: dict[tuple, int] = {}
    collected: dict[tuple, int] = {}
    for line in connection.execute(text("SELECT hold_id, location_id, sku, qty FROM hold_lines")):
        key = (line.location_id, line.sku)
        if keeps_units(holds[line.hold_id]):
            kept[key] = kept.get(key, 0) + line.qty
        if holds[line.hold_id].status == "collected":
            collected[key] = collected.get(key, 0) + line.qty
    for key, units in kept.items():
        assert units <= on_hand.get(key, 0) + collected.get(key, 0), key
    capacity = {
        (r.location_id, r.mode): r.daily_capacity
        for r in connection.execute(
            text("SELECT location_id, mode, daily_capacity FROM fulfilment_settings")
        )
    }
    used: dict[tuple, int] = {}
    for row in connection.execute(
        text("SELECT hold_id, location_id, mode, day FROM hold_capacity")
    ):
        if keeps_capacity(holds[row.hold_id]):
            key = (row.location_id, row.mode, row.day)
            used[key] = used.get(key, 0) + 1
    for (location_id, mode, day), count in used.items():
        limit = capacity.get((location_id, mode))
        assert limit is None or count <= limit, (location_id, mode, day, count)


def test_a_held_unit_is_not_offered_to_the_next_shopper(checkout, connection, clock):
    assert checkout.offered(bread(5))
    held = checkout.hold(bread(5))
    assert held.status_code == 201, held.json
    answer = held.json
    assert answer["location_external_id"] == "tk-shop" and answer["source"] == "stock"
    # 12:00 in Tokyo and 5 minutes of preparation; the hold lasts HOLD_TTL_S.
    assert answer["ready_at"] == clock.moment.replace(minute=5).isoformat()
    expires = datetime.fromisoformat(answer["expires_at"])
    assert expires == clock.moment + timedelta(seconds=TTL_S)
    # At once: the next shopper is not offered a single loaf there.
    options = checkout.options(bread(1))
    assert not [o for o in options["options"] if o["location"]["external_id"] == "tk-shop"]
    [excluded] = [e for e in options["excluded"] if e["location"]["external_id"] == "tk-shop"]
    assert {"code": "out_of_stock", "skus": ["bread"]} in excluded["reasons"]
    refused = checkout.hold(bread(1))
    assert refused.status_code == 409
    problem = refused.json
    assert refused.mimetype == "application/problem+json"
    assert {"code": "out_of_stock", "skus": ["bread"]} in problem["reasons"]
    assert problem["errors"][0]["field"] == "location_external_id"
    # What can be had instead: the locker, supplied from the warehouse.
    assert [(o["location"]["external_id"], o["source"]) for o in problem["options"]] == [
        ("tk-locker", "transfer")
    ]
    check_invariants(connection, clock.moment)


def test_a_hold_expires_with_no_job_running(checkout, connection, clock):
    first = checkout.hold(bread(5)).json
    assert not checkout.offered(bread(1))
    clock.advance(seconds=TTL_S - 1)
    assert not checkout.offered(bread(1))
    clock.advance(seconds=1)  # the hold's last instant has passed
    assert checkout.offered(bread(5))
    second = checkout.hold(bread(5))
    assert second.status_code == 201
    # The first shopper comes back too late: the bread is someone else's now.
    late = checkout.confirm(first["hold_id"])
    assert late.status_code == 409 and late.mimetype == "application/problem+json"
    assert "expired" in late.json["detail"]
    assert checkout.confirm(second.json["hold_id"]).status_code == 200
    check_invariants(connection, clock.moment)


def test_idempotent_replay_after_a_timeout(checkout, connection, clock):
    # The first attempt committed, but the checkout never heard (its request timed out):
    # it sends the same request again, with the same key, even after the hold expired.
    cart = [{"sku": "milk-1l", "qty": 1}, {"sku": "bread", "qty": 2}]
    first = checkout.hold(cart, key="order-7f3a")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    clock.advance(seconds=30)
    again = checkout.hold(list(reversed(cart)), key="order-7f3a")  # the lines in any order
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    clock.advance(seconds=TTL_S)
    assert checkout.hold(cart, key="order-7f3a").json == first.json
    connection.rollback()
    assert connection.execute(text("SELECT count(*) FROM holds")).scalar_one() == 1
    # The same key with another body is refused: it cannot mean two holds.
    other = checkout.hold(bread(1), key="order-7f3a")
    assert other.status_code == 422
    assert other.json["errors"][0]["field"] == "Idempotency-Key"
    assert connection.execute(text("SELECT count(*) FROM holds")).scalar_one() == 1


def test_a_feed_lowering_stock_keeps_holds_and_offers_no_more(
    checkout, connection, clock, make_app, tmp_path
):
    held = checkout.hold(bread(3)).json
    # A stock feed says 4 loaves are left (it lowered on_hand from 5).
    import_rows(connection, tmp_path / "feed.csv", ["location_external_id", "sku", "on_hand"],
                [("tk-shop", "bread", 4)])  # fmt: skip
    connection.commit()
    # A hold on the stock the feed has just lowered: 4 - 3 held = 1 left, not 2.
    assert checkout.hold(bread(2)).status_code == 409
    assert checkout.hold(bread(1)).status_code == 201
    assert not checkout.offered(bread(1))
    # A feed below what is held: the holds stand, availability stops at 0.
    import_rows(connection, tmp_path / "feed2.csv", ["location_external_id", "sku", "on_hand"],
                [("tk-shop", "bread", 2)])  # fmt: skip
    connection.commit()
    assert not checkout.offered(bread(1))
    order = checkout.confirm(held["hold_id"])
    assert order.status_code == 200 and order.json["status"] == "ordered"


def test_capacity_counts_the_local_day_in_tokyo(checkout, connection, clock):
    # 23:50 in Tokyo is 14:50 UTC: the server's day has 9 hours to go, the shop's 10 min.
    clock.moment = clock.moment.replace(hour=23, minute=50)
    held = []
    for _ in range(5):
        response = checkout.hold(bread(1))
        assert response.status_code == 201, response.json
        held.append(response.json)
    days = [datetime.fromisoformat(h["ready_at"]) for h in held]
    today = clock.moment.date()
    # Capacity 2 a day: two ready at 23:55 today; then the next local day opens at
    # midnight (00:05 after 5 minutes), although it is the same day in UTC.
    assert [d.astimezone(TOKYO).date() - today for d in days] == [
        timedelta(days=n) for n in (0, 0, 1, 1, 2)
    ]
    assert days[0].astimezone(TOKYO).time().isoformat() == "23:55:00"
    assert days[2].astimezone(TOKYO).time().isoformat() == "00:05:00"
    assert days[2].astimezone(UTC).date() == days[0].astimezone(UTC).date()
    check_invariants(connection, clock.moment)
    # Releasing one of today's gives its stock and its unit of today's capacity back.
    assert not checkout.offered(bread(1))
    assert checkout.release(held[0]["hold_id"]).status_code == 204
    options = checkout.options(bread(1))
    [shop] = [o for o in options["options"] if o["location"]["external_id"] == "tk-shop"]
    assert shop["ready_at"] == held[0]["ready_at"]


def test_release_frees_at_once_but_not_after_confirm(checkout, connection, clock):
    held = checkout.hold(bread(5)).json
    assert checkout.release(held["hold_id"]).status_code == 204
    assert checkout.offered(bread(5))
    assert checkout.release(held["hold_id"]).status_code == 204  # already free
    assert checkout.confirm(held["hold_id"]).status_code == 409  # released: gone

    other = checkout.hold(bread(5)).json
    order = checkout.confirm(other["hold_id"])
    assert order.status_code == 200
    refused = checkout.release(other["hold_id"])
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert not checkout.offered(bread(1))  # the order still keeps the bread


def test_confirming_twice_gives_the_same_answer(checkout, clock):
    held = checkout.hold(bread(1)).json
    first = checkout.confirm(held["hold_id"])
    assert first.status_code == 200
    assert first.json["order_id"] == held["hold_id"]
    ready = datetime.fromisoformat(held["ready_at"])
    assert datetime.fromisoformat(first.json["collect_by"]) == ready + timedelta(days=PICKUP_DAYS)
    clock.advance(seconds=TTL_S * 2)  # long after the hold would have expired
    assert checkout.confirm(held["hold_id"]).json == first.json
    missing = checkout.confirm(uuid.uuid4())
    assert missing.status_code == 404 and missing.json["errors"][0]["field"] == "id"


def test_cancelled_and_uncollected_orders_give_their_stock_back(checkout, connection, clock):
    cancelled = checkout.hold(bread(2)).json
    kept = checkout.hold(bread(3)).json
    assert checkout.confirm(cancelled["hold_id"]).status_code == 200
    assert checkout.confirm(kept["hold_id"]).status_code == 200
    assert not checkout.offered(bread(1))
    assert checkout.cancel(cancelled["hold_id"]).status_code == 204
    assert checkout.cancel(cancelled["hold_id"]).status_code == 204  # again: nothing to do
    assert checkout.offered(bread(2)) and not checkout.offered(bread(3))
    # Never collected: past ready_at + ORDER_PICKUP_DAYS its 3 loaves count again.
    ready = datetime.fromisoformat(kept["ready_at"])
    clock.moment = ready + timedelta(days=PICKUP_DAYS) - timedelta(seconds=1)
    assert not checkout.offered(bread(5))
    clock.advance(seconds=1)
    assert checkout.offered(bread(5))
    late = checkout.collected(kept["hold_id"])
    assert late.status_code == 409  # its stock was given back: not collected twice over
    check_invariants(connection, clock.moment)


def test_collected_takes_the_goods_off_on_hand(checkout, connection, clock):
    order = checkout.hold(bread(2)).json
    assert checkout.collected(order["hold_id"]).status_code == 409  # not confirmed yet
    assert checkout.confirm(order["hold_id"]).status_code == 200
    collected = checkout.collected(order["hold_id"])
    assert collected.status_code == 200 and collected.json["status"] == "collected"
    assert checkout.collected(order["hold_id"]).json == collected.json  # the same answer
    connection.rollback()
    on_hand = connection.execute(
        text("SELECT on_hand FROM stock WHERE sku = 'bread' AND location_id ="
             " (SELECT id FROM locations WHERE external_id = 'tk-shop')")
    ).scalar_one()  # fmt: skip
    assert on_hand == 3
    assert checkout.offered(bread(3)) and not checkout.offered(bread(4))
    assert checkout.cancel(order["hold_id"]).status_code == 409  # collected: too late
    check_invariants(connection, clock.moment)


def test_a_transfer_holds_the_warehouse_lines_and_its_supply_day(checkout, connection, clock):
    cart = [{"sku": "milk-1l", "qty": 3}, {"sku": "bread", "qty": 1}]
    held = checkout.hold(cart, location="tk-locker", supplied_from="tk-wh")
    assert held.status_code == 201, held.json
    assert held.json["source"] == "transfer" and held.json["supplied_from"] == "tk-wh"
    connection.rollback()
    lines = connection.execute(
        text("SELECT l.external_id, hl.sku, hl.qty FROM hold_lines hl"
             " JOIN locations l ON l.id = hl.location_id ORDER BY 1, 2")
    ).all()  # fmt: skip
    # The locker has nothing: every line comes whole from the warehouse.
    assert [tuple(r) for r in lines] == [("tk-wh", "bread", 1), ("tk-wh", "milk-1l", 3)]
    modes = connection.execute(text("SELECT mode FROM hold_capacity ORDER BY mode")).scalars()
    assert list(modes) == ["pickup", "supply"]
    # Without naming the warehouse, the locker has no stock of its own: a 409.
    assert checkout.hold(cart, location="tk-locker").status_code == 409
    check_invariants(connection, clock.moment)


def test_express_needs_the_address_and_holds_from_the_store(checkout, clock):
    milk = [{"sku": "milk-1l", "qty": 2}]
    missing = checkout.hold(milk, mode="express")
    assert missing.status_code == 400 and missing.json["errors"][0]["field"] == "lat"
    held = checkout.hold(milk, mode="express", lat=SHOP[0] + 0.01, lon=SHOP[1])
    assert held.status_code == 201, held.json
    assert held.json["arrive_by"] is not None
    far = checkout.hold(milk, mode="delivery", lat=SHOP[0] + 0.2, lon=SHOP[1])
    assert far.status_code == 409
    assert {"code": "outside_area"} in far.json["reasons"]


def test_holds_need_the_orders_scope_and_a_key(checkout, connection, make_app):
    write_only = auth.new_token()
    tokens.create_token(connection, "editor", auth.hash_token(write_only), ["write", "import"])
    connection.commit()
    body = {"location_external_id": "tk-shop", "mode": "pickup", "cart": bread(1)}
    url = "/api/v1/fulfilment/holds"
    client = checkout.client
    assert client.post(url, json=body, headers={"Idempotency-Key": "k"}).status_code == 401
    forbidden = client.post(
        url, json=body, headers={"Authorization": f"Bearer {write_only}", "Idempotency-Key": "k"}
    )
    assert forbidden.status_code == 403
    no_key = client.post(url, json=body, headers=checkout.headers)
    assert no_key.status_code == 400 and no_key.json["errors"][0]["field"] == "Idempotency-Key"
    bad_key = client.post(url, json=body, headers={**checkout.headers, "Idempotency-Key": "a b"})
    assert bad_key.status_code == 400
    unknown = checkout.hold([{"sku": "caviar", "qty": 1}])
    assert unknown.status_code == 400 and unknown.json["errors"][0]["field"] == "cart[0].sku"
    huge = checkout.hold([{"sku": "bread", "qty": 10_001}])
    assert huge.status_code == 400 and huge.json["errors"][0]["field"] == "cart[0].qty"
    connection.rollback()
    assert connection.execute(text("SELECT count(*) FROM holds")).scalar_one() == 0


def test_purge_only_deletes_what_ended_long_ago(checkout, connection, clock, make_app):
    from app.services import holds

    old = checkout.hold(bread(1)).json
    order = checkout.hold(bread(1)).json
    assert checkout.confirm(order["hold_id"]).status_code == 200
    clock.advance(days=2)
    fresh = checkout.hold(bread(1)).json
    with connection.begin():
        # Both holds have expired (recorded now); only the first ended over a week ago.
        expired, deleted = holds.purge(
            connection, clock.moment + timedelta(days=6), timedelta(days=7)
        )
    assert (expired, deleted) == (2, 1)
    with connection.begin():
        expired, deleted = holds.purge(
            connection, clock.moment + timedelta(days=8), timedelta(days=7)
        )
    assert (expired, deleted) == (0, 1)  # the second hold; the order's window is open
    remaining = set(connection.execute(text("SELECT id::text FROM holds")).scalars())
    connection.rollback()
    assert remaining == {order["hold_id"]}
    assert old["hold_id"] != fresh["hold_id"]
    result = make_app().test_cli_runner().invoke(args=["locator", "holds", "purge"])
    assert result.exit_code == 0, result.output
    assert "holds and orders deleted" in result.output
