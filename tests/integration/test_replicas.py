"""A primary and a streaming standby (pg_basebackup -R -X stream) on loopback.

Reads go to the standby, a client that wrote reads its write at once from the primary,
reads survive the standby stopping (on the primary, no 5xx) and return to it once it is
back. Which node served is read from each node's pg_stat_activity, not from the app.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import NullPool, create_engine, text

from app import create_app
from app.embedded_postgres import EmbeddedPostgres
from app.extensions import db
from app.queries.tokens import create_token
from app.services.tokens import hash_token, new_token
from tests.conftest import FAST_SETTINGS, load_demo_database, scratch_directory

TTL_S = 0.3
READ = "/api/v1/pickup-points?lat=38.9072&lon=-77.0369"


@pytest.fixture
def primary_and_standby():
    with scratch_directory("locator-replica-") as root:
        primary = EmbeddedPostgres(root / "primary", settings=FAST_SETTINGS)
        primary_url = primary.ensure_running()
        load_demo_database(primary_url)
        standby = primary.create_standby(root / "standby")
        try:
            standby_url = standby.ensure_running()
            yield primary, primary_url, standby, standby_url
        finally:
            standby.stop()
            primary.stop()


class Node:
    """Counts the app's queries on one node since a mark, from its pg_stat_activity."""

    def __init__(self, url: str):
        self.engine = create_engine(url, poolclass=NullPool)
        self.since = None

    def mark(self) -> None:
        with self.engine.connect() as connection:
            self.since = connection.execute(text("SELECT clock_timestamp()")).scalar_one()

    def served(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = 'locator' AND query_start >= :since"
                ),
                {"since": self.since},
            ).scalar_one()


def replica_app(primary_url: str, standby_url: str, **settings):
    """The app reading from the standby, with a short health TTL."""
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": primary_url,
            "DATABASE_REPLICA_URLS": standby_url,
            "REPLICA_HEALTH_TTL_S": TTL_S,
            "LOG_LEVEL": "CRITICAL",
            "RATELIMIT_ENABLED": False,
            **settings,
        }
    )


def wait_until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_reads_use_the_standby_and_survive_it_stopping(primary_and_standby):
    primary, primary_url, standby, standby_url = primary_and_standby
    on_primary, on_standby = Node(primary_url), Node(standby_url)
    app = replica_app(primary_url, standby_url, DB_POOL_TIMEOUT=1)
    client = app.test_client()
    try:
        # The demo data has been replayed on the standby.
        wait_until(lambda: client.get(READ).json.get("results"))

        # Reads are served by the standby.
        on_primary.mark(), on_standby.mark()
        for _ in range(3):
            assert client.get(READ).status_code == 200
        assert on_standby.served() >= 1
        assert on_primary.served() == 0

        # /readyz reports the primary and the standby with its lag.
        ready = client.get("/readyz")
        assert ready.status_code == 200
        (replica,) = ready.json["replicas"]
        assert replica["reachable"] is True and replica["in_recovery"] is True
        assert replica["in_use"] is True and replica["lag_bytes"] is not None
        assert ready.json["primary"]["reachable"] is True

        # Read-your-writes: a location written through the admin API reads back at once.
        token = new_token()
        engine = create_engine(primary_url)
        with engine.begin() as connection:
            create_token(connection, "replica-test", hash_token(token), ["write"])
        engine.dispose()
        body = {"name": "Fresh locker", "kind": "locker", "lat": 38.9, "lon": -77.03}
        put = client.put(
            "/api/v1/locations/fresh-1",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert put.status_code == 201, put.json
        on_primary.mark(), on_standby.mark()
        got = client.get("/api/v1/locations/fresh-1")
        assert got.status_code == 200 and got.json["name"] == "Fresh locker"
        assert on_primary.served() >= 1 and on_standby.served() == 0
        # A client that has not written reads from the standby again.
        other = app.test_client()
        wait_until(lambda: other.get("/api/v1/locations/fresh-1").status_code == 200)

        # The standby stops: reads go on, from the primary, with no 5xx.
        standby.stop()
        on_primary.mark()
        statuses = [other.get(READ).status_code for _ in range(10)]
        assert set(statuses) == {200}, statuses
        assert on_primary.served() >= 1
        assert client.get("/readyz").json["replicas"][0]["reachable"] is False

        # It comes back: after the health TTL, reads return to it.
        standby.ensure_running()
        time.sleep(TTL_S * 2)

        def standby_serves() -> bool:
            on_standby.mark()
            assert other.get(READ).status_code == 200
            return on_standby.served() >= 1

        wait_until(standby_serves)
    finally:
        on_primary.engine.dispose()
        on_standby.engine.dispose()
        with app.app_context():
            db.dispose()


def test_reads_that_ask_for_fresh_data_go_to_the_primary(primary_and_standby):
    """X-Consistency: strong (and Cache-Control: no-cache) read what the primary has now.

    Replay is paused on the standby, within the lag bounds, so it stays in use: a write
    is then on the primary only, and which node answered shows in the answer itself.
    """
    primary, primary_url, standby, standby_url = primary_and_standby
    on_primary, on_standby = Node(primary_url), Node(standby_url)
    app = replica_app(primary_url, standby_url, REPLICA_MAX_LAG_S=120)
    reader, writer = app.test_client(), app.test_client()
    standby_admin = create_engine(standby_url, poolclass=NullPool)
    primary_admin = create_engine(primary_url, poolclass=NullPool)
    try:
        wait_until(lambda: reader.get(READ).json.get("results"))
        token = new_token()
        with primary_admin.begin() as connection:
            create_token(connection, "fresh-reads", hash_token(token), ["write"])
        wait_until(lambda: reader.get("/api/v1/locations/nope").status_code == 404)
        with standby_admin.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_pause()"))
        body = {"name": "Fresh locker", "kind": "locker", "lat": 38.9, "lon": -77.03}
        put = writer.put(
            "/api/v1/locations/fresh-2", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert put.status_code == 201, put.json
        time.sleep(TTL_S * 2)  # the next health check sees the small lag and keeps it

        # A plain read is the standby's, which has not replayed the write.
        on_primary.mark(), on_standby.mark()
        assert reader.get("/api/v1/locations/fresh-2").status_code == 404
        assert on_standby.served() >= 1 and on_primary.served() == 0
        (replica,) = reader.get("/readyz").json["replicas"]
        assert replica["in_use"] is True

        for fresh in ({"X-Consistency": "strong"}, {"Cache-Control": "no-cache"}):
            on_primary.mark(), on_standby.mark()
            got = reader.get("/api/v1/locations/fresh-2", headers=fresh)
            assert got.status_code == 200 and got.json["name"] == "Fresh locker", fresh
            assert on_primary.served() >= 1 and on_standby.served() == 0, fresh
        # The header asked for one fresh read; it set nothing for the next.
        assert reader.get("/api/v1/locations/fresh-2").status_code == 404
    finally:
        with standby_admin.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
        standby_admin.dispose()
        primary_admin.dispose()
        on_primary.engine.dispose()
        on_standby.engine.dispose()
        with app.app_context():
            db.dispose()


def test_a_lagging_replica_is_skipped_until_it_catches_up(primary_and_standby):
    primary, primary_url, standby, standby_url = primary_and_standby
    on_primary, on_standby = Node(primary_url), Node(standby_url)
    app = replica_app(primary_url, standby_url, REPLICA_MAX_LAG_BYTES=64 * 1024)
    client = app.test_client()
    standby_admin = create_engine(standby_url, poolclass=NullPool)
    primary_admin = create_engine(primary_url, poolclass=NullPool)
    try:
        wait_until(lambda: client.get(READ).json.get("results"))
        # Stop replay on the standby, then write more WAL than the bound allows.
        with standby_admin.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_pause()"))
        with primary_admin.begin() as connection:
            connection.execute(
                text(
                    "CREATE TABLE ballast AS SELECT repeat('x', 500) AS pad"
                    " FROM generate_series(1, 2000)"
                )
            )
        time.sleep(TTL_S * 2)

        def lagging_is_skipped() -> bool:
            on_primary.mark(), on_standby.mark()
            assert client.get(READ).status_code == 200
            return on_primary.served() >= 1 and on_standby.served() == 0

        wait_until(lagging_is_skipped)
        (replica,) = client.get("/readyz").json["replicas"]
        assert replica["reachable"] is True and replica["in_use"] is False
        assert replica["lag_bytes"] > 64 * 1024

        # Replay resumes: once caught up, reads go back to the standby.
        with standby_admin.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))

        def standby_serves() -> bool:
            on_standby.mark()
            assert client.get(READ).status_code == 200
            return on_standby.served() >= 1

        wait_until(standby_serves)
    finally:
        standby_admin.dispose()
        primary_admin.dispose()
        on_primary.engine.dispose()
        on_standby.engine.dispose()
        with app.app_context():
            db.dispose()


def test_a_read_cut_off_by_the_standby_runs_again_on_the_primary(primary_and_standby):
    """The standby goes away while it is running a read: the read is answered anyway.

    To stop the standby mid-query, the read must be in flight: the primary takes an
    ACCESS EXCLUSIVE lock on locations, which the standby replays, so the read waits on
    the standby; then the standby stops; the app runs the read again on the primary,
    where it waits for the same lock until it is released.
    """
    primary, primary_url, standby, standby_url = primary_and_standby
    # No read cache: a cached answer would not touch the locked table at all.
    app = replica_app(primary_url, standby_url, STATEMENT_TIMEOUT_MS=30_000, READ_CACHE_ROWS=0)
    client = app.test_client()
    primary_admin = create_engine(primary_url, poolclass=NullPool)
    standby_admin = create_engine(standby_url, poolclass=NullPool)

    def waiting_reads(engine) -> int:
        with engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = 'locator' AND wait_event_type = 'Lock'"
                )
            ).scalar_one()

    def standby_holds_the_lock() -> bool:
        with standby_admin.connect() as connection:
            return (
                connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock'"
                        " AND relation = 'locations'::regclass"
                    )
                ).scalar_one()
                > 0
            )

    answers = []
    reader = threading.Thread(target=lambda: answers.append(client.get(READ)))
    blocker = primary_admin.connect()
    try:
        wait_until(lambda: client.get(READ).json.get("results"))
        expected = client.get(READ).json["results"]
        lock = blocker.begin()
        blocker.execute(text("LOCK TABLE locations IN ACCESS EXCLUSIVE MODE"))
        # WAL is sent once flushed, and an open transaction flushes nothing: a commit
        # elsewhere gets its WAL, the lock record included, flushed and streamed.
        with primary_admin.begin() as connection:
            connection.execute(text("SELECT txid_current()"))
        wait_until(standby_holds_the_lock)

        reader.start()
        wait_until(lambda: waiting_reads(standby_admin) == 1)  # in flight on the standby
        standby.stop()
        wait_until(lambda: waiting_reads(primary_admin) == 1)  # run again on the primary
        lock.rollback()
        reader.join(timeout=30)

        (answer,) = answers
        assert answer.status_code == 200, answer.json
        assert answer.json["results"] == expected
        assert client.get("/readyz").json["replicas"][0]["reachable"] is False
    finally:
        blocker.close()
        if reader.is_alive():
            reader.join(timeout=30)
        primary_admin.dispose()
        standby_admin.dispose()
        with app.app_context():
            db.dispose()
