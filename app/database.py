"""Engine and connections: one pooled engine per process, one connection per request.

With no DATABASE_URL the engine points at the embedded cluster under instance/postgres,
which is started (or reused) on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine

from app.embedded_postgres import EmbeddedPostgres


def embedded_cluster(app: Flask) -> EmbeddedPostgres:
    """The app's private cluster (created lazily; nothing runs until ensure_running)."""
    return EmbeddedPostgres(Path(app.instance_path) / "postgres")


def resolve_database_url(app: Flask) -> str:
    """DATABASE_URL when set; otherwise start or reuse the embedded cluster."""
    return app.config["DATABASE_URL"] or embedded_cluster(app).ensure_running()


class Database:
    """Flask extension holding the engine; created unbound in app/extensions.py."""

    def init_app(self, app: Flask) -> None:
        app.extensions["database"] = {"engine": None}
        app.teardown_appcontext(self._close_request_connection)

    @property
    def engine(self) -> Engine:
        """The current app's engine, created on first use."""
        state = current_app.extensions["database"]
        if state["engine"] is None:
            state["engine"] = self._create_engine(current_app)
        return state["engine"]

    def connection(self) -> Connection:
        """The request's connection; closed (and its transaction rolled back) at teardown.

        Tests pin one connection (``app.extensions["database"]["pinned_connection"]``)
        whose outer transaction they roll back after each test.
        """
        pinned = current_app.extensions["database"].get("pinned_connection")
        if pinned is not None:
            return pinned
        if "db_connection" not in g:
            # Requests read; autocommit spares each one a BEGIN and a ROLLBACK round trip.
            # Writes go through transaction(), which opens its own.
            g.db_connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return g.db_connection

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a transaction that commits when the block succeeds.

        Under a pinned test connection it is a savepoint, so the test can roll it back.
        """
        pinned = current_app.extensions["database"].get("pinned_connection")
        if pinned is not None:
            with pinned.begin_nested():
                yield pinned
            return
        with self.engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        """Close the current app's pooled connections (tests and shutdown)."""
        state = current_app.extensions["database"]
        if state["engine"] is not None:
            state["engine"].dispose()
            state["engine"] = None

    @staticmethod
    def _create_engine(app: Flask) -> Engine:
        config = app.config
        timeout_ms = config["STATEMENT_TIMEOUT_MS"]
        return create_engine(
            resolve_database_url(app),
            # Pre-ping replaces connections that died with a database restart.
            pool_pre_ping=True,
            pool_size=config["DB_POOL_SIZE"],
            max_overflow=config["DB_MAX_OVERFLOW"],
            pool_timeout=config["DB_POOL_TIMEOUT"],
            connect_args={
                "application_name": "locator",
                "options": f"-c statement_timeout={timeout_ms}",
            },
        )

    @staticmethod
    def _close_request_connection(_exc: BaseException | None) -> None:
        connection = g.pop("db_connection", None)
        if connection is not None:
            connection.close()
