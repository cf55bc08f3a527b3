"""Build the deterministic Washington DC metro demo dataset in ``geodata/demo/``.

Positions come from the real ZIP centroids shipped in the ``zipcodes`` package; everything
else (names, addresses, hours, capabilities, statuses, service areas) is synthetic and drawn
from a fixed-seed RNG, so two runs produce byte-identical files.

Usage: ``.venv/bin/python geodata/make_demo.py``
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import opening_hours  # noqa: E402
import shapely  # noqa: E402
import zipcodes  # noqa: E402
from pyproj import Transformer  # noqa: E402
from shapely.geometry import MultiPolygon, Point, Polygon, mapping  # noqa: E402
from shapely.geometry.polygon import orient  # noqa: E402
from shapely.ops import unary_union  # noqa: E402
from timezonefinder import TimezoneFinder  # noqa: E402

# The CSV header (in file order) and the canonical capability order are the app's own.
from app.importing import LOCATION_FIELDS  # noqa: E402
from app.models import CAPABILITIES  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "demo"
SEED = 20240607
CENTER_LAT, CENTER_LON = 38.9072, -77.0369  # downtown Washington DC
METRO_RADIUS_M = 30_000
TIMEZONE = "America/New_York"

# Counties whose ZIPs we keep, mapped to the demo region they belong to. Keyed by
# (state, county) because e.g. "Montgomery County" exists in both MD and VA; the
# upstream data spells independent cities both "... City" and "... city".
COUNTY_REGION = {
    ("DC", "District of Columbia"): "dc",
    ("VA", "Arlington County"): "arlington-alexandria",
    ("VA", "Alexandria City"): "arlington-alexandria",
    ("VA", "Alexandria city"): "arlington-alexandria",
    ("VA", "Falls Church City"): "arlington-alexandria",
    ("VA", "Falls Church city"): "arlington-alexandria",
    ("MD", "Montgomery County"): "montgomery",
    ("MD", "Prince George's County"): "prince-georges",
    ("VA", "Fairfax County"): "fairfax",
    ("VA", "Fairfax City"): "fairfax",
}
# Military installations get their own ZIPs; nobody would put a shop or locker there.
EXCLUDED_CITIES = {"Andrews Air Force Base", "Fort Belvoir", "Fort Myer", "Washington Navy Yard"}
# DC ZIPs above 20037 belong to single buildings or agencies (20500 is the White House).
DC_LAST_RESIDENTIAL_ZIP = "20037"
REGION_NAMES = {
    "dc": "District of Columbia",
    "arlington-alexandria": "Arlington, Alexandria & Falls Church",
    "montgomery": "Montgomery County",
    "prince-georges": "Prince George's County",
    "fairfax": "Fairfax County & Fairfax City",
}

KIND_COUNTS = {"store": 120, "convenience_store": 152, "locker": 120, "warehouse": 8}
ID_PREFIX = {
    "store": "dc-store",
    "convenience_store": "dc-convenience",
    "locker": "dc-locker",
    "warehouse": "dc-warehouse",
}
RETAIL_BRAND = "Northwind Market"
PARTNER_BRANDS = ["Potomac Pantry", "Fernleaf Corner Store", "Bluebird Mini Mart", "Lantern 24"]
LOCKER_BRAND = "Northwind Locker"

# Probability that a site of the kind offers an optional capability (pickup is universal;
# frozen and express_delivery are handled separately because they depend on another one).
STORE_CAPABILITY_ODDS = [
    ("delivery", 0.75),
    ("accessible", 0.85),
    ("cold_chain", 0.5),
    ("cash", 0.6),
    ("bulky", 0.15),
]
CONVENIENCE_CAPABILITY_ODDS = [("cold_chain", 0.5), ("cash", 0.7)]

# (opening_hours value, weight) per kind. Weighted so each kind has a dominant pattern
# plus a realistic tail of variants (holiday closures, late nights, wrap past midnight).
HOURS = {
    "store": [
        ("Mo-Sa 08:00-21:00; Su 10:00-18:00", 5),
        ("Mo-Sa 07:00-22:00; Su 08:00-20:00", 3),
        ("Mo-Fr 07:00-19:00; Sa 09:00-17:00; Su off; PH off", 2),
        ("Mo-Su 08:00-22:00; PH 10:00-18:00", 2),
        ("Mo-Fr 09:00-20:00; Sa 09:00-18:00; Su 11:00-17:00; Dec 25 off", 1),
    ],
    "convenience_store": [
        ("Mo-Su 06:00-23:00", 5),
        ("24/7", 2),
        ("Mo-Su 07:00-22:00", 2),
        ("Mo-Fr 06:00-22:00; Sa,Su 07:00-22:00", 2),
        ("Mo-Th 06:00-23:00; Fr,Sa 06:00-01:00; Su 07:00-23:00", 1),
    ],
    "locker": [
        ("24/7", 8),
        ("Mo-Su 05:00-24:00", 2),
        ("Mo-Sa 06:00-22:00; Su 08:00-20:00", 1),
    ],
    "warehouse": [
        ("Mo-Fr 06:00-18:00", 2),
        ("Mo-Fr 07:00-17:00; Sa 08:00-12:00", 1),
        ("Mo-Fr 05:00-21:00; PH off", 1),
    ],
}

DC_STREETS = ["14th St", "16th St", "K St", "M St", "U St", "H St", "Connecticut Ave"]
DC_STREETS += ["Massachusetts Ave", "Rhode Island Ave", "Benning Rd", "Good Hope Rd"]
SUBURB_STREETS = ["Oak St", "Maple Ave", "Main St", "Chestnut Ln", "Elm St", "Park Ave"]
SUBURB_STREETS += ["Church St", "Mill Rd", "Ridge Rd", "Lakeview Dr", "Hillcrest Ave"]
CAPITOL_LAT, CAPITOL_LON = 38.8899, -77.0091  # origin of DC's street quadrants

# UTM 18N covers the whole metro; all distances and buffers are done there in metres.
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32618", always_xy=True).transform
TO_WGS = Transformer.from_crs("EPSG:32618", "EPSG:4326", always_xy=True).transform


@dataclass(frozen=True)
class Zip:
    """A ZIP centroid with its projected position and demo region."""

    code: str
    city: str
    state: str
    region_id: str
    lat: float
    lon: float
    x: float
    y: float


@dataclass
class Location:
    """One row of locations.csv (before serialisation)."""

    external_id: str
    name: str
    kind: str
    lat: float
    lon: float
    brand: str
    address: str
    zip: Zip
    opening_hours: str
    timezone: str
    capabilities: list[str]
    status: str


# --------------------------------------------------------------------------- source data


def is_excluded(z: dict) -> bool:
    """True for ZIPs that are not ordinary neighbourhoods (bases, agency buildings)."""
    if z["city"] in EXCLUDED_CITIES:
        return True
    return z["state"] == "DC" and z["zip_code"] > DC_LAST_RESIDENTIAL_ZIP


def load_zips() -> list[Zip]:
    """Active STANDARD ZIPs of the five metro county groups within METRO_RADIUS_M of DC.

    PO-box and "unique" (single-organisation) ZIPs are skipped: their centroids are
    mostly duplicates of the post office they belong to, not places people live.
    """
    cx, cy = TO_UTM(CENTER_LON, CENTER_LAT)
    result = []
    for state in ("DC", "MD", "VA"):
        for z in zipcodes.filter_by(state=state, active=True, zip_code_type="STANDARD"):
            region_id = COUNTY_REGION.get((z["state"], z["county"]))
            if region_id is None or not z["lat"] or not z["long"] or is_excluded(z):
                continue
            lat, lon = float(z["lat"]), float(z["long"])
            x, y = TO_UTM(lon, lat)
            if math.hypot(x - cx, y - cy) <= METRO_RADIUS_M:
                result.append(Zip(z["zip_code"], z["city"], state, region_id, lat, lon, x, y))
    result.sort(key=lambda zz: zz.code)
    if len(result) < 100:
        raise SystemExit(f"only {len(result)} ZIPs found; has the zipcodes package changed?")
    return result


# --------------------------------------------------------------------------- geometry helpers


def to_wgs(geom):
    """Project a UTM geometry back to lon/lat, snap it to 1e-6 degrees and orient it."""
    geom = shapely.set_precision(shapely.transform(geom, TO_WGS, interleaved=False), 1e-6)
    return orient_rings(geom)


def orient_rings(geom):
    """Exterior rings counter-clockwise, holes clockwise (RFC 7946)."""
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])
    return orient(geom, sign=1.0)


def check_polygon(geom, label: str) -> None:
    """Fail loudly unless geom is a non-empty, valid (Multi)Polygon with CCW shells."""
    if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty or not geom.is_valid:
        raise SystemExit(f"invalid geometry for {label}: {shapely.is_valid_reason(geom)}")
    parts = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    if not all(p.exterior.is_ccw for p in parts):
        raise SystemExit(f"exterior ring not counter-clockwise for {label}")


def round_coords(obj):
    """Recursively round GeoJSON coordinate arrays to 6 decimals (shortest float repr)."""
    if isinstance(obj, float | int):
        return round(float(obj), 6)
    return [round_coords(o) for o in obj]


def feature(geom, properties: dict) -> dict:
    """Build a GeoJSON Feature with rounded coordinates and no crs member."""
    geo = mapping(geom)
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": geo["type"], "coordinates": round_coords(geo["coordinates"])},
    }


# --------------------------------------------------------------------------- regions


def build_regions(zips: list[Zip]) -> dict[str, Polygon | MultiPolygon]:
    """Regions in UTM: Voronoi cells of the ZIP centroids, unioned per county group.

    Voronoi cells tile the plane, so the regions share borders but never overlap (a plain
    per-county convex hull would overlap its neighbours). The outer edge is the convex hull
    of all centroids buffered by 2 km.
    """
    unique = sorted({(z.x, z.y): z.region_id for z in zips}.items())
    points = shapely.MultiPoint([xy for xy, _ in unique])
    envelope = points.convex_hull.buffer(2000, quad_segs=4)
    cells = shapely.voronoi_polygons(points, extend_to=envelope, ordered=True)
    by_region: dict[str, list] = {}
    for cell, (_, region_id) in zip(cells.geoms, unique, strict=True):
        by_region.setdefault(region_id, []).append(cell.intersection(envelope))
    return {rid: unary_union(by_region[rid]) for rid in sorted(by_region)}


def regions_to_wgs(regions_utm: dict) -> dict[str, Polygon | MultiPolygon]:
    """Project regions to lon/lat and verify they are valid and pairwise non-overlapping."""
    regions = {rid: to_wgs(geom) for rid, geom in regions_utm.items()}
    for rid, geom in regions.items():
        check_polygon(geom, f"region {rid}")
    ids = sorted(regions)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            # Shared borders are fine; any positive-area overlap is a bug.
            if regions[a].intersection(regions[b]).area > 1e-12:
                raise SystemExit(f"regions {a} and {b} overlap")
    return regions


# --------------------------------------------------------------------------- locations


def place_near(rng: random.Random, z: Zip, region) -> tuple[float, float]:
    """Jitter a ZIP centroid by 80-450 m, staying inside the ZIP's own (lon/lat) region."""
    for _ in range(50):
        dist, bearing = rng.uniform(80, 450), rng.uniform(0, 2 * math.pi)
        lon, lat = TO_WGS(z.x + dist * math.sin(bearing), z.y + dist * math.cos(bearing))
        lat, lon = round(lat, 6), round(lon, 6)
        # Test the rounded point against the published polygon, not the UTM original.
        if region.contains(Point(lon, lat)):
            return lat, lon
    raise SystemExit(f"could not place a point near ZIP {z.code} inside {z.region_id}")


def zip_weights(zips: list[Zip]) -> list[float]:
    """Return sampling weights that favour downtown, like real retail networks."""
    cx, cy = TO_UTM(CENTER_LON, CENTER_LAT)
    return [1.0 + 3.0 * math.exp(-math.hypot(z.x - cx, z.y - cy) / 8000) for z in zips]


def pick_warehouse_zips(rng: random.Random, zips: list[Zip], count: int) -> list[Zip]:
    """One ZIP per angular sector around DC, among the outermost ZIPs of that sector."""
    cx, cy = TO_UTM(CENTER_LON, CENTER_LAT)
    sectors: list[list[tuple[float, Zip]]] = [[] for _ in range(count)]
    for z in zips:
        angle = math.atan2(z.y - cy, z.x - cx) % (2 * math.pi)
        sectors[int(angle / (2 * math.pi) * count) % count].append(
            (math.hypot(z.x - cx, z.y - cy), z)
        )
    picks: list[Zip] = []
    for sector in sectors:
        # One warehouse per city keeps the names distinct; a sector may come up empty.
        outer = [
            z
            for d, z in sorted(sector, key=lambda t: (-t[0], t[1].code))
            if d > 15000 and z.city not in {p.city for p in picks}
        ]
        if outer:
            picks.append(rng.choice(outer[:3]))
    others = [z for z in zips if z.city not in {p.city for p in picks}]
    while len(picks) < count:
        pick = others.pop(rng.randrange(len(others)))
        picks.append(pick)
        others = [z for z in others if z.city != pick.city]
    return picks


def street_address(rng: random.Random, z: Zip, lat: float, lon: float) -> str:
    """Make up a street line; DC addresses get the quadrant suffix (NW/NE/SW/SE)."""
    number = rng.randrange(1, 80) * 100 + rng.randrange(0, 50) * 2
    if z.state == "DC":
        quadrant = ("N" if lat >= CAPITOL_LAT else "S") + ("E" if lon >= CAPITOL_LON else "W")
        return f"{number} {rng.choice(DC_STREETS)} {quadrant}"
    return f"{number} {rng.choice(SUBURB_STREETS)}"


def pick_hours(rng: random.Random, kind: str) -> str:
    """Pick a weighted-random opening_hours value for the kind."""
    values, weights = zip(*HOURS[kind], strict=True)
    return rng.choices(values, weights=weights)[0]


def pick_capabilities(rng: random.Random, kind: str) -> list[str]:
    """Capabilities that make sense for the kind, in canonical vocabulary order."""
    caps = {"pickup"}
    if kind == "locker":
        caps |= {"returns"} if rng.random() < 0.4 else set()
    elif kind == "convenience_store":
        caps |= {c for c, p in CONVENIENCE_CAPABILITY_ODDS if rng.random() < p}
        if "cold_chain" in caps and rng.random() < 0.6:
            caps.add("frozen")  # frozen goods need a cold chain first
    elif kind == "store":
        caps.add("returns")
        caps |= {c for c, p in STORE_CAPABILITY_ODDS if rng.random() < p}
        if "delivery" in caps and rng.random() < 0.45:
            caps.add("express_delivery")  # express is an upgrade of normal delivery
        if "cold_chain" in caps and rng.random() < 0.5:
            caps.add("frozen")
    else:  # warehouse
        # Every warehouse keeps chilled and frozen goods, so that any pickup point with
        # the same capability can be restocked with them (DESIGN §4.5, transfers).
        caps = {"bulky", "delivery", "cold_chain", "frozen"}
        caps |= {"pickup"} if rng.random() < 0.4 else set()
    return [c for c in CAPABILITIES if c in caps]


def display_name(kind: str, brand: str, z: Zip, address: str) -> str:
    """Human-readable name, disambiguated by street since cities repeat."""
    street = address.split(" ", 1)[1]
    if kind == "warehouse":
        return f"{RETAIL_BRAND} Fulfillment Center {z.city}"
    return f"{brand} {z.city} ({street})"


def brand_for(rng: random.Random, kind: str) -> str:
    """Retail brand for own stores/lockers/warehouses, a partner brand for convenience."""
    if kind == "convenience_store":
        return rng.choice(PARTNER_BRANDS)
    return LOCKER_BRAND if kind == "locker" else RETAIL_BRAND


def build_locations(rng: random.Random, zips: list[Zip], regions: dict) -> list[Location]:
    """All locations, kind by kind, in a stable order."""
    weights = zip_weights(zips)
    locations = []
    for kind, count in KIND_COUNTS.items():
        if kind == "warehouse":
            chosen = pick_warehouse_zips(rng, zips, count)
        else:
            chosen = rng.choices(zips, weights=weights, k=count)
        for i, z in enumerate(chosen, start=1):
            lat, lon = place_near(rng, z, regions[z.region_id])
            brand = brand_for(rng, kind)
            address = street_address(rng, z, lat, lon)
            locations.append(
                Location(
                    external_id=f"{ID_PREFIX[kind]}-{i:04d}",
                    name=display_name(kind, brand, z, address),
                    kind=kind,
                    lat=lat,
                    lon=lon,
                    brand=brand,
                    address=address,
                    zip=z,
                    opening_hours=pick_hours(rng, kind),
                    timezone=TIMEZONE,
                    capabilities=pick_capabilities(rng, kind),
                    status="active",
                )
            )
    return locations


def assign_statuses_and_timezones(rng: random.Random, locations: list[Location]) -> None:
    """Blank ~10% of timezones; close a few non-warehouse sites and retire two."""
    # The importer derives a missing timezone from the position, so exercise that path.
    for loc in rng.sample(locations, k=round(len(locations) * 0.10)):
        loc.timezone = ""
    # Warehouses stay active so that every one keeps its supply area.
    retail = [loc for loc in locations if loc.kind != "warehouse"]
    picked = rng.sample(retail, k=14)
    for loc in picked[:12]:
        loc.status = "temporarily_closed"
    for loc in picked[12:]:
        loc.status = "retired"


# --------------------------------------------------------------------------- service areas


def star_polygon(rng: random.Random, x: float, y: float) -> Polygon:
    """Draw an irregular delivery area: 12 vertices at increasing angles, 3-7 km out.

    Vertices sorted by angle around the centre always form a simple (valid) polygon.
    """
    pts = []
    for i in range(12):
        angle = 2 * math.pi * (i + rng.uniform(-0.3, 0.3)) / 12
        r = rng.uniform(3000, 7000)
        pts.append((x + r * math.cos(angle), y + r * math.sin(angle)))
    return Polygon(pts)


def supply_area(warehouse: Location, zips: list[Zip]) -> Polygon:
    """Convex hull of ZIP centroids within 25 km of a warehouse, buffered by 1 km (UTM).

    Buffering a convex polygon keeps it convex and valid.
    """
    wx, wy = TO_UTM(warehouse.lon, warehouse.lat)
    near = [(z.x, z.y) for z in zips if math.hypot(z.x - wx, z.y - wy) <= 25_000]
    hull = shapely.MultiPoint([*near, (wx, wy)]).convex_hull
    return hull.buffer(1000, quad_segs=4)


def build_service_areas(rng: random.Random, locations: list[Location], zips: list[Zip]):
    """Radius rows for stores, plus polygon features for warehouses and two stores."""
    live = [loc for loc in locations if loc.status != "retired"]
    delivery_stores = [
        loc for loc in live if loc.kind == "store" and "delivery" in loc.capabilities
    ]
    # These two stores get a drawn delivery polygon *instead of* a delivery radius.
    polygon_ids = {loc.external_id for loc in rng.sample(delivery_stores, k=2)}
    features = []
    for wh in (loc for loc in live if loc.kind == "warehouse"):
        geom = to_wgs(supply_area(wh, zips))
        features.append((wh.external_id, "supply", geom))
    radii = []
    for loc in (loc for loc in live if loc.kind == "store"):
        if loc.external_id in polygon_ids:
            x, y = TO_UTM(loc.lon, loc.lat)
            features.append((loc.external_id, "delivery", to_wgs(star_polygon(rng, x, y))))
        elif "delivery" in loc.capabilities:
            radii.append((loc.external_id, "delivery", rng.randrange(5000, 12001, 250)))
        if "express_delivery" in loc.capabilities:
            radii.append((loc.external_id, "express", rng.randrange(2000, 4001, 100)))
    for ext_id, mode, geom in features:
        check_polygon(geom, f"service area {ext_id}/{mode}")
    return radii, features


# --------------------------------------------------------------------------- validation


def validate_locations(locations: list[Location]) -> None:
    """Fail loudly on bad opening hours, duplicate ids or positions outside the timezone."""
    for value in sorted({loc.opening_hours for loc in locations}):
        try:
            opening_hours.OpeningHours(value)
        except Exception as exc:  # the parser raises its own ParserError type
            raise SystemExit(f"opening_hours does not parse: {value!r}: {exc}") from exc
    ids = [loc.external_id for loc in locations]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate external_id")
    # Rows with an empty timezone rely on position-based lookup; make sure it agrees.
    finder = TimezoneFinder()
    for loc in locations:
        if finder.timezone_at(lng=loc.lon, lat=loc.lat) != TIMEZONE:
            raise SystemExit(f"{loc.external_id} is not in {TIMEZONE}")


# --------------------------------------------------------------------------- writers


def write_locations(path: Path, locations: list[Location]) -> None:
    """Write locations.csv: UTF-8, LF line endings, fixed 6-decimal coordinates."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LOCATION_FIELDS, lineterminator="\n")
        writer.writeheader()
        for loc in locations:
            z = loc.zip
            writer.writerow(
                {
                    "external_id": loc.external_id,
                    "name": loc.name,
                    "kind": loc.kind,
                    "lat": f"{loc.lat:.6f}",
                    "lon": f"{loc.lon:.6f}",
                    "brand": loc.brand,
                    "address": loc.address,
                    "city": z.city,
                    "region": z.state,
                    "postcode": z.code,
                    "country": "US",
                    "opening_hours": loc.opening_hours,
                    "timezone": loc.timezone,
                    "capabilities": ";".join(loc.capabilities),
                    "status": loc.status,
                }
            )


def write_service_area_csv(path: Path, radii: list[tuple[str, str, int]]) -> None:
    """service_areas.csv: one radius area per (location, mode)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["location_external_id", "mode", "radius_m"])
        writer.writerows(radii)


def write_feature_collection(path: Path, features: list[dict]) -> None:
    """Write a FeatureCollection with one feature per line, so diffs stay readable."""
    body = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features)
    text = '{"type":"FeatureCollection","features":[\n' + body + "\n]}\n"
    path.write_text(text, encoding="utf-8", newline="\n")


# --------------------------------------------------------------------------- main


def main() -> None:
    """Build every file in geodata/demo/ from scratch."""
    rng = random.Random(SEED)
    zips = load_zips()
    regions = regions_to_wgs(build_regions(zips))
    locations = build_locations(rng, zips, regions)
    assign_statuses_and_timezones(rng, locations)
    validate_locations(locations)
    radii, area_features = build_service_areas(rng, locations, zips)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write_locations(OUT_DIR / "locations.csv", locations)
    write_service_area_csv(OUT_DIR / "service_areas.csv", radii)
    write_feature_collection(
        OUT_DIR / "service_areas.geojson",
        [feature(g, {"location_external_id": i, "mode": m}) for i, m, g in area_features],
    )
    write_feature_collection(
        OUT_DIR / "regions.geojson",
        [feature(g, {"region_id": rid, "name": REGION_NAMES[rid]}) for rid, g in regions.items()],
    )
    print(
        f"{len(zips)} ZIPs -> {len(locations)} locations, {len(radii)} radius areas, "
        f"{len(area_features)} polygon areas, {len(regions)} regions in {OUT_DIR}"
    )


if __name__ == "__main__":
    main()
