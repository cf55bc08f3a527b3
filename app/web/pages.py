"""Pages for people: the shopper's front page."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.extensions import db
from app.queries.locations import count_by_kind

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static")


@bp.get("/")
def index():
    """The front page: what the network holds, and where to go from here."""
    counts = count_by_kind(db.connection())
    return render_template("index.html", counts=counts, total=sum(counts.values()))
