"""The data model. Migrations in migrations/ create it; a test checks the two agree.

The hot paths do not load these as ORM objects (see app/queries/); the classes document
the schema, type the columns, and serve the few single-row admin operations.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geography, Geometry, WKBElement
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
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


class ServiceArea(Base):
    """Where a location serves in one mode; remembers how its polygon was made."""

    __tablename__ = "service_areas"
    __table_args__ = (
        CheckConstraint(_in("mode", SERVICE_AREA_MODES), "service_areas_mode_allowed"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", "service_areas_geom_valid"),
        CheckConstraint("source IN ('polygon', 'radius')", "service_areas_source_allowed"),
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
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    region_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
