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
"""

from __future__ import annotations

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
from app.limits import DEFAULT_RADIUS_M, MAX_RADIUS_M
from app.web import i18n
from app.web.planner import map_assets
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
    html = render_template(
        "index.html",
        lang=language,
        t=i18n.catalogue(language),
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


def _other_language_url(language: str) -> str:
    """This page in the other language, keeping every other query parameter."""
    args = request.args.to_dict(flat=False)
    args["lang"] = "en" if language == "zh-CN" else "zh-CN"
    return url_for("web.index", **args)
