"""The planner's planning tools in Chromium: demand hexagons, charts, and the what-if tool
(drop a site, see its gain, export the scenario as GeoJSON)."""

from __future__ import annotations

import json

MAP = "window[document.querySelector('.folium-map').id]"


def test_drop_a_site_see_its_gain_and_export_it(guarded_page):
    page = guarded_page.page
    page.goto("/planner?region=dc")
    page.wait_for_function(
        "document.getElementById('demand-status').textContent.includes('covered')",
        timeout=60_000,
    )
    # The uncovered demand as hexagons on the map, and a bar per mode in the chart.
    page.wait_for_selector("path.demand-hexagon", timeout=30_000)
    assert page.locator("path.demand-hexagon").count() > 3
    assert page.locator("#demand-chart rect.demand-bar").count() == 3

    # Where the heaviest uncovered express demand is: a site there must gain.
    demand = page.evaluate(
        "fetch('/api/v1/planning/demand?region=dc&mode=express&demand=demo-orders')"
        ".then(r => r.json())"
    )
    heaviest = demand["modes"]["express"]["uncovered"]["heaviest"]["features"][0]
    lon, lat = heaviest["geometry"]["coordinates"]
    page.evaluate(f"{MAP}.setView([{lat}, {lon}], 13)")
    page.wait_for_timeout(300)
    point = page.evaluate(f"{MAP}.latLngToContainerPoint([{lat}, {lon}])")
    box = page.locator(".folium-map").bounding_box()

    page.select_option("#demand-mode", "express")
    page.fill("#whatif-value", "1500")
    page.click("#whatif-drop")
    assert page.get_attribute("#whatif-drop", "aria-pressed") == "true"
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_selector("#whatif-results tr.whatif-row", timeout=30_000)
    page.wait_for_selector("path.whatif-site")
    row = page.locator("#whatif-results tr.whatif-row").first.inner_text()
    status = page.inner_text("#whatif-status")
    assert "Together the sites gain" in status
    gained = float(page.locator("tr.whatif-row td").nth(1).inner_text().replace(",", ""))
    assert gained >= heaviest["properties"]["weight"], row
    guarded_page.screenshot("planner-what-if.png")

    with page.expect_download() as download:
        page.click("#whatif-export")
    exported = json.loads(open(download.value.path()).read())
    assert exported["type"] == "FeatureCollection"
    [site] = exported["features"]
    assert site["geometry"]["type"] == "MultiPolygon"
    assert site["properties"]["radius_m"] == 1500
    assert site["properties"]["demand_gained"] == gained or abs(
        site["properties"]["demand_gained"] - gained
    ) < 0.05
    assert exported["scenario"]["mode"] == "express"
    assert exported["scenario"]["combined"]["demand_gained"] == site["properties"]["demand_gained"]

    page.click("#demand-regions")
    page.wait_for_selector("#demand-region-chart rect.demand-bar", timeout=60_000)
    assert page.locator("#demand-region-chart rect.demand-bar").count() == 5
    guarded_page.screenshot("planner-demand-regions.png")
    guarded_page.assert_clean()
