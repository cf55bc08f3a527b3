"""Every fixed limit of the app, in one place: parsers, services, pages and docs read them here.

Limits that operators tune (batch size, vertex cap, body size) are settings in
``app/config.py``; those below are part of the API contract (DESIGN §4) and change only
with it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# -- searches ------------------------------------------------------------------------
DEFAULT_RADIUS_M = 25_000  # how far a pickup search reaches when the caller does not say
MAX_RADIUS_M = 1_000_000  # search radius and service-area circle radius
DEFAULT_PICKUP_LIMIT = 10
MAX_PICKUP_LIMIT = 100
DEFAULT_PAGE_SIZE = 50  # /locations
MAX_PAGE_SIZE = 500
DEFAULT_SERVED_BY = 10  # serving areas listed per point
MAX_SERVED_BY = 100
DEFAULT_GEOCODE_LIMIT = 5
MAX_GEOCODE_LIMIT = 20
DEFAULT_SERVICE_AREAS = 1_000  # /service-areas page size
MAX_SERVICE_AREAS = 5_000  # /service-areas page size, and the areas on a location page
MAX_SIMPLIFY_M = 10_000

# -- tiles and OGC API - Features ----------------------------------------------------
MAX_TILE_ZOOM = 22  # street level and a little beyond; deeper tiles are refused (404)
TILE_MAX_AGE_S = 60  # how long a client may reuse a tile before it revalidates its ETag
DEFAULT_OGC_ITEMS = 100  # /ogc/collections/*/items page size when `limit` is not given
MAX_OGC_ITEMS = 1_000  # a larger `limit` is clamped to this (OGC API - Features 7.15.3)

# -- text ----------------------------------------------------------------------------
# The retailer's own key for a location (DESIGN §4.2), checked at import and in URLs.
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)
MAX_QUERY_TEXT = 200  # q, free text
MAX_CURSOR_LENGTH = 1_000
MAX_POINT_ID_LENGTH = 128  # the caller's id of a batch point, echoed back

# -- numbers and bodies --------------------------------------------------------------
# A number in a query string or a JSON body: longer than this is refused before it is
# converted (a thousand-digit integer costs time to parse and means nothing here).
MAX_NUMBER_LENGTH = 32
# JSON bodies nest at most this deep: orjson's own ceiling, enforced while it parses,
# without recursion in Python (no body here needs more than a handful of levels).
MAX_JSON_DEPTH = 1024
# Bytes per batch point allowed for in a coverage batch body: generous for
# {"id": "...128 chars...", "lat": ..., "lon": ...} with whitespace.
BATCH_BYTES_PER_POINT = 256
# A JSON object for a single location or service-area write (not a polygon) is small.
MAX_SMALL_BODY_BYTES = 64 * 1024

# -- time ----------------------------------------------------------------------------
# Instants the app computes opening hours for. Beyond these, datetime arithmetic in
# local timezones overflows (year 1 or 9999 plus an offset), and no shop plans that far.
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)

# -- client keys and quotas (DESIGN §4.10) --------------------------------------------
CLIENT_KEY_NAME_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
CLIENT_KEY_NAME = re.compile(CLIENT_KEY_NAME_PATTERN)
MAX_CLIENT_KEY_LENGTH = 100  # a key is a 4-character prefix and 43 random characters
MAX_KEY_ORIGINS = 50  # origins listed on one publishable key
MAX_ORIGIN_LENGTH = 300
# Keys (and unknown keys) whose lookups each process remembers; beyond it the memory
# starts afresh, so a flood of made-up keys cannot grow it without bound.
MAX_CACHED_CLIENT_KEYS = 10_000
# Clients whose counters one process keeps in memory (without Redis), likewise.
MAX_MEMORY_QUOTA_CLIENTS = 100_000
MINUTE_S = 60
DAY_S = 86_400

# -- fulfilment (DESIGN §4.5) --------------------------------------------------------
CART_MAX_LINES = 50
MIN_LINE_QTY = 1
MAX_LINE_QTY = 10_000
SKU_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
SKU = re.compile(SKU_PATTERN)
FULFILMENT_HORIZON_DAYS = 7  # no option is promised further ahead than this
MAX_AT_PAST_DAYS = 1  # `at` may lie this far in the past...
MAX_AT_AHEAD_DAYS = 60  # ...and this far ahead
DEFAULT_OPTIONS_LIMIT = 10
MAX_OPTIONS_LIMIT = 100
# Locations considered per mode, nearest first within the radius: the rules run in
# Python per candidate, so their number is bounded before the work starts.
MAX_FULFILMENT_CANDIDATES = 200
# Stock lines one admin call may set for a location.
MAX_STOCK_LINES_PER_CALL = 10_000
MAX_PREP_MINUTES = 10_080  # a week
MAX_LEAD_MINUTES = 10_080

# -- roads (DESIGN §4.7) ---------------------------------------------------------------
# Drive-time service areas and the partition: seconds of driving from a location.
MIN_DRIVE_TIME_S = 60
MAX_DRIVE_TIME_S = 7_200  # also a CHECK on service_areas (migration 0008)
DEFAULT_PARTITION_DRIVE_TIME_S = 900
# A point farther than this from the network's nearest vertex is not attached (absent
# from road answers): it lies off the imported extract.
ROAD_ATTACH_MAX_M = 1_000
# The off-network leg from a point to its vertex (geodesic metres) is driven at this
# speed: a car leaving a car park or finishing a block, slower than on the street.
ROAD_ATTACH_SPEED_KMH = 15.0
# Reached roads are buffered by this width into a drive-time polygon: half a block, so a
# block's frontage is in but the unreached streets behind it stay out.
ROAD_AREA_BUFFER_M = 50.0
# rank=travel_time computes road legs for at most this many geodesic candidates.
MAX_TRAVEL_TIME_CANDIDATES = 500
# The partition assigns the network among at most this many locations.
MAX_PARTITION_LOCATIONS = 50

# -- planning (DESIGN §4.9) ----------------------------------------------------------
# Candidate sites one what-if weighs (each a circle or a drive-time area).
MAX_WHATIF_CANDIDATES = 50
# Bytes per candidate allowed for in a what-if body: an id of 128 characters, the
# position and the radius or drive time, with whitespace, fit several times over.
WHATIF_BYTES_PER_CANDIDATE = 512
# The heaviest uncovered demand points a summary lists (it says how many there are).
MAX_UNCOVERED_POINTS = 1_000
# The uncovered demand's hexagon grid: about this many columns span the target, so the
# grid stays a few thousand cells at most whatever the target; never finer than this.
DEMAND_HEX_CELLS_ACROSS = 40
MIN_DEMAND_HEX_EDGE_M = 100
# An existing location "loses exclusivity" to a candidate over at least this much area
# that it alone served: GEOS rounds the points where it cuts, leaving slivers of
# fractions of a square metre where two areas share an edge.
MIN_EXCLUSIVE_AREA_M2 = 1.0
