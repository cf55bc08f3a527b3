"""Pages for planners: service areas, coverage and gaps on a server-rendered map.

Also serves Leaflet itself (from the pinned XStatic-Leaflet package), so no page needs a
CDN; ``map_assets()`` gives any page the local URLs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import xstatic.pkg.leaflet
from flask import Blueprint, current_app, render_template, request, send_from_directory, url_for

from app import maps
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.geo import metres_to_degrees
from app.limits import MAX_MARKERS, MAX_SERVICE_AREAS
from app.models import KINDS, SERVICE_AREA_MODES
from app.security import allow_inline_scripts
from app.services import coverage, locations

bp = Blueprint("planner", __name__, template_folder="templates")

# Display only: ~30 m is below what a screen shows at city zoom, and it cuts the
# vertices of radius circles (128 each) enough that 5,000 areas stay responsive.
DISPLAY_TOLERANCE_DEG = metres_to_degrees(30)
# Beyond MAX_SERVICE_AREAS areas or MAX_MARKERS markers a browser struggles; the page
# says when it cut.
SHOWN_STATUSES = frozenset({"active", "temporarily_closed"})

LEAFLET_DIR = xstatic.pkg.leaflet.BASE_DIR
LEAFLET_VERSION = xstatic.pkg.leaflet.VERSION


@bp.get("/vendor/leaflet/<version>/<path:filename>")
def leaflet_asset(version: str, filename: str):
    """Leaflet's JS, CSS and images; the version in the URL lets browsers cache for long."""
    if version != LEAFLET_VERSION:
        raise NotFound(f"Leaflet {version} is not served here", field="version")
    return send_from_directory(LEAFLET_DIR, filename, max_age=365 * 24 * 3600)


def map_assets() -> maps.MapAssets:
    """The app's own URLs for everything a folium map loads."""
    return maps.MapAssets(
        leaflet_js=url_for("planner.leaflet_asset", version=LEAFLET_VERSION, filename="leaflet.js"),
        leaflet_css=url_for(
            "planner.leaflet_asset", version=LEAFLET_VERSION, filename="leaflet.css"
        ),
    )


def tiles() -> maps.Tiles:
    """The configured base layer (none when TILE_URL is empty)."""
    config = current_app.config
    return maps.Tiles(url=config["TILE_URL"], attribution=config["TILE_ATTRIBUTION"])


def location_url(external_id: str) -> str:
    return url_for("planner.location_page", external_id=external_id)


@bp.get("/planner")
@allow_inline_scripts  # folium writes the map's setup as inline scripts
def planner():
    """Service areas per mode, the selected region's gaps and its locations on one map.

    ``?region=<region_id>`` (default: the first region by name) and repeatable
    ``?mode=`` (default: every mode).
    """
    modes = _selected_modes(request.args.getlist("mode"))
    connection = db.connection()
    regions = coverage.regions(connection)
    region = _selected_region(regions, request.args.get("region", ""))
    bbox = maps.bbox_of([region["geometry"]]) if region else None

    areas = coverage.display_areas(
        connection,
        location_external_id=None,
        modes=modes,
        bbox=bbox,
        simplify_deg=DISPLAY_TOLERANCE_DEG,
        limit=MAX_SERVICE_AREAS + 1,
    )
    page = locations.list_locations(
        connection,
        locations.LocationSearch(
            kinds=frozenset(KINDS), statuses=SHOWN_STATUSES, bbox=bbox, limit=MAX_MARKERS
        ),
    )
    markers = page.results
    summaries = {}
    if region:
        summaries = coverage.summary(
            connection,
            region_id=region["region_id"],
            bbox=None,
            modes=modes,
            simplify_deg=DISPLAY_TOLERANCE_DEG,
            # A map's figures need not be exact to the metre: simplifying the areas first
            # makes the unions several times faster with thousands of areas.
            work_tolerance_deg=DISPLAY_TOLERANCE_DEG,
        )
    fmap = maps.planner_map(
        region=region,
        service_areas=areas[:MAX_SERVICE_AREAS],
        locations=markers,
        coverage=summaries,
        modes=modes,
        assets=map_assets(),
        tiles=tiles(),
        at=datetime.now(UTC),
        location_url=location_url,
    )
    return render_template(
        "planner.html",
        parts=maps.render_parts(fmap),
        regions=regions,
        region=region,
        all_modes=SERVICE_AREA_MODES,
        modes=modes,
        mode_colours=maps.MODE_COLOURS,
        mode_labels=maps.MODE_LABELS,
        summaries=summaries,
        area_count=min(len(areas), MAX_SERVICE_AREAS),
        areas_cut=len(areas) > MAX_SERVICE_AREAS,
        marker_count=len(markers),
        markers_cut=page.next_after is not None,
        max_areas=MAX_SERVICE_AREAS,
        max_markers=MAX_MARKERS,
    )


@bp.get("/locations/<external_id>")
@allow_inline_scripts
def location_page(external_id: str):
    """One location: its details, and its service areas on a map."""
    connection = db.connection()
    location = locations.get_location(connection, external_id)
    areas = coverage.display_areas(
        connection,
        location_external_id=external_id,
        modes=list(SERVICE_AREA_MODES),
        bbox=None,
        simplify_deg=DISPLAY_TOLERANCE_DEG,
        limit=MAX_SERVICE_AREAS,
    )
    now = datetime.now(UTC)
    fmap = maps.location_map(
        location=location,
        service_areas=areas,
        assets=map_assets(),
        tiles=tiles(),
        at=now,
        location_url=location_url,
    )
    return render_template(
        "location.html",
        parts=maps.render_parts(fmap),
        location=location,
        areas=areas,
        opening=maps.opening_summary(location, now),
        mode_labels=maps.MODE_LABELS,
    )


def _selected_modes(values: list[str]) -> list[str]:
    """The ?mode= values in the canonical order; none means every mode."""
    unknown = sorted(set(values) - set(SERVICE_AREA_MODES))
    if unknown:
        raise InvalidInput(
            f"unknown mode {unknown[0]!r}",
            field="mode",
            message=f"must be one of {', '.join(SERVICE_AREA_MODES)}",
        )
    return [mode for mode in SERVICE_AREA_MODES if mode in values] or list(SERVICE_AREA_MODES)


def _selected_region(regions: list[dict], region_id: str) -> dict | None:
    """The region asked for, or the first one; None only when there are no regions."""
    if not region_id:
        return regions[0] if regions else None
    for region in regions:
        if region["region_id"] == region_id:
            return region
    raise NotFound(f"no region {region_id!r}", field="region", message="no such region")
