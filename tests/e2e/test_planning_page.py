"""The planner's planning tools in Chromium: demand hexagons, charts, and the what-if tool
(drop a site, see its gain, export the scenario as GeoJSON)."""

from __future__ import annotations

import json
from urllib.request import urlopen

DEMAND = "/api/v1/planning/demand?region=dc&mode=express&demand=demo-orders"


def test_drop_a_site_see_its_gain_and_export_it(guarded_page, live_server):
    page = guarded_page.page
    page.goto("/planner?region=dc")
    page.wait_for_selector("#demand-status:has-text('is covered by')", timeout=60_000)
    # The uncovered demand as hexagons on the map, and a bar per mode in the chart.
    page.wait_for_selector("path.demand-hexagon", timeout=30_000)
    assert page.locator("path.demand-hexagon").count() > 3
    assert page.locator("#demand-chart rect.demand-bar").count() == 3

    # Drop a 1.5 km site on one of the darkest hexagons: it covers the whole hexagon
    # (their edge is some 300 m here), so it gains at least 5/6 of the heaviest one.
    with urlopen(live_server.url + DEMAND) as response:
        uncovered = json.load(response)["modes"]["express"]["uncovered"]
    assert uncovered["hex_edge_m"] < 700
    top = max(cell["properties"]["weight"] for cell in uncovered["hexagons"]["features"])
    page.select_option("#demand-mode", "express")
    page.fill("#whatif-value", "1500")
    page.click("#whatif-drop")
    assert page.get_attribute("#whatif-drop", "aria-pressed") == "true"
    darkest = page.locator("path.demand-hexagon.demand-class-5").first.bounding_box()
    page.mouse.click(darkest["x"] + darkest["width"] / 2, darkest["y"] + darkest["height"] / 2)
    page.wait_for_selector("#whatif-results tr.whatif-row", timeout=30_000)
    page.wait_for_selector("path.whatif-site")
    assert "Together the sites gain" in page.inner_text("#whatif-status")
    gained = float(page.locator("tr.whatif-row td").nth(1).inner_text().replace(",", ""))
    assert gained >= top * 5 / 6
    guarded_page.screenshot("planner-what-if.png")

    with page.expect_download() as download:
        page.click("#whatif-export")
    with open(download.value.path()) as file:
        exported = json.load(file)
    assert exported["type"] == "FeatureCollection"
    [site] = exported["features"]
    assert site["geometry"]["type"] == "MultiPolygon"
    assert site["properties"]["radius_m"] == 1500
    assert round(site["properties"]["demand_gained"], 1) == gained
    assert exported["scenario"]["mode"] == "express"
    assert exported["scenario"]["combined"]["demand_gained"] == site["properties"]["demand_gained"]

    page.click("#demand-regions")
    page.wait_for_selector("#demand-region-chart rect.demand-bar", timeout=60_000)
    assert page.locator("#demand-region-chart rect.demand-bar").count() == 5
    guarded_page.screenshot("planner-demand-regions.png")
    guarded_page.assert_clean()
