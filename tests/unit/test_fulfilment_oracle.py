"""The fulfilment rules against an independent brute-force evaluator.

The evaluator below knows the networks as plain data (open spans per weekday, departure
times per weekday) and simulates them minute by minute, in UTC minutes mapped to local
time one by one: a minute is open when its local weekday and time fall in a span and its
local date is not a public holiday the schedule closes on. Preparation counts open
minutes; cut-offs, capacity days and departures are read off the local clock of each
minute. The service (app/services/fulfilment.py) instead walks opening_hours intervals.

Hypothesis draws thousands of carts, networks and moments, derandomized so every run
is the same: moments on cut-off minutes and closing times, full capacity days,
weekends, public holidays, four timezones and their DST changes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import opening_hours
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.fulfilment import (
    MODES,
    Candidate,
    Defaults,
    Line,
    Network,
    Settings,
    Site,
    plan,
)

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
# (timezone, holiday country, a local date to start from, and what happens near it)
PLACES = [
    ("America/New_York", "US", date(2026, 3, 6)),  # DST starts Sunday 8 March
    ("America/New_York", "US", date(2026, 10, 30)),  # DST ends Sunday 1 November
    ("America/New_York", "US", date(2026, 11, 24)),  # Thanksgiving, Thursday 26 November
    ("Europe/Berlin", "DE", date(2026, 10, 1)),  # Unity Day, Saturday 3 October
    ("Europe/Berlin", "DE", date(2026, 10, 23)),  # DST ends Sunday 25 October
    ("Europe/Berlin", "DE", date(2026, 12, 23)),  # Christmas
    ("Australia/Sydney", "AU", date(2026, 4, 2)),  # Good Friday, DST ends 5 April
    ("Asia/Kolkata", None, date(2026, 6, 5)),  # +05:30, no DST, no holidays
]
WINDOW_DAYS = 12  # simulated: a day before the start, 3 days of moments, 7 ahead, slack
SKUS = {"amb": "ambient", "chl": "chilled", "frz": "frozen"}
NEEDS = {"chilled": "cold_chain", "frozen": "frozen"}
DEFAULTS = Defaults(prep_minutes=30, lead_minutes=120, express_promise_minutes=60)


# -- networks as data -------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    """Open spans (local minutes of the day) per weekday; None: hours unknown."""

    spans: tuple[tuple[tuple[int, int], ...], ...] | None
    holidays_off: bool = False

    def osm(self) -> str | None:
        if self.spans is None:
            return None
        rules = []
        for day, spans in zip(DAYS, self.spans, strict=True):
            text = ",".join(f"{_clock(a)}-{_clock(b)}" for a, b in spans) if spans else "off"
            rules.append(f"{day} {text}")
        if self.holidays_off:
            rules.append("PH off")
        return "; ".join(rules)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class Timetable:
    """Departure minutes of the local day per weekday."""

    times: tuple[tuple[int, ...], ...]

    def osm(self) -> str | None:
        rules = [
            f"{day} {','.join(_clock(m) for m in times)}"
            for day, times in zip(DAYS, self.times, strict=True)
            if times
        ]
        return "; ".join(rules) or None


# -- the brute-force evaluator ---------------------------------------------------------


class Clock:
    """Minute-by-minute local state of one schedule over the simulated window."""

    def __init__(self, week: Week, timezone: str, country: str | None, start: datetime):
        self.start = start
        self.local, weekday, of_day, ordinal = _local_grid(timezone, start)
        if week.spans is None:
            open_ = np.ones(len(self.local), dtype=np.int64)
        else:
            open_ = np.zeros(len(self.local), dtype=bool)
            for day, spans in enumerate(week.spans):
                for a, b in spans:
                    open_ |= (weekday == day) & (of_day >= a) & (of_day < b)
            if week.holidays_off:
                is_holiday = _holidays(country, timezone)
                for day_number in np.unique(ordinal):
                    if is_holiday(date.fromordinal(int(day_number))):
                        open_ &= ordinal != day_number
            open_ = open_.astype(np.int64)
        self.open = open_
        self.cumulative = np.cumsum(open_)  # open minutes in [0, i]
        self.weekday, self.of_day = weekday, of_day
        self.midnights = np.flatnonzero(np.diff(ordinal)) + 1  # first minutes of local days

    def minute(self, moment: datetime) -> int:
        return int((moment - self.start).total_seconds() // 60)

    def at(self, index: int) -> datetime:
        return self.start + timedelta(minutes=index)

    def prepared(self, start: int, prep: int, deadline: int) -> int | None:
        """First minute by which ``prep`` open minutes have passed since ``start``."""
        before = self.cumulative[start - 1] if start > 0 else 0
        if prep == 0:
            index = int(np.searchsorted(self.cumulative, before + 1))  # first open minute
            done = index
        else:
            done = int(np.searchsorted(self.cumulative, before + prep)) + 1
        return done if done <= deadline else None

    def day(self, index: int) -> date:
        return self.local[index].date()

    def next_midnight(self, index: int) -> int:
        """The first minute of the next local day."""
        return int(self.midnights[np.searchsorted(self.midnights, index, side="right")])

    def departures(self, timetable: Timetable | None, packed: int, deadline: int) -> list[int]:
        """Minutes at or after ``packed`` when a run leaves: the timetable's, or (with
        none) ``packed`` itself and then every local midnight."""
        if timetable is None:
            later = self.midnights[(self.midnights > packed) & (self.midnights <= deadline)]
            return [packed, *map(int, later)]
        leaves = np.zeros(len(self.local), dtype=bool)
        for day, times in enumerate(timetable.times):
            for minute in times:
                leaves |= (self.weekday == day) & (self.of_day == minute)
        return [int(i) + packed for i in np.flatnonzero(leaves[packed : deadline + 1])]


@lru_cache(maxsize=16)
def _local_grid(timezone: str, start: datetime):
    """Each simulated UTC minute in local time: the datetimes, and as arrays their
    weekday, minute of the day and date (ordinal)."""
    zone = ZoneInfo(timezone)
    local = [(start + timedelta(minutes=i)).astimezone(zone) for i in range(WINDOW_DAYS * 1440)]
    weekday = np.array([moment.weekday() for moment in local])
    of_day = np.array([moment.hour * 60 + moment.minute for moment in local])
    ordinal = np.array([moment.toordinal() for moment in local])
    return local, weekday, of_day, ordinal


@lru_cache(maxsize=64)
def _holidays(country: str, timezone: str):
    calendar = opening_hours.OpeningHours("PH", timezone=ZoneInfo(timezone), country=country)

    @lru_cache(maxsize=64)
    def is_holiday(day: date) -> bool:
        return calendar.is_open(datetime.combine(day, time(12), tzinfo=ZoneInfo(timezone)))

    return is_holiday


@dataclass
class Place:
    timezone: str
    country: str | None
    start: datetime  # the window's first minute (UTC)


class Oracle:
    """§4.5 in straightforward form, over Clocks."""

    def __init__(self, case, place: Place):
        self.case = case
        self.place = place
        self.clocks = {}

    def clock(self, site) -> Clock:
        if site["id"] not in self.clocks:
            self.clocks[site["id"]] = _clock_for(
                site["week"], self.place.timezone, self.place.country, self.place.start
            )
        return self.clocks[site["id"]]

    def setting(self, site, mode) -> Settings:
        return site["settings"].get(mode) or DEFAULTS.settings(mode)

    def start(self, site, setting: Settings, index: int) -> int:
        clock = self.clock(site)
        local = clock.local[index]
        if setting.cutoff is not None and (local.hour, local.minute) > (
            setting.cutoff.hour,
            setting.cutoff.minute,
        ):
            return clock.next_midnight(index)
        return index

    def room(self, site, mode, setting: Settings, day: date) -> bool:
        if setting.daily_capacity is None:
            return True
        return self.case["used"].get((site["id"], mode, day), 0) < setting.daily_capacity

    def ready(self, site, mode, index: int, deadline: int):
        clock = self.clock(site)
        setting = self.setting(site, mode)
        start = self.start(site, setting, index)
        rolled = False
        while True:
            done = clock.prepared(start, setting.prep_minutes, deadline)
            if done is None:
                return None, "capacity_full" if rolled else "closed"
            if self.room(site, mode, setting, clock.day(done)):
                return done, None
            rolled = True
            start = clock.next_midnight(done)

    def temperature(self, site, lines):
        needs = sorted({NEEDS[SKUS[sku]] for sku, _ in lines if SKUS[sku] in NEEDS})
        return [{"code": "temperature", "needs": n} for n in needs if n not in site["caps"]]

    def lacking(self, site, lines):
        return [(sku, qty) for sku, qty in lines if site["stock"].get(sku, 0) < qty]

    def transferred(self, warehouse, site, at, deadline):
        clock = self.clock(warehouse)
        supply = self.setting(warehouse, "supply")
        packed = clock.prepared(self.start(warehouse, supply, at), supply.prep_minutes, deadline)
        if packed is None:
            return None, "closed"
        full = False
        for departure in clock.departures(warehouse["timetable"], packed, deadline):
            if not self.room(warehouse, "supply", supply, clock.day(departure)):
                full = True
                continue
            arrival = departure + self.case["roads"].get(
                (warehouse["id"], site["id"]), supply.lead_minutes
            )
            if arrival > deadline:
                break
            return self.ready(site, "pickup", arrival, deadline)
        return None, "capacity_full" if full else "closed"

    def pickup(self, site, at, deadline):
        lines = self.case["cart"]
        reasons = self.temperature(site, lines)
        own, own_failure = self.ready(site, "pickup", at, deadline)
        lacking = self.lacking(site, lines)
        transfer = None
        if lacking:
            results, failures = [], []
            for warehouse in self.case["suppliers"].get(site["id"], []):
                if self.lacking(warehouse, lacking) or self.temperature(warehouse, lacking):
                    continue
                done, failure = self.transferred(warehouse, site, at, deadline)
                if done is None:
                    failures.append(failure)
                else:
                    results.append((done, warehouse["external_id"]))
            if results:
                transfer = min(results)
            else:
                reasons.append({"code": "out_of_stock", "skus": [sku for sku, _ in lacking]})
                if not failures:
                    reasons.append({"code": "not_supplied"})
                elif own_failure is None:
                    reasons.append(
                        {"code": "capacity_full" if "capacity_full" in failures else "closed"}
                    )
        if own_failure:
            reasons.append({"code": own_failure})
        if reasons:
            return reasons
        if transfer:
            return ("transfer", transfer[0], None, transfer[1])
        return ("stock", own, None, None)

    def express(self, site, covers, at):
        lines = self.case["cart"]
        reasons = self.temperature(site, lines)
        if not covers:
            reasons.append({"code": "outside_area"})
        lacking = self.lacking(site, lines)
        if lacking:
            reasons.append({"code": "out_of_stock", "skus": [sku for sku, _ in lacking]})
        clock = self.clock(site)
        setting = self.setting(site, "express")
        is_open = bool(clock.open[at])
        before = self.start(site, setting, at) == at
        if not is_open:
            reasons.append({"code": "closed"})
        if not before:
            reasons.append({"code": "after_cutoff"})
        if not (is_open and before):
            return reasons
        promise = at + DEFAULTS.express_promise_minutes
        done = clock.prepared(at, setting.prep_minutes, promise)
        travel = self.case["travel"].get(site["id"], 0) if covers else 0
        if done is None:
            reasons.append({"code": "too_slow"})
        elif not self.room(site, "express", setting, clock.day(done)):
            reasons.append({"code": "capacity_full"})
        elif done * 60 + travel > promise * 60:
            reasons.append({"code": "too_slow"})
        if reasons:
            return reasons
        return ("stock", done, done * 60 + travel, None)

    def delivery(self, site, covers, at, deadline):
        lines = self.case["cart"]
        reasons = self.temperature(site, lines)
        if not covers:
            reasons.append({"code": "outside_area"})
        lacking = self.lacking(site, lines)
        if lacking:
            reasons.append({"code": "out_of_stock", "skus": [sku for sku, _ in lacking]})
        done, failure = self.ready(site, "delivery", at, deadline)
        if failure:
            reasons.append({"code": failure})
        return reasons or ("stock", done, None, None)


@lru_cache(maxsize=256)
def _clock_for(week: Week, timezone: str, country: str | None, start: datetime) -> Clock:
    return Clock(week, timezone, country, start)


# -- generated cases -------------------------------------------------------------------

_SPAN_CHOICES = [
    (),
    ((420, 1320),),
    ((540, 1020),),
    ((480, 720), (780, 1140)),
    ((0, 1440),),
    ((360, 1410),),
]


def _week_pool() -> list[Week]:
    """Hours unknown, 24/7, and weeks of mixed days, with and without 'PH off'."""
    rng = random.Random(7)
    pool = [Week(None), Week((((0, 1440),),) * 7), Week((((420, 1320),),) * 7, True)]
    for _ in range(60):
        pool.append(Week(tuple(rng.choice(_SPAN_CHOICES) for _ in DAYS), rng.random() < 0.5))
    return pool


# Drawn from fixed pools: one choice each, so generating a case stays cheap.
WEEKS = st.sampled_from(_week_pool())
STOCKS = st.sampled_from(
    [
        {},
        {"amb": 5},
        {"amb": 5, "chl": 5},
        {"amb": 5, "chl": 5, "frz": 5},
        {"amb": 5, "chl": 5, "frz": 5},
        {"amb": 5, "chl": 5, "frz": 5},
        {"chl": 2, "frz": 1},
        {"amb": 1, "chl": 5, "frz": 5},
        {"amb": 5, "frz": 5},
        {"amb": 2, "chl": 1, "frz": 2},
        {"amb": 0, "chl": 5},
    ]
)
CAPABILITY_SETS = st.sampled_from(
    [frozenset(), frozenset({"cold_chain"}), *[frozenset({"cold_chain", "frozen"})] * 3]
)
CUTOFFS = st.sampled_from([None, time(9, 0), time(12, 30), time(19, 0), time(21, 0)])
TIMETABLES = st.one_of(
    st.none(),
    st.builds(
        Timetable,
        st.tuples(
            *[st.sampled_from([(), (540,), (540, 900), (360, 840), (1200,)])] * 5,
            st.sampled_from([(), (480,)]),
            st.just(()),
        ),
    ),
)


@st.composite
def settings_for(draw, mode):
    if not draw(st.booleans()):
        return None
    return Settings(
        prep_minutes=draw(st.sampled_from([0, 5, 20, 45, 180, 600])),
        cutoff=draw(CUTOFFS),
        daily_capacity=draw(st.sampled_from([None, None, 0, 1, 2])),
        lead_minutes=draw(st.sampled_from([0, 30, 90, 600])) if mode == "supply" else 0,
    )


@st.composite
def sites(draw, ident, warehouse=False):
    modes = ("supply",) if warehouse else ("pickup", "express", "delivery")
    return {
        "id": ident,
        "external_id": f"{'w' if warehouse else 's'}{ident:02d}",
        "week": draw(WEEKS),
        "caps": draw(CAPABILITY_SETS),
        "stock": draw(STOCKS),
        "settings": {
            mode: value for mode in modes if (value := draw(settings_for(mode))) is not None
        },
        "timetable": draw(TIMETABLES) if warehouse else None,
        "distance_m": draw(st.integers(10, 20_000)),
    }


@st.composite
def cases(draw):
    timezone, country, first_day = draw(st.sampled_from(PLACES))
    zone = ZoneInfo(timezone)
    window_start = datetime.combine(first_day - timedelta(days=1), time(0), tzinfo=zone)
    points = [draw(sites(i)) for i in range(1, draw(st.integers(1, 3)) + 1)]
    warehouses = [draw(sites(10 + i, warehouse=True)) for i in range(draw(st.integers(0, 3)))]
    cart = sorted(
        (sku, draw(st.integers(1, 2)))
        for sku in draw(st.sets(st.sampled_from(sorted(SKUS)), min_size=1))
    )
    # Moments: any minute of three days, or exactly on a cut-off or a closing time.
    day = first_day + timedelta(days=draw(st.integers(0, 2)))
    edge = draw(
        st.one_of(
            st.integers(0, 1439),
            st.sampled_from(
                [
                    539,
                    540,
                    541,
                    749,
                    750,
                    751,
                    1139,
                    1140,
                    1141,
                    1259,
                    1260,
                    1261,
                    1319,
                    1320,
                    1321,
                    1409,
                    1410,
                ]
            ),
        )
    )
    at = datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=edge)
    at = at.astimezone(UTC).astimezone(zone)  # a real local time (DST gaps resolved)
    days = [first_day + timedelta(days=i) for i in range(-1, 11)]
    used = {}
    for site in points + warehouses:
        full_days = draw(st.sets(st.sampled_from(days), max_size=4))
        for mode, value in site["settings"].items():
            for day in full_days if value.daily_capacity else ():
                used[(site["id"], mode, day)] = value.daily_capacity  # a full day
    return {
        "timezone": timezone,
        "country": country,
        "window_start": window_start.astimezone(UTC),
        "points": points,
        "suppliers": {p["id"]: [w for w in warehouses if draw(st.booleans())] for p in points},
        "cart": cart,
        "at": at,
        "used": used,
        "covers": {(p["id"], m): draw(st.booleans()) for p in points for m in MODES[1:]},
        "travel": {p["id"]: draw(st.sampled_from([0, 300, 1800, 3500])) for p in points},
        # Supply runs a road network times (whole minutes, in place of lead_minutes).
        "roads": {
            (w["id"], p["id"]): minutes
            for w in warehouses
            for p in points
            if (minutes := draw(st.sampled_from([None, 7, 45, 200]))) is not None
        },
    }


def _site(data, case) -> Site:
    return Site(
        id=data["id"],
        external_id=data["external_id"],
        name=data["external_id"],
        kind="warehouse" if data["id"] >= 10 else "store",
        capabilities=data["caps"] | {"pickup", "express_delivery", "delivery"},
        timezone=case["timezone"],
        opening_hours=data["week"].osm(),
        country=case["country"],
        distance_m=float(data["distance_m"]),
    )


def _network(case) -> Network:
    everyone = case["points"] + [w for ws in case["suppliers"].values() for w in ws]
    settings = {}
    for data in everyone:
        for mode, value in data["settings"].items():
            if mode == "supply" and data["timetable"] is not None:
                value = Settings(
                    value.prep_minutes,
                    value.cutoff,
                    value.daily_capacity,
                    data["timetable"].osm(),
                    value.lead_minutes,
                )
            settings[(data["id"], mode)] = value
        if data["timetable"] is not None and "supply" not in data["settings"]:
            default = DEFAULTS.settings("supply")
            settings[(data["id"], "supply")] = Settings(
                default.prep_minutes, None, None, data["timetable"].osm(), default.lead_minutes
            )
    candidates = [
        Candidate(_site(p, case), mode, case["covers"].get((p["id"], mode), True))
        for mode in MODES
        for p in case["points"]
    ]
    return Network(
        candidates=candidates,
        suppliers={pid: [_site(w, case) for w in ws] for pid, ws in case["suppliers"].items()},
        available={
            (data["id"], sku): qty for data in everyone for sku, qty in data["stock"].items()
        },
        temperatures=SKUS,
        settings=settings,
        used_capacity=case["used"],
        express_travel_s={
            p["id"]: float(case["travel"][p["id"]])
            for p in case["points"]
            if case["covers"][(p["id"], "express")]
        },
        supply_road_s={pair: 60.0 * minutes for pair, minutes in case["roads"].items()},
    )


def _warehouse_settings_with_timetable(case):
    """The oracle reads the same settings the service gets (timetable defaults too)."""
    for ws in case["suppliers"].values():
        for w in ws:
            if w["timetable"] is not None and "supply" not in w["settings"]:
                w["settings"]["supply"] = DEFAULTS.settings("supply")


def _expected(case):
    _warehouse_settings_with_timetable(case)
    place = Place(case["timezone"], case["country"], case["window_start"])
    oracle = Oracle(case, place)
    any_clock = _clock_for(Week(None), place.timezone, place.country, place.start)
    at = any_clock.minute(case["at"].astimezone(UTC))
    deadline = at + 7 * 1440
    outcome = {}
    for mode in MODES:
        for site in case["points"]:
            covers = case["covers"].get((site["id"], mode), True)
            if mode == "pickup":
                result = oracle.pickup(site, at, deadline)
            elif mode == "express":
                result = oracle.express(site, covers, at)
            else:
                result = oracle.delivery(site, covers, at, deadline)
            if isinstance(result, tuple):
                source, ready, arrive_s, supplier = result
                outcome[(site["external_id"], mode)] = (
                    source,
                    any_clock.at(ready),
                    None if arrive_s is None else place.start + timedelta(seconds=arrive_s),
                    supplier,
                )
            else:
                outcome[(site["external_id"], mode)] = sorted(json.dumps(r) for r in result)
    return outcome


@settings(
    max_examples=2000,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
def test_service_agrees_with_the_minute_by_minute_oracle(case):
    expected = _expected(case)
    result = plan(_network(case), [Line(s, q) for s, q in case["cart"]], case["at"], 100, DEFAULTS)
    got = {}
    for option in result.options:
        got[(option.site.external_id, option.mode)] = (
            option.source,
            option.ready_at,
            option.arrive_by,
            option.supplied_from.external_id if option.supplied_from else None,
        )
    for exclusion in result.excluded:
        key = (exclusion.site.external_id, exclusion.mode)
        assert key not in got, f"{key} both offered and excluded"
        got[key] = sorted(json.dumps(r) for r in exclusion.reasons)
    assert expected, "the oracle evaluated no candidate"
    assert got == expected, _differences(case, got, expected)
    # A transfer's duration_s is its run: by road where timed, else the lead time.
    warehouses = {w["external_id"]: w for ws in case["suppliers"].values() for w in ws}
    for option in result.options:
        if option.source == "transfer":
            warehouse = warehouses[option.supplied_from.external_id]
            lead = warehouse["settings"].get("supply", DEFAULTS.settings("supply")).lead_minutes
            minutes = case["roads"].get((warehouse["id"], option.site.id), lead)
            assert option.duration_s == 60 * minutes
    # A smaller limit shows the first options and exclusions of the same answer, with
    # the same totals (the service lists reasons only for the exclusions it shows).
    capped = plan(_network(case), [Line(s, q) for s, q in case["cart"]], case["at"], 3, DEFAULTS)
    assert capped.options == result.options[:3]
    assert capped.excluded == result.excluded[:3]
    assert (capped.options_total, capped.excluded_total) == (
        result.options_total,
        result.excluded_total,
    )
    # Earliest first, then distance, mode, external_id.
    keys = [o.sort_key for o in result.options]
    assert keys == sorted(keys)


def _differences(case, got, expected) -> str:
    """What differs, with the schedule and settings of each location concerned."""
    sites = {s["external_id"]: s for s in case["points"]}
    lines = [f"at {case['at'].isoformat()} in {case['timezone']} ({case['country']})"]
    for key in sorted(set(got) | set(expected)):
        if got.get(key) != expected.get(key):
            site = sites[key[0]]
            lines.append(
                f"{key}: service {got.get(key)} oracle {expected.get(key)}; "
                f"hours {site['week'].osm()!r}, settings {site['settings']}"
            )
    return "\n".join(lines)
