"""Fixtures: a real PostGIS for the whole session, used the way the app uses it in production.

The database is TEST_DATABASE_URL when set; otherwise the session starts a throwaway
cluster of its own (the same EmbeddedPostgres the app uses) and removes it at the end.
Either way it is migrated to head and holds the gazetteer.

Nothing is pinned or rolled back behind the app's back: every app a test makes
(``app``, ``make_app``) has its own pooled engine on that database, with its
autocommit reads, its committed writes and its statement timeout, and is disposed
after the test. The ``connection`` fixture is a connection of the test's own: the app
sees what it writes once it is committed (``connection.commit()``); what is left
uncommitted is rolled back at the end.

After every test that used the database, the tables it wrote to are emptied
(``TRUNCATE ... RESTART IDENTITY CASCADE``, only those that hold rows), and the rows
that migrations seed are put back as they were. The gazetteer is loaded once and kept.
With TEST_DATABASE_URL, that database's data tables are therefore emptied too.

``clone_database`` makes a database of one's own (for a module's data, or a live server
that must not see other tests' rows): a copy of a migrated template with the gazetteer,
in 0.2-0.3 s where migrating and loading the gazetteer take about 4 s. A copy for each
test would add that to each of some 400 tests; emptying the tables a test wrote costs
about 25 ms, and finding that it wrote nothing a fraction of a millisecond.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from app import create_app, schema
from app.embedded_postgres import EmbeddedPostgres
from app.extensions import db
from app.geocoding import load_gazetteer
from app.importing import ImportOptions, load_demo_data
from app.queries.geocoding import gazetteer_size

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
# A throwaway cluster need not survive a crash: trade durability for speed.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
TEST_DATABASE = "locator_test"
# Loaded once per session and never written by a test (the gazetteer), or the
# migrations' own bookkeeping: never emptied.
STATIC_TABLES = ("places", "alembic_version")
# A seeded table larger than this must be listed in STATIC_TABLES (it is not copied back).
MAX_SEED_ROWS = 1000
# How long emptying the tables waits for a lock before it reports who holds one.
RESET_LOCK_TIMEOUT = "10s"


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
        load_demo(connection)
    engine.dispose()


def load_demo(connection: Connection) -> None:
    """The demo network, through the import pipeline, in the caller's transaction."""
    for report in load_demo_data(connection, ImportOptions()):
        assert not report.rejected, report


def database_url_named(url: str, database: str) -> str:
    """``url`` with another database name, password kept."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def prepare_database(url: str) -> None:
    """Migrate the database at ``url`` to head and load the gazetteer where it is empty."""
    engine = create_engine(url)
    try:
        schema.upgrade(engine)
        with engine.begin() as connection:
            if not gazetteer_size(connection):
                load_gazetteer(connection)
    finally:
        engine.dispose()


@contextmanager
def admin_connection(url: str) -> Iterator[Connection]:
    """An autocommit connection to ``url``, for CREATE and DROP DATABASE."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def recreate_database(admin_url: str, name: str, template: str | None = None) -> None:
    with admin_connection(admin_url) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        copy = f' TEMPLATE "{template}"' if template else ""
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))


def drop_database(admin_url: str, name: str) -> None:
    with admin_connection(admin_url) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class TableReset:
    """Empties the tables tests write to, and puts the rows migrations seed back.

    The tables are read from the catalog (every table of the public schema but the
    extensions' and STATIC_TABLES), so a table a new migration adds is emptied too.
    """

    def __init__(self, connection: Connection):
        names = (
            connection.execute(
                text(
                    "SELECT c.relname FROM pg_class AS c"
                    " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
                    " AND NOT c.relispartition AND c.relname <> ALL(:static)"
                    " AND NOT EXISTS (SELECT FROM pg_depend AS d"
                    "   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"
                    "   AND d.deptype = 'e')"
                    " ORDER BY c.relname"
                ),
                {"static": list(STATIC_TABLES)},
            )
            .scalars()
            .all()
        )
        self.tables = [f'"{name}"' for name in names]
        self.seeds: dict[str, str] = {}
        for table in self.tables:
            rows = self._rows(connection, table)
            if rows != "[]":
                assert len(json.loads(rows)) <= MAX_SEED_ROWS, (
                    f"{table} is seeded with many rows: list it in STATIC_TABLES"
                )
                self.seeds[table] = rows

    @staticmethod
    def _rows(connection: Connection, table: str) -> str:
        return connection.execute(text(f"SELECT {_rows_as_json(table)}")).scalar_one()

    def __call__(self, engine: Engine) -> None:
        with engine.begin() as connection:
            connection.execute(text(f"SET LOCAL lock_timeout = '{RESET_LOCK_TIMEOUT}'"))
            written = self._written(connection)
            if not written:
                return
            try:
                connection.execute(text(f"TRUNCATE {', '.join(written)} RESTART IDENTITY CASCADE"))
            except OperationalError as error:
                raise AssertionError(
                    "could not empty the tables after the test; open transactions:\n"
                    + _open_transactions(engine)
                ) from error
            for table in written:
                if table in self.seeds:
                    connection.execute(
                        text(
                            f"INSERT INTO {table} OVERRIDING SYSTEM VALUE"
                            f" SELECT * FROM jsonb_populate_recordset(NULL::{table}, :rows)"
                        ),
                        {"rows": self.seeds[table]},
                    )

    def _written(self, connection: Connection) -> list[str]:
        """The tables that differ from their state after the migrations, in one query."""
        if not self.tables:
            return []
        probes = []
        seeds = {}
        for i, table in enumerate(self.tables):
            if table in self.seeds:
                probes.append(f"SELECT '{table}' WHERE {_rows_as_json(table)} <> :seed_{i}")
                seeds[f"seed_{i}"] = self.seeds[table]
            else:
                probes.append(f"SELECT '{table}' WHERE EXISTS (SELECT FROM {table})")
        return connection.execute(text(" UNION ALL ".join(probes)), seeds).scalars().all()


def _rows_as_json(table: str) -> str:
    """SQL for a table's rows as JSON text, in a stable order."""
    return f"(SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t::text), '[]')::text FROM {table} t)"


def _open_transactions(engine: Engine) -> str:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pid, application_name, state, left(query, 200) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND xact_start IS NOT NULL"
            )
        ).all()
    return "\n".join(" | ".join(str(value) for value in row) for row in rows) or "(none)"


@pytest.fixture(scope="session")
def postgres_cluster():
    """The session's throwaway cluster, or None when TEST_DATABASE_URL is used."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    with scratch_directory("locator-test-pg-") as root:
        cluster = EmbeddedPostgres(
            root / "postgres", database=TEST_DATABASE, settings=FAST_SETTINGS
        )
        cluster.ensure_running()
        try:
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def admin_url(postgres_cluster):
    """Where the session creates and drops databases: not one that gets copied."""
    return os.environ.get("TEST_DATABASE_URL") or postgres_cluster.url("postgres")


@pytest.fixture(scope="session")
def template_database_url(admin_url):
    """A database migrated to head with the gazetteer, that nobody stays connected to."""
    name = f"{TEST_DATABASE}_template"
    recreate_database(admin_url, name)
    url = database_url_named(admin_url, name)
    prepare_database(url)
    yield url
    drop_database(admin_url, name)


@pytest.fixture(scope="session")
def database_url(request, postgres_cluster, admin_url):
    """URL of the test database, migrated to head and with the gazetteer, once per session.

    On the session's cluster it is a copy of the template; TEST_DATABASE_URL is migrated
    in place (the template is then made only when a test asks for a database of its own).
    """
    if postgres_cluster is None:
        prepare_database(admin_url)
        return admin_url
    template = make_url(request.getfixturevalue("template_database_url")).database
    recreate_database(admin_url, TEST_DATABASE, template)
    return postgres_cluster.url()


@pytest.fixture(scope="session")
def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def table_reset(engine):
    """Empties the test database's tables (see the top); first of rows a previous run on
    TEST_DATABASE_URL may have left."""
    with engine.connect() as connection:
        reset = TableReset(connection)
    reset(engine)
    return reset


@pytest.fixture(autouse=True)
def _empty_tables_after_each_test(request):
    """After a test that used the test database, empty what it wrote (see the top).

    Set up before, so torn down after, the test's own fixtures: its apps are disposed
    and its connection closed by then.
    """
    if "database_url" not in request.fixturenames:
        yield
        return
    reset, engine = request.getfixturevalue("table_reset"), request.getfixturevalue("engine")
    yield
    reset(engine)


@pytest.fixture(scope="session")
def clone_database(admin_url, template_database_url):
    """``with clone_database(name) as url``: a database of one's own, dropped at the end.

    A copy of the template: migrated, with the gazetteer, no other rows. It is not
    emptied after each test: what is written there stays until the block ends.
    """
    template = make_url(template_database_url).database

    @contextmanager
    def clone(name: str) -> Iterator[str]:
        recreate_database(admin_url, name, template)
        try:
            yield database_url_named(admin_url, name)
        finally:
            drop_database(admin_url, name)

    return clone


@pytest.fixture
def connection(engine):
    """A connection of the test's own; commit what the app must see.

    What is left uncommitted is rolled back when the test ends.
    """
    with engine.connect() as connection:
        yield connection


@pytest.fixture
def demo(connection):
    """The demo network, committed."""
    load_demo(connection)
    connection.commit()


@pytest.fixture
def make_app(database_url, tmp_path):
    """``make_app(**settings)``: apps on the test database, each disposed after the test."""
    apps = []

    def make(**settings):
        app = create_app(
            {"TESTING": True, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", **settings}
        )
        app.instance_path = str(tmp_path / "instance")
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.dispose()


@pytest.fixture
def app(make_app):
    """The app on the test database, with its own pooled engine."""
    return make_app()


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


@pytest.fixture(scope="session")
def redis_url():
    """A redis-server of the session's own on loopback (never the system one), stopped at
    the end; tests that share it use a quota prefix of their own."""
    from tests.servers import redis_server

    with redis_server() as url:
        yield url


@pytest.fixture
def steady_quota_clock(monkeypatch):
    """Pins the quota windows' clock in the middle of a minute (and of a day): counts in
    fixed windows then never straddle a window's end, whenever the test runs."""
    import app.api.clients

    middle = 1_799_971_200.0 + 12 * 3600 + 30  # 2027-01-15 12:00:30 UTC
    monkeypatch.setattr(app.api.clients, "clock", lambda: middle)
    return middle
