"""The import pipeline, shared by `flask locator import` and the admin API.

validate -> stage -> upsert. Every row is validated in Python first and every rejection
is collected with its row (CSV line) or feature number. Nothing is written unless the
whole file is valid, or ``skip_invalid`` asks to import the valid rows only. The writing
is one transaction: COPY into a temporary table, then one set-based upsert.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time as dt_time
from functools import cache, lru_cache
from pathlib import Path
from typing import IO

import opening_hours
import orjson
from sqlalchemy import Connection
from timezonefinder import TimezoneFinder
from tqdm import tqdm

from app.geo import (
    InvalidValue,
    geodesic_circle,
    parse_geojson_point,
    parse_geojson_polygon,
    parse_latitude,
    parse_longitude,
    parse_number,
)
from app.hours import collection_times_as_hours
from app.limits import (
    MAX_DRIVE_TIME_S,
    MAX_LEAD_MINUTES,
    MAX_PREP_MINUTES,
    MIN_DRIVE_TIME_S,
    ROAD_ATTACH_MAX_M,
    SKU_PATTERN,
)
from app.metrics import observe_import
from app.models import (
    CAPABILITIES,
    EXTERNAL_ID_PATTERN,
    FULFILMENT_MODES,
    KINDS,
    SERVICE_AREA_MODES,
    STATUSES,
    TEMPERATURES,
)
from app.queries import imports as sql
from app.queries import roads as roads_sql

LOCATION_FIELDS = (
    "external_id",
    "name",
    "kind",
    "lat",
    "lon",
    "brand",
    "address",
    "city",
    "region",
    "postcode",
    "country",
    "opening_hours",
    "timezone",
    "capabilities",
    "status",
)
LOCATION_REQUIRED = ("external_id", "name", "kind", "lat", "lon")
RADIUS_AREA_FIELDS = ("location_external_id", "mode", "radius_m")
# Drive-time areas (DESIGN §4.7): built on the current road network at import.
DRIVE_TIME_AREA_FIELDS = ("location_external_id", "mode", "drive_time_s")
POLYGON_AREA_PROPERTIES = ("location_external_id", "mode")
REGION_PROPERTIES = ("region_id", "name")
MAX_TEXT_LENGTH = 500
MAX_RADIUS_M = 1_000_000
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)
_COUNTRY = re.compile(r"[A-Z]{2}")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (wrong format, bad header); nothing is imported."""


@dataclass
class Rejection:
    """One rejected row: where it is, which field, and why."""

    row: int  # CSV: the line number (the header is line 1); GeoJSON: the feature number
    field: str | None
    message: str

    def describe(self, unit: str) -> str:
        where = f"{unit} {self.row}"
        return (
            f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class ImportReport:
    """What an import did, or would do on a dry run."""

    dataset: str
    unit: str  # "line" or "feature"
    total: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    seconds: float = 0.0
    replaced: int = 0  # --replace: rows the file did not name that it set to 0

    @property
    def valid(self) -> int:
        return self.total - len(self.rejected)

    @property
    def unchanged(self) -> int:
        return self.valid - self.created - self.updated if self.applied else 0

    @property
    def rows_per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """One line: created, updated, unchanged, rejected, and the speed."""
        if self.applied:
            outcome = (
                f"created {self.created}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {len(self.rejected)}"
            )
            if self.replaced:
                outcome += f", zeroed {self.replaced} absent from the file"
        elif self.dry_run:
            outcome = f"dry run: {self.valid} valid, rejected {len(self.rejected)}, nothing written"
        else:
            outcome = f"nothing written: rejected {len(self.rejected)} of {self.total}"
        return (
            f"{self.dataset}: {self.total} rows; {outcome} "
            f"({self.seconds:.1f} s, {self.rows_per_second:,.0f} rows/s)"
        )

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "replaced": self.replaced,
            "rejected": [
                {self.unit: r.row, "field": r.field, "message": r.message} for r in self.rejected
            ],
            "dry_run": self.dry_run,
            "applied": self.applied,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
        }


@dataclass
class ImportOptions:
    skip_invalid: bool = False
    dry_run: bool = False
    make_valid: bool = False
    max_polygon_vertices: int = 100_000
    progress: bool = False
    replace: bool = False  # stock: the file is the whole truth for the locations it names


# -- field validation -----------------------------------------------------------------
# Converters take the raw cell (a str from CSV, any JSON value from GeoJSON) and return
# the clean value or raise InvalidValue. They run for every one of a million rows, so
# they are plain functions, and the ones whose inputs repeat a lot are cached.


def optional_text(value: object) -> str | None:
    """Stripped text, or None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue("must be a string")
        value = str(value)
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_TEXT_LENGTH:
        raise InvalidValue(f"is longer than {MAX_TEXT_LENGTH} characters")
    if "\x00" in value:
        raise InvalidValue("contains a NUL character")
    return value


def required_text(value: object) -> str:
    """Stripped, non-empty text."""
    text = optional_text(value)
    if text is None:
        raise InvalidValue("is required")
    return text


def external_id(value: object) -> str:
    """A retailer's key: 1-128 characters of [A-Za-z0-9._:-]."""
    text = required_text(value)
    if not _EXTERNAL_ID.fullmatch(text):
        raise InvalidValue("must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    return text


def _choice(value: object, allowed: tuple[str, ...], default: str | None = None) -> str:
    text = optional_text(value) or default
    if text is None:
        raise InvalidValue("is required")
    if text not in allowed:
        raise InvalidValue(f"{text!r} is not one of {', '.join(allowed)}")
    return text


def kind(value: object) -> str:
    return _choice(value, KINDS)


def status(value: object) -> str:
    return _choice(value, STATUSES, default="active")


def mode(value: object) -> str:
    return _choice(value, SERVICE_AREA_MODES)


def opening_hours_text(value: object) -> str | None:
    """The value itself when it is valid OSM opening_hours syntax."""
    return _checked_opening_hours(optional_text(value))


@lru_cache(maxsize=4096)
def _checked_opening_hours(text: str | None) -> str | None:
    if text is not None and not opening_hours.validate(text):
        raise InvalidValue(f"not valid OSM opening_hours syntax: {text!r}")
    return text


def capabilities(value: object) -> list[str]:
    """Sorted, de-duplicated capabilities from a ';'-separated list."""
    return list(_capability_tuple(optional_text(value)))


@lru_cache(maxsize=4096)
def _capability_tuple(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    names = sorted({name.strip() for name in text.split(";") if name.strip()})
    unknown = [name for name in names if name not in CAPABILITIES]
    if unknown:
        raise InvalidValue(f"unknown capability {unknown[0]!r}; known: {', '.join(CAPABILITIES)}")
    return tuple(names)


def country(value: object) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased."""
    return _country_code(optional_text(value))


@lru_cache(maxsize=1024)
def _country_code(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.upper()
    if not _COUNTRY.fullmatch(text):
        raise InvalidValue("must be an ISO 3166-1 alpha-2 code such as US")
    return text


def radius_m(value: object) -> float:
    """A service radius in metres, more than 0 and at most MAX_RADIUS_M."""
    radius = parse_number(required_text(value) if not isinstance(value, int | float) else value)
    if not 0 < radius <= MAX_RADIUS_M:
        raise InvalidValue(f"must be more than 0 and at most {MAX_RADIUS_M} metres")
    return radius


def drive_time_s(value: object) -> int:
    """Seconds of driving, a whole number from MIN_DRIVE_TIME_S to MAX_DRIVE_TIME_S."""
    seconds = parse_number(required_text(value) if not isinstance(value, int | float) else value)
    if seconds != int(seconds) or not MIN_DRIVE_TIME_S <= seconds <= MAX_DRIVE_TIME_S:
        raise InvalidValue(
            f"must be a whole number of seconds from {MIN_DRIVE_TIME_S} to {MAX_DRIVE_TIME_S}"
        )
    return int(seconds)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def _timezone_finder() -> TimezoneFinder:
    return TimezoneFinder(in_memory=True)


def timezone_for(value: object, lon: float, lat: float) -> str:
    """The given IANA zone if it exists, else the zone at the position."""
    text = optional_text(value)
    if text:
        if text not in _timezones():
            raise InvalidValue(f"{text!r} is not an IANA timezone")
        return text
    derived = _timezone_finder().timezone_at(lng=lon, lat=lat)
    if not derived:
        raise InvalidValue("could not be derived from the position; give one")
    return derived


class RowErrors(Exception):
    """All the field errors of one row."""

    def __init__(self, errors: list[tuple[str | None, str]]):
        super().__init__(errors)
        self.errors = errors


class _FieldChecker:
    """Collects field errors so a row reports every problem at once, not just the first."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[tuple[str | None, str]] = []

    def __call__(self, name: str, convert, value: object):
        try:
            return convert(value)
        except InvalidValue as error:
            self.errors.append((name, str(error)))
            return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise RowErrors(self.errors)


# Location fields in staging-table order (see app/queries/imports.py), with converters.
_LOCATION_CONVERTERS = (
    ("external_id", external_id),
    ("name", required_text),
    ("kind", kind),
    ("brand", optional_text),
    ("address", optional_text),
    ("city", optional_text),
    ("region", optional_text),
    ("postcode", optional_text),
    ("country", country),
    ("opening_hours", opening_hours_text),
    ("capabilities", capabilities),
    ("status", status),
)


def validate_location(raw: dict, position: tuple[float, float] | None = None) -> tuple:
    """A staging row for one location, from CSV columns or GeoJSON properties.

    ``position`` is (lon, lat) when it came from a GeoJSON geometry instead of columns.
    The fast path converts the row in one go; only a row with an error takes the slow
    path, which collects every field error so the report names them all.
    """
    get = raw.get
    try:
        values = [convert(get(name)) for name, convert in _LOCATION_CONVERTERS]
        lon, lat = position or (parse_longitude(get("lon")), parse_latitude(get("lat")))
        timezone = timezone_for(get("timezone"), lon, lat)
    except InvalidValue:
        raise RowErrors(_location_errors(raw, position)) from None
    return (*values, timezone, lon, lat)


def _location_errors(raw: dict, position: tuple[float, float] | None) -> list:
    check = _FieldChecker()
    for name, convert in _LOCATION_CONVERTERS:
        check(name, convert, raw.get(name))
    if position is None:
        lon = check("lon", parse_longitude, raw.get("lon"))
        lat = check("lat", parse_latitude, raw.get("lat"))
    else:
        lon, lat = position
    if lon is not None and lat is not None:
        check("timezone", lambda value: timezone_for(value, lon, lat), raw.get("timezone"))
    return check.errors


def _geometry_check(parse, geometry: object, **kwargs):
    """Run a geo.py parser, reporting its complaint against the 'geometry' field."""
    try:
        return parse(geometry, **kwargs)
    except InvalidValue as error:
        raise RowErrors([("geometry", str(error))]) from error


def validate_region(raw: dict, geometry: object, options: ImportOptions) -> tuple:
    """A staging row for one region: region_id, name, polygon WKB."""
    check = _FieldChecker()
    region_id = check("region_id", external_id, raw.get("region_id"))
    name = check("name", required_text, raw.get("name"))
    shape = check("geometry", lambda g: _polygon(g, options), geometry)
    check.raise_if_any()
    return (region_id, name, shape.wkb)


def _polygon(geometry: object, options: ImportOptions):
    return parse_geojson_polygon(
        geometry, max_vertices=options.max_polygon_vertices, make_valid=options.make_valid
    )


def validate_service_area(raw: dict, geometry: object, options: ImportOptions) -> tuple:
    """(location_external_id, mode, radius_m or None, drive_time_s or None, polygon or
    None) for one area."""
    check = _FieldChecker()
    location = check("location_external_id", external_id, raw.get("location_external_id"))
    area_mode = check("mode", mode, raw.get("mode"))
    radius = seconds = shape = None
    if "radius_m" in raw:
        radius = check("radius_m", radius_m, raw["radius_m"])
    elif "drive_time_s" in raw:
        seconds = check("drive_time_s", drive_time_s, raw["drive_time_s"])
    else:
        shape = check("geometry", lambda g: _polygon(g, options), geometry)
    check.raise_if_any()
    return location, area_mode, radius, seconds, shape


# -- readers: (row number, fields, geometry or None) ----------------------------------


def _read_csv(stream: IO[str], allowed: tuple[str, ...], required: tuple[str, ...]) -> Iterator:
    """The header is checked now, not on the first row: a file error raised while rows
    are being copied to PostgreSQL would break the COPY and lose the connection."""
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in allowed]
    if unknown:
        raise ImportFileError(
            f"unknown column(s) {', '.join(name[:64] for name in unknown[:10])}; "
            f"allowed: {', '.join(allowed)}"
        )
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFileError(f"missing required column(s): {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise ImportFileError("a column name appears twice in the header")
    return _csv_rows(reader)


def _csv_rows(reader: csv.DictReader) -> Iterator:
    try:
        for raw in reader:
            if None in raw:
                yield reader.line_num, {"__extra__": raw[None]}, None
                continue
            yield reader.line_num, raw, None
    except csv.Error as error:
        # A row the csv module cannot read (a cell over its size limit, a NUL): reported
        # as that row's error; raising here, mid-COPY, would lose the connection.
        yield reader.line_num, {"__error__": f"unreadable CSV: {error}"}, None


def _features(document: object) -> list:
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFileError("GeoJSON must be a FeatureCollection")
    if "crs" in document:
        raise ImportFileError("a 'crs' member is not accepted: coordinates must be WGS84")
    features = document.get("features")
    if not isinstance(features, list):
        raise ImportFileError("FeatureCollection has no 'features' list")
    return features


def _read_features(features: list, allowed: tuple[str, ...]) -> Iterator:
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            yield number, {"__error__": "not a GeoJSON Feature"}, None
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            yield number, {"__error__": "properties must be an object"}, None
            continue
        unknown = [name for name in properties if name not in allowed]
        if unknown:
            yield number, {"__unknown__": unknown}, None
            continue
        yield number, properties, feature.get("geometry")


# -- datasets ---------------------------------------------------------------------------


def _detect(path_name: str, text_stream: IO[str]) -> tuple[str, Iterator]:
    """Which dataset a file holds, and an iterator over its rows."""
    suffix = Path(path_name).suffix.lower()
    if suffix == ".csv":
        first_line = text_stream.readline()
        text_stream.seek(0)
        header = next(csv.reader([first_line]), [])
        fulfilment_dataset = _fulfilment_dataset(header)
        if fulfilment_dataset:
            return fulfilment_dataset, _read_csv(text_stream, *FULFILMENT_CSV[fulfilment_dataset])
        if "location_external_id" in header and "drive_time_s" in header:
            fields = DRIVE_TIME_AREA_FIELDS
            return "service_areas", _read_csv(text_stream, fields, fields)
        if "location_external_id" in header:
            return "service_areas", _read_csv(text_stream, RADIUS_AREA_FIELDS, RADIUS_AREA_FIELDS)
        return "locations", _read_csv(text_stream, LOCATION_FIELDS, LOCATION_REQUIRED)
    if suffix in (".geojson", ".json"):
        # orjson: strict (no NaN or Infinity literals, which GeoJSON does not allow) and
        # bounded in depth without recursing in Python (json.load overflowed the stack
        # on a body nested a few thousand levels deep).
        try:
            document = orjson.loads(text_stream.read())
        except orjson.JSONDecodeError as error:
            raise ImportFileError(f"not valid JSON: {error}") from error
        features = _features(document)
        sample = next((f for f in features if isinstance(f, dict)), {})
        properties = sample.get("properties") or {}
        if "region_id" in properties:
            return "regions", _read_features(features, REGION_PROPERTIES)
        if "location_external_id" in properties:
            return "service_areas", _read_features(features, POLYGON_AREA_PROPERTIES)
        allowed = tuple(f for f in LOCATION_FIELDS if f not in ("lat", "lon"))
        return "locations", _read_features(features, allowed)
    raise ImportFileError(f"unsupported file type {suffix!r}: use .csv, .geojson or .json")


def _structural_errors(raw: dict) -> list[tuple[str | None, str]]:
    """What makes a row unreadable as a whole, each (field, message); a refused property
    is named, so the caller knows which one to drop."""
    if "__error__" in raw:
        return [(None, raw["__error__"])]
    if "__unknown__" in raw:
        return [(name, "unknown property (not importable)") for name in raw["__unknown__"]]
    if "__extra__" in raw:
        return [(None, "more cells than the header has columns")]
    return []


class _Rollback(Exception):
    """Raised inside the import transaction to undo it (rejections, or a dry run)."""


def _reject(report: ImportReport, number: int, errors: list) -> None:
    report.rejected.extend(Rejection(number, name, message) for name, message in errors)


def _unique(seen: dict, key: tuple, number: int, field_name: str) -> None:
    first = seen.setdefault(key, number)
    if first != number:
        raise RowErrors([(field_name, f"duplicate of {first}: keys must be unique in a file")])


def _validated_rows(dataset, rows, geojson, options, report, bar) -> Iterator[tuple]:
    """Staging rows for locations or regions; rejections go into ``report``.

    Once a row is rejected in an all-or-nothing import, later rows are still validated
    (so the report is complete) but no longer yielded: nothing will be written anyway.
    """
    seen: dict[tuple, int] = {}
    for number, raw, geometry in rows:
        report.total += 1
        bar.update()
        try:
            problems = _structural_errors(raw)
            if problems:
                raise RowErrors(problems)
            if dataset == "locations":
                position = _geometry_check(parse_geojson_point, geometry) if geojson else None
                row = validate_location(raw, position)
                _unique(seen, (row[0],), number, "external_id")
            elif dataset == "products":
                row = validate_product(raw)
                _unique(seen, (row[0],), number, "sku")
            else:
                row = validate_region(raw, geometry, options)
                _unique(seen, (row[0],), number, "region_id")
        except RowErrors as error:
            _reject(report, number, error.errors)
            continue
        if options.skip_invalid or not report.rejected:
            yield row


def _validated_service_areas(connection, rows, options, report, bar) -> list[tuple]:
    """Staging rows for service areas: radius circles need their location's position.

    A list, not a generator: the position look-up must finish before COPY takes over
    the connection.
    """
    parsed = []
    seen: dict[tuple, int] = {}
    for number, raw, geometry in rows:
        report.total += 1
        bar.update()
        try:
            problems = _structural_errors(raw)
            if problems:
                raise RowErrors(problems)
            location, area_mode, radius, seconds, shape = validate_service_area(
                raw, geometry, options
            )
            _unique(seen, (location, area_mode), number, "location_external_id")
            parsed.append((number, location, area_mode, radius, seconds, shape))
        except RowErrors as error:
            _reject(report, number, error.errors)

    positions = sql.location_positions(connection, sorted({p[1] for p in parsed}))
    network = None
    if any(p[4] is not None for p in parsed):
        network = roads_sql.current_network(connection)
    staged = []
    for number, location, area_mode, radius, seconds, shape in parsed:
        if location not in positions:
            _reject(report, number, [("location_external_id", f"no location {location!r}")])
            continue
        lon, lat = positions[location]
        if seconds is not None:
            row = _drive_time_row(connection, network, location, area_mode, seconds, lon, lat)
            if isinstance(row, str):
                _reject(report, number, [("drive_time_s", row)])
            else:
                staged.append(row)
            continue
        if radius is None:
            staged.append((location, area_mode, shape.wkb, "polygon", None, None, None, None, None))
            continue
        try:
            circle = geodesic_circle(lon, lat, radius)
        except InvalidValue as error:
            _reject(report, number, [("radius_m", str(error))])
            continue
        staged.append((location, area_mode, circle.wkb, "radius", radius, lon, lat, None, None))
    report.rejected.sort(key=lambda rejection: rejection.row)
    return staged if options.skip_invalid or not report.rejected else []


def _drive_time_row(connection, network, location, area_mode, seconds, lon, lat) -> tuple | str:
    """The staging row of a drive-time area, or why it cannot be built."""
    if network is None:
        return "no road network is loaded (flask locator roads import FILE.osm.pbf)"
    polygon = roads_sql.drive_time_polygon(connection, network.version, (lon, lat), seconds)
    if polygon is None:
        return f"the location is more than {ROAD_ATTACH_MAX_M} m from the road network"
    return (location, area_mode, polygon, "drive_time", None, None, None, seconds, network.version)


STAGING_TABLES = {
    "locations": sql.LOCATIONS,
    "service_areas": sql.SERVICE_AREAS,
    "regions": sql.REGIONS,
    "products": sql.PRODUCTS,
    "stock": sql.STOCK,
    "fulfilment_settings": sql.FULFILMENT_SETTINGS,
}


def import_file(connection: Connection, path: str | Path, options: ImportOptions) -> ImportReport:
    """Import one file from disk (see import_stream)."""
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return import_stream(connection, str(path), stream, options)


def import_bytes(
    connection: Connection, name: str, data: bytes, options: ImportOptions
) -> ImportReport:
    """Import an uploaded file held in memory (the admin API)."""
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"the file is not UTF-8: {error}") from error
    return import_stream(connection, name, io.StringIO(decoded, newline=""), options)


def import_stream(
    connection: Connection, name: str, stream: IO[str], options: ImportOptions
) -> ImportReport:
    """Import a CSV or GeoJSON file's rows (see _import_rows)."""
    started = time.perf_counter()
    dataset, rows = _detect(name, stream)
    geojson = not name.lower().endswith(".csv")
    try:
        report = _import_rows(
            connection, dataset, rows, geojson, "feature" if geojson else "line", options, started
        )
    except UnicodeDecodeError as error:
        raise ImportFileError(f"the file is not UTF-8: {error}") from error
    except csv.Error as error:
        raise ImportFileError(f"CSV cannot be read: {error}") from error
    observe_import(report)  # /metrics: rows by outcome, and the duration
    return report


# Fields each dataset accepts from an API record (the URL supplies the key).
RECORD_FIELDS = {
    "locations": LOCATION_FIELDS,
    "service_areas": (*RADIUS_AREA_FIELDS, "drive_time_s"),
    "regions": REGION_PROPERTIES,
    "stock": ("location_external_id", "sku", "on_hand"),
}


def import_records(
    connection: Connection,
    dataset: str,
    records: list[tuple[dict, object]],
    options: ImportOptions,
) -> ImportReport:
    """Import (fields, geometry) records from the admin API, through the same pipeline.

    Fields the dataset does not define (an ``id``, say) reject the record.
    """
    allowed = RECORD_FIELDS[dataset]

    def rows():
        for number, (fields, geometry) in enumerate(records, start=1):
            unknown = [name for name in fields if name not in allowed]
            yield number, ({"__unknown__": unknown} if unknown else fields), geometry

    return _import_rows(connection, dataset, rows(), False, "item", options, time.perf_counter())


def _import_rows(
    connection: Connection,
    dataset: str,
    rows: Iterator,
    geojson: bool,
    unit: str,
    options: ImportOptions,
    started: float,
) -> ImportReport:
    """Validate every row and, unless rejected or a dry run, stage and upsert them.

    The caller owns the transaction (see Database.transaction); the import runs in a
    savepoint inside it and commits nothing itself. Valid rows stream into the staging
    table while later rows are still being validated (PostgreSQL parses the COPY on
    another core); a rejection or a dry run rolls the savepoint back, so nothing is ever
    half-written.
    """
    report = ImportReport(dataset=dataset, unit=unit, dry_run=options.dry_run)
    table = STAGING_TABLES[dataset]
    bar = tqdm(
        desc=f"importing {dataset}", unit=" rows", disable=not options.progress, mininterval=0.5
    )
    try:
        with bar, connection.begin_nested():
            sql.disable_statement_timeout(connection)
            sql.lock_dataset(connection, table)
            if dataset == "service_areas":
                staged = _validated_service_areas(connection, rows, options, report, bar)
            elif dataset in LOCATION_KEYED:
                staged = _validated_location_keyed(connection, dataset, rows, options, report, bar)
            else:
                staged = _validated_rows(dataset, rows, geojson, options, report, bar)
            if options.dry_run:
                copied = sum(1 for _ in staged)
            else:
                copied = sql.copy_into_staging(connection, table, staged)
            if options.dry_run or (report.rejected and not options.skip_invalid):
                raise _Rollback
            if options.progress and copied >= 10_000:
                tqdm.write(f"upserting {copied} rows into {dataset}...")
            if options.replace:
                report.replaced = sql.replace_from_staging(connection, table)
            report.created, report.updated = sql.upsert_from_staging(connection, table, copied)
            sql.analyze_written_tables(
                connection, table, report.created + report.updated + report.replaced
            )
            report.applied = True
    except _Rollback:
        pass
    report.seconds = time.perf_counter() - started
    return report


DEMO_DIR = Path(__file__).resolve().parent.parent / "geodata" / "demo"
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


def load_demo_data(connection: Connection, options: ImportOptions) -> Iterator[ImportReport]:
    """Import the shipped demo network (geodata/demo) file by file, yielding each report."""
    for name in DEMO_FILES:
        yield import_file(connection, DEMO_DIR / name, options)


# -- fulfilment datasets (DESIGN §4.5): products, stock, fulfilment settings ------------

PRODUCT_FIELDS = ("sku", "name", "temperature", "length_mm", "width_mm", "height_mm", "weight_g")
STOCK_FIELDS = ("location_external_id", "sku", "on_hand")
SETTINGS_FIELDS = (
    "location_external_id",
    "mode",
    "prep_minutes",
    "cutoff",
    "daily_capacity",
    "departures",
    "lead_minutes",
)
# dataset -> (allowed columns, required columns)
FULFILMENT_CSV = {
    "products": (PRODUCT_FIELDS, ("sku", "name")),
    "stock": (STOCK_FIELDS, STOCK_FIELDS),
    "fulfilment_settings": (SETTINGS_FIELDS, ("location_external_id", "mode", "prep_minutes")),
}
# Datasets whose rows name a location, resolved to its id before the COPY.
LOCATION_KEYED = ("stock", "fulfilment_settings")
_SKU = re.compile(SKU_PATTERN)
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def _fulfilment_dataset(header: list[str]) -> str | None:
    """Which fulfilment dataset a CSV header is, by its telling columns."""
    if "on_hand" in header:
        return "stock"
    if "prep_minutes" in header:
        return "fulfilment_settings"
    if "sku" in header and "location_external_id" not in header:
        return "products"
    return None


def sku(value: object) -> str:
    text = required_text(value)
    if not _SKU.fullmatch(text):
        raise InvalidValue("must be 1-64 characters of A-Z a-z 0-9 . _ -")
    return text


def _whole_number(value: object, low: int, high: int, required: bool) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = optional_text(value)
        if text is None:
            if required:
                raise InvalidValue("is required")
            return None
        if not text.isascii() or not text.isdigit():
            raise InvalidValue("must be a whole number (ASCII digits)")
        number = int(text)
    if not low <= number <= high:
        raise InvalidValue(f"must be between {low} and {high}")
    return number


def on_hand(value: object) -> int:
    return _whole_number(value, 0, 2**31 - 1, required=True)


def _size(value: object) -> int | None:
    return _whole_number(value, 1, 2**31 - 1, required=False)


def temperature(value: object) -> str:
    return _choice(value, TEMPERATURES, default="ambient")


def cutoff(value: object) -> dt_time | None:
    text = optional_text(value)
    if text is None:
        return None
    match = _CLOCK.fullmatch(text)
    if not match:
        raise InvalidValue("must be a local time HH:MM (00:00-23:59)")
    return dt_time(int(match[1]), int(match[2]))


def departures(value: object) -> str | None:
    text = optional_text(value)
    if text is not None:
        try:
            collection_times_as_hours(text)
        except ValueError as error:
            raise InvalidValue(str(error)) from error
    return text


def validate_product(raw: dict) -> tuple:
    """A staging row for one product."""
    check = _FieldChecker()
    row = (
        check("sku", sku, raw.get("sku")),
        check("name", required_text, raw.get("name")),
        check("temperature", temperature, raw.get("temperature")),
        *(check(name, _size, raw.get(name)) for name in PRODUCT_FIELDS[3:]),
    )
    check.raise_if_any()
    return row


def _stock_row(raw: dict, check: _FieldChecker) -> tuple:
    return (
        check("location_external_id", external_id, raw.get("location_external_id")),
        check("sku", sku, raw.get("sku")),
        check("on_hand", on_hand, raw.get("on_hand")),
    )


def _settings_row(raw: dict, check: _FieldChecker) -> tuple:
    row_mode = check("mode", lambda v: _choice(v, FULFILMENT_MODES), raw.get("mode"))
    row = (
        check("location_external_id", external_id, raw.get("location_external_id")),
        row_mode,
        check(
            "prep_minutes",
            lambda v: _whole_number(v, 0, MAX_PREP_MINUTES, True),
            raw.get("prep_minutes"),
        ),
        check("cutoff", cutoff, raw.get("cutoff")),
        check(
            "daily_capacity",
            lambda v: _whole_number(v, 0, 2**31 - 1, False),
            raw.get("daily_capacity"),
        ),
        check("departures", departures, raw.get("departures")),
        check(
            "lead_minutes",
            lambda v: _whole_number(v, 0, MAX_LEAD_MINUTES, False),
            raw.get("lead_minutes"),
        ),
    )
    if row_mode and row_mode != "supply":
        for index, name in ((5, "departures"), (6, "lead_minutes")):
            if row[index] is not None:
                check.errors.append((name, "only supply runs have it"))
    return row


_LOCATION_KEYED_ROWS = {"stock": _stock_row, "fulfilment_settings": _settings_row}


def _validated_location_keyed(connection, dataset, rows, options, report, bar) -> Iterator:
    """Staging rows for stock or settings, their location resolved to its id.

    The locations (and products) are read once, now, before COPY takes over the
    connection; then each row is checked in Python as it streams in, with no query per
    row: a million stock rows validate at several hundred thousand rows a second.
    """
    ids = sql.location_ids(connection)
    skus = sql.product_skus(connection) if dataset == "stock" else None
    convert = _LOCATION_KEYED_ROWS[dataset]

    def fast_stock_row(raw: dict) -> tuple | None:
        """A plain stock line (a known location and SKU as written, digits) in a few
        dict look-ups; None sends the row down the checked path."""
        location, code, count = raw.get("location_external_id"), raw.get("sku"), raw.get("on_hand")
        if location in ids and code in skus and isinstance(count, str) and count.isdigit():
            if count.isascii() and len(count) < 10:
                return (ids[location], code, int(count))
        return None

    def staged() -> Iterator[tuple]:
        seen: dict[tuple, int] = {}
        for number, raw, _geometry in rows:
            report.total += 1
            bar.update()
            fast = fast_stock_row(raw) if skus is not None else None
            if fast is not None and (options.skip_invalid or not report.rejected):
                key = (raw["location_external_id"], fast[1])
                if seen.setdefault(key, number) == number:
                    yield fast
                    continue
            try:
                problems = _structural_errors(raw)
                if problems:
                    raise RowErrors(problems)
                check = _FieldChecker()
                row = convert(raw, check)
                check.raise_if_any()
                location = ids.get(row[0])
                if location is None:
                    raise RowErrors([("location_external_id", f"no location {row[0]!r}")])
                if skus is not None and row[1] not in skus:
                    raise RowErrors([("sku", f"no product {row[1]!r}; import it first")])
                _unique(seen, (row[0], row[1]), number, "location_external_id")
            except RowErrors as error:
                _reject(report, number, error.errors)
                continue
            if options.skip_invalid or not report.rejected:
                yield (location, *row[1:])

    return staged()
