"""The location page names every code with the picker's label, in English and Chinese:
the same words the picker's filters use, from the one catalogue (app/web/i18n.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.web.i18n import MESSAGES
from tests.e2e.test_planner import click_drawn

# dc-store-0003 (geodata/demo/locations.csv): a store with chilled and frozen storage, and
# a delivery area.
LOCATION = "dc-store-0003"
CODES = ("cold_chain", "frozen", "returns", "accessible")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_location_page_uses_the_picker_s_labels(guarded_page, lang):
    page = guarded_page.page
    t = MESSAGES[lang]
    # "load": the page's own assets (the favicon included) have settled before it is read.
    response = page.goto(f"/locations/{LOCATION}?lang={lang}", wait_until="load")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == lang
    details = page.locator(".location-details")
    services = details.locator("tr", has_text=t["entry.services"]).locator("td")
    shown = services.inner_text()
    for code in CODES:
        assert t[f"capability.{code}"] in shown
    assert "_" not in shown  # no code left raw
    kind = details.locator("tr", has_text=t["location.kind"]).locator("td")
    assert kind.inner_text() == t["kind.store"]
    assert t["status.active"] in details.inner_text()
    assert t["mode.delivery"] in page.locator(".location-areas").inner_text()
    page.wait_for_selector(".leaflet-container path.locator-location", timeout=10_000)
    # The map's legend and layer list too.
    legend = page.locator(".locator-legend-title").inner_text()
    assert legend == t["map.legend"]
    layers = page.locator(".leaflet-control-layers").inner_text()
    assert t["map.layer.areas"].format(mode=t["mode.delivery"], count=1) in layers
    assert t["map.layer.locations"].format(count=1) in layers
    # The map's popup says the same as the table.
    click_drawn(page, "path.locator-location")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    assert t["capability.cold_chain"] in popup.inner_text()
    assert "cold_chain" not in popup.inner_text()
    # Leaflet fades a popup in: the screenshot waits until it is drawn whole.
    expect(page.locator(".leaflet-popup")).to_have_css("opacity", "1")
    guarded_page.screenshot(f"location-{lang}.png")

    # The picker's filters say the same.
    page.goto(f"/?lang={lang}", wait_until="load")
    chip = page.locator("label.chip", has=page.locator("input[value='cold_chain']"))
    # text_content: the filters may sit folded away in their disclosure.
    assert chip.text_content().strip() == t["capability.cold_chain"]
    guarded_page.assert_clean()


def test_the_location_page_links_to_itself_in_the_other_language(guarded_page):
    page = guarded_page.page
    page.goto(f"/locations/{LOCATION}", wait_until="load")
    page.get_by_role("link", name=MESSAGES["en"]["lang.switch"]).click()
    page.wait_for_url(f"**/locations/{LOCATION}?lang=zh-CN")
    page.wait_for_load_state("load")
    heading = page.locator(".side-panel h2").first
    assert heading.inner_text() == MESSAGES["zh-CN"]["location.heading"]
    guarded_page.assert_clean()
