"""The shopper picker with a cart (``cart=milk-1l:2,ice-cream:1``), in headless Chromium.

Each point shows when the whole cart is ready there, or why it cannot take it; express
and delivery options covering the address are shown above the list; the chosen option
goes out in the ``pickupPointSelected`` event and the return URL. What the page shows is
checked against the options API's own answer (captured from the page's requests) and
the message catalogue, in English and Chinese. The cart is evaluated on a Wednesday at
10:00 in Washington (``at``), so the demo's answers do not depend on the hour the tests
run.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest

from app.web import i18n
from tests.e2e.test_shopper import (
    BLANK_ICON,
    CHOOSE,
    ENTRY,
    RECORD_SELECTIONS,
    wait_for_results,
)

NY = ZoneInfo("America/New_York")
OPTIONS = "/api/v1/fulfilment/options"
# Near 20002 (north-east Washington) on the demo: milk and bread are on the shelf at
# some points, come from a warehouse at others, and a store delivers and has express.
CART = "milk-1l:2,bread:1"
FROZEN_CART = "milk-1l:2,bread:1,ice-cream:1"
# The whole cart has been checked: every entry says what the check found.
CART_CHECKED = """() => {
    const entries = [...document.querySelectorAll("#results > li.result")];
    return entries.length > 0
        && document.getElementById("results").getAttribute("aria-busy") === "false"
        && entries.every((entry) => Boolean(entry.dataset.cart));
}"""
WEEKDAYS = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def wednesday_10am() -> datetime:
    """A Wednesday at least two days ahead, 10:00 in Washington (within `at`'s 60 days)."""
    day = datetime.now(NY).date() + timedelta(days=2)
    while day.weekday() != 2:
        day += timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=NY)


def allow_navigation_aborts(guarded) -> None:
    """A static asset the browser drops while the page navigates or closes is not a
    fault of the page; failed API calls still are."""
    guarded.allowed.append(lambda error: "ERR_ABORTED" in error and "/api/" not in error)


def open_cart_page(guarded, lang: str = "en", **params) -> dict:
    """Open the picker with ``params`` and wait until the cart is checked; the options
    API's answers, by the modes asked (``"pickup"``, ``"express,delivery"``)."""
    page = guarded.page
    responses = []
    page.on("response", lambda r: responses.append(r) if OPTIONS in r.url else None)
    page.goto("/?" + urlencode({"lang": lang, **params}))
    page.wait_for_function(CART_CHECKED, timeout=20_000)
    answers = {}
    for response in responses:
        modes = ",".join(json.loads(response.request.post_data)["modes"])
        answers[modes] = response.json()
    return answers


def expected_when(lang: str, prefix: str, iso: str, at: str, **values) -> str:
    """The catalogue's phrase for a moment: ``.today`` with the time when it falls on the
    day of ``at`` (both in the option's own offset), else ``.later`` with the day."""
    messages = i18n.MESSAGES[lang]
    moment = datetime.fromisoformat(iso)
    start = datetime.fromisoformat(at).astimezone(moment.tzinfo)
    hhmm = moment.strftime("%H:%M")
    ahead = (moment.date() - start.date()).days
    if ahead == 0:
        return messages[f"{prefix}.today"].format(time=hhmm, **values)
    if ahead == 1:
        when = messages["when.tomorrow"].format(time=hhmm)
    else:
        assert lang == "en" and ahead < 7, "the demo answers within the week"
        when = messages["when.day"].format(day=WEEKDAYS[lang][moment.weekday()], time=hhmm)
    return messages[f"{prefix}.later"].format(when=when, **values)


def expected_reasons(lang: str, reasons: list[dict], names: dict[str, str]) -> str:
    messages = i18n.MESSAGES[lang]
    texts = []
    for reason in reasons:
        code = reason["code"]
        if code == "out_of_stock":
            items = messages["list.and"].join(names[sku] for sku in reason["skus"])
            texts.append(messages["reason.out_of_stock"].format(items=items))
        elif code == "temperature":
            texts.append(messages[f"reason.temperature.{reason['needs']}"])
        else:
            texts.append(messages[f"reason.{code}"])
    return " · ".join(texts)


def entries_by_external_id(page) -> dict[str, object]:
    entries = page.locator(ENTRY)
    return {
        entries.nth(i).get_attribute("data-external-id"): entries.nth(i)
        for i in range(entries.count())
    }


def check_entries_against(page, lang: str, pickup: dict) -> dict[str, int]:
    """Every listed point shows what the pickup answer says of it; counts by outcome."""
    names = {line["sku"]: line["name"] for line in pickup["cart"]}
    options = {o["location"]["external_id"]: o for o in pickup["options"]}
    excluded = {e["location"]["external_id"]: e for e in pickup["excluded"]}
    assert not options.keys() & excluded.keys()
    seen = {"stock": 0, "transfer": 0, "unavailable": 0}
    for external_id, entry in entries_by_external_id(page).items():
        text = entry.locator(".result-cart").inner_text()
        button = entry.locator(CHOOSE)
        if external_id in options:
            option = options[external_id]
            assert entry.get_attribute("data-cart") == "ready"
            if option["source"] == "transfer":
                expected = expected_when(
                    lang,
                    "cart.transfer",
                    option["ready_at"],
                    pickup["at"],
                    warehouse=option["supplied_from"]["name"],
                )
            else:
                expected = expected_when(lang, "cart.ready", option["ready_at"], pickup["at"])
            assert text == expected, external_id
            assert button.is_enabled()
            seen[option["source"]] += 1
        else:
            assert external_id in excluded, f"{external_id} was not checked"
            assert entry.get_attribute("data-cart") == "unavailable"
            assert text == expected_reasons(lang, excluded[external_id]["reasons"], names)
            assert button.is_disabled()
            assert button.inner_text() == i18n.MESSAGES[lang]["entry.unavailable"]
            seen["unavailable"] += 1
    return seen


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_each_point_says_when_the_cart_is_ready_or_why_not(open_guarded_page, lang):
    guarded = open_guarded_page()
    allow_navigation_aborts(guarded)
    at = wednesday_10am()
    answers = open_cart_page(guarded, lang, q="20002", cart=FROZEN_CART, at=at.isoformat())
    page = guarded.page
    pickup, delivered = answers["pickup"], answers["express,delivery"]
    assert datetime.fromisoformat(pickup["at"]) == at

    # The cart, line by line, with the products' names.
    messages = i18n.MESSAGES[lang]
    lines = page.locator("#cart-lines li").all_inner_texts()
    assert lines == [
        messages["cart.line"].format(qty=line["qty"], name=line["name"]) for line in pickup["cart"]
    ]
    assert [line["name"] for line in pickup["cart"]][2] == "Vanilla ice cream 1 l"

    seen = check_entries_against(page, lang, pickup)
    # The demo near 20002: on the shelf, from a warehouse, and points without a freezer.
    assert seen["stock"] and seen["transfer"] and seen["unavailable"], seen
    if lang == "en":
        assert page.get_by_text("No freezer").count()
        assert page.get_by_text(re.compile(r"^Ready at \d\d:\d\d, sent from ")).count()
        assert page.get_by_text(re.compile(r"^Whole cart ready at \d\d:\d\d$")).count()
    else:
        assert page.get_by_text("无冷冻设施").count()
        assert page.get_by_text(re.compile(r"可取，由.+调货$")).count()

    # Delivery covers the address (no express store here has a freezer).
    shown = page.locator("#delivery-options > li")
    modes = [shown.nth(i).get_attribute("data-mode") for i in range(shown.count())]
    assert modes == [
        m for m in ("express", "delivery") if any(o["mode"] == m for o in delivered["options"])
    ]
    assert "delivery" in modes
    first = next(o for o in delivered["options"] if o["mode"] == "delivery")
    item = page.locator("#delivery-options > li[data-mode=delivery]")
    assert item.locator(".delivery-when").inner_text() == expected_when(
        lang, "delivery.delivery", first["ready_at"], delivered["at"]
    )
    assert first["location"]["name"] in item.locator(".delivery-from").inner_text()

    page.set_viewport_size({"width": 1280, "height": 2000})  # the whole sidebar, to look at
    guarded.screenshot(f"shopper-cart-{lang}.png")
    guarded.assert_clean()


def test_chosen_pickup_goes_out_with_its_ready_time(guarded_page, live_server, monkeypatch):
    page = guarded_page.page
    allow_navigation_aborts(guarded_page)
    done = f"{live_server.url}/checkout-done"
    monkeypatch.setitem(live_server.app.config, "RETURN_URL_ALLOWLIST", [done])
    page.route(
        re.compile(r"/checkout-done(\?|$)"),
        lambda route: route.fulfill(
            content_type="text/html", body=f"<!doctype html>{BLANK_ICON}<title>Done</title>"
        ),
    )
    page.add_init_script(RECORD_SELECTIONS)
    at = wednesday_10am()
    answers = open_cart_page(
        guarded_page, q="20002", cart=CART, at=at.isoformat(), return_url=done, state="s-9"
    )
    transfers = [o for o in answers["pickup"]["options"] if o["source"] == "transfer"]
    listed = entries_by_external_id(page)
    option = next(o for o in transfers if o["location"]["external_id"] in listed)
    entry = listed[option["location"]["external_id"]]
    with page.expect_navigation(url=re.compile(r"/checkout-done\?")):
        entry.locator(CHOOSE).click()

    query = parse_qs(urlsplit(page.url).query)
    assert query["pickup_external_id"] == [option["location"]["external_id"]]
    assert query["fulfilment_mode"] == ["pickup"]
    assert query["fulfilment_source"] == ["transfer"]
    assert query["fulfilment_ready_at"] == [option["ready_at"]]
    assert query["fulfilment_supplied_from"] == [option["supplied_from"]["external_id"]]
    assert query["fulfilment_cart"] == [CART]
    assert "fulfilment_arrive_by" not in query  # pickup has none
    assert query["state"] == ["s-9"]
    detail = json.loads(page.evaluate("sessionStorage.getItem('pp-selected')"))
    assert detail["mode"] == "pickup" and detail["source"] == "transfer"
    assert detail["ready_at"] == option["ready_at"] and detail["arrive_by"] is None
    assert detail["supplied_from"] == option["supplied_from"]
    assert detail["cart"] == [{"sku": "milk-1l", "qty": 2}, {"sku": "bread", "qty": 1}]
    guarded_page.assert_clean()


def test_chosen_express_goes_out_with_its_arrival(guarded_page):
    page = guarded_page.page
    page.add_init_script(RECORD_SELECTIONS)
    at = wednesday_10am()
    answers = open_cart_page(guarded_page, q="20002", cart=CART, at=at.isoformat())
    express = next(o for o in answers["express,delivery"]["options"] if o["mode"] == "express")
    item = page.locator("#delivery-options > li[data-mode=express]")
    assert item.locator(".delivery-when").inner_text() == expected_when(
        "en", "delivery.express", express["arrive_by"], answers["express,delivery"]["at"]
    )
    item.get_by_role("button", name="Choose this delivery").click()
    page.wait_for_function("() => window.__selections.length === 1")
    detail = page.evaluate("window.__selections[0]")
    assert detail["mode"] == "express"
    assert detail["external_id"] == express["location"]["external_id"]
    assert detail["arrive_by"] == express["arrive_by"] and detail["ready_at"] == express["ready_at"]
    assert detail["duration_s"] == express["duration_s"]
    assert "is-chosen" in item.get_attribute("class")
    assert page.locator(f"{ENTRY}.is-chosen").count() == 0
    expected = f"You chose delivery from {express['location']['name']}."
    assert page.locator("#status").inner_text() == expected
    guarded_page.assert_clean()


# Every reason code, on the first listed points, in the API's own shape: the options
# answer is the real one with its exclusions replaced (see synthetic_exclusions).
EVERY_REASON = [
    [{"code": "out_of_stock", "skus": ["milk-1l", "bread"]}, {"code": "not_supplied"}],
    [{"code": "temperature", "needs": "cold_chain"}],
    [{"code": "temperature", "needs": "frozen"}],
    [{"code": "capacity_full"}],
    [{"code": "after_cutoff"}],
    [{"code": "closed"}],
    [{"code": "outside_area"}],
    [{"code": "too_slow"}],
]


def synthetic_exclusions(route):
    """The real pickup answer, with the nearest points excluded for every reason code in
    turn (the rest offered as the API offered them)."""
    response = route.fetch()
    answer = response.json()
    if json.loads(route.request.post_data)["modes"] != ["pickup"]:
        route.fulfill(response=response)
        return
    located = [
        (x["location"]["distance_m"], x["location"]["external_id"], x["location"])
        for x in answer["options"] + answer["excluded"]
    ]
    nearest = [location for _, _, location in sorted(located)][: len(EVERY_REASON)]
    ids = {location["external_id"] for location in nearest}
    answer["options"] = [o for o in answer["options"] if o["location"]["external_id"] not in ids]
    answer["excluded"] = [
        {"location": location, "mode": "pickup", "reasons": reasons}
        for location, reasons in zip(nearest, EVERY_REASON, strict=True)
    ]
    route.fulfill(response=response, json=answer)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_reason_code_has_a_label(guarded_page, lang):
    page = guarded_page.page
    page.route(f"**{OPTIONS}", synthetic_exclusions)
    answers = open_cart_page(
        guarded_page, lang, q="20002", cart=CART, at=wednesday_10am().isoformat()
    )
    names = {line["sku"]: line["name"] for line in answers["pickup"]["cart"]}
    listed = entries_by_external_id(page)
    codes = set()
    for exclusion in answers["pickup"]["excluded"]:
        entry = listed[exclusion["location"]["external_id"]]
        text = entry.locator(".result-cart").inner_text()
        assert text == expected_reasons(lang, exclusion["reasons"], names)
        assert "_" not in text  # a label, never a raw code
        codes |= {r["code"] for r in exclusion["reasons"]}
    assert codes == {
        "out_of_stock",
        "temperature",
        "capacity_full",
        "after_cutoff",
        "closed",
        "outside_area",
        "too_slow",
        "not_supplied",
    }
    if lang == "en":
        assert page.get_by_text("Whole milk 1 l, Sourdough loaf out of stock").count() == 1
    page.set_viewport_size({"width": 1280, "height": 2000})
    guarded_page.screenshot(f"shopper-cart-reasons-{lang}.png")
    guarded_page.assert_clean()


@pytest.mark.parametrize(
    ("lang", "cart", "needle"),
    [
        # Every problem's wording is checked in tests/unit/test_shopper_page.py.
        ("en", "milk-1l:x", "the quantity in “milk-1l:x” must be a whole number from 1 to"),
        ("zh-CN", "milk-1l:2,milk-1l:1", "此链接中的购物车多次列出“milk-1l”"),
    ],
)
def test_a_bad_cart_parameter_is_explained_and_the_page_still_works(
    guarded_page, lang, cart, needle
):
    page = guarded_page.page
    asked = []
    page.on("request", lambda r: asked.append(r.url) if OPTIONS in r.url else None)
    page.goto("/?" + urlencode({"lang": lang, "q": "20002", "cart": cart}))
    notice = page.locator("#cart-rejected")
    assert needle in notice.inner_text()
    assert i18n.MESSAGES[lang]["cart.invalid.suffix"] in notice.inner_text()
    wait_for_results(page)
    assert page.locator("#cart").is_hidden() and asked == []  # no cart, nothing checked
    assert page.locator(f"{ENTRY} {CHOOSE}").first.is_enabled()
    if lang == "en":
        guarded_page.screenshot("shopper-cart-bad-parameter.png")
    guarded_page.assert_clean()


def test_an_unknown_product_is_explained(guarded_page):
    page = guarded_page.page
    # The options API's 400 for the unknown SKU is the answer this test expects.
    guarded_page.allowed.append(lambda error: "400" in error and OPTIONS in error)
    guarded_page.allowed.append(
        lambda error: "status of 400" in error and "fulfilment/options" in error
    )
    page.goto("/?" + urlencode({"q": "20002", "cart": "bread:1,caviar:2"}))
    notice = page.locator("#cart-notice")
    notice.wait_for(state="visible")
    assert notice.inner_text() == (
        "We don't know the product “caviar”, so your cart can't be checked."
    )
    wait_for_results(page)
    # The points are listed, unchecked and still choosable.
    assert page.locator(f"{ENTRY} .result-cart:visible").count() == 0
    assert page.locator(f"{ENTRY} {CHOOSE}").first.is_enabled()
    guarded_page.assert_clean()


def test_the_page_is_unchanged_without_a_cart(guarded_page):
    page = guarded_page.page
    asked = []
    page.on("request", lambda r: asked.append(r.url) if OPTIONS in r.url else None)
    page.add_init_script(RECORD_SELECTIONS)
    page.goto("/?q=20002")
    wait_for_results(page)
    assert page.locator("#cart").is_hidden() and page.locator("#deliveries").is_hidden()
    page.locator(ENTRY).first.locator(CHOOSE).click()
    page.wait_for_function("() => window.__selections.length === 1")
    detail = page.evaluate("window.__selections[0]")
    assert detail["mode"] == "pickup" and "ready_at" not in detail and "cart" not in detail
    assert asked == []
    guarded_page.assert_clean()
