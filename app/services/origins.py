"""Where a search starts: coordinates as given, or a place found by the geocoder."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from app.errors import AmbiguousOrigin, OriginNotFound
from app.geocoding import ExternalGeocoder, geocode


@dataclass(frozen=True)
class Origin:
    lat: float
    lon: float
    source: str  # "coordinates" or "geocoder"
    label: str | None = None

    def as_dict(self) -> dict:
        return {"lat": self.lat, "lon": self.lon, "source": self.source, "label": self.label}


def resolve_origin(
    connection: Connection,
    *,
    lat: float | None,
    lon: float | None,
    q: str | None,
    external: ExternalGeocoder | None = None,
) -> Origin:
    """The origin from lat/lon, or from the best gazetteer match for ``q``.

    No match raises OriginNotFound; several equally good places the network cannot tell
    apart raise AmbiguousOrigin with the candidates, rather than guessing.
    """
    if q is None:
        return Origin(lat, lon, "coordinates")
    result = geocode(connection, q, external=external)
    if not result.candidates:
        raise OriginNotFound(
            f"no place or postcode matches {q!r}", field="q", message="no match in the gazetteer"
        )
    if result.ambiguous:
        raise AmbiguousOrigin(
            f"{q!r} matches several places; choose one and search by lat/lon",
            field="q",
            message="ambiguous: see candidates",
            extra={"candidates": [c.as_dict() for c in result.candidates]},
        )
    best = result.candidates[0]
    return Origin(best.lat, best.lon, "geocoder", best.label)
