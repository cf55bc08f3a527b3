"""Limits, headers and database faults: clear 4xx/5xx problems, never a hang or a leak."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from app.extensions import db


def test_security_headers_on_every_response(client):
    for path in ("/healthz", "/api/v1/geocode?q=20001", "/nope", "/"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "default-src 'self'" in policy
        assert "frame-ancestors 'self'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
    # No Server header: gunicorn adds it, not the app, so test_server_limits.py checks it
    # on a real gunicorn (the test client never sends one).


def test_only_folium_and_swagger_pages_allow_inline_scripts(client):
    assert (
        "'unsafe-inline'"
        in client.get("/api/docs")
        .headers["Content-Security-Policy"]
        .split("script-src")[1]
        .split(";")[0]
    )
    api = client.get("/api/v1/openapi.json").headers["Content-Security-Policy"]
    assert "script-src 'self';" in api


def test_frame_ancestors_is_configurable(make_app):
    app = make_app(FRAME_ANCESTORS="'self' https://checkout.example.com")
    policy = app.test_client().get("/healthz").headers["Content-Security-Policy"]
    assert policy.endswith("frame-ancestors 'self' https://checkout.example.com")


def test_a_body_over_the_cap_is_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1000)
    response = app.test_client().post(
        "/api/v1/coverage/batch", data=b"x" * 5000, content_type="application/json"
    )
    assert response.status_code == 413 and response.mimetype == "application/problem+json"


def test_rate_limit_gives_429_with_retry_after_and_spares_health_checks(
    make_app, steady_quota_clock
):
    app = make_app(ANONYMOUS_PER_MINUTE=3, RATELIMIT_ENABLED=True)
    client = app.test_client()
    statuses = [client.get("/api/v1/geocode?q=20001").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/v1/geocode?q=20001")
    assert limited.mimetype == "application/problem+json"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Only the 429 says when to retry; an answered request carries no Retry-After.
    answered = client.get("/api/v1/geocode?q=20001", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert answered.status_code == 200 and "Retry-After" not in answered.headers
    assert not {"X-Limiter-Retry-After"} & {*limited.headers.keys(), *answered.headers.keys()}
    assert client.get("/healthz").status_code == 200
    # Another client is still served.
    other = client.get("/api/v1/geocode?q=20001", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200


def test_a_slow_query_is_a_503_when_statement_timeout_fires(make_app, engine):
    app = make_app(STATEMENT_TIMEOUT_MS=300)
    client = app.test_client()
    # Make the geocoder's query slow for sure: another session holds the table's lock,
    # and waiting for a lock counts against statement_timeout.
    with engine.connect() as blocker:
        blocker.execute(text("BEGIN"))
        blocker.execute(text("LOCK TABLE places IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        response = client.get("/api/v1/geocode?q=Springfield")
        elapsed = time.monotonic() - started
        blocker.execute(text("ROLLBACK"))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.mimetype == "application/problem+json"
    assert "select" not in response.get_data(as_text=True).lower()  # no SQL leaks
    assert 0.3 <= elapsed < 5
    # The worker is free again at once, and its connection went back to the pool.
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/geocode?q=Springfield").status_code == 200


def test_an_exhausted_pool_is_a_fast_503(make_app):
    app = make_app(DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=0.2)
    with app.app_context():
        held = db.engine.connect()  # the only connection, held by "another request"
        try:
            started = time.monotonic()
            response = app.test_client().get("/api/v1/geocode?q=20001")
            elapsed = time.monotonic() - started
        finally:
            held.close()
    # The app's own Retry-After, not the rate limiter's.
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert elapsed < 2
    assert app.test_client().get("/api/v1/geocode?q=20001").status_code == 200


def test_errors_never_carry_stack_traces(make_app, monkeypatch):
    app = make_app()

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("app.api.routes.geocode", broken)
    response = app.test_client().get("/api/v1/geocode?q=20001")
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    body = response.get_data(as_text=True)
    assert "secret" not in body and "Traceback" not in body


@pytest.mark.parametrize(
    "query",
    [
        "lat=1&lon=1&sort=name",
        "lat=1&lon=1&order_by=id; DROP TABLE locations",
        "lat=1&lon=1&kind=store' OR '1'='1",
        "lat=1&lon=1&capability=pickup%27);DROP TABLE locations;--",
        "lat=1&lon=1&filter=name eq 'x'",
    ],
)
def test_sql_in_parameters_is_refused_and_changes_nothing(client, connection, query):
    before = connection.execute(text("SELECT count(*) FROM locations")).scalar_one()
    response = client.get(f"/api/v1/pickup-points?{query}")
    assert response.status_code == 400
    assert connection.execute(text("SELECT count(*) FROM locations")).scalar_one() == before


def test_statement_timeout_leaves_other_connections_alone(database_url, make_app):
    """The timeout is per connection of the app's engine, not a server-wide setting."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    engine.dispose()
    app = make_app(STATEMENT_TIMEOUT_MS=1234)
    with app.app_context():
        value = db.connection().execute(text("SHOW statement_timeout")).scalar_one()
    assert value == "1234ms"
    thread_errors = []

    def use_pool():
        try:
            with app.app_context():
                db.connection().execute(text("SELECT 1"))
        except Exception as error:  # pragma: no cover - reported below
            thread_errors.append(error)

    worker = threading.Thread(target=use_pool)
    worker.start()
    worker.join()
    assert thread_errors == []


def test_rate_limit_counters_are_shared_through_redis(make_app, redis_url, steady_quota_clock):
    """Two app processes (here two apps) count against the same client budget."""
    import uuid

    settings = {
        "REDIS_URL": redis_url,  # the session's own redis-server (tests/servers.py)
        "QUOTA_KEY_PREFIX": uuid.uuid4().hex,  # a fresh budget for this test
        "ANONYMOUS_PER_MINUTE": 3,
        "RATELIMIT_ENABLED": True,
    }
    first, second = make_app(**settings).test_client(), make_app(**settings).test_client()
    statuses = [client.get("/api/v1/openapi.json").status_code for client in (first, second) * 2]
    assert statuses == [200, 200, 200, 429]
