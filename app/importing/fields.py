"""Field converters: a raw cell (a str from CSV, any JSON value from GeoJSON or the admin
API) in, the clean value out, or InvalidValue with a message meant for the caller.

They run for every one of a million rows, so they are plain functions, and the ones
whose inputs repeat a lot (opening hours, capabilities, countries, timezones) are cached:
each distinct value is worked out once.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import time as dt_time
from functools import cache, lru_cache

import opening_hours
from timezonefinder import TimezoneFinder

from app.geo import InvalidValue, parse_number
from app.hours import collection_times_as_hours
from app.importing.report import RowErrors
from app.limits import MAX_DRIVE_TIME_S, MAX_RADIUS_M, MIN_DRIVE_TIME_S, SKU_PATTERN
from app.models import (
    CAPABILITIES,
    EXTERNAL_ID_PATTERN,
    KINDS,
    SERVICE_AREA_MODES,
    STATUSES,
    TEMPERATURES,
)

MAX_TEXT_LENGTH = 500
MAX_LABEL_LENGTH = 200  # demand point labels (the demand_points check)
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)
_COUNTRY = re.compile(r"[A-Z]{2}")
_SKU = re.compile(SKU_PATTERN)
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


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


def choice(value: object, allowed: tuple[str, ...], default: str | None = None) -> str:
    text = optional_text(value) or default
    if text is None:
        raise InvalidValue("is required")
    if text not in allowed:
        raise InvalidValue(f"{text!r} is not one of {', '.join(allowed)}")
    return text


def kind(value: object) -> str:
    return choice(value, KINDS)


def status(value: object) -> str:
    return choice(value, STATUSES, default="active")


def mode(value: object) -> str:
    return choice(value, SERVICE_AREA_MODES)


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
def timezone_finder() -> TimezoneFinder:
    return TimezoneFinder(in_memory=True)


def timezone_for(value: object, lon: float, lat: float) -> str:
    """The given IANA zone if it exists, else the zone at the position."""
    text = optional_text(value)
    if text:
        if text not in _timezones():
            raise InvalidValue(f"{text!r} is not an IANA timezone")
        return text
    derived = timezone_finder().timezone_at(lng=lon, lat=lat)
    if not derived:
        raise InvalidValue("could not be derived from the position; give one")
    return derived


class FieldChecker:
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


def sku(value: object) -> str:
    text = required_text(value)
    if not _SKU.fullmatch(text):
        raise InvalidValue("must be 1-64 characters of A-Z a-z 0-9 . _ -")
    return text


def whole_number(value: object, low: int, high: int, required: bool) -> int | None:
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
    return whole_number(value, 0, 2**31 - 1, required=True)


def size(value: object) -> int | None:
    return whole_number(value, 1, 2**31 - 1, required=False)


def temperature(value: object) -> str:
    return choice(value, TEMPERATURES, default="ambient")


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


def demand_weight(value: object) -> float:
    """A point's weight: a finite number above 0."""
    weight = parse_number(required_text(value) if not isinstance(value, int | float) else value)
    if not weight > 0:
        raise InvalidValue("must be more than 0")
    return weight


def demand_label(value: object) -> str | None:
    text = optional_text(value)
    if text is not None and len(text) > MAX_LABEL_LENGTH:
        raise InvalidValue(f"is longer than {MAX_LABEL_LENGTH} characters")
    return text
