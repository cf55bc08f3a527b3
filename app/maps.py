"""Maps: query rows in, ``folium.Map`` out. Pure functions: no Flask, no database.

- GeoJSON and the database speak ``[lon, lat]``; Leaflet's own calls take ``[lat, lon]``.
  ``latlon()`` is the one place that flips them. GeoJSON layers are handed to Leaflet as
  GeoJSON, unflipped.
- Leaflet puts tooltip and popup content in the page with ``innerHTML``, so every text
  value that came from the database is HTML-escaped here, before it is embedded.
- folium points at CDNs by default; every map made here loads Leaflet from the URLs in
  ``MapAssets`` instead, and needs nothing else (no jQuery, Bootstrap or icon fonts).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import branca.element
import folium
from folium.template import Template
from markupsafe import Markup, escape

from app.hours import location_open_state

MODE_COLOURS = {"delivery": "#1f77b4", "express": "#e6550d", "supply": "#2ca02c"}
MODE_LABELS = {
    "delivery": "Delivery",
    "express": "Express (1 hour)",
    "supply": "Supply (restocking)",
}
KIND_COLOURS = {
    "store": "#6a3d9a",
    "warehouse": "#8c564b",
    "convenience_store": "#d6338a",
    "locker": "#0f8b8d",
}
# From this zoom the planner draws areas as outlines only: a street-level view lies inside
# many areas, and their fills would stack into an opaque sheet.
AREA_OUTLINE_ZOOM = 12
# Groups of nearby locations on the planner's tiles (static/planner-tiles.js draws them).
CLUSTER_COLOUR = "#444444"
GAP_COLOUR = "#d62728"
OVERLAP_COLOUR = "#7b3294"
REGION_COLOUR = "#222222"
# The SVG pattern that hatches gaps; the legend element puts it in the page.
HATCH_ID = "locator-hatch"
# Where the planner opens when there is nothing to show yet: the inhabited world.
EMPTY_NETWORK_VIEW = (-170.0, -50.0, 170.0, 70.0)
# Drawn largest first, so the smaller express areas stay on top and clickable.
MODE_ORDER = ("supply", "delivery", "express")


@dataclass(frozen=True)
class MapAssets:
    """Where the page loads Leaflet from (URLs served by the app itself)."""

    leaflet_js: str
    leaflet_css: str


@dataclass(frozen=True)
class Tiles:
    """The base layer: an XYZ URL template; an empty URL means no base layer."""

    url: str
    attribution: str


@dataclass(frozen=True)
class VectorTiles:
    """Where the planner draws areas and locations from: the app's vector tiles.

    ``locations_url`` and ``areas_url`` are XYZ templates (``.../{z}/{x}/{y}.mvt``);
    ``scripts`` are the (name, URL) pairs of Leaflet.VectorGrid and the page's tile
    script, served by the app; ``location_url_prefix`` plus an external_id is a
    location's page."""

    locations_url: str
    areas_url: str
    location_url_prefix: str
    max_zoom: int
    scripts: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MapParts:
    """A rendered map, in the three pieces a page template embeds."""

    header: Markup
    html: Markup
    script: Markup


def latlon(lon: float, lat: float) -> list[float]:
    """The one flip: a ``(lon, lat)`` position as Leaflet's ``[lat, lon]``."""
    return [lat, lon]


def bbox_of(geometries: Iterable[dict | str]) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) around GeoJSON geometries (dicts or strings); None if empty."""
    lons: list[float] = []
    lats: list[float] = []
    for geometry in geometries:
        if isinstance(geometry, str):
            geometry = json.loads(geometry)
        for lon, lat in _positions(geometry.get("coordinates", [])):
            lons.append(lon)
            lats.append(lat)
    if not lons:
        return None
    return min(lons), min(lats), max(lons), max(lats)


def leaflet_bounds(bbox: tuple[float, float, float, float]) -> list[list[float]]:
    """A (west, south, east, north) box as Leaflet's ``[[south, west], [north, east]]``."""
    west, south, east, north = bbox
    return [latlon(west, south), latlon(east, north)]


def planner_map(
    *,
    region: Mapping | None,
    coverage: Mapping[str, Mapping],
    modes: Sequence[str],
    assets: MapAssets,
    tiles: Tiles,
    vector_tiles: VectorTiles,
    bbox: tuple[float, float, float, float] | None,
    partition: Mapping | None = None,
) -> folium.Map:
    """The planner's map: service areas per mode and the locations, drawn from the app's
    vector tiles (so the page embeds none of them, however large the network), and the
    region with its gaps and overlaps, and a legend.

    ``region`` is a row of app.queries.coverage (geometry as a GeoJSON string);
    ``coverage`` maps a mode to its coverage_of() row. The map opens on ``bbox``
    (west, south, east, north), or on the region without one. ``partition`` (a GeoJSON
    FeatureCollection from app.services.roads) adds who reaches each part first by car.
    """
    fmap = _new_map(assets, tiles)
    fmap.default_js = [*fmap.default_js, *vector_tiles.scripts]
    # Areas and locations first, in their own panes under the overlays that explain them,
    # which are not interactive: drawn above, they must not swallow hovers and clicks.
    for mode in sorted(modes, key=_mode_rank):
        _TileOverlay(
            "areas",
            name=f"{_text(MODE_LABELS.get(mode, mode))} areas",
            options={
                "url": f"{vector_tiles.areas_url}?mode={quote(mode)}",
                "mode": mode,
                "colour": MODE_COLOURS.get(mode, "#555555"),
                "outlineZoom": AREA_OUTLINE_ZOOM,
                "locationUrl": vector_tiles.location_url_prefix,
                "maxZoom": vector_tiles.max_zoom,
            },
        ).add_to(fmap)
    for mode in modes:
        row = coverage.get(mode)
        if row:
            _add_shape_layer(
                fmap,
                row["overlaps"],
                name=f"Overlaps ({mode}, 2+ locations)",
                class_name=f"locator-overlap locator-overlap-{mode}",
                style={
                    "color": OVERLAP_COLOUR,
                    "weight": 1,
                    "fillColor": OVERLAP_COLOUR,
                    "fillOpacity": 0.35,
                },
                show=False,
            )
    # Gaps go above the areas (a mode's gaps never overlap its own areas), hatched so
    # that the areas of other modes still show through them.
    for mode in modes:
        row = coverage.get(mode)
        if row:
            _add_shape_layer(
                fmap,
                row["uncovered"],
                name=f"Not covered by {mode}",
                class_name=f"locator-gap locator-gap-{mode}",
                style={
                    "color": MODE_COLOURS.get(mode, GAP_COLOUR),
                    "weight": 2,
                    "dashArray": "4 4",
                    "fillColor": f"url(#{HATCH_ID})",
                    "fillOpacity": 1,
                },
                show=True,
            )
    if partition is not None:
        _add_partition(fmap, partition)
    if region is not None:
        _add_shape_layer(
            fmap,
            region["geometry"],
            name=f"Region: {region['name']}",
            class_name="locator-region",
            style={"color": REGION_COLOUR, "weight": 3, "dashArray": "8 6", "fill": False},
            show=True,
        )
    _TileOverlay(
        "locations",
        name="Locations",
        options={
            "url": vector_tiles.locations_url,
            "kindColours": KIND_COLOURS,
            "clusterColour": CLUSTER_COLOUR,
            "locationUrl": vector_tiles.location_url_prefix,
            "maxZoom": vector_tiles.max_zoom,
            # Above the areas' and the region's paths, so that a point stays clickable.
            "pane": "markerPane",
        },
    ).add_to(fmap)
    # Many overlays: the list opens on hover or focus instead of hiding the map.
    folium.LayerControl(collapsed=True).add_to(fmap)
    legend = _legend_html(
        modes, has_gaps=bool(coverage), has_region=region is not None, has_clusters=True
    )
    _Legend(legend).add_to(fmap)
    bbox = bbox or (bbox_of([region["geometry"]]) if region is not None else None)
    fmap.fit_bounds(leaflet_bounds(bbox or EMPTY_NETWORK_VIEW))
    return fmap


def location_map(
    *,
    location: Mapping,
    service_areas: Sequence[Mapping],
    assets: MapAssets,
    tiles: Tiles,
    at: datetime,
    location_url: Callable[[str], str] | None = None,
    labels: Mapping[str, str] | None = None,
    describe_opening: Callable[[Mapping, datetime], str] | None = None,
) -> folium.Map:
    """One location and its service areas, one overlay per mode. ``labels`` (the pages'
    catalogue, app/web/i18n.py) and ``describe_opening`` put its popup in the page's words."""
    location_url = location_url or _default_location_url
    bbox = bbox_of([*(row["geometry"] for row in service_areas), _point(location)])
    west, south, east, north = bbox
    lone_point = west == east and south == north
    # A location without areas opens at street level around it, not on an empty box.
    fmap = _new_map(assets, tiles, center=latlon(west, south) if lone_point else None)
    modes = [mode for mode in MODE_ORDER if any(row["mode"] == mode for row in service_areas)]
    labels = labels or {}
    _add_service_areas(fmap, service_areas, modes, location_url, labels)
    _add_locations(
        fmap,
        [location],
        at,
        location_url,
        radius=9,
        labels=labels,
        describe_opening=describe_opening or opening_summary,
    )
    # Few overlays here: the list can stay open.
    folium.LayerControl(collapsed=False).add_to(fmap)
    _Legend(_legend_html(modes, has_gaps=False, has_region=False, labels=labels)).add_to(fmap)
    if not lone_point:
        fmap.fit_bounds(leaflet_bounds(bbox))
    return fmap


def render_parts(fmap: folium.Map) -> MapParts:
    """Render a map into the header (links, styles), body HTML and script of a page."""
    root = fmap.get_root()
    root.render()
    # The page owns its viewport meta; folium's forbids zooming the page, which locks
    # out people who need to enlarge text (WCAG 1.4.4).
    header = _VIEWPORT_META.sub("", root.header.render())
    return MapParts(
        header=Markup(header), html=Markup(root.html.render()), script=Markup(root.script.render())
    )


def opening_summary(row: Mapping, at: datetime) -> str:
    """'Open, closes Mon 21:00', 'Closed, opens ...', 'Temporarily closed' or 'Unknown'."""
    if row["status"] != "active":
        return row["status"].replace("_", " ").capitalize()
    is_open, next_change = location_open_state(row, at)
    if is_open is None:
        return "Unknown"
    state = "Open" if is_open else "Closed"
    if next_change is None:
        return state
    return f"{state}, {'closes' if is_open else 'opens'} {next_change:%a %H:%M}"


# -- building blocks ------------------------------------------------------------------

_VIEWPORT_META = re.compile(r'<meta name="viewport"[^>]*>\s*')


def _default_location_url(external_id: str) -> str:
    return "/locations/" + quote(external_id, safe="")


def _new_map(assets: MapAssets, tiles: Tiles, center: list[float] | None = None) -> folium.Map:
    fmap = folium.Map(location=center, zoom_start=15, tiles=None, control_scale=True)
    # Per map, not folium's module-wide defaults: only Leaflet is needed, and from the app.
    fmap.default_js = [("leaflet", assets.leaflet_js)]
    fmap.default_css = [("leaflet_css", assets.leaflet_css)]
    if tiles.url:
        folium.TileLayer(
            tiles=tiles.url,
            attr=tiles.attribution or "Base map",
            name="Base map",
            control=False,
            max_zoom=19,
        ).add_to(fmap)
    return fmap


def _positions(coordinates) -> Iterator[tuple[float, float]]:
    """Every (lon, lat) in a GeoJSON coordinates array of any depth."""
    if coordinates and isinstance(coordinates[0], (int, float)):
        yield coordinates[0], coordinates[1]
        return
    for part in coordinates:
        yield from _positions(part)


def _point(row: Mapping) -> dict:
    return {"type": "Point", "coordinates": [row["lon"], row["lat"]]}


def _text(value) -> str:
    """Escaped text for Leaflet's innerHTML; None becomes an empty string."""
    return "" if value is None else str(escape(value))


def _link(url: str, label: str) -> str:
    return f'<a href="{escape(url)}">{escape(label)}</a>'


def _constant_style(style: dict) -> Callable[[dict], dict]:
    return lambda _feature: style


def _add_shape_layer(
    fmap: folium.Map,
    geometry: str | None,
    *,
    name: str,
    class_name: str,
    style: dict,
    show: bool,
) -> None:
    """One (Multi)Polygon as its own, non-interactive overlay; skipped when it is empty."""
    if not geometry:
        return
    shape = json.loads(geometry) if isinstance(geometry, str) else geometry
    if not shape.get("coordinates"):
        return
    feature = {"type": "Feature", "id": class_name, "properties": {}, "geometry": shape}
    layer = folium.FeatureGroup(name=_text(name), show=show).add_to(fmap)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": [feature]},
        style_function=_constant_style({**style, "className": class_name}),
        control=False,
        interactive=False,
    ).add_to(layer)


# Neighbouring pieces of a partition get different colours often enough from a fixed
# palette picked by the location's id (stable across page loads).
PARTITION_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def _partition_style(feature: dict) -> dict:
    colour = PARTITION_COLOURS[zlib.crc32(str(feature["id"]).encode()) % len(PARTITION_COLOURS)]
    return {
        "color": colour,
        "weight": 1,
        "fillColor": colour,
        "fillOpacity": 0.45,
        "className": "locator-partition",
    }


def _add_partition(fmap: folium.Map, partition: Mapping) -> None:
    """The drive-time partition: one coloured piece per location, named on hover."""
    features = partition["features"]
    if not features:
        return
    first = features[0]["properties"]
    name = (
        f"Fastest by car ({_text(MODE_LABELS.get(first['mode'], first['mode']))}, "
        f"{first['drive_time_s'] // 60} min)"
    )
    layer = folium.FeatureGroup(name=name, show=True).add_to(fmap)
    folium.GeoJson(
        dict(partition),
        style_function=_partition_style,
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "location_id", "slowest_reached_s"],
            aliases=["Reached first from", "Location", "Slowest (s)"],
        ),
        control=False,
    ).add_to(layer)


def _add_service_areas(
    fmap: folium.Map,
    rows: Sequence[Mapping],
    modes: Sequence[str],
    location_url: Callable[[str], str],
    labels: Mapping[str, str],
) -> None:
    """One overlay per mode; one GeoJSON layer each, however many areas (fast to draw).
    Its name in the layer list is in the page's words (``labels``), English by default."""
    by_mode: dict[str, list[dict]] = {mode: [] for mode in modes}
    for row in rows:
        if row["mode"] in by_mode:
            by_mode[row["mode"]].append(_area_feature(row, location_url))
    for mode in sorted(by_mode, key=_mode_rank):
        features = by_mode[mode]
        colour = MODE_COLOURS.get(mode, "#555555")
        mode_name = labels.get(f"mode.{mode}", MODE_LABELS.get(mode, mode))
        layer_name = labels.get("map.layer.areas", "{mode} areas ({count})")
        layer = folium.FeatureGroup(
            name=_text(layer_name.format(mode=mode_name, count=len(features)))
        ).add_to(fmap)
        if not features:
            continue
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            style_function=_constant_style(
                {
                    "color": colour,
                    "weight": 1.5,
                    "opacity": 0.8,
                    "fillColor": colour,
                    # Areas overlap a lot (every point of a city is often served several
                    # times): a light fill keeps stacked areas from turning opaque.
                    "fillOpacity": 0.07,
                    "className": f"locator-area locator-area-{mode}",
                }
            ),
            highlight_function=_constant_style({"weight": 3, "opacity": 1, "fillOpacity": 0.3}),
            tooltip=folium.GeoJsonTooltip(
                fields=["location_name", "mode"], aliases=["Location", "Mode"], sticky=True
            ),
            popup=folium.GeoJsonPopup(
                fields=["location", "kind", "mode", "made_from"],
                aliases=["Location", "Kind", "Mode", "Area"],
                localize=False,
            ),
            control=False,
        ).add_to(layer)


def _mode_rank(mode: str) -> int:
    return MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER)


def _area_feature(row: Mapping, location_url: Callable[[str], str]) -> dict:
    if row["source"] == "radius" and row.get("radius_m"):
        made_from = f"{row['radius_m'] / 1000:.1f} km radius"
    else:
        made_from = "drawn polygon"
    return {
        "type": "Feature",
        "id": f"area-{row['id']}",
        "geometry": json.loads(row["geometry"]),
        "properties": {
            "location_name": _text(row["location_name"]),
            "location": _link(location_url(row["location_external_id"]), row["location_name"]),
            "kind": _text(_label(row["location_kind"])),
            "mode": _text(row["mode"]),
            "made_from": made_from,
        },
    }


def _label(kind: str | None) -> str:
    return (kind or "").replace("_", " ")


def _add_locations(
    fmap: folium.Map,
    rows: Sequence[Mapping],
    at: datetime,
    location_url: Callable[[str], str],
    *,
    radius: int,
    labels: Mapping[str, str],
    describe_opening: Callable[[Mapping, datetime], str],
) -> None:
    """Locations as circle markers, coloured by kind, with a tooltip and a popup each; codes
    are shown by their ``labels`` (``kind.<code>``, ``capability.<code>``) where given."""
    features = [
        {
            "type": "Feature",
            "id": row["external_id"],
            # GeoJSON order, [lon, lat]: Leaflet's GeoJSON reader flips it itself.
            "geometry": _point(row),
            "properties": {
                "kind_code": row["kind"],
                "name": _text(row["name"]),
                "location": _link(location_url(row["external_id"]), row["name"]),
                "kind": _text(labels.get(f"kind.{row['kind']}", _label(row["kind"]))),
                "hours": _text(row["opening_hours"] or labels.get("hours.unknown", "not given")),
                "open_now": _text(describe_opening(row, at)),
                "capabilities": _text(
                    labels.get("list.and", ", ").join(
                        labels.get(f"capability.{code}", code) for code in row["capabilities"] or []
                    )
                    or labels.get("location.none", "none")
                ),
            },
        }
        for row in rows
    ]
    layer_name = labels.get("map.layer.locations", "Locations ({count})")
    layer = folium.FeatureGroup(name=_text(layer_name.format(count=len(features)))).add_to(fmap)
    if not features:
        return
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        marker=folium.CircleMarker(radius=radius),
        style_function=_location_style,
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False, sticky=False),
        popup=folium.GeoJsonPopup(
            fields=["location", "kind", "hours", "open_now", "capabilities"],
            aliases=[
                labels.get(key, default)
                for key, default in (
                    ("location.heading", "Location"),
                    ("location.kind", "Kind"),
                    ("location.hours", "Hours"),
                    ("location.now", "Now"),
                    ("entry.services", "Capabilities"),
                )
            ],
            localize=False,
        ),
        control=False,
    ).add_to(layer)


def _location_style(feature: dict) -> dict:
    kind = feature["properties"]["kind_code"]
    return {
        "color": "#ffffff",
        "weight": 1.5,
        "fill": True,
        "fillColor": KIND_COLOURS.get(kind, "#555555"),
        "fillOpacity": 0.95,
        "className": f"locator-location locator-kind-{kind}",
    }


def _legend_html(
    modes: Sequence[str],
    *,
    has_gaps: bool,
    has_region: bool,
    has_clusters: bool = False,
    labels: Mapping[str, str] | None = None,
) -> str:
    """The legend's HTML: a swatch and a label per thing drawn, in the page's words
    (``labels``, app/web/i18n.py) where given, else English."""
    labels = labels or {}
    title = escape(labels.get("map.legend", "Legend"))
    rows = [f'<h2 class="locator-legend-title">{title}</h2>', "<ul>"]
    for mode in sorted(modes, key=_mode_rank):
        colour = MODE_COLOURS.get(mode, "#555555")
        mode_name = labels.get(f"mode.{mode}", MODE_LABELS.get(mode, mode))
        area = labels.get("map.legend.area", "{mode} area").format(mode=mode_name)
        rows.append(
            f'<li><span class="swatch" style="background:{colour}40;border-color:{colour}">'
            f"</span>{escape(area)}</li>"
        )
    if has_gaps:
        rows.append(
            f'<li><span class="swatch swatch-gap" style="border-color:{GAP_COLOUR}"></span>'
            "Not covered (dashed in the mode's colour)</li>"
        )
        rows.append(
            f'<li><span class="swatch" style="background:{OVERLAP_COLOUR}59;'
            f'border-color:{OVERLAP_COLOUR}"></span>Overlap (in the layer list)</li>'
        )
    if has_region:
        rows.append(
            f'<li><span class="swatch swatch-region" style="border-color:{REGION_COLOUR}">'
            "</span>Region boundary</li>"
        )
    for kind, colour in KIND_COLOURS.items():
        rows.append(
            f'<li><span class="swatch swatch-point" style="background:{colour}"></span>'
            f"{escape(labels.get(f'kind.{kind}', _label(kind)))}</li>"
        )
    if has_clusters:
        rows.append(
            f'<li><span class="swatch swatch-point" style="background:{CLUSTER_COLOUR}"></span>'
            "Several locations (click to zoom in)</li>"
        )
    rows.append("</ul>")
    return "".join(rows)


class _TileOverlay(folium.map.Layer):
    """An overlay of vector tiles, made by ``locatorTiles.<kind>`` (static/planner-tiles.js);
    a folium Layer, so the layer control lists it and switches it on and off."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = locatorTiles.{{ this.kind }}(
            {{ this._parent.get_name() }}, {{ this.tile_options|tojson }}
        );
        {% endmacro %}
        """
    )

    def __init__(self, kind: str, *, name: str, options: dict, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TileOverlay"
        self.kind = kind
        self.tile_options = options


class _Legend(branca.element.MacroElement):
    """A Leaflet control holding the legend (it stays on the map at any size), and the
    SVG hatch pattern that gap polygons are filled with."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
          .locator-legend { background: #fff; padding: .4rem .6rem; font: 13px/1.4 system-ui,
            sans-serif; color: #1a1a1a; box-shadow: 0 1px 4px rgba(0,0,0,.3); border-radius: 4px; }
          .locator-legend-title { font-size: 13px; margin: 0 0 .2rem; }
          .locator-legend ul { list-style: none; margin: 0; padding: 0; }
          .locator-legend .swatch { display: inline-block; width: 14px; height: 10px;
            margin-right: .4rem; border: 2px solid; vertical-align: middle; }
          .locator-legend .swatch-gap { background: repeating-linear-gradient(45deg,
            #d6272880 0 3px, transparent 3px 6px); border-style: dashed; }
          .locator-legend .swatch-region { background: transparent; border-style: dashed; }
          .locator-legend .swatch-point { width: 10px; border-radius: 50%;
            border-color: #fff; box-shadow: 0 0 0 1px #888; }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        <svg width="0" height="0" style="position: absolute" aria-hidden="true" focusable="false">
          <defs>
            <pattern id="{{ this.hatch_id }}" width="8" height="8" patternUnits="userSpaceOnUse"
                     patternTransform="rotate(45)">
              <rect width="8" height="8" fill="{{ this.gap_colour }}" fill-opacity="0.08"/>
              <line x1="0" y1="0" x2="0" y2="8" stroke="{{ this.gap_colour }}" stroke-width="3"
                    stroke-opacity="0.55"/>
            </pattern>
          </defs>
        </svg>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "bottomleft"});
        {{ this.get_name() }}.onAdd = function () {
            var div = L.DomUtil.create("section", "locator-legend");
            div.setAttribute("aria-label", "Legend");
            div.innerHTML = {{ this.html|tojson }};
            L.DomEvent.disableClickPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html: str):
        super().__init__()
        self._name = "Legend"
        self.html = html
        self.hatch_id = HATCH_ID
        self.gap_colour = GAP_COLOUR
