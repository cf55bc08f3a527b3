"""/metrics (Prometheus text format) moves with traffic, in one process and across
gunicorn workers; every log line is JSON with the request id."""

from __future__ import annotations

import json
import logging
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.logs import JsonFormatter
from app.metrics import HOLD_OUTCOMES
from tests.integration.test_holds import TTL_S, bread
from tests.integration.test_holds import checkout as checkout
from tests.integration.test_holds import clock as clock
from tests.integration.test_holds import orders_token as orders_token
from tests.integration.test_holds import tokyo as tokyo
from tests.integration.test_server_limits import gunicorn
from tests.servers import http_get

TOKEN = "metrics-secret"
READ_RULE = "/api/v1/locations"


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def samples(exposition: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted((k, str(v)) for k, v in labels.items())))
    return found.get(key, 0.0)


def test_metrics_need_their_token(make_app):
    assert make_app().test_client().get("/metrics").status_code == 404  # off by default
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.mimetype == "application/problem+json"


def test_request_histograms_move_with_traffic(make_app, demo):
    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    labels = {"endpoint": READ_RULE, "method": "GET", "status": 200}
    before = scrape(client)
    for _ in range(5):
        assert client.get("/api/v1/locations?limit=2").status_code == 200
    assert client.get("/api/v1/locations?limit=0").status_code == 400
    after = scrape(client)
    count = "locator_http_request_duration_seconds_count"
    assert value(after, count, **labels) - value(before, count, **labels) == 5
    assert value(after, "locator_http_request_duration_seconds_sum", **labels) > value(
        before, "locator_http_request_duration_seconds_sum", **labels
    )
    # Every request falls in the +Inf bucket; the buckets are cumulative.
    infinite = {**labels, "le": "+Inf"}
    bucket = "locator_http_request_duration_seconds_bucket"
    assert value(after, bucket, **infinite) - value(before, bucket, **infinite) == 5
    bad = {"endpoint": READ_RULE, "method": "GET", "status": 400}
    assert value(after, count, **bad) - value(before, count, **bad) == 1
    # Paths that match no rule share one label: a scan cannot grow the series.
    client.get("/no/such/path/1"), client.get("/no/such/path/2")
    unmatched = {"endpoint": "unmatched", "method": "GET", "status": 404}
    assert value(scrape(client), count, **unmatched) >= 2
    # The probes are not observed (load balancers poll them; /healthz is the ceiling).
    client.get("/healthz")
    assert not [key for key in scrape(client) if ("endpoint", "/healthz") in key[1]]


def test_pool_imports_and_statement_timeouts_are_counted(make_app, runner, tmp_path):
    app = make_app(METRICS_TOKEN=TOKEN, STATEMENT_TIMEOUT_MS=100)
    client = app.test_client()
    before = scrape(client)
    with app.app_context():
        db.connection().execute(text("SELECT 1"))
        during = scrape(client)
        with pytest.raises(OperationalError):
            db.connection().execute(text("SELECT pg_sleep(2)"))
    for gauge in ("locator_db_connections_in_use", "locator_db_connections_open"):
        assert value(during, gauge) >= value(before, gauge) + 1 >= 1

    csv = tmp_path / "locations.csv"
    csv.write_text(
        "external_id,name,kind,lat,lon\nm-1,One,store,38.9,-77.0\nm-2,Two,locker,38.8,-77.1\n"
    )
    result = app.test_cli_runner().invoke(args=["locator", "import", str(csv), "--no-progress"])
    assert result.exit_code == 0, result.output
    after = scrape(client)
    grew = {
        name: value(after, name, **labels) - value(before, name, **labels)
        for name, labels in (
            ("locator_db_statement_timeouts_total", {}),
            ("locator_import_rows_total", {"dataset": "locations", "outcome": "created"}),
            ("locator_import_duration_seconds_count", {"dataset": "locations"}),
        )
    }
    assert grew == {
        "locator_db_statement_timeouts_total": 1,
        "locator_import_rows_total": 2,
        "locator_import_duration_seconds_count": 1,
    }


def test_holds_created_conflicted_and_expired_are_counted(checkout, clock, make_app):
    client = make_app(METRICS_TOKEN=TOKEN).test_client()  # the same process's metrics
    before = scrape(client)
    held = checkout.hold(bread(5)).json
    assert checkout.hold(bread(1)).status_code == 409
    clock.advance(seconds=TTL_S)
    assert checkout.confirm(held["hold_id"]).status_code == 409  # expired, counted once
    assert checkout.confirm(held["hold_id"]).status_code == 409
    after = scrape(client)
    grew = {
        outcome: value(after, "locator_holds_total", outcome=outcome)
        - value(before, "locator_holds_total", outcome=outcome)
        for outcome in HOLD_OUTCOMES
    }
    assert grew == {"created": 1, "conflicted": 1, "expired": 1}


def test_log_lines_are_json_with_the_request_id(make_app, caplog):
    client = make_app(LOG_LEVEL="INFO").test_client()
    with caplog.at_level(logging.INFO, logger="locator.access"):
        response = client.get("/api/v1/locations?limit=1", headers={"X-Request-ID": "req-42"})
    records = [r for r in caplog.records if r.name == "locator.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert response.headers["X-Request-ID"] == "req-42"
    assert line["request_id"] == "req-42"
    assert line["endpoint"] == "/api/v1/locations" and line["status"] == 200
    assert line["duration_ms"] > 0 and line["level"] == "INFO"
    assert line["client_kind"] == "anonymous" and line["client"] is None


def test_workers_are_added_up_under_gunicorn(database_url, tmp_path):
    """Multiprocess mode: a scrape served by any worker counts every worker's requests."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "METRICS_TOKEN": TOKEN,
        "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # app/serving.py makes a fresh one

    def scraped(port: int) -> dict:
        status, _, body = http_get(port, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        return samples(body.decode())

    labels = {"endpoint": READ_RULE, "method": "GET", "status": 200}
    with gunicorn(
        "wsgi:app", tmp_path / "gunicorn.log", env, "--workers", "3", ready="/healthz"
    ) as port:
        before = value(scraped(port), "locator_http_request_duration_seconds_count", **labels)
        for _ in range(30):
            assert http_get(port, "/api/v1/locations?limit=1")[0] == 200
        counts = [
            value(scraped(port), "locator_http_request_duration_seconds_count", **labels)
            for _ in range(6)
        ]
    # Whichever worker answered each scrape, it reported all 30 requests.
    assert counts == [before + 30] * 6
