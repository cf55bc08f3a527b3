"""Opening states are reused until their next change: the cached answer must equal a
fresh evaluation at every instant, whatever order the instants come in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app import hours

SCHEDULES = [
    "Mo-Fr 08:00-18:00; Sa 09:00-13:00",
    "24/7",
    "Mo-Su 07:00-23:00; PH off",
    "Tu-Th 10:00-12:00,14:00-16:30",
    "Mo-Fr 22:00-06:00",
]
START = datetime(2026, 12, 20, tzinfo=UTC)


def fresh(schedule: str, timezone: str, at: datetime):
    hours._states.clear()
    return hours.open_state(schedule, timezone, "US", "active", at)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    schedule=st.sampled_from(SCHEDULES),
    timezone=st.sampled_from(["America/New_York", "Asia/Shanghai", "Pacific/Chatham"]),
    minutes=st.lists(st.integers(0, 60 * 24 * 40), min_size=2, max_size=30),
)
def test_cached_states_equal_fresh_ones(schedule, timezone, minutes):
    hours._states.clear()
    instants = [START + timedelta(minutes=m) for m in minutes]
    cached = [hours.open_state(schedule, timezone, "US", "active", at) for at in instants]
    assert cached == [fresh(schedule, timezone, at) for at in instants]


def test_christmas_is_a_public_holiday():
    # "PH off": closed on 25 December in the US calendar, open the day before and after.
    schedule = "Mo-Su 07:00-23:00; PH off"
    noon = {day: datetime(2026, 12, day, 17, tzinfo=UTC) for day in (24, 25, 26)}
    states = {day: fresh(schedule, "America/New_York", at)[0] for day, at in noon.items()}
    assert states == {24: True, 25: False, 26: True}
