"""Quota counters: requests per client per minute and per day, in fixed windows.

With ``REDIS_URL`` every app process counts in the same Redis, so a client's quota is
shared by all workers and hosts: one round trip per request (a pipeline of INCR and
EXPIRE for the minute's and the day's counter, whose names carry the window's number,
so a counter simply expires after its window). Without Redis, each process counts in
its own memory: right for one process (``flask run``, one gunicorn worker), while N
processes let a client through up to N times its quota.

When Redis stops answering, the counters fall back to memory for RETRY_REDIS_S and
then try Redis again: a Redis outage costs accuracy, never an error or a stall of
requests.

Windows are aligned to the epoch (UTC midnight for days). A client may therefore
spend a window's quota at its end and the next one's at its start: fixed windows trade
that burst for a single round trip per request.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from typing import NamedTuple

import redis

from app import limits

logger = logging.getLogger(__name__)

RETRY_REDIS_S = 5.0
REDIS_TIMEOUT_S = 0.25  # a slow Redis must not hold requests up


class Verdict(NamedTuple):  # a tuple: built on every request, cheaper than a dataclass
    """The outcome of counting one request, and what its RateLimit-* headers say."""

    allowed: bool
    limit: int  # of the window that binds (the exceeded one, else the nearest to running out)
    remaining: int
    reset_s: int  # seconds until that window starts afresh
    window_s: int  # that window's length
    policy: str  # every window: "600;w=60, 20000;w=86400"

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
            "RateLimit-Policy": self.policy,
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_s)
        return headers


def verdict(counts: tuple[int, int], per_minute: int, per_day: int, now: float) -> Verdict:
    """Judge the minute's and the day's counts (this request included).

    Written out for the two windows rather than looped: it runs on every request.
    """
    minute_count, day_count = counts
    # (limit, left, seconds to the window's end, window length) of each window
    minute = (per_minute, per_minute - minute_count, _seconds_left(now, _MINUTE), _MINUTE)
    day = (per_day, per_day - day_count, _seconds_left(now, _DAY), _DAY)
    minute_over, day_over = minute[1] < 0, day[1] < 0
    if minute_over and day_over:
        binding = day if day[2] > minute[2] else minute  # the later end says when to retry
    elif minute_over or day_over:
        binding = day if day_over else minute
    else:
        binding = day if day[1] < minute[1] else minute  # the nearer to running out
    return Verdict(
        allowed=not (minute_over or day_over),
        limit=binding[0],
        remaining=max(0, binding[1]),
        reset_s=binding[2],
        window_s=binding[3],
        policy=_policy(per_minute, per_day),
    )


_MINUTE, _DAY = limits.MINUTE_S, limits.DAY_S


def _seconds_left(now: float, length: int) -> int:
    return max(1, math.ceil(length - now % length))


@functools.lru_cache(maxsize=1024)
def _policy(per_minute: int, per_day: int) -> str:
    return f"{per_minute};w={_MINUTE}, {per_day};w={_DAY}"


class MemoryCounters:
    """This process's counters (see the module docstring)."""

    def __init__(self):
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = threading.Lock()
        self._minute = -1

    def count(self, quota_id: str, now: float) -> tuple[int, int]:
        minute, day = int(now // limits.MINUTE_S), int(now // limits.DAY_S)
        with self._lock:
            if minute != self._minute:  # a new minute: drop the windows that have ended
                self._minute = minute
                self._counts = {
                    window: count
                    for window, count in self._counts.items()
                    if window[1:] in ((limits.MINUTE_S, minute), (limits.DAY_S, day))
                }
            if len(self._counts) >= limits.MAX_MEMORY_QUOTA_CLIENTS:
                self._counts.clear()  # bounded, at the price of forgiving everyone once
            counts = []
            for window in ((quota_id, limits.MINUTE_S, minute), (quota_id, limits.DAY_S, day)):
                self._counts[window] = counts_now = self._counts.get(window, 0) + 1
                counts.append(counts_now)
        return counts[0], counts[1]


class RedisCounters:
    """Counters in Redis shared by every process, falling back to memory when it is down."""

    def __init__(self, url: str, prefix: str):
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        self.fallback = MemoryCounters()
        self._redis_after = 0.0

    def count(self, quota_id: str, now: float) -> tuple[int, int]:
        if time.monotonic() < self._redis_after:
            return self.fallback.count(quota_id, now)
        minute_key = f"{self.prefix}:{quota_id}:m:{int(now // limits.MINUTE_S)}"
        day_key = f"{self.prefix}:{quota_id}:d:{int(now // limits.DAY_S)}"
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(minute_key)
        pipe.expire(minute_key, limits.MINUTE_S + 1)
        pipe.incr(day_key)
        pipe.expire(day_key, limits.DAY_S + 1)
        try:
            minute_count, _, day_count, _ = pipe.execute()
        except redis.RedisError as error:
            logger.warning(
                "quota counters: Redis unavailable (%s); counting in memory for %ss",
                error,
                RETRY_REDIS_S,
            )
            self._redis_after = time.monotonic() + RETRY_REDIS_S
            return self.fallback.count(quota_id, now)
        return int(minute_count), int(day_count)


def counters_for(redis_url: str, prefix: str) -> MemoryCounters | RedisCounters:
    return RedisCounters(redis_url, prefix) if redis_url else MemoryCounters()
