"""Roads on a whole country: Liechtenstein (../shared/data/liechtenstein.osm.pbf, 2015).

One run: import the network with `flask locator roads import`; 20 real shops as
locations; drive-time areas of 15 and 30 minutes for each of them through the import
pipeline (seconds per area); then, under gunicorn and wrk, /pickup-points ranked by
travel time against the same request ranked geodesically. Figures in bench/README.md.

    .venv/bin/python bench/roads_liechtenstein.py [--seconds 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import time

from harness import (
    FLASK,
    REPO,
    app_env,
    bench_database,
    gunicorn_server,
    import_file,
    wrk,
    wrk_script,
)
from sqlalchemy import create_engine

from app.importing import ImportOptions, import_records
from app.queries import roads as roads_sql
from app.services.road_network import osm_shops

EXTRACT = REPO.parent / "shared" / "data" / "liechtenstein.osm.pbf"
# Shops that stand in for pickup points: every named shop of these kinds (44 named shops
# in all; these give 20).
SHOP_KINDS = {
    "supermarket": "store",
    "convenience": "convenience_store",
    "beverages": "store",
    "bicycle": "store",
    "car_repair": "store",
    "bakery": "store",
    "greengrocer": "store",
    "car": "store",
}
LOCATIONS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk seconds per round")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    with bench_database(1) as database:
        env = app_env(database.url)
        started = time.monotonic()
        subprocess.run([*FLASK, "roads", "import", str(EXTRACT)], cwd=REPO, env=env, check=True)
        print(f"network import: {time.monotonic() - started:.1f} s (CLI, start-up included)")

        shops = osm_shops(EXTRACT, SHOP_KINDS)[:LOCATIONS]
        assert len(shops) == LOCATIONS, len(shops)
        locations_csv = database.workdir / "liechtenstein.csv"
        with open(locations_csv, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(shops[0]))
            writer.writeheader()
            writer.writerows(shops)
        import_file(locations_csv, env)

        engine = create_engine(database.url)
        with engine.connect() as connection:
            network = roads_sql.current_network(connection)
            vertices = roads_sql.vertex_rows(connection, network.version)
        for minutes, mode in ((15, "express"), (30, "delivery")):
            records = [
                (
                    {
                        "location_external_id": shop["external_id"],
                        "mode": mode,
                        "drive_time_s": 60 * minutes,
                    },
                    None,
                )
                for shop in shops
            ]
            started = time.perf_counter()
            with engine.begin() as connection:
                report = import_records(connection, "service_areas", records, ImportOptions())
            elapsed = time.perf_counter() - started
            assert report.applied and report.created == LOCATIONS, report.summary()
            print(
                f"{minutes}-minute drive-time areas: {LOCATIONS} in {elapsed:.1f} s, "
                f"{elapsed / LOCATIONS:.2f} s per area"
            )
        engine.dispose()

        rng = random.Random(14)
        main_vertices = [v for v in vertices if v["in_main_component"]]
        origins = [
            (v["lat"] + rng.uniform(-0.001, 0.001), v["lon"] + rng.uniform(-0.001, 0.001))
            for v in rng.sample(main_vertices, 500)
        ]
        common = "radius=40000&limit=10"
        geodesic = wrk_script(
            database.workdir / "geodesic.lua", "/api/v1/pickup-points", origins, common
        )
        by_time = wrk_script(
            database.workdir / "travel.lua",
            "/api/v1/pickup-points",
            origins,
            common + "&rank=travel_time",
        )
        with gunicorn_server("wsgi:app", args.workers, env) as base_url:
            wrk(base_url + "/", 3, args.connections, by_time)  # warm-up
            rounds = []
            for _ in range(2):
                distance = wrk(base_url + "/", args.seconds, args.connections, geodesic)
                travel = wrk(base_url + "/", args.seconds, args.connections, by_time)
                rounds.append((distance, travel))
        for number, (distance, travel) in enumerate(rounds, start=1):
            print(
                f"round {number}: rank=distance {distance['rps']:.0f} req/s "
                f"(p50 {distance['p50_ms']:.1f} ms), rank=travel_time {travel['rps']:.0f} req/s "
                f"(p50 {travel['p50_ms']:.1f} ms): {travel['rps'] / distance['rps']:.2f}x; "
                f"non-2xx {distance['non_2xx']} / {travel['non_2xx']}"
            )


if __name__ == "__main__":
    main()
