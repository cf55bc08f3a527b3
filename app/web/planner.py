"""Pages for planners: service areas, coverage and gaps on a server-rendered map.

The planner draws areas and locations from the app's vector tiles (app/api/tiles.py), so
its page embeds none of them, whatever the size of the network. Also serves Leaflet (from
the pinned XStatic-Leaflet package) and Leaflet.VectorGrid (vendored from npm), so no page
needs a CDN; ``map_assets()`` gives any page the local URLs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import xstatic.pkg.leaflet
from flask import Blueprint, current_app, render_template, request, send_from_directory, url_for

from app import maps
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.geo import metres_to_degrees
from app.hours import location_open_state
from app.limits import (
    DEFAULT_PARTITION_DRIVE_TIME_S,
    MAX_DRIVE_TIME_S,
    MAX_SERVICE_AREAS,
    MAX_TILE_ZOOM,
    MIN_DRIVE_TIME_S,
)
from app.models import SERVICE_AREA_MODES
from app.security import allow_inline_scripts
from app.services import coverage, locations, planning, roads, tiles
from app.web import i18n

bp = Blueprint("planner", __name__, template_folder="templates")

# Display only: ~30 m is below what a screen shows at city zoom, and it cuts the
# vertices of radius circles (128 each) enough that thousands of areas stay responsive.
DISPLAY_TOLERANCE_DEG = metres_to_degrees(30)

LEAFLET_DIR = xstatic.pkg.leaflet.BASE_DIR
LEAFLET_VERSION = xstatic.pkg.leaflet.VERSION
VECTORGRID_VERSION = "1.3.0"
VECTORGRID_DIR = Path(__file__).parent / "vendor" / "leaflet.vectorgrid"


@bp.get("/vendor/leaflet/<version>/<path:filename>")
def leaflet_asset(version: str, filename: str):
    """Leaflet's JS, CSS and images; the version in the URL lets browsers cache for long."""
    if version != LEAFLET_VERSION:
        raise NotFound(f"Leaflet {version} is not served here", field="version")
    return send_from_directory(LEAFLET_DIR, filename, max_age=365 * 24 * 3600)


@bp.get("/vendor/leaflet.vectorgrid/<version>/<path:filename>")
def vectorgrid_asset(version: str, filename: str):
    """Leaflet.VectorGrid, vendored from npm (app/web/vendor/leaflet.vectorgrid/README.md)."""
    if version != VECTORGRID_VERSION:
        raise NotFound(f"Leaflet.VectorGrid {version} is not served here", field="version")
    return send_from_directory(VECTORGRID_DIR / version, filename, max_age=365 * 24 * 3600)


def map_assets() -> maps.MapAssets:
    """The app's own URLs for everything a folium map loads."""
    return maps.MapAssets(
        leaflet_js=url_for("planner.leaflet_asset", version=LEAFLET_VERSION, filename="leaflet.js"),
        leaflet_css=url_for(
            "planner.leaflet_asset", version=LEAFLET_VERSION, filename="leaflet.css"
        ),
    )


def base_tiles() -> maps.Tiles:
    """The configured base layer (none when TILE_URL is empty)."""
    config = current_app.config
    return maps.Tiles(url=config["TILE_URL"], attribution=config["TILE_ATTRIBUTION"])


def location_url(external_id: str) -> str:
    return url_for("planner.location_page", external_id=external_id)


@bp.get("/planner")
@allow_inline_scripts  # folium writes the map's setup as inline scripts
def planner():
    """Service areas per mode and the locations (from the vector tiles), the selected
    region's gaps and its coverage table.

    ``?region=<region_id>`` (default: the first region by name) and repeatable
    ``?mode=`` (default: every mode). The map opens on the network's extent, or on the
    region when one is asked for.
    """
    modes = _selected_modes(request.args.getlist("mode"))
    connection = db.connection()
    regions = coverage.regions(connection)
    asked = request.args.get("region", "")
    region = _selected_region(regions, asked)
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
    bbox = None if asked else tiles.data_extent(connection)
    partition = _partition(connection, region if asked else None)
    if partition is not None and partition["features"] and not asked:
        bbox = maps.bbox_of(feature["geometry"] for feature in partition["features"])
    fmap = maps.planner_map(
        region=region,
        coverage=summaries,
        modes=modes,
        assets=map_assets(),
        tiles=base_tiles(),
        vector_tiles=vector_tiles(),
        bbox=bbox,
        partition=partition,
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
        planning=_planning_tools(connection, region, regions, modes),
    )


def _planning_tools(connection, region: dict | None, regions: list[dict], modes: list[str]):
    """What static/planner-planning.js needs: the demand sets (names only, so the page
    costs no planning work) and the API it asks, after the page has loaded."""
    return {
        "demandSets": planning.demand_set_names(connection),
        "demandUrl": url_for("api_planning.DemandCoverage"),
        "whatIfUrl": url_for("api_planning.WhatIf"),
        "region": region["region_id"] if region else None,
        "regions": [{"id": r["region_id"], "name": r["name"]} for r in regions],
        "modes": modes,
        "modeLabels": maps.MODE_LABELS,
        "modeColours": maps.MODE_COLOURS,
        "script": url_for("web.static", filename="planner-planning.js"),
    }


def vector_tiles() -> maps.VectorTiles:
    """The app's own tile URLs and scripts for the planner's overlays."""

    def template(endpoint: str) -> str:
        # url_for escapes braces; the XYZ template needs them as they are.
        return unquote(url_for(endpoint, z="{z}", x="{x}", y="{y}"))

    return maps.VectorTiles(
        locations_url=template("tiles.LocationTile"),
        areas_url=template("tiles.ServiceAreaTile"),
        location_url_prefix=url_for("planner.location_page", external_id="x")[:-1],
        max_zoom=MAX_TILE_ZOOM,
        scripts=(
            (
                "vectorgrid",
                url_for(
                    "planner.vectorgrid_asset",
                    version=VECTORGRID_VERSION,
                    filename="Leaflet.VectorGrid.bundled.min.js",
                ),
            ),
            ("planner_tiles", url_for("web.static", filename="planner-tiles.js")),
        ),
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
    # In the reader's language, with the picker's labels for every code (app/web/i18n.py).
    language = i18n.choose_language(request)
    t = i18n.catalogue(language)
    fmap = maps.location_map(
        location=location,
        service_areas=areas,
        assets=map_assets(),
        tiles=base_tiles(),
        at=now,
        location_url=location_url,
        labels=t,
        describe_opening=lambda row, at: _opening(row, at, t),
    )
    return render_template(
        "location.html",
        parts=maps.render_parts(fmap),
        location=location,
        areas=areas,
        opening=_opening(location, now, t),
        lang=language,
        t=t,
        other_lang_url=url_for(
            "planner.location_page",
            external_id=external_id,
            lang="en" if language == "zh-CN" else "zh-CN",
        ),
    )


def _opening(location: dict, at: datetime, t: dict[str, str]) -> str:
    """Open or closed at ``at``, and until when, in the words of the picker's list."""
    if location["status"] != "active":
        return t[f"status.{location['status']}"]
    is_open, next_change = location_open_state(location, at)
    if is_open is None:
        return t["hours.unknown"]
    if next_change is None:
        return t["hours.open_always"] if is_open else t["hours.closed"]
    days = (next_change.date() - at.astimezone(next_change.tzinfo).date()).days
    time = f"{next_change:%H:%M}"
    if days in (0, 1):
        when = t["when.today" if days == 0 else "when.tomorrow"].format(time=time)
    else:
        when = t["when.day"].format(day=next_change.date().isoformat(), time=time)
    return t["hours.open_until" if is_open else "hours.opens"].format(when=when)


def _partition(connection, region: dict | None) -> dict | None:
    """``?partition=<mode>[&partition_drive_time_s=900]``: who reaches each part of the
    region asked for (else of the road network) first by car; None when not asked."""
    mode = request.args.get("partition")
    if not mode:
        return None
    if mode not in SERVICE_AREA_MODES:
        raise InvalidInput(
            f"unknown mode {mode!r}",
            field="partition",
            message=f"must be one of {', '.join(SERVICE_AREA_MODES)}",
        )
    text = request.args.get("partition_drive_time_s", str(DEFAULT_PARTITION_DRIVE_TIME_S))
    if not text.isdigit() or not MIN_DRIVE_TIME_S <= int(text) <= MAX_DRIVE_TIME_S:
        raise InvalidInput(
            "partition_drive_time_s is out of range",
            field="partition_drive_time_s",
            message=f"whole seconds from {MIN_DRIVE_TIME_S} to {MAX_DRIVE_TIME_S}",
        )
    return roads.partition_collection(
        connection,
        mode=mode,
        drive_time_s=int(text),
        region_id=region["region_id"] if region else None,
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
