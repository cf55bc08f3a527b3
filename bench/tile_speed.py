"""Vector-tile throughput of the app against tipg on the same database, in one run.

Usage (from the repository root)::

    make bench-tiles
    .venv/bin/python bench/tile_speed.py --rows 200000 --areas 20000 --seconds 10

Generated locations (make_locations.py) and a geodesic delivery circle (1-8 km) around the
first --areas of them are imported; then, for each zoom of --zooms and each layer, the
same list of tiles over the populated area (the tiles of randomly drawn locations) is
requested from the app (gunicorn, /tiles/...) and from tipg (uvicorn, the same number of
workers, /collections/public.<table>/tiles/WebMercatorQuad/...), by --connections
keep-alive clients each, for --seconds. It prints tiles/s, p50 and p99 (ms), and the
largest and mean tile size, per server, layer and zoom. With --planner it then walks the
planner in Chromium on the same server (bench/planner_at_scale.py), so one load of the
million locations gives both.

tipg (PyPI) lives in a virtualenv of its own (it brings FastAPI, asyncpg and pydantic,
which the app does not use): ``make bench-tiles`` makes it in .venv-tipg from
bench/requirements-tipg.txt; --tipg-python points at another one.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import math
import os
import random
import statistics
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from coverage_throughput import write_areas
from harness import FLASK, REPO, _answers, bench_server
from planner_at_scale import walk_planner
from sqlalchemy.engine import make_url

from app.embedded_postgres import EmbeddedPostgres, free_loopback_port

LAYERS = {"locations": "locations", "service_areas": "service_areas"}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The slippy-map tile holding a point."""
    n = 2**z
    lat = max(-85.0511, min(85.0511, lat))
    x = min(n - 1, int((lon + 180) / 360 * n))
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, min(n - 1, max(0, y))


def read_points(csv_path: Path) -> list[tuple[float, float]]:
    """(lon, lat) of every generated location."""
    with open(csv_path, newline="") as handle:
        return [(float(r["lon"]), float(r["lat"])) for r in csv.DictReader(handle)]


def populated_tiles(points: list[tuple[float, float]], z: int, count: int, seed: int = 11):
    """Up to ``count`` distinct tiles (z, x, y) at zoom ``z`` that hold a randomly drawn
    location."""
    rng = random.Random(seed + z)
    tiles = []
    seen = set()
    for lon, lat in rng.sample(points, min(len(points), count * 20)):
        if abs(lat) > 85:
            continue
        tile = (z, *tile_of(lon, lat, z))
        if tile not in seen:
            seen.add(tile)
            tiles.append(tile)
        if len(tiles) == count:
            break
    return tiles


def load(base_url: str, paths: list[str], seconds: float, connections: int) -> dict:
    """Keep-alive clients cycling through ``paths`` for ``seconds``: rate, latency, sizes."""
    parts = urlsplit(base_url)
    latencies: list[float] = []
    sizes: list[int] = []
    failures = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        mine, my_sizes, failed = [], [], 0
        i = index
        while time.monotonic() < stop:
            path = paths[i % len(paths)]
            i += connections
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                continue
            mine.append(time.perf_counter() - started)
            if response.status == 200:
                my_sizes.append(len(body))
            else:
                failed += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            sizes.extend(my_sizes)
            failures[0] += failed

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "rate": len(latencies) / elapsed,
        "p50": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
        "max_kb": max(sizes) / 1024 if sizes else 0.0,
        "mean_kb": statistics.fmean(sizes) / 1024 if sizes else 0.0,
        "errors": failures[0],
    }


def tcp_url(database_url: str, workdir: Path) -> str:
    """The bench database as a loopback TCP URL: tipg's settings refuse a URL without a
    host (the embedded cluster's unix socket); the cluster also listens on 127.0.0.1,
    with a password."""
    url = make_url(database_url)
    if not url.host:
        cluster = EmbeddedPostgres(workdir / "postgres", database=url.database)
        url = make_url(cluster.loopback_url())
    return url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)


@contextmanager
def tipg_server(python: str, database_url: str, workers: int):
    """tipg under uvicorn on loopback, on the same database; yields its base URL."""
    port = free_loopback_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TIPG_NAME": "tipg",
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.locations", "public.service_areas"]',
        # The same tile extent and no row cap, so both send the same features.
        "TIPG_DEFAULT_FEATURES_LIMIT": "10000",
        "TIPG_MAX_FEATURES_PER_TILE": "1000000",
    }
    server = subprocess.Popen(
        [
            python,
            "-m",
            "uvicorn",
            "tipg.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _answers(base_url + "/collections"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tipg did not start")
            time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--areas", type=int, default=100_000)
    parser.add_argument("--zooms", type=int, nargs="+", default=[4, 8, 12, 16])
    parser.add_argument("--tiles", type=int, default=200, help="distinct tiles per zoom")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tipg-python", default=str(REPO / ".venv-tipg" / "bin" / "python"))
    parser.add_argument(
        "--planner",
        action="store_true",
        help="then walk the planner in Chromium on the same server (planner_at_scale.py)",
    )
    args = parser.parse_args()

    def add_areas(bench) -> None:
        # No base map for the planner: this machine may be offline (tiles are unaffected).
        bench.env["TILE_URL"] = ""
        areas_csv = bench.workdir / "areas.csv"
        write_areas(bench.locations_csv, areas_csv, args.areas)
        subprocess.run(
            [*FLASK, "import", "--no-progress", str(areas_csv)], cwd=REPO, env=bench.env, check=True
        )

    with bench_server(args.rows, args.workers, prepare=add_areas) as bench:
        database_url = tcp_url(bench.env["DATABASE_URL"], bench.workdir)
        with tipg_server(args.tipg_python, database_url, args.workers) as tipg_url:
            print(
                f"{args.rows:,} locations, {args.areas:,} service areas; {args.workers} workers"
                f" each, {args.connections} clients, {args.seconds:.0f} s per figure"
            )
            header = f"{'layer':<14}{'z':>3}  {'server':<6}{'tiles/s':>9}{'p50 ms':>9}"
            print(header + f"{'p99 ms':>9}{'max kB':>9}{'mean kB':>9}{'errors':>8}   ratio")
            points = read_points(bench.locations_csv)
            for layer, table in LAYERS.items():
                for z in args.zooms:
                    tiles = populated_tiles(points, z, args.tiles)
                    ours = [f"/tiles/{layer}/{z}/{x}/{y}.mvt" for z, x, y in tiles]
                    theirs = [
                        f"/collections/public.{table}/tiles/WebMercatorQuad/{z}/{x}/{y}"
                        for z, x, y in tiles
                    ]
                    app = load(bench.base_url, ours, args.seconds, args.connections)
                    peer = load(tipg_url, theirs, args.seconds, args.connections)
                    for name, result in (("app", app), ("tipg", peer)):
                        ratio = app["rate"] / peer["rate"] if peer["rate"] else float("inf")
                        print(
                            f"{layer:<14}{z:>3}  {name:<6}{result['rate']:>9.1f}"
                            f"{result['p50']:>9.1f}{result['p99']:>9.1f}{result['max_kb']:>9.1f}"
                            f"{result['mean_kb']:>9.1f}{result['errors']:>8}"
                            + (f"   {ratio:.2f}x" if name == "app" else "")
                        )
        if args.planner:
            walk_planner(bench.base_url)


if __name__ == "__main__":
    main()
