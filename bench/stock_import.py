"""Stock feed speed: `flask locator import` of 1,000,000 stock lines.

Usage (from the repository root)::

    .venv/bin/python bench/stock_import.py                  # 10,000 x 100 = 1,000,000
    .venv/bin/python bench/stock_import.py --locations 2000

It generates locations (bench/make_locations.py) and imports them, then 100 products,
then a stock feed of every location x every product, through the real CLI: a first load
into the empty table, the same feed again (every line unchanged), a feed with a tenth
of the quantities changed, and that feed with --replace. It prints each run's summary
line and removes everything it created.
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import time
from pathlib import Path

from harness import ALLOW_IMPLAUSIBLE, FLASK, REPO, app_env, bench_database

PRODUCTS = 100


def run_import(url: str, path: Path, *flags: str) -> tuple[float, str]:
    """Run the CLI import; return (wall seconds, its summary line)."""
    started = time.perf_counter()
    result = subprocess.run(
        [*FLASK, "import", "--no-progress", *flags, str(path)],
        cwd=REPO,
        env=app_env(url),
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, result.stdout.strip().splitlines()[-1]


def external_ids(locations_csv: Path, count: int) -> list[str]:
    with open(locations_csv, newline="", encoding="utf-8") as stream:
        ids = [row["external_id"] for row in csv.DictReader(stream)]
    return ids[:count]


def write_stock(path: Path, locations: list[str], skus: list[str], seed: int, changed: float):
    """Every location x every sku; ``changed`` of the lines get another quantity."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        stream.write("location_external_id,sku,on_hand\n")
        for index, location in enumerate(locations):
            for number, sku in enumerate(skus):
                base = (index * 31 + number * 7) % 50
                quantity = base + 1 if rng.random() < changed else base
                stream.write(f"{location},{sku},{quantity}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locations", type=int, default=10_000)
    args = parser.parse_args()

    with bench_database(args.locations) as database:
        # Generated on purpose with poles and open sea: the plausibility checks only warn.
        seconds, summary = run_import(database.url, database.locations_csv, *ALLOW_IMPLAUSIBLE)
        print(f"{'locations':28} {seconds:6.1f} s wall | {summary}")
        skus = [f"sku-{number:04d}" for number in range(PRODUCTS)]
        products = database.workdir / "products.csv"
        products.write_text(
            "sku,name,temperature\n"
            + "".join(
                f"{sku},Product {sku},{('ambient', 'chilled', 'frozen')[i % 3]}\n"
                for i, sku in enumerate(skus)
            ),
            encoding="utf-8",
        )
        run_import(database.url, products)
        locations = external_ids(database.locations_csv, args.locations)
        feed = database.workdir / "stock.csv"
        write_stock(feed, locations, skus, seed=1, changed=0.0)
        size_mb = feed.stat().st_size / 1e6
        print(f"stock feed: {len(locations) * len(skus):,} lines, {size_mb:.0f} MB of CSV")
        for label in ("first load (empty table)", "re-import (all unchanged)"):
            seconds, summary = run_import(database.url, feed)
            print(f"{label:28} {seconds:6.1f} s wall | {summary}")
        write_stock(feed, locations, skus, seed=2, changed=0.1)
        seconds, summary = run_import(database.url, feed)
        print(f"{'a tenth changed':28} {seconds:6.1f} s wall | {summary}")
        half = database.workdir / "half.csv"
        write_stock(half, locations, skus[: PRODUCTS // 2], seed=2, changed=0.1)
        seconds, summary = run_import(database.url, half, "--replace")
        print(f"{'--replace, half the SKUs':28} {seconds:6.1f} s wall | {summary}")


if __name__ == "__main__":
    main()
