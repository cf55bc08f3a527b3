"""/metrics in the Prometheus text format, and one structured log line per request.

Metrics (all prefixed ``locator_``):

- ``http_request_duration_seconds``, a histogram by endpoint (the URL rule,
  ``/api/v1/locations/<external_id>``, never the raw path), method and status: its
  ``_count`` is the number of requests. The health probes are left out: load balancers
  poll them, and /healthz is the benchmarks' ceiling (an observation costs 5 to 15 µs
  in multiprocess mode, where every value is a write to a shared file);
- ``db_connections_in_use`` and ``db_connections_open`` (every pool of the process),
  ``db_statement_timeouts_total``;
- ``import_rows_total`` (by dataset and outcome) and ``import_duration_seconds``;
- ``holds_total`` by outcome (created, expired, conflicted), counted by the fulfilment
  service through ``count_hold``.

Under gunicorn each worker is a process of its own: with ``PROMETHEUS_MULTIPROC_DIR``
set (app/serving.py sets it for every server it starts) the values live in files there,
a scrape adds up every worker's (gauges: the live workers'), and a worker that exits is
marked dead by gunicorn's ``child_exit`` hook. Without it (``flask run``, tests) the
values are this process's.

/metrics answers only to ``Authorization: Bearer <METRICS_TOKEN>``; without a token
configured it is a 404, so nothing is exposed by accident.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

import psycopg
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import Engine, event
from sqlalchemy.pool import Pool

from app.errors import NotFound, Unauthorized

bp = Blueprint("metrics", __name__)
access_log = logging.getLogger("locator.access")

# Request latencies from a fast cached read (1 ms) to a statement timeout (5 s) and beyond.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
IMPORT_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
HOLD_OUTCOMES = ("created", "expired", "conflicted")

LATENCY = Histogram(
    "locator_http_request_duration_seconds",
    "Time from the first app hook to the response, by endpoint, method and status.",
    ("endpoint", "method", "status"),
    buckets=LATENCY_BUCKETS,
)
CONNECTIONS_IN_USE = Gauge(
    "locator_db_connections_in_use",
    "Pooled database connections checked out.",
    multiprocess_mode="livesum",
)
CONNECTIONS_OPEN = Gauge(
    "locator_db_connections_open",
    "Database connections open (pooled or in use).",
    multiprocess_mode="livesum",
)
STATEMENT_TIMEOUTS = Counter(
    "locator_db_statement_timeouts", "Statements cancelled by statement_timeout."
)
IMPORT_ROWS = Counter(
    "locator_import_rows", "Rows (lines or features) imported, by outcome.", ("dataset", "outcome")
)
IMPORT_SECONDS = Histogram(
    "locator_import_duration_seconds", "Duration of imports.", ("dataset",), buckets=IMPORT_BUCKETS
)
HOLDS = Counter("locator_holds", "Holds, by what happened to them.", ("outcome",))


def count_hold(outcome: str, amount: int = 1) -> None:
    """Count holds that were created, expired or conflicted (a 409)."""
    HOLDS.labels(outcome).inc(amount)


def observe_import(report) -> None:
    """Count an import's rows and time (an app.importing.ImportReport)."""
    if report.dry_run:
        return
    outcomes = {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": len(report.rejected),
    }
    for outcome, rows in outcomes.items():
        if rows:
            IMPORT_ROWS.labels(report.dataset, outcome).inc(rows)
    IMPORT_SECONDS.labels(report.dataset).observe(report.seconds)


# Each record remembers what it added to a gauge, and only that is taken back: a pool
# whose connections were opened or checked out before this module was imported (or a
# record whose info was reset) must not drive the gauges below zero.
@event.listens_for(Pool, "connect")
def _opened(_dbapi_connection, record):
    record.info["counted_open"] = True
    CONNECTIONS_OPEN.inc()


@event.listens_for(Pool, "close")
def _closed(_dbapi_connection, record):
    if record is not None and record.info.pop("counted_open", False):
        CONNECTIONS_OPEN.dec()


@event.listens_for(Pool, "checkout")
def _checked_out(_dbapi_connection, record, _proxy):
    record.info["counted_in_use"] = True
    CONNECTIONS_IN_USE.inc()


@event.listens_for(Pool, "checkin")
def _checked_in(_dbapi_connection, record):
    if record is not None and record.info.pop("counted_in_use", False):
        CONNECTIONS_IN_USE.dec()


@event.listens_for(Engine, "handle_error")
def _count_statement_timeouts(context):
    if isinstance(context.original_exception, psycopg.errors.QueryCanceled):
        STATEMENT_TIMEOUTS.inc()


@bp.get("/metrics")
def metrics():
    """Every metric of every worker, in the Prometheus text format."""
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        raise NotFound("metrics are off: set METRICS_TOKEN", field="path")
    kind, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "bearer" or not hmac.compare_digest(supplied.strip(), token):
        raise Unauthorized(
            "/metrics needs the metrics token",
            field="Authorization",
            message="send Authorization: Bearer <METRICS_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask, unobserved_blueprints: tuple[str, ...] = ()) -> None:
    """Time and count every request (but those of ``unobserved_blueprints``), and log one
    line for each (see app/logs.py)."""
    app.register_blueprint(bp)
    children: dict[tuple, Histogram] = {}  # labels() costs a lock and a tuple: once each
    unobserved = frozenset(unobserved_blueprints)

    @app.before_request
    def start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def observe(response):
        if request.blueprint in unobserved:
            return response
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        rule = request.url_rule
        labels = (rule.rule if rule else "unmatched", request.method, response.status_code)
        child = children.get(labels)
        if child is None:
            child = children[labels] = LATENCY.labels(*labels)
        child.observe(seconds)
        if access_log.isEnabledFor(logging.INFO):
            client = g.get("client")
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "endpoint": labels[0],
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 3),
                    # The key's client name, never the key itself.
                    "client": client.name if client and client.name else None,
                    "client_kind": client.kind if client else None,
                },
            )
        return response
