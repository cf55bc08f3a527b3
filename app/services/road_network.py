"""Reading a car network from an OSM extract (.osm.pbf) and swapping it in as a new version.

What counts as drivable, and how fast, for a car in town:

* ``highway`` classes in ``DEFAULT_SPEEDS_KMH`` (others: footways, tracks, paths,
  construction... are left out), each with the speed a car keeps there in town traffic.
  ``ROAD_SPEEDS_KMH`` (config) overrides any of them, e.g. ``residential=20,primary=45``.
* ``maxspeed``: a number is km/h, ``"30 mph"`` miles an hour, ``"20 knots"`` knots; the
  first of ``"50;30"`` counts. When given, the car drives at ``MAXSPEED_SHARE`` of it
  (junctions, lights and traffic keep it under the limit). ``none``, ``signals``,
  ``walk`` and country codes (``US:urban``, ``DE:zone30``) name no number: the class
  speed applies.
* ``oneway``: ``yes``/``true``/``1`` forward only, ``-1``/``reverse`` backward only,
  ``no`` both ways; ``junction=roundabout``/``circular`` and ``highway=motorway`` are one
  way unless tagged otherwise. ``reversible``/``alternating`` ways (direction changes
  by the hour) are left out.
* Access: the most specific of ``motorcar``, ``motor_vehicle``, ``vehicle``, ``access``
  that is tagged decides; ``no``, ``private`` (and agricultural, forestry, emergency,
  military, delivery) close the way to a car. ``area=yes`` ways are squares, not roads.

Ways are split into edges at every node two drivable ways share (and where a way
touches itself), so edges meet only at their ends. A node missing from the extract (a
way cut at the border) ends that stretch of the way.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import osmium
from pyproj import Geod
from sqlalchemy import Connection

from app.errors import InvalidInput
from app.queries import roads as sql
from app.services import roads

DEFAULT_SPEEDS_KMH: dict[str, float] = {
    "motorway": 90,
    "motorway_link": 45,
    "trunk": 70,
    "trunk_link": 40,
    "primary": 50,
    "primary_link": 40,
    "secondary": 45,
    "secondary_link": 35,
    "tertiary": 40,
    "tertiary_link": 30,
    "unclassified": 30,
    "residential": 25,
    "living_street": 10,
    "service": 15,
    "road": 25,
}
MAXSPEED_SHARE = 0.8
ACCESS_KEYS = ("motorcar", "motor_vehicle", "vehicle", "access")
ACCESS_DENIED = frozenset(
    {"no", "private", "agricultural", "forestry", "emergency", "military", "delivery"}
)
FORWARD_VALUES = frozenset({"yes", "true", "1"})
BACKWARD_VALUES = frozenset({"-1", "reverse"})
CHANGING_VALUES = frozenset({"reversible", "alternating"})
_MAXSPEED = re.compile(r"(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?")
_UNIT_KMH = {None: 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}
_GEOD = Geod(ellps="WGS84")


def parse_speeds(text: str) -> dict[str, float]:
    """``"residential=20,primary=45"`` -> class speeds over the defaults (km/h > 0)."""
    speeds = dict(DEFAULT_SPEEDS_KMH)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            speed = float(value)
        except ValueError:
            speed = 0.0
        if not name.strip() or not 0 < speed <= 200:
            raise InvalidInput(
                f"bad road speed {item!r}: want class=km/h, 0 < km/h <= 200",
                field="ROAD_SPEEDS_KMH",
            )
        speeds[name.strip()] = speed
    return speeds


def parse_maxspeed(value: str | None) -> float | None:
    """A ``maxspeed`` tag in km/h, or None when it names no number (none, US:urban...)."""
    if not value:
        return None
    match = _MAXSPEED.fullmatch(value.split(";")[0].strip().lower())
    if not match:
        return None
    kmh = float(match.group(1)) * _UNIT_KMH[match.group(2)]
    return kmh if kmh > 0 else None


def directions(tags: Mapping[str, str]) -> tuple[bool, bool] | None:
    """(forward, backward) a car may drive the way, or None when it is not drivable."""
    oneway = tags.get("oneway", "").strip().lower()
    if oneway in CHANGING_VALUES:
        return None
    if oneway in FORWARD_VALUES:
        return True, False
    if oneway in BACKWARD_VALUES:
        return False, True
    if oneway == "no":
        return True, True
    implied = tags.get("junction") in ("roundabout", "circular") or tags.get("highway") == (
        "motorway"
    )
    return (True, False) if implied else (True, True)


def car_allowed(tags: Mapping[str, str]) -> bool:
    """The most specific access tag present decides."""
    for key in ACCESS_KEYS:
        value = tags.get(key)
        if value is not None:
            return value.strip().lower() not in ACCESS_DENIED
    return True


def way_speed_kmh(tags: Mapping[str, str], speeds: Mapping[str, float]) -> float | None:
    """The speed a car keeps on the way, or None when the way is not for cars."""
    highway = tags.get("highway")
    if highway not in speeds or tags.get("area") == "yes" or not car_allowed(tags):
        return None
    posted = parse_maxspeed(tags.get("maxspeed"))
    return posted * MAXSPEED_SHARE if posted else float(speeds[highway])


@dataclass
class DrivableWay:
    way_id: int
    highway: str
    speed_kmh: float
    forward: bool
    backward: bool
    nodes: list[tuple[int, float, float]]  # (node id, lon, lat), one connected stretch


@dataclass
class Graph:
    """Edges (id, source, target, cost, reverse_cost, length_m, speed_kmh, highway,
    way id, coordinates) and vertices {node id: (lon, lat)}."""

    edges: list[tuple] = field(default_factory=list)
    vertices: dict[int, tuple[float, float]] = field(default_factory=dict)
    ways: int = 0


def read_drivable_ways(path: str | Path, speeds: Mapping[str, float]) -> list[DrivableWay]:
    """Every drivable stretch of way in the extract (see the module docstring)."""
    ways: list[DrivableWay] = []
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            tags = {tag.k: tag.v for tag in way.tags}
            speed = way_speed_kmh(tags, speeds)
            allowed = directions(tags)
            if speed is None or allowed is None:
                continue
            stretch: list[tuple[int, float, float]] = []
            for node in way.nodes:
                if node.location.valid():
                    if not stretch or stretch[-1][0] != node.ref:
                        stretch.append((node.ref, node.location.lon, node.location.lat))
                    continue
                if len(stretch) >= 2:
                    ways.append(DrivableWay(way.id, tags["highway"], speed, *allowed, stretch))
                stretch = []
            if len(stretch) >= 2:
                ways.append(DrivableWay(way.id, tags["highway"], speed, *allowed, stretch))
    except RuntimeError as error:  # libosmium's errors: not a PBF, truncated, unreadable
        raise InvalidInput(
            f"cannot read {Path(path).name} as OSM data: {error}", field="file"
        ) from error
    return ways


def build_graph(ways: list[DrivableWay]) -> Graph:
    """Split ways at shared nodes into edges with costs in seconds (-1: closed)."""
    uses: Counter[int] = Counter()
    for way in ways:
        uses.update(node for node, _, _ in way.nodes)
    graph = Graph(ways=len(ways))
    for way in ways:
        last = len(way.nodes) - 1
        start = 0
        for index in range(1, last + 1):
            if index != last and uses[way.nodes[index][0]] < 2:
                continue
            piece = way.nodes[start : index + 1]
            start = index
            lons = [lon for _, lon, _ in piece]
            lats = [lat for _, _, lat in piece]
            length = float(_GEOD.line_length(lons, lats))
            seconds = length / (way.speed_kmh / 3.6)
            graph.edges.append(
                (
                    len(graph.edges) + 1,
                    piece[0][0],
                    piece[-1][0],
                    seconds if way.forward else -1.0,
                    seconds if way.backward else -1.0,
                    length,
                    way.speed_kmh,
                    way.highway,
                    way.way_id,
                    list(zip(lons, lats, strict=True)),
                )
            )
            for node, lon, lat in (piece[0], piece[-1]):
                graph.vertices[node] = (lon, lat)
    return graph


@dataclass(frozen=True)
class NetworkReport:
    version: int
    source_name: str
    ways: int
    edges: int
    vertices: int
    largest_component_vertices: int
    road_km: float
    drive_time_areas: int
    seconds: float

    @property
    def largest_component_share(self) -> float:
        return self.largest_component_vertices / self.vertices if self.vertices else 0.0

    def summary(self) -> str:
        return (
            f"road network version {self.version} from {self.source_name}: "
            f"{self.ways} drivable ways, {self.edges} edges, {self.vertices} vertices, "
            f"{self.road_km:.1f} km; largest strongly connected component "
            f"{self.largest_component_vertices} vertices "
            f"({100 * self.largest_component_share:.1f}%); "
            f"{self.drive_time_areas} drive-time areas rebuilt; {self.seconds:.1f} s"
        )


def import_network(
    connection: Connection, path: str | Path, speeds: Mapping[str, float] | None = None
) -> NetworkReport:
    """Load the extract as a new network version and make it current.

    The caller owns the transaction: the new edges, its drive-time areas rebuilt on it,
    and the swap commit together, or (on any error) not at all, leaving the old network
    serving.
    """
    started = time.perf_counter()
    roads.require_pgrouting(connection)
    graph = build_graph(read_drivable_ways(path, speeds or DEFAULT_SPEEDS_KMH))
    if not graph.edges:
        raise InvalidInput(f"{Path(path).name} has no drivable roads", field="file")
    sql.lock_network_import(connection)
    sql.disable_statement_timeout(connection)
    version = sql.create_network_version(connection, Path(path).name)
    sql.copy_vertices(
        connection, version, ((node, lon, lat) for node, (lon, lat) in graph.vertices.items())
    )
    sql.copy_edges(connection, version, graph.edges)
    sql.analyze_network(connection)
    main = sql.mark_main_component(connection, version)
    top_speed = max(edge[6] for edge in graph.edges)
    rebuilt = roads.rebuild_drive_time_areas(connection, version)
    sql.finish_network_version(
        connection,
        version,
        len(graph.edges),
        len(graph.vertices),
        main / len(graph.vertices),
        top_speed,
    )
    return NetworkReport(
        version=version,
        source_name=Path(path).name,
        ways=graph.ways,
        edges=len(graph.edges),
        vertices=len(graph.vertices),
        largest_component_vertices=main,
        road_km=sum(edge[5] for edge in graph.edges) / 1000,
        drive_time_areas=rebuilt,
        seconds=time.perf_counter() - started,
    )


# OSM shop values the demo turns into locations, and the kind each becomes.
SHOP_KINDS = {"convenience": "convenience_store", "supermarket": "store"}


def osm_shops(path: str | Path, kinds: Mapping[str, str] = SHOP_KINDS) -> list[dict]:
    """Shops of the ``kinds`` (OSM ``shop`` value -> location kind; by default
    convenience stores and supermarkets) in the extract, as location import records
    (external_id ``osm-n<id>`` or ``osm-w<id>``; a way's position is its nodes' mean).
    Nameless shops are left out: a shopper could not tell them apart."""
    shops = []
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.TagFilter(*(("shop", v) for v in kinds)))
        )
        for item in processor:
            tags = {tag.k: tag.v for tag in item.tags}
            if not tags.get("name"):
                continue
            if item.is_node():
                prefix, lon, lat = "n", item.location.lon, item.location.lat
            else:
                points = [n.location for n in item.nodes if n.location.valid()]
                if not points:
                    continue
                prefix = "w"
                lon = sum(p.lon for p in points) / len(points)
                lat = sum(p.lat for p in points) / len(points)
            shops.append(
                {
                    "external_id": f"osm-{prefix}{item.id}",
                    "name": tags["name"],
                    "kind": kinds[tags["shop"]],
                    "lat": round(lat, 7),
                    "lon": round(lon, 7),
                    "brand": tags.get("brand"),
                    "address": " ".join(
                        filter(None, (tags.get("addr:housenumber"), tags.get("addr:street")))
                    )
                    or None,
                    "city": tags.get("addr:city"),
                    "postcode": tags.get("addr:postcode"),
                    "capabilities": "pickup;delivery;express_delivery",
                }
            )
    except RuntimeError as error:
        raise InvalidInput(
            f"cannot read {Path(path).name} as OSM data: {error}", field="file"
        ) from error
    return sorted(shops, key=lambda shop: shop["external_id"])
