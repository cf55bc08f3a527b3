"""Engine and connections: one pooled engine per process, one connection per request.

With no DATABASE_URL the engine points at the embedded cluster under instance/postgres,
which is started (or reused) on first use.

Read replicas (DATABASE_REPLICA_URLS): a request's reads go to a healthy replica; writes
(``transaction()``), the CLI, migrations and every request that asked for fresh data or
whose client wrote a moment ago go to the primary. A replica that is down or lags beyond
REPLICA_MAX_LAG_BYTES / REPLICA_MAX_LAG_S is skipped; with none left reads go to the
primary. A read cut off by a replica vanishing mid-request is run again on the primary.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, NullPool, create_engine, event, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)

from app.embedded_postgres import EmbeddedPostgres
from app.queries import configure_read_cache
from app.queries import health as health_sql

logger = logging.getLogger(__name__)

# Set after a write; while it lies in the future the client's reads go to the primary.
READ_YOUR_WRITES_COOKIE = "locator_primary_until"


def embedded_cluster(app: Flask) -> EmbeddedPostgres:
    """The app's private cluster (created lazily; nothing runs until ensure_running)."""
    return EmbeddedPostgres(Path(app.instance_path) / "postgres")


def resolve_database_url(app: Flask) -> str:
    """DATABASE_URL when set; otherwise start or reuse the embedded cluster."""
    return app.config["DATABASE_URL"] or embedded_cluster(app).ensure_running()


def replica_urls(app: Flask) -> list[str]:
    """DATABASE_REPLICA_URLS, split on commas (a multi-host URL uses & between hosts)."""
    return [url.strip() for url in app.config["DATABASE_REPLICA_URLS"].split(",") if url.strip()]


def node_label(url: str) -> str:
    """host:port of a URL, never its password (several hosts are joined by commas)."""
    parsed = make_url(url)

    def joined(value) -> str:
        return ",".join(value) if isinstance(value, tuple) else str(value)

    host = parsed.host or joined(parsed.query.get("host", "localhost"))
    port = parsed.port or joined(parsed.query.get("port", "5432"))
    return f"{host}:{port}"


@dataclass
class Replica:
    """One replica: its pooled engine, and what its last health check found."""

    label: str
    engine: Engine
    health_engine: Engine
    reachable: bool | None = None
    in_recovery: bool | None = None
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    checked_at: float = float("-inf")
    usable: bool = False

    def as_dict(self) -> dict:
        return {
            "url": self.label,
            "reachable": self.reachable,
            "in_recovery": self.in_recovery,
            "lag_bytes": self.lag_bytes,
            "lag_seconds": self.lag_seconds,
            "in_use": self.usable,
        }


class Database:
    """Flask extension holding the engines; created unbound in app/extensions.py."""

    def init_app(self, app: Flask) -> None:
        app.extensions["database"] = {
            "engine": None,
            "health_engine": None,
            "replicas": None,
            "lock": threading.Lock(),
            "turn": itertools.count(),
            "has_replicas": bool(replica_urls(app)),
        }
        app.teardown_appcontext(self._close_request_connection)
        if replica_urls(app):
            app.after_request(self._remember_write)
            app.dispatch_request = self._retry_on_primary(app.dispatch_request)

    @property
    def engine(self) -> Engine:
        """The current app's (primary's) engine, created on first use."""
        state = current_app.extensions["database"]
        if state["engine"] is None:
            state["engine"] = self._create_engine(current_app, resolve_database_url(current_app))
        return state["engine"]

    def connection(self) -> Connection:
        """The request's connection; closed (and its transaction rolled back) at teardown.

        In a request it is a replica's when replicas are configured and the request may
        read from one; otherwise (CLI, migrations, fresh reads) the primary's.
        """
        if "db_connection" not in g:
            # Requests read; autocommit spares each one a BEGIN and a ROLLBACK round trip.
            # Writes go through transaction(), which opens its own.
            g.db_connection = self._read_connection().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        return g.db_connection

    def primary_connection(self) -> Connection:
        """A connection to the primary for this request (token checks, readiness)."""
        if g.get("db_node", "primary") == "primary" and "db_connection" in g:
            return g.db_connection
        if "db_primary_connection" not in g:
            g.db_primary_connection = self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        return g.db_primary_connection

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection to the primary in a transaction that commits when the block succeeds."""
        with self.engine.begin() as connection:
            yield connection
        if has_request_context():
            g.db_wrote = True

    def replica_status(self) -> list[dict]:
        """Each replica's health, checked afresh when older than REPLICA_HEALTH_TTL_S."""
        return [replica.as_dict() for replica in self._checked_replicas()]

    def dispose(self) -> None:
        """Close the current app's pooled connections (tests and shutdown)."""
        state = current_app.extensions["database"]
        for key in ("engine", "health_engine"):
            if state[key] is not None:
                state[key].dispose()
                state[key] = None
        for replica in state["replicas"] or []:
            replica.engine.dispose()
            replica.health_engine.dispose()
        state["replicas"] = None

    # -- routing ----------------------------------------------------------------------

    def _read_connection(self) -> Connection:
        """A replica's connection when one is healthy and may serve; else the primary's."""
        # Without replicas every read is the primary's: no headers or cookies to consult.
        has_replicas = current_app.extensions["database"]["has_replicas"]
        if has_replicas and has_request_context() and not self._wants_primary():
            replicas = [r for r in self._checked_replicas() if r.usable]
            if replicas:
                state = current_app.extensions["database"]
                start = next(state["turn"])
                for offset in range(len(replicas)):
                    replica = replicas[(start + offset) % len(replicas)]
                    try:
                        connection = replica.engine.connect()
                    except SQLAlchemyError as error:
                        self._mark_down(replica, error)
                        continue
                    g.db_node = replica.label
                    logger.debug(
                        "%s %s read from replica %s", request.method, request.path, replica.label
                    )
                    return connection
        g.db_node = "primary"
        if has_request_context():
            logger.debug("%s %s read from the primary", request.method, request.path)
        return self.engine.connect()

    def _wants_primary(self) -> bool:
        """Whether this request must read from the primary."""
        if g.get("db_force_primary") or g.get("db_wrote"):
            return True
        if request.headers.get("X-Consistency", "").lower() == "strong":
            return True
        if "no-cache" in request.headers.get("Cache-Control", "").lower():
            return True
        # The geocoder caches upstream answers in the database: a write.
        if current_app.config["GEOCODER_URL"] and "q" in request.args:
            return True
        until = request.cookies.get(READ_YOUR_WRITES_COOKIE, "")
        try:
            return float(until) > time.time()
        except ValueError:
            return False

    def _remember_write(self, response):
        """After a write, send this client's reads to the primary for a while."""
        if g.get("db_wrote"):
            seconds = current_app.config["READ_YOUR_WRITES_S"]
            response.set_cookie(
                READ_YOUR_WRITES_COOKIE,
                f"{time.time() + seconds:.3f}",
                max_age=seconds,
                httponly=True,
                samesite="Lax",
            )
        return response

    def _retry_on_primary(self, dispatch):
        """Wrap dispatch_request: a read cut off by a vanished replica runs again on the primary."""

        def dispatch_request(*args, **kwargs):
            try:
                return dispatch(*args, **kwargs)
            except (OperationalError, InterfaceError) as error:
                node = g.get("db_node", "primary")
                if node == "primary" or isinstance(error.orig, psycopg.errors.QueryCanceled):
                    raise
                for replica in current_app.extensions["database"]["replicas"] or []:
                    if replica.label == node:
                        self._mark_down(replica, error)
                connection = g.pop("db_connection", None)
                if connection is not None:
                    connection.invalidate()
                    connection.close()
                g.db_force_primary = True
                return dispatch(*args, **kwargs)

        return dispatch_request

    # -- health -----------------------------------------------------------------------

    def _checked_replicas(self) -> list[Replica]:
        state = current_app.extensions["database"]
        if state["replicas"] is None:
            with state["lock"]:
                if state["replicas"] is None:
                    state["replicas"] = [
                        Replica(
                            node_label(url),
                            self._create_engine(current_app, url, connect_timeout=2),
                            self._create_health_engine(current_app, url),
                        )
                        for url in replica_urls(current_app)
                    ]
        replicas = state["replicas"]
        ttl = current_app.config["REPLICA_HEALTH_TTL_S"]
        now = time.monotonic()
        stale = [r for r in replicas if now - r.checked_at >= ttl]
        # One check at a time; meanwhile other requests go by the last result.
        if stale and state["lock"].acquire(blocking=False):
            try:
                primary_lsn = self._primary_lsn()
                for replica in stale:
                    self._check(replica, primary_lsn)
            finally:
                state["lock"].release()
        return replicas

    def _primary_lsn(self) -> str | None:
        state = current_app.extensions["database"]
        if state["health_engine"] is None:
            state["health_engine"] = self._create_health_engine(
                current_app, resolve_database_url(current_app)
            )
        try:
            with state["health_engine"].connect() as connection:
                return health_sql.primary_wal_position(connection)
        except SQLAlchemyError:
            return None  # the primary is down or is itself a standby

    def _check(self, replica: Replica, primary_lsn: str | None) -> None:
        config = current_app.config
        try:
            with replica.health_engine.connect() as connection:
                row = health_sql.replica_state(connection, primary_lsn)
        except SQLAlchemyError as error:
            self._mark_down(replica, error)
            return
        replica.reachable = True
        replica.in_recovery = row.in_recovery
        replica.lag_bytes = None if row.lag_bytes is None else max(0, int(row.lag_bytes))
        replica.lag_seconds = None if row.lag_seconds is None else float(row.lag_seconds)
        replica.checked_at = time.monotonic()
        replica.usable = (replica.lag_bytes or 0) <= config["REPLICA_MAX_LAG_BYTES"] and (
            replica.lag_seconds or 0
        ) <= config["REPLICA_MAX_LAG_S"]
        if not replica.usable:
            logger.warning(
                "replica %s skipped: %s bytes, %s s behind",
                replica.label,
                replica.lag_bytes,
                replica.lag_seconds,
            )

    @staticmethod
    def _mark_down(replica: Replica, error: BaseException) -> None:
        """Skip the replica until its next health check (REPLICA_HEALTH_TTL_S)."""
        if replica.reachable is not False:
            logger.warning("replica %s is unreachable: %s", replica.label, error)
        replica.reachable = False
        replica.usable = False
        replica.lag_bytes = replica.lag_seconds = replica.in_recovery = None
        replica.checked_at = time.monotonic()
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            replica.engine.dispose()

    # -- engines ----------------------------------------------------------------------

    @staticmethod
    def _create_engine(app: Flask, url: str, **extra_connect_args) -> Engine:
        config = app.config
        timeout_ms = config["STATEMENT_TIMEOUT_MS"]
        engine = create_engine(
            url,
            pool_size=config["DB_POOL_SIZE"],
            max_overflow=config["DB_MAX_OVERFLOW"],
            pool_timeout=config["DB_POOL_TIMEOUT"],
            connect_args={
                "application_name": "locator",
                # JIT off: the app's statements are short, and compiling one costs 10-100
                # ms whenever the planner's estimate crosses jit_above_cost (a summary of
                # a large region; a generic plan of a hot read can look that dear too).
                "options": f"-c statement_timeout={timeout_ms} -c jit=off",
                "prepare_threshold": config["DB_PREPARE_THRESHOLD"],
                **extra_connect_args,
                **_pooler_connect_args(config),
            },
        )
        _ping_idle_connections(engine, config["DB_PING_IDLE_S"])
        configure_read_cache(engine, config["READ_CACHE_ROWS"])
        return engine

    @staticmethod
    def _create_health_engine(app: Flask, url: str) -> Engine:
        """Unpooled, quick to give up: each health check is a fresh connection."""
        return create_engine(
            url,
            poolclass=NullPool,
            connect_args={
                "application_name": "locator-health",
                "connect_timeout": 2,
                "options": "-c statement_timeout=2000",
                **_pooler_connect_args(app.config),
            },
        )

    @staticmethod
    def _close_request_connection(_exc: BaseException | None) -> None:
        for key in ("db_connection", "db_primary_connection"):
            connection = g.pop(key, None)
            if connection is not None:
                connection.close()


def _pooler_connect_args(config) -> dict:
    """Behind pgbouncer in transaction mode (DATABASE_POOLER=pgbouncer), two things of a
    session cannot be used: a statement prepared on one server connection is unknown on
    the next transaction's (pgbouncer before 1.21 does not track them), and pgbouncer
    refuses the ``options`` startup parameter, so statement_timeout must be set where
    the pooler connects (pgbouncer's ``connect_query``, or ALTER ROLE ... SET)."""
    if config.get("DATABASE_POOLER", "") != "pgbouncer":
        return {}
    return {"prepare_threshold": None, "options": ""}


def _ping_idle_connections(engine: Engine, idle_s: float) -> None:
    """Check a pooled connection before use only when it sat idle for ``idle_s``.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip per request, a
    sixth of a nearest-pickup request's time. A connection in steady use has just
    proved itself; one that sat idle may have died with a database restart, and is
    pinged, and replaced when the ping fails (DisconnectionError makes the pool connect
    afresh).
    """

    @event.listens_for(engine, "checkin")
    def remember_use(_dbapi_connection, record):
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, _proxy):
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < idle_s:
            return  # brand new, or in steady use
        try:
            dbapi_connection.execute("SELECT 1")
            if not dbapi_connection.autocommit:
                dbapi_connection.rollback()
        except psycopg.Error as error:
            raise DisconnectionError(f"idle connection is gone: {error}") from error
