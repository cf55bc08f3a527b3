"""Import speed at scale: `flask locator import` against a bare binary COPY of the same rows.

Usage (from the repository root)::

    make bench-import                                   # 1,000,000 rows
    .venv/bin/python bench/import_speed.py --rows 1000000 3000000
    .venv/bin/python bench/import_speed.py --rows 200000

For each size it generates the rows with bench/make_locations.py, starts a throwaway
PostGIS cluster (default durability settings, like a real server) unless
BENCH_DATABASE_URL is set, migrates it, and in the same run:

1. runs the real CLI on the empty table (a first load), then on the same file again
   (every row unchanged); each prints where its time went (reading, validation, COPY,
   upsert, index builds, ANALYZE), and its peak memory (the CLI process's max RSS);
2. empties the table and times a bare binary COPY of the same rows, already typed in
   memory (no reading, no validation), into the same `locations` table with the same
   indexes and triggers: the floor an importer is measured against.

It prints the CLI's time as a multiple of the bare COPY's, and removes everything it
created. The generated rows hold the poles, the antimeridian and open sea on purpose,
so the CLI runs with every plausibility check downgraded to a warning (--allow).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from harness import ALLOW_IMPLAUSIBLE, FLASK, REPO, app_env, bench_database
from shapely import Point, to_wkb

from app.queries.imports import LOCATIONS

# The locations columns the bare COPY fills, typed as the importer stages them (its
# table of staging columns, with the position as one geog column); geog takes EWKB
# (geography's binary input), so it is sent as bytes.
BARE_COLUMNS = tuple(column for column in LOCATIONS.columns[:13]) + (("geog", "bytea"),)


# Runs a command and prints its max RSS (KiB) last on stderr: each import's own peak,
# not the largest of every child this benchmark has started so far.
_PEAK = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print('peak_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
    "file=sys.stderr); sys.exit(code)"
)


def run_import(url: str, csv_path: Path) -> tuple[float, str, str, float]:
    """Run the CLI import; return (wall seconds, summary line, time split, peak MB)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _PEAK, *FLASK, "import", "--no-progress", *ALLOW_IMPLAUSIBLE]
        + [str(csv_path)],
        cwd=REPO,
        env=app_env(url),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"import failed ({result.returncode}):\n{result.stderr[-2000:]}")
    lines = result.stderr.splitlines()
    split = next((line.strip() for line in lines if line.strip().startswith("time:")), "")
    peak_kib = next(int(line.split()[1]) for line in reversed(lines) if line.startswith("peak"))
    return seconds, result.stdout.strip().splitlines()[-1], split, peak_kib / 1024


def typed_rows(csv_path: Path) -> list[tuple]:
    """The file's rows as the bare COPY sends them: no validation, just types."""
    rows = []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            point = Point(float(r["lon"]), float(r["lat"]))
            rows.append(
                (
                    r["external_id"],
                    r["name"],
                    r["kind"],
                    r["brand"] or None,
                    r["address"] or None,
                    r["city"] or None,
                    r["region"] or None,
                    r["postcode"] or None,
                    r["country"] or None,
                    r["opening_hours"] or None,
                    [c for c in r["capabilities"].split(";") if c],
                    r["status"] or "active",
                    r["timezone"] or "UTC",
                    to_wkb(point, include_srid=False, flavor="extended"),
                )
            )
    return rows


def bare_copy(conninfo: str, rows: list[tuple]) -> float:
    """Empty locations, then binary COPY the rows into it; return the COPY's seconds."""
    with psycopg.connect(conninfo) as connection:
        connection.execute("TRUNCATE locations RESTART IDENTITY CASCADE")
        connection.commit()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            names = ", ".join(name for name, _ in BARE_COLUMNS)
            statement = f"COPY locations ({names}) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(statement) as copy:
                copy.set_types([sql_type for _, sql_type in BARE_COLUMNS])
                for row in rows:
                    copy.write_row(row)
        connection.commit()
        return time.perf_counter() - started


def bench(rows: int) -> None:
    with bench_database(rows) as database:
        size_mb = database.locations_csv.stat().st_size / 1e6
        print(f"\n{rows:,} rows from {size_mb:.0f} MB of CSV")
        timings = {}
        for label in ("first load (empty table)", "re-import (all unchanged)"):
            seconds, summary, split, peak_mb = run_import(database.url, database.locations_csv)
            timings[label] = seconds
            print(f"  {label:27} {seconds:6.1f} s wall, peak {peak_mb:5.0f} MB | {summary}")
            print(f"  {'':27} {split}")
        typed = typed_rows(database.locations_csv)
        copy_s = bare_copy(database.conninfo, typed)
        print(f"  {'bare binary COPY':27} {copy_s:6.1f} s ({rows / copy_s:,.0f} rows/s)")
        for label, seconds in timings.items():
            print(f"  CLI {label}: {seconds / copy_s:.2f}x the bare COPY (target: at most 1.3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    args = parser.parse_args()
    for rows in args.rows:
        bench(rows)


if __name__ == "__main__":
    main()
