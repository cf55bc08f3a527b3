"""Fixtures: a real PostGIS for the whole session, and a rolled-back transaction per test.

The database is TEST_DATABASE_URL when set; otherwise the session starts a throwaway
cluster of its own (the same EmbeddedPostgres the app uses) and removes it at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from app import create_app, schema
from app.embedded_postgres import EmbeddedPostgres
from app.geocoding import load_gazetteer
from app.importing import ImportOptions, load_demo_data
from app.queries.geocoding import gazetteer_size

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
# A throwaway cluster need not survive a crash: trade durability for speed.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory that an unprivileged cluster owner can reach; removed after."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)  # the cluster may run as the unprivileged postgres user
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def load_demo_database(url: str) -> None:
    """Migrate the database at ``url`` and load the demo network into it (committed)."""
    engine = create_engine(url)
    schema.upgrade(engine)
    with engine.begin() as connection:
        for report in load_demo_data(connection, ImportOptions()):
            assert not report.rejected
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_cluster():
    """The session's throwaway cluster, or None when TEST_DATABASE_URL is used."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    with scratch_directory("locator-test-pg-") as root:
        cluster = EmbeddedPostgres(
            root / "postgres", database="locator_test", settings=FAST_SETTINGS
        )
        cluster.ensure_running()
        try:
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def database_url(postgres_cluster):
    """URL of the test database, migrated to head and with the gazetteer, once per session."""
    url = os.environ.get("TEST_DATABASE_URL") or postgres_cluster.url()
    engine = create_engine(url)
    schema.upgrade(engine)
    with engine.begin() as connection:
        if not gazetteer_size(connection):
            load_gazetteer(connection)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine):
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def app(database_url, connection, tmp_path):
    """The app, pinned to the test's connection so everything it writes is rolled back."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"})
    app.instance_path = str(tmp_path / "instance")
    app.extensions["database"]["pinned_connection"] = connection
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def shared_data():
    """../shared/data beside the project; tests that need it skip cleanly without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party data not available at {SHARED_DATA}")
    return SHARED_DATA
