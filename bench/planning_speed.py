"""Planning at scale: the coverage summary with demand, and the what-if, on 100,000 areas
and 1,000,000 demand points.

Usage (from the repository root)::

    make bench-planning      # = .venv/bin/python bench/planning_speed.py
    .venv/bin/python bench/planning_speed.py --rows 20000 --areas 20000 --points 200000

Generated locations (bench/make_locations.py, weighted by city population) get a
delivery circle of 1 to 8 km each (the first ``--areas`` away from the poles); demand
points are drawn around randomly chosen locations (a normal spread of 3 km), weights
lognormal. Both go in through `flask locator import`, and the demand import's rate is
printed against the areas' (the same pipeline). Then, in one process on the same
database, each measured ``--repeat`` times (the median is printed):

- the coverage summary of a metro box (New York) without demand: the reference;
- the same summary with demand, and the demand coverage of that box alone;
- the demand coverage of the whole world: every point against every area;
- the what-if for 10 candidate sites in the box (2 km circles), with demand and the
  greedy best 3.

Each figure is printed with its ratio to the reference measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import time

import numpy as np
from coverage_throughput import write_areas
from harness import FLASK, REPO, app_env, bench_database, import_file
from sqlalchemy import create_engine

from app.services import coverage, planning

# New York: the densest city of the generated locations.
METRO_BOX = (-74.3, 40.5, -73.6, 41.0)
WORLD = (-180.0, -90.0, 180.0, 90.0)
TIMEOUT_MS = 600_000


def write_demand(locations_csv, out, points: int, seed: int = 11) -> None:
    """``points`` weighted points around randomly chosen locations (3 km normal spread)."""
    with open(locations_csv, newline="") as file:
        coordinates = np.array(
            [(float(row["lat"]), float(row["lon"])) for row in csv.DictReader(file)]
        )
    coordinates = coordinates[np.abs(coordinates[:, 0]) < 80]
    rng = np.random.default_rng(seed)
    chosen = coordinates[rng.integers(0, len(coordinates), points)]
    lat = np.clip(chosen[:, 0] + rng.normal(0, 3000 / 111_320, points), -89.9, 89.9)
    lon = chosen[:, 1] + rng.normal(0, 3000 / 111_320, points) / np.cos(np.radians(lat))
    lon = (lon + 180) % 360 - 180
    weights = np.round(rng.lognormal(0, 1, points), 3) + 0.001
    with open(out, "w") as file:
        file.write("lat,lon,weight\n")
        np.savetxt(file, np.column_stack([lat, lon, weights]), fmt="%.6f,%.6f,%.3f")


def timed(repeat: int, call) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=120_000, help="locations (some at the poles get no area)"
    )
    parser.add_argument("--areas", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000, help="demand points")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with bench_database(args.rows) as database:
        env = app_env(database.url)
        import_file(database.locations_csv, env)
        areas_csv = database.workdir / "areas.csv"
        write_areas(database.locations_csv, areas_csv, args.areas)
        areas_s = import_file(areas_csv, env)
        demand_csv = database.workdir / "demand.csv"
        write_demand(database.locations_csv, demand_csv, args.points)
        started = time.monotonic()
        subprocess.run(
            [*FLASK, "import", "--no-progress", "--dataset", "demand", "--demand-set", "bench",
             str(demand_csv)],
            cwd=REPO, env=env, check=True,
        )  # fmt: skip
        demand_s = time.monotonic() - started
        areas_rate, demand_rate = args.areas / areas_s, args.points / demand_s
        print(
            f"import: {args.areas:,} areas in {areas_s:.1f} s ({areas_rate:,.0f}/s),"
            f" {args.points:,} demand points in {demand_s:.1f} s ({demand_rate:,.0f}/s,"
            f" {demand_rate / areas_rate:.1f}x the areas' rate)"
        )
        engine = create_engine(database.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
            report(connection, args.repeat)
        engine.dispose()


def report(connection, repeat: int) -> None:
    box = {"region_id": None, "bbox": METRO_BOX}
    reference_s, areas = timed(
        repeat,
        lambda: coverage.summary(connection, **box, modes=["delivery"], simplify_deg=0),
    )
    print(
        f"metro box: {areas['delivery']['locations']:,} locations' areas,"
        f" {areas['delivery']['covered_share']:.1%} of its area covered"
    )
    print(f"summary without demand (reference): {reference_s:.2f} s")
    with_s, summary = timed(
        repeat,
        lambda: planning.summary_with_demand(
            connection, **box, modes=["delivery"], simplify_deg=0, demand="bench",
            timeout_ms=TIMEOUT_MS,
        ),
    )  # fmt: skip
    figures = summary["delivery"]["demand"]
    print(
        f"summary with demand: {with_s:.2f} s ({with_s / reference_s:.1f}x the reference);"
        f" {figures['points']:,} points, {figures['covered_share']:.1%} of their weight covered,"
        f" {len(figures['uncovered']['hexagons']['features'])} hexagons"
    )
    demand_s, _ = timed(
        repeat,
        lambda: planning.demand_coverage(
            connection, **box, modes=["delivery"], demand="bench", timeout_ms=TIMEOUT_MS
        ),
    )
    print(f"demand coverage alone: {demand_s:.2f} s ({demand_s / reference_s:.1f}x)")
    world_s, world = timed(
        1,
        lambda: planning.demand_coverage(
            connection, region_id=None, bbox=WORLD, modes=["delivery"], demand="bench",
            timeout_ms=TIMEOUT_MS,
        ),
    )  # fmt: skip
    world = world["delivery"]
    print(
        f"demand coverage of the world (every point, every area): {world_s:.1f} s"
        f" ({world_s / reference_s:.1f}x); {world['points']:,} points,"
        f" {world['covered_share']:.1%} covered"
    )
    rng = np.random.default_rng(1)
    west, south, east, north = METRO_BOX
    sites = [
        planning.Candidate(
            lat=float(rng.uniform(south, north)), lon=float(rng.uniform(west, east)), radius_m=2000
        )
        for _ in range(10)
    ]
    what_if_s, answer = timed(
        repeat,
        lambda: planning.what_if(
            connection, **box, mode="delivery", candidates=sites, demand="bench", best_next=3,
            timeout_ms=TIMEOUT_MS,
        ),
    )  # fmt: skip
    print(
        f"what-if, 10 candidates with demand and best 3: {what_if_s:.2f} s"
        f" ({what_if_s / reference_s:.1f}x the reference, {what_if_s / with_s:.2f}x the summary"
        f" with demand); together they gain {answer['combined']['demand_gained']:,.0f} of"
        f" {answer['today']['demand_weight']:,.0f} demand"
    )


if __name__ == "__main__":
    sys.exit(main())
