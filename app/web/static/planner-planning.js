/* The planner's planning tools (templates/planner_planning.html), on folium's Leaflet map.
 *
 * - Demand: asks /api/v1/planning/demand for the page's region, every mode on the page,
 *   once; draws the uncovered demand of the chosen mode as hexagons coloured by weight,
 *   and a bar chart of covered demand per mode (inline SVG: no chart library, no CDN).
 *   "Compare regions" asks the same per region, one after another, for a second chart.
 * - What-if: while "Drop sites" is pressed, each click on the map adds a candidate site
 *   (a radius or a drive time) and posts every candidate to /api/v1/planning/what-if;
 *   the answer's areas are drawn and its gains tabled. "Export GeoJSON" downloads the
 *   scenario: a Feature per site with its gains, and the combined figures.
 * Text from the server is put in the page with textContent only.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  // Light to dark: more uncovered demand is darker (ColorBrewer YlOrRd, 6 classes).
  var SCALE = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"];

  function $(id) { return document.getElementById(id); }

  function element(tag, text) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attributes, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attributes || {}).forEach(function (k) { node.setAttribute(k, attributes[k]); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function percent(share) { return (100 * share).toFixed(1) + "%"; }
  function km2(m2) { return (m2 / 1e6).toLocaleString(undefined, { maximumFractionDigits: 2 }) + " km²"; }
  function weight(value) { return Number(value).toLocaleString(undefined, { maximumFractionDigits: 1 }); }

  /* A horizontal bar chart: one bar per row ({label, share, colour, note}). */
  function barChart(figure, title, rows) {
    figure.textContent = "";
    var width = 280, bar = 18, gap = 6, left = 110;
    var height = rows.length * (bar + gap) + 20;
    var chart = svg("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height,
                             role: "img", "aria-label": title });
    chart.appendChild(svg("title", {}, title));
    rows.forEach(function (row, i) {
      var y = i * (bar + gap);
      var span = (width - left - 50) * Math.max(0, Math.min(1, row.share));
      chart.appendChild(svg("text", { x: 0, y: y + 13 }, row.label));
      chart.appendChild(svg("rect", { x: left, y: y, width: width - left - 50, height: bar,
                                      fill: "#eeeeee" }));
      chart.appendChild(svg("rect", { x: left, y: y, width: span, height: bar,
                                      fill: row.colour || "#1f77b4", "class": "demand-bar" }));
      chart.appendChild(svg("text", { x: left + span + 4, y: y + 13 }, percent(row.share)));
    });
    chart.appendChild(svg("text", { x: 0, y: height - 4 }, title));
    figure.appendChild(chart);
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(answer);
  }

  function answer(response) {
    return response.json().then(function (body) {
      if (!response.ok) {
        var detail = body.detail || response.statusText;
        throw new Error(detail);
      }
      return body;
    });
  }

  function demandQuery(config, region, modes, set) {
    var params = new URLSearchParams();
    params.set("region", region);
    params.set("demand", set);
    modes.forEach(function (mode) { params.append("mode", mode); });
    return config.demandUrl + "?" + params.toString();
  }

  function start() {
    var section = $("planning");
    var container = document.querySelector(".folium-map");
    if (!section || !container || !window[container.id]) return;
    var map = window[container.id];
    var config = JSON.parse(section.dataset.config);
    var hexagons = L.layerGroup().addTo(map);
    var sites = L.layerGroup().addTo(map);
    var demand = null; // the last /planning/demand answer
    var candidates = [];
    var scenario = null; // the last what-if answer

    // -- demand ------------------------------------------------------------------------

    function drawHexagons() {
      hexagons.clearLayers();
      var mode = $("demand-mode").value;
      if (!demand || !demand.modes[mode] || !$("demand-hexagons").checked) return;
      var cells = demand.modes[mode].uncovered.hexagons;
      var top = cells.features.reduce(function (m, f) { return Math.max(m, f.properties.weight); }, 0);
      L.geoJSON(cells, {
        interactive: true,
        style: function (feature) {
          var k = top > 0 ? Math.min(SCALE.length - 1, Math.floor(SCALE.length * feature.properties.weight / top)) : 0;
          return { color: "#7f2704", weight: 0.5, fillColor: SCALE[k], fillOpacity: 0.6,
                   className: "demand-hexagon demand-class-" + k };
        },
        onEachFeature: function (feature, layer) {
          layer.bindTooltip(element("span", "Uncovered demand " + weight(feature.properties.weight) +
            " (" + feature.properties.points + " points)"), { sticky: true });
        },
      }).addTo(hexagons);
      var legend = $("demand-legend");
      legend.textContent = "";
      SCALE.forEach(function (colour) {
        var swatch = element("span");
        swatch.style.background = colour;
        legend.appendChild(swatch);
      });
    }

    function describeDemand() {
      var mode = $("demand-mode").value;
      var figures = demand.modes[mode];
      $("demand-status").textContent = percent(figures.covered_share) + " of " +
        weight(figures.weight) + " demand (" + figures.points + " points) is covered by " +
        config.modeLabels[mode] + "; " + weight(figures.uncovered.weight) + " is not. " +
        (figures.drive_time.areas ? percent(figures.drive_time.covered_share) +
          " lies within a drive-time area's time." : "");
      barChart($("demand-chart"), "Covered demand per mode", config.modes.map(function (m) {
        return { label: config.modeLabels[m], share: demand.modes[m].covered_share,
                 colour: config.modeColours[m] };
      }));
    }

    function loadDemand() {
      if (!config.region) {
        $("demand-status").textContent = "Import a region to see its demand.";
        return;
      }
      $("demand-status").textContent = "Loading demand…";
      getJSON(demandQuery(config, config.region, config.modes, $("demand-set").value))
        .then(function (body) {
          demand = body;
          describeDemand();
          drawHexagons();
        })
        .catch(function (error) { $("demand-status").textContent = "Demand: " + error.message; });
    }

    function compareRegions() {
      var mode = $("demand-mode").value, set = $("demand-set").value;
      var rows = [];
      var figure = $("demand-region-chart");
      figure.textContent = "Loading…";
      // One region after another: a planning call each, never all at once.
      config.regions.reduce(function (chain, region) {
        return chain.then(function () {
          return getJSON(demandQuery(config, region.id, [mode], set)).then(function (body) {
            var label = region.name.length > 16 ? region.name.slice(0, 15) + "…" : region.name;
            rows.push({ label: label, share: body.modes[mode].covered_share,
                        colour: config.modeColours[mode] });
          });
        });
      }, Promise.resolve())
        .then(function () { barChart(figure, "Covered demand per region (" + mode + ")", rows); })
        .catch(function (error) { figure.textContent = "Regions: " + error.message; });
    }

    // -- what-if -----------------------------------------------------------------------

    function reach() {
      var kind = $("whatif-kind").value;
      var value = Number($("whatif-value").value);
      return kind === "radius_m" ? { radius_m: value } : { drive_time_s: Math.round(value) };
    }

    function target() {
      if (config.region) return { region: config.region };
      var b = map.getBounds();
      return { bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()] };
    }

    /* Weigh every candidate; ``dropped``: the last one was just added, and is taken
       back when it cannot be weighed (a drive time off the road network, say). */
    function weigh(dropped) {
      if (!candidates.length) return;
      $("whatif-status").textContent = "Weighing " + candidates.length + " site(s)…";
      var body = Object.assign(target(), {
        mode: $("demand-mode").value, demand: $("demand-set").value, candidates: candidates,
      });
      fetch(config.whatIfUrl, {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      })
        .then(answer)
        .then(show)
        .catch(function (error) {
          if (dropped === true) candidates.pop();
          $("whatif-status").textContent = "What-if: " + error.message;
        });
    }

    function show(result) {
      scenario = result;
      sites.clearLayers();
      var rows = $("whatif-results").querySelector("tbody");
      rows.textContent = "";
      result.candidates.forEach(function (site, i) {
        L.geoJSON(site.geometry, { style: { color: "#000000", weight: 2, dashArray: "3 3",
          fillColor: "#1f77b4", fillOpacity: 0.15, className: "whatif-site" } }).addTo(sites);
        L.circleMarker([site.lat, site.lon], { radius: 5, color: "#000", fillOpacity: 1,
          className: "whatif-marker" }).addTo(sites);
        rows.appendChild(row(site.id || "Site " + (i + 1), site));
      });
      rows.appendChild(row("All together", result.combined, true));
      $("whatif-results").hidden = false;
      $("whatif-export").disabled = false;
      var combined = result.combined;
      $("whatif-status").textContent = "Together the sites gain " + weight(combined.demand_gained) +
        " demand and " + km2(combined.area_gained_m2) + ": covered demand " +
        percent(result.today.demand_covered_share) + " → " +
        percent(combined.demand_covered_share_after) + ".";
      var losing = combined.loses_exclusivity.slice(0, 5).map(function (entry) {
        return entry.name + " (" + weight(entry.demand_weight) + ")";
      });
      $("whatif-exclusivity").textContent = losing.length ?
        "Would share demand that only they serve today: " + losing.join(", ") +
        (combined.loses_exclusivity.length > 5 ? ", …" : "") + "." : "";
    }

    function row(name, figures, total) {
      var tr = element("tr");
      tr.className = total ? "whatif-total" : "whatif-row";
      var th = element("th", name);
      th.scope = "row";
      tr.appendChild(th);
      [km2(figures.area_gained_m2), weight(figures.demand_gained), weight(figures.demand_overlap)]
        .forEach(function (text) {
          var td = element("td", text);
          td.className = "num";
          tr.appendChild(td);
        });
      return tr;
    }

    function exportScenario() {
      if (!scenario) return;
      var features = scenario.candidates.map(function (site, i) {
        var properties = Object.assign({}, site);
        delete properties.geometry;
        properties.index = i;
        return { type: "Feature", geometry: site.geometry, properties: properties };
      });
      var document_ = {
        type: "FeatureCollection", features: features,
        scenario: { region: scenario.region, bbox: scenario.bbox, mode: scenario.mode,
                    demand: scenario.demand, today: scenario.today, combined: scenario.combined },
      };
      var blob = new Blob([JSON.stringify(document_, null, 1)], { type: "application/geo+json" });
      var link = element("a");
      link.href = URL.createObjectURL(blob);
      link.download = "what-if-" + scenario.mode + ".geojson";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }

    function toggleDropping() {
      var button = $("whatif-drop");
      var on = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", String(on));
      container.classList.toggle("dropping", on);
    }

    map.on("click", function (event) {
      if ($("whatif-drop").getAttribute("aria-pressed") !== "true") return;
      var value = Number($("whatif-value").value);
      if (!(value > 0)) {
        $("whatif-status").textContent = "Give the reach as a positive number.";
        return;
      }
      var lon = L.Util.wrapNum(event.latlng.lng, [-180, 180], true);
      candidates.push(Object.assign({ lat: event.latlng.lat, lon: lon }, reach()));
      weigh(true);
    });
    $("whatif-drop").addEventListener("click", toggleDropping);
    $("whatif-clear").addEventListener("click", function () {
      candidates = [];
      scenario = null;
      sites.clearLayers();
      $("whatif-results").hidden = true;
      $("whatif-export").disabled = true;
      $("whatif-status").textContent = "";
      $("whatif-exclusivity").textContent = "";
    });
    $("whatif-export").addEventListener("click", exportScenario);
    $("demand-set").addEventListener("change", function () { loadDemand(); weigh(); });
    $("demand-mode").addEventListener("change", function () {
      if (demand) { describeDemand(); drawHexagons(); }
      weigh();
    });
    $("demand-hexagons").addEventListener("change", drawHexagons);
    if ($("demand-regions")) $("demand-regions").addEventListener("click", compareRegions);
    loadDemand();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
