"""The planner with 5,000+ service areas in one region, drawn from vector tiles at every
zoom, national to street level, with no cap and nothing embedded in the page."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

REGION_ID = "e2e-scale-grid"
GRID = 41  # 41 x 41 = 1,681 locations with 3 modes each: 5,043 areas
STEP_DEG = 0.02  # about 2 km between locations; 1.5 km radii overlap their 4 neighbours

_SETUP = [
    f"""
    INSERT INTO locations (external_id, name, kind, timezone, opening_hours, status,
                           capabilities, geog)
    SELECT 'e2e-scale-' || i || '-' || j, 'Grid ' || i || '/' || j, 'store', 'UTC', '24/7',
           'active', ARRAY['pickup', 'delivery'],
           ST_SetSRID(ST_MakePoint(20 + i * {STEP_DEG}, 10 + j * {STEP_DEG}), 4326)::geography
    FROM generate_series(0, {GRID - 1}) AS i, generate_series(0, {GRID - 1}) AS j
    """,
    """
    INSERT INTO service_areas (location_id, mode, geom, source, radius_m, center)
    SELECT l.id, m.mode, ST_Multi(ST_Buffer(l.geog, 1500, 32)::geometry), 'radius', 1500, l.geog
    FROM locations AS l
    CROSS JOIN unnest(ARRAY['delivery', 'express', 'supply']) AS m(mode)
    WHERE l.external_id LIKE 'e2e-scale-%'
    """,
    f"""
    INSERT INTO regions (region_id, name, geom)
    VALUES ('{REGION_ID}', 'Zz synthetic grid',
            ST_Multi(ST_MakeEnvelope(20, 10, {20 + (GRID - 1) * STEP_DEG},
                                     {10 + (GRID - 1) * STEP_DEG}, 4326)))
    """,
]
_TEARDOWN = [
    f"DELETE FROM regions WHERE region_id = '{REGION_ID}'",
    "DELETE FROM locations WHERE external_id LIKE 'e2e-scale-%'",  # areas cascade
]


@pytest.fixture
def dense_region(e2e_database_url):
    """5,043 service areas in a region of their own, removed again after the test."""
    engine = create_engine(e2e_database_url)
    try:
        with engine.begin() as connection:
            for statement in _SETUP:
                connection.execute(text(statement))
        yield REGION_ID
    finally:
        with engine.begin() as connection:
            for statement in _TEARDOWN:
                connection.execute(text(statement))
        engine.dispose()


# The map object folium made (its variable is named map_<hash>).
_MAP = "Object.values(window).find((v) => v instanceof L.Map)"


def drawn_after_zoom(page, lat: float, lon: float, zoom: int) -> tuple[int, int]:
    """Set the view, wait until every tile of it has loaded, and count what is drawn."""
    page.evaluate(
        f"""([lat, lon, zoom]) => new Promise((done) => {{
            const map = {_MAP};
            map.setView([lat, lon], zoom, {{animate: false}});
            const layers = [];
            map.eachLayer((layer) => {{ if (layer instanceof L.VectorGrid) layers.push(layer); }});
            const waiting = layers.filter((layer) => layer.isLoading());
            if (!waiting.length) return done();
            let left = waiting.length;
            waiting.forEach((layer) => layer.once("load", () => {{ if (--left === 0) done(); }}));
        }})""",
        [lat, lon, zoom],
    )
    return (
        page.locator("path.locator-area").count(),
        page.locator("path.locator-location").count(),
    )


def test_planner_draws_every_area_from_tiles_at_every_zoom(guarded_page, dense_region):
    page = guarded_page.page
    response = page.goto(f"/planner?region={dense_region}", timeout=60_000)
    # The page carries the region and its gaps, never the areas or locations themselves.
    html = response.text()
    assert "e2e-scale-1-" not in html and "Grid 1/1" not in html
    page.wait_for_selector(".leaflet-container path.locator-area", timeout=60_000)
    centre = (10 + GRID * STEP_DEG / 2, 20 + GRID * STEP_DEG / 2)
    counts = {}
    for zoom in (4, 8, 10, 12, 14, 16):
        counts[zoom] = drawn_after_zoom(page, *centre, zoom)
        if zoom in (4, 10, 16):
            guarded_page.screenshot(f"planner-scale-z{zoom}.png")
    # Locations (clustered below zoom 12) are drawn at every step, national to street
    # level; areas from the zoom where they are a pixel or more across (3 km wide, they
    # are a third of a pixel at zoom 4, and tiles leave out what cannot be seen).
    assert all(points > 0 for _, points in counts.values()), counts
    assert all(areas > 0 for zoom, (areas, _) in counts.items() if zoom >= 8), counts
    # At zoom 10 the whole grid is in view: every one of its 5,043 areas is drawn (tiles
    # overlap, so an area crossing a tile edge is drawn once per tile).
    assert counts[10][0] >= GRID * GRID * 3, counts
    # Still usable: hovering an area shows its tooltip.
    page.mouse.move(640, 420)
    page.mouse.move(645, 425)
    page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
    guarded_page.assert_clean()
