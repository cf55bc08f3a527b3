"""Fulfilment options: where, and by when, a cart can be had (DESIGN §4.5).

``plan`` holds every rule and takes plain values (sites, settings, stock, the cart and
the moment), so the rules are tested without HTTP or a database; ``find_options``
gathers those values through app/queries/fulfilment.py and calls it.

Times are computed in UTC and compared in each location's own timezone: a cut-off, a
capacity day and a departure are local notions, but adding minutes to a local datetime
is wall-clock arithmetic that goes wrong across a DST change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from app.errors import InvalidInput, NotFound
from app.hours import departures_from, open_intervals
from app.limits import (
    FULFILMENT_HORIZON_DAYS,
    MAX_AT_AHEAD_DAYS,
    MAX_AT_PAST_DAYS,
    MAX_FULFILMENT_CANDIDATES,
)
from app.queries import fulfilment as sql
from app.services import roads

# The order of modes in the answer, for equal times and distances.
MODES = ("pickup", "express", "delivery")
# Which capability a product's temperature needs wherever it is stored or handed over.
TEMPERATURE_NEEDS = {"chilled": "cold_chain", "frozen": "frozen"}
# Which capability makes a location a candidate for a mode.
MODE_CAPABILITY = {"pickup": "pickup", "express": "express_delivery", "delivery": "delivery"}
HORIZON = timedelta(days=FULFILMENT_HORIZON_DAYS)


# -- plain inputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How one location works in one mode (a fulfilment_settings row, or the defaults)."""

    prep_minutes: int
    cutoff: time | None = None  # local; an order after it starts the next local day
    daily_capacity: int | None = None  # orders per local day; None: no limit
    departures: str | None = None  # supply: OSM collection_times; None: leave when ready
    lead_minutes: int = 0  # supply: run time to a supplied location


@dataclass(frozen=True)
class Site:
    """A location as the rules see it; ``row`` is what the API serialises."""

    id: int
    external_id: str
    name: str
    kind: str
    capabilities: frozenset[str]
    timezone: str
    opening_hours: str | None = None
    country: str | None = None
    distance_m: float = 0.0
    row: Mapping | None = field(default=None, compare=False, repr=False)

    @property
    def hours_unknown(self) -> bool:
        return not self.opening_hours


@dataclass(frozen=True)
class Line:
    sku: str
    qty: int


@dataclass(frozen=True)
class Candidate:
    """A location considered for one mode; ``covers``: its area of that mode covers the
    origin (always true for pickup, which has no area)."""

    site: Site
    mode: str
    covers: bool = True


@dataclass
class Network:
    """Everything the rules read, gathered for one request."""

    candidates: Sequence[Candidate]
    suppliers: Mapping[int, Sequence[Site]]  # pickup point id -> warehouses supplying it
    available: Mapping[tuple[int, str], int]  # (location id, sku) -> on hand - held
    temperatures: Mapping[str, str]  # sku -> ambient | chilled | frozen
    settings: Mapping[tuple[int, str], Settings]  # (location id, mode)
    used_capacity: Mapping[tuple[int, str, date], int] = field(default_factory=dict)
    express_travel_s: Mapping[int, float] = field(default_factory=dict)  # store -> origin
    supply_road_s: Mapping[tuple[int, int], float] = field(default_factory=dict)  # (W, L)


@dataclass(frozen=True)
class Defaults:
    """Documented config values (app/config.py) for what a request does not give."""

    prep_minutes: int = 30
    lead_minutes: int = 120
    express_promise_minutes: int = 60

    def settings(self, mode: str) -> Settings:
        lead = self.lead_minutes if mode == "supply" else 0
        return Settings(prep_minutes=self.prep_minutes, lead_minutes=lead)


# -- answers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    mode: str
    source: str  # "stock" or "transfer"
    site: Site
    ready_at: datetime
    arrive_by: datetime | None = None
    duration_s: float | None = None
    supplied_from: Site | None = None
    departs_at: datetime | None = None  # a transfer: when it leaves the warehouse
    transferred_skus: tuple[str, ...] = ()  # a transfer: the lines the warehouse sends

    @property
    def sort_key(self) -> tuple:
        return (
            self.arrive_by or self.ready_at,
            self.site.distance_m,
            MODES.index(self.mode),
            self.site.external_id,
        )


@dataclass(frozen=True)
class Exclusion:
    site: Site
    mode: str
    reasons: tuple[dict, ...]

    @property
    def sort_key(self) -> tuple:
        return exclusion_key(self.site, self.mode)


def exclusion_key(site: Site, mode: str) -> tuple:
    """Exclusions come nearest first, then by mode and external_id."""
    return (site.distance_m, MODES.index(mode), site.external_id)


@dataclass
class Plan:
    options: list[Option]
    excluded: list[Exclusion]
    excluded_total: int
    options_total: int = 0
    # sku -> {"name", "temperature"} of the cart's products, so the edge can label lines.
    products: Mapping[str, Mapping] = field(default_factory=dict)


# -- time in a location's own terms -----------------------------------------------------


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(site: Site, moment: datetime) -> date:
    return moment.astimezone(_zone(site.timezone)).date()


def next_local_midnight(site: Site, moment: datetime) -> datetime:
    """The start of the local day after ``moment``'s, in UTC."""
    zone = _zone(site.timezone)
    following = moment.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(following, time(0), tzinfo=zone).astimezone(UTC)


def work_starts(site: Site, settings: Settings, moment: datetime) -> datetime:
    """When work on an order placed at ``moment`` starts: then, or the next local day when
    ``moment`` is past the cut-off (inclusive: an order at 19:00 with cut-off 19:00 counts)."""
    if settings.cutoff is None:
        return moment
    local = moment.astimezone(_zone(site.timezone))
    if local.time().replace(tzinfo=None) > settings.cutoff:
        return next_local_midnight(site, moment)
    return moment


def prepared(site: Site, start: datetime, minutes: int, deadline: datetime) -> datetime | None:
    """When ``minutes`` of the site's open time have passed since ``start`` (a closed
    shop prepares nothing); None when that is after ``deadline``. With no preparation
    it is the first open moment. A site with no hours works at any time."""
    needed = timedelta(minutes=minutes)
    if site.hours_unknown:
        done = start + needed
        return done if done <= deadline else None
    if start > deadline:
        return None
    return _prepared(site.opening_hours, site.timezone, site.country, start, needed, deadline)


# Pure, and asked again and again: most candidates of a request share a few schedules
# and the same start (the order's moment), so one walk of the intervals serves them all.
@lru_cache(maxsize=8192)
def _prepared(
    hours: str,
    timezone: str,
    country: str | None,
    start: datetime,
    needed: timedelta,
    deadline: datetime,
) -> datetime | None:
    for begin, end in open_intervals(hours, timezone, country, start, deadline):
        begin = max(begin, start)
        if needed <= end - begin:
            return begin + needed
        needed -= end - begin
    return None


def is_open(site: Site, moment: datetime) -> bool:
    if site.hours_unknown:
        return True
    return _is_open(site.opening_hours, site.timezone, site.country, moment)


@lru_cache(maxsize=8192)
def _is_open(hours: str, timezone: str, country: str | None, moment: datetime) -> bool:
    spans = open_intervals(hours, timezone, country, moment, moment + timedelta(seconds=1))
    return any(begin <= moment < end for begin, end in spans)


# -- the rules ----------------------------------------------------------------------


class _Rules:
    """The rules of §4.5 for one request (a network, a cart, a moment)."""

    def __init__(self, network: Network, cart: Sequence[Line], at: datetime, defaults: Defaults):
        self.network = network
        self.cart = cart
        self.at = at.astimezone(UTC)
        self.deadline = self.at + HORIZON
        self.defaults = defaults
        self.needs = self._needs(cart)
        self._supply_runs: dict[int, tuple] = {}  # see supply_departures

    def settings(self, site: Site, mode: str) -> Settings:
        return self.network.settings.get((site.id, mode)) or self.defaults.settings(mode)

    def lacking(self, site: Site, lines: Sequence[Line]) -> list[Line]:
        """Lines the site cannot serve whole (a line held only in part counts as lacking)."""
        available = self.network.available
        return [line for line in lines if available.get((site.id, line.sku), 0) < line.qty]

    def temperature_reasons(self, site: Site, lines: Sequence[Line] | None = None) -> list[dict]:
        needs = self.needs if lines is None else self._needs(lines)
        return [
            {"code": "temperature", "needs": need}
            for need in needs
            if need not in site.capabilities
        ]

    def _needs(self, lines: Sequence[Line]) -> list[str]:
        temperatures = self.network.temperatures
        return sorted(
            {
                TEMPERATURE_NEEDS[temperatures[line.sku]]
                for line in lines
                if temperatures.get(line.sku) in TEMPERATURE_NEEDS
            }
        )

    def has_room(self, site: Site, mode: str, settings: Settings, day: date) -> bool:
        if settings.daily_capacity is None:
            return True
        used = self.network.used_capacity.get((site.id, mode, day), 0)
        return used < settings.daily_capacity

    def ready(self, site: Site, mode: str, moment: datetime) -> tuple[datetime | None, str | None]:
        """(ready_at, None), or (None, reason): the site's preparation for an order that
        reaches it at ``moment``, after its cut-off, on the first local day with room."""
        settings = self.settings(site, mode)
        start = work_starts(site, settings, moment)
        rolled = False
        while True:
            done = prepared(site, start, settings.prep_minutes, self.deadline)
            if done is None:
                return None, "capacity_full" if rolled else "closed"
            if self.has_room(site, mode, settings, local_day(site, done)):
                return done, None
            rolled = True
            start = next_local_midnight(site, done)

    # -- pickup ------------------------------------------------------------------

    def pickup(self, site: Site) -> Option | list[dict]:
        """From stock when the site has every line whole, else after a transfer. The
        site's own timing from ``at`` is checked either way: if it cannot finish within
        the horizon, goods arriving later cannot either (closed / capacity_full)."""
        reasons = self.temperature_reasons(site)
        own_ready, own_failure = self.ready(site, "pickup", self.at)
        lacking = self.lacking(site, self.cart)
        transfer = None
        if lacking:
            transfer, transfer_failure = self.transfer(site, lacking)
            if transfer is None:
                reasons.append({"code": "out_of_stock", "skus": [line.sku for line in lacking]})
                if transfer_failure == "not_supplied":
                    reasons.append({"code": "not_supplied"})
                elif own_failure is None:
                    reasons.append({"code": transfer_failure})
        if own_failure is not None:
            reasons.append({"code": own_failure})
        if reasons:
            return reasons
        if transfer is not None:
            ready_at, warehouse, departs_at = transfer
            return Option(
                "pickup",
                "transfer",
                site,
                ready_at,
                duration_s=self.supply_run_s(warehouse, site),
                supplied_from=warehouse,
                departs_at=departs_at,
                transferred_skus=tuple(line.sku for line in lacking),
            )
        return Option("pickup", "stock", site, own_ready)

    def transfer(self, site: Site, lacking: list[Line]) -> tuple[tuple | None, str | None]:
        """((ready_at at the site, warehouse, departure), None) for the earliest warehouse
        that supplies the site with every lacking line; else (None, why)."""
        best = None
        failures = []
        for warehouse in self.network.suppliers.get(site.id, ()):
            if warehouse.id == site.id or self.lacking(warehouse, lacking):
                continue
            if self.temperature_reasons(warehouse, lacking):
                continue
            ready_at, failure, departure = self.transferred(warehouse, site)
            if ready_at is None:
                failures.append(failure)
                continue
            if best is None or (ready_at, warehouse.external_id) < (
                best[0],
                best[1].external_id,
            ):
                best = (ready_at, warehouse, departure)
        if best is not None:
            return best, None
        if not failures:
            return None, "not_supplied"
        return None, "capacity_full" if "capacity_full" in failures else "closed"

    def transferred(self, warehouse: Site, site: Site) -> tuple:
        """(when goods sent from ``warehouse`` are ready at ``site``, None, when they
        leave), or (None, why, None)."""
        failure, departures = self.supply_departures(warehouse)
        if failure is not None:
            return None, failure, None
        lead = timedelta(seconds=self.supply_run_s(warehouse, site))
        full = False
        for departure, room in departures:
            if not room:
                full = True
                continue
            arrival = departure + lead
            if arrival > self.deadline:
                break
            return (*self.ready(site, "pickup", arrival), departure)
        return None, "capacity_full" if full else "closed", None

    def supply_departures(self, warehouse: Site) -> tuple[str | None, list[tuple]]:
        """(None, [(departure, whether its day has supply capacity left), ...] up to the
        horizon) for an order ``warehouse`` packs from ``at``; ("closed", []) when it
        cannot pack it in time. The same for every point it supplies: worked out once
        per warehouse and request (a timetable walk per point cost most of a request)."""
        if warehouse.id not in self._supply_runs:
            supply = self.settings(warehouse, "supply")
            start = work_starts(warehouse, supply, self.at)
            packed = prepared(warehouse, start, supply.prep_minutes, self.deadline)
            if packed is None:
                self._supply_runs[warehouse.id] = ("closed", [])
            else:
                runs = [
                    (d, self.has_room(warehouse, "supply", supply, local_day(warehouse, d)))
                    for d in self._departures(warehouse, supply, packed)
                ]
                self._supply_runs[warehouse.id] = (None, runs)
        return self._supply_runs[warehouse.id]

    def supply_run_s(self, warehouse: Site, site: Site) -> float:
        """Seconds of a supply run: by road when a network covers both ends, else the
        warehouse's lead_minutes."""
        lead_s = self.settings(warehouse, "supply").lead_minutes * 60
        return self.network.supply_road_s.get((warehouse.id, site.id), lead_s)

    def _departures(self, warehouse: Site, supply: Settings, packed: datetime) -> Iterator:
        """Departures at or after ``packed`` (a departure at that very moment is caught)."""
        if supply.departures:
            yield from departures_from(
                supply.departures, warehouse.timezone, warehouse.country, packed, self.deadline
            )
            return
        # No timetable: a run leaves when the order is ready, or the next day with room.
        moment = packed
        while moment <= self.deadline:
            yield moment
            moment = next_local_midnight(warehouse, moment)

    # -- express and delivery --------------------------------------------------------

    def _area_and_stock_reasons(self, candidate: Candidate) -> list[dict]:
        site = candidate.site
        reasons = self.temperature_reasons(site)
        if not candidate.covers:
            reasons.append({"code": "outside_area"})
        lacking = self.lacking(site, self.cart)
        if lacking:
            reasons.append({"code": "out_of_stock", "skus": [line.sku for line in lacking]})
        return reasons

    def express(self, candidate: Candidate) -> Option | list[dict]:
        """Express leaves now or never: the store must be open and before its cut-off,
        and the cart must arrive within the promise."""
        site = candidate.site
        reasons = self._area_and_stock_reasons(candidate)
        settings = self.settings(site, "express")
        open_now = is_open(site, self.at)
        before_cutoff = work_starts(site, settings, self.at) == self.at
        if not open_now:
            reasons.append({"code": "closed"})
        if not before_cutoff:
            reasons.append({"code": "after_cutoff"})
        if not (open_now and before_cutoff):
            return reasons
        promise = self.at + timedelta(minutes=self.defaults.express_promise_minutes)
        ready_at = prepared(site, self.at, settings.prep_minutes, promise)
        travel_s = self.network.express_travel_s.get(site.id, 0.0)
        if ready_at is None:
            reasons.append({"code": "too_slow"})
        elif not self.has_room(site, "express", settings, local_day(site, ready_at)):
            reasons.append({"code": "capacity_full"})
        elif ready_at + timedelta(seconds=travel_s) > promise:
            reasons.append({"code": "too_slow"})
        if reasons:
            return reasons
        arrive_by = ready_at + timedelta(seconds=travel_s)
        return Option("express", "stock", site, ready_at, arrive_by, duration_s=travel_s)

    def delivery(self, candidate: Candidate) -> Option | list[dict]:
        reasons = self._area_and_stock_reasons(candidate)
        ready_at, failure = self.ready(candidate.site, "delivery", self.at)
        if failure:
            reasons.append({"code": failure})
        if reasons:
            return reasons
        return Option("delivery", "stock", candidate.site, ready_at)

    def surely_excluded(self, candidate: Candidate) -> bool:
        """Whether a cheap test already excludes the candidate (``evaluate`` would give
        at least this reason): a temperature it cannot keep, an area that does not cover
        the origin, or lines it lacks with no warehouse to send them."""
        site = candidate.site
        if self.temperature_reasons(site):
            return True
        lacking = self.lacking(site, self.cart)
        if candidate.mode == "pickup":
            warehouses = self.network.suppliers.get(site.id, ())
            return bool(lacking) and not any(w.id != site.id for w in warehouses)
        return not candidate.covers or bool(lacking)

    def exclusion(self, candidate: Candidate) -> Exclusion:
        """A surely excluded candidate with every reason that applies."""
        reasons = self.evaluate(candidate)
        assert not isinstance(reasons, Option), "surely_excluded disagrees with the rules"
        return Exclusion(candidate.site, candidate.mode, tuple(reasons))

    def evaluate(self, candidate: Candidate) -> Option | list[dict]:
        if candidate.mode == "pickup":
            return self.pickup(candidate.site)
        if candidate.mode == "express":
            return self.express(candidate)
        return self.delivery(candidate)


def plan(
    network: Network, cart: Sequence[Line], at: datetime, limit: int, defaults: Defaults
) -> Plan:
    """Every candidate of the network offered or excluded (never both), for ``cart`` at
    ``at``: options earliest first, exclusions nearest first, each capped at ``limit``."""
    rules = _Rules(network, cart, at, defaults)
    options: list[Option] = []
    excluded: list[Exclusion] = []
    # Candidates that a cheap test already excludes: counted, but their reasons (opening
    # hours walks, mostly) are listed only for those among the first ``limit`` exclusions.
    # Most express and delivery candidates are outside their area.
    deferred: list[Candidate] = []
    for candidate in network.candidates:
        if rules.surely_excluded(candidate):
            deferred.append(candidate)
            continue
        outcome = rules.evaluate(candidate)
        if isinstance(outcome, Option):
            options.append(outcome)
        else:
            excluded.append(Exclusion(candidate.site, candidate.mode, tuple(outcome)))
    options.sort(key=lambda option: option.sort_key)
    ranked = sorted(
        [(exclusion.sort_key, exclusion) for exclusion in excluded]
        + [(exclusion_key(c.site, c.mode), c) for c in deferred],
        key=lambda pair: pair[0],  # one key per (location, mode): never a tie
    )
    shown = [
        item if isinstance(item, Exclusion) else rules.exclusion(item) for _, item in ranked[:limit]
    ]
    return Plan(options[:limit], shown, len(ranked), len(options))


# -- the request, against the database ----------------------------------------------


@dataclass(frozen=True)
class OptionsRequest:
    lat: float
    lon: float
    cart: tuple[Line, ...]
    modes: tuple[str, ...]
    radius_m: float
    limit: int
    at: datetime | None = None  # None: now


def check_moment(at: datetime, now: datetime) -> None:
    """``at`` must lie between a day ago and 60 days ahead."""
    if not now - timedelta(days=MAX_AT_PAST_DAYS) <= at <= now + timedelta(days=MAX_AT_AHEAD_DAYS):
        raise InvalidInput(
            "at is out of range",
            field="at",
            message=f"must lie between {MAX_AT_PAST_DAYS} day ago and "
            f"{MAX_AT_AHEAD_DAYS} days ahead",
        )


def check_cart(cart: Sequence[Line], temperatures: Mapping[str, str]) -> None:
    """Every SKU must be a known product: an unknown one is a 400 naming its line."""
    unknown = [
        {"field": f"cart[{index}].sku", "message": f"unknown SKU {line.sku!r}"}
        for index, line in enumerate(cart)
        if line.sku not in temperatures
    ]
    if unknown:
        raise InvalidInput(f"{len(unknown)} unknown SKU(s) in the cart", errors=unknown)


def site_of(row: Mapping) -> Site:
    return Site(
        id=row["id"],
        external_id=row["external_id"],
        name=row["name"],
        kind=row["kind"],
        capabilities=frozenset(row["capabilities"]),
        timezone=row["timezone"],
        opening_hours=row["opening_hours"],
        country=row["country"],
        distance_m=row.get("distance_m", 0.0),
        row=row,
    )


def _settings(row: Mapping, defaults: Defaults) -> Settings:
    lead = row["lead_minutes"]
    return Settings(
        prep_minutes=row["prep_minutes"],
        cutoff=row["cutoff"],
        daily_capacity=row["daily_capacity"],
        departures=row["departures"],
        lead_minutes=defaults.lead_minutes if lead is None else lead,
    )


def find_options(
    connection: Connection,
    request: OptionsRequest,
    defaults: Defaults,
    express_speed_kmh: float,
    now: datetime,
) -> tuple[datetime, Plan]:
    """(the moment evaluated, the plan) for a request, from the primary's data.

    Stock, settings and capacity are read in one set-based query each, for every
    candidate and supplying warehouse at once, never per location or per line.
    """
    at = request.at or now
    check_moment(at, now)
    cart = request.cart
    products = sql.products(connection, [line.sku for line in cart])
    temperatures = {sku: product["temperature"] for sku, product in products.items()}
    check_cart(cart, temperatures)

    candidates: list[Candidate] = []
    for mode in request.modes:
        rows = sql.candidates(
            connection,
            request.lon,
            request.lat,
            request.radius_m,
            MODE_CAPABILITY[mode],
            None if mode == "pickup" else mode,
            MAX_FULFILMENT_CANDIDATES,
        )
        candidates += [Candidate(site_of(row), mode, row.get("covers", True)) for row in rows]
    network = gather_network(
        connection, request, candidates, temperatures, defaults, express_speed_kmh, now
    )
    result = plan(network, cart, at, request.limit, defaults)
    result.products = products
    return at, result


def gather_network(
    connection: Connection,
    request: OptionsRequest,
    candidates: list[Candidate],
    temperatures: Mapping[str, str],
    defaults: Defaults,
    express_speed_kmh: float,
    now: datetime,
    supplier_ids: frozenset[int] | None = None,
) -> Network:
    """What the rules read about ``candidates`` for ``request``: their supplying
    warehouses (only ``supplier_ids`` when given), stock available and capacity used at
    ``now``, settings and travel times."""
    at = request.at or now
    cart = request.cart
    pickup_ids = sorted({c.site.id for c in candidates if c.mode == "pickup"})
    suppliers: dict[int, list[Site]] = {}
    warehouses_by_id: dict[int, Site] = {}  # a warehouse supplies many points: one Site
    for row in sql.suppliers(connection, pickup_ids):
        if supplier_ids is None or row["id"] in supplier_ids:
            if row["id"] not in warehouses_by_id:
                warehouses_by_id[row["id"]] = site_of(row)
            suppliers.setdefault(row["supplied_id"], []).append(warehouses_by_id[row["id"]])
    sites = {c.site.id: c.site for c in candidates}
    for warehouses in suppliers.values():
        sites.update((w.id, w) for w in warehouses)
    settings = {
        key: _settings(row, defaults)
        for key, row in sql.fulfilment_settings(connection, sorted(sites)).items()
    }
    express_travel_s, supply_road_s = _road_seconds(
        connection, request, candidates, suppliers, express_speed_kmh
    )
    network = Network(
        candidates=candidates,
        suppliers=suppliers,
        available={},
        temperatures=temperatures,
        settings=settings,
        express_travel_s=express_travel_s,
        supply_road_s=supply_road_s,
    )
    return with_holdings(connection, network, cart, at, now)


def with_holdings(
    connection: Connection, network: Network, cart: Sequence[Line], at: datetime, now: datetime
) -> Network:
    """``network`` with the stock available and the capacity used read afresh at ``now``:
    the only parts that holds change (app/services/holds.py reads them again under its
    locks)."""
    ids = sorted(
        {c.site.id for c in network.candidates}
        | {w.id for warehouses in network.suppliers.values() for w in warehouses}
    )
    skus = sorted({line.sku for line in cart})
    first_day = (at - timedelta(days=1)).date()
    last_day = (at + HORIZON + timedelta(days=1)).date()
    return replace(
        network,
        available=sql.available_stock(connection, ids, skus, now),
        used_capacity=sql.used_capacity(connection, ids, first_day, last_day, now),
    )


def _road_seconds(
    connection: Connection,
    request: OptionsRequest,
    candidates: Sequence[Candidate],
    suppliers: Mapping[int, Sequence[Site]],
    speed_kmh: float,
) -> tuple[dict[int, float], dict[tuple[int, int], float]]:
    """(seconds from each express store to the origin, road seconds from each warehouse
    to each point it supplies), in one batch of road legs for the whole request.

    Express travel is by road when a network covers the trip, else the geodesic
    distance at the configured courier speed. A supply run the network does not cover
    is absent, and falls back to the warehouse's lead_minutes.
    """
    stores = [c.site for c in candidates if c.mode == "express" and c.covers]
    pickup_points = {c.site.id: c.site for c in candidates if c.mode == "pickup"}
    served: dict[int, Site] = {}  # warehouse id -> warehouse
    points: dict[int, dict[int, Site]] = {}  # warehouse id -> the points it supplies
    for point_id, warehouses in suppliers.items():
        point = pickup_points[point_id]
        for warehouse in warehouses:
            served[warehouse.id] = warehouse
            points.setdefault(warehouse.id, {})[point_id] = point
    batch = [
        roads.Spokes(
            (request.lat, request.lon),
            [(s.id, s.row["lat"], s.row["lon"]) for s in stores],
            direction="to_point",
        )
    ]
    batch += [
        roads.Spokes(
            (served[w].row["lat"], served[w].row["lon"]),
            [(p.id, p.row["lat"], p.row["lon"]) for p in points[w].values()],
        )
        for w in sorted(points)
    ]
    express_legs, *supply_legs = roads.road_legs_batch(connection, batch)
    metres_per_second = speed_kmh * 1000 / 3600
    express = {
        s.id: express_legs[s.id].duration_s
        if s.id in express_legs
        else s.distance_m / metres_per_second
        for s in stores
    }
    supply = {
        (w, p): leg.duration_s
        for w, legs in zip(sorted(points), supply_legs, strict=True)
        for p, leg in legs.items()
    }
    return express, supply


def location_stock(connection: Connection, external_id: str) -> list[dict]:
    """One location's stock lines (sku, on_hand); NotFound when there is no location."""
    location = sql.location_id(connection, external_id)
    if location is None:
        raise NotFound(
            f"no location with external_id {external_id!r}",
            field="external_id",
            message="no such location",
        )
    return sql.stock_lines(connection, location)
