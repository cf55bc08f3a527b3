"""The app behind Debian's pgbouncer in transaction mode (DATABASE_POOLER=pgbouncer).

A module-scoped pgbouncer (tests/servers.py) pools a database of the module's own with
the demo network. Every read path of the API runs through it many times (past psycopg's
prepare threshold, where prepared statements would break: the next transaction may get
another server connection), and so do an import, admin writes, stock writes and holds. The
statement timeout, which the app cannot send as a startup option through pgbouncer, is
set by pgbouncer's connect_query and still cuts a slow statement off.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db
from app.queries import tokens
from app.services import tokens as auth
from tests.conftest import load_demo
from tests.servers import pgbouncer

REPEATS = 8  # past DB_PREPARE_THRESHOLD (5): psycopg would prepare from here on
TIMEOUT_MS = 500


@pytest.fixture(scope="module")
def through_pgbouncer(clone_database):
    """(URL through pgbouncer, direct URL, admin token) of a demo database."""
    with clone_database("locator_pgbouncer_test") as direct_url:
        engine = create_engine(direct_url)
        token = auth.new_token()
        with engine.begin() as connection:
            load_demo(connection)
            tokens.create_token(connection, "bouncer", auth.hash_token(token), list(auth.SCOPES))
        engine.dispose()
        with pgbouncer(direct_url, statement_timeout_ms=TIMEOUT_MS) as url:
            yield url, direct_url, token


def pooled_app(url: str, **settings):
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "DATABASE_POOLER": "pgbouncer",
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            # More app connections than pgbouncer's server pool (8): they share it.
            "DB_POOL_SIZE": 10,
            **settings,
        }
    )


@pytest.fixture
def app(through_pgbouncer):
    app = pooled_app(through_pgbouncer[0])
    yield app
    with app.app_context():
        db.dispose()


def next_wednesday_at(hour: int) -> datetime:
    now = datetime.now(UTC).astimezone()
    day = now + timedelta(days=(2 - now.weekday()) % 7 or 7)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


READS = [
    "/api/v1/pickup-points?lat=38.9072&lon=-77.0369",
    "/api/v1/pickup-points?lat=38.9072&lon=-77.0369&open_now=true&capability=pickup",
    "/api/v1/locations?limit=5",
    "/api/v1/geocode?q=20001",
    "/api/v1/coverage?lat=38.9072&lon=-77.0369",
    "/api/v1/service-areas?mode=delivery",
    "/readyz",
]


@pytest.mark.parametrize("path", READS)
def test_read_paths_through_pgbouncer(app, path):
    client = app.test_client()
    bodies = []
    for _ in range(REPEATS):
        response = client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        bodies.append(response.get_data())
    if path != "/readyz":
        assert len(set(bodies)) == 1  # the same answer every time, on any server connection


def test_paging_and_fulfilment_options_through_pgbouncer(app):
    client = app.test_client()
    first = client.get("/api/v1/locations?limit=3").json
    assert first["next_cursor"]
    second = client.get(f"/api/v1/locations?limit=3&cursor={first['next_cursor']}")
    assert second.status_code == 200
    body = {
        "lat": 39.0634,
        "lon": -76.9968,
        "cart": [{"sku": "bread", "qty": 1}],
        "at": next_wednesday_at(10).isoformat(),
        "radius": 5000,
    }
    for _ in range(REPEATS):
        response = client.post("/api/v1/fulfilment/options", json=body)
        assert response.status_code == 200, response.json
        assert response.json["options"]


def test_imports_and_admin_writes_through_pgbouncer(app, through_pgbouncer):
    _, direct_url, token = through_pgbouncer
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    rows = "".join(f"bouncer-{i},Bouncer {i},locker,38.9{i},-77.0{i}\n" for i in range(REPEATS))
    imported = client.post(
        "/api/v1/imports?filename=lockers.csv",
        data="external_id,name,kind,lat,lon\n" + rows,
        headers=headers,
    )
    assert imported.status_code == 200, imported.json
    assert imported.json["created"] == REPEATS
    for i in range(REPEATS):
        body = {"name": f"Renamed {i}", "kind": "locker", "lat": 38.9, "lon": -77.0 - i / 100}
        put = client.put(f"/api/v1/locations/bouncer-{i}", json=body, headers=headers)
        assert put.status_code in (200, 201), put.json
        stock = client.put(
            "/api/v1/locations/bouncer-0/stock",
            json={"lines": [{"sku": "bread", "on_hand": i}]},
            headers=headers,
        )
        assert stock.status_code == 200, stock.json
    deleted = client.delete("/api/v1/locations/bouncer-7", headers=headers)
    assert deleted.status_code == 204
    # Everything is on the database itself, committed.
    engine = create_engine(direct_url)
    with engine.connect() as connection:
        names = connection.execute(
            text("SELECT name FROM locations WHERE external_id LIKE 'bouncer-%' ORDER BY name")
        ).scalars()
        assert list(names) == [f"Renamed {i}" for i in range(REPEATS - 1)]
    engine.dispose()


def test_holds_through_pgbouncer(app, through_pgbouncer):
    """Holds take row locks in a transaction of several statements: through pgbouncer
    each transaction keeps one server connection, so the locks and the reads they
    protect stay together."""
    _, direct_url, token = through_pgbouncer
    engine = create_engine(direct_url)
    with engine.connect() as connection:
        location, sku = connection.execute(
            text(
                "SELECT l.external_id, s.sku FROM stock s JOIN locations l ON l.id = s.location_id"
                " JOIN products p ON p.sku = s.sku WHERE s.on_hand >= :units"
                " AND p.temperature = 'ambient' AND 'pickup' = ANY(l.capabilities)"
                " AND l.status = 'active' ORDER BY 1, 2 LIMIT 1"
            ),
            {"units": REPEATS},
        ).one()
    engine.dispose()
    client = app.test_client()
    body = {"location_external_id": location, "mode": "pickup", "cart": [{"sku": sku, "qty": 1}]}
    held = []
    for i in range(REPEATS):
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"bouncer-{i}"}
        for _ in range(2):  # the second is a replay: the same hold
            response = client.post("/api/v1/fulfilment/holds", json=body, headers=headers)
            assert response.status_code == 201, response.json
        held.append(response.json["hold_id"])
    assert len(set(held)) == REPEATS
    auth_only = {"Authorization": f"Bearer {token}"}
    for hold_id in held[::2]:
        confirmed = client.post(f"/api/v1/fulfilment/holds/{hold_id}/confirm", headers=auth_only)
        assert confirmed.status_code == 200, confirmed.json
    for hold_id in held[1::2]:
        released = client.delete(f"/api/v1/fulfilment/holds/{hold_id}", headers=auth_only)
        assert released.status_code == 204
    engine = create_engine(direct_url)
    with engine.connect() as connection:
        states = connection.execute(
            text("SELECT status, count(*) FROM holds GROUP BY status ORDER BY status")
        ).all()
    engine.dispose()
    assert [tuple(row) for row in states] == [("ordered", REPEATS // 2), ("released", REPEATS // 2)]


def test_statement_timeout_holds_through_pgbouncer(app):
    with app.app_context():
        connection = db.connection()
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "500ms"
        with pytest.raises(OperationalError, match="statement timeout"):
            connection.execute(text("SELECT pg_sleep(3)"))


def test_without_the_pooler_setting_pgbouncer_refuses_the_connection(through_pgbouncer):
    """Why DATABASE_POOLER exists: the app's startup options are refused by pgbouncer."""
    plain = pooled_app(through_pgbouncer[0], DATABASE_POOLER="")
    with plain.app_context():
        try:
            with pytest.raises(OperationalError, match="unsupported startup parameter"):
                db.connection().execute(text("SELECT 1"))
        finally:
            db.dispose()
