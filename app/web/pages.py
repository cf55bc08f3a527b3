"""The shopper's pickup picker at ``/``: a server-rendered shell for ``static/picker.js``.

The page itself never touches the database (it is the hot path of every checkout). The
script asks the JSON API (``/api/v1/geocode``, ``/api/v1/pickup-points``) and draws the
list and the Leaflet map. What the script needs comes in ``data-*`` attributes and a JSON
block of messages: no inline script, so a CSP with ``script-src 'self'`` holds.

Query parameters: ``q`` (search at once), ``kind`` and ``capability`` (repeatable,
pre-set filters), ``open_now=1``, ``lang`` (``en`` or ``zh-CN``; else Accept-Language),
``embed=1`` (no page chrome, for iframes), ``return_url`` (followed with the selection
only when RETURN_URL_ALLOWLIST allows it, see ``return_urls``), ``state`` (echoed back
to the return_url) and ``parent_origin`` (where a framed page posts the selection).

With a cart (``cart=milk-1l:2,ice-cream:1``: ``sku:quantity`` separated by commas, a
missing quantity meaning 1), the script also asks ``/api/v1/fulfilment/options``: each
point says when the whole cart is ready there, or why it cannot take it, and express and
delivery options covering the address are offered above the list. ``at`` (ISO 8601 with
an offset) evaluates the cart at that moment instead of now. A framed page can also be
given its cart by the checkout around it, through ``postMessage`` (see picker.js). A
cart that cannot be read is a notice on the page, never a broken page: the picker then
works without it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

import xstatic.pkg.leaflet_markercluster
from flask import (
    Blueprint,
    current_app,
    make_response,
    render_template,
    request,
    send_from_directory,
    url_for,
)

from app.errors import NotFound
from app.extensions import db
from app.limits import (
    CART_MAX_LINES,
    DEFAULT_RADIUS_M,
    MAX_LINE_QTY,
    MAX_RADIUS_M,
    MIN_LINE_QTY,
    SKU,
)
from app.services import tiles
from app.web import i18n
from app.web.planner import map_assets, vector_tiles
from app.web.return_urls import ReturnUrlAllowList

# The app has a /static rule of its own; a distinct prefix keeps this one reachable.
bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets/web",
)

MARKERCLUSTER_DIR = xstatic.pkg.leaflet_markercluster.BASE_DIR
MARKERCLUSTER_VERSION = xstatic.pkg.leaflet_markercluster.VERSION

# The filters a shopper is offered (pickup itself is implied by /pickup-points).
SHOPPER_KINDS = ("store", "convenience_store", "locker", "warehouse")
SHOPPER_CAPABILITIES = ("cold_chain", "frozen", "returns", "bulky", "cash", "accessible")
PAGE_SIZE = 20
MAX_STATE_LENGTH = 512
_TRUE = {"1", "true", "yes", "on"}
# A line is ``sku:quantity``; up to 50 of them fit in well under this.
MAX_CART_PARAMETER = 4096
_QUANTITY = re.compile(r"[0-9]{1,6}")  # ASCII digits only: int() would take "١٠" or "1_0"


@dataclass(frozen=True)
class CartParameter:
    """The ``cart`` parameter read: its lines, or what is wrong (a message key of
    ``i18n`` and the values it names)."""

    lines: list[dict] = field(default_factory=list)
    problem: str | None = None
    values: dict = field(default_factory=dict)


def parse_cart(text: str) -> CartParameter:
    """``sku:qty,sku:qty`` (a missing ``:qty`` means 1) as API cart lines, with the
    limits of the options API (app/limits.py), so a bad link is explained at once."""
    if len(text) > MAX_CART_PARAMETER:
        return CartParameter(problem="cart.invalid.too_long")
    parts = [part.strip() for part in text.split(",")]
    if parts == [""]:
        return CartParameter(problem="cart.invalid.empty")
    if len(parts) > CART_MAX_LINES:
        return CartParameter(problem="cart.invalid.too_many", values={"max": CART_MAX_LINES})
    lines: list[dict] = []
    for part in parts:
        sku, colon, quantity = part.partition(":")
        if not sku:  # an empty line (",,", a trailing comma) or ":2"
            return CartParameter(problem="cart.invalid.line", values={"part": _shown(part)})
        if not SKU.fullmatch(sku):
            return CartParameter(problem="cart.invalid.sku", values={"part": _shown(sku)})
        if colon and not _QUANTITY.fullmatch(quantity):
            return _bad_quantity(part)
        qty = int(quantity) if colon else 1
        if not MIN_LINE_QTY <= qty <= MAX_LINE_QTY:
            return _bad_quantity(part)
        if any(line["sku"] == sku for line in lines):
            return CartParameter(problem="cart.invalid.twice", values={"part": _shown(sku)})
        lines.append({"sku": sku, "qty": qty})
    return CartParameter(lines=lines)


def _bad_quantity(part: str) -> CartParameter:
    return CartParameter(
        problem="cart.invalid.qty",
        values={"part": _shown(part), "min": MIN_LINE_QTY, "max": f"{MAX_LINE_QTY:,}"},
    )


def _shown(part: str, longest: int = 40) -> str:
    """A part of the parameter as the notice quotes it: short enough to read."""
    return part if len(part) <= longest else part[: longest - 1] + "…"


def parse_moment(text: str) -> str | None:
    """``at`` as ISO 8601 with an offset (the API checks its range), or None."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.isoformat() if moment.tzinfo is not None else None


@bp.get("/vendor/leaflet.markercluster/<version>/<path:filename>")
def markercluster_asset(version: str, filename: str):
    """Leaflet.markercluster's JS and CSS from the pinned XStatic package; cached long."""
    if version != MARKERCLUSTER_VERSION:
        raise NotFound(f"Leaflet.markercluster {version} is not served here", field="version")
    return send_from_directory(MARKERCLUSTER_DIR, filename, max_age=365 * 24 * 3600)


def markercluster_url(filename: str) -> str:
    """The app's own URL for one of Leaflet.markercluster's files."""
    return url_for("web.markercluster_asset", version=MARKERCLUSTER_VERSION, filename=filename)


@bp.get("/")
def index():
    """The pickup picker: search, filters, a list and a map; choosing hands the point back."""
    language = i18n.choose_language(request)
    allow_list = ReturnUrlAllowList.from_config(current_app.config)
    requested_return = request.args.get("return_url", "")
    return_url = requested_return if allow_list.permits(requested_return) else ""
    args = request.args
    kinds = [kind for kind in SHOPPER_KINDS if kind in args.getlist("kind")]
    capabilities = [c for c in SHOPPER_CAPABILITIES if c in args.getlist("capability")]
    assets = map_assets()
    t = i18n.catalogue(language)
    cart = parse_cart(args["cart"]) if "cart" in args else CartParameter()
    cart_problem = ""
    if cart.problem:
        cart_problem = f"{t[cart.problem].format(**cart.values)} {t['cart.invalid.suffix']}"
    at = parse_moment(args.get("at", "")) if args.get("at") else None
    overview = vector_tiles()
    html = render_template(
        "index.html",
        lang=language,
        t=t,
        cart_json=json.dumps(cart.lines) if cart.lines else "",
        cart_problem=cart_problem,
        at=at or "",
        at_rejected=bool(args.get("at")) and at is None,
        cart_max_lines=CART_MAX_LINES,
        other_lang_url=_other_language_url(language),
        embed=args.get("embed", "").lower() in _TRUE,
        initial_q=args.get("q", "").strip()[:200],
        open_now=args.get("open_now", "").lower() in _TRUE,
        kinds=SHOPPER_KINDS,
        capabilities=SHOPPER_CAPABILITIES,
        selected_kinds=kinds,
        selected_capabilities=capabilities,
        return_url=return_url,
        return_rejected=bool(requested_return) and not return_url,
        state=args.get("state", "")[:MAX_STATE_LENGTH],
        # Posting to the parent needs its exact origin: the one asked for, else the
        # framing page's (the Referer), and only when it is on the allow-list.
        parent_origin=allow_list.parent_origin(args.get("parent_origin"), request.referrer),
        leaflet_js=assets.leaflet_js,
        leaflet_css=assets.leaflet_css,
        cluster_js=markercluster_url("leaflet.markercluster.js"),
        cluster_css=[
            markercluster_url("MarkerCluster.css"),
            markercluster_url("MarkerCluster.Default.css"),
        ],
        network_extent_url=url_for("web.network_extent"),
        locations_tiles_url=overview.locations_url,
        vectorgrid_js=dict(overview.scripts)["vectorgrid"],
        tile_url=current_app.config.get("TILE_URL", ""),
        tile_attribution=current_app.config.get("TILE_ATTRIBUTION", ""),
        default_radius=DEFAULT_RADIUS_M,
        max_radius=MAX_RADIUS_M,
        page_size=PAGE_SIZE,
        # A publishable key: valid only from the origins listed on it (DESIGN §4.10).
        client_key=current_app.config["PICKER_PUBLISHABLE_KEY"],
    )
    response = make_response(html)
    response.headers["Content-Language"] = language
    response.vary.add("Accept-Language")
    return response


@bp.get("/network-extent.json")
def network_extent():
    """Where nearly all of the network is, ``{"bbox": [west, south, east, north]}`` (null
    when empty). Before a search the picker's map opens there and draws the network's
    points from the location tiles, so it is never an empty grey box, even offline with
    no base map. Asked by the script, so the page itself stays free of database work."""
    extent = tiles.data_extent(db.connection())
    response = make_response({"bbox": list(extent) if extent else None})
    response.cache_control.max_age = 60
    return response


def _other_language_url(language: str) -> str:
    """This page in the other language, keeping every other query parameter."""
    args = request.args.to_dict(flat=False)
    args["lang"] = "en" if language == "zh-CN" else "zh-CN"
    return url_for("web.index", **args)
