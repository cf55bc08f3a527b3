"""Throughput of GET /api/v1/pickup-points on 1,000,000 locations, as ratios from one run.

Usage (from the repository root)::

    make bench-pickup                     # 1,000,000 locations, 8 concurrent clients
    .venv/bin/python bench/pickup_throughput.py --rows 200000 --seconds 10

It imports generated locations into a throwaway cluster (or BENCH_DATABASE_URL), serves
the app with gunicorn on a free loopback port, and measures in the same run, each at
the same concurrency:

1. the endpoint, with wrk cycling through 1,000 origins near the data;
2. the endpoint's own SQL, run directly through psycopg by as many threads;
3. GET /healthz (no database): the server's own ceiling.

The machine is shared and noisy, so the ratios are what to compare, not the absolutes.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from app import schema  # noqa: E402
from app.embedded_postgres import EmbeddedPostgres, free_loopback_port  # noqa: E402
from app.models import KINDS  # noqa: E402
from app.queries.nearest import _NEAREST_SQL  # noqa: E402

ORIGINS = 1000


def sample_origins(csv_path: Path, count: int, seed: int = 7) -> list[tuple[float, float]]:
    """Origins a few hundred metres from random locations (shoppers live near stores)."""
    rng = random.Random(seed)
    with open(csv_path, newline="") as handle:
        rows = [(float(r["lat"]), float(r["lon"])) for r in csv.DictReader(handle)]
    picks = rng.sample(rows, count)
    return [(max(-90.0, min(90.0, lat + rng.uniform(-0.005, 0.005))), lon) for lat, lon in picks]


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict:
    """Run wrk; return requests/s, p50 and p99 latency (ms), and non-2xx count."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rps,
        "p50_ms": _latency_ms(re.search(r"50%\s+([\d.]+\w+)", output).group(1)),
        "p99_ms": _latency_ms(re.search(r"99%\s+([\d.]+\w+)", output).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _latency_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_script(origins: list[tuple[float, float]], path: Path) -> Path:
    """A wrk Lua script cycling through the origins."""
    entries = ",".join(f'"lat={lat:.6f}&lon={lon:.6f}"' for lat, lon in origins)
    path.write_text(
        f"local origins = {{{entries}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #origins + 1\n"
        '  return wrk.format("GET", "/api/v1/pickup-points?" .. origins[i])\n'
        "end\n"
    )
    return path


def raw_sql_rate(conninfo: str, origins, seconds: int, threads: int) -> float:
    """Queries/s of the endpoint's SQL through psycopg, ``threads`` connections at once."""
    sql = str(_NEAREST_SQL.compile(dialect=postgresql.psycopg.dialect()))
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        with psycopg.connect(conninfo) as connection:
            i = index
            while time.monotonic() < stop:
                lat, lon = origins[i % len(origins)]
                params = {
                    "lon": lon,
                    "lat": lat,
                    "radius": 25_000,
                    "kinds": list(KINDS),
                    "capabilities": ["pickup"],
                    "statuses": ["active"],
                    "after_distance": None,
                    "after_id": None,
                    "candidates": 2 * 11 + 8,
                }
                connection.execute(sql, params).fetchall()
                counts[index] += 1
                i += threads

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="locator-bench-"))
    workdir.chmod(0o755)
    cluster = server = None
    try:
        csv_path = workdir / "locations.csv"
        subprocess.run(
            [
                sys.executable,
                str(REPO / "bench" / "make_locations.py"),
                str(args.rows),
                str(csv_path),
            ],
            check=True,
        )
        url = os.environ.get("BENCH_DATABASE_URL")
        if not url:
            cluster = EmbeddedPostgres(workdir / "postgres", database="locator_bench")
            url = cluster.ensure_running()
        engine = create_engine(url)
        schema.upgrade(engine)
        conninfo = engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
        engine.dispose()
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
        flask = [str(REPO / ".venv" / "bin" / "flask"), "--app", "wsgi", "locator"]
        subprocess.run([*flask, "import", "--no-progress", str(csv_path)], env=env, check=True)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE locations")

        port = free_loopback_port()
        server = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}"]
            + ["--workers", str(args.workers), "wsgi:app"],
            cwd=REPO,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        wait_for(port)
        origins = sample_origins(csv_path, ORIGINS)
        script = wrk_script(origins, workdir / "origins.lua")
        base = f"http://127.0.0.1:{port}"
        wrk(base + "/healthz", 3, args.connections)  # warm-up: workers, pools, caches
        wrk(base + "/", 3, args.connections, script)

        endpoint = wrk(base + "/", args.seconds, args.connections, script)
        raw = raw_sql_rate(conninfo, origins, args.seconds, args.connections)
        health = wrk(base + "/healthz", args.seconds, args.connections)

        print(
            f"\n{args.rows:,} locations, {args.connections} concurrent clients, "
            f"{args.workers} gunicorn workers, {args.seconds} s each"
        )
        print(
            f"  pickup-points endpoint : {endpoint['rps']:8.0f} req/s   "
            f"p50 {endpoint['p50_ms']:.1f} ms   p99 {endpoint['p99_ms']:.1f} ms   "
            f"non-2xx {endpoint['non_2xx']}"
        )
        print(f"  same SQL via psycopg   : {raw:8.0f} queries/s")
        print(
            f"  /healthz (no database) : {health['rps']:8.0f} req/s   p99 {health['p99_ms']:.1f} ms"
        )
        print(f"  endpoint / healthz     : {endpoint['rps'] / health['rps']:.0%}")
        print(f"  endpoint / raw SQL     : {endpoint['rps'] / raw:.0%}")
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        if cluster:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
