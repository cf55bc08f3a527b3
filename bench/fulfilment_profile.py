"""Where an options request's time goes: /fulfilment/options profiled in process.

Usage (from the repository root, against a database holding the demo network, e.g. the
one `make run` made)::

    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/fulfilment_profile.py

Flask's test client, no HTTP server: 60 carts of 1 to 6 of the demo's products around
Washington at a fixed moment (next Wednesday 10:00 there), then the same origins on
/pickup-points, in the same run; then cProfile of the options requests, by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402

SKUS = ["bread", "coffee-beans", "pasta", "olive-oil", "batteries-aa", "water-6"]
SKUS += ["milk-1l", "yoghurt", "ice-cream", "frozen-peas"]


def next_wednesday_10am() -> str:
    zone = ZoneInfo("America/New_York")
    day = datetime.now(zone).date() + timedelta(days=2)
    while day.weekday() != 2:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, tzinfo=zone).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--carts", type=int, default=60)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    app = create_app(
        {
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "RATELIMIT_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    client = app.test_client()
    rng = random.Random(3)
    at = next_wednesday_10am()
    bodies = [
        {
            "lat": round(38.9 + rng.uniform(-0.1, 0.1), 6),
            "lon": round(-77.03 + rng.uniform(-0.1, 0.1), 6),
            "at": at,
            "cart": [{"sku": sku, "qty": 1} for sku in rng.sample(SKUS, rng.randint(1, 6))],
        }
        for _ in range(args.carts)
    ]

    def options() -> None:
        for body in bodies:
            response = client.post("/api/v1/fulfilment/options", json=body)
            assert response.status_code == 200, response.json

    def pickup_points() -> None:
        for body in bodies:
            response = client.get(f"/api/v1/pickup-points?lat={body['lat']}&lon={body['lon']}")
            assert response.status_code == 200, response.json

    options()  # warm-up: connections, prepared statements, caches
    started = time.perf_counter()
    options()
    options_ms = (time.perf_counter() - started) / len(bodies) * 1000
    started = time.perf_counter()
    pickup_points()
    pickup_ms = (time.perf_counter() - started) / len(bodies) * 1000
    print(
        f"in process, {len(bodies)} requests each: options {options_ms:.1f} ms, "
        f"/pickup-points {pickup_ms:.1f} ms (ratio {pickup_ms / options_ms:.2f})"
    )
    profile = cProfile.Profile()
    profile.runcall(options)
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
