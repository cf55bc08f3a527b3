"""Opening hours: is a location open at a moment, and when does that change.

OSM opening_hours strings are evaluated by opening-hours-py in the location's own IANA
timezone, with its country's public holidays when the country is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
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
