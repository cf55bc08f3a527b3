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
MAX_SERVICE_AREAS = 5_000  # /service-areas page size, and the planner's areas per page
MAX_MARKERS = 5_000  # the planner's markers per page
MAX_SIMPLIFY_M = 10_000

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
