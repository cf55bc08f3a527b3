"""The folium maps, rendered without a browser or a database, and their content checked."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from app import maps

ASSETS = maps.MapAssets(leaflet_js="/vendor/leaflet/x/leaflet.js", leaflet_css="/vendor/l.css")
NO_TILES = maps.Tiles(url="", attribution="")
# A Monday, 15:00 in Washington.
AT = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


def square(west, south, size=0.1) -> str:
    ring = [
        [west, south],
        [west + size, south],
        [west + size, south + size],
        [west, south + size],
        [west, south],
    ]
    return json.dumps({"type": "MultiPolygon", "coordinates": [[ring]]})


def location(external_id="dc-1", name="Corner Shop", kind="convenience_store", **extra):
    row = {
        "external_id": external_id,
        "name": name,
        "kind": kind,
        "lat": 38.9,
        "lon": -77.03,
        "opening_hours": "Mo-Su 08:00-20:00",
        "timezone": "America/New_York",
        "country": "US",
        "status": "active",
        "capabilities": ["pickup", "cold_chain"],
    }
    return row | extra


def area(area_id, mode, west=-77.1, south=38.85, **extra):
    row = {
        "id": area_id,
        "mode": mode,
        "source": "radius",
        "radius_m": 5000.0,
        "location_external_id": "dc-1",
        "location_name": "Corner Shop",
        "location_kind": "convenience_store",
        "geometry": square(west, south),
    }
    return row | extra


REGION = {"region_id": "dc", "name": "District", "geometry": square(-77.2, 38.8, 0.3)}
COVERAGE = {
    "delivery": {"uncovered": square(-77.2, 38.8, 0.05), "overlaps": square(-77.1, 38.9, 0.02)},
    "express": {
        "uncovered": json.dumps({"type": "MultiPolygon", "coordinates": []}),
        "overlaps": None,
    },
}


def render(fmap) -> str:
    parts = maps.render_parts(fmap)
    return "\n".join([parts.header, parts.html, parts.script])


VECTOR_TILES = maps.VectorTiles(
    locations_url="/tiles/locations/{z}/{x}/{y}.mvt",
    areas_url="/tiles/service_areas/{z}/{x}/{y}.mvt",
    location_url_prefix="/locations/",
    max_zoom=22,
    scripts=(("vectorgrid", "/vendor/vg.js"), ("planner_tiles", "/assets/web/planner-tiles.js")),
)


def planner(**overrides) -> str:
    arguments = {
        "region": REGION,
        "coverage": COVERAGE,
        "modes": ["delivery", "express"],
        "assets": ASSETS,
        "tiles": NO_TILES,
        "vector_tiles": VECTOR_TILES,
        "bbox": None,
    }
    return render(maps.planner_map(**(arguments | overrides)))


def test_latlon_is_the_one_flip():
    assert maps.latlon(-77.03, 38.9) == [38.9, -77.03]
    assert maps.leaflet_bounds((-77.2, 38.8, -76.9, 39.1)) == [[38.8, -77.2], [39.1, -76.9]]


def test_bbox_of_walks_any_depth_and_ignores_empty():
    point = {"type": "Point", "coordinates": [1.5, 2.5]}
    assert maps.bbox_of([square(0, 0, 1), point]) == (0, 0, 1.5, 2.5)
    assert maps.bbox_of([json.dumps({"type": "MultiPolygon", "coordinates": []})]) is None
    assert maps.bbox_of([]) is None


def test_planner_loads_only_the_apps_own_assets():
    html = planner()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    scripts = {url for _, url in VECTOR_TILES.scripts}
    assert set(urls) == {ASSETS.leaflet_js, ASSETS.leaflet_css, *scripts}
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    for library in ("jquery", "bootstrap", "awesome-markers", "font-awesome", "fontawesome"):
        assert library not in html.lower(), library


def test_planner_draws_a_layer_per_mode_with_gaps_region_and_locations():
    html = planner()
    assert "L.control.layers(" in html
    for overlay in (
        "Delivery areas",
        "Express (1 hour) areas",
        "Not covered by delivery",
        "Overlaps (delivery, 2+ locations)",
        "Region: District",
        "Locations",
    ):
        assert f'"{overlay}"' in html, overlay
    # Express is fully covered here (empty geometry) and has no overlaps: no layer.
    assert "Not covered by express" not in html
    assert "Overlaps (express" not in html
    assert "locator-gap locator-gap-delivery" in html
    assert "url(#locator-hatch)" in html and 'id="locator-hatch"' in html
    assert "L.tileLayer" not in html  # no TILE_URL: no base layer


def test_planner_draws_areas_and_locations_from_the_vector_tiles():
    html = planner()
    # One tile layer per mode asked for, and one of locations: no geometry in the page.
    assert html.count("locatorTiles.areas(") == 2
    assert "/tiles/service_areas/{z}/{x}/{y}.mvt?mode=delivery" in html
    assert "/tiles/service_areas/{z}/{x}/{y}.mvt?mode=express" in html
    assert "?mode=supply" not in html
    assert html.count("locatorTiles.locations(") == 1
    assert "/tiles/locations/{z}/{x}/{y}.mvt" in html
    assert '"#6a3d9a"' in html  # the kinds' colours go to the tile script


def test_planner_fits_the_data_extent_or_the_region_in_lat_lon_order():
    def fitted(html):
        fit = re.search(r"fitBounds\(\s*(\[\[.*?\]\])", html, re.S)
        (south, west), (north, east) = json.loads(fit.group(1))
        return south, west, north, east

    assert fitted(planner()) == pytest.approx((38.8, -77.2, 39.1, -76.9))
    extent = (-124.0, 25.0, -67.0, 49.0)
    assert fitted(planner(bbox=extent)) == pytest.approx((25.0, -124.0, 49.0, -67.0))
    assert fitted(planner(region=None)) == pytest.approx((-50.0, -170.0, 70.0, 170.0))


def test_text_from_the_database_is_escaped_before_leaflet_sees_it():
    evil = '<img src=x onerror="alert(1)">'
    html = planner(region=REGION | {"name": evil})
    # Leaflet uses innerHTML: no raw tag may reach it, only escaped text. (The tiles'
    # text is put in the page with textContent by static/planner-tiles.js.)
    assert "<img" not in html
    assert "onerror" in html  # the text is still there, made harmless
    html = render(
        maps.location_map(
            location=location(name=evil),
            service_areas=[area(1, "delivery", location_name=evil)],
            assets=ASSETS,
            tiles=NO_TILES,
            at=AT,
        )
    )
    assert "<img" not in html and "onerror" in html
    assert "\\u0026lt;img" in html  # "&lt;img", JSON-encoded for the <script>


def test_a_configured_tile_layer_carries_its_attribution():
    tiles = maps.Tiles(url="http://127.0.0.1:8080/{z}/{x}/{y}.png", attribution="Local tiles")
    html = planner(tiles=tiles)
    assert "L.tileLayer" in html
    assert "http://127.0.0.1:8080/{z}/{x}/{y}.png" in html
    assert "Local tiles" in html


def test_the_page_keeps_its_own_viewport():
    parts = maps.render_parts(
        maps.location_map(
            location=location(), service_areas=[], assets=ASSETS, tiles=NO_TILES, at=AT
        )
    )
    assert 'name="viewport"' not in parts.header
    assert "user-scalable=no" not in parts.header


def test_location_map_shows_its_areas_and_fits_them():
    html = render(
        maps.location_map(
            location=location(),
            service_areas=[area(1, "delivery"), area(2, "express", west=-77.0, south=38.9)],
            assets=ASSETS,
            tiles=NO_TILES,
            at=AT,
        )
    )
    assert '"Delivery areas (1)"' in html and '"Express (1 hour) areas (1)"' in html
    assert '"Supply' not in html
    assert '"Locations (1)"' in html
    fit = re.search(r"fitBounds\(\s*(\[\[.*?\]\])", html, re.S)
    (south, west), (north, east) = json.loads(fit.group(1))
    assert (south, west, north, east) == pytest.approx((38.85, -77.1, 39.0, -76.9))


def test_location_without_areas_opens_around_it():
    html = render(
        maps.location_map(
            location=location(), service_areas=[], assets=ASSETS, tiles=NO_TILES, at=AT
        )
    )
    assert "fitBounds" not in html
    assert re.search(r"center: \[38\.9, -77\.03\]", html)
    assert '"zoom": 15' in html


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({}, "Open, closes Mon 20:00"),
        ({"opening_hours": "Mo-Su 16:00-20:00"}, "Closed, opens Mon 16:00"),
        ({"opening_hours": None}, "Unknown"),
        ({"status": "temporarily_closed"}, "Temporarily closed"),
    ],
)
def test_opening_summary(row, expected):
    assert maps.opening_summary(location(**row), AT) == expected
