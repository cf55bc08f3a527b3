"""The hot reads (app/queries HotRead): cached answers, generic plans, and their errors.

The nearest-pickup and coverage statements run on the driver's cursor, coverage with a
generic plan in a transaction of its own, and both answers are kept per data version.
These tests hold the claims of that design on the real database: a cached answer is the
answer a fresh read gives (checked against an app without the cache, over many origins);
every committed write, whichever app or session made it, is seen by the next request;
an uncommitted one never poisons the cache; and a statement that fails mid-way (here a
statement timeout) is the usual 503 and leaves its pooled connection as it found it.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from app.extensions import db
from app.queries import read_cache

# A fixed instant, so that answers compare equal whatever the clock does between calls.
AT = "2026-12-02T12:00:00%2B00:00"
WASHINGTON = (38.9072, -77.0369)


def _origins(count: int, seed: int = 11) -> list[tuple[float, float]]:
    """Origins around the demo network (Washington DC) and a few far from it."""
    rng = random.Random(seed)
    near = [
        (WASHINGTON[0] + rng.uniform(-0.3, 0.3), WASHINGTON[1] + rng.uniform(-0.3, 0.3))
        for _ in range(count)
    ]
    return near + [(0.0, 0.0), (89.9, 179.99), (-45.0, -180.0)]


def _pickup(client, lat, lon):
    return client.get(f"/api/v1/pickup-points?lat={lat}&lon={lon}&limit=5&open_at={AT}")


def _coverage(client, lat, lon):
    return client.get(f"/api/v1/coverage?lat={lat}&lon={lon}&limit=5")


def _cache(app):
    with app.app_context():
        return read_cache(db.engine)


@pytest.mark.usefixtures("demo")
def test_cached_answers_are_the_answers_a_fresh_read_gives(make_app):
    cached_app, fresh_app = make_app(), make_app(READ_CACHE_ROWS=0)
    cached, fresh = cached_app.test_client(), fresh_app.test_client()
    origins = _origins(40)
    served = found = 0
    for ask in (_pickup, _coverage):
        for lat, lon in origins:
            expected = ask(fresh, lat, lon)
            assert expected.status_code == 200
            first, second = ask(cached, lat, lon), ask(cached, lat, lon)
            assert first.json == expected.json == second.json
            found += bool(expected.json.get("results"))
            served += bool(expected.json.get("served_by"))
    # The comparison covered real answers, not only empty ones.
    assert found >= 30 and served >= 10
    cache = _cache(cached_app)
    assert cache.hits >= 2 * len(origins) and cache.misses >= 2 * len(origins)
    assert _cache(fresh_app).hits == 0


@pytest.mark.usefixtures("demo")
def test_a_write_committed_anywhere_is_seen_by_the_next_request(make_app, connection):
    reader, writer = make_app().test_client(), make_app().test_client()
    lat, lon = WASHINGTON
    before = _pickup(reader, lat, lon).json["results"]
    assert before and _pickup(reader, lat, lon).json["results"] == before  # now cached
    nearest = before[0]["external_id"]

    # Another session retires the nearest location and commits.
    connection.execute(
        text("UPDATE locations SET status = 'retired' WHERE external_id = :id"), {"id": nearest}
    )
    connection.commit()
    after = _pickup(reader, lat, lon).json["results"]
    assert nearest not in [row["external_id"] for row in after]
    assert _pickup(writer, lat, lon).json["results"] == after

    # Coverage too: removing every area of the point's first server changes the answer.
    served = _coverage(reader, lat, lon).json
    assert served["served_by"], "the demo serves central Washington"
    area = served["served_by"][0]["service_area_id"]
    connection.execute(text("DELETE FROM service_areas WHERE id = :id"), {"id": area})
    connection.commit()
    again = _coverage(reader, lat, lon).json
    assert area not in [row["service_area_id"] for row in again["served_by"]]
    assert again["served_by_total"] == served["served_by_total"] - 1


@pytest.mark.usefixtures("demo")
def test_an_uncommitted_write_never_reaches_the_cache(app, client, connection):
    lat, lon = WASHINGTON
    before = _pickup(client, lat, lon).json["results"]
    nearest = before[0]["external_id"]
    # Another session retires the nearest location (and so bumps the data version) but
    # does not commit: the app neither sees it nor caches anything under that version.
    connection.execute(
        text("UPDATE locations SET status = 'retired' WHERE external_id = :id"), {"id": nearest}
    )
    assert _pickup(client, lat, lon).json["results"] == before
    connection.rollback()
    assert _pickup(client, lat, lon).json["results"] == before
    # A later, different write that commits is seen, though it takes the same version
    # number the rolled-back one had.
    connection.execute(
        text("UPDATE locations SET name = 'Renamed' WHERE external_id = :id"), {"id": nearest}
    )
    connection.commit()
    assert _pickup(client, lat, lon).json["results"][0]["name"] == "Renamed"


@pytest.mark.usefixtures("demo")
def test_a_hot_read_cut_off_by_the_timeout_is_a_503_and_leaves_its_connection_clean(
    make_app, engine
):
    # One pooled connection: the requests after the failure get the very same one.
    app = make_app(STATEMENT_TIMEOUT_MS=300, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0)

    @app.get("/test/session")
    def session():
        connection = db.connection()
        return {
            "pid": connection.execute(text("SELECT pg_backend_pid()")).scalar_one(),
            "plan_cache_mode": connection.execute(text("SHOW plan_cache_mode")).scalar_one(),
            "in_transaction": str(connection.connection.driver_connection.info.transaction_status),
        }

    client = app.test_client()
    before = client.get("/test/session").json
    assert before["plan_cache_mode"] == "auto"
    lat, lon = WASHINGTON
    for ask in (_coverage, _pickup):
        # Another session locks the tables the statement reads; waiting counts against
        # statement_timeout, so the statement fails inside its pipeline and transaction.
        with engine.connect() as blocker:
            blocker.execute(text("BEGIN"))
            blocker.execute(text("LOCK TABLE locations, service_areas IN ACCESS EXCLUSIVE MODE"))
            refused = ask(client, lat + 0.001, lon)
            blocker.execute(text("ROLLBACK"))
        assert refused.status_code == 503, refused.json
        assert refused.mimetype == "application/problem+json" and refused.headers["Retry-After"]
        assert client.get("/test/session").json == before  # same connection, setting gone
        assert ask(client, lat + 0.001, lon).status_code == 200


@pytest.mark.usefixtures("demo")
def test_a_prepared_hot_read_survives_its_session_forgetting_it(make_app):
    """psycopg runs DEALLOCATE ALL when it sees a ROLLBACK; the coverage statement, which
    is PREPAREd once per connection, is then prepared again instead of failing."""
    app = make_app(DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, READ_CACHE_ROWS=0)

    @app.get("/test/forget")
    def forget():
        connection = db.connection()
        connection.execute(text("DEALLOCATE ALL"))
        return {
            "prepared": connection.execute(
                text("SELECT count(*) FROM pg_prepared_statements")
            ).scalar_one()
        }

    @app.get("/test/plans")
    def plans():
        rows = (
            db.connection()
            .execute(
                text(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE name LIKE 'locator_hot_%'"
                )
            )
            .all()
        )
        return {"plans": [list(row) for row in rows]}

    client = app.test_client()
    lat, lon = WASHINGTON
    first = _coverage(client, lat, lon)
    assert first.status_code == 200 and first.json["served_by"]
    assert client.get("/test/forget").json == {"prepared": 0}
    again = _coverage(client, lat, lon)
    assert again.status_code == 200 and again.json == first.json
    # Run with the generic plan it was prepared for, never a custom one.
    [[generic, custom]] = client.get("/test/plans").json["plans"]
    assert generic >= 1 and custom == 0
