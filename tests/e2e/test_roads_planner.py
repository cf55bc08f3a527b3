"""The planner draws drive-time areas and the drive-time partition (Chromium, Baltimore).

A server of this module's own, on a database with the shipped Baltimore network, its
shops, and 10-minute express drive-time areas for the supermarkets: the shared e2e
database (the DC demo) stays as the other page tests expect it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from app.cli import load_demo_roads
from tests.e2e.conftest import e2e_settings, serve_app


@pytest.fixture(scope="module")
def live_server(clone_database, tmp_path_factory):
    """Overrides the session's server for this module: the Baltimore roads demo."""
    with clone_database("locator_e2e_roads") as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                _, shops, areas = load_demo_roads(connection)
                assert shops.applied and areas.applied and areas.created >= 5
        finally:
            engine.dispose()
        settings = e2e_settings(url, STATEMENT_TIMEOUT_MS=60_000)
        instance = tmp_path_factory.mktemp("e2e-roads-instance")
        with serve_app(settings, instance, "e2e-roads") as server:
            yield server


def test_the_planner_draws_drive_time_areas_and_the_partition(guarded_page):
    page = guarded_page.page
    page.goto("/planner?mode=express&partition=express&partition_drive_time_s=300")
    # The drive-time areas come through the express vector tiles, the partition inline.
    page.wait_for_selector(".leaflet-container path.locator-partition", timeout=60_000)
    page.wait_for_selector(".leaflet-container path.leaflet-interactive", timeout=30_000)
    pieces = page.locator("path.locator-partition").count()
    assert pieces >= 5
    layers = page.locator(".leaflet-control-layers-overlays").inner_text()
    assert "Fastest by car (Express (1 hour), 5 min)" in layers
    assert "Express (1 hour) areas" in layers
    guarded_page.screenshot("planner-roads-partition.png")
