"""SQL of the import pipeline: stage rows with COPY, then upsert them set-based.

COPY into a temporary table, then one UPDATE and one INSERT joined against it, is what
makes a million rows load in seconds; inserting ORM objects one at a time would take
many minutes. The UPDATE skips rows whose values have not changed (IS DISTINCT FROM),
so re-importing a file touches nothing and reports every row unchanged. Two hash-joined
statements beat INSERT ... ON CONFLICT here: that probes the unique index row by row,
which took 20 s for a million unchanged rows against 2.6 s for the join.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class Staging:
    """A temporary table that validated rows are copied into."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (name, SQL type)

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


@dataclass(frozen=True)
class StagingTable(Staging):
    """Staging for one import dataset, and how its rows are upserted."""

    target: str  # the real table the rows are upserted into
    update_sql: str  # changes existing rows that differ; returns nothing
    insert_sql: str  # adds rows whose key is new
    also_written: tuple[str, ...] = ()  # tables the target's triggers write to
    # The staging columns that must be unique within a file, checked in the database
    # after the COPY (a Python set of a million keys would grow with the file), against
    # the row's number in the file (the last staging column, source_row).
    key: tuple[str, ...] = ()
    # With --replace: what makes the file the whole truth for the keys it names (the
    # stock of the locations in the file); returns nothing.
    replace_sql: str | None = None

    @property
    def written_tables(self) -> tuple[str, ...]:
        return (self.target, *self.also_written)


LOCATIONS = StagingTable(
    name="staging_locations",
    target="locations",
    columns=(
        ("external_id", "text"),
        ("name", "text"),
        ("kind", "text"),
        ("brand", "text"),
        ("address_line1", "text"),
        ("city", "text"),
        ("region", "text"),
        ("postcode", "text"),
        ("country", "text"),
        ("opening_hours", "text"),
        ("capabilities", "text[]"),
        ("status", "text"),
        ("timezone", "text"),
        ("lon", "double precision"),
        ("lat", "double precision"),
        # Migration 0011: a file's extra columns, and where the position came from.
        ("attributes", "jsonb"),
        ("position_source", "text"),
        ("position_confidence", "double precision"),
        ("source_row", "integer"),  # the row (line or feature) number in the file
    ),
    key=("external_id",),
    update_sql="""
UPDATE locations AS l SET
    name = s.name, kind = s.kind, brand = s.brand, address_line1 = s.address_line1,
    city = s.city, region = s.region, postcode = s.postcode, country = s.country,
    opening_hours = s.opening_hours, capabilities = s.capabilities, status = s.status,
    timezone = s.timezone,
    geog = ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography,
    attributes = s.attributes, position_source = s.position_source,
    position_confidence = s.position_confidence,
    updated_at = now()
FROM staging_locations AS s
WHERE l.external_id = s.external_id
  AND (l.name, l.kind, l.brand, l.address_line1, l.city, l.region, l.postcode, l.country,
       l.opening_hours, l.capabilities, l.status, l.timezone,
       ST_X(l.geog::geometry), ST_Y(l.geog::geometry),
       l.attributes, l.position_source, l.position_confidence)
      IS DISTINCT FROM
      (s.name, s.kind, s.brand, s.address_line1, s.city, s.region, s.postcode, s.country,
       s.opening_hours, s.capabilities, s.status, s.timezone, s.lon, s.lat,
       s.attributes, s.position_source, s.position_confidence)
""",
    insert_sql="""
INSERT INTO locations (
    external_id, name, kind, brand, address_line1, city, region, postcode, country,
    opening_hours, capabilities, status, timezone, geog,
    attributes, position_source, position_confidence)
SELECT s.external_id, s.name, s.kind, s.brand, s.address_line1, s.city, s.region,
       s.postcode, s.country, s.opening_hours, s.capabilities, s.status, s.timezone,
       ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography,
       s.attributes, s.position_source, s.position_confidence
FROM staging_locations AS s
WHERE NOT EXISTS (SELECT 1 FROM locations AS l WHERE l.external_id = s.external_id)
""",
    also_written=("location_tile_cells",),  # the low-zoom tile cells (migration 0014)
)

SERVICE_AREAS = StagingTable(
    name="staging_service_areas",
    target="service_areas",
    columns=(
        ("location_external_id", "text"),
        ("mode", "text"),
        ("geom_wkb", "bytea"),
        ("source", "text"),
        ("radius_m", "double precision"),
        ("center_lon", "double precision"),
        ("center_lat", "double precision"),
        # Drive-time areas (migration 0008): their seconds and road network version.
        ("drive_time_s", "integer"),
        ("network_version", "bigint"),
        ("attributes", "jsonb"),  # migration 0011: the features' extra properties
    ),
    update_sql="""
UPDATE service_areas AS a SET
    geom = ST_GeomFromWKB(s.geom_wkb, 4326), source = s.source, radius_m = s.radius_m,
    center = ST_SetSRID(ST_MakePoint(s.center_lon, s.center_lat), 4326)::geography,
    drive_time_s = s.drive_time_s, network_version = s.network_version,
    attributes = s.attributes, updated_at = now()
FROM staging_service_areas AS s
JOIN locations AS l ON l.external_id = s.location_external_id
WHERE a.location_id = l.id AND a.mode = s.mode
  AND (ST_AsBinary(a.geom), a.source, a.radius_m,
       ST_X(a.center::geometry), ST_Y(a.center::geometry), a.drive_time_s, a.network_version,
       a.attributes)
      IS DISTINCT FROM
      (s.geom_wkb, s.source, s.radius_m, s.center_lon, s.center_lat, s.drive_time_s,
       s.network_version, s.attributes)
""",
    insert_sql="""
INSERT INTO service_areas (
    location_id, mode, geom, source, radius_m, center, drive_time_s, network_version,
    attributes)
SELECT l.id, s.mode, ST_GeomFromWKB(s.geom_wkb, 4326), s.source, s.radius_m,
       ST_SetSRID(ST_MakePoint(s.center_lon, s.center_lat), 4326)::geography,
       s.drive_time_s, s.network_version, s.attributes
FROM staging_service_areas AS s
JOIN locations AS l ON l.external_id = s.location_external_id
WHERE NOT EXISTS (
    SELECT 1 FROM service_areas AS a WHERE a.location_id = l.id AND a.mode = s.mode)
""",
    # The triggers of migrations 0004 (subdivided parts) and 0006 (bounded copies).
    also_written=("service_area_parts", "service_area_bounded"),
)

REGIONS = StagingTable(
    name="staging_regions",
    target="regions",
    columns=(
        ("region_id", "text"),
        ("name", "text"),
        ("geom_wkb", "bytea"),
        ("attributes", "jsonb"),
        ("source_row", "integer"),  # the row (line or feature) number in the file
    ),
    key=("region_id",),
    update_sql="""
UPDATE regions AS r SET
    name = s.name, geom = ST_GeomFromWKB(s.geom_wkb, 4326), attributes = s.attributes,
    updated_at = now()
FROM staging_regions AS s
WHERE r.region_id = s.region_id
  AND (r.name, ST_AsBinary(r.geom), r.attributes)
      IS DISTINCT FROM (s.name, s.geom_wkb, s.attributes)
""",
    insert_sql="""
INSERT INTO regions (region_id, name, geom, attributes)
SELECT s.region_id, s.name, ST_GeomFromWKB(s.geom_wkb, 4326), s.attributes
FROM staging_regions AS s
WHERE NOT EXISTS (SELECT 1 FROM regions AS r WHERE r.region_id = s.region_id)
""",
    also_written=("region_bounded",),  # the bounding trigger (migration 0006)
)

PRODUCTS = StagingTable(
    name="staging_products",
    target="products",
    columns=(
        ("sku", "text"),
        ("name", "text"),
        ("temperature", "text"),
        ("length_mm", "integer"),
        ("width_mm", "integer"),
        ("height_mm", "integer"),
        ("weight_g", "integer"),
        ("source_row", "integer"),  # the row (line or feature) number in the file
    ),
    key=("sku",),
    update_sql="""
UPDATE products AS p SET
    name = s.name, temperature = s.temperature, length_mm = s.length_mm,
    width_mm = s.width_mm, height_mm = s.height_mm, weight_g = s.weight_g, updated_at = now()
FROM staging_products AS s
WHERE p.sku = s.sku
  AND (p.name, p.temperature, p.length_mm, p.width_mm, p.height_mm, p.weight_g)
      IS DISTINCT FROM (s.name, s.temperature, s.length_mm, s.width_mm, s.height_mm, s.weight_g)
""",
    insert_sql="""
INSERT INTO products (sku, name, temperature, length_mm, width_mm, height_mm, weight_g)
SELECT s.sku, s.name, s.temperature, s.length_mm, s.width_mm, s.height_mm, s.weight_g
FROM staging_products AS s
WHERE NOT EXISTS (SELECT 1 FROM products AS p WHERE p.sku = s.sku)
""",
)

# Stock rows arrive with the location's id already resolved (the importer looks the
# external ids up once), so the upsert joins on the primary key alone.
STOCK = StagingTable(
    name="staging_stock",
    target="stock",
    columns=(
        ("location_id", "bigint"),
        ("sku", "text"),
        ("on_hand", "integer"),
        ("source_row", "integer"),  # the row (line or feature) number in the file
    ),
    key=("location_id", "sku"),
    update_sql="""
UPDATE stock AS t SET on_hand = s.on_hand, updated_at = now()
FROM staging_stock AS s
WHERE t.location_id = s.location_id AND t.sku = s.sku AND t.on_hand <> s.on_hand
""",
    insert_sql="""
INSERT INTO stock (location_id, sku, on_hand)
SELECT s.location_id, s.sku, s.on_hand
FROM staging_stock AS s
WHERE NOT EXISTS (SELECT 1 FROM stock AS t WHERE t.location_id = s.location_id AND t.sku = s.sku)
""",
    replace_sql="""
UPDATE stock AS t SET on_hand = 0, updated_at = now()
WHERE t.location_id IN (SELECT DISTINCT location_id FROM staging_stock)
  AND t.on_hand <> 0
  AND NOT EXISTS (
      SELECT 1 FROM staging_stock AS s WHERE s.location_id = t.location_id AND s.sku = t.sku)
""",
)

FULFILMENT_SETTINGS = StagingTable(
    name="staging_fulfilment_settings",
    target="fulfilment_settings",
    columns=(
        ("location_id", "bigint"),
        ("mode", "text"),
        ("prep_minutes", "integer"),
        ("cutoff", "time"),
        ("daily_capacity", "integer"),
        ("departures", "text"),
        ("lead_minutes", "integer"),
        ("source_row", "integer"),  # the row (line or feature) number in the file
    ),
    key=("location_id", "mode"),
    update_sql="""
UPDATE fulfilment_settings AS f SET
    prep_minutes = s.prep_minutes, cutoff = s.cutoff, daily_capacity = s.daily_capacity,
    departures = s.departures, lead_minutes = s.lead_minutes, updated_at = now()
FROM staging_fulfilment_settings AS s
WHERE f.location_id = s.location_id AND f.mode = s.mode
  AND (f.prep_minutes, f.cutoff, f.daily_capacity, f.departures, f.lead_minutes)
      IS DISTINCT FROM (s.prep_minutes, s.cutoff, s.daily_capacity, s.departures, s.lead_minutes)
""",
    insert_sql="""
INSERT INTO fulfilment_settings (
    location_id, mode, prep_minutes, cutoff, daily_capacity, departures, lead_minutes)
SELECT s.location_id, s.mode, s.prep_minutes, s.cutoff, s.daily_capacity, s.departures,
       s.lead_minutes
FROM staging_fulfilment_settings AS s
WHERE NOT EXISTS (
    SELECT 1 FROM fulfilment_settings AS f
    WHERE f.location_id = s.location_id AND f.mode = s.mode)
""",
)


# A demand file replaces its named set whole (DESIGN §4.9): the set's old points go and
# the staged ones come in, in the import's transaction, so readers see one or the other.
DEMAND = StagingTable(
    name="staging_demand",
    target="demand_points",
    columns=(
        ("lon", "double precision"),
        ("lat", "double precision"),
        ("weight", "double precision"),
        ("label", "text"),
    ),
    update_sql="DELETE FROM demand_points WHERE set_id = :set_id",
    insert_sql="""
INSERT INTO demand_points (set_id, geom, weight, label)
SELECT :set_id, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), s.weight, s.label
FROM staging_demand AS s
""",
    also_written=("demand_sets",),
)


_SAME_DEMAND = """
SELECT (SELECT count(*) FROM demand_points WHERE set_id = :set_id)
       = (SELECT count(*) FROM staging_demand)
   AND NOT EXISTS (
       SELECT ST_X(geom), ST_Y(geom), weight, label FROM demand_points WHERE set_id = :set_id
       EXCEPT ALL
       SELECT lon, lat, weight, label FROM staging_demand)
"""


def replace_demand_set(connection: Connection, name: str) -> tuple[int, int]:
    """Make the staged points the whole of demand set ``name`` (created if new); return
    (points inserted, previous points removed). A file equal to the set (the same points,
    in any order) changes nothing, so re-importing it reports every point unchanged."""
    existing = connection.execute(
        text("SELECT id FROM demand_sets WHERE name = :name FOR UPDATE"), {"name": name}
    ).scalar_one_or_none()
    if (
        existing is not None
        and connection.execute(text(_SAME_DEMAND), {"set_id": existing}).scalar_one()
    ):
        connection.execute(text(f"DROP TABLE {DEMAND.name}"))
        return 0, 0
    set_id = connection.execute(
        text(
            "INSERT INTO demand_sets (name) VALUES (:name) ON CONFLICT (name)"
            " DO UPDATE SET imported_at = now() RETURNING id"
        ),
        {"name": name},
    ).scalar_one()
    removed = connection.execute(text(DEMAND.update_sql), {"set_id": set_id}).rowcount
    inserted = connection.execute(text(DEMAND.insert_sql), {"set_id": set_id}).rowcount
    connection.execute(text(f"DROP TABLE {DEMAND.name}"))
    return inserted, removed


def gazetteer_postcodes(connection: Connection) -> dict[str, tuple[float, float]]:
    """US ZIP -> (lon, lat) of its centroid, from the gazetteer."""
    result = connection.execute(
        text(
            "SELECT name, ST_X(geog::geometry), ST_Y(geog::geometry) FROM places"
            " WHERE kind = 'postcode' AND country = 'US'"
        )
    )
    return {name: (lon, lat) for name, lon, lat in result}


def gazetteer_cities(connection: Connection) -> list[tuple]:
    """(search_name, label, admin, country, lon, lat) of every city in the gazetteer."""
    return connection.execute(
        text(
            "SELECT search_name, label, admin, country, ST_X(geog::geometry),"
            " ST_Y(geog::geometry) FROM places WHERE kind = 'place'"
        )
    ).all()


def location_ids(connection: Connection) -> dict[str, int]:
    """external_id -> id of every location: one read, so a million stock rows need no
    look-up each (10,000 locations are a few hundred kilobytes)."""
    return dict(connection.execute(text("SELECT external_id, id FROM locations")).all())


def product_skus(connection: Connection) -> set[str]:
    """Every known SKU."""
    return set(connection.execute(text("SELECT sku FROM products")).scalars())


# Below this many rows, maintaining the indexes row by row is cheaper than rebuilding them.
BULK_LOAD_MIN_ROWS = 100_000


def lock_dataset(connection: Connection, table: StagingTable) -> None:
    """One import per table at a time: the UPDATE-then-INSERT upsert relies on it."""
    connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": "import:" + table.target}
    )


def copy_into_staging(connection: Connection, table: Staging, rows: Iterable[tuple]) -> int:
    """Create a temporary staging table and COPY ``rows`` into it.

    Runs inside the caller's transaction (the table is dropped at commit or rollback).
    Returns the number of rows copied.
    """
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in table.columns)
    connection.execute(text(f"CREATE TEMPORARY TABLE {table.name} ({columns}) ON COMMIT DROP"))
    cursor = connection.connection.driver_connection.cursor()
    copied = 0
    # Binary COPY with declared types: psycopg packs each value without formatting it as
    # text, and PostgreSQL parses nothing; half the cost of text COPY per row.
    statement = f"COPY {table.name} ({', '.join(table.column_names)}) FROM STDIN (FORMAT BINARY)"
    with cursor.copy(statement) as copy:
        copy.set_types([sql_type for _, sql_type in table.columns])
        for row in rows:
            copy.write_row(row)
            copied += 1
    # Autovacuum never analyzes temporary tables; without statistics the planner would
    # probe the target's index once per staged row instead of hash-joining.
    connection.execute(text(f"ANALYZE {table.name}"))
    return copied


def staged_duplicates(connection: Connection, table: StagingTable) -> list[tuple[int, int]]:
    """(row, first row) of each staged row whose key an earlier row of the file has."""
    if not table.key:
        return []
    key = ", ".join(table.key)
    return connection.execute(
        text(
            f"SELECT source_row, first FROM (SELECT source_row, min(source_row) OVER"
            f" (PARTITION BY {key}) AS first FROM {table.name}) AS d"
            " WHERE source_row <> first ORDER BY source_row"
        )
    ).all()


def drop_staged_rows(connection: Connection, table: StagingTable, rows: list[int]) -> None:
    """Take rows out of staging (the duplicates that --skip-invalid leaves out)."""
    connection.execute(
        text(f"DELETE FROM {table.name} WHERE source_row = ANY(:rows)"), {"rows": rows}
    )


def replace_from_staging(connection: Connection, table: StagingTable) -> int:
    """Make the staged rows the whole truth for the keys they name (--replace); run
    before upsert_from_staging, which drops the staging table. Returns rows changed."""
    return connection.execute(text(table.replace_sql)).rowcount if table.replace_sql else 0


def upsert_from_staging(
    connection: Connection, table: StagingTable, staged: int, timings: dict | None = None
) -> tuple[int, int]:
    """Upsert the staged rows into the real table; return (created, updated).

    When the load is large and at least twice the table's size (a first load or a
    rebuild), the non-unique indexes are dropped and rebuilt after the upsert, inside the
    same transaction: building a GiST index once is several times faster than inserting
    a million entries one by one. Readers wait for the table until the import commits.
    """
    existing = connection.execute(text(f"SELECT count(*) FROM {table.target}")).scalar_one()
    rebuild = staged >= BULK_LOAD_MIN_ROWS and staged >= 2 * existing
    index_definitions = _secondary_indexes(connection, table.target) if rebuild else []
    for name, _ in index_definitions:
        connection.execute(text(f"DROP INDEX {name}"))
    updated = connection.execute(text(table.update_sql)).rowcount
    created = connection.execute(text(table.insert_sql)).rowcount
    index_started = time.perf_counter()
    for _, definition in index_definitions:
        connection.execute(text(definition))
    if timings is not None and index_definitions:
        timings["index builds"] = time.perf_counter() - index_started
    # Dropped now, not at commit: the caller's transaction may run another import.
    connection.execute(text(f"DROP TABLE {table.name}"))
    return created, updated


# An import that wrote at least this share of a table's rows refreshes its statistics.
ANALYZE_MIN_SHARE = 0.1


def analyze_written_tables(connection: Connection, table: StagingTable, written: int) -> bool:
    """ANALYZE the tables an import wrote to, when it changed a large share of them.

    Without statistics after a bulk load the planner guesses the selectivity of every
    filter, until autovacuum analyzes the table (up to a minute or more after the
    commit): on 1,000,000 fresh locations the nearest-pickup SQL took a bitmap scan of
    the capabilities index over 883,000 rows, 1.9 s, instead of the KNN index scan,
    0.4 ms. Run in the import's transaction, so the new rows and their statistics
    become visible together. A small import into a large table (one record through the
    admin API) is left to autovacuum: ANALYZE samples up to 30,000 rows whatever the
    change (1.8 s for 1,000,000 locations), which a one-row write should not pay.
    Returns whether it ran.
    """
    size = connection.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = CAST(:table AS regclass)"),
        {"table": table.target},
    ).scalar_one()
    if written <= 0 or written < ANALYZE_MIN_SHARE * max(size, 0):
        return False
    for name in table.written_tables:
        connection.execute(text(f"ANALYZE {name}"))
    return True


def _secondary_indexes(connection: Connection, target: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of each index that backs no constraint."""
    return connection.execute(
        text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid = CAST(:table AS regclass) "
            "AND NOT i.indisunique AND NOT i.indisprimary"
        ),
        {"table": target},
    ).all()


def location_positions(connection: Connection, external_ids: list[str]) -> dict[str, tuple]:
    """(lon, lat) of each existing location among ``external_ids``."""
    result = connection.execute(
        text(
            "SELECT external_id, ST_X(geog::geometry), ST_Y(geog::geometry) "
            "FROM locations WHERE external_id = ANY(:ids)"
        ),
        {"ids": external_ids},
    )
    return {external_id: (lon, lat) for external_id, lon, lat in result}


def disable_statement_timeout(connection: Connection) -> None:
    """Imports may legitimately run for minutes; lift the web timeout for this transaction."""
    connection.execute(text("SET LOCAL statement_timeout = 0"))
