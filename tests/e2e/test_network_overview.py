"""Before a search, the picker's map shows the network (its extent and its points, from the
app's own location tiles) and a hint, with no base map: never an empty grey box."""

from __future__ import annotations

import math
import re

import pytest
from sqlalchemy import create_engine, text

from app.web.i18n import MESSAGES
from tests.e2e.test_shopper import ENTRY, search

TILE = re.compile(r"/tiles/locations/(\d+)/(\d+)/(\d+)\.mvt")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_map_shows_the_network_before_a_search(guarded_page, e2e_database_url, lang):
    engine = create_engine(e2e_database_url)
    with engine.connect() as connection:
        west, south, east, north = connection.execute(
            text(
                "SELECT min(ST_X(geog::geometry)), min(ST_Y(geog::geometry)),"
                " max(ST_X(geog::geometry)), max(ST_Y(geog::geometry))"
                " FROM locations WHERE status = 'active'"
            )
        ).one()
    engine.dispose()
    page = guarded_page.page
    tiles = []
    page.on("request", lambda r: tiles.extend(TILE.findall(r.url)))
    page.goto(f"/?lang={lang}", wait_until="load")
    hint = page.locator("#map-hint")
    hint.wait_for(state="visible", timeout=10_000)
    assert hint.inner_text() == MESSAGES[lang]["map.hint"]
    # The network's points, drawn from /tiles/locations.
    page.wait_for_selector("#map path.leaflet-interactive, #map svg path", timeout=10_000)
    assert page.locator("#map svg path").count() > 0
    # The view is the network's, not the world: tiles at the network's scale, around it.
    zooms = {int(z) for z, _, _ in tiles}
    assert len(zooms) == 1 and min(zooms) >= 6, zooms
    (zoom,) = zooms
    lon, lat = (west + east) / 2, (south + north) / 2
    x = int((lon + 180) / 360 * 2**zoom)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**zoom)
    assert (str(zoom), str(x), str(y)) in set(tiles)
    guarded_page.screenshot(f"shopper-network-{lang}.png")

    # The first answer replaces the overview.
    search(page, "20002")
    page.wait_for_selector(ENTRY, timeout=15_000)
    assert hint.is_hidden()
    guarded_page.assert_clean()
