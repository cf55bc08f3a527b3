"""Structured logs: with LOG_FORMAT=json every line is one JSON object.

Each line has ``time``, ``level``, ``logger`` and ``message``, the ``request_id`` of the
request it was written in (the X-Request-ID the response carries), and the fields a
caller passed in ``extra`` (the access line of app/metrics.py: endpoint, status,
duration_ms, the client key's name). Secrets never reach a log: keys and tokens are
not passed to any logger.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson
from flask import Flask, g, has_request_context

# The attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,  # which gunicorn worker
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name != "request_id":
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record written during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to the ``sys.stderr`` of the moment, not of its creation: pytest swaps it
    per test, and the handler lives as long as the process."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure(app: Flask) -> None:
    """The root logger's handler and level, once per process (tests build many apps)."""
    root = logging.getLogger()
    root.setLevel(app.config["LOG_LEVEL"])
    if any(getattr(handler, "locator", False) for handler in root.handlers):
        return
    handler = StderrHandler()
    handler.locator = True
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
