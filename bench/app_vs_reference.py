"""The app against the lean reference on 1,000,000 locations: req/s, p99 and ratios, one run.

Usage (from the repository root)::

    make bench-reference
    .venv/bin/python bench/app_vs_reference.py --rows 200000 --areas 20000 --seconds 5

The app (``wsgi:app``, rate limits off) and ``../shared/bench/lean_reference.py`` (bare
Flask and psycopg running the same SQL) are served by gunicorn with the same worker count
on the same throwaway database. Both start on the empty, migrated database. Then:

1. the generated locations are imported with ``flask locator import`` (what users run),
   and the first round of ``/api/v1/pickup-points`` against ``/nearest`` follows at
   once, before anything else has queried the table;
2. the service areas (a geodesic delivery circle for the first ``--areas`` locations)
   are imported the same way, and the first round of ``/api/v1/coverage`` against
   ``/coverage`` follows at once; then both ``/healthz``;
3. later rounds measure the three pairs again, alternating between the two servers
   (the order flips every round, so drift on a shared machine hits both alike).

wrk runs at 8 connections; its Lua script cycles both servers through the same 1,000
origins near the data (``harness.sample_origins``). The summary compares the medians of
the later rounds with the issue's targets, and the first round with the later ones.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import urllib.request
from dataclasses import dataclass

import psycopg
from coverage_throughput import write_areas
from harness import (
    REPO,
    SERVING,
    app_env,
    bench_database,
    gunicorn_server,
    import_file,
    sample_origins,
    wrk,
    wrk_script,
)

REFERENCE = REPO.parent / "shared" / "bench" / "lean_reference.py"
# The app's own gunicorn settings (`make run`): served as users get it.
APP_OPTIONS = SERVING


@dataclass(frozen=True)
class Pair:
    """One app endpoint and the reference endpoint it is measured against."""

    name: str
    app_path: str
    reference_path: str
    query: str | None  # added to every origin's lat/lon; None: no origins (healthz)
    target: float  # the lowest acceptable app/reference ratio


PAIRS = (
    Pair("pickup", "/api/v1/pickup-points", "/nearest", "limit=10", 1.0),
    Pair("coverage", "/api/v1/coverage", "/coverage", "limit=10", 1.0),
    Pair("healthz", "/healthz", "/healthz", None, 0.8),
)
SERVERS = ("app", "reference")


class Bench:
    """Both servers, their wrk scripts, and every figure measured so far."""

    def __init__(self, urls: dict, workdir, origins, seconds: int, connections: int):
        self.urls = urls
        self.seconds = seconds
        self.connections = connections
        self.results: list[dict] = []
        self.scripts = {}
        for pair in PAIRS:
            for server in SERVERS:
                path = pair.app_path if server == "app" else pair.reference_path
                self.scripts[pair.name, server] = (
                    wrk_script(workdir / f"{pair.name}-{server}.lua", path, origins, pair.query)
                    if pair.query
                    else None
                )

    def measure(self, pair: Pair, server: str, round_number: int) -> None:
        path = pair.app_path if server == "app" else pair.reference_path
        script = self.scripts[pair.name, server]
        url = self.urls[server] + ("/" if script else path)
        result = wrk(url, self.seconds, self.connections, script)
        result.update(pair=pair.name, server=server, round=round_number, path=path)
        self.results.append(result)
        errors = "".join(
            f"   {key} {result[key]}" for key in ("non_2xx", "socket_errors") if result[key]
        )
        # The load average shows how much else the machine was doing meanwhile.
        print(
            f"  round {round_number}  {server:9} {path:22} {result['rps']:7.0f} req/s   "
            f"p50 {result['p50_ms']:6.1f} ms   p99 {result['p99_ms']:6.1f} ms   "
            f"load {os.getloadavg()[0]:4.1f}{errors}",
            flush=True,
        )

    def figures(self, pair: Pair, server: str, rounds) -> list[dict]:
        return [
            r
            for r in self.results
            if r["pair"] == pair.name and r["server"] == server and r["round"] in rounds
        ]


def table_statistics(conninfo: str, table: str) -> str:
    """How fresh the planner's statistics of ``table`` are, as one line."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        analyzed, autoanalyzed, changed, reltuples = connection.execute(
            "SELECT s.analyze_count, s.autoanalyze_count, s.n_mod_since_analyze, "
            "c.reltuples::bigint FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.relname = %s",
            (table,),
        ).fetchone()
    return (
        f"{table}: ANALYZE {analyzed}x, autovacuum ANALYZE {autoanalyzed}x, "
        f"{changed:,} rows changed since, reltuples {reltuples:,}"
    )


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def cross_check(urls: dict, origins, count: int = 100) -> None:
    """Whether both servers give the same answers to the first ``count`` origins.

    The app keeps only results within its default radius, so a shorter app list that is
    a prefix of the reference's counts as the same answer.
    """
    same = shorter = 0
    covered = same_cover = 0
    for lat, lon in origins[:count]:
        query = f"lat={lat:.6f}&lon={lon:.6f}&limit=10"
        app = [r["id"] for r in get_json(f"{urls['app']}/api/v1/pickup-points?{query}")["results"]]
        reference = [r["id"] for r in get_json(f"{urls['reference']}/nearest?{query}")["results"]]
        same += app == reference
        shorter += app != reference and app == reference[: len(app)]
        app_cover = get_json(f"{urls['app']}/api/v1/coverage?{query}")
        reference_cover = get_json(f"{urls['reference']}/coverage?{query}")
        covered += reference_cover["covered"]
        same_cover += [r.get("service_area_id") for r in app_cover["served_by"]] == [
            r["service_area_id"] for r in reference_cover["served_by"]
        ]
    print(
        f"\nsame answers for {count} origins: pickup {same} (+{shorter} where the app's "
        f"radius cut the list), coverage {same_cover}; covered per the reference {covered}"
    )


def summary(bench: Bench, later: range) -> bool:
    """Print the medians of the later rounds, the ratios, and the first round's share."""
    print(f"\nlater rounds {later.start}-{later.stop - 1}: medians [min-max]")
    met = True
    for pair in PAIRS:
        line = []
        rps = {}
        for server in SERVERS:
            figures = bench.figures(pair, server, later)
            values = [f["rps"] for f in figures]
            rps[server] = statistics.median(values)
            p99 = statistics.median(f["p99_ms"] for f in figures)
            line.append(
                f"{server} {rps[server]:6.0f} req/s [{min(values):.0f}-{max(values):.0f}] "
                f"p99 {p99:5.1f} ms"
            )
        per_round = [
            a["rps"] / r["rps"]
            for a, r in zip(
                bench.figures(pair, "app", later),
                bench.figures(pair, "reference", later),
                strict=True,
            )
        ]
        ratio = rps["app"] / rps["reference"]
        verdict = "met" if ratio >= pair.target else "NOT met"
        met &= ratio >= pair.target
        print(
            f"  {pair.name:9} {'   '.join(line)}   app/reference {ratio:.2f}x "
            f"(rounds {min(per_round):.2f}-{max(per_round):.2f}), "
            f"target >= {pair.target:.1f}x {verdict}"
        )
    print("\nthe first round, right after the import, against the later rounds' median")
    for pair in PAIRS:
        shares = []
        for server in SERVERS:
            [first] = bench.figures(pair, server, [1])
            median = statistics.median(f["rps"] for f in bench.figures(pair, server, later))
            shares.append(f"{server} {first['rps']:6.0f} req/s = {first['rps'] / median:.2f}x")
        print(f"  {pair.name:9} {'   '.join(shares)}")
    return met


def describe_code() -> str:
    """The commit measured, and whether the working tree differed from it."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{commit}{' with uncommitted changes' if dirty else ''}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--areas", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10, help="per wrk measurement")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the first included")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--read-cache-rows",
        type=int,
        default=None,
        help="the app's READ_CACHE_ROWS (its default when not given; 0: no read cache, so "
        "every request runs its statement, as when origins never repeat)",
    )
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2: the first round is compared with the rest")
    if not REFERENCE.is_file():
        sys.exit(f"the lean reference is not at {REFERENCE}")
    try:
        import orjson  # noqa: F401  (the reference falls back to json, slower, without it)
    except ImportError:
        sys.exit("orjson is not installed: make venv (it is in requirements.txt)")

    print(
        f"{datetime.date.today()}, {os.cpu_count()} CPUs, code {describe_code()}: "
        f"{args.rows:,} locations, {args.areas:,} service areas, {args.workers} gunicorn "
        f"workers each, wrk {args.connections} connections, {args.seconds} s a measurement, "
        f"{args.rounds} rounds; app gunicorn options: {' '.join(APP_OPTIONS) or 'none'}",
        flush=True,
    )
    with bench_database(args.rows) as database:
        env = app_env(database.url)  # rate limits off
        if args.read_cache_rows is not None:
            env["READ_CACHE_ROWS"] = str(args.read_cache_rows)
        workdir = database.workdir
        with (
            gunicorn_server(
                "wsgi:app", args.workers, env, log=workdir / "app.log", options=APP_OPTIONS
            ) as app,
            gunicorn_server(
                "lean_reference:app",
                args.workers,
                env,
                cwd=REFERENCE.parent,
                log=workdir / "reference.log",
            ) as reference,
        ):
            urls = {"app": app, "reference": reference}
            origins = sample_origins(database.locations_csv, 1000)
            bench = Bench(urls, workdir, origins, args.seconds, args.connections)
            pickup, coverage, healthz = PAIRS

            seconds = import_file(database.locations_csv, env)
            print(f"imported {args.rows:,} locations in {seconds:.1f} s")
            print("  " + table_statistics(database.conninfo, "locations"), flush=True)
            print("round 1, right after the import (the app first):")
            bench.measure(pickup, "app", 1)
            bench.measure(pickup, "reference", 1)

            areas_csv = workdir / "areas.csv"
            write_areas(database.locations_csv, areas_csv, args.areas)
            seconds = import_file(areas_csv, env)
            print(f"imported {args.areas:,} service areas in {seconds:.1f} s")
            for table in ("service_areas", "service_area_parts"):
                print("  " + table_statistics(database.conninfo, table), flush=True)
            bench.measure(coverage, "app", 1)
            bench.measure(coverage, "reference", 1)
            bench.measure(healthz, "app", 1)
            bench.measure(healthz, "reference", 1)

            for round_number in range(2, args.rounds + 1):
                order = SERVERS if round_number % 2 else SERVERS[::-1]
                for pair in PAIRS:
                    for server in order:
                        bench.measure(pair, server, round_number)
            met = summary(bench, range(2, args.rounds + 1))
            try:
                cross_check(urls, origins)
            except (OSError, ValueError, KeyError) as error:  # after the figures, not instead
                print(f"\ncross-check failed: {error!r}")
    failed = [r for r in bench.results if r["non_2xx"] or r["socket_errors"]]
    if failed:
        print(f"\nFAILED: errors in {len(failed)} measurements; the figures are not comparable")
        return 1
    print("\nall targets met" if met else "\nnot every target is met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
