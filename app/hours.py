"""Opening hours: is a location open at a moment, and when does that change.

OSM opening_hours strings are evaluated by opening-hours-py in the location's own IANA
timezone, with its country's public holidays when the country is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours

# Changes further away than this are treated as "no change" (and evaluation stays fast).
MAX_LOOKAHEAD_DAYS = 366


# (hours, timezone, country) -> (evaluated at, valid until, is_open, next_change).
# Dict reads and writes are atomic under the GIL: threads may race only to recompute.
_states: dict[tuple, tuple] = {}
MAX_CACHED_STATES = 65_536


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=4096)
def _schedule(hours: str, timezone: str, country: str | None) -> opening_hours.OpeningHours:
    try:
        return opening_hours.OpeningHours(
            hours,
            timezone=ZoneInfo(timezone),
            country=country,
            max_interval_days=MAX_LOOKAHEAD_DAYS,
        )
    except opening_hours.UnknownCountryError:
        # No holiday calendar for this country: evaluate without public holidays.
        return opening_hours.OpeningHours(
            hours, timezone=ZoneInfo(timezone), max_interval_days=MAX_LOOKAHEAD_DAYS
        )


def open_state(
    hours: str | None, timezone: str, country: str | None, status: str, at: datetime
) -> tuple[bool | None, datetime | None]:
    """(is_open, next_change) at the aware datetime ``at``, in the location's timezone.

    Unknown hours give (None, None); a location that is not active is closed, with no
    scheduled change.
    """
    if status != "active":
        return False, None
    if not hours:
        return None, None
    key = (hours, timezone, country)
    known = _states.get(key)
    # The state holds from when it was evaluated until its next change: a request in
    # that span (most are: "now" moves by seconds, shops change by hours) reuses it.
    if known is not None and known[0] <= at < known[1]:
        return known[2], known[3]
    schedule = _schedule(hours, timezone, country)
    local = at.astimezone(_zone(timezone))
    state, _comment = schedule.state(local)
    is_open = None if state == opening_hours.State.UNKNOWN else state == opening_hours.State.OPEN
    next_change = schedule.next_change(local)
    if len(_states) >= MAX_CACHED_STATES:
        _states.clear()  # rarely: more distinct schedules than this in one process
    # No change within the look-ahead: the answer stands for that long.
    until = next_change or at + timedelta(days=MAX_LOOKAHEAD_DAYS)
    _states[key] = (at, until, is_open, next_change)
    return is_open, next_change


def location_open_state(location: Mapping, at: datetime) -> tuple[bool | None, datetime | None]:
    """open_state for a location row (opening_hours, timezone, country, status)."""
    return open_state(
        location["opening_hours"],
        location["timezone"],
        location.get("country"),
        location["status"],
        at,
    )


def add_open_state(location: dict, at: datetime) -> dict:
    """Set a location row's is_open and next_change at ``at``; return the row."""
    location["is_open"], location["next_change"] = location_open_state(location, at)
    return location


def open_intervals(
    hours: str, timezone: str, country: str | None, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The open spans of a schedule between ``start`` and ``end``, as UTC datetimes.

    Clipped to [start, end). UTC, because adding a timedelta to a zoneinfo datetime is
    wall-clock arithmetic: across a DST change it would be an hour off.

    The library is asked from a few hours earlier to a few hours later and its answer
    clipped: given a moment in the hour a DST change repeats, it takes the moment for
    the second occurrence of that hour (an hour late when it was the first one).
    """
    zone = _zone(timezone)
    schedule = _schedule(hours, timezone, country)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    for begin, finish, state, _comment in schedule.intervals(
        (start - _DST_MARGIN).astimezone(zone), (end + _DST_MARGIN).astimezone(zone)
    ):
        if state != opening_hours.State.OPEN:
            continue
        begin, finish = max(begin.astimezone(UTC), start), min(finish.astimezone(UTC), end)
        if begin < finish:
            yield begin, finish
        if finish >= end:
            return


# More than any DST shift (at most two hours, in Antarctica's Troll station).
_DST_MARGIN = timedelta(hours=3)


# A time of day that is not the start or end of a range: a point in time, as OSM's
# collection_times lists them ("Mo-Fr 09:00,15:00; Sa 08:00").
_TIME_POINT = re.compile(r"(?<![-:\d])(\d{2}):(\d{2})(?![-:+\d])")


def collection_times_as_hours(departures: str) -> str:
    """OSM collection_times (points in time) as opening_hours spans of one minute each.

    opening-hours-py reads spans, not points; ``09:00`` becomes ``09:00-09:01``, so the
    library still evaluates the day selectors, holidays and timezone, and every minute
    of an open span is a departure. Raises ValueError when it is not that syntax.
    """
    if re.search(r"\d:\d{2}\s*-", departures):
        raise ValueError("collection times are points in time (HH:MM), not ranges")

    def span(match: re.Match) -> str:
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            raise ValueError(f"{match[0]} is not a time of day")
        after = hour * 60 + minute + 1
        return f"{match[0]}-{after // 60:02d}:{after % 60:02d}"

    converted = _TIME_POINT.sub(span, departures)
    if converted == departures or not opening_hours.validate(converted):
        raise ValueError(f"not valid OSM collection_times syntax: {departures!r}")
    return converted


def departures_from(
    departures: str, timezone: str, country: str | None, start: datetime, end: datetime
) -> Iterator[datetime]:
    """Every departure (a whole minute, UTC) at or after ``start`` and before ``end``."""
    minute = timedelta(minutes=1)
    hours = collection_times_as_hours(departures)
    for begin, finish in open_intervals(hours, timezone, country, start, end):
        # Departures fall on whole minutes; an order ready at 09:00:30 misses 09:00.
        at = begin.replace(second=0, microsecond=0)
        if at < begin:
            at += minute
        while at < finish:
            yield at
            at += minute
