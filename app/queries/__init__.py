"""All of the app's SQL, one module per concern; callers get plain dicts and tuples."""

from __future__ import annotations

import hashlib
import threading
import weakref
from typing import Any

import psycopg
from cachetools import LRUCache
from psycopg.rows import dict_row, tuple_row
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
    says so, with the SQL types of its parameters. On an autocommit connection that may
    keep prepared statements it is PREPAREd once per connection, and each call is one
    simple query, ``SET LOCAL plan_cache_mode = force_generic_plan; EXECUTE ...``, its
    values quoted by psycopg: the two run in one implicit transaction, so the setting
    ends with the statement, even when it fails. (psycopg's pipeline mode does the same
    in one round trip too, at 1 ms of Python a call: more than the planning it saves.)
    Inside a caller's transaction, or without prepared statements (pgbouncer in
    transaction mode before 1.21), it runs as any other statement.

    ``cached``: the answer depends on nothing but the parameters and the tables the data
    version covers, so it is kept in the engine's ReadCache (configure_read_cache) and
    served again while the version stands: one trivial query instead of the statement.
    Callers get their own copies of the rows, free to change them.
    """

    def __init__(
        self,
        statement: TextClause,
        *,
        generic_plan: dict[str, str] | None = None,
        cached: bool = False,
    ):
        compiled = statement.compile(dialect=_DIALECT)
        self.sql = str(compiled)
        self._names = tuple(compiled.params)
        self.cached = cached
        self._prepared = None
        if generic_plan is not None:
            assert set(generic_plan) == set(self._names), "a type for every parameter"
            self._prepared = _Prepared(self.sql, self._names, generic_plan)

    @property
    def sent_as(self) -> tuple[str, ...]:
        """The SQL texts that carry this statement to the server (for tests)."""
        return (self.sql, self._prepared.call_sql) if self._prepared else (self.sql,)

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
            return self._run(connection, values)
        [(version,)] = _run(connection, _DATA_VERSION_SQL, {}, rows_as_dicts=False)
        key = (self.sql, version, *(_hashable(values[name]) for name in self._names))
        rows = cache.get(key)
        if rows is None:
            rows = self._run(connection, values)
            cache.put(key, rows)
        return [dict(row) for row in rows]

    def _run(self, connection: Connection, values: dict[str, Any]) -> list[dict]:
        driver = connection.connection.driver_connection
        if self._prepared and driver.autocommit and driver.prepare_threshold is not None:
            return self._prepared.run(connection, values)
        return _run(connection, self.sql, values)


class _Prepared:
    """A HotRead's statement PREPAREd on each connection, run with a generic plan."""

    def __init__(self, sql: str, names: tuple[str, ...], types: dict[str, str]):
        self.name = "locator_hot_" + hashlib.sha256(sql.encode()).hexdigest()[:16]
        numbered = sql
        for position, name in enumerate(names, start=1):
            numbered = numbered.replace(f"%({name})s", f"${position}")
        signature = ", ".join(types[name] for name in names)
        self.prepare_sql = f"PREPARE {self.name} ({signature}) AS {numbered}"
        arguments = ", ".join(f"%({name})s" for name in names)
        self.call_sql = (
            f"SET LOCAL plan_cache_mode = force_generic_plan; EXECUTE {self.name}({arguments})"
        )

    def run(self, connection: Connection, values: dict[str, Any]) -> list[dict]:
        prepared = connection.connection.info.setdefault("locator_prepared", set())
        if self.name not in prepared:
            self._prepare(connection, prepared)
        try:
            return _run(connection, self.call_sql, values, client_side=True)
        except DBAPIError as error:
            # psycopg runs DEALLOCATE ALL when it sees a ROLLBACK or a DROP (its own
            # statements may be stale then), which takes this one too: prepare it again.
            if not isinstance(error.orig, psycopg.errors.InvalidSqlStatementName):
                raise
            self._prepare(connection, prepared)
            return _run(connection, self.call_sql, values, client_side=True)

    def _prepare(self, connection: Connection, prepared: set[str]) -> None:
        prepared.discard(self.name)
        _run(connection, f"DEALLOCATE {self.name}", {}, fetch=False, missing_ok=True)
        _run(connection, self.prepare_sql, {}, fetch=False)
        prepared.add(self.name)


def _run(
    connection: Connection,
    sql: str,
    values: dict[str, Any],
    *,
    rows_as_dicts: bool = True,
    client_side: bool = False,
    fetch: bool = True,
    missing_ok: bool = False,
) -> list:
    """``sql`` on the driver's cursor, its errors raised as SQLAlchemy's.

    ``client_side``: the values are quoted into the SQL by psycopg and the text is sent
    as one simple query, which may hold several statements; the rows are the last one's.
    """
    driver = connection.connection.driver_connection
    row_factory = dict_row if rows_as_dicts else tuple_row
    if client_side:
        cursor = psycopg.ClientCursor(driver, row_factory=row_factory)
    else:
        cursor = driver.cursor(row_factory=row_factory)
    try:
        cursor.execute(sql, values or None)
        if not fetch:
            return []
        while cursor.nextset():
            pass  # to the last statement's rows
        return cursor.fetchall()
    except psycopg.Error as error:
        if missing_ok and isinstance(error, psycopg.errors.InvalidSqlStatementName):
            return []  # "DEALLOCATE x" when x is already gone
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
