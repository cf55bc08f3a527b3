"""Coverage: who serves a point, the service areas of a network, and how well a region is
covered. The planner's page and the API share these, so a figure is computed one way."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection

from app.errors import NotFound
from app.geo import bbox_polygon, metres_to_degrees
from app.limits import DEFAULT_SERVICE_AREAS
from app.paging import NOT_IN_CURSOR
from app.queries import coverage as sql


def served_by(
    connection: Connection, points: list[tuple[float, float]], modes: list[str], limit: int
) -> list[dict]:
    """For each (lon, lat): ``covered``, the ``modes`` that serve it, ``served_by_total``
    and the nearest ``limit`` serving areas (``served_by``), in one statement."""
    return [
        {
            "covered": answer["total"] > 0,
            "modes": answer["modes"],
            "served_by_total": answer["total"],
            "served_by": answer["served_by"],
        }
        for answer in sql.served_by(connection, points, modes, limit)
    ]


@dataclass(frozen=True)
class ServiceAreaSearch:
    """Filters of a /service-areas listing; every field but ``limit`` is in the cursor."""

    location_external_id: str | None
    modes: tuple[str, ...]
    bbox: tuple[float, float, float, float] | None
    simplify_m: float = 0.0
    limit: int = field(default=DEFAULT_SERVICE_AREAS, metadata=NOT_IN_CURSOR)


@dataclass
class ServiceAreaPage:
    features: list[dict]
    number_matched: int
    next_after: tuple[int] | None


def service_areas(
    connection: Connection, search: ServiceAreaSearch, after: tuple[int] | None = None
) -> ServiceAreaPage:
    """A page of service areas as GeoJSON features (geometry parsed) by id, after the
    id in ``after``, with how many match in all."""
    bbox_wkb = bbox_polygon(search.bbox).wkb if search.bbox else None
    rows = sql.service_areas(
        connection,
        location_external_id=search.location_external_id,
        modes=list(search.modes),
        bbox_wkb=bbox_wkb,
        simplify_deg=metres_to_degrees(search.simplify_m),
        limit=search.limit + 1,
        after_id=after[0] if after else None,
    )
    page = rows[: search.limit]
    features = [
        {
            "type": "Feature",
            "id": row.pop("id"),
            "geometry": orjson.loads(row.pop("geometry")),
            "properties": row,
        }
        for row in page
    ]
    matched = sql.count_service_areas(
        connection,
        location_external_id=search.location_external_id,
        modes=list(search.modes),
        bbox_wkb=bbox_wkb,
    )
    more = len(rows) > search.limit
    return ServiceAreaPage(features, matched, (features[-1]["id"],) if more else None)


def display_areas(
    connection: Connection,
    *,
    location_external_id: str | None,
    modes: list[str],
    bbox: tuple[float, float, float, float] | None,
    simplify_deg: float,
    limit: int,
) -> list[dict]:
    """Service-area rows for a map (geometry as a GeoJSON string, as folium takes it)."""
    return sql.service_areas(
        connection,
        location_external_id=location_external_id,
        modes=modes,
        bbox_wkb=bbox_polygon(bbox).wkb if bbox else None,
        simplify_deg=simplify_deg,
        limit=limit,
    )


def summary(
    connection: Connection,
    *,
    region_id: str | None,
    bbox: tuple[float, float, float, float] | None,
    modes: list[str],
    simplify_deg: float,
    work_tolerance_deg: float = 0.0,
) -> dict[str, dict]:
    """Per mode: the target's geodesic area, the covered area and share, the overlaps and
    the gaps (GeoJSON). An unknown region raises NotFound."""
    result = {}
    for mode in modes:
        row = sql.coverage_of(
            connection,
            region_id=region_id,
            bbox_wkb=bbox_polygon(bbox).wkb if bbox else None,
            mode=mode,
            simplify_deg=simplify_deg,
            work_tolerance_deg=work_tolerance_deg,
        )
        if row is None:
            raise NotFound(f"no region {region_id!r}", field="region", message="unknown region_id")
        result[mode] = {
            "area_m2": row["total_m2"],
            "covered_m2": row["covered_m2"],
            "covered_share": covered_share(row["covered_m2"], row["total_m2"]),
            "overlap_m2": row["overlap_m2"],
            "locations": row["locations"],
            "uncovered": orjson.loads(row["uncovered"]),
            "overlaps": orjson.loads(row["overlaps"]),
        }
    return result


def covered_share(covered_m2: float, total_m2: float) -> float:
    """covered / total in 0..1 (0 for a target of no area). The union of the clipped areas
    lies within the target, but GEOS rounds the points where it cuts, so the two areas
    may differ by a few square metres the wrong way."""
    return min(1.0, covered_m2 / total_m2) if total_m2 > 0 else 0.0


def regions(connection: Connection) -> list[dict]:
    return sql.regions(connection)
