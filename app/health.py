"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app import schema
from app.extensions import db
from app.queries.health import database_reachable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Alive: answers without touching the database (also the benchmarks' ceiling)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready: the database answers and its schema is at the newest migration."""
    head = schema.head_revision()
    try:
        connection = db.connection()
        reachable = database_reachable(connection)
        current = schema.current_revision(connection)
    except SQLAlchemyError:
        reachable, current = False, None
    ready = reachable and current == head
    body = {
        "status": "ready" if ready else "not ready",
        "database": {"reachable": reachable},
        "migrations": {"current": current, "head": head},
    }
    return jsonify(body), 200 if ready else 503
