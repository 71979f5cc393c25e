"""Tiny hand-made road graphs that pin routing behaviour exactly (nodes ~100 m apart)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import networkx as nx

from routing.artifact import Artifact
from routing.compile import compile_graph
from routing.engine import Router
from routing.profile import load_profile

LON0, LAT0 = 105.85, 21.03
STEP_LON, STEP_LAT = 0.001, 0.0009  # about 104 m and 100 m
# Wednesday 25 Nov 2026, 03:00 in Hanoi: the "night" band (factor 1.0, free flow).
NIGHT_AT_S = datetime(2026, 11, 24, 20, 0, tzinfo=UTC).timestamp()
RESIDENTIAL_MS_PER_M = 3600.0 / 20.0  # 20 km/h free flow -> 180 ms per metre


def lonlat(col: float, row: float) -> tuple[float, float]:
    """Grid position (columns east, rows north) to lon, lat."""
    return LON0 + col * STEP_LON, LAT0 + row * STEP_LAT


def road_graph(
    nodes: Mapping[int, tuple[float, float]], roads: list[tuple[int, int, dict[str, Any]]]
) -> nx.MultiDiGraph:
    """A graph from grid nodes and roads (u, v, tags); tag `oneway=True` adds only u -> v.

    Every road is 100 m long unless `length` is given; `highway` defaults to residential.
    """
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for n, (col, row) in nodes.items():
        lon, lat = lonlat(col, row)
        graph.add_node(n, x=lon, y=lat)
    for i, (u, v, tags) in enumerate(roads):
        data = {"highway": "residential", "length": 100.0, "osmid": 1000 + i, **tags}
        oneway = bool(data.pop("oneway", False))
        graph.add_edge(u, v, **data)
        if not oneway:
            graph.add_edge(v, u, **data)
    return graph


def toy_router(graph: nx.MultiDiGraph, **kwargs: Any) -> Router:
    """Compile a hand-made graph in memory with the packaged profile and load a Router."""
    profile = load_profile()
    return Router(Artifact(compile_graph(graph, profile), {"toy": True}, profile.text), **kwargs)


def one_way_square() -> nx.MultiDiGraph:
    """A square block A(1)-B(2)-C(3)-D(4); A -> B is one-way, the other sides two-way."""
    nodes = {1: (0, 0), 2: (1, 0), 3: (1, 1), 4: (0, 1)}
    return road_graph(
        nodes,
        [
            (1, 2, {"oneway": True, "name": "Phố Một Chiều"}),
            (2, 3, {"name": "Phố Đông"}),
            (3, 4, {"name": "Phố Bắc"}),
            (4, 1, {"name": "Phố Tây"}),
        ],
    )


def river_with_bridge() -> nx.MultiDiGraph:
    """Two banks (columns 0-1 west, 3-4 east) of a north-south river; one bridge on row 2.

    West bank: 1(0,0) 2(1,0) 3(0,1) 4(1,1) 5(0,2) 6(1,2); east bank: 11(3,0) 12(4,0) 13(3,1)
    14(4,1) 15(3,2) 16(4,2); bridge 6 -> 15 (200 m) named "Cầu Long Biên".
    """
    west = {1: (0, 0), 2: (1, 0), 3: (0, 1), 4: (1, 1), 5: (0, 2), 6: (1, 2)}
    east = {11: (3, 0), 12: (4, 0), 13: (3, 1), 14: (4, 1), 15: (3, 2), 16: (4, 2)}
    roads: list[tuple[int, int, dict[str, Any]]] = []
    for a, b, c, d, e, f in ((1, 2, 3, 4, 5, 6), (11, 12, 13, 14, 15, 16)):
        side = "Tây" if a == 1 else "Đông"
        roads += [
            (a, b, {"name": f"Phố Nam {side}"}),
            (c, d, {}),
            (e, f, {"name": f"Phố Bắc {side}"}),
            (a, c, {}),
            (c, e, {}),
            (b, d, {"name": f"Đường Bờ {side}"}),
            (d, f, {"name": f"Đường Bờ {side}"}),
        ]
    roads.append((6, 15, {"name": "Cầu Long Biên", "length": 200.0, "highway": "primary"}))
    return road_graph({**west, **east}, roads)


def with_island(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Add an island road (two nodes, no link to the rest) 5 columns east."""
    island = road_graph({101: (8, 0), 102: (9, 0)}, [(101, 102, {"name": "Phố Đảo"})])
    return nx.compose(graph, island)
