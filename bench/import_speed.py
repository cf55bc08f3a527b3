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
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine  # noqa: E402

from app import schema  # noqa: E402
from app.embedded_postgres import EmbeddedPostgres  # noqa: E402


def run_import(url: str, csv_path: Path) -> tuple[float, str]:
    """Run the CLI import; return (wall seconds, its summary line)."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "flask"), "--app", "wsgi", "locator", "import"]
        + ["--no-progress", str(csv_path)],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="locator-bench-"))
    workdir.chmod(0o755)
    cluster = None
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
        engine.dispose()

        print(f"importing {args.rows:,} rows from {csv_path.stat().st_size / 1e6:.0f} MB of CSV")
        for label in ("first load (empty table)", "re-import (all unchanged)"):
            seconds, summary = run_import(url, csv_path)
            print(f"{label:28} {seconds:6.1f} s wall | {summary}")
    finally:
        if cluster:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
