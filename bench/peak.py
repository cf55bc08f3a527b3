"""The peak (issue 13): checkouts racing for the last units, and the database killed mid-run.

Usage (from the repository root)::

    make bench-peak                                   # 200 clients, 60 s
    .venv/bin/python bench/peak.py --clients 50 --seconds 12   # the test's short form

Seeds a throwaway cluster (synchronous commits: an acknowledged commit is in the WAL)
with --locations pickup points in Asia/Shanghai, each with a few units of one hot SKU
and a small daily pickup capacity, and serves the app with gunicorn as `make run` does
(app/serving.py), HOLD_TTL_S short so that holds expire during the run. Then --clients
threads, each a checkout on its own connection, for --seconds: hold one or two units at
a random location (80% of the holds go to a tenth of the locations) under a fresh
Idempotency-Key, then confirm (and sometimes cancel or
collect), release, or walk away and let the hold expire. A request answered 503 or cut
off is sent again with the same key, as a checkout would. Halfway through, the database
is stopped with ``pg_ctl -m immediate`` (a crash: no checkpoint, no goodbye) and started
again --outage seconds later.

Verified afterwards, from the database's own rows (never from the service's SQL):

- per location and SKU, the units held or ordered never exceeded what was available:
  checked on snapshots every half second during the run, and at the end over all
  orders (ordered or collected units <= initial on_hand), and on_hand went down by
  exactly the units collected (no collection applied twice);
- per location and local day, orders never exceeded the daily capacity;
- the same Idempotency-Key never gave two holds (every answer for a key named the same
  hold), and every acknowledged hold, confirm, release, cancel and collection is in the
  database after the restart as acknowledged.

Prints holds per second, the p99 of POST /holds, the share of 409s, and /healthz's rate
with the same clients just before, as the same-run reference. Exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from harness import SERVING, app_env, gunicorn_server
from sqlalchemy import create_engine, text

from app import schema
from app.embedded_postgres import EmbeddedPostgres
from app.importing import ImportOptions, import_file
from app.services import tokens

TIMEZONE = "Asia/Shanghai"
HOT_SKU = "festival-box"
# Durable enough for a crash of the database processes (not of the machine): commits
# wait for their WAL to be written (synchronous_commit), while fsync is skipped.
SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "on"}
RETRY_PAUSE_S = 0.2
# Festival demand is not spread evenly: most checkouts want the same few stores.
HOT_SHARE = 0.8  # of the holds go to...
HOT_LOCATIONS = 0.1  # ...this share of the locations
REQUEST_TIMEOUT_S = 15


@dataclass
class Tally:
    """What one client saw, merged at the end."""

    created: int = 0  # 201s that made a hold (not replays)
    replays: int = 0
    conflicts: int = 0
    answered: int = 0  # POST /holds answered (any status but 503 or a cut-off)
    unavailable: int = 0  # 503s and cut-off requests (retried)
    latencies: list[float] = field(default_factory=list)  # POST /holds, answered
    other: Counter = field(default_factory=Counter)  # unexpected statuses
    keys: dict[str, set] = field(default_factory=lambda: defaultdict(set))  # key -> hold ids
    acknowledged: dict[str, str] = field(default_factory=dict)  # hold id -> last acked state


class Client(threading.Thread):
    def __init__(self, number, port, token, locations, deadline, rng_seed):
        super().__init__(daemon=True)
        self.number, self.port, self.token = number, port, token
        self.locations, self.deadline = locations, deadline
        self.rng = random.Random(rng_seed)
        self.tally = Tally()

    def call(self, method, path, body=None, key=None):
        """(status, json) of one request, or (None, None) when it was cut off."""
        headers = {"Authorization": f"Bearer {self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, (json.loads(data) if data else None)
        except (OSError, http.client.HTTPException):
            return None, None
        finally:
            connection.close()

    def until_answered(self, method, path, body=None, key=None, timed=False):
        """Send again (same key) while the answer is a 503 or the request is cut off."""
        while True:
            started = time.perf_counter()
            status, answer = self.call(method, path, body, key)
            if status not in (None, 503):
                if timed:
                    self.tally.latencies.append(time.perf_counter() - started)
                return status, answer
            self.tally.unavailable += 1
            if time.monotonic() > self.deadline + 60:
                return None, None  # given up (reported as a failure)
            time.sleep(RETRY_PAUSE_S)

    def run(self):
        n = 0
        tally = self.tally
        while time.monotonic() < self.deadline:
            n += 1
            key = f"peak-{self.number}-{n}"
            pool = self.locations
            if self.rng.random() < HOT_SHARE:
                pool = pool[: max(1, int(len(pool) * HOT_LOCATIONS))]
            body = {
                "location_external_id": self.rng.choice(pool),
                "mode": "pickup",
                "cart": [{"sku": HOT_SKU, "qty": self.rng.choice((1, 1, 1, 2))}],
            }
            status, answer = self.until_answered(
                "POST", "/api/v1/fulfilment/holds", body, key, timed=True
            )
            if status is None:
                tally.other["gave up"] += 1
                continue
            tally.answered += 1
            if status == 409:
                tally.conflicts += 1
                continue
            if status != 201:
                tally.other[f"hold {status}"] += 1
                continue
            hold_id = answer["hold_id"]
            tally.keys[key].add(hold_id)
            tally.created += 1
            tally.acknowledged[hold_id] = "held"
            if self.rng.random() < 0.1:  # a checkout that did not hear the answer
                status, again = self.until_answered("POST", "/api/v1/fulfilment/holds", body, key)
                if status == 201:
                    tally.keys[key].add(again["hold_id"])
                    tally.replays += 1
                else:
                    tally.other[f"replay {status}"] += 1
            self.follow_up(hold_id)

    def follow_up(self, hold_id):
        tally, choice = self.tally, self.rng.random()
        if choice < 0.3:
            return  # walks away: the hold expires by itself
        if choice < 0.5:
            status, _ = self.until_answered("DELETE", f"/api/v1/fulfilment/holds/{hold_id}")
            if status == 204:
                tally.acknowledged[hold_id] = "released"
            return
        status, _ = self.until_answered("POST", f"/api/v1/fulfilment/holds/{hold_id}/confirm")
        if status == 409:
            return  # expired meanwhile (the outage can outlast a short TTL)
        if status != 200:
            tally.other[f"confirm {status}"] += 1
            return
        tally.acknowledged[hold_id] = "ordered"
        then = self.rng.random()
        if then < 0.2:
            status, _ = self.until_answered("DELETE", f"/api/v1/fulfilment/orders/{hold_id}")
            if status == 204:
                tally.acknowledged[hold_id] = "cancelled"
        elif then < 0.5:
            url = f"/api/v1/fulfilment/orders/{hold_id}/collected"
            status, _ = self.until_answered("POST", url)
            if status == 200:
                tally.acknowledged[hold_id] = "collected"


def seed(url: str, workdir: Path, locations: int, rng: random.Random) -> tuple[str, dict]:
    """Locations, the hot SKU's stock and capacities through the import pipeline; an
    orders token. Returns (token, {external_id: (units, capacity)})."""
    plan = {f"peak-{i:03d}": (rng.randint(2, 6), rng.randint(2, 4)) for i in range(locations)}
    files = {
        "locations.csv": ["external_id,name,kind,lat,lon,timezone,capabilities,country"]
        + [
            f"{e},Peak {i},store,{31.0 + i // 20 * 0.01:.4f},{121.3 + i % 20 * 0.01:.4f},"
            f"{TIMEZONE},pickup,CN"
            for i, e in enumerate(plan)
        ],
        "products.csv": ["sku,name,temperature", f"{HOT_SKU},Festival box,ambient"],
        "stock.csv": ["location_external_id,sku,on_hand"]
        + [f"{e},{HOT_SKU},{units}" for e, (units, _) in plan.items()],
        "settings.csv": [
            "location_external_id,mode,prep_minutes,cutoff,daily_capacity,departures,lead_minutes"
        ]
        + [f"{e},pickup,10,,{capacity},," for e, (_, capacity) in plan.items()],
    }
    engine = create_engine(url)
    schema.upgrade(engine)
    with engine.begin() as connection:
        for name, lines in files.items():
            path = workdir / name
            path.write_text("\n".join(lines) + "\n")
            report = import_file(connection, path, ImportOptions())
            assert not report.rejected, report.rejected
        token = tokens.create_token(connection, "peak", ["orders"])
    engine.dispose()
    return token, plan


def healthz_rate(port: int, clients: int, seconds: float) -> float:
    """Requests per second of GET /healthz with the same number of threads."""
    deadline = time.monotonic() + seconds
    counts = [0] * clients

    def loop(i):
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                counts[i] += 1
            except (OSError, http.client.HTTPException):
                pass
            finally:
                connection.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


class Monitor(threading.Thread):
    """Every half second, one consistent snapshot of the rows: the live units per
    location and SKU against on_hand, live holds and orders per location and local day
    against the capacity. Errors while the database is down are skipped."""

    def __init__(self, url: str, capacities: dict, stop: threading.Event):
        super().__init__(daemon=True)
        self.engine = create_engine(url, pool_pre_ping=True)
        self.capacities, self.stop = capacities, stop
        self.snapshots, self.violations = 0, []

    def run(self):
        while not self.stop.wait(0.5):
            try:
                self.violations += snapshot_violations(self.engine, self.capacities)
                self.snapshots += 1
            except Exception:  # noqa: BLE001 - the database is down for a moment
                continue
        self.engine.dispose()


def snapshot_violations(engine, capacities: dict) -> list[str]:
    zone = ZoneInfo(TIMEZONE)
    with engine.connect() as connection:
        connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        rows = connection.execute(
            text(
                "SELECT h.id, h.status, h.expires_at, h.collect_by, h.ready_at, l.external_id,"
                " hl.sku, hl.qty, s.on_hand FROM holds h"
                " JOIN hold_lines hl ON hl.hold_id = h.id"
                " JOIN locations l ON l.id = hl.location_id"
                " JOIN stock s ON s.location_id = hl.location_id AND s.sku = hl.sku"
            )
        ).all()
        # The clock after the snapshot: every hold in it was made at an earlier now.
        now = datetime.now(UTC)
        connection.rollback()
    kept, on_hand, per_day = Counter(), {}, Counter()
    for row in rows:
        on_hand[(row.external_id, row.sku)] = row.on_hand
        live_hold = row.status == "held" and row.expires_at > now
        if live_hold or (row.status == "ordered" and row.collect_by > now):
            kept[(row.external_id, row.sku)] += row.qty
        if live_hold or row.status in ("ordered", "collected"):
            per_day[(row.external_id, row.ready_at.astimezone(zone).date())] += 1
    problems = [
        f"{key}: {units} units kept, {on_hand[key]} on hand"
        for key, units in kept.items()
        if units > on_hand[key]
    ]
    problems += [
        f"{key}: {count} holds and orders, capacity {capacities[key[0]]}"
        for key, count in per_day.items()
        if count > capacities[key[0]]
    ]
    return problems


def final_violations(url: str, plan: dict, tally: Tally) -> list[str]:
    """The end state against the plan and against everything the clients were told."""
    engine = create_engine(url)
    zone = ZoneInfo(TIMEZONE)
    with engine.connect() as connection:
        holds = {
            str(row.id): row
            for row in connection.execute(
                text(
                    "SELECT h.id, h.idempotency_key, h.status, h.ready_at, l.external_id,"
                    " hl.qty FROM holds h JOIN hold_lines hl ON hl.hold_id = h.id"
                    " JOIN locations l ON l.id = hl.location_id"
                )
            )
        }
        on_hand = dict(
            connection.execute(
                text(
                    "SELECT l.external_id, s.on_hand FROM stock s"
                    " JOIN locations l ON l.id = s.location_id WHERE s.sku = :sku"
                ),
                {"sku": HOT_SKU},
            ).all()
        )
    engine.dispose()
    problems = []
    ordered, collected, per_day = Counter(), Counter(), Counter()
    for row in holds.values():
        if row.status in ("ordered", "collected"):
            ordered[row.external_id] += row.qty
            per_day[(row.external_id, row.ready_at.astimezone(zone).date())] += 1
        if row.status == "collected":
            collected[row.external_id] += row.qty
    for location, (units, _) in plan.items():
        if ordered[location] > units:
            problems.append(f"{location}: {ordered[location]} units ordered of {units}")
        if on_hand[location] != units - collected[location]:
            problems.append(
                f"{location}: on_hand {on_hand[location]}, expected {units} - "
                f"{collected[location]} collected"
            )
    for (location, day), count in per_day.items():
        if count > plan[location][1]:
            problems.append(f"{location} {day}: {count} orders, capacity {plan[location][1]}")
    for key, ids in tally.keys.items():
        if len(ids) > 1:
            problems.append(f"Idempotency-Key {key} gave holds {sorted(ids)}")
    for hold_id, state in tally.acknowledged.items():
        row = holds.get(hold_id)
        if row is None:
            problems.append(f"acknowledged hold {hold_id} is lost")
        elif state == "ordered" and row.status not in ("ordered", "collected", "cancelled"):
            problems.append(f"acknowledged order {hold_id} is {row.status}")
        elif state == "released" and row.status not in ("released", "expired"):
            # Releasing a hold that had just expired is acknowledged too: it is free.
            problems.append(f"{hold_id} acknowledged released is {row.status}")
        elif state in ("cancelled", "collected") and row.status != state:
            problems.append(f"{hold_id} acknowledged {state} is {row.status}")
    keys = Counter(row.idempotency_key for row in holds.values())
    problems += [f"key {key} has {count} holds" for key, count in keys.items() if count > 1]
    return problems


def merge(tallies: list[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.created += tally.created
        total.replays += tally.replays
        total.conflicts += tally.conflicts
        total.answered += tally.answered
        total.unavailable += tally.unavailable
        total.latencies += tally.latencies
        total.other.update(tally.other)
        for key, ids in tally.keys.items():
            total.keys[key] |= ids
        total.acknowledged.update(tally.acknowledged)
    return total


def run_peak(
    clients: int,
    seconds: float,
    locations: int = 200,
    outage_s: float = 2.0,
    workers: int | None = None,
    hold_ttl_s: int = 3,
    seed_value: int = 11,
    reference_s: float = 3,
) -> dict:
    """The whole peak; returns its figures and violations (empty when all held)."""
    rng = random.Random(seed_value)
    workdir = Path(tempfile.mkdtemp(prefix="locator-peak-"))
    workdir.chmod(0o755)
    cluster = EmbeddedPostgres(workdir / "postgres", database="locator_peak", settings=SETTINGS)
    try:
        url = cluster.ensure_running()
        token, plan = seed(url, workdir, locations, rng)
        env = {
            **app_env(url),
            "HOLD_TTL_S": str(hold_ttl_s),
            "DB_POOL_TIMEOUT": "5",
            "LOG_LEVEL": "CRITICAL",
        }
        # app/serving.py's default: two sync workers per core plus one.
        workers = workers or 2 * (os.cpu_count() or 1) + 1
        log = workdir / "gunicorn.log"
        # A short graceful stop: nothing is in flight once the clients are done, and a
        # loaded machine must not turn the stop into the harness's 30 s timeout.
        options = (*SERVING, "--graceful-timeout", "5")
        with gunicorn_server("wsgi:app", workers, env, log=log, options=options) as base:
            port = int(base.rsplit(":", 1)[1])
            reference = healthz_rate(port, clients, reference_s) if reference_s else None
            stop = threading.Event()
            monitor = Monitor(url, {e: cap for e, (_, cap) in plan.items()}, stop)
            monitor.start()
            deadline = time.monotonic() + seconds
            threads = [
                Client(i, port, token, list(plan), deadline, rng.random()) for i in range(clients)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            time.sleep(seconds / 2)
            killed_at = time.monotonic() - started
            cluster._pg("pg_ctl", "-D", str(cluster.data_dir), "-m", "immediate", "-w", "stop")
            time.sleep(outage_s)
            cluster.ensure_running()
            back_at = time.monotonic() - started
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            stop.set()
            monitor.join()
        tally = merge([thread.tally for thread in threads])
        violations = monitor.violations + final_violations(url, plan, tally)
        violations += [f"{count} x {what}" for what, count in tally.other.items()]
        latencies = sorted(tally.latencies)
        p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan")
        return {
            "clients": clients,
            "seconds": round(elapsed, 1),
            "holds": tally.created,
            "holds_per_s": tally.created / elapsed,
            "p99_ms": p99 * 1000,
            "answered": tally.answered,
            "conflicts": tally.conflicts,
            "conflict_share": tally.conflicts / max(tally.answered, 1),
            "replays": tally.replays,
            "unavailable": tally.unavailable,
            "acknowledged": len(tally.acknowledged),
            "snapshots": monitor.snapshots,
            "killed_at_s": round(killed_at, 1),
            "back_at_s": round(back_at, 1),
            "healthz_per_s": reference,
            "violations": violations,
        }
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def report(figures: dict) -> str:
    return (
        f"peak: {figures['clients']} clients for {figures['seconds']} s, database killed at"
        f" {figures['killed_at_s']} s and back at {figures['back_at_s']} s\n"
        f"  holds/s {figures['holds_per_s']:.1f} ({figures['holds']} holds), POST /holds p99"
        f" {figures['p99_ms']:.0f} ms, 409s {figures['conflict_share']:.0%} of"
        f" {figures['answered']} answered, {figures['replays']} replays,"
        f" {figures['unavailable']} retried 503s or cut-offs\n"
        + (
            f"  same-run reference: /healthz {figures['healthz_per_s']:.0f} req/s with the"
            f" same clients (holds/s = {figures['holds_per_s'] / figures['healthz_per_s']:.3f}x)\n"
            if figures["healthz_per_s"]
            else ""
        )
        + f"  {figures['acknowledged']} acknowledged holds checked, {figures['snapshots']}"
        f" snapshots; violations: {len(figures['violations'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--outage", type=float, default=2.0, help="Seconds the database is down.")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: app/serving.py)")
    parser.add_argument("--hold-ttl", type=int, default=3, help="HOLD_TTL_S for the run.")
    args = parser.parse_args()
    figures = run_peak(
        args.clients, args.seconds, args.locations, args.outage, args.workers, args.hold_ttl
    )
    print(report(figures))
    for violation in figures["violations"][:50]:
        print("  VIOLATION", violation)
    sys.exit(1 if figures["violations"] else 0)


if __name__ == "__main__":
    main()
