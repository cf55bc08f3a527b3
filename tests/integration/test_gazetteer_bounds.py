"""The gazetteer search is bounded before it starts, whatever the text of ``q``.

Proved on the plans the searches really run (EXPLAIN ANALYZE of the statement the
geocoder sent, with its parameters), not on timings: a text without trigrams touches no
row and no index entry; any other text reads places only through the trigram index, and
recomputes the similarity of a bounded number of rows; the near-network probes are
bounded by the candidate pool. A low statement_timeout guards every search as well (an
unbounded scan of the gazetteer takes 1-3 s). The bounded search answers as the
unbounded one did.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg.sql import Literal
from sqlalchemy import Connection, create_engine, event, text

from app.errors import InvalidInput
from app.geocoding import (
    AMBIGUITY_MARGIN,
    CANDIDATE_POOL,
    MAX_QUERY_LENGTH,
    NETWORK_REACH_M,
    geocode,
    normalise,
    search_text,
)
from app.queries import geocoding as sql
from app.queries.geocoding import gazetteer_size, replace_places

TRIGRAM_INDEX = "places_search_name_trgm"
# Far above what a bounded search needs (a few ms), far below a scan of the gazetteer.
GUARD_TIMEOUT = "300ms"

# Whatever a caller can type: any character but NUL (the edge refuses it, as every
# control character) and lone surrogates (no request can carry one), emoji, CJK, and
# words made of the gazetteer's most common trigrams.
COMMON_WORDS = ["a", "an", "s", "sa", "san", "de", "la", "30", "1", "aaa", ",", "-"]
FUZZ_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=MAX_QUERY_LENGTH),
    st.text(st.characters(categories=["So", "Sk", "P", "Z"]), max_size=MAX_QUERY_LENGTH),
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=60),
    st.lists(st.sampled_from(COMMON_WORDS + ["😀", "東京", "москва"]), max_size=80).map(" ".join),
    st.text(st.sampled_from("as30 "), max_size=MAX_QUERY_LENGTH),
)
FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def statements_sent(connection: Connection) -> Iterator[list[tuple[str, dict]]]:
    """The (statement, parameters) of every gazetteer search sent on ``connection``."""
    sent: list[tuple[str, dict]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM places" in statement:
            sent.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", record)


def explained(connection: Connection, statement: str, parameters: dict) -> dict:
    """The executed plan of ``statement`` (EXPLAIN ANALYZE, as JSON)."""
    document = connection.exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
    ).scalar_one()
    return document[0]["Plan"]


def generic_plan(connection: Connection, statement: str, parameters: dict) -> dict:
    """The executed plan of ``statement`` as a prepared statement's generic plan.

    psycopg prepares a statement after a few runs, and PostgreSQL may then plan it once
    for any parameters: that plan, chosen without seeing ``q``, must be bounded too.
    """
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
    numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)
    connection.exec_driver_sql("PREPARE name_search AS " + numbered)
    try:
        with connection.begin_nested():  # undone before the DEALLOCATE if it fails
            connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            types = connection.exec_driver_sql(
                "SELECT parameter_types::text[] FROM pg_prepared_statements"
                " WHERE name = 'name_search'"
            ).scalar_one()
            # EXECUTE's arguments cannot be bound parameters: literals, quoted by psycopg.
            driver = connection.connection.driver_connection
            arguments = ", ".join(
                f"{Literal(parameters[n]).as_string(driver)}::{t}"
                for n, t in zip(names, types, strict=True)
            )
            document = connection.exec_driver_sql(
                f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE name_search({arguments})"
            ).scalar_one()
            connection.exec_driver_sql("SET LOCAL plan_cache_mode = DEFAULT")
    finally:
        connection.exec_driver_sql("DEALLOCATE name_search")
    return document[0]["Plan"]


def nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def has_trigrams(connection: Connection, search_name: str) -> bool:
    return connection.execute(
        text("SELECT cardinality(show_trgm(:q)) > 0"), {"q": search_name}
    ).scalar_one()


def assert_bounded(connection: Connection, plan: dict, search_name: str, max_candidates: int):
    """The plan reads places only through the trigram index, a bounded number of rows."""
    on_places = [n for n in nodes(plan) if n.get("Relation Name") == "places"]
    assert not [n for n in on_places if n["Node Type"] != "Bitmap Heap Scan"], on_places
    index_scans = [n for n in nodes(plan) if n.get("Index Name") == TRIGRAM_INDEX]
    assert {n["Node Type"] for n in index_scans} <= {"Bitmap Index Scan"}
    if not has_trigrams(connection, search_name):
        # Nothing at all: not the index (an empty trigram set reads all of it), not a row.
        assert all(n["Actual Loops"] == 0 for n in on_places + index_scans), plan
    else:
        assert len(on_places) == 1 and len(index_scans) == 1, plan
        # The rows whose similarity is computed: the index's candidates, no more (an
        # exact bitmap: a lossy one would recheck every row of its pages).
        assert index_scans[0]["Actual Rows"] <= max_candidates, (search_name, plan)
        assert on_places[0].get("Lossy Heap Blocks", 0) == 0, plan
    probes = [n for n in nodes(plan) if n.get("Relation Name") == "locations"]
    assert all(n["Actual Loops"] <= CANDIDATE_POOL for n in probes), probes


@pytest.fixture
def guarded(connection):
    """The test's connection, every statement on it cut off at GUARD_TIMEOUT."""
    connection.execute(text(f"SET LOCAL statement_timeout = '{GUARD_TIMEOUT}'"))
    return connection


@pytest.fixture
def max_candidates(connection):
    """The most rows any search may recheck: a tenth of the gazetteer.

    The most the index yields for any text is about 6.8 % of it: a two-digit word such
    as "30" shares the trigram "  3" with every ZIP code that starts with a 3, and
    needs only one trigram in common to be a candidate. Longer texts need more.
    """
    return gazetteer_size(connection) // 10


def searched(connection: Connection, query: str) -> list[tuple[str, dict]]:
    """Geocode ``query`` (in a savepoint, so a failure leaves the test's transaction
    usable) and return the gazetteer searches it sent: one, unless there is nothing
    to search for (a blank query, or no name left once normalised)."""
    with connection.begin_nested(), statements_sent(connection) as sent:
        try:
            geocode(connection, query)
        except InvalidInput:
            assert not query.split()
    name = " ".join(query.split())[:MAX_QUERY_LENGTH].partition(",")[0]
    assert len(sent) == (1 if search_text(name) else 0), sent
    return sent


def is_name_search(statement: str) -> bool:
    return "show_trgm" in statement


def assert_postcode_lookup(plan: dict) -> None:
    """An exact postcode is an index probe (places_postcode), whatever the text."""
    on_places = [n for n in nodes(plan) if n.get("Relation Name") == "places"]
    assert on_places and all(n.get("Index Name") == "places_postcode" for n in on_places)


@FUZZ_SETTINGS
@given(query=FUZZ_TEXT)
@example(query="😀" * MAX_QUERY_LENGTH)
@example(query="🏳️‍🌈 " * 40)
@example(query="!?.,;:" * 33)
@example(query="北京市朝阳区" * 33)
@example(query="aaa aaa aaa")
@example(query="an an an")
@example(query=("an " * 67)[:MAX_QUERY_LENGTH])
@example(query="30")
@example(query="a")
@example(query=", ME")
@example(query="\u0301\u0301")
def test_every_search_is_bounded(guarded, max_candidates, query):
    for statement, parameters in searched(guarded, query):
        with guarded.begin_nested():
            plan = explained(guarded, statement, parameters)
            if is_name_search(statement):
                assert_bounded(guarded, plan, parameters["q"], max_candidates)
            else:
                assert_postcode_lookup(plan)


@pytest.mark.parametrize(
    "query", ["😀" * MAX_QUERY_LENGTH, "!?!?", "東京", "an an an", "30", "Philadelpia"]
)
def test_the_generic_plan_is_bounded_too(guarded, max_candidates, query):
    [(statement, parameters)] = searched(guarded, query)
    with guarded.begin_nested():
        plan = generic_plan(guarded, statement, parameters)
        assert_bounded(guarded, plan, parameters["q"], max_candidates)


@pytest.mark.parametrize("query", ["😀" * MAX_QUERY_LENGTH, "🙂", "!?.,;:", "\u0301", ", ME"])
def test_a_text_without_trigrams_reads_nothing(guarded, query):
    """Not a row, not an index entry; and no statement at all when nothing is left of
    the name once normalised (an accent alone, or only a qualifier)."""
    for statement, parameters in searched(guarded, query):
        assert is_name_search(statement) and not has_trigrams(guarded, parameters["q"])
        plan = explained(guarded, statement, parameters)
        assert not [n for n in nodes(plan) if n.get("Actual Loops") and n.get("Relation Name")]
    assert geocode(guarded, query).candidates == []


@FUZZ_SETTINGS
@given(text_=FUZZ_TEXT)
@example(text_=("an " * 67)[:MAX_QUERY_LENGTH])
@example(text_="San  san SAN Sán")
def test_each_word_once_is_the_same_text_to_the_index(connection, text_):
    """search_text() keeps the trigram set, so the similarity to every name."""
    same = connection.execute(
        text("SELECT show_trgm(:full) = show_trgm(:short)"),
        {"full": normalise(text_), "short": search_text(text_)},
    ).scalar_one()
    assert same


@pytest.mark.parametrize("query", ["", " ", " \t\n ", "\u3000\xa0"])
def test_a_blank_query_is_invalid_input_on_q(connection, query):
    with pytest.raises(InvalidInput) as raised:
        geocode(connection, query)
    assert [e["field"] for e in raised.value.errors] == ["q"]


# -- the bounded search answers as the unbounded one did ------------------------------

# The name search before it was bounded, as the oracle: every match ranked.
UNBOUNDED = text(
    """
WITH matches AS (
    SELECT *, similarity(search_name, :q) AS similarity,
           (upper(admin) = :qualifier OR upper(country) = :qualifier) AS qualified
    FROM places WHERE search_name % :q
)
SELECT label, similarity, qualified,
       CASE WHEN similarity >= (SELECT max(similarity) FROM matches) - :margin
            THEN EXISTS (SELECT 1 FROM locations AS l
                         WHERE l.status = 'active' AND l.capabilities @> '{pickup}'
                           AND ST_DWithin(l.geog, p.geog, :reach)) END AS near_network,
       (SELECT count(*) FROM matches) AS matches
FROM matches AS p
ORDER BY qualified DESC NULLS LAST, similarity DESC, near_network DESC NULLS LAST,
         population DESC, id
LIMIT :limit
"""
)
PLACE_NAMES = ["Springfield", "Portland", "Arlington", "Philadelphia", "Washington", "San Jose"]
PLACE_NAMES += ["Straßgang", "Əhmədbəyli", "Naxçıvan", "Xi’an", "Anan", "Alexandria"]
QUALIFIERS = ["", ", VA", ", ME", ", TX", ", US", ", China", ", FR"]


@st.composite
def place_queries(draw) -> str:
    """A place name or a few common letters, with up to two typos and maybe a qualifier."""
    name = draw(st.sampled_from(PLACE_NAMES) | st.text(st.sampled_from("aens rtol"), min_size=1))
    for _ in range(draw(st.integers(0, 2))):
        if len(name) < 2:
            break
        i = draw(st.integers(0, len(name) - 2))
        dropped, doubled = name[:i] + name[i + 1 :], name[:i] + name[i] + name[i:]
        swapped = name[:i] + name[i + 1 : i + 2] + name[i] + name[i + 2 :]
        name = draw(st.sampled_from([dropped, doubled, swapped]))
    return name + draw(st.sampled_from(QUALIFIERS))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=place_queries(), limit=st.sampled_from([1, 5, 20]))
@example(query="Portland, ME", limit=5)
@example(query="Springfield", limit=5)
@example(query="Arlington", limit=5)
@example(query="Arlington, TX", limit=5)
@example(query="Philadelpia", limit=5)
@example(query="an an an", limit=20)
@example(query="san, US", limit=20)
def test_the_bounded_search_answers_as_the_unbounded_one(demo, connection, query, limit):
    """The same rows in the same order, as sure and as near the network, as when every
    match was ranked; past the pool (more matches than it holds) the same similarities,
    though the namesakes tied at its edge may differ."""
    name, _, qualifier = query.partition(",")
    qualifier = qualifier.strip().upper() or None
    params = {"qualifier": qualifier, "limit": limit, "margin": AMBIGUITY_MARGIN}
    expected = connection.execute(
        UNBOUNDED, {**params, "q": normalise(name), "reach": NETWORK_REACH_M}
    ).all()
    bounded = sql.name_candidates(
        connection, search_text(name), reach_m=NETWORK_REACH_M, pool=CANDIDATE_POOL, **params
    )
    keys = [(r.label, r.similarity, r.qualified, r.near_network) for r in expected]
    got = [(r["label"], r["similarity"], r["qualified"], r["near_network"]) for r in bounded]
    if not expected or expected[0].matches <= CANDIDATE_POOL:
        assert got == keys
    else:
        assert [g[1:3] for g in got] == [k[1:3] for k in keys]


def test_names_in_other_scripts_are_still_found(connection):
    for query, label in [
        ("Straßgang", "Straßgang, Austria"),
        ("Əhmədbəyli", "Əhmədbəyli, Azerbaijan"),
        ("Naxçıvan", "Naxçıvan, Azerbaijan"),
    ]:
        result = geocode(connection, query)
        assert result.candidates and result.candidates[0].label == label, result


# -- the gazetteer's statistics --------------------------------------------------------


def test_a_fresh_gazetteer_is_ready_to_search(clone_database):
    """Right after a load the trigram index holds every row in its main structure (not
    in the pending list every search would read in full) and the planner has statistics
    (without them it guesses the search's selectivity and may scan the table)."""
    rows = [
        ("place", name, normalise(name), f"{name}, Nowhere", None, "XX", 1, 0.0, 0.0, "test")
        for name in ("Aaa", "Bbb", "Ccc")
    ]
    with clone_database("locator_test_fresh_gazetteer") as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                assert replace_places(connection, rows) == 3
                # Still inside the load's transaction: the statistics can only be the
                # load's own, and its three rows would still be pending without it.
                merged = connection.execute(
                    text(f"SELECT gin_clean_pending_list('{TRIGRAM_INDEX}'::regclass)")
                ).scalar_one()
                assert merged == 0
                bounds = connection.execute(
                    text(
                        "SELECT histogram_bounds::text::text[] FROM pg_stats"
                        " WHERE tablename = 'places' AND attname = 'search_name'"
                    )
                ).scalar_one()
                assert bounds == ["aaa", "bbb", "ccc"]
        finally:
            engine.dispose()
