"""The planner draws drive-time areas and the drive-time partition (Chromium, Baltimore).

A server of this module's own, on a database with the shipped Baltimore network, its
shops, and 10-minute express drive-time areas for the supermarkets: the shared e2e
database (the DC demo) stays as the other page tests expect it.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine
from werkzeug.serving import make_server

from app import create_app
from app.cli import load_demo_roads
from app.extensions import db
from tests.e2e.conftest import LOOPBACK, LiveServer, _buffered


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
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": url,
                "LOG_LEVEL": "WARNING",
                "TILE_URL": "",
                "STATEMENT_TIMEOUT_MS": 60_000,
            }
        )
        app.instance_path = str(tmp_path_factory.mktemp("e2e-roads-instance"))
        server = make_server(LOOPBACK, 0, _buffered(app), threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="e2e-roads", daemon=True)
        thread.start()
        try:
            yield LiveServer(app=app, url=f"http://{LOOPBACK}:{server.server_port}")
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            with app.app_context():
                db.dispose()


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
