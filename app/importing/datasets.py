"""One definition per kind of file: its fields, how a row is validated, and its staging.

A dataset turns the reader's rows into staging rows. Validation returns each row's
values by staging column name, and ``Dataset.staging_row`` orders them as the staging
table declares, so no column is ever matched to SQL by position by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import shapely
from shapely.geometry import MultiPolygon

from app.geo import (
    InvalidValue,
    geodesic_circle,
    parse_geojson_point,
    parse_geojson_polygon,
    parse_latitude,
    parse_longitude,
)
from app.importing import fields as f
from app.importing.places import Positions, plausibility_problems
from app.importing.readers import Row
from app.importing.report import ImportOptions, ImportReport, Rejection, RowErrors
from app.limits import MAX_LEAD_MINUTES, MAX_PREP_MINUTES, ROAD_ATTACH_MAX_M
from app.models import FULFILMENT_MODES
from app.queries import imports as sql
from app.queries import roads as roads_sql
from app.queries.imports import StagingTable

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
# lat and lon may be left out when postcode or city can place the row (the gazetteer).
LOCATION_REQUIRED = ("external_id", "name", "kind")
AREA_FIELDS = ("location_external_id", "mode", "radius_m", "drive_time_s")
POLYGON_AREA_PROPERTIES = ("location_external_id", "mode")
REGION_PROPERTIES = ("region_id", "name")
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
DEMAND_FIELDS = ("lat", "lon", "weight", "label")
MAX_WARNINGS_KEPT = 1000


@dataclass
class Stage:
    """What one dataset's staging needs: the rows, the options, the report to fill."""

    connection: object
    rows: Iterable[Row]
    options: ImportOptions
    report: ImportReport
    progress: Callable[[], object]  # called once per row read
    header_extra: dict  # the file's extra columns or properties (filled as rows are read)

    def reject(self, number: int, errors: list) -> None:
        self.report.rejected.extend(Rejection(number, name, message) for name, message in errors)

    def warn(self, number: int, errors: list) -> None:
        """Record warnings; only the first MAX_WARNINGS_KEPT are kept, all are counted
        (a file whose every row warns must not hold a million messages in memory)."""
        self.report.warning_count += len(errors)
        room = MAX_WARNINGS_KEPT - len(self.report.warnings)
        if room > 0:
            self.report.warnings.extend(
                Rejection(number, name, message) for name, message in errors[:room]
            )

    @property
    def writing(self) -> bool:
        """Whether valid rows still go to staging (not after a rejection in an
        all-or-nothing import: nothing will be written anyway)."""
        return self.options.skip_invalid or not self.report.rejected


@dataclass(frozen=True)
class Dataset:
    name: str
    staging: StagingTable
    csv_fields: tuple[str, ...] | None  # None: not read from CSV
    csv_required: tuple[str, ...]
    properties: tuple[str, ...] | None  # GeoJSON properties; None: not read from GeoJSON
    record_fields: tuple[str, ...] | None  # the admin API's JSON records
    stage: Callable[[Dataset, Stage], Iterable[tuple]]  # staging rows, in column order
    keeps_attributes: bool = False  # extra columns/properties are kept, not refused
    key_field: str | None = None  # the field a duplicate key is reported on

    def staging_row(self, values: dict) -> tuple:
        return tuple(values[name] for name, _ in self.staging.columns)


def _row_values(row: Row) -> dict:
    if row.problems:
        raise RowErrors(list(row.problems))
    return row.fields


def _validated(dataset: Dataset, stage: Stage, validate) -> Iterator[tuple]:
    """Stream staging rows of a dataset whose rows need nothing from the database.

    Every valid row is staged, even after a rejection in an all-or-nothing import (which
    will be rolled back): its key is checked against the others' in the database.
    """
    for row in stage.rows:
        stage.report.total += 1
        stage.progress()
        try:
            values = validate(_row_values(row), row, stage)
        except RowErrors as error:
            stage.reject(row.number, error.errors)
            continue
        values["source_row"] = row.number
        yield dataset.staging_row(values)


# -- locations --------------------------------------------------------------------------

_LOCATION_CONVERTERS = (
    ("external_id", "external_id", f.external_id),
    ("name", "name", f.required_text),
    ("kind", "kind", f.kind),
    ("brand", "brand", f.optional_text),
    ("address", "address_line1", f.optional_text),
    ("city", "city", f.optional_text),
    ("region", "region", f.optional_text),
    ("postcode", "postcode", f.optional_text),
    ("country", "country", f.country),
    ("opening_hours", "opening_hours", f.opening_hours_text),
    ("capabilities", "capabilities", f.capabilities),
    ("status", "status", f.status),
)


def validate_location(raw: dict, row: Row, stage: Stage, positions: Positions) -> dict:
    """A location's staging values, from CSV columns or GeoJSON properties.

    The position comes from the GeoJSON geometry, the lat/lon columns, or, when the row
    has neither, from the gazetteer (its postcode, else its city). Every field error is
    collected so the report names them all.
    """
    values = _plain_location(raw, row)
    if values is not None:
        lon, lat = values["lon"], values["lat"]
        refused, warned = plausibility_problems(values, lon, lat, positions, stage.options)
        if warned:
            stage.warn(row.number, warned)
        if refused:
            raise RowErrors(refused)
        return values
    check = f.FieldChecker()
    values = {
        column: check(name, convert, raw.get(name))
        for name, column, convert in _LOCATION_CONVERTERS
    }
    source, confidence = "file", None
    position = None
    if row.geometry is not None:
        position = check("geometry", parse_geojson_point, row.geometry)
    elif _blank(raw.get("lat")) and _blank(raw.get("lon")) and not check.errors:
        try:
            position, confidence = positions.place(values)
            source = "gazetteer"
        except InvalidValue as error:
            check.errors.append(("lat", str(error)))
    else:
        lon = check("lon", parse_longitude, raw.get("lon"))
        lat = check("lat", parse_latitude, raw.get("lat"))
        if lon is not None and lat is not None:
            position = (lon, lat)
    if position is not None:
        lon, lat = position
        values["timezone"] = check(
            "timezone", lambda v: f.timezone_for(v, lon, lat), raw.get("timezone")
        )
        if source == "file" and not check.errors:
            refused, warned = plausibility_problems(values, lon, lat, positions, stage.options)
            check.errors.extend(refused)
            if warned:
                stage.warn(row.number, warned)
    check.raise_if_any()
    values.update(
        lon=position[0],
        lat=position[1],
        attributes=row.attributes,
        position_source=source,
        position_confidence=confidence,
    )
    return values


def _plain_location(raw: dict, row: Row) -> dict | None:
    """The fast path: a row with its own position and no error, converted in one go
    (most rows of most files); None sends the row down the checked path, which collects
    every field error, or places it from the gazetteer."""
    get = raw.get
    try:
        values = {column: convert(get(name)) for name, column, convert in _LOCATION_CONVERTERS}
        if row.geometry is not None:
            lon, lat = parse_geojson_point(row.geometry)
        else:
            lon, lat = parse_longitude(get("lon")), parse_latitude(get("lat"))
        values["timezone"] = f.timezone_for(get("timezone"), lon, lat)
    except InvalidValue:
        return None
    values.update(
        lon=lon,
        lat=lat,
        attributes=row.attributes,
        position_source="file",
        position_confidence=None,
    )
    return values


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _stage_locations(dataset: Dataset, stage: Stage) -> Iterator[tuple]:
    positions = Positions.load(stage.connection)  # before COPY takes the connection
    stage.report.attributes_kept = stage.header_extra

    def validate(raw, row, stage):
        return validate_location(raw, row, stage, positions)

    return _validated(dataset, stage, validate)


# -- regions, products, demand ------------------------------------------------------------


def _polygon(geometry: object, options: ImportOptions) -> MultiPolygon:
    return parse_geojson_polygon(
        geometry, max_vertices=options.max_polygon_vertices, make_valid=options.make_valid
    )


def validate_region(raw: dict, row: Row, stage: Stage) -> dict:
    check = f.FieldChecker()
    values = {
        "region_id": check("region_id", f.external_id, raw.get("region_id")),
        "name": check("name", f.required_text, raw.get("name")),
    }
    shape = check("geometry", lambda g: _polygon(g, stage.options), row.geometry)
    check.raise_if_any()
    return {**values, "geom_wkb": shape.wkb, "attributes": row.attributes}


def validate_product(raw: dict, row: Row, stage: Stage) -> dict:
    check = f.FieldChecker()
    values = {
        "sku": check("sku", f.sku, raw.get("sku")),
        "name": check("name", f.required_text, raw.get("name")),
        "temperature": check("temperature", f.temperature, raw.get("temperature")),
    }
    for name in PRODUCT_FIELDS[3:]:
        values[name] = check(name, f.size, raw.get(name))
    check.raise_if_any()
    return values


def validate_demand(raw: dict, row: Row, stage: Stage) -> dict:
    check = f.FieldChecker()
    values = {
        "lon": check("lon", parse_longitude, raw.get("lon")),
        "lat": check("lat", parse_latitude, raw.get("lat")),
        "weight": check("weight", f.demand_weight, raw.get("weight")),
        "label": check("label", f.demand_label, raw.get("label")),
    }
    check.raise_if_any()
    return values


def _stage_regions(dataset, stage):
    stage.report.attributes_kept = stage.header_extra
    return _validated(dataset, stage, validate_region)


def _stage_products(dataset, stage):
    return _validated(dataset, stage, validate_product)


def _stage_demand(dataset, stage):
    # Points have no key: two at one place are two weights.
    return _validated(dataset, stage, validate_demand)


# -- service areas ----------------------------------------------------------------------


def validate_service_area(raw: dict, row: Row, stage: Stage) -> tuple:
    """(location_external_id, mode, radius_m, drive_time_s, polygon): one of the last
    three is set."""
    check = f.FieldChecker()
    location = check("location_external_id", f.external_id, raw.get("location_external_id"))
    area_mode = check("mode", f.mode, raw.get("mode"))
    radius = seconds = shape = None
    if "radius_m" in raw:
        radius = check("radius_m", f.radius_m, raw["radius_m"])
    elif "drive_time_s" in raw:
        seconds = check("drive_time_s", f.drive_time_s, raw["drive_time_s"])
    else:
        shape = check("geometry", lambda g: _polygon(g, stage.options), row.geometry)
    check.raise_if_any()
    return location, area_mode, radius, seconds, shape


def _stage_service_areas(dataset: Dataset, stage: Stage) -> list[tuple]:
    """Staging rows for service areas: radius circles need their location's position.

    Several polygon features for one (location, mode) are one area, their union (a
    delivery zone made of ZIP or county polygons); circles and drive times stay one per
    key. A list, not a generator: the position look-up must finish before COPY takes
    over the connection.
    """
    parsed: dict[
        tuple, list
    ] = {}  # (location, mode) -> [(number, radius, seconds, shape, attributes)]
    for row in stage.rows:
        stage.report.total += 1
        stage.progress()
        try:
            location, area_mode, radius, seconds, shape = validate_service_area(
                _row_values(row), row, stage
            )
            parts = parsed.setdefault((location, area_mode), [])
            if parts and (shape is None or parts[0][3] is None):
                raise RowErrors(
                    [
                        (
                            "location_external_id",
                            f"duplicate of {parts[0][0]}: keys must be unique in a file",
                        )
                    ]
                )
            parts.append((row.number, radius, seconds, shape, row.attributes))
        except RowErrors as error:
            stage.reject(row.number, error.errors)
    stage.report.attributes_kept = stage.header_extra

    connection = stage.connection
    positions = sql.location_positions(connection, sorted({key[0] for key in parsed}))
    network = None
    if any(parts[0][2] is not None for parts in parsed.values()):
        network = roads_sql.current_network(connection)
    staged = []
    for (location, area_mode), parts in parsed.items():
        number, radius, seconds, shape, attributes = parts[0]
        if location not in positions:
            for part in parts:
                stage.reject(part[0], [("location_external_id", f"no location {location!r}")])
            continue
        base = {
            "location_external_id": location,
            "mode": area_mode,
            "radius_m": None,
            "center_lon": None,
            "center_lat": None,
            "drive_time_s": None,
            "network_version": None,
            "attributes": attributes,
        }
        lon, lat = positions[location]
        if seconds is not None:
            built = _drive_time_polygon(connection, network, seconds, lon, lat)
            if isinstance(built, str):
                stage.reject(number, [("drive_time_s", built)])
                continue
            base.update(
                geom_wkb=built,
                source="drive_time",
                drive_time_s=seconds,
                network_version=network.version,
            )
        elif radius is not None:
            try:
                circle = geodesic_circle(lon, lat, radius)
            except InvalidValue as error:
                stage.reject(number, [("radius_m", str(error))])
                continue
            base.update(
                geom_wkb=circle.wkb,
                source="radius",
                radius_m=radius,
                center_lon=lon,
                center_lat=lat,
            )
        else:
            union = _union(parts, stage.options)
            if isinstance(union, str):
                stage.reject(number, [("geometry", union)])
                continue
            if len(parts) > 1:
                stage.report.merged += len(parts) - 1
                base["attributes"] = [part[4] for part in parts if part[4]] or None
            base.update(geom_wkb=union.wkb, source="polygon")
        staged.append(dataset.staging_row(base))
    stage.report.rejected.sort(key=lambda rejection: rejection.row)
    return staged if stage.writing else []


def _union(parts: list, options: ImportOptions) -> MultiPolygon | str:
    """One area from the polygons of several features, or why it cannot be one."""
    if len(parts) == 1:
        return parts[0][3]
    union = shapely.union_all([part[3] for part in parts])
    if union.geom_type == "Polygon":
        union = MultiPolygon([union])
    if union.geom_type != "MultiPolygon" or union.is_empty or not union.is_valid:
        return f"the union of features {', '.join(str(p[0]) for p in parts)} is not a polygon"
    if shapely.get_num_coordinates(union) > options.max_polygon_vertices:
        return f"the union has more than {options.max_polygon_vertices} vertices"
    return union


def _drive_time_polygon(connection, network, seconds, lon, lat) -> bytes | str:
    """The drive-time polygon's WKB, or why it cannot be built."""
    if network is None:
        return "no road network is loaded (flask locator roads import FILE.osm.pbf)"
    polygon = roads_sql.drive_time_polygon(connection, network.version, (lon, lat), seconds)
    if polygon is None:
        return f"the location is more than {ROAD_ATTACH_MAX_M} m from the road network"
    return polygon


# -- stock and fulfilment settings: rows that name a location ------------------------------


def _stock_values(raw: dict, check: f.FieldChecker) -> dict:
    return {
        "location_external_id": check(
            "location_external_id", f.external_id, raw.get("location_external_id")
        ),
        "sku": check("sku", f.sku, raw.get("sku")),
        "on_hand": check("on_hand", f.on_hand, raw.get("on_hand")),
    }


def _settings_values(raw: dict, check: f.FieldChecker) -> dict:
    row_mode = check("mode", lambda v: f.choice(v, FULFILMENT_MODES), raw.get("mode"))
    values = {
        "location_external_id": check(
            "location_external_id", f.external_id, raw.get("location_external_id")
        ),
        "mode": row_mode,
        "prep_minutes": check(
            "prep_minutes",
            lambda v: f.whole_number(v, 0, MAX_PREP_MINUTES, True),
            raw.get("prep_minutes"),
        ),
        "cutoff": check("cutoff", f.cutoff, raw.get("cutoff")),
        "daily_capacity": check(
            "daily_capacity",
            lambda v: f.whole_number(v, 0, 2**31 - 1, False),
            raw.get("daily_capacity"),
        ),
        "departures": check("departures", f.departures, raw.get("departures")),
        "lead_minutes": check(
            "lead_minutes",
            lambda v: f.whole_number(v, 0, MAX_LEAD_MINUTES, False),
            raw.get("lead_minutes"),
        ),
    }
    if row_mode and row_mode != "supply":
        for name in ("departures", "lead_minutes"):
            if values[name] is not None:
                check.errors.append((name, "only supply runs have it"))
    return values


def _stage_location_keyed(convert):
    def stage_rows(dataset: Dataset, stage: Stage) -> Iterator[tuple]:
        """Staging rows for stock or settings, their location resolved to its id.

        The locations (and products) are read once, now, before COPY takes over the
        connection; then each row is checked as it streams in, with no query per row.
        """
        ids = sql.location_ids(stage.connection)
        skus = sql.product_skus(stage.connection) if dataset.name == "stock" else None
        return _location_keyed_rows(dataset, stage, convert, ids, skus)

    return stage_rows


def _location_keyed_rows(dataset, stage, convert, ids, skus) -> Iterator[tuple]:
    fast_stock = skus is not None

    for row in stage.rows:
        stage.report.total += 1
        stage.progress()
        raw = row.fields
        if fast_stock and not row.problems:
            # A plain stock line (a known location and SKU as written, digits) in a few
            # dict look-ups; anything else goes down the checked path below.
            location, code, count = (
                raw.get("location_external_id"),
                raw.get("sku"),
                raw.get("on_hand"),
            )
            if (
                location in ids
                and code in skus
                and isinstance(count, str)
                and count.isdigit()
                and count.isascii()
                and len(count) < 10
            ):
                yield (ids[location], code, int(count), row.number)
                continue
        try:
            check = f.FieldChecker()
            values = convert(_row_values(row), check)
            check.raise_if_any()
            location = ids.get(values["location_external_id"])
            if location is None:
                raise RowErrors(
                    [("location_external_id", f"no location {values['location_external_id']!r}")]
                )
            if skus is not None and values["sku"] not in skus:
                raise RowErrors([("sku", f"no product {values['sku']!r}; import it first")])
        except RowErrors as error:
            stage.reject(row.number, error.errors)
            continue
        values.update(location_id=location, source_row=row.number)
        yield dataset.staging_row(values)


# -- the definitions ---------------------------------------------------------------------

DATASETS: dict[str, Dataset] = {
    dataset.name: dataset
    for dataset in (
        Dataset(
            "locations",
            sql.LOCATIONS,
            LOCATION_FIELDS,
            LOCATION_REQUIRED,
            tuple(name for name in LOCATION_FIELDS if name not in ("lat", "lon")),
            LOCATION_FIELDS,
            _stage_locations,
            keeps_attributes=True,
            key_field="external_id",
        ),
        Dataset(
            "service_areas",
            sql.SERVICE_AREAS,
            AREA_FIELDS,
            ("location_external_id", "mode"),
            POLYGON_AREA_PROPERTIES,
            AREA_FIELDS,
            _stage_service_areas,
            keeps_attributes=True,
        ),
        Dataset(
            "regions",
            sql.REGIONS,
            None,
            (),
            REGION_PROPERTIES,
            REGION_PROPERTIES,
            _stage_regions,
            keeps_attributes=True,
            key_field="region_id",
        ),
        Dataset(
            "products",
            sql.PRODUCTS,
            PRODUCT_FIELDS,
            ("sku", "name"),
            None,
            None,
            _stage_products,
            key_field="sku",
        ),
        Dataset(
            "stock",
            sql.STOCK,
            STOCK_FIELDS,
            STOCK_FIELDS,
            None,
            STOCK_FIELDS,
            _stage_location_keyed(_stock_values),
            key_field="location_external_id",
        ),
        Dataset(
            "fulfilment_settings",
            sql.FULFILMENT_SETTINGS,
            SETTINGS_FIELDS,
            ("location_external_id", "mode", "prep_minutes"),
            None,
            None,
            _stage_location_keyed(_settings_values),
            key_field="location_external_id",
        ),
        Dataset(
            "demand",
            sql.DEMAND,
            DEMAND_FIELDS,
            ("lat", "lon", "weight"),
            None,
            None,
            _stage_demand,
        ),
    )
}


def csv_dataset(header: list[str]) -> Dataset:
    """Which dataset a CSV header is, by its telling columns."""
    if "on_hand" in header:
        return DATASETS["stock"]
    if "prep_minutes" in header:
        return DATASETS["fulfilment_settings"]
    if "sku" in header and "location_external_id" not in header:
        return DATASETS["products"]
    if "weight" in header and "external_id" not in header:
        return DATASETS["demand"]
    if "location_external_id" in header:
        return DATASETS["service_areas"]
    return DATASETS["locations"]


def geojson_dataset(properties: dict) -> Dataset:
    """Which dataset a GeoJSON file is, by its first feature's properties."""
    if "region_id" in properties:
        return DATASETS["regions"]
    if "location_external_id" in properties:
        return DATASETS["service_areas"]
    return DATASETS["locations"]


def check_area_header(header: list[str]) -> str | None:
    """A service-area CSV is either radius circles or drive times."""
    kinds = [name for name in ("radius_m", "drive_time_s") if name in header]
    if len(kinds) != 1:
        return "a service-area CSV needs exactly one of the columns radius_m or drive_time_s"
    return None
