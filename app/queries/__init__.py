"""All of the app's SQL, one module per concern; callers get plain dicts and tuples."""

from __future__ import annotations

import threading
import weakref
from typing import Any

import psycopg
from cachetools import LRUCache
from psycopg.rows import dict_row
from sqlalchemy import Connection, CursorResult, Engine, TextClause
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.exc import DBAPIError

_DIALECT = psycopg_dialect.dialect()


def as_dicts(result: CursorResult) -> list[dict]:
    """Every row of ``result`` as a plain dict keyed by column name.

    Fetched in one call and zipped with the column names: half the cost of dict(row)
    over result.mappings(), which fetches row by row and builds a mapping per row
    (0.3 ms of a nearest-pickup request).
    """
    keys = tuple(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


# The data version (migration 0009): bumped in the writing transaction by every statement
# that changes locations, service areas or regions, so a reader sees a new version
# exactly when it can see the new data.
_DATA_VERSION_SQL = "SELECT version FROM data_version"


class ReadCache:
    """Answers of cached hot reads, per engine and data version, least recently used out.

    Its size is counted in rows (one more per answer, for empty ones), so a cache of a
    given size holds a bounded amount whatever the answers; an answer larger than a
    tenth of it is not kept.

    An answer is stored under the data version read *before* the statement ran. A write
    that commits between the two makes the stored answer possibly newer than its
    version, never older, so a later reader (who sees the new version) misses and
    re-reads: the cache can cost a read, never return a stale answer. Replicas replay
    the primary's writes, version bumps included, so an answer of version v is the same
    on every node.
    """

    def __init__(self, rows: int):
        self._answers: LRUCache = LRUCache(maxsize=max(rows, 1), getsizeof=_rows_held)
        self.enabled = rows > 0
        self._largest = rows // 10
        self.hits = self.misses = 0
        self._lock = threading.Lock()  # threaded servers share one cache per process

    def get(self, key):
        with self._lock:
            rows = self._answers.get(key)
            if rows is None:
                self.misses += 1
            else:
                self.hits += 1
            return rows

    def put(self, key, rows: list[dict]) -> None:
        if _rows_held(rows) > self._largest:
            return
        with self._lock:
            self._answers[key] = rows


def _rows_held(rows: list) -> int:
    return len(rows) + 1


_caches: weakref.WeakKeyDictionary[Engine, ReadCache] = weakref.WeakKeyDictionary()


def configure_read_cache(engine: Engine, rows: int) -> None:
    """Give ``engine`` a read cache of ``rows`` rows (0: none)."""
    _caches[engine] = ReadCache(rows)


def read_cache(engine: Engine) -> ReadCache | None:
    """``engine``'s read cache (for its figures), if it has one."""
    return _caches.get(engine)


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


class HotRead:
    """A read statement of a hot endpoint, run on the driver's cursor.

    SQLAlchemy's execute path (statement cache lookup, execution context, result
    metadata, row processors) costs about 0.3 ms a call, a fifth of a nearest-pickup
    request's time in Python; the hot reads run the same SQL, compiled once here by
    SQLAlchemy into the driver's parameter style, straight on the pooled connection's
    psycopg cursor. Errors come out as SQLAlchemy's (OperationalError, DataError, ...),
    as from any other query, and a lost connection is invalidated in the pool.

    Only for reads: it does not start a SQLAlchemy transaction, so it belongs to the
    caller's when one is open and to none in autocommit (every request's connection).

    ``generic_plan``: PostgreSQL plans a prepared statement afresh for its parameters
    (a custom plan) unless it estimates that one plan for all values is no dearer, and
    for the coverage test it never does. Planning is then most of the statement's cost
    (0.5 of 0.9 ms), and the custom plan for a batch of 1,000 points is seven times
    slower than the generic one (1.1 s against 0.15 s). A statement whose generic plan
    is right for every value (index scans driven by the parameters, whatever they are)
    says so, and on an autocommit connection that may prepare statements it runs
    prepared, in a transaction of its own with ``SET LOCAL plan_cache_mode`` (sent in
    one round trip with the statement; LOCAL, so the setting ends with it, even on an
    error). Inside a caller's transaction, or without prepared statements (pgbouncer in
    transaction mode before 1.21), it runs as any other statement.

    ``cached``: the answer depends on nothing but the parameters and the tables the data
    version covers, so it is kept in the engine's ReadCache (configure_read_cache) and
    served again while the version stands: one trivial query instead of the statement.
    Callers get their own copies of the rows, free to change them.
    """

    def __init__(self, statement: TextClause, *, generic_plan: bool = False, cached: bool = False):
        compiled = statement.compile(dialect=_DIALECT)
        self.sql = str(compiled)
        self._names = tuple(compiled.params)
        self.generic_plan = generic_plan
        self.cached = cached

    def fetch(
        self, connection: Connection, params: dict[str, Any], *, cache_answer: bool = True
    ) -> list[dict]:
        """Every row, as dicts keyed by column name.

        ``cache_answer=False`` skips the cache for answers that will hardly be asked for
        again (a batch of a thousand points), sparing the version check.
        """
        values = {name: params[name] for name in self._names}
        driver = connection.connection.driver_connection
        cache = _caches.get(connection.engine) if self.cached and cache_answer else None
        # Only in autocommit: inside a transaction the version could be this
        # transaction's own uncommitted bump, which a rollback would hand to other data.
        if cache is None or not cache.enabled or not driver.autocommit:
            return _run(connection, self.sql, values, generic_plan=self.generic_plan)
        [(version,)] = _run(connection, _DATA_VERSION_SQL, {}, rows_as_dicts=False)
        key = (self.sql, version, *(_hashable(values[name]) for name in self._names))
        rows = cache.get(key)
        if rows is None:
            rows = _run(connection, self.sql, values, generic_plan=self.generic_plan)
            cache.put(key, rows)
        return [dict(row) for row in rows]


def _run(
    connection: Connection,
    sql: str,
    values: dict[str, Any],
    *,
    generic_plan: bool = False,
    rows_as_dicts: bool = True,
) -> list:
    """``sql`` on the driver's cursor, its errors raised as SQLAlchemy's."""
    driver = connection.connection.driver_connection
    cursor = driver.cursor(row_factory=dict_row) if rows_as_dicts else driver.cursor()
    try:
        if generic_plan and driver.autocommit and driver.prepare_threshold is not None:
            with driver.pipeline(), driver.transaction():
                driver.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                cursor.execute(sql, values, prepare=True)
        else:
            cursor.execute(sql, values)
        return cursor.fetchall()
    except psycopg.Error as error:
        lost = connection.dialect.is_disconnect(error, driver, cursor)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql,
            values,
            error,
            psycopg.Error,
            connection_invalidated=lost,
            dialect=connection.dialect,
        ) from error
    finally:
        cursor.close()
