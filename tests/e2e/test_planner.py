"""The planner and location pages, drawn by headless Chromium from the demo network."""

from __future__ import annotations

import struct
import urllib.error
import urllib.request

import pytest

DRAWN = "path.leaflet-interactive"


def wait_for_map(page) -> None:
    """Until Leaflet has drawn the overlays (SVG paths) into the map container: areas and
    locations (on the planner they come from vector tiles, each in its own time)."""
    page.wait_for_selector(f".leaflet-container {DRAWN}", timeout=10_000)
    page.wait_for_selector(".leaflet-container path.locator-location", timeout=10_000)


# The centre of a grid cell inside the element that the element itself is on top at, so a
# click lands on it as a user's would (not on a polygon drawn above, nor off-shape).
_VISIBLE_POINT = """
(selector) => {
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    for (let i = 1; i < 10; i++) {
      for (let j = 1; j < 10; j++) {
        const x = box.left + box.width * i / 10, y = box.top + box.height * j / 10;
        if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) continue;
        if (document.elementFromPoint(x, y) === el) return [x, y];
      }
    }
  }
  return null;
}
"""


def click_drawn(page, selector: str) -> None:
    """Click the first drawn shape matching ``selector`` where it is visible."""
    point = page.evaluate(_VISIBLE_POINT, selector)
    assert point, f"no visible {selector}"
    page.mouse.click(*point)


def png_size(path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def http_get(url: str) -> tuple[int, str, bytes]:
    """Status, content type and body, without raising on 4xx."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read()


def test_planner_draws_areas_gaps_and_markers(guarded_page):
    page = guarded_page.page
    page.goto("/planner")
    wait_for_map(page)

    assert page.title().startswith("Planner: ")
    assert page.locator(".leaflet-container").count() == 1
    for mode in ("delivery", "express", "supply"):
        assert page.locator(f"path.locator-area-{mode}").count() > 0, mode
    assert page.locator("path.locator-location").count() > 20
    assert page.locator("path.locator-region").count() == 1
    assert page.locator("path.locator-gap").count() >= 1  # the demo leaves gaps
    assert page.locator("path.locator-overlap").count() == 0  # off until asked for
    # TILE_URL is empty: no base layer (the overlays' vector tiles are not images).
    assert page.locator("img.leaflet-tile").count() == 0

    shot = guarded_page.screenshot("planner.png")
    assert png_size(shot) >= (1280, 800)

    legend = page.locator(".locator-legend")
    assert legend.is_visible()
    assert "Delivery area" in legend.inner_text()
    control = page.locator(".leaflet-control-layers")
    assert control.is_visible()
    control.hover()  # collapsed until hovered or focused
    for name in ("Delivery areas", "Express (1 hour) areas", "Not covered by express", "Locations"):
        assert name in control.inner_text(), name

    # Switching a layer on or off in the layer control adds or removes its polygons.
    control.get_by_text("Express (1 hour) areas").click()
    assert page.locator("path.locator-area-express").count() == 0
    control.hover()
    control.get_by_text("Overlaps (express, 2+ locations)").click()
    assert page.locator("path.locator-overlap-express").count() == 1

    # A location's popup tells its name, kind, hours, status and capabilities.
    click_drawn(page, "path.locator-single")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = popup.inner_text()
    for label in ("Location", "Kind", "Hours", "Status", "Capabilities"):
        assert label in text, label
    assert popup.locator("a[href^='/locations/']").count() == 1
    guarded_page.assert_clean()


def test_planner_region_selector_reloads_the_region(guarded_page):
    page = guarded_page.page
    page.goto("/planner")
    wait_for_map(page)
    select = page.get_by_label("Region", exact=True)
    options = select.locator("option").all_inner_texts()
    assert len(options) == 5
    select.select_option(label=options[-1])
    page.get_by_label("Express (1 hour)", exact=True).uncheck()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/planner?region=*")
    wait_for_map(page)

    assert options[-1] in page.title()
    assert page.get_by_label("Region", exact=True).input_value() in page.url
    assert page.locator("path.locator-area-express").count() == 0
    assert page.locator("path.locator-area-delivery").count() > 0
    guarded_page.assert_clean()


def test_location_page_shows_the_location_and_its_areas(guarded_page):
    page = guarded_page.page
    page.goto("/planner")
    wait_for_map(page)
    # Follow a service area's popup link to the location that owns it.
    click_drawn(page, "path.locator-area-delivery")
    link = page.locator(".leaflet-popup-content a[href^='/locations/']")
    link.wait_for(timeout=5_000)
    name = link.inner_text()
    link.click()
    page.wait_for_url("**/locations/*")
    wait_for_map(page)

    assert page.locator("h1").inner_text() == name
    assert page.locator("path.locator-location").count() == 1
    assert page.locator("path.locator-area-delivery").count() >= 1
    assert "Delivery" in page.locator(".side-panel").inner_text()
    guarded_page.screenshot("location.png")
    guarded_page.assert_clean()


def test_overlays_draw_when_tiles_cannot_load(guarded_page, live_server, monkeypatch):
    # A tile server on loopback that refuses connections (port 9, discard): every tile
    # fails, and the overlays must still be drawn.
    monkeypatch.setitem(live_server.app.config, "TILE_URL", "http://127.0.0.1:9/{z}/{x}/{y}.png")
    guarded_page.allowed.append(lambda error: "127.0.0.1:9/" in error)
    page = guarded_page.page
    page.goto("/planner")
    wait_for_map(page)
    assert page.locator("img.leaflet-tile").count() > 0
    assert page.locator("path.locator-area").count() > 0
    assert page.locator("path.locator-location").count() > 0
    guarded_page.assert_clean()


def test_the_guard_catches_outside_requests_and_console_errors(guarded_page):
    page = guarded_page.page
    page.goto("/planner")
    wait_for_map(page)
    assert guarded_page.problems() == []
    # The app's Content-Security-Policy already stops such a fetch inside its pages, so
    # test the guard from a blank page, which has none.
    page.goto("about:blank")
    page.evaluate("fetch('https://tile.openstreetmap.org/0/0/0.png').catch(() => null)")
    page.evaluate("console.error('boom')")
    page.wait_for_timeout(200)
    assert guarded_page.outside_requests == ["https://tile.openstreetmap.org/0/0/0.png"]
    assert any("boom" in problem for problem in guarded_page.problems())
    with pytest.raises(AssertionError, match="request left 127.0.0.1"):
        guarded_page.assert_clean()
    # This test caused them on purpose; the fixture must not fail it afterwards.
    guarded_page.outside_requests.clear()
    guarded_page.console_errors.clear()


def test_pages_reference_no_other_host(live_server):
    status, content_type, body = http_get(live_server.url + "/planner")
    assert status == 200 and content_type.startswith("text/html")
    html = body.decode()
    for host in ("cdn.", "cdnjs", "jsdelivr", "jquery.com", "bootstrapcdn", "unpkg"):
        assert host not in html, host
    assert 'src="/vendor/leaflet/' in html


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/locations/no-such-location", 404, None),
        ("/planner?region=atlantis", 404, "region"),
        ("/planner?mode=teleport", 400, "mode"),
        ("/vendor/leaflet/0.1/leaflet.js", 404, None),
    ],
)
def test_bad_requests_are_error_pages(live_server, path, status, field):
    """The API's statuses, as pages (tests/e2e/test_error_pages.py has the rest)."""
    got, content_type, body = http_get(live_server.url + path)
    assert got == status
    assert content_type.startswith("text/html")
    assert 'class="error-card' in body.decode()
    if field:
        assert path.split(f"{field}=")[1] in body.decode()  # the page names the value


def test_leaflet_is_served_by_the_app(live_server):
    status, content_type, body = http_get(live_server.url + "/vendor/leaflet/1.9.3/leaflet.js")
    assert status == 200 and "javascript" in content_type
    assert b"Leaflet 1.9.3" in body[:200]
