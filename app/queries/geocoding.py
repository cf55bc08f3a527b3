"""Gazetteer SQL: replace its contents, find postcodes exactly and places by trigram."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Connection, text

from app.queries import as_dicts
from app.queries.imports import Staging, copy_into_staging

# Gazetteer rows are staged like import rows, in this column order.
PLACES_STAGING = Staging(
    name="staging_places",
    columns=(
        ("kind", "text"),
        ("name", "text"),
        ("search_name", "text"),
        ("label", "text"),
        ("admin", "text"),
        ("country", "text"),
        ("population", "integer"),
        ("lon", "double precision"),
        ("lat", "double precision"),
        ("source", "text"),
    ),
)

_CANDIDATE_COLUMNS = """
    kind, name, label, admin, country, population,
    ST_Y(geog::geometry) AS lat, ST_X(geog::geometry) AS lon
"""
# Whether an active pickup point lies within :reach metres of the place ``p``: an index probe
# on a large network, a scan of it on a small one, so it is asked only where it can matter.
_NEAR_NETWORK = """
    EXISTS (SELECT 1 FROM locations AS l
            WHERE l.status = 'active' AND l.capabilities @> '{pickup}'
              AND ST_DWithin(l.geog, p.geog, :reach))
"""


def replace_places(connection: Connection, rows: Iterable[tuple]) -> int:
    """Swap the gazetteer's contents for ``rows`` (in PLACES_STAGING order) in one go."""
    count = copy_into_staging(connection, PLACES_STAGING, rows)
    connection.execute(text("DELETE FROM places"))
    connection.execute(
        text(
            "INSERT INTO places (kind, name, search_name, label, admin, country, population,"
            " geog, source)"
            " SELECT kind, name, search_name, label, admin, country, population,"
            " ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, source FROM staging_places"
        )
    )
    connection.execute(text("DROP TABLE staging_places"))
    # The rows just inserted wait in the trigram index's pending list, which every search
    # reads in full until autovacuum merges it (10-50 ms a search on a fresh load) and
    # which makes the planner price the index above a scan of the table: merge it now
    # (only the index's owner may; anyone else leaves it to autovacuum).
    connection.execute(
        text(
            "SELECT gin_clean_pending_list(c.oid) FROM pg_class AS c"
            " WHERE c.oid = 'places_search_name_trgm'::regclass"
            " AND pg_has_role(c.relowner, 'USAGE')"
        )
    )
    # Fresh statistics, or the planner guesses the trigram search's selectivity and may
    # scan the table, computing the similarity of every row.
    connection.execute(text("ANALYZE places"))
    return count


def gazetteer_size(connection: Connection) -> int:
    return connection.execute(text("SELECT count(*) FROM places")).scalar_one()


def postcode_candidates(
    connection: Connection, postcode: str, limit: int, reach_m: float
) -> list[dict]:
    """Postcode centroids whose code is exactly ``postcode``."""
    result = connection.execute(
        text(
            f"SELECT {_CANDIDATE_COLUMNS}, {_NEAR_NETWORK} AS near_network FROM places AS p"
            " WHERE kind = 'postcode' AND name = :postcode ORDER BY country, id LIMIT :limit"
        ),
        {"postcode": postcode, "limit": limit, "reach": reach_m},
    )
    return as_dicts(result)


# The name search, bounded before it starts whatever the text:
# - a text without trigrams (emoji, punctuation, nothing left after normalising) asks
#   nothing: show_trgm() decides, as the index does (the database's locale says which
#   characters make words), and the planner folds the test into a one-time filter, so
#   neither the index (which would read every entry for an empty trigram set) nor the
#   table is touched;
# - otherwise the GIN index yields the candidates, the only rows whose similarity is
#   computed: those sharing enough trigrams with the text for `%` to hold;
# - of the matches only the best :pool by the final order's first keys are ranked, so
#   the near-network probes and the sort are bounded too, however common the trigrams.
_NAME_CANDIDATES = text(
    f"""
WITH matches AS (
    SELECT *, similarity(search_name, :q) AS similarity,
           (upper(admin) = :qualifier OR upper(country) = :qualifier) AS qualified
    FROM places
    WHERE search_name % :q AND cardinality(show_trgm(:q)) > 0
    ORDER BY qualified DESC NULLS LAST, similarity DESC, population DESC, id
    LIMIT :pool
)
SELECT {_CANDIDATE_COLUMNS}, similarity, qualified,
       CASE WHEN similarity >= (SELECT max(similarity) FROM matches) - :margin
            THEN {_NEAR_NETWORK} END AS near_network
FROM matches AS p
ORDER BY qualified DESC NULLS LAST, similarity DESC, near_network DESC NULLS LAST,
         population DESC, id
LIMIT :limit
"""
)


def name_candidates(
    connection: Connection,
    search_name: str,
    qualifier: str | None,
    limit: int,
    reach_m: float,
    margin: float,
    pool: int,
) -> list[dict]:
    """Places whose normalised name is similar to ``search_name`` (pg_trgm, typo-tolerant).

    ``qualifier`` (the part after a comma, such as a state or country code) lifts the
    places it names above namesakes elsewhere. Among equally similar names, places near
    the network come first, so the limit never cuts the namesake a shopper can use.
    near_network is checked for the places within ``margin`` of the best similarity
    (the namesakes that compete) and is NULL for the rest. Only the best ``pool``
    matches (qualified first, then by similarity and population) are ranked: more than
    that many equally good namesakes is a query no ranking can answer anyway.
    """
    result = connection.execute(
        _NAME_CANDIDATES,
        {
            "q": search_name,
            "qualifier": qualifier,
            "limit": limit,
            "reach": reach_m,
            "margin": margin,
            "pool": pool,
        },
    )
    return as_dicts(result)


def cached_answer(connection: Connection, query: str) -> list[dict] | None:
    """The external geocoder's stored answer for ``query``, or None if never asked."""
    return connection.execute(
        text("SELECT candidates FROM geocoder_cache WHERE query = :query"), {"query": query}
    ).scalar_one_or_none()


def store_answer(connection: Connection, query: str, candidates: list[dict]) -> None:
    connection.execute(
        text(
            "INSERT INTO geocoder_cache (query, candidates) VALUES (:query, CAST(:c AS jsonb))"
            " ON CONFLICT (query) DO UPDATE SET candidates = EXCLUDED.candidates,"
            " fetched_at = now()"
        ),
        {"query": query, "c": json.dumps(candidates)},
    )


def claim_upstream_slot(connection: Connection, min_interval_s: float) -> bool:
    """True if this process may call the upstream now; at most once per interval overall.

    One conditional UPDATE of a shared row: atomic across every app process.
    """
    claimed = connection.execute(
        text(
            "UPDATE geocoder_throttle SET last_request_at = clock_timestamp()"
            " WHERE last_request_at <= clock_timestamp() - make_interval(secs => :interval)"
            " RETURNING true"
        ),
        {"interval": min_interval_s},
    ).scalar_one_or_none()
    return bool(claimed)
