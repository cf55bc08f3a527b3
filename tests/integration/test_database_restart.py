"""A database restart while requests and an import run: 503s, then 200s, nothing half-written.

Runs on a cluster of its own, so stopping it disturbs no other test.
"""

from __future__ import annotations

import io
import threading
import time

import pytest
from sqlalchemy import NullPool, create_engine, text

from app import create_app
from app.embedded_postgres import EmbeddedPostgres
from app.extensions import db
from app.importing import ImportOptions, import_stream
from tests.conftest import FAST_SETTINGS, load_demo_database, scratch_directory

IMPORT_ROWS = 150_000


@pytest.fixture
def own_cluster():
    with scratch_directory("locator-restart-") as root:
        cluster = EmbeddedPostgres(root / "postgres", settings=FAST_SETTINGS)
        url = cluster.ensure_running()
        load_demo_database(url)
        yield cluster, url
        cluster.stop()


def big_csv() -> str:
    lines = ["external_id,name,kind,lat,lon,timezone"]
    lines += [
        f"r-{i},Locker {i},locker,{-60 + (i % 12000) / 100:.4f},{-170 + i / 1000:.4f},UTC"
        for i in range(IMPORT_ROWS)
    ]
    return "\n".join(lines) + "\n"


def wait_until_the_import_is_copying(url: str, timeout_s: float = 60) -> None:
    """Until another session has a transaction open and is running a COPY: the import,
    mid-write. An event on the server, not a guess at how long validation takes."""
    observer = create_engine(url, poolclass=NullPool)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with observer.connect() as connection:
                copying = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                        " AND state = 'active' AND ltrim(query, E' \\n') ILIKE 'COPY%%'"
                        " AND xact_start IS NOT NULL"
                    )
                ).scalar_one()
            if copying:
                return
            assert time.monotonic() < deadline, "the import never started copying"
            time.sleep(0.05)
    finally:
        observer.dispose()


def test_requests_and_an_import_survive_a_restart(own_cluster):
    cluster, url = own_cluster
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "LOG_LEVEL": "CRITICAL",
            "RATELIMIT_ENABLED": False,
            "DB_POOL_TIMEOUT": 1,
        }
    )
    client = app.test_client()
    assert client.get("/api/v1/pickup-points?lat=38.9&lon=-77").status_code == 200

    statuses: list[tuple[float, int]] = []
    stop = threading.Event()

    def shopper():
        while not stop.is_set():
            response = client.get("/api/v1/pickup-points?lat=38.9072&lon=-77.0369")
            statuses.append((time.monotonic(), response.status_code))
            time.sleep(0.02)

    import_outcome: list = []

    def importer():
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                import_outcome.append(
                    import_stream(connection, "big.csv", io.StringIO(big_csv()), ImportOptions())
                )
        except Exception as error:  # the restart cut the import's connection
            import_outcome.append(error)
        finally:
            engine.dispose()

    shopper_thread = threading.Thread(target=shopper)
    import_thread = threading.Thread(target=importer)
    shopper_thread.start()
    import_thread.start()
    wait_until_the_import_is_copying(url)
    cluster._pg("pg_ctl", "-D", str(cluster.data_dir), "-m", "fast", "-w", "stop")
    down_at = time.monotonic()
    time.sleep(1.5)
    restart_at = time.monotonic()
    cluster.ensure_running()
    up_at = time.monotonic()
    import_thread.join(timeout=120)
    time.sleep(1.5)
    stop.set()
    shopper_thread.join(timeout=30)

    during = [code for at, code in statuses if down_at + 0.2 < at < restart_at]
    after = [code for at, code in statuses if at > up_at + 1.0]
    assert all(code in (200, 503) for _, code in statuses), sorted({c for _, c in statuses})
    assert during and set(during) == {503}
    assert after and set(after) == {200}  # recovered with no app restart

    # The import either committed whole or left nothing behind.
    engine = create_engine(url)
    with engine.connect() as connection:
        imported = connection.execute(
            text("SELECT count(*) FROM locations WHERE external_id LIKE 'r-%%'")
        ).scalar_one()
    # The restart came while the import's COPY ran in its open transaction: it left nothing.
    assert isinstance(import_outcome[0], Exception)
    assert imported == 0
    # Run again after the restart, it applies whole.
    with engine.begin() as connection:
        report = import_stream(connection, "big.csv", io.StringIO(big_csv()), ImportOptions())
    assert report.created == IMPORT_ROWS
    engine.dispose()
    with app.app_context():
        db.dispose()
