/*
 * The shopper's pickup picker (the page at /). Vanilla JS, no build step.
 *
 * Reads its settings from data-* attributes on #picker and its messages from the JSON
 * block #picker-messages (no inline script: the page works under script-src 'self').
 * Talks to /api/v1/geocode and /api/v1/pickup-points, and with a cart to
 * /api/v1/fulfilment/options.
 *
 * A cart comes from the page's `cart` parameter (read by the server into data-cart), or,
 * in a frame, from the checkout around it: window.parent posts
 * {type: "setCart", cart: [{sku: "milk-1l", qty: 2}, ...]} (an empty list removes the
 * cart) once the frame has loaded. Only messages from window.parent at the allow-listed
 * parent origin (data-parent-origin) are read; others are ignored. With a cart, each
 * point says when the whole cart is ready there, or why it cannot take it (it then
 * cannot be chosen), and the best express and delivery options covering the address are
 * offered above the list.
 *
 * Choosing a point (or a delivery):
 *  1. dispatches a cancelable `pickupPointSelected` CustomEvent on document (it bubbles to
 *     window) whose detail is the point (id, external_id, name, brand, kind, lat, lon,
 *     distance_m, address, capabilities, opening_hours, timezone, is_open, next_change)
 *     and its `mode` ("pickup", or "express" / "delivery" for the store that delivers);
 *     with a cart also the option: source ("stock" / "transfer"), ready_at, arrive_by,
 *     duration_s, supplied_from ({external_id, name} or null) and the cart's lines;
 *  2. when framed, posts {type: "pickupPointSelected", point: detail} to window.parent,
 *     to the allow-listed parent origin only (never "*");
 *  3. unless a listener called preventDefault(), or the page is framed and has told its
 *     parent, goes to the server-approved return_url with pickup_external_id, pickup_id,
 *     pickup_name, pickup_kind, pickup_lat, pickup_lon, pickup_address (and state, when
 *     the page was given one); with a cart also fulfilment_mode, fulfilment_source,
 *     fulfilment_ready_at, fulfilment_arrive_by and fulfilment_supplied_from (when they
 *     have a value) and fulfilment_cart (sku:qty,...).
 */
(function () {
  "use strict";

  const root = document.getElementById("picker");
  if (!root || !window.L) {
    return;
  }
  const cfg = root.dataset;
  const lang = cfg.lang || "en";
  const messages = JSON.parse(document.getElementById("picker-messages").textContent);
  const plural = new Intl.PluralRules(lang);
  const DEFAULT_RADIUS = Number(cfg.defaultRadius) || 25000;
  const MAX_RADIUS = Number(cfg.maxRadius) || 1000000;
  const PAGE_SIZE = Number(cfg.pageSize) || 20;
  // The page's publishable client key, sent with every API call (X-Api-Key).
  const API_HEADERS = cfg.clientKey
    ? { Accept: "application/json", "X-Api-Key": cfg.clientKey }
    : { Accept: "application/json" };
  const SUGGEST_DELAY_MS = 250;
  const SUGGEST_MIN_CHARS = 2;
  const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  const $ = (id) => document.getElementById(id);
  const els = {
    form: $("search-form"),
    input: $("search-input"),
    suggestions: $("suggestions"),
    suggestStatus: $("suggest-status"),
    locate: $("locate"),
    locateMessage: $("locate-message"),
    openNow: $("open-now"),
    filters: $("filters"),
    filtersCount: $("filters-count"),
    clearFilters: $("clear-filters"),
    status: $("status"),
    message: $("message"),
    list: $("results"),
    more: $("more"),
    cart: $("cart"),
    cartLines: $("cart-lines"),
    cartNotice: $("cart-notice"),
    deliveries: $("deliveries"),
    deliveryOptions: $("delivery-options"),
  };
  const CART_MAX_LINES = Number(cfg.cartMaxLines) || 50;

  // ---- messages and formatting ---------------------------------------------------

  /** The message `key` with {placeholders} filled from `vars`. */
  function t(key, vars) {
    const text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    return text.replace(/\{(\w+)\}/g, (whole, name) =>
      vars && vars[name] !== undefined ? String(vars[name]) : whole
    );
  }

  /** The plural form of `key` (`key.one`, `key.other`, ...) for `count`. */
  function tn(key, count, vars) {
    const form = `${key}.${plural.select(count)}`;
    const chosen = Object.prototype.hasOwnProperty.call(messages, form) ? form : `${key}.other`;
    return t(chosen, Object.assign({ count: formatInteger(count) }, vars));
  }

  const integerFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
  const kmFormat = new Intl.NumberFormat(lang, {
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  });

  function formatInteger(n) {
    return integerFormat.format(n);
  }

  /** Metres below 1 km ("850 m"), else km with one decimal ("1.2 km"). */
  function formatDistance(metres) {
    if (Math.round(metres) < 1000) {
      return t("unit.m", { n: formatInteger(Math.round(metres)) });
    }
    return t("unit.km", { n: kmFormat.format(metres / 1000) });
  }

  function formatRadius(metres) {
    return t("unit.km", { n: formatInteger(metres / 1000) });
  }

  function label(prefix, value) {
    const key = `${prefix}.${value}`;
    return Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : value.replace(/_/g, " ");
  }

  /** A formatter in the location's own time zone (the browser's when the zone is unknown). */
  function zoned(options, timeZone, locale) {
    try {
      return new Intl.DateTimeFormat(locale || lang, Object.assign({ timeZone: timeZone || undefined }, options));
    } catch (error) {
      return new Intl.DateTimeFormat(locale || lang, options);
    }
  }

  /** Days from the day of `reference` (now by default) to `date`, both as calendar days
   * in `timeZone`. */
  function daysAhead(date, timeZone, reference) {
    // en-US only for its plain ASCII digits: these parts are parsed, never shown.
    const day = zoned({ year: "numeric", month: "numeric", day: "numeric" }, timeZone, "en-US");
    const parts = (d) => {
      const p = {};
      for (const part of day.formatToParts(d)) {
        p[part.type] = Number(part.value);
      }
      return Date.UTC(p.year, p.month - 1, p.day);
    };
    return Math.round((parts(date) - parts(reference || new Date())) / 86400000);
  }

  function formatTime(date, timeZone) {
    return zoned({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" }, timeZone).format(date);
  }

  /** "today 22:00", "tomorrow 08:00", "Mon 08:00" (a date too when a week or more away),
   * counted from the day of `reference` (now by default). */
  function formatWhen(iso, timeZone, reference) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) {
      return "";
    }
    const time = formatTime(date, timeZone);
    const ahead = daysAhead(date, timeZone, reference);
    if (ahead === 0) {
      return t("when.today", { time });
    }
    if (ahead === 1) {
      return t("when.tomorrow", { time });
    }
    const dayOptions = ahead < 7 ? { weekday: "short" } : { weekday: "short", month: "short", day: "numeric" };
    return t("when.day", { day: zoned(dayOptions, timeZone).format(date), time });
  }

  /** The opening line of an entry and its state (open, closed or unknown). */
  function openingText(point) {
    if (point.is_open === true) {
      if (!point.next_change) {
        return { state: "open", text: t("hours.open_always") };
      }
      return { state: "open", text: t("hours.open_until", { when: formatWhen(point.next_change, point.timezone) }) };
    }
    if (point.is_open === false) {
      if (!point.next_change) {
        return { state: "closed", text: t("hours.closed") };
      }
      return { state: "closed", text: t("hours.opens", { when: formatWhen(point.next_change, point.timezone) }) };
    }
    return { state: "unknown", text: t("hours.unknown") };
  }

  function formatAddress(address) {
    if (!address) {
      return "";
    }
    const regionLine = [address.region, address.postcode].filter(Boolean).join(" ");
    return [address.line1, address.city, regionLine].filter(Boolean).join(", ");
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "text") {
        node.textContent = value;
      } else if (name === "className") {
        node.className = value;
      } else if (value !== null && value !== undefined && value !== false) {
        node.setAttribute(name, value === true ? "" : value);
      }
    }
    for (const child of children || []) {
      if (child) {
        node.append(child);
      }
    }
    return node;
  }

  // ---- the API -----------------------------------------------------------------------

  class ApiFailure extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status; // 0: the network failed
      this.problem = problem || {};
    }
    get retryable() {
      return this.status === 0 || this.status >= 500 || this.status === 429;
    }
  }

  /** The JSON body of a fetch of `url` (`init`: fetch's options, beyond the API headers),
   * or an ApiFailure. */
  async function requestJSON(url, init) {
    let response;
    try {
      response = await fetch(url, Object.assign({ headers: API_HEADERS, credentials: "same-origin" }, init));
    } catch (error) {
      throw new ApiFailure(0, null);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null; // e.g. a proxy's HTML error page
    }
    if (!response.ok) {
      throw new ApiFailure(response.status, body);
    }
    if (!body) {
      throw new ApiFailure(502, null);
    }
    return body;
  }

  function getJSON(url) {
    return requestJSON(url);
  }

  function postJSON(url, payload) {
    return requestJSON(url, {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, API_HEADERS),
      body: JSON.stringify(payload),
    });
  }

  function geocodeUrl(query, limit) {
    const params = new URLSearchParams({ q: query, limit: String(limit) });
    return `${cfg.geocodeUrl}?${params}`;
  }

  function pickupUrl(cursor) {
    const params = new URLSearchParams({
      lat: String(state.origin.lat),
      lon: String(state.origin.lon),
      radius: String(state.radius),
      limit: String(PAGE_SIZE),
    });
    for (const kind of checkedValues("kind")) {
      params.append("kind", kind);
    }
    for (const capability of checkedValues("capability")) {
      params.append("capability", capability);
    }
    if (els.openNow.checked) {
      params.set("open_now", "true");
    }
    if (cursor) {
      params.set("cursor", cursor);
    }
    return `${cfg.pickupUrl}?${params}`;
  }

  // ---- state ---------------------------------------------------------------------

  const state = {
    origin: null, // {lat, lon, label}
    radius: DEFAULT_RADIUS,
    points: [], // in list order
    byId: new Map(), // id -> {point, item, marker}
    nextCursor: null,
    searchSeq: 0, // answers to superseded searches are dropped, never aborted mid-flight
    chosenId: null,
    highlighted: null,
    cart: readCart(cfg.cart), // [{sku, qty}] or null
    at: cfg.at || null, // when the cart is evaluated (ISO 8601); null: now
    products: new Map(), // sku -> name, from the options API
    outcomes: new Map(), // external_id -> {option} or {reasons}: pickup with the cart
    deliveries: [], // the express and delivery options shown above the list
    answeredAt: null, // the moment the options API evaluated ("today" is its day)
    atDropped: false, // the API refused `at` (out of range): the cart is checked for now
    chosenDelivery: null,
    cartSeq: 0,
  };

  /** The cart in data-cart (JSON lines the server checked), or null. */
  function readCart(text) {
    if (!text) {
      return null;
    }
    try {
      return cartLines(JSON.parse(text)) || null;
    } catch (error) {
      return null;
    }
  }

  /** `value` when it is a list of 1..CART_MAX_LINES {sku: string, qty: integer} lines
   * (as plain objects), an empty list for "no cart", else undefined. The options API
   * checks the rest (known SKUs, quantities in range) and names the line. */
  function cartLines(value) {
    if (!Array.isArray(value) || value.length > CART_MAX_LINES) {
      return undefined;
    }
    const lines = [];
    for (const line of value) {
      if (!line || typeof line.sku !== "string" || !Number.isInteger(line.qty)) {
        return undefined;
      }
      lines.push({ sku: line.sku, qty: line.qty });
    }
    return lines.length ? lines : null;
  }

  function checkedValues(name) {
    return Array.from(root.querySelectorAll(`input[name="${name}"]:checked`), (input) => input.value);
  }

  function filtersOn() {
    return checkedValues("kind").length + checkedValues("capability").length + (els.openNow.checked ? 1 : 0);
  }

  function updateFiltersCount() {
    const count = checkedValues("kind").length + checkedValues("capability").length;
    els.filtersCount.textContent = count ? `(${tn("filters.active", count)})` : "";
  }

  // ---- the map -------------------------------------------------------------------

  const map = L.map("map", { zoomControl: true, worldCopyJump: true, maxZoom: 19, minZoom: 2 }).setView([20, 0], 2);
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution, maxZoom: 19 }).addTo(map);
  }

  // Before a search: the whole network, from the app's own location tiles (clustered
  // counts below street level), with a hint. The first answer replaces it.
  let overview = null;
  const mapHint = document.getElementById("map-hint");
  async function showNetwork() {
    mapHint.hidden = false;
    let extent = null;
    try {
      const response = await fetch(cfg.networkExtentUrl, { headers: { Accept: "application/json" } });
      extent = response.ok ? (await response.json()).bbox : null;
    } catch (error) {
      extent = null; // offline or down: the hint stays, the search still works
    }
    if (!Array.isArray(extent) || extent.length !== 4 || mapHint.hidden) return;
    const [west, south, east, north] = extent;
    map.fitBounds([[south, west], [north, east]], { padding: [20, 20], animate: false });
    if (L.vectorGrid && cfg.locationsTiles) {
      const dot = { radius: 4, weight: 1, color: "#ffffff", fillColor: "#0b5cad", fillOpacity: 0.85, fill: true };
      overview = L.vectorGrid.protobuf(cfg.locationsTiles, {
        interactive: false,
        maxNativeZoom: 19,
        vectorTileLayerStyles: {
          locations: (properties) => (properties.count > 1 ? { ...dot, radius: 6 } : dot),
        },
      }).addTo(map);
    }
  }
  function hideNetwork() {
    if (overview) {
      map.removeLayer(overview);
      overview = null;
    }
    mapHint.hidden = true;
  }
  const clusters = L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 40,
    // Close enough to tell neighbouring doors apart: stop clustering.
    disableClusteringAtZoom: 17,
    spiderfyOnMaxZoom: true,
    iconCreateFunction(cluster) {
      const count = cluster.getChildCount();
      const size = count < 10 ? "small" : count < 50 ? "medium" : "large";
      return L.divIcon({
        html: `<div><span>${count}</span></div>`,
        className: `marker-cluster marker-cluster-${size}`,
        iconSize: L.point(40, 40),
      });
    },
  }).addTo(map);
  clusters.on("clusterclick", (event) => event.layer.zoomToBounds({ padding: [30, 30] }));
  clusters.on("animationend", () => refreshClusterHighlight());
  map.on("zoomend", () => refreshClusterHighlight());
  let originMarker = null;

  function markerIcon(number) {
    return L.divIcon({
      className: "pp-marker",
      html: `<div class="pp-pin"><span>${number}</span></div>`,
      iconSize: [28, 28],
      // The pin is the box turned 45 degrees: its tip sits 14 * sqrt(2) below the centre.
      iconAnchor: [14, 34],
      tooltipAnchor: [0, -16],
    });
  }

  function addMarker(point, number) {
    const marker = L.marker([point.lat, point.lon], {
      icon: markerIcon(number),
      keyboard: false, // the list is the keyboard route to every point; no second tab stop
      riseOnHover: true,
      title: "",
    });
    marker.bindTooltip(point.name, { direction: "top" });
    marker.on("click", () => {
      highlight(point.id, { scroll: true });
      const entry = state.byId.get(point.id);
      if (entry) {
        entry.item.focus({ preventScroll: true });
      }
    });
    marker.on("mouseover", () => highlight(point.id));
    marker.on("add", () => {
      const icon = marker.getElement();
      if (icon) {
        icon.setAttribute("aria-hidden", "true");
        icon.dataset.id = String(point.id);
        icon.classList.toggle("is-active", state.highlighted === point.id);
        icon.classList.toggle("is-chosen", state.chosenId === point.id);
      }
    });
    clusters.addLayer(marker);
    return marker;
  }

  function showOrigin() {
    if (originMarker) {
      originMarker.remove();
    }
    originMarker = L.circleMarker([state.origin.lat, state.origin.lon], {
      radius: 8,
      color: "#ffffff",
      weight: 3,
      fillColor: "#1d4ed8",
      fillOpacity: 1,
      className: "pp-origin",
      interactive: true,
    })
      .bindTooltip(`${t("map.origin")}: ${state.origin.label}`)
      .addTo(map);
  }

  function fitMap() {
    const bounds = L.latLngBounds([[state.origin.lat, state.origin.lon]]);
    for (const point of state.points) {
      bounds.extend([point.lat, point.lon]);
    }
    map.invalidateSize();
    if (state.points.length) {
      // More room at the top: a pin stands 34 px above the point it marks.
      map.fitBounds(bounds, {
        paddingTopLeft: [40, 60],
        paddingBottomRight: [40, 30],
        maxZoom: 16,
        animate: !reduceMotion,
      });
    } else {
      map.setView([state.origin.lat, state.origin.lon], 11, { animate: !reduceMotion });
    }
  }

  let highlightedCluster = null;

  /** Mark one point in the list and on the map (its cluster when it is inside one). */
  function highlight(id, options) {
    const previous = state.highlighted !== null ? state.byId.get(state.highlighted) : null;
    if (previous && state.highlighted !== id) {
      previous.item.classList.remove("is-highlighted");
      const icon = previous.marker.getElement();
      if (icon) {
        icon.classList.remove("is-active");
      }
      previous.marker.setZIndexOffset(0);
    }
    state.highlighted = id;
    const entry = id !== null ? state.byId.get(id) : null;
    if (entry) {
      entry.item.classList.add("is-highlighted");
      entry.marker.setZIndexOffset(1000);
      const icon = entry.marker.getElement();
      if (icon) {
        icon.classList.add("is-active");
      }
      if (options && options.scroll) {
        entry.item.scrollIntoView({ block: "nearest", behavior: reduceMotion ? "auto" : "smooth" });
      }
    }
    refreshClusterHighlight();
  }

  function refreshClusterHighlight() {
    if (highlightedCluster) {
      const icon = highlightedCluster.getElement && highlightedCluster.getElement();
      if (icon) {
        icon.classList.remove("is-active");
      }
      highlightedCluster = null;
    }
    const entry = state.highlighted !== null ? state.byId.get(state.highlighted) : null;
    if (!entry) {
      return;
    }
    const parent = clusters.getVisibleParent(entry.marker);
    if (parent && parent !== entry.marker && parent.getElement) {
      const icon = parent.getElement();
      if (icon) {
        icon.classList.add("is-active");
        highlightedCluster = parent;
      }
    }
  }

  function unhighlight(id) {
    if (state.highlighted === id) {
      highlight(null);
    }
  }

  // ---- rendering -----------------------------------------------------------------

  function setStatus(text) {
    els.status.textContent = text;
  }

  function clearMessage() {
    els.message.replaceChildren();
    els.message.className = "message";
    els.message.removeAttribute("role");
  }

  /** The message box: a line of text, optional extra nodes, optional action buttons. */
  function showMessage(text, { error = false, extra = [], actions = [] } = {}) {
    clearMessage();
    if (error) {
      els.message.classList.add("is-error");
      els.message.setAttribute("role", "alert");
    }
    els.message.append(element("p", { text }));
    for (const node of extra) {
      els.message.append(node);
    }
    if (actions.length) {
      const row = element("div", { className: "actions" });
      for (const action of actions) {
        const button = element("button", {
          type: "button",
          className: `button ${action.primary ? "button-primary" : "button-secondary"}`,
          text: action.label,
        });
        if (action.id) {
          button.id = action.id;
        }
        button.addEventListener("click", action.run);
        row.append(button);
      }
      els.message.append(row);
    }
  }

  function clearResults() {
    state.points = [];
    state.byId.clear();
    state.highlighted = null;
    state.nextCursor = null;
    highlightedCluster = null;
    clusters.clearLayers();
    els.list.replaceChildren();
    els.more.hidden = true;
    state.outcomes.clear();
  }

  function renderPoint(point, number) {
    const id = `result-${point.id}`;
    const opening = openingText(point);
    const kindLine = [label("kind", point.kind), point.brand].filter(Boolean).join(" · ");
    const services = (point.capabilities || []).filter((c) => c !== "pickup");
    const choose = element("button", {
      type: "button",
      className: "button button-primary choose",
      "aria-describedby": `${id}-name ${id}-summary ${id}-cart`,
      text: t("entry.choose"),
    });
    const item = element(
      "li",
      {
        className: "result",
        id,
        tabindex: "-1",
        "data-id": String(point.id),
        "data-external-id": point.external_id,
        "data-open": opening.state,
        "aria-labelledby": `${id}-name`,
      },
      [
        element("div", { className: "result-head" }, [
          element("span", { className: "result-number", "aria-hidden": "true", text: String(number) }),
          element("h3", { className: "result-name", id: `${id}-name`, text: point.name }),
          element("span", { className: "result-distance" }, [
            element("span", { className: "visually-hidden", text: `${t("entry.distance")}: ` }),
            element("span", { className: "distance-value", text: formatDistance(point.distance_m) }),
          ]),
        ]),
        element("p", { className: "result-kind", id: `${id}-summary`, text: kindLine }),
        element("p", { className: "result-cart", id: `${id}-cart`, hidden: true }),
        element("p", { className: "result-address", text: formatAddress(point.address) }),
        element("p", { className: `result-hours is-${opening.state}`, text: opening.text }),
        services.length
          ? element(
              "ul",
              { className: "result-services", "aria-label": t("entry.services") },
              services.map((c) => element("li", { text: label("capability", c) }))
            )
          : null,
        choose,
      ]
    );
    choose.addEventListener("click", () => {
      const outcome = state.outcomes.get(point.external_id);
      choosePoint(point, outcome && outcome.option);
    });
    item.addEventListener("mouseenter", () => highlight(point.id));
    item.addEventListener("mouseleave", () => unhighlight(point.id));
    item.addEventListener("focusin", () => highlight(point.id));
    item.addEventListener("focusout", (event) => {
      if (!item.contains(event.relatedTarget)) {
        unhighlight(point.id);
      }
    });
    // A click on the entry (not its button) brings its marker into view on the map.
    item.addEventListener("click", (event) => {
      if (event.target.closest("button")) {
        return;
      }
      const entry = state.byId.get(point.id);
      clusters.zoomToShowLayer(entry.marker, () => highlight(point.id));
    });
    return item;
  }

  function appendPoints(points) {
    const fragment = document.createDocumentFragment();
    for (const point of points) {
      const number = state.points.length + 1;
      const item = renderPoint(point, number);
      const marker = addMarker(point, number);
      state.points.push(point);
      state.byId.set(point.id, { point, item, marker });
      fragment.append(item);
    }
    els.list.append(fragment);
  }

  function showEmpty() {
    const place = state.origin.label;
    const actions = [];
    if (state.radius < MAX_RADIUS) {
      const wider = Math.min(state.radius * 2, MAX_RADIUS);
      actions.push({
        id: "widen",
        label: t("results.widen", { radius: formatRadius(wider) }),
        primary: true,
        run: () => {
          state.radius = wider;
          searchPoints();
        },
      });
    }
    if (filtersOn()) {
      actions.push({ label: t("filters.clear"), run: () => clearFilters(true) });
    }
    const lines = [t("results.empty", { radius: formatRadius(state.radius), place })];
    if (state.radius >= MAX_RADIUS) {
      lines.push(t("results.empty_max"));
    } else if (filtersOn()) {
      lines.push(t("results.empty_filters"));
    }
    showMessage(lines.join(" "), { actions });
    setStatus(lines[0]);
  }

  /** An error box (role=alert, which announces itself: the status line is cleared). */
  function showFailure(failure, retry) {
    setStatus("");
    if (failure.retryable) {
      showMessage(t("error.unavailable"), {
        error: true,
        actions: [{ id: "retry", label: t("error.retry"), primary: true, run: retry }],
      });
      return;
    }
    showMessage(t("error.request", { detail: failure.message }), { error: true });
  }

  function setBusy(busy) {
    els.list.setAttribute("aria-busy", busy ? "true" : "false");
    if (busy) {
      setStatus(t("search.searching"));
    }
  }

  // ---- the cart -----------------------------------------------------------------

  function productName(sku) {
    return state.products.get(sku) || sku;
  }

  function renderCart() {
    els.cart.hidden = !state.cart && els.cartNotice.hidden;
    els.cartLines.replaceChildren(
      ...(state.cart || []).map((line) =>
        element("li", { text: t("cart.line", { qty: formatInteger(line.qty), name: productName(line.sku) }) })
      )
    );
  }

  function setCartNotice(text) {
    els.cartNotice.textContent = text || "";
    els.cartNotice.hidden = !text;
    renderCart();
  }

  /** A time phrase from `prefix`.today ("at 14:30") or `prefix`.later ("tomorrow 10:00"),
   * in `timeZone`, counted from the day the options were evaluated. */
  function timePhrase(prefix, iso, timeZone, vars) {
    const reference = state.answeredAt ? new Date(state.answeredAt) : new Date();
    const date = new Date(iso);
    if (daysAhead(date, timeZone, reference) === 0) {
      return t(`${prefix}.today`, Object.assign({ time: formatTime(date, timeZone) }, vars));
    }
    return t(`${prefix}.later`, Object.assign({ when: formatWhen(iso, timeZone, reference) }, vars));
  }

  /** A reason code (with its skus or needs) in the shopper's words. */
  function reasonText(reason) {
    if (reason.code === "out_of_stock") {
      const items = (reason.skus || []).map(productName).join(t("list.and"));
      return t("reason.out_of_stock", { items });
    }
    if (reason.code === "temperature") {
      return label("reason.temperature", reason.needs || "");
    }
    return label("reason", reason.code);
  }

  function optionText(option) {
    const zone = option.location.timezone;
    if (option.mode === "pickup") {
      if (option.source === "transfer" && option.supplied_from) {
        return timePhrase("cart.transfer", option.ready_at, zone, { warehouse: option.supplied_from.name });
      }
      return timePhrase("cart.ready", option.ready_at, zone);
    }
    const when = option.mode === "express" ? option.arrive_by : option.ready_at;
    return timePhrase(`delivery.${option.mode}`, when, zone);
  }

  /** Show on a list entry what the cart check said of its point (or that it was not checked). */
  function markEntry(entry) {
    const outcome = state.cart ? state.outcomes.get(entry.point.external_id) : null;
    const line = entry.item.querySelector(".result-cart");
    const choose = entry.item.querySelector(".choose");
    const unavailable = Boolean(outcome && outcome.reasons);
    entry.item.classList.toggle("is-unavailable", unavailable);
    entry.item.dataset.cart = !state.cart || !state.answeredAt ? "" : outcome ? (unavailable ? "unavailable" : "ready") : "unchecked";
    choose.disabled = unavailable;
    choose.textContent = unavailable
      ? t("entry.unavailable")
      : state.chosenId === entry.point.id
        ? t("entry.chosen")
        : t("entry.choose");
    if (!state.cart || !state.answeredAt) {
      line.hidden = true;
      return;
    }
    line.hidden = false;
    if (!outcome) {
      line.className = "result-cart is-unchecked";
      line.textContent = t("cart.unchecked");
    } else if (unavailable) {
      line.className = "result-cart is-unavailable";
      line.textContent = outcome.reasons.map(reasonText).join(" · ");
    } else {
      line.className = "result-cart is-ready";
      line.textContent = optionText(outcome.option);
    }
  }

  function renderDeliveries() {
    els.deliveries.hidden = !state.deliveries.length;
    els.deliveryOptions.replaceChildren(
      ...state.deliveries.map((option) => {
        const text = element("div", { className: "delivery-text" }, [
          element("p", { className: "delivery-when", text: optionText(option) }),
          element("p", { className: "delivery-from", text: t("delivery.from", { name: option.location.name }) }),
        ]);
        const button = element("button", {
          type: "button",
          className: "button button-secondary choose-delivery",
          text: t("delivery.choose"),
        });
        button.addEventListener("click", () => choosePoint(option.location, option));
        const chosen = state.chosenDelivery === option;
        return element(
          "li",
          {
            className: `delivery-option${chosen ? " is-chosen" : ""}`,
            "data-mode": option.mode,
            "data-external-id": option.location.external_id,
          },
          [text, button]
        );
      })
    );
  }

  /** Forget what the last check said (a new cart, or no cart). */
  function resetCartAnswers() {
    state.cartSeq++;
    state.outcomes.clear();
    state.deliveries = [];
    state.answeredAt = null;
    renderDeliveries();
    for (const entry of state.byId.values()) {
      markEntry(entry);
    }
  }

  /** The cart's problem (a 4xx from the options API) in the shopper's words. */
  function cartProblem(failure) {
    if (failure.retryable) {
      return t("cart.failed");
    }
    for (const error of failure.problem.errors || []) {
      const match = /^cart\[(\d+)\]/.exec(error.field || "");
      if (match) {
        const index = Number(match[1]);
        const line = state.cart[index];
        if (/\.sku$/.test(error.field) && /unknown SKU/.test(error.message) && line) {
          return t("cart.unknown_sku", { sku: line.sku });
        }
        return t("cart.bad_line", { n: formatInteger(index + 1) });
      }
      if (error.field === "at") {
        return t("at.invalid");
      }
    }
    return t("cart.failed");
  }

  /**
   * Ask the options API about the cart for the listed points and the address: pickup at
   * the listed points (within the farthest one's distance, so the answer's caps hold
   * them all), and express and delivery within the search radius.
   */
  async function checkCart() {
    resetCartAnswers();
    if (!state.cart || !state.origin) {
      return;
    }
    const seq = state.cartSeq;
    const base = { lat: state.origin.lat, lon: state.origin.lon, cart: state.cart, limit: 100 };
    if (state.at) {
      base.at = state.at;
    }
    const asks = [postJSON(cfg.optionsUrl, Object.assign({ modes: ["express", "delivery"], radius: state.radius }, base))];
    if (state.points.length) {
      const farthest = Math.max(...state.points.map((point) => point.distance_m));
      const radius = Math.min(state.radius, Math.ceil(farthest) + 1);
      asks.push(postJSON(cfg.optionsUrl, Object.assign({ modes: ["pickup"], radius }, base)));
    }
    let answers;
    try {
      answers = await Promise.all(asks);
    } catch (failure) {
      if (seq !== state.cartSeq) {
        return;
      }
      if (state.at && (failure.problem.errors || []).some((error) => error.field === "at")) {
        state.at = null; // as the notice says: the cart is checked for now instead
        state.atDropped = true;
        checkCart();
        return;
      }
      setCartNotice(cartProblem(failure));
      return;
    }
    if (seq !== state.cartSeq) {
      return;
    }
    const [delivered, pickedUp] = answers;
    state.answeredAt = delivered.at;
    for (const line of delivered.cart || []) {
      state.products.set(line.sku, line.name);
    }
    // The earliest option of each mode (the API sorts them earliest first).
    state.deliveries = ["express", "delivery"]
      .map((mode) => delivered.options.find((option) => option.mode === mode))
      .filter(Boolean);
    if (pickedUp) {
      for (const option of pickedUp.options) {
        state.outcomes.set(option.location.external_id, { option });
      }
      for (const exclusion of pickedUp.excluded) {
        state.outcomes.set(exclusion.location.external_id, { reasons: exclusion.reasons });
      }
    }
    setCartNotice(state.atDropped ? t("at.invalid") : "");
    renderDeliveries();
    for (const entry of state.byId.values()) {
      markEntry(entry);
    }
  }

  /** A cart from the checkout around the frame (see the header comment). */
  window.addEventListener("message", (event) => {
    if (window.parent === window || event.source !== window.parent) {
      return;
    }
    if (!cfg.parentOrigin || event.origin !== cfg.parentOrigin) {
      return;
    }
    const data = event.data;
    if (!data || typeof data !== "object" || data.type !== "setCart") {
      return;
    }
    const lines = cartLines(data.cart);
    if (lines === undefined) {
      setCartNotice(t("cart.sent_invalid"));
      return;
    }
    state.cart = lines;
    setCartNotice("");
    checkCart();
  });

  // ---- searching -----------------------------------------------------------------

  /** Nearest pickup points for the current origin, radius and filters (a new list, or the next page). */
  async function searchPoints({ more = false } = {}) {
    if (!state.origin) {
      return;
    }
    const seq = ++state.searchSeq;
    const cursor = more ? state.nextCursor : null;
    setBusy(true);
    if (!more) {
      clearMessage();
    }
    let body;
    try {
      body = await getJSON(pickupUrl(cursor));
    } catch (failure) {
      if (seq !== state.searchSeq) {
        return;
      }
      setBusy(false);
      showFailure(failure, () => searchPoints({ more }));
      return;
    }
    if (seq !== state.searchSeq) {
      return;
    }
    setBusy(false);
    if (!more) {
      hideNetwork();
      clearResults();
      showOrigin();
    }
    appendPoints(body.results);
    state.nextCursor = body.next_cursor;
    els.more.hidden = !state.nextCursor;
    if (!state.points.length) {
      fitMap();
      showEmpty();
      checkCart(); // an address with no pickup point near may still get deliveries
      return;
    }
    clearMessage();
    if (!more) {
      fitMap();
    }
    setStatus(tn("results.count", state.points.length, { place: state.origin.label }));
    checkCart();
  }

  function setOrigin(origin) {
    state.origin = origin;
    state.radius = DEFAULT_RADIUS;
    state.chosenId = null;
    state.chosenDelivery = null;
  }

  /** Free text: geocode it, then search, or ask which place was meant. */
  async function searchText(query) {
    closeSuggestions();
    if (!query) {
      showMessage(t("search.empty"));
      setStatus(t("search.empty"));
      els.input.focus();
      return;
    }
    const seq = ++state.searchSeq;
    setBusy(true);
    clearMessage();
    let body;
    try {
      body = await getJSON(geocodeUrl(query, 5));
    } catch (failure) {
      if (seq !== state.searchSeq) {
        return;
      }
      setBusy(false);
      if (failure.status === 404) {
        const text = t("notfound", { query });
        showMessage(text);
        setStatus(text);
      } else {
        showFailure(failure, () => searchText(query));
      }
      return;
    }
    if (seq !== state.searchSeq) {
      return;
    }
    setBusy(false);
    rememberQuery(query);
    if (body.ambiguous && body.candidates.length > 1) {
      showCandidates(query, body.candidates);
      return;
    }
    const best = body.candidates[0];
    setOrigin({ lat: best.lat, lon: best.lon, label: best.label });
    await searchPoints();
  }

  /** A place's name, and a note when the retailer has pickup points near it. */
  function placeLabel(candidate) {
    return [
      element("span", { className: "place-label", text: candidate.label }),
      candidate.near_network
        ? element("span", { className: "near-network", text: t("place.near_network") })
        : null,
    ];
  }

  function showCandidates(query, candidates) {
    clearResults();
    const heading = t("ambiguous.heading", { query });
    const list = element(
      "ul",
      { className: "candidates", "aria-label": heading },
      candidates.map((candidate) => {
        const button = element(
          "button",
          { type: "button", className: "button button-secondary candidate" },
          placeLabel(candidate)
        );
        button.addEventListener("click", () => {
          els.input.value = candidate.label;
          setOrigin({ lat: candidate.lat, lon: candidate.lon, label: candidate.label });
          searchPoints();
        });
        return element("li", {}, [button]);
      })
    );
    showMessage(heading, { extra: [list] });
    setStatus(heading);
  }

  /** Keep the search in the address bar, so a reload or a shared link repeats it. */
  function rememberQuery(query) {
    try {
      const url = new URL(window.location.href);
      url.searchParams.set("q", query);
      window.history.replaceState(null, "", url);
    } catch (error) {
      // Sandboxed frames may refuse; the search works regardless.
    }
  }

  // ---- suggestions (an ARIA 1.2 combobox with a listbox popup) -------------------

  let suggestTimer = null;
  let suggestSeq = 0;
  let suggestions = [];
  let activeIndex = -1;

  function closeSuggestions() {
    clearTimeout(suggestTimer);
    suggestSeq++; // any answer still on its way is now stale
    suggestions = [];
    activeIndex = -1;
    els.suggestions.hidden = true;
    els.suggestions.replaceChildren();
    els.input.setAttribute("aria-expanded", "false");
    els.input.removeAttribute("aria-activedescendant");
  }

  function openSuggestions(candidates) {
    suggestions = candidates;
    activeIndex = -1;
    els.suggestions.replaceChildren(
      ...candidates.map((candidate, index) => {
        const option = element(
          "li",
          { id: `suggestion-${index}`, role: "option", "aria-selected": "false" },
          placeLabel(candidate)
        );
        // mousedown would blur the input (and close the list) before the click lands.
        option.addEventListener("mousedown", (event) => event.preventDefault());
        option.addEventListener("click", () => pickSuggestion(index));
        return option;
      })
    );
    els.suggestions.hidden = candidates.length === 0;
    els.input.setAttribute("aria-expanded", candidates.length ? "true" : "false");
    els.input.removeAttribute("aria-activedescendant");
    els.suggestStatus.textContent = candidates.length ? tn("suggest.count", candidates.length) : "";
  }

  function setActive(index) {
    const options = els.suggestions.querySelectorAll('[role="option"]');
    activeIndex = index;
    options.forEach((option, i) => option.setAttribute("aria-selected", i === index ? "true" : "false"));
    if (index >= 0) {
      els.input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      els.input.removeAttribute("aria-activedescendant");
    }
  }

  function pickSuggestion(index) {
    const candidate = suggestions[index];
    if (!candidate) {
      return;
    }
    els.input.value = candidate.label;
    closeSuggestions();
    clearMessage();
    rememberQuery(candidate.label);
    setOrigin({ lat: candidate.lat, lon: candidate.lon, label: candidate.label });
    searchPoints();
  }

  async function fetchSuggestions(query) {
    const seq = ++suggestSeq;
    let body;
    try {
      body = await getJSON(geocodeUrl(query, 5));
    } catch (failure) {
      if (seq === suggestSeq) {
        openSuggestions([]); // no match (404) or a failure: just no suggestions
      }
      return;
    }
    if (seq === suggestSeq && els.input.value.trim() === query && document.activeElement === els.input) {
      openSuggestions(body.candidates);
    }
  }

  els.input.addEventListener("input", () => {
    clearTimeout(suggestTimer);
    const query = els.input.value.trim();
    if (query.length < SUGGEST_MIN_CHARS) {
      closeSuggestions();
      return;
    }
    // Wait for a pause in typing: one request per word, not per keystroke.
    suggestTimer = setTimeout(() => fetchSuggestions(query), SUGGEST_DELAY_MS);
  });

  els.input.addEventListener("keydown", (event) => {
    const open = !els.suggestions.hidden && suggestions.length > 0;
    switch (event.key) {
      case "ArrowDown":
        if (open) {
          event.preventDefault();
          setActive((activeIndex + 1) % suggestions.length);
        }
        break;
      case "ArrowUp":
        if (open) {
          event.preventDefault();
          setActive(activeIndex <= 0 ? suggestions.length - 1 : activeIndex - 1);
        }
        break;
      case "Enter":
        if (open && activeIndex >= 0) {
          event.preventDefault();
          pickSuggestion(activeIndex);
        }
        break;
      case "Escape":
        if (open) {
          event.preventDefault();
          closeSuggestions();
        } else if (els.input.value) {
          event.preventDefault();
          els.input.value = "";
        }
        break;
      case "Tab":
        closeSuggestions();
        break;
      default:
        break;
    }
  });

  els.input.addEventListener("blur", () => closeSuggestions());

  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    searchText(els.input.value.trim());
  });

  // ---- "use my location" ---------------------------------------------------------

  els.locate.addEventListener("click", () => {
    if (!("geolocation" in navigator)) {
      els.locateMessage.textContent = t("locate.unsupported");
      return;
    }
    els.locate.disabled = true;
    els.locateMessage.textContent = t("locate.locating");
    navigator.geolocation.getCurrentPosition(
      (position) => {
        els.locate.disabled = false;
        els.locateMessage.textContent = "";
        els.input.value = "";
        closeSuggestions();
        clearMessage();
        setOrigin({
          lat: Number(position.coords.latitude.toFixed(6)),
          lon: Number(position.coords.longitude.toFixed(6)),
          label: t("locate.label"),
        });
        searchPoints();
      },
      (error) => {
        els.locate.disabled = false;
        // A refusal is the shopper's choice, not a fault: say so kindly and move on.
        els.locateMessage.textContent =
          error.code === error.PERMISSION_DENIED ? t("locate.denied") : t("locate.unavailable");
        els.input.focus();
      },
      { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 }
    );
  });

  // ---- filters -------------------------------------------------------------------

  function onFiltersChanged() {
    updateFiltersCount();
    if (state.origin) {
      state.radius = DEFAULT_RADIUS;
      searchPoints();
    }
  }

  function clearFilters(search) {
    for (const input of root.querySelectorAll('input[name="kind"], input[name="capability"], #open-now')) {
      input.checked = false;
    }
    updateFiltersCount();
    if (search) {
      onFiltersChanged();
    }
  }

  els.openNow.addEventListener("change", onFiltersChanged);
  for (const input of root.querySelectorAll('input[name="kind"], input[name="capability"]')) {
    input.addEventListener("change", onFiltersChanged);
  }
  els.clearFilters.addEventListener("click", () => clearFilters(Boolean(state.origin)));
  els.more.addEventListener("click", () => searchPoints({ more: true }));

  // ---- choosing ------------------------------------------------------------------

  /** The event's detail: the point, its mode, and with a cart the option chosen. */
  function selection(point, option) {
    const detail = {
      id: point.id,
      external_id: point.external_id,
      name: point.name,
      brand: point.brand,
      kind: point.kind,
      lat: point.lat,
      lon: point.lon,
      distance_m: point.distance_m,
      address: point.address,
      capabilities: point.capabilities,
      opening_hours: point.opening_hours,
      timezone: point.timezone,
      is_open: point.is_open,
      next_change: point.next_change,
      mode: option ? option.mode : "pickup",
    };
    if (option) {
      Object.assign(detail, {
        source: option.source,
        ready_at: option.ready_at,
        arrive_by: option.arrive_by,
        duration_s: option.duration_s,
        supplied_from: option.supplied_from,
        cart: state.cart.map((line) => ({ sku: line.sku, qty: line.qty })),
      });
    }
    return detail;
  }

  function returnTarget(detail) {
    const url = new URL(cfg.returnUrl);
    const params = {
      pickup_external_id: detail.external_id,
      pickup_id: String(detail.id),
      pickup_name: detail.name,
      pickup_kind: detail.kind,
      pickup_lat: String(detail.lat),
      pickup_lon: String(detail.lon),
      pickup_address: formatAddress(detail.address),
    };
    if (detail.cart) {
      Object.assign(params, {
        fulfilment_mode: detail.mode,
        fulfilment_source: detail.source,
        fulfilment_ready_at: detail.ready_at,
        fulfilment_arrive_by: detail.arrive_by,
        fulfilment_supplied_from: detail.supplied_from && detail.supplied_from.external_id,
        fulfilment_cart: detail.cart.map((line) => `${line.sku}:${line.qty}`).join(","),
      });
    }
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) {
        url.searchParams.set(name, value);
      }
    }
    if (cfg.state) {
      url.searchParams.set("state", cfg.state);
    }
    return url.href;
  }

  function markChosen() {
    for (const entry of state.byId.values()) {
      const chosen = entry.point.id === state.chosenId;
      entry.item.classList.toggle("is-chosen", chosen);
      markEntry(entry);
      const icon = entry.marker.getElement();
      if (icon) {
        icon.classList.toggle("is-chosen", chosen);
      }
    }
    renderDeliveries();
  }

  /** Choose a pickup point, or (with `option` of mode express or delivery) the store
   * delivering the cart. */
  function choosePoint(point, option) {
    const detail = selection(point, option);
    const delivered = Boolean(option && option.mode !== "pickup");
    state.chosenId = delivered ? null : point.id;
    state.chosenDelivery = delivered ? option : null;
    markChosen();
    const event = new CustomEvent("pickupPointSelected", { detail, bubbles: true, cancelable: true });
    document.dispatchEvent(event);
    let toldParent = false;
    if (window.parent !== window && cfg.parentOrigin) {
      window.parent.postMessage({ type: "pickupPointSelected", point: detail }, cfg.parentOrigin);
      toldParent = true; // the checkout around the frame takes it from here
    }
    if (cfg.returnUrl && !event.defaultPrevented && !toldParent) {
      setStatus(t("chosen.redirecting", { name: point.name }));
      window.location.assign(returnTarget(detail));
      return;
    }
    setStatus(t(delivered ? "delivery.chosen" : "chosen.status", { name: point.name }));
  }

  // ---- start ---------------------------------------------------------------------

  updateFiltersCount();
  renderCart();
  if (cfg.initialQ) {
    searchText(cfg.initialQ);
  } else {
    showNetwork();
  }
})();
