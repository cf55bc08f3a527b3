"""The app's own connection handling, on the real database: no test connection is shared.

Reads run in autocommit on a pooled connection; writes run in a transaction of their
own that commits (or rolls back as a whole); a statement that outlives
STATEMENT_TIMEOUT_MS is cancelled, answered with a 503 problem, and leaves its pooled
connection fit for the next request.
"""

from __future__ import annotations

import io
import time

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import event, text

from app.extensions import db
from app.importing import ImportOptions, import_stream
from app.services.tokens import create_token

LOCKER = {"name": "Union Station Locker", "kind": "locker", "lat": 38.8977, "lon": -77.0063}
NEAREST = "/api/v1/pickup-points?lat=38.9072&lon=-77.0369"


@pytest.fixture
def bearer(connection):
    """Authorization headers with a committed token that may write."""
    token = create_token(connection, "connection-test", ["write"])
    connection.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def transaction_states(app):
    """The driver's transaction status after each statement the app runs, with its SQL."""
    states: list[tuple[TransactionStatus, str]] = []

    def record(conn, _cursor, statement, *_args):
        states.append((conn.connection.driver_connection.info.transaction_status, statement))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "after_cursor_execute", record)
    yield states
    event.remove(engine, "after_cursor_execute", record)


def test_an_admin_write_is_committed_for_later_requests_and_other_apps(
    make_app, connection, bearer
):
    writer = make_app()
    client = writer.test_client()
    assert client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer).status_code == 201
    # A later request, on a connection of the pool, reads it.
    assert client.get("/api/v1/locations/u-1").json["name"] == LOCKER["name"]
    # So does another app with a pool of its own (another worker), and a plain session:
    # the write was committed, not merely visible on the connection that made it.
    other = make_app().test_client()
    assert other.get("/api/v1/locations/u-1").json["name"] == LOCKER["name"]
    stored = connection.execute(text("SELECT name FROM locations WHERE external_id = 'u-1'"))
    assert stored.scalar_one() == LOCKER["name"]

    renamed = {**LOCKER, "name": "Renamed"}
    assert client.put("/api/v1/locations/u-1", json=renamed, headers=bearer).status_code == 200
    assert other.get("/api/v1/locations/u-1").json["name"] == "Renamed"
    assert client.delete("/api/v1/locations/u-1", headers=bearer).status_code == 204
    assert other.get("/api/v1/locations/u-1").status_code == 404


def test_rows_another_session_has_not_committed_are_invisible_to_the_app(client, connection):
    csv = "external_id,name,kind,lat,lon\nlate-1,Late,locker,38.9,-77.03\n"
    assert import_stream(connection, "late.csv", io.StringIO(csv), ImportOptions()).created == 1
    assert client.get("/api/v1/locations/late-1").status_code == 404
    connection.commit()
    assert client.get("/api/v1/locations/late-1").json["name"] == "Late"


def test_reads_run_in_autocommit_and_writes_in_a_committed_transaction(
    client, transaction_states, demo, bearer
):
    # A read through SQLAlchemy (the hot reads run on the driver's cursor: test_hot_reads).
    assert client.get("/api/v1/locations?kind=locker&limit=5").json["results"]
    assert transaction_states, "the read ran no statement"
    # Autocommit: no transaction is left open after any statement of a read.
    assert {state for state, _ in transaction_states} == {TransactionStatus.IDLE}

    transaction_states.clear()
    assert client.put("/api/v1/locations/u-1", json=LOCKER, headers=bearer).status_code == 201
    writes = [sql for state, sql in transaction_states if state is TransactionStatus.INTRANS]
    assert any("INSERT" in sql.upper() for sql in writes), transaction_states


def test_a_statement_timeout_is_a_503_and_the_connection_serves_the_next_request(make_app):
    # One pooled connection: the request after the timeout gets the same one.
    app = make_app(STATEMENT_TIMEOUT_MS=200, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0)

    @app.get("/test/sleep")
    def sleep():
        db.connection().execute(text("SELECT pg_sleep(3)"))
        return {"slept": True}

    @app.get("/test/backend")
    def backend():
        connection = db.connection()
        return {
            "pid": connection.execute(text("SELECT pg_backend_pid()")).scalar_one(),
            "timeout": connection.execute(text("SHOW statement_timeout")).scalar_one(),
        }

    client = app.test_client()
    before = client.get("/test/backend").json
    assert before["timeout"] == "200ms"

    started = time.monotonic()
    response = client.get("/test/sleep")
    elapsed = time.monotonic() - started
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] and response.json["status"] == 503
    assert "pg_sleep" not in response.get_data(as_text=True)  # no SQL leaks
    assert 0.2 <= elapsed < 2

    # The next request is served, on the very connection whose statement was cancelled.
    assert client.get("/test/backend").json == before
    assert client.get("/api/v1/locations?limit=1").status_code == 200


def test_a_write_cut_off_by_the_statement_timeout_commits_nothing(make_app, connection):
    app = make_app(STATEMENT_TIMEOUT_MS=200)

    @app.post("/test/slow-write")
    def slow_write():
        with db.transaction() as transaction:
            transaction.execute(
                text("INSERT INTO geocoder_cache (query, candidates) VALUES ('half', '[]')")
            )
            transaction.execute(text("SELECT pg_sleep(3)"))
        return {"written": True}

    client = app.test_client()
    assert client.post("/test/slow-write").status_code == 503
    assert connection.execute(text("SELECT count(*) FROM geocoder_cache")).scalar_one() == 0


def test_the_apps_connections_run_without_jit(app):
    """JIT compilation costs 10-100 ms a statement whenever an estimate crosses
    jit_above_cost; the app's statements are short, so its sessions have it off."""
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.execute(text("SHOW jit")).scalar_one() == "off"
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() != "0"
