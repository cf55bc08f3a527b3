"""The rules of DESIGN §4.5 on small hand-built networks, without HTTP or a database."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.hours import collection_times_as_hours
from app.services.fulfilment import (
    Candidate,
    Defaults,
    Line,
    Network,
    Settings,
    Site,
    plan,
)

NY = ZoneInfo("America/New_York")
DEFAULTS = Defaults(prep_minutes=30, lead_minutes=120, express_promise_minutes=60)
SHOP = Site(
    1,
    "shop",
    "Shop",
    "store",
    frozenset({"pickup", "cold_chain", "express_delivery", "delivery"}),
    "America/New_York",
    "Mo-Su 07:00-22:00",
    "US",
    distance_m=500.0,
)
WAREHOUSE = Site(
    9,
    "wh",
    "Warehouse",
    "warehouse",
    frozenset({"cold_chain", "frozen"}),
    "America/New_York",
    "24/7",
    "US",
    distance_m=9000.0,
)
PRODUCTS = {"milk": "chilled", "bread": "ambient", "ice": "frozen"}


def local(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


def network(
    *,
    sites=(SHOP,),
    stock=None,
    settings=None,
    used=None,
    suppliers=None,
    modes=("pickup",),
    covers=True,
    travel=None,
) -> Network:
    candidates = [Candidate(site, mode, covers) for mode in modes for site in sites]
    return Network(
        candidates=candidates,
        suppliers=suppliers or {},
        available=stock if stock is not None else {(s.id, "bread"): 10 for s in sites},
        temperatures=PRODUCTS,
        settings=settings or {},
        used_capacity=used or {},
        express_travel_s=travel or {},
    )


PICKUP_45 = Settings(prep_minutes=45, cutoff=time(21, 0))
BREAD = [Line("bread", 1)]


def only_option(result):
    assert len(result.options) == 1, result
    return result.options[0]


def reasons_of(result, external_id="shop", mode="pickup"):
    [exclusion] = [
        e for e in result.excluded if e.site.external_id == external_id and e.mode == mode
    ]
    return list(exclusion.reasons)


# -- the three worked examples of §4.5 --------------------------------------------------


def test_worked_example_1_prep_in_open_time_and_cutoff():
    net = network(settings={(1, "pickup"): PICKUP_45})
    assert only_option(plan(net, BREAD, local(2026, 12, 2, 13, 10), 10, DEFAULTS)).ready_at == (
        local(2026, 12, 2, 13, 55)
    )
    late = only_option(plan(net, BREAD, local(2026, 12, 2, 21, 30), 10, DEFAULTS))
    assert late.ready_at == local(2026, 12, 3, 7, 45)


def test_worked_example_2_prep_spans_the_night_without_cutoff():
    net = network(settings={(1, "pickup"): Settings(prep_minutes=45)})
    option = only_option(plan(net, BREAD, local(2026, 12, 2, 21, 40), 10, DEFAULTS))
    assert option.ready_at == local(2026, 12, 3, 7, 25)


def test_worked_example_3_transfer_waits_for_monday_departure():
    settings = {
        (1, "pickup"): PICKUP_45,
        (9, "supply"): Settings(prep_minutes=20, departures="Mo-Fr 09:00,15:00", lead_minutes=30),
    }
    net = network(stock={(9, "bread"): 5}, settings=settings, suppliers={1: [WAREHOUSE]})
    friday = local(2026, 12, 4, 15, 0)
    assert friday.weekday() == 4
    option = only_option(plan(net, BREAD, friday, 10, DEFAULTS))
    assert (option.source, option.supplied_from.external_id) == ("transfer", "wh")
    assert option.ready_at == local(2026, 12, 7, 10, 15)


# -- edges ----------------------------------------------------------------------------


def test_cutoff_is_inclusive():
    net = network(settings={(1, "pickup"): PICKUP_45})
    at_cutoff = only_option(plan(net, BREAD, local(2026, 12, 2, 21, 0), 10, DEFAULTS))
    assert at_cutoff.ready_at == local(2026, 12, 2, 21, 45)
    just_after = only_option(plan(net, BREAD, local(2026, 12, 2, 21, 0, 1), 10, DEFAULTS))
    assert just_after.ready_at == local(2026, 12, 3, 7, 45)


def test_departure_at_the_very_end_of_preparation_is_caught():
    settings = {
        (1, "pickup"): Settings(prep_minutes=0),
        (9, "supply"): Settings(prep_minutes=20, departures="Mo-Fr 09:00,15:00", lead_minutes=30),
    }
    net = network(stock={(9, "bread"): 5}, settings=settings, suppliers={1: [WAREHOUSE]})
    option = only_option(plan(net, BREAD, local(2026, 12, 4, 14, 40), 10, DEFAULTS))
    assert option.ready_at == local(2026, 12, 4, 15, 30)


def test_closed_days_are_skipped():
    weekdays = Site(
        1,
        "shop",
        "Shop",
        "store",
        frozenset({"pickup"}),
        "America/New_York",
        "Mo-Fr 09:00-17:00",
        "US",
    )
    net = network(sites=(weekdays,), settings={(1, "pickup"): Settings(prep_minutes=60)})
    saturday = local(2026, 12, 5, 10, 0)
    option = only_option(plan(net, BREAD, saturday, 10, DEFAULTS))
    assert option.ready_at == local(2026, 12, 7, 10, 0)


def test_public_holiday_is_closed():
    shop = Site(
        1,
        "shop",
        "Shop",
        "store",
        frozenset({"pickup"}),
        "America/New_York",
        "Mo-Su 09:00-17:00; PH off",
        "US",
    )
    net = network(sites=(shop,), settings={(1, "pickup"): Settings(prep_minutes=60)})
    christmas = local(2026, 12, 25, 10, 0)
    option = only_option(plan(net, BREAD, christmas, 10, DEFAULTS))
    assert option.ready_at == local(2026, 12, 26, 10, 0)


def test_hours_unknown_prepares_at_any_time():
    shop = Site(1, "shop", "Shop", "store", frozenset({"pickup"}), "America/New_York")
    net = network(sites=(shop,), settings={(1, "pickup"): Settings(prep_minutes=45)})
    option = only_option(plan(net, BREAD, local(2026, 12, 2, 3, 0), 10, DEFAULTS))
    assert option.ready_at == local(2026, 12, 2, 3, 45)
    assert option.site.hours_unknown


def test_full_day_rolls_to_the_next_day_with_room():
    settings = {(1, "pickup"): Settings(prep_minutes=45, daily_capacity=3)}
    used = {(1, "pickup", date(2026, 12, 2)): 3, (1, "pickup", date(2026, 12, 3)): 3}
    net = network(settings=settings, used=used)
    option = only_option(plan(net, BREAD, local(2026, 12, 2, 10, 0), 10, DEFAULTS))
    assert option.ready_at == local(2026, 12, 4, 7, 45)


def test_seven_days_at_most():
    settings = {(1, "pickup"): Settings(prep_minutes=45, daily_capacity=1)}
    used = {(1, "pickup", date(2026, 12, day)): 1 for day in range(2, 10)}
    result = plan(
        network(settings=settings, used=used), BREAD, local(2026, 12, 2, 10), 10, DEFAULTS
    )
    assert not result.options
    assert reasons_of(result) == [{"code": "capacity_full"}]
    never_open = Site(
        1, "shop", "Shop", "store", frozenset({"pickup"}), "America/New_York", "Mo-Su off", "US"
    )
    result = plan(network(sites=(never_open,)), BREAD, local(2026, 12, 2, 10), 10, DEFAULTS)
    assert reasons_of(result) == [{"code": "closed"}]


def test_temperature_needs_capabilities():
    plain = Site(1, "shop", "Shop", "store", frozenset({"pickup"}), "America/New_York", "24/7")
    stock = {(1, "milk"): 5, (1, "ice"): 5}
    result = plan(
        network(sites=(plain,), stock=stock),
        [Line("milk", 1), Line("ice", 1)],
        local(2026, 12, 2, 10),
        10,
        DEFAULTS,
    )
    assert reasons_of(result) == [
        {"code": "temperature", "needs": "cold_chain"},
        {"code": "temperature", "needs": "frozen"},
    ]


def test_out_of_stock_and_not_supplied_name_the_lines():
    result = plan(
        network(stock={(1, "bread"): 1}),
        [Line("bread", 2), Line("milk", 1)],
        local(2026, 12, 2, 10),
        10,
        DEFAULTS,
    )
    assert reasons_of(result) == [
        {"code": "out_of_stock", "skus": ["bread", "milk"]},
        {"code": "not_supplied"},
    ]


def test_express_within_promise_and_reasons():
    settings = {(1, "express"): Settings(prep_minutes=20, cutoff=time(20, 0))}
    net = network(modes=("express",), settings=settings, travel={1: 600})
    option = only_option(plan(net, BREAD, local(2026, 12, 2, 10, 0), 10, DEFAULTS))
    assert (option.ready_at, option.arrive_by) == (
        local(2026, 12, 2, 10, 20),
        local(2026, 12, 2, 10, 30),
    )
    slow = network(modes=("express",), settings=settings, travel={1: 3000})
    assert reasons_of(plan(slow, BREAD, local(2026, 12, 2, 10), 10, DEFAULTS), mode="express") == [
        {"code": "too_slow"}
    ]
    late = plan(net, BREAD, local(2026, 12, 2, 21, 0), 10, DEFAULTS)
    assert reasons_of(late, mode="express") == [{"code": "after_cutoff"}]
    night = plan(net, BREAD, local(2026, 12, 2, 23, 0), 10, DEFAULTS)
    assert reasons_of(night, mode="express") == [{"code": "closed"}, {"code": "after_cutoff"}]
    outside = network(modes=("express",), settings=settings, covers=False, travel={1: 600})
    assert reasons_of(
        plan(outside, BREAD, local(2026, 12, 2, 10), 10, DEFAULTS), mode="express"
    ) == [{"code": "outside_area"}]


def test_options_sorted_by_time_then_distance_then_mode():
    near = SHOP
    far = Site(
        2,
        "far",
        "Far",
        "store",
        SHOP.capabilities,
        "America/New_York",
        "24/7",
        "US",
        distance_m=900.0,
    )
    stock = {(1, "bread"): 5, (2, "bread"): 5}
    settings = {
        (1, "pickup"): Settings(prep_minutes=10),
        (2, "pickup"): Settings(prep_minutes=10),
        (1, "delivery"): Settings(prep_minutes=10),
    }
    net = network(sites=(far, near), stock=stock, settings=settings, modes=("pickup", "delivery"))
    net.candidates = [c for c in net.candidates if not (c.mode == "delivery" and c.site.id == 2)]
    result = plan(net, BREAD, local(2026, 12, 2, 10), 10, DEFAULTS)
    assert [(o.site.external_id, o.mode) for o in result.options] == [
        ("shop", "pickup"),
        ("shop", "delivery"),
        ("far", "pickup"),
    ]
    assert len(plan(net, BREAD, local(2026, 12, 2, 10), 2, DEFAULTS).options) == 2


@pytest.mark.parametrize("text", ["Mo-Fr 08:00-18:00", "25:00", "whenever", "Mo-Fr"])
def test_departures_syntax_is_checked(text):
    with pytest.raises(ValueError):
        collection_times_as_hours(text)
