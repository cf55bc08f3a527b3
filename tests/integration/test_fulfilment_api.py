"""POST /api/v1/fulfilment/options end to end, on a network imported from files; the
fulfilment imports (products, stock, settings, --replace) and the admin stock endpoint."""

from __future__ import annotations

import csv
import time as clock
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import NullPool, create_engine, text

from app.extensions import db
from app.importing import SETTINGS_FIELDS, STOCK_FIELDS, ImportOptions, import_file
from app.queries import tokens
from app.services import tokens as auth
from tests.integration.test_replicas import READ, TTL_S, replica_app, wait_until
from tests.integration.test_replicas import primary_and_standby as primary_and_standby

NY = ZoneInfo("America/New_York")
ORIGIN = {"lat": 38.9, "lon": -77.03}
CART = [{"sku": "milk-1l", "qty": 2}, {"sku": "bread", "qty": 1}]
ALL_CAPS = "pickup;cold_chain;frozen;express_delivery;delivery"

# external_id, kind, north offset (degrees of latitude from the origin), hours, capabilities
LOCATIONS = [
    ("shop-a", "store", 0.0027, "Mo-Su 07:00-22:00", ALL_CAPS),
    ("corner-b", "convenience_store", 0.009, "24/7", "pickup"),
    ("locker-c", "locker", 0.0135, "", "pickup;cold_chain"),
    ("capfull-e", "store", 0.018, "Mo-Su 07:00-22:00", "pickup;cold_chain"),
    ("closed-f", "store", 0.0225, "Mo-Su off", "pickup;cold_chain"),
    ("exp-g", "store", 0.027, "Mo-Su 07:00-22:00", "express_delivery;cold_chain;delivery"),
    ("slow-h", "store", 0.0315, "Mo-Su 07:00-22:00", "express_delivery;cold_chain"),
    ("cut-i", "store", 0.036, "Mo-Su 07:00-22:00", "express_delivery;cold_chain"),
    ("wh-1", "warehouse", -0.045, "24/7", "cold_chain"),
    ("locker-j", "locker", 0.135, "24/7", "pickup;cold_chain"),
    ("far-d", "store", 0.4, "24/7", ALL_CAPS),
]
AREAS = [
    ("shop-a", "express", 5000),
    ("shop-a", "delivery", 8000),
    ("exp-g", "express", 500),
    ("exp-g", "delivery", 400),
    ("slow-h", "express", 9000),
    ("cut-i", "express", 9000),
    ("wh-1", "supply", 10000),
]
PRODUCTS = [("milk-1l", "Milk", "chilled"), ("bread", "Bread", "ambient"), ("ice", "Ice", "frozen")]
STOCK = [
    *[
        (loc, sku, 10)
        for loc in ("shop-a", "capfull-e", "closed-f", "exp-g", "slow-h", "cut-i")
        for sku in ("milk-1l", "bread")
    ],
    ("corner-b", "bread", 10),
    ("locker-c", "milk-1l", 1),  # held only in part: comes whole from the warehouse
    ("wh-1", "milk-1l", 100),
    ("wh-1", "bread", 100),
]
SETTINGS = [
    ("shop-a", "pickup", 45, "21:00", "", "", ""),
    ("shop-a", "express", 15, "20:00", "", "", ""),
    ("shop-a", "delivery", 60, "18:00", "", "", ""),
    ("locker-c", "pickup", 10, "", "", "", ""),
    ("capfull-e", "pickup", 30, "", "0", "", ""),
    ("slow-h", "express", 55, "", "", "", ""),
    ("cut-i", "express", 10, "09:00", "", "", ""),
    ("wh-1", "supply", 20, "", "", "Mo-Fr 09:00,15:00", "30"),
]


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def import_rows(connection, path, header, rows, **options):
    report = import_file(connection, write_csv(path, header, rows), ImportOptions(**options))
    assert not report.rejected, report.rejected
    return report


@pytest.fixture
def network(connection, tmp_path):
    """The hand-built network above, through the import pipeline, committed."""
    import_rows(
        connection,
        tmp_path / "locations.csv",
        [
            "external_id",
            "name",
            "kind",
            "lat",
            "lon",
            "opening_hours",
            "timezone",
            "capabilities",
            "country",
        ],
        [
            (
                e,
                e.upper(),
                kind,
                ORIGIN["lat"] + north,
                ORIGIN["lon"],
                hours,
                "America/New_York",
                caps,
                "US",
            )
            for e, kind, north, hours, caps in LOCATIONS
        ],
    )
    import_rows(
        connection, tmp_path / "areas.csv", ["location_external_id", "mode", "radius_m"], AREAS
    )
    import_rows(connection, tmp_path / "products.csv", ["sku", "name", "temperature"], PRODUCTS)
    import_rows(
        connection, tmp_path / "stock.csv", ["location_external_id", "sku", "on_hand"], STOCK
    )
    import_rows(
        connection,
        tmp_path / "settings.csv",
        SETTINGS_FIELDS,
        SETTINGS,
    )
    connection.commit()


def next_wednesday(hour: int, minute: int = 0) -> datetime:
    """A Wednesday at least two days ahead (within the 60 days `at` may reach)."""
    day = datetime.now(NY).date() + timedelta(days=2)
    while day.weekday() != 2:
        day += timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


def ask(client, **body):
    body = {**ORIGIN, "cart": CART, **body}
    if "at" in body and isinstance(body["at"], datetime):
        body["at"] = body["at"].isoformat()
    return client.post("/api/v1/fulfilment/options", json=body)


def reasons(answer) -> dict:
    return {(e["location"]["external_id"], e["mode"]): e["reasons"] for e in answer["excluded"]}


def test_every_mode_and_every_reason(client, network):
    at = next_wednesday(10)
    response = ask(client, at=at, limit=100)
    assert response.status_code == 200, response.json
    answer = response.json
    offered = [
        (o["location"]["external_id"], o["mode"], o["source"], o["ready_at"], o["arrive_by"])
        for o in answer["options"]
    ]
    shop_express = [o for o in answer["options"] if o["mode"] == "express"][0]
    assert offered == [
        (
            "shop-a",
            "express",
            "stock",
            at.replace(minute=15).isoformat(),
            shop_express["arrive_by"],
        ),
        ("shop-a", "pickup", "stock", at.replace(minute=45).isoformat(), None),
        ("shop-a", "delivery", "stock", at.replace(hour=11).isoformat(), None),
        # wh-1: ready 10:20, runs at 15:00, 30 min; the locker's 10 min: 15:40.
        ("locker-c", "pickup", "transfer", at.replace(hour=15, minute=40).isoformat(), None),
    ]
    # 300 m at the default 25 km/h: 43 s after the store is ready.
    arrive = datetime.fromisoformat(shop_express["arrive_by"])
    assert timedelta(seconds=42) < arrive - at.replace(minute=15) < timedelta(seconds=45)
    assert shop_express["duration_s"] == pytest.approx(300 / (25 / 3.6), rel=0.01)
    transfer = answer["options"][3]
    assert transfer["supplied_from"] == {"external_id": "wh-1", "name": "WH-1"}
    assert transfer["hours_unknown"] is True
    assert answer["options"][0]["hours_unknown"] is False

    got = reasons(answer)
    # wh-1 could bring the milk, but corner-b has no fridge for it.
    assert got[("corner-b", "pickup")] == [{"code": "temperature", "needs": "cold_chain"}]
    assert got[("capfull-e", "pickup")] == [{"code": "capacity_full"}]
    assert got[("closed-f", "pickup")] == [{"code": "closed"}]
    assert got[("exp-g", "express")] == [{"code": "outside_area"}]
    assert got[("exp-g", "delivery")] == [{"code": "outside_area"}]
    assert got[("slow-h", "express")] == [{"code": "too_slow"}]
    assert got[("cut-i", "express")] == [{"code": "after_cutoff"}]
    assert got[("locker-j", "pickup")] == [
        {"code": "out_of_stock", "skus": ["milk-1l", "bread"]},
        {"code": "not_supplied"},
    ]
    assert ("far-d", "pickup") not in got  # beyond the 25 km radius: not a candidate
    assert answer["excluded_total"] == len(answer["excluded"])
    # No candidate is both offered and excluded in a mode.
    assert not {(o["location"]["external_id"], o["mode"]) for o in answer["options"]} & set(got)
    distances = [e["location"]["distance_m"] for e in answer["excluded"]]
    assert distances and distances == sorted(distances)


def test_night_orders_express_closed_and_pickup_next_morning(client, network):
    at = next_wednesday(23, 30)
    answer = ask(client, at=at, modes=["pickup", "express"], limit=100).json
    got = reasons(answer)
    assert got[("shop-a", "express")] == [{"code": "closed"}, {"code": "after_cutoff"}]
    [shop] = [o for o in answer["options"] if o["location"]["external_id"] == "shop-a"]
    assert shop["ready_at"] == (at + timedelta(days=1)).replace(hour=7, minute=45).isoformat()
    assert {o["mode"] for o in answer["options"]} == {"pickup"}


def test_limit_caps_options_and_exclusions_after_sorting(client, network):
    full = ask(client, at=next_wednesday(10), limit=100).json
    capped = ask(client, at=next_wednesday(10), limit=2).json
    assert capped["options"] == full["options"][:2]
    assert capped["excluded"] == full["excluded"][:2]
    assert capped["excluded_total"] == full["excluded_total"] > 2


def test_geocoded_origin_and_default_moment(client, network):
    response = ask(client, lat=None, lon=None)
    assert response.status_code == 400
    body = {"q": "20001", "cart": CART}
    answer = client.post("/api/v1/fulfilment/options", json=body)
    assert answer.status_code == 200, answer.json
    assert answer.json["origin"]["source"] == "geocoder"


def _lines(n):
    return [{"sku": f"sku-{i}", "qty": 1} for i in range(n)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cart": [*CART, {"sku": "nope", "qty": 1}]}, "cart[2].sku"),
        ({"cart": [{"sku": "bread", "qty": 0}]}, "cart[0].qty"),
        ({"cart": [{"sku": "bread", "qty": 10001}]}, "cart[0].qty"),
        ({"cart": [{"sku": "bread", "qty": 1.5}]}, "cart[0].qty"),
        ({"cart": [{"sku": "bad sku!", "qty": 1}]}, "cart[0].sku"),
        ({"cart": [{"sku": "bread", "qty": 1}, {"sku": "bread", "qty": 2}]}, "cart[1].sku"),
        ({"cart": [{"sku": "bread", "qty": 1, "price": 3}]}, "cart[0].price"),
        ({"cart": []}, "cart"),
        ({"cart": _lines(51)}, "cart"),
        ({"at": "2026-12-02T10:00:00"}, "at"),
        ({"at": "2001-01-01T10:00:00+00:00"}, "at"),
        ({"at": (datetime.now(NY) + timedelta(days=61)).isoformat()}, "at"),
        ({"at": (datetime.now(NY) - timedelta(days=2)).isoformat()}, "at"),
        ({"q": "20001"}, "q"),
        ({"modes": ["teleport"]}, "modes[0]"),
        ({"limit": 0}, "limit"),
        ({"radius": 1e9}, "radius"),
        ({"lat": 91}, "lat"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_requests_are_400_naming_the_field(client, network, changes, field):
    response = ask(client, **changes)
    assert response.status_code == 400, response.json
    assert response.mimetype == "application/problem+json"
    fields = [error["field"] for error in response.json["errors"]]
    assert any(f == field or f.startswith(field) for f in fields), fields


def test_huge_carts_are_refused_before_validation(client, network):
    response = ask(client, cart=_lines(2001))
    assert response.status_code in (400, 413)
    assert response.json["errors"][0]["field"] in ("cart", "body")


def test_options_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/fulfilment/options"]["post"]
    assert "requestBody" in operation and "200" in operation["responses"]
    assert "/api/v1/locations/{external_id}/stock" in spec["paths"]


# -- imports ----------------------------------------------------------------------------

STOCK_HEADER = STOCK_FIELDS


def stock_of(connection, location):
    return dict(
        connection.execute(
            text(
                "SELECT s.sku, s.on_hand FROM stock s JOIN locations l ON l.id = s.location_id"
                " WHERE l.external_id = :e"
            ),
            {"e": location},
        ).all()
    )


def test_stock_upserts_and_replace(connection, network, tmp_path, runner):
    rows = [("shop-a", "milk-1l", 10), ("shop-a", "bread", 3), ("shop-a", "ice", 4)]
    report = import_rows(connection, tmp_path / "s1.csv", STOCK_HEADER, rows)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    again = import_rows(connection, tmp_path / "s1.csv", STOCK_HEADER, rows)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    connection.commit()
    # --replace: shop-a's SKUs absent from the file drop to 0; wh-1 is not named.
    path = write_csv(tmp_path / "s2.csv", STOCK_HEADER, [("shop-a", "bread", 7)])
    result = runner.invoke(args=["locator", "import", str(path), "--replace", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "updated 1" in result.output and "zeroed 2" in result.output
    assert stock_of(connection, "shop-a") == {"milk-1l": 0, "bread": 7, "ice": 0}
    assert stock_of(connection, "wh-1") == {"milk-1l": 100, "bread": 100}


def test_bad_stock_rows_write_nothing_and_are_reported(connection, network, tmp_path):
    rows = [
        ("shop-a", "bread", 1),
        ("nowhere", "bread", 1),
        ("shop-a", "caviar", 1),
        ("shop-a", "milk-1l", -1),
        ("shop-a", "bread", 2),
    ]
    path = write_csv(tmp_path / "bad.csv", STOCK_HEADER, rows)
    report = import_file(connection, path, ImportOptions())
    assert not report.applied
    assert [(r.row, r.field) for r in report.rejected] == [
        (3, "location_external_id"),
        (4, "sku"),
        (5, "on_hand"),
        (6, "location_external_id"),
    ]
    assert stock_of(connection, "shop-a") == {"milk-1l": 10, "bread": 10}
    skipped = import_file(connection, path, ImportOptions(skip_invalid=True))
    assert skipped.applied and skipped.updated == 1


def test_bad_settings_and_products_are_rejected(connection, network, tmp_path):
    header = SETTINGS_FIELDS
    rows = [
        ("shop-a", "pickup", "x", "", "", "", ""),
        ("shop-a", "teleport", 1, "", "", "", ""),
        ("shop-a", "express", 1, "25:00", "", "", ""),
        ("shop-a", "delivery", 1, "", "-1", "", ""),
        ("wh-1", "supply", 1, "", "", "Mo-Fr 08:00-18:00", ""),
        ("shop-a", "pickup", 1, "", "", "Mo 09:00", ""),
    ]
    report = import_file(connection, write_csv(tmp_path / "st.csv", header, rows), ImportOptions())
    assert [(r.row, r.field) for r in report.rejected] == [
        (2, "prep_minutes"),
        (3, "mode"),
        (4, "cutoff"),
        (5, "daily_capacity"),
        (6, "departures"),
        (7, "departures"),
    ]
    products = [("ok", "Fine", ""), ("bad sku", "X", "ambient"), ("hot", "Soup", "boiling")]
    path = write_csv(tmp_path / "p.csv", ["sku", "name", "temperature"], products)
    report = import_file(connection, path, ImportOptions())
    assert [(r.row, r.field) for r in report.rejected] == [(3, "sku"), (4, "temperature")]


# -- admin ------------------------------------------------------------------------------


@pytest.fixture
def token(connection):
    value = auth.new_token()
    tokens.create_token(connection, "test-admin", auth.hash_token(value), list(auth.SCOPES))
    connection.commit()
    return value


def test_admin_sets_one_locations_stock(client, connection, network, token):
    headers = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/locations/shop-a/stock"
    body = {"lines": [{"sku": "bread", "on_hand": 4}, {"sku": "ice", "on_hand": 2}]}
    assert client.put(url, json=body).status_code == 401
    response = client.put(url, json=body, headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["lines"] == [
        {"sku": "bread", "on_hand": 4},
        {"sku": "ice", "on_hand": 2},
        {"sku": "milk-1l", "on_hand": 0},
    ]
    upsert = {"lines": [{"sku": "milk-1l", "on_hand": 5}], "replace": False}
    response = client.put(url, json=upsert, headers=headers)
    assert {line["sku"]: line["on_hand"] for line in response.json["lines"]} == {
        "bread": 4,
        "ice": 2,
        "milk-1l": 5,
    }
    bad = client.put(
        url,
        json={"lines": [{"sku": "bread", "on_hand": 1}, {"sku": "caviar", "on_hand": 1}]},
        headers=headers,
    )
    assert bad.status_code == 400
    assert bad.json["errors"][0]["field"] == "lines[1].sku"
    assert stock_of(connection, "shop-a")["bread"] == 4
    missing = client.put("/api/v1/locations/nowhere/stock", json=body, headers=headers)
    assert missing.status_code == 404


def test_stock_import_through_the_admin_api(client, connection, network, token):
    data = "location_external_id,sku,on_hand\nshop-a,bread,99\n"
    response = client.post(
        "/api/v1/imports?filename=stock.csv",
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.json
    assert response.json["dataset"] == "stock" and response.json["updated"] == 1
    assert stock_of(connection, "shop-a")["bread"] == 99


def test_the_demo_offers_every_mode(client, demo):
    # Near dc-store-0004 (express) in Silver Spring, a weekday morning.
    at = next_wednesday(10)
    body = {
        "lat": 39.0634,
        "lon": -76.9968,
        "cart": [{"sku": "bread", "qty": 1}],
        "at": at.isoformat(),
        "radius": 5000,
        "limit": 100,
    }
    answer = client.post("/api/v1/fulfilment/options", json=body).json
    assert answer["options_total"] <= 100
    kinds = {(o["mode"], o["source"]) for o in answer["options"]}
    assert {("pickup", "stock"), ("pickup", "transfer"), ("delivery", "stock")} <= kinds, kinds


def test_the_demo_offers_all_four_kinds_for_a_chilled_cart(client, demo):
    """README's walk-through: near 20002 (north-east Washington), milk comes from stock,
    from a warehouse (they keep a cold chain), by express and by delivery."""
    body = {
        "q": "20002",
        "cart": [{"sku": "milk-1l", "qty": 2}, {"sku": "bread", "qty": 1}],
        "at": next_wednesday(10).isoformat(),
        "limit": 100,
    }
    answer = client.post("/api/v1/fulfilment/options", json=body).json
    kinds = {(o["mode"], o["source"]) for o in answer["options"]}
    assert kinds == {
        ("pickup", "stock"),
        ("pickup", "transfer"),
        ("express", "stock"),
        ("delivery", "stock"),
    }, kinds
    assert [line["name"] for line in answer["cart"]] == ["Whole milk 1 l", "Sourdough loaf"]
    transfer = next(o for o in answer["options"] if o["source"] == "transfer")
    assert transfer["supplied_from"]["external_id"].startswith("dc-warehouse-")
    assert transfer["duration_s"] == 90 * 60  # no road network: the warehouse's lead time


def test_deleting_a_location_or_product_forgets_its_stock(connection, network):
    connection.execute(text("DELETE FROM locations WHERE external_id = 'shop-a'"))
    connection.execute(text("DELETE FROM products WHERE sku = 'bread'"))
    lines = connection.execute(text("SELECT location_id, sku FROM stock")).all()
    assert lines and all(sku != "bread" for _, sku in lines)
    assert stock_of(connection, "shop-a") == {}
    orphans = connection.execute(
        text(
            "SELECT count(*) FROM stock s LEFT JOIN locations l ON l.id = s.location_id"
            " WHERE l.id IS NULL"
        )
    ).scalar_one()
    assert orphans == 0


def test_options_read_stock_from_the_primary_while_the_replica_lags(
    primary_and_standby,  # noqa: F811 (the fixture imported above)
):
    """Replay is paused on the standby (kept in use, its lag small): stock written on the
    primary is offered at once, because options never read from a replica."""
    _primary, primary_url, _standby, standby_url = primary_and_standby
    app = replica_app(primary_url, standby_url, REPLICA_MAX_LAG_S=120)
    client = app.test_client()
    standby_admin = create_engine(standby_url, poolclass=NullPool)
    primary_admin = create_engine(primary_url, poolclass=NullPool)
    body = {
        "lat": 38.9765,
        "lon": -77.0801,
        "cart": [{"sku": "ice-cream", "qty": 1}],
        "modes": ["pickup"],
        "at": next_wednesday(10).isoformat(),
    }
    store = "dc-store-0003"  # has a freezer
    try:
        wait_until(lambda: client.get(READ).json.get("results"))
        with primary_admin.begin() as connection:
            connection.execute(
                text(
                    "DELETE FROM stock WHERE sku = 'ice-cream' AND location_id ="
                    " (SELECT id FROM locations WHERE external_id = :e)"
                ),
                {"e": store},
            )

        def standby_lines() -> int:
            with standby_admin.connect() as connection:
                return connection.execute(
                    text(
                        "SELECT count(*) FROM stock s JOIN locations l ON l.id = s.location_id"
                        " WHERE l.external_id = :e AND s.sku = 'ice-cream'"
                    ),
                    {"e": store},
                ).scalar_one()

        def replay_paused() -> bool:
            with standby_admin.connect() as connection:
                state = connection.execute(text("SELECT pg_get_wal_replay_pause_state()"))
                return state.scalar_one() == "paused"

        wait_until(lambda: standby_lines() == 0)  # the delete has been replayed

        def offered() -> bool:
            answer = client.post("/api/v1/fulfilment/options", json=body).json
            return store in {o["location"]["external_id"] for o in answer["options"]}

        assert not offered()
        with standby_admin.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_pause()"))
        wait_until(replay_paused)
        with primary_admin.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO stock (location_id, sku, on_hand)"
                    " SELECT id, 'ice-cream', 5 FROM locations WHERE external_id = :e"
                ),
                {"e": store},
            )
        clock.sleep(TTL_S * 2)  # the next health check sees the small lag and keeps it
        (replica,) = client.get("/readyz").json["replicas"]
        assert replica["in_use"] is True
        assert standby_lines() == 0  # the replica has not seen the new stock
        assert offered()
    finally:
        with standby_admin.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
        standby_admin.dispose()
        primary_admin.dispose()
        with app.app_context():
            db.dispose()
