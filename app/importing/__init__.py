"""Importing files and records: locations, service areas, regions, fulfilment data, demand.

- ``readers``: CSV and GeoJSON in, numbered rows out;
- ``fields``: one converter per kind of cell;
- ``datasets``: one definition per kind of file (fields, validation, staging);
- ``places``: positions from the gazetteer, and the plausibility checks;
- ``pipeline``: read, validate, stage and write, all or nothing;
- ``report``: what an import is asked to do and what it did.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Connection

from app.importing import datasets
from app.importing.datasets import LOCATION_FIELDS, PRODUCT_FIELDS, SETTINGS_FIELDS, STOCK_FIELDS
from app.importing.pipeline import import_bytes, import_file, import_records, import_stream
from app.importing.places import CHECKS as PLAUSIBILITY_CHECKS
from app.importing.report import ImportFileError, ImportOptions, ImportReport, Rejection

DATASETS = tuple(datasets.DATASETS)  # the names --dataset takes

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "geodata" / "demo"
# Order matters: service areas refer to locations.
DEMO_FILES = (
    "locations.csv",
    "service_areas.csv",
    "service_areas.geojson",
    "regions.geojson",
    # Fulfilment: products first, since stock refers to them.
    "products.csv",
    "stock.csv",
    "fulfilment_settings.csv",
)
# The demo's demand (planning, DESIGN §4.9), imported when the file is there.
DEMO_DEMAND_FILE = "demand.csv"
DEMO_DEMAND_SET = "demo-orders"


def load_demo_data(connection: Connection, options: ImportOptions) -> Iterator[ImportReport]:
    """Import the shipped demo network (geodata/demo) file by file, yielding each report."""
    for name in DEMO_FILES:
        yield import_file(connection, DEMO_DIR / name, options)
    if (DEMO_DIR / DEMO_DEMAND_FILE).exists():
        demand = replace(options, dataset="demand", demand_set=DEMO_DEMAND_SET)
        yield import_file(connection, DEMO_DIR / DEMO_DEMAND_FILE, demand)


__all__ = [
    "DATASETS",
    "DEMO_DEMAND_FILE",
    "DEMO_DIR",
    "LOCATION_FIELDS",
    "PLAUSIBILITY_CHECKS",
    "PRODUCT_FIELDS",
    "SETTINGS_FIELDS",
    "STOCK_FIELDS",
    "ImportFileError",
    "ImportOptions",
    "ImportReport",
    "Rejection",
    "import_bytes",
    "import_file",
    "import_records",
    "import_stream",
    "load_demo_data",
]
