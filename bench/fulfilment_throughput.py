"""POST /api/v1/fulfilment/options against GET /api/v1/pickup-points, in the same run.

Usage (from the repository root)::

    .venv/bin/python bench/fulfilment_throughput.py      # 10,000 locations, 1,000,000 stock
    .venv/bin/python bench/fulfilment_throughput.py --locations 2000 --seconds 5

10,000 generated locations (bench/make_locations.py), 100 products and a stock line for
every location and product (bench/stock_import.py's feed), imported with the CLI; then
gunicorn, and wrk at 8 connections: the options endpoint cycling through 1,000 origins
near the data with carts of 1 to 20 lines, then /pickup-points over the same origins.
"""

from __future__ import annotations

import argparse
import json
import random

from harness import bench_server, import_file, sample_origins, wrk, wrk_script
from stock_import import PRODUCTS, external_ids, write_stock


def options_script(path, origins, skus, seed: int = 3):
    """A wrk Lua script cycling POST bodies: each origin with a cart of 1 to 20 lines."""
    rng = random.Random(seed)
    bodies = []
    for lat, lon in origins:
        cart = [{"sku": sku, "qty": 1} for sku in rng.sample(skus, rng.randint(1, 20))]
        bodies.append(json.dumps({"lat": round(lat, 6), "lon": round(lon, 6), "cart": cart}))
    entries = ",".join("[[" + body + "]]" for body in bodies)
    path.write_text(
        f"local bodies = {{{entries}}}\n"
        "local i = 0\n"
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        '  return wrk.format("POST", "/api/v1/fulfilment/options", nil, bodies[i])\n'
        "end\n"
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    skus = [f"sku-{number:04d}" for number in range(PRODUCTS)]

    def load_stock(bench) -> None:
        products = bench.workdir / "products.csv"
        products.write_text(
            "sku,name,temperature\n" + "".join(f"{sku},Product {sku},ambient\n" for sku in skus),
            encoding="utf-8",
        )
        import_file(products, bench.env)
        feed = bench.workdir / "stock.csv"
        write_stock(feed, external_ids(bench.locations_csv, args.locations), skus, 1, 0.0)
        import_file(feed, bench.env)

    with bench_server(args.locations, args.workers, prepare=load_stock) as bench:
        origins = sample_origins(bench.locations_csv, 1000)
        options = options_script(bench.workdir / "options.lua", origins, skus)
        pickup = wrk_script(bench.workdir / "pickup.lua", "/api/v1/pickup-points", origins)
        wrk(bench.base_url + "/", 3, args.connections, options)  # warm-up
        results = {
            "POST /api/v1/fulfilment/options": wrk(
                bench.base_url + "/", args.seconds, args.connections, options
            ),
            "GET /api/v1/pickup-points": wrk(
                bench.base_url + "/", args.seconds, args.connections, pickup
            ),
        }
    print(
        f"{args.locations:,} locations, {args.locations * PRODUCTS:,} stock lines, carts of "
        f"1-20 lines, {args.connections} connections, {args.workers} workers, "
        f"{args.seconds} s each"
    )
    for name, result in results.items():
        print(
            f"{name:34} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms  "
            f"p99 {result['p99_ms']:7.1f} ms  non-2xx {result['non_2xx']}"
        )


if __name__ == "__main__":
    main()
