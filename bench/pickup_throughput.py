"""Throughput of GET /api/v1/pickup-points on 1,000,000 locations, as ratios from one run.

Usage (from the repository root)::

    make bench-pickup                     # 1,000,000 locations, 8 concurrent clients
    .venv/bin/python bench/pickup_throughput.py --rows 200000 --seconds 10

Measured in the same run, each at the same concurrency: the endpoint (wrk cycling
through 1,000 origins near the data), the endpoint's own SQL through psycopg by as many
threads, and GET /healthz (no database), the server's own ceiling.
"""

from __future__ import annotations

import argparse

from harness import bench_server, compare, measure_endpoint

from app.models import KINDS
from app.queries.nearest import _PLANAR_SQL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    # The planar scan: what the endpoint runs for all but polar and antimeridian origins.
    sql = _PLANAR_SQL.sql  # the statement as the app sends it

    def params(lat: float, lon: float) -> dict:
        # What the endpoint sends for a default query (limit 10, read one beyond).
        return {
            "lon": lon,
            "lat": lat,
            "kinds": list(KINDS),
            "capabilities": ["pickup"],
            "statuses": ["active"],
            "after_distance": None,
            "after_id": None,
            "candidates": 2 * 11 + 8,
        }

    with bench_server(args.rows, args.workers) as bench:
        endpoint, raw, health = measure_endpoint(
            bench, "/api/v1/pickup-points", sql, params, args.seconds, args.connections
        )
    compare(
        "pickup-points endpoint",
        endpoint,
        raw,
        health,
        f"{args.rows:,} locations, {args.connections} concurrent clients, "
        f"{args.workers} gunicorn workers, {args.seconds} s each",
    )


if __name__ == "__main__":
    main()
