"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app import schema
from app.database import node_label
from app.extensions import db
from app.queries.health import database_reachable

bp = Blueprint("health", __name__)


# The answer never changes: encoded once.
_ALIVE = b'{"status":"ok"}'


@bp.get("/healthz")
def healthz():
    """Alive: answers without touching the database (also the benchmarks' ceiling)."""
    return current_app.response_class(_ALIVE, mimetype="application/json")


@bp.get("/readyz")
def readyz():
    """Ready: the primary answers and its schema is at the newest migration.

    Replicas are reported (reachable, lag) but do not decide readiness: without them
    reads go to the primary.
    """
    head = schema.head_revision()
    try:
        connection = db.primary_connection()
        reachable = database_reachable(connection)
        current = schema.current_revision(connection)
    except SQLAlchemyError:
        reachable, current = False, None
    ready = reachable and current == head
    body = {
        "status": "ready" if ready else "not ready",
        "database": {"reachable": reachable},
        "primary": {"url": node_label(db.engine.url.render_as_string()), "reachable": reachable},
        "replicas": db.replica_status(),
        "migrations": {"current": current, "head": head},
    }
    return jsonify(body), 200 if ready else 503
