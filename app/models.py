"""The data model. Migrations in migrations/ create it; a test checks the two agree.

The hot paths do not load these as ORM objects (see app/queries/); the classes document
the schema, type the columns, and serve the few single-row admin operations.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from geoalchemy2 import Geography, Geometry, WKBElement
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

KINDS = ("store", "warehouse", "convenience_store", "locker")
STATUSES = ("active", "temporarily_closed", "retired")
SERVICE_AREA_MODES = ("delivery", "express", "supply")
# The capability vocabulary is open (new ones can be added here) but validated on import.
CAPABILITIES = (
    "pickup",
    "returns",
    "delivery",
    "express_delivery",
    "cold_chain",
    "frozen",
    "bulky",
    "cash",
    "accessible",
)
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    pass


class Location(Base):
    """A store, warehouse, convenience store or locker."""

    __tablename__ = "locations"
    __table_args__ = (
        # The same rule as EXTERNAL_ID_PATTERN, in a form PostgreSQL checks cheaply.
        CheckConstraint(
            "external_id ~ '^[A-Za-z0-9._:-]+$' AND length(external_id) <= 128",
            "locations_external_id_format",
        ),
        CheckConstraint("btrim(name) <> ''", "locations_name_not_blank"),
        CheckConstraint(_in("kind", KINDS), "locations_kind_allowed"),
        CheckConstraint("country ~ '^[A-Z][A-Z]$'", "locations_country_iso"),
        CheckConstraint(_in("status", STATUSES), "locations_status_allowed"),
        CheckConstraint(
            "ST_Y(geog::geometry) BETWEEN -90 AND 90 AND ST_X(geog::geometry) BETWEEN -180 AND 180",
            "locations_position_in_range",
        ),
        UniqueConstraint("external_id", name="locations_external_id_key"),
        Index("locations_geog_gist", "geog", postgresql_using="gist"),
        Index("locations_capabilities_gin", "capabilities", postgresql_using="gin"),
        Index("locations_geom_gist", text("(geog::geometry)"), postgresql_using="gist"),
        # Migration 0011: where the position came from (the file, or the gazetteer).
        CheckConstraint(
            "position_source IN ('file', 'gazetteer')", "locations_position_source_allowed"
        ),
        CheckConstraint(
            "position_confidence >= 0 AND position_confidence <= 1",
            "locations_position_confidence_range",
        ),
        CheckConstraint("jsonb_typeof(attributes) = 'object'", "locations_attributes_object"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    external_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    brand: Mapped[str | None] = mapped_column(Text)
    address_line1: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    opening_hours: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(Text)
    capabilities: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    status: Mapped[str] = mapped_column(Text, server_default=text("'active'"))
    geog: Mapped[WKBElement] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The file's extra columns or properties, inert (migration 0011).
    attributes: Mapped[dict | None] = mapped_column(JSONB)
    position_source: Mapped[str] = mapped_column(Text, server_default=text("'file'"))
    position_confidence: Mapped[float | None] = mapped_column(Float)


class ServiceArea(Base):
    """Where a location serves in one mode; remembers how its polygon was made."""

    __tablename__ = "service_areas"
    __table_args__ = (
        CheckConstraint(_in("mode", SERVICE_AREA_MODES), "service_areas_mode_allowed"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", "service_areas_geom_valid"),
        CheckConstraint(
            "source IN ('polygon', 'radius', 'drive_time')", "service_areas_source_allowed"
        ),
        # A drive-time area (migration 0008) remembers its seconds and the road network
        # version it was built on; it is rebuilt when a new network is imported.
        CheckConstraint(
            "(source = 'drive_time') = (drive_time_s IS NOT NULL AND network_version IS NOT NULL)",
            "service_areas_drive_time_fields",
        ),
        CheckConstraint(
            "drive_time_s > 0 AND drive_time_s <= 7200", "service_areas_drive_time_range"
        ),
        CheckConstraint("radius_m > 0 AND radius_m <= 1000000", "service_areas_radius_range"),
        CheckConstraint(
            "(source = 'radius') = (radius_m IS NOT NULL AND center IS NOT NULL)",
            "service_areas_radius_has_center",
        ),
        UniqueConstraint("location_id", "mode", name="service_areas_location_mode_key"),
        Index("service_areas_geom_gist", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    location_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("locations.id", ondelete="CASCADE")
    )
    mode: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
    )
    source: Mapped[str] = mapped_column(Text)
    radius_m: Mapped[float | None] = mapped_column(Float)
    center: Mapped[WKBElement | None] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False)
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    drive_time_s: Mapped[int | None] = mapped_column(Integer)
    network_version: Mapped[int | None] = mapped_column(BigInteger)
    # The features' extra properties (migration 0011): an object, or a list of them
    # when several features of one (location, mode) were merged into this area.
    attributes: Mapped[dict | list | None] = mapped_column(JSONB)


class Region(Base):
    """A named area that planners report coverage for."""

    __tablename__ = "regions"
    __table_args__ = (
        CheckConstraint(
            "region_id ~ '^[A-Za-z0-9._:-]+$' AND length(region_id) <= 128",
            "regions_region_id_format",
        ),
        CheckConstraint("btrim(name) <> ''", "regions_name_not_blank"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", "regions_geom_valid"),
        UniqueConstraint("region_id", name="regions_region_id_key"),
        Index("regions_geom_gist", "geom", postgresql_using="gist"),
        CheckConstraint("jsonb_typeof(attributes) = 'object'", "regions_attributes_object"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    region_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    attributes: Mapped[dict | None] = mapped_column(JSONB)  # migration 0011


class Place(Base):
    """A gazetteer entry (postcode centroid or populated place) for offline geocoding."""

    __tablename__ = "places"
    __table_args__ = (
        CheckConstraint("kind IN ('postcode', 'place')", "places_kind_allowed"),
        Index(
            "places_search_name_trgm",
            "search_name",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        ),
        Index("places_postcode", "name", postgresql_where=text("kind = 'postcode'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    search_name: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text)
    admin: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str] = mapped_column(Text)
    population: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    geog: Mapped[WKBElement] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False), nullable=False
    )
    source: Mapped[str] = mapped_column(Text)


class GeocoderCacheEntry(Base):
    """An external geocoder's validated answer, kept so the upstream is asked once."""

    __tablename__ = "geocoder_cache"

    query: Mapped[str] = mapped_column(Text, primary_key=True)
    candidates: Mapped[list] = mapped_column(JSONB)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GeocoderThrottle(Base):
    """A single row: when any app process last asked the external geocoder."""

    __tablename__ = "geocoder_throttle"
    __table_args__ = (CheckConstraint("id", "geocoder_throttle_one_row"),)

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    last_request_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("'-infinity'")
    )


class ServiceAreaPart(Base):
    """A piece of a service area (ST_Subdivide), kept in step by a trigger; for fast tests."""

    __tablename__ = "service_area_parts"
    __table_args__ = (
        Index("service_area_parts_geom_gist", "geom", postgresql_using="gist"),
        Index("service_area_parts_area", "service_area_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    service_area_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("service_areas.id", ondelete="CASCADE")
    )
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False
    )


class DataVersion(Base):
    """A single row: the data's version, bumped by triggers on every write to locations,
    service areas and regions (migration 0009); tiles and OGC responses' ETags use it."""

    __tablename__ = "data_version"
    __table_args__ = (CheckConstraint("id", "data_version_one_row"),)

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LocationTileCell(Base):
    """Shown locations per cell of the low-zoom tile grid (migration 0014): for tile zoom
    z, the tiles of zoom z + 6. Sums of positions (a 2^32 Web Mercator grid) and ids,
    kept in step by triggers on locations; a cell of one location has its id as sum_id."""

    __tablename__ = "location_tile_cells"
    __table_args__ = (
        CheckConstraint("zoom BETWEEN 6 AND 17", "location_tile_cells_zoom"),
        CheckConstraint("count >= 0", "location_tile_cells_count"),
    )

    zoom: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cx: Mapped[int] = mapped_column(Integer, primary_key=True)
    cy: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    sum_x: Mapped[int] = mapped_column(BigInteger)
    sum_y: Mapped[int] = mapped_column(BigInteger)
    sum_id: Mapped[int] = mapped_column(BigInteger)


class ApiToken(Base):
    """An admin API token: its SHA-256 hash, scopes, and whether it was revoked."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("name", name="api_tokens_name_key"),
        UniqueConstraint("token_sha256", name="api_tokens_hash_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    token_sha256: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


CLIENT_KEY_KINDS = ("publishable", "secret")


class ClientKey(Base):
    """A read client's key (publishable or secret): its hash, origins and quotas."""

    __tablename__ = "client_keys"
    __table_args__ = (
        UniqueConstraint("key_sha256", name="client_keys_hash_key"),
        CheckConstraint(r"name ~ '^[A-Za-z0-9._:-]{1,64}$'", name="client_keys_name_format"),
        CheckConstraint(_in("kind", CLIENT_KEY_KINDS), name="client_keys_kind_allowed"),
        CheckConstraint("per_minute > 0", name="client_keys_per_minute_positive"),
        CheckConstraint("per_day > 0", name="client_keys_per_day_positive"),
        Index("client_keys_name_idx", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    key_sha256: Mapped[str] = mapped_column(Text)
    key_hint: Mapped[str] = mapped_column(Text)
    allowed_origins: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    per_minute: Mapped[int] = mapped_column(Integer)
    per_day: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


TEMPERATURES = ("ambient", "chilled", "frozen")
FULFILMENT_MODES = ("pickup", "express", "delivery", "supply")


class Product(Base):
    """A SKU the network stocks; its temperature decides which locations may hold it."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("sku ~ '^[A-Za-z0-9._-]+$' AND length(sku) <= 64", "products_sku_format"),
        CheckConstraint("btrim(name) <> ''", "products_name_not_blank"),
        CheckConstraint(_in("temperature", TEMPERATURES), "products_temperature_allowed"),
        CheckConstraint(
            "(length_mm IS NULL OR length_mm > 0) AND (width_mm IS NULL OR width_mm > 0)"
            " AND (height_mm IS NULL OR height_mm > 0) AND (weight_g IS NULL OR weight_g > 0)",
            "products_sizes_positive",
        ),
        UniqueConstraint("sku", name="products_sku_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    sku: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    temperature: Mapped[str] = mapped_column(Text, server_default=text("'ambient'"))
    length_mm: Mapped[int | None] = mapped_column(Integer)
    width_mm: Mapped[int | None] = mapped_column(Integer)
    height_mm: Mapped[int | None] = mapped_column(Integer)
    weight_g: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StockLine(Base):
    """How many units of a SKU a location has on hand (held units are in issue 13's tables)."""

    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", "stock_on_hand_not_negative"),
        Index("stock_sku", "sku"),
    )

    # No foreign keys (see migration 0007): row-by-row checks would slow feeds tenfold;
    # the importer checks, and triggers forget the lines of deleted locations/products.
    location_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sku: Mapped[str] = mapped_column(Text, primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FulfilmentSetting(Base):
    """How one location works in one mode: preparation, cut-off, capacity, supply runs."""

    __tablename__ = "fulfilment_settings"
    __table_args__ = (
        CheckConstraint(_in("mode", FULFILMENT_MODES), "fulfilment_settings_mode_allowed"),
        CheckConstraint("prep_minutes BETWEEN 0 AND 10080", "fulfilment_settings_prep_range"),
        CheckConstraint(
            "daily_capacity IS NULL OR daily_capacity >= 0",
            "fulfilment_settings_capacity_not_negative",
        ),
        CheckConstraint(
            "lead_minutes IS NULL OR lead_minutes BETWEEN 0 AND 10080",
            "fulfilment_settings_lead_range",
        ),
    )

    location_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(Text, primary_key=True)
    prep_minutes: Mapped[int] = mapped_column(Integer)
    cutoff: Mapped[time | None] = mapped_column(Time)
    daily_capacity: Mapped[int | None] = mapped_column(Integer)
    departures: Mapped[str | None] = mapped_column(Text)
    lead_minutes: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


HOLD_STATUSES = ("held", "ordered", "released", "expired", "collected", "cancelled")
HOLD_MODES = ("pickup", "express", "delivery")


class Hold(Base):
    """A hold on stock and capacity, and once confirmed the order it became (0012)."""

    __tablename__ = "holds"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="holds_idempotency_key_key"),
        CheckConstraint(_in("status", HOLD_STATUSES), "holds_status_allowed"),
        CheckConstraint(_in("mode", HOLD_MODES), "holds_mode_allowed"),
        CheckConstraint(_in("source", ("stock", "transfer")), "holds_source_allowed"),
        CheckConstraint("idempotency_key ~ '^[!-~]{1,255}$'", "holds_idempotency_key_format"),
        CheckConstraint(
            "status NOT IN ('ordered', 'collected') OR collect_by IS NOT NULL",
            "holds_order_collect_by",
        ),
        Index("holds_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(Text)
    request_sha256: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'held'"))
    location_id: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    supplied_from_id: Mapped[int | None] = mapped_column(BigInteger)
    ready_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    arrive_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    collect_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HoldLine(Base):
    """Units of a SKU a hold keeps at a location."""

    __tablename__ = "hold_lines"
    __table_args__ = (
        CheckConstraint("qty > 0", "hold_lines_qty_positive"),
        Index("hold_lines_stock", "location_id", "sku"),
    )

    hold_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("holds.id", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sku: Mapped[str] = mapped_column(Text, primary_key=True)
    qty: Mapped[int] = mapped_column(Integer)


class HoldCapacity(Base):
    """The unit of a location's daily capacity (per mode, local day) a hold uses."""

    __tablename__ = "hold_capacity"
    __table_args__ = (
        CheckConstraint(_in("mode", FULFILMENT_MODES), "hold_capacity_mode_allowed"),
        Index("hold_capacity_day", "location_id", "mode", "day"),
    )

    hold_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("holds.id", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mode: Mapped[str] = mapped_column(Text, primary_key=True)
    day: Mapped[date] = mapped_column(Date)


class HoldLock(Base):
    """A row holds lock (FOR UPDATE) to serialise on one location's SKU or capacity day."""

    __tablename__ = "hold_locks"

    location_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    resource: Mapped[str] = mapped_column(Text, primary_key=True)


class RoadNetwork(Base):
    """One imported car network; exactly one is current (migration 0008)."""

    __tablename__ = "road_networks"
    __table_args__ = (
        Index(
            "road_networks_one_current",
            "is_current",
            unique=True,
            postgresql_where=text("is_current"),
        ),
    )

    version: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    source_name: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    is_current: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    edges: Mapped[int] = mapped_column(Integer)
    vertices: Mapped[int] = mapped_column(Integer)
    largest_component_share: Mapped[float] = mapped_column(Float)
    max_speed_kmh: Mapped[float] = mapped_column(Float)


class RoadVertex(Base):
    """A network vertex (an OSM node where ways meet or end) of one network version."""

    __tablename__ = "road_vertices"
    __table_args__ = (
        Index("road_vertices_geog_gist", text("(geom::geography)"), postgresql_using="gist"),
    )

    network_version: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("road_networks.version", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    in_main_component: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )


class RoadEdge(Base):
    """A pgRouting edge: cost and reverse_cost in seconds (negative: closed), length in m."""

    __tablename__ = "road_edges"
    __table_args__ = (
        CheckConstraint("cost >= 0 OR reverse_cost >= 0", "road_edges_some_direction"),
        Index("road_edges_geom_gist", "geom", postgresql_using="gist"),
    )

    network_version: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("road_networks.version", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    source: Mapped[int] = mapped_column(BigInteger)
    target: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[float] = mapped_column(Float)
    reverse_cost: Mapped[float] = mapped_column(Float)
    length_m: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float] = mapped_column(Float)
    highway: Mapped[str] = mapped_column(Text)
    osm_way_id: Mapped[int] = mapped_column(BigInteger)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=False
    )


DEMAND_SET_NAME_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"


class DemandSet(Base):
    """A named set of weighted demand points (orders, population) for planning (0013)."""

    __tablename__ = "demand_sets"
    __table_args__ = (
        UniqueConstraint("name", name="demand_sets_name_key"),
        CheckConstraint(f"name ~ '{DEMAND_SET_NAME_PATTERN}'", "demand_sets_name_format"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class DemandPoint(Base):
    """One weighted demand point of a set; weights are finite and positive."""

    __tablename__ = "demand_points"
    __table_args__ = (
        CheckConstraint("weight > 0 AND weight < 'Infinity'", "demand_points_weight_positive"),
        CheckConstraint("length(label) <= 200", "demand_points_label_length"),
        Index("demand_points_geom_gist", "geom", postgresql_using="gist"),
        Index("demand_points_set", "set_id"),
    )

    set_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("demand_sets.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=False
    )
    weight: Mapped[float] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(Text)
