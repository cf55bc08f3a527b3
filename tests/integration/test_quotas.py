"""Quotas per client, per minute and per day (app/quotas.py), against a brute-force
count, in memory and in a real Redis, and shared by four gunicorn workers."""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from app.embedded_postgres import free_loopback_port
from app.quotas import MemoryCounters, RedisCounters, verdict
from app.services import client_keys
from tests.conftest import load_demo
from tests.integration.test_server_limits import gunicorn
from tests.servers import http_get

START = 1_799_971_200.0  # a UTC midnight: a day window starts here
READ = "/api/v1/locations?limit=1"

requests_in_time = st.lists(st.integers(min_value=0, max_value=40_000), min_size=1, max_size=60)
quota = st.integers(min_value=1, max_value=12)


def oracle(times: list[float], per_minute: int, per_day: int) -> list[tuple]:
    """(allowed, remaining, retry_after) for each request, by recounting every earlier
    request in the same calendar minute and day from scratch."""
    answers = []
    for i, now in enumerate(times):
        so_far = times[: i + 1]
        windows = []
        for limit, length in ((per_minute, 60), (per_day, 86_400)):
            number = math.floor(now / length)
            count = sum(1 for t in so_far if math.floor(t / length) == number)
            seconds_left = max(1, math.ceil((number + 1) * length - now))
            windows.append((count, limit, seconds_left))
        over = [w for w in windows if w[0] > w[1]]
        if over:
            answers.append((False, 0, max(w[2] for w in over)))
        else:
            answers.append((True, min(w[1] - w[0] for w in windows), None))
    return answers


def judged(counter, times, per_minute, per_day, quota_id="key:c") -> list[tuple]:
    answers = []
    for now in times:
        outcome = verdict(counter.count(quota_id, now), per_minute, per_day, now)
        retry = int(outcome.headers()["Retry-After"]) if not outcome.allowed else None
        answers.append((outcome.allowed, outcome.remaining, retry))
    return answers


def timeline(gaps_ms: list[int]) -> list[float]:
    """Request instants from gaps in milliseconds, starting a little before a day ends."""
    now, times = START - 90.0, []
    for gap in gaps_ms:
        now += gap / 1000
        times.append(now)
    return times


@settings(derandomize=True, max_examples=300, deadline=None)
@given(gaps=requests_in_time, per_minute=quota, per_day=quota)
def test_memory_counters_match_a_recount(gaps, per_minute, per_day):
    times = timeline(gaps)
    assert judged(MemoryCounters(), times, per_minute, per_day) == oracle(
        times, per_minute, per_day
    )


@settings(derandomize=True, max_examples=60, deadline=None)
@given(gaps=requests_in_time, per_minute=quota, per_day=quota)
def test_redis_counters_match_a_recount(redis_url, gaps, per_minute, per_day):
    times = timeline(gaps)
    counters = RedisCounters(redis_url, prefix=uuid.uuid4().hex)
    assert judged(counters, times, per_minute, per_day) == oracle(times, per_minute, per_day)
    assert counters.client.ping()  # Redis answered throughout: no fallback was used
    assert counters._redis_after == 0.0


def test_clients_are_counted_apart():
    counters = MemoryCounters()
    for _ in range(3):
        counters.count("key:a", START + 30)
    assert counters.count("key:b", START + 30) == (1, 1)
    assert counters.count("key:a", START + 30) == (4, 4)
    # A new minute starts afresh; the day goes on.
    assert counters.count("key:a", START + 61) == (1, 5)


def test_a_redis_outage_falls_back_to_memory_without_errors():
    dead = RedisCounters(f"redis://127.0.0.1:{free_loopback_port()}/0", prefix="x")
    assert dead.count("key:a", START + 30) == (1, 1)
    assert dead.count("key:a", START + 30) == (2, 2)
    assert dead._redis_after > time.monotonic()  # Redis is not asked again for a while


def test_a_429_is_a_problem_with_retry_after_and_ratelimit_headers(make_app, steady_quota_clock):
    app = make_app(ANONYMOUS_PER_MINUTE=2, ANONYMOUS_PER_DAY=100)
    client = app.test_client()
    first = client.get(READ)
    assert first.headers["RateLimit-Limit"] == "2"
    assert first.headers["RateLimit-Remaining"] == "1"
    assert first.headers["RateLimit-Reset"] == "30"  # the clock is 30 s into its minute
    assert "Retry-After" not in first.headers
    assert client.get(READ).status_code == 200
    limited = client.get(READ)
    assert limited.status_code == 429 and limited.mimetype == "application/problem+json"
    assert limited.json["title"] == "Too Many Requests"
    assert limited.json["errors"][0]["field"] == "client"
    assert limited.headers["Retry-After"] == "30"
    assert limited.headers["RateLimit-Remaining"] == "0"
    # Probes and metrics are never metered.
    assert client.get("/healthz").status_code == 200
    assert "RateLimit-Limit" not in client.get("/healthz").headers


def test_counting_off_still_checks_keys(make_app):
    client = make_app(RATELIMIT_ENABLED=False).test_client()
    assert "RateLimit-Limit" not in client.get(READ).headers
    assert client.get(READ, headers={"X-Api-Key": "lsk_" + "x" * 43}).status_code == 401


# -- four gunicorn workers, one Redis -------------------------------------------------


def wait_for_room_in_the_minute(seconds: float = 10) -> None:
    """gunicorn workers read the real clock: start a count with ``seconds`` of the
    current minute left, so that it cannot straddle a window's end."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.05)


@pytest.fixture(scope="module")
def quota_database(clone_database):
    with clone_database("locator_quota_test") as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            load_demo(connection)
            keys = {
                name: client_keys.create_key(
                    connection, name, "secret", origins=[], per_minute=20, per_day=10_000
                )
                for name in ("throttled", "other")
            }
        engine.dispose()
        yield url, keys


def test_four_workers_share_one_quota_per_key(quota_database, redis_url, tmp_path):
    url, keys = quota_database
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "QUOTA_KEY_PREFIX": uuid.uuid4().hex,
        "ANONYMOUS_PER_MINUTE": "1000",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    log = tmp_path / "gunicorn.log"
    # Each worker is replaced after 10 requests, so the key's 40 are served by several
    # processes whatever the kernel's choice of acceptor (one worker once took all 40).
    worker_options = ("--workers", "4", "--max-requests", "10")
    with gunicorn("wsgi:app", log, env, *worker_options, ready="/healthz") as port:
        wait_for_room_in_the_minute()
        with ThreadPoolExecutor(max_workers=8) as pool:
            throttled = list(
                pool.map(
                    lambda _: http_get(port, READ, {"X-Api-Key": keys["throttled"]}), range(40)
                )
            )
            other = list(
                pool.map(lambda _: http_get(port, READ, {"X-Api-Key": keys["other"]}), range(10))
            )
            anonymous = list(pool.map(lambda _: http_get(port, READ), range(10)))

    statuses = sorted(status for status, _, _ in throttled)
    # Exactly the key's 20 per minute across all four workers, not 20 per worker.
    assert statuses == [200] * 20 + [429] * 20
    assert [status for status, _, _ in other] == [200] * 10
    assert [status for status, _, _ in anonymous] == [200] * 10
    refused = [(headers, body) for status, headers, body in throttled if status == 429]
    assert refused
    for headers, body in refused:
        assert headers["Content-Type"] == "application/problem+json"
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert headers["RateLimit-Remaining"] == "0" and headers["RateLimit-Limit"] == "20"
        assert json.loads(body)["status"] == 429

    # The throttled key's requests were served by several workers (the access log lines).
    lines = [json.loads(line) for line in Path(log).read_text().splitlines() if line[:1] == "{"]
    served = [entry for entry in lines if entry.get("client") == "throttled"]
    assert len(served) == 40
    assert len({entry["pid"] for entry in served}) >= 2
    assert all(keys["throttled"] not in line for line in Path(log).read_text().splitlines())


def test_behind_a_proxy_each_address_has_its_own_quota(make_app, steady_quota_clock):
    direct = make_app(ANONYMOUS_PER_MINUTE=1).test_client()
    proxied = make_app(ANONYMOUS_PER_MINUTE=1, TRUSTED_PROXY_HOPS=1).test_client()

    def status(client, address):
        return client.get(READ, headers={"X-Forwarded-For": address}).status_code

    # Without trusted proxies the header is the caller's to forge: it is ignored.
    assert [status(direct, "10.0.0.1"), status(direct, "10.0.0.2")] == [200, 429]
    assert [status(proxied, "10.0.0.1"), status(proxied, "10.0.0.2")] == [200, 200]
    assert status(proxied, "10.0.0.1") == 429
