"""The roads tests' oracle: networkx Dijkstra and brute-force attachment, written apart
from the app's code (app/services/roads.py), from the rules it documents: a point
attaches to the geodesically nearest vertex of the largest strongly connected component
within ROAD_ATTACH_MAX_M, and that leg is driven at ROAD_ATTACH_SPEED_KMH."""

from __future__ import annotations

import networkx as nx
import numpy as np
from pyproj import Geod

from app.limits import ROAD_ATTACH_MAX_M, ROAD_ATTACH_SPEED_KMH

GEOD = Geod(ellps="WGS84")
ATTACH_MPS = ROAD_ATTACH_SPEED_KMH / 3.6


def oracle_graph(edges: list[dict]) -> nx.MultiDiGraph:
    """The edge table as a directed multigraph weighted in seconds."""
    graph = nx.MultiDiGraph()
    for edge in edges:
        if edge["cost"] >= 0:
            graph.add_edge(edge["source"], edge["target"], seconds=edge["cost"])
        if edge["reverse_cost"] >= 0:
            graph.add_edge(edge["target"], edge["source"], seconds=edge["reverse_cost"])
    return graph


class RoadOracle:
    """Shortest durations between positions (lon, lat) over an imported edge table."""

    def __init__(self, edges: list[dict], vertices: list[dict]):
        self.graph = oracle_graph(edges)
        self.reversed = self.graph.reverse(copy=True)
        main = sorted((v for v in vertices if v["in_main_component"]), key=lambda v: v["id"])
        assert main
        self.ids = [v["id"] for v in main]
        self.lons = np.array([v["lon"] for v in main])
        self.lats = np.array([v["lat"] for v in main])
        self.attached: dict[tuple[float, float], tuple[int, float] | None] = {}

    def attach(self, lon: float, lat: float) -> tuple[int, float] | None:
        """The nearest main-component vertex (ties: smallest id) and metres to it."""
        if (lon, lat) not in self.attached:
            self.attached[(lon, lat)] = self._nearest(lon, lat)
        return self.attached[(lon, lat)]

    def _nearest(self, lon: float, lat: float) -> tuple[int, float] | None:
        _, _, distances = GEOD.inv(
            np.full(len(self.ids), lon), np.full(len(self.ids), lat), self.lons, self.lats
        )
        best = int(np.argmin(distances))  # ids are sorted: the first minimum wins ties
        if distances[best] > ROAD_ATTACH_MAX_M:
            return None
        return self.ids[best], float(distances[best])

    def durations(self, origin, destinations, to_point: bool = False) -> list[float | None]:
        """Seconds from ``origin`` to each destination (``to_point``: from each to it)."""
        start = self.attach(*origin)
        if start is None:
            return [None] * len(destinations)
        graph = self.reversed if to_point else self.graph
        seconds = nx.single_source_dijkstra_path_length(graph, start[0], weight="seconds")
        answers = []
        for destination in destinations:
            end = self.attach(*destination)
            if end is None or end[0] not in seconds:
                answers.append(None)
                continue
            answers.append(seconds[end[0]] + (start[1] + end[1]) / ATTACH_MPS)
        return answers

    def duration(self, origin, destination) -> float | None:
        return self.durations(origin, [destination])[0]
