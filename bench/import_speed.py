"""Import speed at scale: `flask locator import` on 1,000,000 generated locations.

Usage (from the repository root)::

    make bench-import                         # 1,000,000 rows
    .venv/bin/python bench/import_speed.py --rows 200000

It generates the rows with bench/make_locations.py, starts a throwaway PostGIS cluster
(default durability settings, like a real server) unless BENCH_DATABASE_URL is set,
migrates it, and runs the real CLI twice: a first load into the empty table, then the
same file again (every row unchanged). It prints each run's summary line, which carries
the rows per second, and removes everything it created.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from harness import FLASK, REPO, app_env, bench_database


def run_import(url: str, csv_path: Path) -> tuple[float, str]:
    """Run the CLI import; return (wall seconds, its summary line)."""
    started = time.perf_counter()
    result = subprocess.run(
        [*FLASK, "import", "--no-progress", str(csv_path)],
        cwd=REPO,
        env=app_env(url),
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    with bench_database(args.rows) as database:
        size_mb = database.locations_csv.stat().st_size / 1e6
        print(f"importing {args.rows:,} rows from {size_mb:.0f} MB of CSV")
        for label in ("first load (empty table)", "re-import (all unchanged)"):
            seconds, summary = run_import(database.url, database.locations_csv)
            print(f"{label:28} {seconds:6.1f} s wall | {summary}")


if __name__ == "__main__":
    main()
