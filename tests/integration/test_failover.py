"""Failover (DESIGN §7): a primary and a synchronous standby; the primary stops hard
under a write and read load (admin writes, holds and reads), the standby is promoted,
and the app, given only a multi-host DATABASE_URL with target_session_attrs=read-write,
follows it.

Checked: every failed request in the window is a 503 problem with Retry-After (never
another 5xx), writes and reads come back by themselves within RECOVERY_BOUND_S of the
stop, after which nothing fails, and every acknowledged write is on the new primary
(synchronous replication: a commit is acknowledged only once the standby has it).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import NullPool, create_engine, text

from app import create_app
from app.embedded_postgres import EmbeddedPostgres
from app.extensions import db
from app.queries.tokens import create_token
from app.services.tokens import hash_token, new_token
from tests.conftest import load_demo_database, scratch_directory
from tests.servers import wait_for

# Fast but honest about commits: fsync off (no node's OS crashes here), while
# synchronous_commit stays on, so a commit waits for the standby (remote flush).
SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "on"}
RECOVERY_BOUND_S = 30  # documented in the README (Operations, failover)
WRITES_BEFORE = 15
WRITES_AFTER = 15
READ = "/api/v1/pickup-points?lat=38.9072&lon=-77.0369"


def tcp_password(cluster: EmbeddedPostgres) -> str:
    return json.loads(cluster.state_file.read_text())["password"]


@pytest.fixture
def synchronous_pair():
    """(primary, standby, multi-host URL): the standby streams synchronously."""
    with scratch_directory("locator-failover-") as root:
        primary = EmbeddedPostgres(root / "primary", settings=SETTINGS)
        primary_url = primary.ensure_running()
        load_demo_database(primary_url)
        standby = primary.create_standby(root / "standby")
        try:
            standby.ensure_running()
            engine = create_engine(primary_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                # After the base backup: the standby's own copy of the settings keeps no
                # synchronous standby, so once promoted it commits on its own.
                connection.execute(text("ALTER SYSTEM SET synchronous_standby_names = '*'"))
                connection.execute(text("SELECT pg_reload_conf()"))

                def synchronous() -> bool:
                    state = connection.execute(
                        text("SELECT sync_state FROM pg_stat_replication")
                    ).scalars()
                    return list(state) == ["sync"]

                wait_for(synchronous, "synchronous replication")
            engine.dispose()
            password = tcp_password(primary)
            hosts = "&".join(f"host=127.0.0.1:{node.running_port()}" for node in (primary, standby))
            url = (
                f"postgresql+psycopg://locator:{password}@/{primary.database}?{hosts}"
                "&target_session_attrs=read-write&connect_timeout=2"
            )
            yield primary, standby, url
        finally:
            standby.stop()
            primary.stop()


@dataclass(frozen=True)
class Outcome:
    """One request of a load: when it ran, and what came back (the response is closed)."""

    started: float
    finished: float
    number: int
    status: int
    mimetype: str
    retry_after: str | None
    body: str


class Load(threading.Thread):
    """Sends one kind of request (numbered) in a loop and records each Outcome."""

    def __init__(self, send):
        super().__init__(daemon=True)
        self.send = send
        self.results: list[Outcome] = []
        self.stop = threading.Event()

    def run(self):
        number = 0
        while not self.stop.is_set():
            started = time.monotonic()
            with self.send(number) as response:
                outcome = Outcome(
                    started,
                    time.monotonic(),
                    number,
                    response.status_code,
                    response.mimetype,
                    response.headers.get("Retry-After"),
                    response.get_data(as_text=True),
                )
            self.results.append(outcome)
            number += 1

    def acknowledged_after(self, moment: float) -> int:
        return sum(1 for r in self.results if r.started > moment and r.status < 300)


def test_the_app_follows_a_promoted_standby(synchronous_pair, capsys):
    primary, standby, url = synchronous_pair
    token = new_token()
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        create_token(connection, "failover", hash_token(token), ["write", "orders"])
        # Holds cycle over hundreds of stock lines and expire within a second: no unit or
        # day's capacity runs out, so none is refused.
        lines = connection.execute(
            text(
                "SELECT l.external_id, s.sku FROM stock s JOIN locations l ON l.id = s.location_id"
                " JOIN products p ON p.sku = s.sku WHERE s.on_hand >= 5"
                " AND p.temperature = 'ambient' AND 'pickup' = ANY(l.capabilities)"
                " AND l.status = 'active' ORDER BY 1, 2"
            )
        ).all()
    engine.dispose()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "CRITICAL",
            "DB_POOL_TIMEOUT": 2,
            "HOLD_TTL_S": 1,
        }
    )
    headers = {"Authorization": f"Bearer {token}"}

    def write(i):
        body = {"name": f"Failover {i}", "kind": "locker", "lat": 38.9, "lon": -77.0}
        return app.test_client().put(f"/api/v1/locations/fo-{i}", json=body, headers=headers)

    def hold(i):
        location, sku = lines[i % len(lines)]
        cart = [{"sku": sku, "qty": 1}]
        body = {"location_external_id": location, "mode": "pickup", "cart": cart}
        keyed = {**headers, "Idempotency-Key": f"failover-{i}"}
        return app.test_client().post("/api/v1/fulfilment/holds", json=body, headers=keyed)

    writer = Load(write)
    reader = Load(lambda _: app.test_client().get(READ))
    holder = Load(hold)
    try:
        writer.start(), reader.start(), holder.start()
        wait_for(lambda: writer.acknowledged_after(0) >= WRITES_BEFORE, "writes before")

        stopped_at = time.monotonic()
        primary._pg("pg_ctl", "-D", str(primary.data_dir), "-m", "immediate", "-w", "stop")
        standby._pg("pg_ctl", "-D", str(standby.data_dir), "-w", "promote")
        promoted_at = time.monotonic()
        wait_for(
            lambda: (
                writer.acknowledged_after(promoted_at) >= WRITES_AFTER
                and reader.acknowledged_after(promoted_at) >= WRITES_AFTER
                and holder.acknowledged_after(promoted_at) >= WRITES_AFTER
            ),
            "writes and reads after the promotion",
            timeout=RECOVERY_BOUND_S,
        )
    finally:
        writer.stop.set(), reader.stop.set(), holder.stop.set()
        writer.join(30), reader.join(30), holder.join(30)
        with app.app_context():
            db.dispose()

    recovered = {}
    for name, load in (("writes", writer), ("reads", reader), ("holds", holder)):
        failed = [r for r in load.results if r.status >= 300]
        for outcome in failed:
            assert outcome.status == 503, outcome.body
            assert outcome.mimetype == "application/problem+json"
            assert int(outcome.retry_after) >= 1
        # One window: after the first success that began after the promotion, nothing
        # fails. (Not after the stop: a read may be answered from a cache meanwhile.)
        first_back = next(
            r.finished for r in load.results if r.started > promoted_at and r.status < 300
        )
        late = [(r.started - stopped_at, r.body) for r in failed if r.started > first_back]
        assert not late, (name, first_back - stopped_at, late)
        recovered[name] = first_back - stopped_at
        assert recovered[name] < RECOVERY_BOUND_S

    acknowledged = {r.number for r in writer.results if r.status < 300}
    assert len(acknowledged) >= WRITES_BEFORE + WRITES_AFTER
    survivor = create_engine(standby.url(), poolclass=NullPool)
    with survivor.connect() as connection:
        assert connection.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is False
        present = {
            int(external_id.split("-", 1)[1])
            for external_id in connection.execute(
                text("SELECT external_id FROM locations WHERE external_id LIKE 'fo-%'")
            ).scalars()
        }
        held = set(connection.execute(text("SELECT id::text FROM holds")).scalars())
    survivor.dispose()
    lost = acknowledged - present
    assert lost == set()
    acknowledged_holds = {json.loads(r.body)["hold_id"] for r in holder.results if r.status == 201}
    assert acknowledged_holds and acknowledged_holds - held == set()
    with capsys.disabled():
        print(
            f"\nfailover: {len(acknowledged)} acknowledged writes and"
            f" {len(acknowledged_holds)} holds, none lost;"
            f" writes back {recovered['writes']:.2f} s and reads back"
            f" {recovered['reads']:.2f} s after the primary stopped"
            f" (promotion took {promoted_at - stopped_at:.2f} s);"
            f" 503s: {sum(1 for r in writer.results if r.status == 503)} writes,"
            f" {sum(1 for r in reader.results if r.status == 503)} reads"
        )
