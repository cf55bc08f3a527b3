"""Shared by the fuzzing suites: a populated database of their own, an admin token, the
rules every answer must keep, and how many examples to run.

`make test` runs a fixed number of derandomized examples (the same every run, so CI is
stable); `make fuzz` sets FUZZ_EXAMPLES higher and FUZZ_RANDOM=1 to hunt for new faults.
"""

from __future__ import annotations

import os

import orjson
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine

from app import create_app
from app.extensions import db
from app.services import tokens
from tests.conftest import load_demo_database

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not RANDOM,
    suppress_health_check=list(HealthCheck),
)


def populated_app(url: str):
    """The app on ``url`` after loading the demo network into it, and a token with every
    scope, so that fuzzed requests reach the code behind the 401s and the empty results."""
    load_demo_database(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        token = tokens.create_token(connection, "fuzzer", list(tokens.SCOPES))
    engine.dispose()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "LOG_LEVEL": "CRITICAL",
            "RATELIMIT_ENABLED": False,
        }
    )
    return app, token


def dispose(app) -> None:
    with app.app_context():
        db.dispose()


def assert_well_formed(status: int, content_type: str, body: bytes, what: str) -> None:
    """No 5xx; every 4xx a problem+json that names at least one field, each by name."""
    assert status < 500, f"{what}: {status} {body[:500]!r}"
    if status < 400:
        return
    assert content_type.startswith("application/problem+json"), f"{what}: {content_type}"
    problem = orjson.loads(body)
    assert problem["status"] == status, what
    assert problem["title"] and isinstance(problem["detail"], str), what
    assert problem["errors"], f"{what}: no field named in {problem}"
    for error in problem["errors"]:
        assert isinstance(error["field"], str) and error["field"], f"{what}: {problem}"
        assert isinstance(error["message"], str) and error["message"], f"{what}: {problem}"
