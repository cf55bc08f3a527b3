"""Build the demo's fulfilment data (products, stock, settings) in ``geodata/demo/``.

Reads the demo locations (``make_demo.py``'s output) and draws stock from a fixed-seed
RNG, so two runs give byte-identical files. Stores keep most products; chilled and
frozen lines only where the location has ``cold_chain`` / ``frozen``; convenience
stores a few ambient lines; lockers nothing (they are supplied from a warehouse);
warehouses everything they can keep cold or frozen (all of them can), in bulk, shipped
by timetabled supply runs.

Usage: ``.venv/bin/python geodata/make_demo_fulfilment.py``
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

DEMO = Path(__file__).resolve().parent / "demo"
SEED = 12

# sku, name, temperature, length_mm, width_mm, height_mm, weight_g
PRODUCTS = [
    ("bread", "Sourdough loaf", "ambient", 300, 120, 100, 800),
    ("coffee-beans", "Coffee beans 1 kg", "ambient", 250, 120, 80, 1000),
    ("pasta", "Spaghetti 500 g", "ambient", 260, 80, 30, 500),
    ("olive-oil", "Olive oil 750 ml", "ambient", 300, 70, 70, 900),
    ("batteries-aa", "AA batteries, 8", "ambient", 120, 90, 20, 200),
    ("water-6", "Still water 6 x 1.5 l", "ambient", 280, 190, 330, 9000),
    ("milk-1l", "Whole milk 1 l", "chilled", 70, 70, 240, 1050),
    ("yoghurt", "Greek yoghurt 500 g", "chilled", 110, 110, 90, 520),
    ("ice-cream", "Vanilla ice cream 1 l", "frozen", 160, 110, 90, 600),
    ("frozen-peas", "Garden peas 1 kg", "frozen", 250, 180, 50, 1000),
]
TEMPERATURE = {sku: temperature for sku, _, temperature, *_ in PRODUCTS}
NEEDS = {"chilled": "cold_chain", "frozen": "frozen"}
AMBIENT = [sku for sku, *_ in PRODUCTS if TEMPERATURE[sku] == "ambient"]

# mode -> settings per kind: prep_minutes, cutoff, daily_capacity, departures, lead_minutes
SETTINGS = {
    "store": {
        "pickup": (30, "20:00", 300, "", ""),
        "express": (15, "20:30", 40, "", ""),
        "delivery": (60, "17:00", 120, "", ""),
    },
    "convenience_store": {"pickup": (15, "", 80, "", "")},
    "locker": {"pickup": (10, "", 60, "", "")},
    "warehouse": {
        "supply": (45, "16:00", 500, "Mo-Fr 06:00,14:00; Sa 08:00", "90"),
        "delivery": (120, "12:00", 200, "", ""),
    },
}


def main() -> None:
    rng = random.Random(SEED)
    with open(DEMO / "locations.csv", newline="", encoding="utf-8") as stream:
        locations = sorted(csv.DictReader(stream), key=lambda row: row["external_id"])

    _write(
        "products.csv",
        ["sku", "name", "temperature", "length_mm", "width_mm", "height_mm", "weight_g"],
        PRODUCTS,
    )

    stock = []
    for location in locations:
        capabilities = set(location["capabilities"].split(";"))
        kind = location["kind"]
        for sku in sorted(TEMPERATURE):
            need = NEEDS.get(TEMPERATURE[sku])
            if need and need not in capabilities:
                continue
            if kind == "locker":
                continue
            if kind == "warehouse":
                # Everything it can keep (the temperature check above), in bulk.
                stock.append((location["external_id"], sku, rng.randint(500, 5000)))
                continue
            chance = 0.9 if kind == "store" else 0.5
            if kind == "convenience_store" and sku not in AMBIENT and rng.random() < 0.5:
                continue
            if rng.random() < chance:
                # Now and then a line is sold out (0 on hand) rather than not stocked.
                stock.append((location["external_id"], sku, rng.choice([0, *range(1, 40)])))
    _write("stock.csv", ["location_external_id", "sku", "on_hand"], stock)

    settings = []
    for location in locations:
        for mode, values in SETTINGS[location["kind"]].items():
            capabilities = set(location["capabilities"].split(";"))
            if mode == "express" and "express_delivery" not in capabilities:
                continue
            if mode == "delivery" and "delivery" not in capabilities:
                continue
            settings.append((location["external_id"], mode, *values))
    _write(
        "fulfilment_settings.csv",
        [
            "location_external_id",
            "mode",
            "prep_minutes",
            "cutoff",
            "daily_capacity",
            "departures",
            "lead_minutes",
        ],
        settings,
    )


def _write(name: str, header: list[str], rows: list[tuple]) -> None:
    with open(DEMO / name, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
