/* The planner's vector-tile overlays, drawn by Leaflet.VectorGrid from the app's /tiles.
 *
 * app/maps.py makes one layer per mode and one for the locations, and calls
 * locatorTiles.areas() / locatorTiles.locations() with their options. Tooltips and popups
 * are built with DOM calls and textContent: nothing that came from the tiles is ever
 * parsed as HTML. Everything a popup shows is in the tile: no request leaves the map.
 */
(function () {
  "use strict";

  // VectorGrid 1.3's points are CircleMarkers placed by pixel, without a latlng, and
  // Leaflet 1.9 asks a small marker for its latlng on every mouse event (then fails on
  // undefined). Without getLatLng, Leaflet takes the event's position from the mouse.
  var createLayer = L.VectorGrid.prototype._createLayer;
  L.VectorGrid.prototype._createLayer = function () {
    var layer = createLayer.apply(this, arguments);
    if (layer && layer._point) layer.getLatLng = null;
    return layer;
  };

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  // A popup body: a definition list of label / value rows.
  function details(rows) {
    var list = element("dl", null, "locator-details");
    rows.forEach(function (row) {
      list.appendChild(element("dt", row[0]));
      var value = element("dd");
      if (row[1] instanceof Node) value.appendChild(row[1]); else value.textContent = row[1];
      list.appendChild(value);
    });
    return list;
  }

  function link(prefix, externalId, label) {
    var anchor = element("a", label);
    anchor.href = prefix + encodeURIComponent(externalId);
    return anchor;
  }

  function tileLayer(url, layerName, style, options) {
    var styles = {};
    styles[layerName] = style;
    return L.vectorGrid.protobuf(url, {
      // SVG: each feature is a <path> with the class names of its style, so it can be
      // hovered, clicked and found; tiles are small enough for that at every zoom.
      rendererFactory: L.svg.tile,
      interactive: true,
      vectorTileLayerStyles: styles,
      getFeatureId: function (feature) { return feature.properties.id; },
      maxNativeZoom: options.maxZoom,
      maxZoom: options.maxZoom,
      pane: options.pane || "overlayPane",
    });
  }

  function hover(map, layer, text, highlight) {
    var tip = null;
    layer.on("mouseover", function (event) {
      var properties = event.layer.properties;
      tip = L.tooltip({ sticky: true, direction: "top" })
        .setLatLng(event.latlng)
        .setContent(element("span", text(properties)));
      map.openTooltip(tip);
      if (highlight) layer.setFeatureStyle(properties.id, highlight(properties));
    });
    layer.on("mouseout", function (event) {
      if (tip) map.closeTooltip(tip);
      tip = null;
      if (highlight) layer.resetFeatureStyle(event.layer.properties.id);
    });
  }

  // The import file's extra columns (JSON text in the tile), one row each, as text.
  function attributeRows(json) {
    if (!json) return [];
    var attributes;
    try { attributes = JSON.parse(json); } catch (error) { return []; }
    if (!attributes || typeof attributes !== "object") return [];
    return Object.keys(attributes).map(function (name) {
      var value = attributes[name];
      return [name, typeof value === "string" ? value : JSON.stringify(value)];
    });
  }

  function popup(map, latlng, content) {
    L.popup({ maxWidth: 320 }).setLatLng(latlng).setContent(content).openOn(map);
  }

  window.locatorTiles = {
    /* One mode's service areas: outlines and a light fill in the mode's colour. */
    areas: function (map, options) {
      var outline = {
        color: options.colour, weight: 1.5, opacity: 0.85,
        fill: true, fillColor: options.colour, fillOpacity: 0.07,
        className: "locator-area locator-area-" + options.mode,
      };
      // Zoomed in, a view lies inside hundreds of areas and their light fills would stack
      // into an opaque sheet: outlines only (a transparent fill still takes the pointer).
      var style = function (properties, zoom) {
        return zoom >= options.outlineZoom ? Object.assign({}, outline, { fillOpacity: 0 }) : outline;
      };
      var layer = tileLayer(options.url, "service_areas", style, options);
      hover(map, layer, function (p) { return p.location_name + " (" + p.mode + ")"; },
        function () { return Object.assign({}, outline, { weight: 3, fillOpacity: 0.3 }); });
      layer.on("click", function (event) {
        var p = event.layer.properties;
        popup(map, event.latlng, details([
          ["Location", link(options.locationUrl, p.location, p.location_name)],
          ["Mode", p.mode],
        ]));
      });
      return layer;
    },

    /* Locations: one circle each from zoom 12; below, a circle per cluster sized by its
       count (a cluster of one is that location, with its details). */
    locations: function (map, options) {
      var style = function (p) {
        if (p.count > 1) {
          return {
            radius: Math.min(18, 4 + 2 * Math.log2(p.count)), weight: 1, color: "#ffffff",
            fill: true, fillColor: options.clusterColour, fillOpacity: 0.75,
            className: "locator-location locator-cluster",
          };
        }
        return {
          radius: 5, weight: 1.5, color: "#ffffff",
          fill: true, fillColor: options.kindColours[p.kind] || "#555555", fillOpacity: 0.95,
          className: "locator-location locator-single locator-kind-" + p.kind,
        };
      };
      var layer = tileLayer(options.url, "locations", style, options);
      hover(map, layer, function (p) {
        return p.count > 1 ? p.count.toLocaleString() + " locations (click to zoom in)" : p.name;
      });
      layer.on("click", function (event) {
        var p = event.layer.properties;
        if (p.count > 1) {
          map.setView(event.latlng, Math.min(map.getZoom() + 2, options.maxZoom));
          return;
        }
        popup(map, event.latlng, details([
          ["Location", link(options.locationUrl, p.external_id, p.name)],
          ["Kind", String(p.kind).replace(/_/g, " ")],
          ["Hours", p.hours || "not given"],
          ["Status", String(p.status).replace(/_/g, " ")],
          ["Capabilities", p.capabilities || "none"],
        ].concat(attributeRows(p.attributes))));
      });
      return layer;
    },
  };
})();
