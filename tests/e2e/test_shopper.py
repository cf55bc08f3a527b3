"""The shopper's pickup picker at /, driven by headless Chromium against the demo network."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.e2e.test_planner import png_size

ENTRY = "#results > li.result"
CHOOSE = "button.choose"
# Every selection a page makes, kept in sessionStorage too so it survives the redirect.
RECORD_SELECTIONS = """
window.__selections = [];
window.addEventListener("pickupPointSelected", (event) => {
  window.__selections.push(event.detail);
  sessionStorage.setItem("pp-selected", JSON.stringify(event.detail));
});
"""
WHITE_HOUSE = {"latitude": 38.8977, "longitude": -77.0365}
DISTANCE = re.compile(r"^(\d+ m|\d+\.\d km)$")
BLANK_ICON = '<link rel="icon" href="data:,">'  # keeps Chromium from asking for /favicon.ico


def wait_for_results(page, minimum: int = 1) -> None:
    """Until the list holds at least ``minimum`` entries and no search is running."""
    page.wait_for_function(
        """(minimum) => document.querySelectorAll("#results > li.result").length >= minimum
            && document.getElementById("results").getAttribute("aria-busy") === "false" """,
        arg=minimum,
        timeout=10_000,
    )


def search(page, query: str):
    """Type ``query`` into the search box and submit it; returns the pickup-points JSON."""
    page.fill("#search-input", query)
    with page.expect_response(lambda r: "/api/v1/pickup-points" in r.url) as answer:
        page.press("#search-input", "Enter")
    wait_for_results(page)
    return answer.value.json()


MARKER_TOTAL = """() => document.querySelectorAll(".pp-marker").length
    + [...document.querySelectorAll(".marker-cluster span")]
        .reduce((sum, span) => sum + Number(span.textContent), 0)"""


def wait_for_markers(page, count: int) -> None:
    """Until the map shows ``count`` points: single markers plus what the clusters hold.

    While clusters animate, a marker and its cluster are briefly both in the DOM.
    """
    page.wait_for_function(f"(count) => ({MARKER_TOTAL})() === count", arg=count, timeout=5_000)


def test_postcode_search_shows_list_and_markers(guarded_page):
    page = guarded_page.page
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("combobox", name="Address, postcode or town").is_visible()
    assert page.locator("#map").get_attribute("aria-label")

    body = search(page, "20001")
    results = body["results"]
    entries = page.locator(ENTRY)
    assert entries.count() == len(results) > 5
    assert "20001" in page.locator("#status").inner_text()
    wait_for_markers(page, len(results))
    assert page.locator(".leaflet-tile").count() == 0  # TILE_URL is empty: markers alone

    for index, point in enumerate(results):
        entry = entries.nth(index)
        assert entry.get_attribute("data-external-id") == point["external_id"]
        assert entry.locator(".result-name").inner_text() == point["name"]
        distance = entry.locator(".distance-value").inner_text()
        assert DISTANCE.match(distance), distance
        assert point["address"]["line1"] in entry.locator(".result-address").inner_text()
        assert entry.locator(".result-hours").inner_text()
    # Metres below 1 km, kilometres with one decimal above.
    first = results[0]["distance_m"]
    assert entries.first.locator(".distance-value").inner_text() == f"{round(first)} m"

    # Hovering an entry lights its marker (or the cluster it is in) ...
    entries.nth(0).hover()
    assert page.locator(".pp-marker.is-active, .marker-cluster.is-active").count() == 1
    # ... and clicking a marker scrolls its entry into view and lights it.
    marker = page.locator(".pp-marker").last
    marker_id = marker.get_attribute("data-id")
    marker.click()
    target = page.locator(f"#result-{marker_id}")
    page.wait_for_function(
        """(id) => {
            const box = document.getElementById("result-" + id).getBoundingClientRect();
            return box.top >= 0 && box.bottom <= innerHeight;
        }""",
        arg=marker_id,
    )
    assert "is-highlighted" in target.get_attribute("class")

    shot = guarded_page.screenshot("shopper-desktop.png")
    assert png_size(shot) == (1280, 800)  # the sidebar scrolls; the page does not
    guarded_page.assert_clean()


def test_open_now_filter_shows_only_open_points(guarded_page):
    page = guarded_page.page
    page.goto("/?q=20001")
    wait_for_results(page)
    with page.expect_response(lambda r: "open_now=true" in r.url) as answer:
        page.get_by_label("Open now").check()
    wait_for_results(page)
    results = answer.value.json()["results"]
    assert results, "the demo's 24/7 lockers are always open"
    assert all(point["is_open"] for point in results)
    entries = page.locator(ENTRY)
    assert entries.count() == len(results)
    for index in range(entries.count()):
        entry = entries.nth(index)
        assert entry.get_attribute("data-open") == "open"
        assert entry.locator(".result-hours").inner_text().startswith("Open")
    guarded_page.assert_clean()


def test_filters_send_kinds_and_capabilities(guarded_page):
    page = guarded_page.page
    page.goto("/?q=20001")
    wait_for_results(page)
    page.locator("#filters summary").click()
    with page.expect_response(lambda r: "kind=locker" in r.url) as answer:
        page.get_by_label("Parcel locker").check()
    wait_for_results(page)
    assert {p["kind"] for p in answer.value.json()["results"]} == {"locker"}
    assert "1 filter on" in page.locator("#filters-count").inner_text()
    with page.expect_response(lambda r: "capability=cold_chain" in r.url):
        page.get_by_label("Chilled goods").check()
    page.wait_for_function("() => document.getElementById('results').ariaBusy === 'false'")
    for services in page.locator(ENTRY + " .result-services").all_inner_texts():
        assert "Chilled goods" in services
    guarded_page.assert_clean()


def test_show_more_appends_the_next_page(guarded_page):
    page = guarded_page.page
    page.goto("/?q=20001")
    wait_for_results(page)
    first_page = page.locator(ENTRY).count()
    with page.expect_response(lambda r: "cursor=" in r.url):
        page.get_by_role("button", name="Show more").click()
    wait_for_results(page, first_page + 1)
    entries = page.locator(ENTRY)
    assert entries.nth(first_page).locator(".result-number").inner_text() == str(first_page + 1)
    ids = [entries.nth(i).get_attribute("data-id") for i in range(entries.count())]
    assert len(set(ids)) == len(ids)  # no point twice
    wait_for_markers(page, len(ids))
    guarded_page.assert_clean()


def test_choosing_dispatches_event_and_returns_to_allowed_url(
    guarded_page, live_server, monkeypatch
):
    page = guarded_page.page
    done = f"{live_server.url}/checkout-done"
    monkeypatch.setitem(live_server.app.config, "RETURN_URL_ALLOWLIST", [done])
    page.route(
        re.compile(r"/checkout-done(\?|$)"),
        lambda route: route.fulfill(
            content_type="text/html", body=f"<!doctype html>{BLANK_ICON}<title>Done</title>"
        ),
    )
    page.add_init_script(RECORD_SELECTIONS)
    page.goto("/?" + urlencode({"q": "20001", "return_url": f"{done}?order=42", "state": "s-7"}))
    wait_for_results(page)
    assert page.locator("#return-rejected").count() == 0

    entry = page.locator(ENTRY).nth(1)
    external_id = entry.get_attribute("data-external-id")
    name = entry.locator(".result-name").inner_text()
    with page.expect_navigation(url=re.compile(r"/checkout-done\?")):
        entry.locator(CHOOSE).click()

    query = parse_qs(urlsplit(page.url).query)
    assert query["order"] == ["42"]  # the checkout's own parameters are kept
    assert query["pickup_external_id"] == [external_id]
    assert query["pickup_name"] == [name]
    assert query["state"] == ["s-7"]
    assert {"pickup_id", "pickup_kind", "pickup_lat", "pickup_lon", "pickup_address"} <= set(query)
    detail = json.loads(page.evaluate("sessionStorage.getItem('pp-selected')"))
    assert detail["external_id"] == external_id and detail["name"] == name
    assert {"id", "lat", "lon", "kind", "address", "distance_m", "capabilities"} <= set(detail)
    assert float(query["pickup_lat"][0]) == detail["lat"]
    guarded_page.assert_clean()


def test_disallowed_return_url_is_not_followed(guarded_page, live_server, monkeypatch):
    page = guarded_page.page
    monkeypatch.setitem(
        live_server.app.config, "RETURN_URL_ALLOWLIST", f"{live_server.url}/checkout-done"
    )
    page.add_init_script(RECORD_SELECTIONS)
    for return_url in (
        "https://evil.example/steal",
        f"{live_server.url}/planner",  # the right origin, but not an allowed path
        f"{live_server.url}/checkout-done/../planner",
    ):
        page.goto("/?" + urlencode({"q": "20001", "return_url": return_url}))
        wait_for_results(page)
        assert page.locator("#return-rejected").is_visible()
        start = page.url
        page.locator(ENTRY).first.locator(CHOOSE).click()
        page.wait_for_function("() => window.__selections.length === 1")
        page.wait_for_timeout(200)  # a redirect would have started by now
        assert page.url == start
        assert page.locator("#status").inner_text().startswith("You chose ")
    guarded_page.assert_clean()


def test_keyboard_only_selection(guarded_page):
    page = guarded_page.page
    page.add_init_script(RECORD_SELECTIONS)
    page.goto("/")
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "search-input":
            break
    assert page.evaluate("document.activeElement.id") == "search-input"

    page.keyboard.type("2000")
    options = page.locator("#suggestions [role=option]")
    options.first.wait_for()
    assert page.locator("#search-input").get_attribute("aria-expanded") == "true"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    active = page.locator("#search-input").get_attribute("aria-activedescendant")
    assert active == options.nth(1).get_attribute("id")
    assert options.nth(1).get_attribute("aria-selected") == "true"
    # DC postcodes: the network is around each, and the suggestion says so.
    assert options.nth(1).locator(".near-network").inner_text() == "Pickup points nearby"
    label = options.nth(1).locator(".place-label").inner_text()
    page.keyboard.press("Enter")
    wait_for_results(page)
    assert page.locator("#search-input").input_value() == label
    assert label in page.locator("#status").inner_text()

    # Tab on to the first "Choose" button; focus shows, and lights the entry's marker.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('choose')"):
            break
    first_id = page.locator(ENTRY).first.get_attribute("data-id")
    assert page.evaluate("document.activeElement.closest('li').dataset.id") == first_id
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert page.locator(
        f".pp-marker.is-active[data-id='{first_id}'], .marker-cluster.is-active"
    ).count()

    page.keyboard.press("Tab")
    second = page.locator(ENTRY).nth(1)
    page.keyboard.press("Space")
    page.wait_for_function("() => window.__selections.length === 1")
    detail = page.evaluate("window.__selections[0]")
    assert detail["external_id"] == second.get_attribute("data-external-id")
    assert "is-chosen" in second.get_attribute("class")
    page.keyboard.press("Enter")  # the same point again, from the same focused button
    page.wait_for_function("() => window.__selections.length === 2")
    guarded_page.assert_clean()


def test_use_my_location(open_guarded_page):
    guarded = open_guarded_page(permissions=["geolocation"], geolocation=WHITE_HOUSE)
    page = guarded.page
    page.goto("/")
    with page.expect_response(lambda r: "/api/v1/pickup-points" in r.url) as answer:
        page.get_by_role("button", name="Use my location").click()
    assert "lat=38.8977" in answer.value.url and "lon=-77.0365" in answer.value.url
    wait_for_results(page)
    assert "your location" in page.locator("#status").inner_text()
    guarded.assert_clean()


def test_refused_location_gets_a_polite_message(open_guarded_page):
    guarded = open_guarded_page()  # no geolocation permission: Chromium refuses
    page = guarded.page
    page.goto("/")
    page.get_by_role("button", name="Use my location").click()
    message = page.locator("#locate-message")
    message.get_by_text("won't use your location").wait_for()
    assert "Type an address or postcode" in message.inner_text()
    assert page.evaluate("document.activeElement.id") == "search-input"
    assert page.locator(ENTRY).count() == 0
    guarded.assert_clean()


def test_api_failure_shows_message_and_retry_works(guarded_page):
    page = guarded_page.page
    guarded_page.allowed.append(lambda error: "503" in error)  # the outage we stage

    def outage(route):
        route.fulfill(
            status=503,
            headers={"Retry-After": "1"},
            content_type="application/problem+json",
            body=json.dumps(
                {
                    "type": "about:blank",
                    "title": "Service Unavailable",
                    "status": 503,
                    "detail": "database unavailable",
                    "errors": [],
                }
            ),
        )

    page.route("**/api/v1/pickup-points*", outage)
    page.goto("/?q=20001")
    alert = page.get_by_role("alert")
    alert.get_by_text("can't load pickup points").wait_for()
    assert page.locator(ENTRY).count() == 0

    page.unroute("**/api/v1/pickup-points*", outage)
    page.get_by_role("button", name="Try again").click()
    wait_for_results(page)
    assert page.get_by_role("alert").count() == 0
    guarded_page.assert_clean()


def test_ambiguous_query_offers_candidates_then_widens(guarded_page):
    page = guarded_page.page
    page.goto("/")
    page.fill("#search-input", "Portland")
    page.press("#search-input", "Enter")
    candidates = page.locator("#message button.candidate")
    candidates.first.wait_for()
    labels = candidates.all_inner_texts()
    assert len([label for label in labels if label.startswith("Portland, ")]) > 1
    assert page.locator("#message .near-network").count() == 0  # none is near the network
    assert "Which “Portland” did you mean?" in page.locator("#message").inner_text()

    # No demo point is near any Portland: the empty state offers a wider search.
    with page.expect_response(lambda r: "/api/v1/pickup-points" in r.url) as answer:
        candidates.first.click()
    assert "radius=25000" in answer.value.url
    widen = page.locator("#widen")
    widen.wait_for()
    assert widen.inner_text() == "Search within 50 km"
    with page.expect_response(lambda r: "radius=50000" in r.url):
        widen.click()
    page.get_by_role("button", name="Search within 100 km").wait_for()
    guarded_page.assert_clean()


def test_chinese_by_query_parameter(guarded_page):
    page = guarded_page.page
    page.goto("/?lang=zh-CN&q=20001")
    wait_for_results(page)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "选择自提点"
    assert "个自提点" in page.locator("#status").inner_text()
    assert page.locator(ENTRY).first.locator(CHOOSE).inner_text() == "选择此自提点"
    assert re.search(
        r"(米|公里)$", page.locator(ENTRY).first.locator(".result-distance").inner_text()
    )
    wait_for_markers(page, page.locator(ENTRY).count())
    guarded_page.screenshot("shopper-zh.png")
    guarded_page.assert_clean()


def test_chinese_by_accept_language(open_guarded_page):
    guarded = open_guarded_page(locale="zh-CN")
    page = guarded.page
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("button", name="使用我的位置").is_visible()
    # The switch keeps the page's parameters and flips the language.
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    guarded.assert_clean()


def test_mobile_layout(open_guarded_page):
    guarded = open_guarded_page(viewport={"width": 390, "height": 844}, has_touch=True)
    page = guarded.page
    page.goto("/?q=20001")
    wait_for_results(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    map_box = page.locator("#map").bounding_box()
    list_box = page.locator("#results").bounding_box()
    assert map_box["height"] > 200 and map_box["y"] < list_box["y"]  # map above the list
    wait_for_markers(page, page.locator(ENTRY).count())
    shot = guarded.screenshot("shopper-mobile.png")
    assert png_size(shot)[0] == 390
    guarded.assert_clean()


def test_embedded_page_posts_selection_to_its_parent(guarded_page, live_server, monkeypatch):
    page = guarded_page.page
    monkeypatch.setitem(live_server.app.config, "RETURN_URL_ALLOWLIST", live_server.url)
    picker = "/?" + urlencode({"embed": "1", "q": "20001", "parent_origin": live_server.url})
    host = (
        f"<!doctype html>{BLANK_ICON}<title>Checkout</title>"
        f'<iframe src="{picker}" title="Pickup" width="900" height="700"></iframe>'
    )
    page.route(
        re.compile(r"/embed-host$"),
        lambda route: route.fulfill(content_type="text/html", body=host),
    )
    page.add_init_script(
        """window.__messages = [];
        window.addEventListener("message", (event) => {
          window.__messages.push({ origin: event.origin, data: event.data });
        });"""
    )
    page.goto("/embed-host")
    frame = page.frame_locator("iframe")
    frame.locator(ENTRY).first.wait_for()
    assert frame.locator(".site-header").count() == 0  # no chrome inside a frame
    external_id = frame.locator(ENTRY).first.get_attribute("data-external-id")
    frame.locator(ENTRY).first.locator(CHOOSE).click()
    page.wait_for_function("() => window.__messages.length > 0")
    message = page.evaluate("window.__messages[0]")
    assert message["origin"] == live_server.url
    assert message["data"]["type"] == "pickupPointSelected"
    assert message["data"]["point"]["external_id"] == external_id
    guarded_page.assert_clean()
