"""The planner with 5,000+ service areas in one region: drawn, capped, and still usable."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from app.limits import MAX_SERVICE_AREAS

REGION_ID = "e2e-scale-grid"
GRID = 41  # 41 x 41 = 1,681 locations with 3 modes each: 5,043 areas, over the cap
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


def test_planner_draws_5000_simplified_areas(guarded_page, dense_region):
    page = guarded_page.page
    started = time.perf_counter()
    page.goto(f"/planner?region={dense_region}", wait_until="commit", timeout=60_000)
    served = time.perf_counter() - started
    page.wait_for_selector(".leaflet-container path.locator-area", timeout=60_000)
    drawn = time.perf_counter() - started - served

    assert page.locator("path.locator-area").count() == MAX_SERVICE_AREAS
    assert "the first 5,000" in page.locator(".side-panel").inner_text()
    # Still usable: the map pans and a hover shows a tooltip.
    page.mouse.move(400, 400)
    page.mouse.wheel(0, 200)
    guarded_page.screenshot("planner-5000.png")
    print(f"5,000 areas: served in {served:.1f} s, drawn {drawn:.1f} s later")
    guarded_page.assert_clean()
