"""The app's own surface: health probes, the front page, errors, request ids, the CLI."""

import re

import pytest
from sqlalchemy import text

from app import create_app, schema
from app.extensions import db
from app.importing import DEMO_DIR


def test_healthz_needs_no_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_reports_database_and_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["database"] == {"reachable": True}
    assert response.json["migrations"] == {
        "current": schema.head_revision(),
        "head": schema.head_revision(),
    }


def test_front_page_is_the_pickup_picker(client):
    page = client.get("/").get_data(as_text=True)
    assert 'lang="en"' in page and "Choose a pickup point" in page
    assert 'role="search"' in page
    chinese = client.get("/?lang=zh-CN").get_data(as_text=True)
    assert 'lang="zh-CN"' in chinese or 'lang="zh-Hans"' in chinese


def test_unknown_path_is_a_problem_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert set(response.json) == {"type", "title", "status", "detail", "errors"}
    assert response.json["status"] == 404


def test_request_id_is_echoed_or_minted(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    minted = client.get("/healthz", headers={"X-Request-ID": "bad id;drop"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", minted)
    assert client.get("/nope").headers["X-Request-ID"]


def test_cli_import_reports_and_exits_non_zero_on_rejection(runner, tmp_path):
    good = runner.invoke(
        args=["locator", "import", "--no-progress", str(DEMO_DIR / "locations.csv")]
    )
    assert good.exit_code == 0, good.output
    assert re.search(r"created \d+, updated 0, unchanged 0, rejected 0", good.output)
    assert "rows/s" in good.output

    again = runner.invoke(
        args=["locator", "import", "--no-progress", str(DEMO_DIR / "locations.csv")]
    )
    assert re.search(r"created 0, updated 0, unchanged \d+, rejected 0", again.output)

    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,name,kind,lat,lon\nb-1,B,store,38.9,-77\nb-2,B,store,NaN,-77\n")
    result = runner.invoke(args=["locator", "import", "--no-progress", str(bad)])
    assert result.exit_code == 1
    assert "rejected line 3, lat: must be a plain decimal number" in result.output
    assert "nothing written" in result.output


def test_cli_reports_an_unreadable_file_cleanly(runner, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello")
    result = runner.invoke(args=["locator", "import", str(path)])
    assert result.exit_code != 0
    assert "unsupported file type" in result.output


@pytest.mark.parametrize("threshold, prepares", [(5, True), (None, False)])
def test_prepared_statements_follow_db_prepare_threshold(database_url, threshold, prepares):
    """Off (None), no statement is ever prepared: what pgbouncer's transaction mode needs."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "DB_PREPARE_THRESHOLD": threshold,
            "DB_POOL_SIZE": 1,  # every request, and the check below, share one connection
            "DB_MAX_OVERFLOW": 0,
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    client = app.test_client()
    try:
        for _ in range(8):
            assert client.get("/api/v1/locations?limit=1").status_code == 200
        with app.app_context(), db.engine.connect() as connection:
            prepared = connection.execute(
                text("SELECT count(*) FROM pg_prepared_statements")
            ).scalar_one()
        assert (prepared > 0) is prepares, prepared
    finally:
        with app.app_context():
            db.dispose()
