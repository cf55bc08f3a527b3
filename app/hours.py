"""Opening hours: is a location open at a moment, and when does that change.

OSM opening_hours strings are evaluated by opening-hours-py in the location's own IANA
timezone, with its country's public holidays when the country is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours

# Changes further away than this are treated as "no change" (and evaluation stays fast).
MAX_LOOKAHEAD_DAYS = 366


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
    schedule = _schedule(hours, timezone, country)
    local = at.astimezone(ZoneInfo(timezone))
    state, _comment = schedule.state(local)
    is_open = None if state == opening_hours.State.UNKNOWN else state == opening_hours.State.OPEN
    return is_open, schedule.next_change(local)


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
