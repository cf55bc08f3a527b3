"""Throughput of GET /api/v1/coverage against 100,000 service areas, as ratios from one run.

Usage (from the repository root)::

    make bench-coverage
    .venv/bin/python bench/coverage_throughput.py --areas 20000 --seconds 10

Every generated location gets a geodesic delivery circle (1-8 km) until there are
--areas service areas; then the endpoint (wrk, 1,000 origins near the data), the same SQL
through psycopg, and GET /healthz are measured at the same concurrency in one run.
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess

from harness import FLASK, REPO, bench_server, compare, measure_endpoint

from app.models import SERVICE_AREA_MODES
from app.queries.coverage import SERVED_BY


def write_areas(locations_csv, out, count: int, seed: int = 3) -> None:
    """A radius service area for each of the first ``count`` locations away from the poles."""
    rng = random.Random(seed)
    with open(locations_csv, newline="") as source, open(out, "w", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(["location_external_id", "mode", "radius_m"])
        written = 0
        for row in csv.DictReader(source):
            if abs(float(row["lat"])) > 80:
                continue  # circles may not contain a pole
            writer.writerow([row["external_id"], "delivery", rng.randint(1000, 8000)])
            written += 1
            if written == count:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--areas", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    def add_areas(bench) -> None:
        areas_csv = bench.workdir / "areas.csv"
        write_areas(bench.locations_csv, areas_csv, args.areas)
        subprocess.run(
            [*FLASK, "import", "--no-progress", str(areas_csv)],
            cwd=REPO,
            env=bench.env,
            check=True,
        )

    sql = SERVED_BY.sql  # the statement as the app sends it

    def params(lat: float, lon: float) -> dict:
        # What the endpoint sends for one point with the default limit.
        return {
            "idx": [0],
            "lons": [lon],
            "lats": [lat],
            "modes": list(SERVICE_AREA_MODES),
            "limit": 10,
        }

    # As many locations as areas (plus a margin for the polar ones skipped).
    with bench_server(int(args.areas * 1.02), args.workers, prepare=add_areas) as bench:
        endpoint, raw, health = measure_endpoint(
            bench, "/api/v1/coverage", sql, params, args.seconds, args.connections
        )
    compare(
        "coverage endpoint",
        endpoint,
        raw,
        health,
        f"{args.areas:,} service areas, {args.connections} concurrent clients, "
        f"{args.workers} gunicorn workers, {args.seconds} s each",
    )


if __name__ == "__main__":
    main()
