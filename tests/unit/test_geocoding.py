"""Which candidate a place name means: confidence first, then nearness to the network."""

from __future__ import annotations

import pytest

from app.geocoding import AMBIGUITY_MARGIN, Candidate, GeocodeResult, ranked


def place(label: str, confidence: float, near_network: bool | None) -> Candidate:
    return Candidate(label, "place", 0.0, 0.0, confidence, "US", None, near_network)


@pytest.mark.parametrize(
    "candidates, ambiguous, first",
    [
        ([], False, None),
        ([place("A", 1.0, False)], False, "A"),
        # Equally good and nothing tells them apart: the caller must choose.
        ([place("A", 1.0, False), place("B", 1.0, False)], True, "A"),
        ([place("A", 1.0, None), place("B", 1.0, None)], True, "A"),
        # Exactly one namesake near the network: that one, whatever the order.
        ([place("A", 1.0, False), place("B", 1.0, True)], False, "B"),
        ([place("A", 1.0, False), place("B", 1.0 - AMBIGUITY_MARGIN, True)], False, "B"),
        # Several near it: still ambiguous, nearest-network ones first.
        ([place("A", 1.0, False), place("B", 1.0, True), place("C", 1.0, True)], True, "B"),
        # A clearly better match wins even far from the network.
        ([place("A", 1.0, False), place("B", 0.8, True)], False, "A"),
        ([place("A", 1.0, False), place("B", 0.9, False)], False, "A"),
    ],
)
def test_ambiguity_and_ranking(candidates, ambiguous, first):
    result = GeocodeResult("q", ranked(candidates))
    assert result.ambiguous is ambiguous
    assert (result.candidates[0].label if result.candidates else None) == first
    assert sorted(c.label for c in result.candidates) == sorted(c.label for c in candidates)
