"""Shared benchmark plumbing: a throwaway database with generated data, gunicorn on
loopback, wrk for HTTP load, and a threaded psycopg loop for the raw SQL.

Every figure of one benchmark comes from the same run, so the noise of a shared machine
affects them alike; compare the ratios, not the absolutes.
"""

from __future__ import annotations

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
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

from app import schema
from app.embedded_postgres import EmbeddedPostgres, free_loopback_port
from app.importing import PLAUSIBILITY_CHECKS

REPO = Path(__file__).resolve().parent.parent

FLASK = [str(REPO / ".venv" / "bin" / "flask"), "--app", "wsgi", "locator"]
SERVING = ("-c", "python:app.serving")  # gunicorn options of `make run`


@dataclass
class BenchServer:
    base_url: str
    conninfo: str  # libpq form, for the raw-SQL loop
    workdir: Path
    locations_csv: Path
    env: dict


def sample_origins(csv_path: Path, count: int, seed: int = 7) -> list[tuple[float, float]]:
    """Origins a few hundred metres from random locations (shoppers live near stores)."""
    rng = random.Random(seed)
    with open(csv_path, newline="") as handle:
        rows = [(float(r["lat"]), float(r["lon"])) for r in csv.DictReader(handle)]
    picks = rng.sample(rows, count)
    return [(max(-90.0, min(90.0, lat + rng.uniform(-0.005, 0.005))), lon) for lat, lon in picks]


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict:
    """Run wrk; return requests/s, p50 and p99 latency (ms), the non-2xx count, and the
    socket errors (connect, read, write, timeout: requests that have no latency)."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _latency_ms(re.search(r"50%\s+([\d.]+\w+)", output).group(1)),
        "p99_ms": _latency_ms(re.search(r"99%\s+([\d.]+\w+)", output).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
    }


def _latency_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_script(
    path: Path, endpoint: str, origins: list[tuple[float, float]], query: str = ""
) -> Path:
    """A wrk Lua script cycling GET endpoint?lat=..&lon=..[&query] through the origins."""
    suffix = f"&{query}" if query else ""
    entries = ",".join(f'"lat={lat:.6f}&lon={lon:.6f}{suffix}"' for lat, lon in origins)
    path.write_text(
        f"local origins = {{{entries}}}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #origins + 1\n"
        f'  return wrk.format("GET", "{endpoint}?" .. origins[i])\n'
        "end\n"
    )
    return path


def raw_sql_rate(
    conninfo: str, sql: str, params: Callable[[float, float], dict], origins, seconds, threads
) -> float:
    """Queries/s of ``sql`` through psycopg, ``threads`` connections at once."""
    counts = [0] * threads
    failures: list[BaseException] = []
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        try:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                i = index
                while time.monotonic() < stop:
                    lat, lon = origins[i % len(origins)]
                    connection.execute(sql, params(lat, lon)).fetchall()
                    counts[index] += 1
                    i += threads
        except BaseException as error:  # reported below: a silent 0 would mislead
            failures.append(error)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        raise RuntimeError("the raw SQL loop failed") from failures[0]
    return sum(counts) / (time.monotonic() - started)


def _wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


@contextmanager
def gunicorn_server(
    target: str,
    workers: int,
    env: dict,
    cwd: Path = REPO,
    port: int | None = None,
    log: Path | None = None,
    options: tuple[str, ...] = (),
) -> Iterator[str]:
    """gunicorn serving ``target`` (module:app) on loopback; yields its base URL.

    ``options`` go on gunicorn's command line (``-c python:app.serving``, say).

    Yields once GET /healthz answers 200, so every worker has booted (the port opens
    before that). A server that exits at start raises, with its log's tail when ``log``
    (a file for gunicorn's stderr) is given.
    """
    port = port or free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [str(REPO / ".venv" / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}"]
    stderr = open(log, "wb") if log else subprocess.DEVNULL  # closed in the finally below
    server = subprocess.Popen(
        [*command, *options, "--workers", str(workers), target], cwd=cwd, env=env, stderr=stderr
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(base_url + "/healthz"):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:] if log else ""
                raise RuntimeError(f"gunicorn {target} did not start\n{tail}")
            time.sleep(0.2)
        yield base_url
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        if log:
            stderr.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class BenchDatabase:
    url: str  # SQLAlchemy URL
    conninfo: str  # libpq form, for the raw-SQL loop
    workdir: Path
    locations_csv: Path  # the generated rows (not yet imported)


@contextmanager
def bench_database(rows: int) -> Iterator[BenchDatabase]:
    """``rows`` generated locations in a CSV, and a migrated, empty database for them.

    The database is a throwaway cluster, or BENCH_DATABASE_URL when set.
    """
    workdir = Path(tempfile.mkdtemp(prefix="locator-bench-"))
    workdir.chmod(0o755)
    cluster = None
    try:
        csv_path = workdir / "locations.csv"
        subprocess.run(
            [sys.executable, str(REPO / "bench" / "make_locations.py"), str(rows), str(csv_path)],
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
        yield BenchDatabase(url, conninfo, workdir, csv_path)
    finally:
        if cluster:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def app_env(url: str, rate_limits: bool = False) -> dict:
    """The environment for the app's CLI and gunicorn against ``url``."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "RATELIMIT_ENABLED": "true" if rate_limits else "false",
    }


@contextmanager
def bench_server(
    rows: int,
    workers: int,
    prepare: Callable[[BenchServer], None] | None = None,
    rate_limits: bool = False,
) -> Iterator[BenchServer]:
    """Generated locations imported into a bench database, served by gunicorn.

    ``prepare`` runs after the locations are imported and before gunicorn starts. Rate
    limits are off unless asked for: a benchmark is one client sending thousands of
    requests a second.
    """
    with bench_database(rows) as database:
        env = app_env(database.url, rate_limits)
        import_file(database.locations_csv, env)
        port = free_loopback_port()
        bench = BenchServer(
            f"http://127.0.0.1:{port}",
            database.conninfo,
            database.workdir,
            database.locations_csv,
            env,
        )
        if prepare:
            prepare(bench)
        with psycopg.connect(database.conninfo, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
        # Served as `make run` serves it: the app's own gunicorn settings.
        with gunicorn_server("wsgi:app", workers, env, port=port, options=SERVING):
            yield bench


# The generated locations hold the poles, the antimeridian, open sea and made-up
# postcodes on purpose: benchmarks opt out of the importer's plausibility checks (they
# still run, and warn).
ALLOW_IMPLAUSIBLE = tuple(option for check in PLAUSIBILITY_CHECKS for option in ("--allow", check))


def import_file(path: Path, env: dict) -> float:
    """`flask locator import` of ``path`` (its summary line is printed); returns seconds."""
    started = time.monotonic()
    subprocess.run(
        [*FLASK, "import", "--no-progress", *ALLOW_IMPLAUSIBLE, str(path)],
        cwd=REPO,
        env=env,
        check=True,
    )
    return time.monotonic() - started


def measure_endpoint(
    bench: BenchServer, path: str, sql: str, params, seconds: int, connections: int
) -> tuple[dict, float, dict]:
    """The endpoint (wrk over 1,000 origins), its SQL through psycopg, and /healthz,
    measured one after the other in the same run at the same concurrency."""
    origins = sample_origins(bench.locations_csv, 1000)
    script = wrk_script(bench.workdir / "origins.lua", path, origins)
    wrk(bench.base_url + "/healthz", 3, connections)  # warm-up
    wrk(bench.base_url + "/", 3, connections, script)
    endpoint = wrk(bench.base_url + "/", seconds, connections, script)
    raw = raw_sql_rate(bench.conninfo, sql, params, origins, seconds, connections)
    health = wrk(bench.base_url + "/healthz", seconds, connections)
    return endpoint, raw, health


def report_statuses(wrk_output: str, seconds: int, setup: str, allow_503: bool) -> None:
    """Print the status counts a status-counting wrk script wrote; exit 1 on a server error.

    Status 0 stands for any status the script did not list: unexpected as well.
    """
    counts = {int(s): int(n) for s, n in re.findall(r"status (\d+) (\d+)", wrk_output) if int(n)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk_output).group(1))
    p99 = re.search(r"99%\s+([\d.]+\w+)", wrk_output)
    latency = f", p99 {p99.group(1)}" if p99 else ""
    print(f"\n{sum(counts.values())} requests in {seconds} s ({rps:.0f}/s{latency}), {setup}")
    for status in sorted(counts):
        print(f"  {status}: {counts[status]}")
    failed = {
        s: n for s, n in counts.items() if s == 0 or (s >= 500 and not (allow_503 and s == 503))
    }
    if failed:
        print(f"FAILED: server errors {failed}")
        sys.exit(1)
    print("OK: no 5xx" + (" other than the designed 503" if allow_503 else ""))


def compare(label: str, endpoint: dict, raw_qps: float, health: dict, setup: str) -> None:
    """Print one run's figures and the two ratios."""
    print(f"\n{setup}")
    print(
        f"  {label:22} : {endpoint['rps']:8.0f} req/s   p50 {endpoint['p50_ms']:.1f} ms   "
        f"p99 {endpoint['p99_ms']:.1f} ms   non-2xx {endpoint['non_2xx']}"
    )
    print(f"  {'same SQL via psycopg':22} : {raw_qps:8.0f} queries/s")
    health_line = f"{health['rps']:8.0f} req/s   p99 {health['p99_ms']:.1f} ms"
    print(f"  {'/healthz (no database)':22} : {health_line}")
    print(f"  {'endpoint / healthz':22} : {endpoint['rps'] / health['rps']:.0%}")
    print(f"  {'endpoint / raw SQL':22} : {endpoint['rps'] / raw_qps:.0%}")
