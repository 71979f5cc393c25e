"""The engine agrees with networkx, a plain reference Dijkstra, on the same arcs and weights.

Two kinds of pairs: graph nodes (node-to-node durations must match to the millisecond), and
real points snapped to roads, where the reference splits the snapped arcs at the snap points
(virtual nodes) so it owes nothing to the engine's own entry/exit logic. Durations must agree
within 0.1 % (with a 2 ms floor: the engine rounds each partial arc to whole milliseconds).
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import pytest
import shapely

from routing.artifact import Artifact
from routing.engine import Router
from routing.export import edge_lines, node_snap, to_networkx
from routing.snapping import Snap

DAY_S = 1_795_402_800.0  # Monday 10:00 Hanoi: "day"
PEAK_S = DAY_S + 7 * 3600  # Monday 17:00 Hanoi: "pm_peak" (per-class factors change paths)
REL, ABS_S = 1e-3, 0.002


def _close(engine_s: float | None, ref_s: float | None) -> bool:
    if engine_s is None or ref_s is None:
        return engine_s is None and ref_s is None
    return abs(engine_s - ref_s) <= max(REL * ref_s, ABS_S)


def _weights(router: Router, at_s: float) -> np.ndarray:
    return router.band_weights()[router.band_at(at_s)].astype(float)


def _reference_s(
    graph: nx.DiGraph, router: Router, at_s: float, origin: Snap, dest: Snap
) -> float | None:
    """networkx time from `origin` to `dest`, both inserted on their roads as nodes "o", "d"."""
    a, w = router.arrays, _weights(router, at_s)

    def sides(s: Snap) -> list[tuple[int, float]]:  # (arc, fraction along it) for each direction
        rev = int(a["arc_rev"][s.edge])
        return [(s.edge, s.fraction)] + ([(rev, 1.0 - s.fraction)] if rev >= 0 else [])

    for arc, f in sides(origin):
        graph.add_edge("o", int(a["arc_head"][arc]), weight=(1.0 - f) * w[arc])
    for arc, f in sides(dest):
        graph.add_edge(int(a["arc_tail"][arc]), "d", weight=f * w[arc])
    direct = [(f_d - f_o) * w[arc] for arc, f_o in sides(origin) for arc_d, f_d in sides(dest)
              if arc_d == arc and f_d >= f_o]  # both on one road: no node needed  # fmt: skip
    if direct:
        graph.add_edge("o", "d", weight=min(direct))
    try:
        ms = nx.dijkstra_path_length(graph, "o", "d")
    except nx.NetworkXNoPath:
        return None
    finally:
        graph.remove_nodes_from(["o", "d"])
    return float(ms) / 1000.0 + origin.offroad_s + dest.offroad_s


def _random_snaps(router: Router, rng: np.random.Generator, n: int) -> list[Snap]:
    ll = router.node_lonlat[rng.integers(router.node_count, size=n)]
    jitter = rng.normal(scale=0.0007, size=(n, 2))  # ~70 m: addresses beside the road
    pts = ll + jitter
    return router.snap_many(pts[:, 0].tolist(), pts[:, 1].tolist())


def _check_nodes(router: Router, at_s: float, incidents: int, routes: int, seed: int) -> int:
    """Node-to-node ETAs, routes and coverage against networkx; returns the pairs compared."""
    band = router.band_at(at_s)
    fwd, rev = to_networkx(router, band), to_networkx(router, band, reverse=True)
    rng, n, compared = np.random.default_rng(seed), router.node_count, 0
    for _ in range(incidents):
        incident = int(rng.integers(n))
        origins = [int(v) for v in rng.choice(n, 50, replace=False)]
        etas = router.eta_many_to_one(
            [node_snap(router, o, origin=True) for o in origins],
            node_snap(router, incident, origin=False),
            at_s=at_s,
        )
        ref = nx.single_source_dijkstra_path_length(rev, incident)
        bad = [
            (o, e, ref.get(o))
            for o, e in zip(origins, etas, strict=True)
            if not _close(e, ref[o] / 1000.0)
        ]
        assert not bad, f"ETA to {incident} disagrees (origin, engine s, networkx ms): {bad[:5]}"
        compared += len(origins)
    for _ in range(routes):
        s, t = (int(v) for v in rng.integers(n, size=2))
        route = router.route(
            node_snap(router, s, origin=True), node_snap(router, t, origin=False), at_s=at_s
        )
        ms, _path = nx.bidirectional_dijkstra(fwd, s, t)
        assert route is not None and _close(route.duration_s, ms / 1000.0), (s, t, route, ms)
        compared += 1
    seeds = [int(v) for v in rng.choice(n, 3, replace=False)]
    times = router.coverage([node_snap(router, v, origin=True) for v in seeds], at_s=at_s)
    ref = nx.multi_source_dijkstra_path_length(fwd, seeds)
    assert all(_close(float(times[v]), ref[v] / 1000.0) for v in range(n))
    return compared + n


def read_artifact_of(router: Router) -> Artifact:
    return Artifact(arrays=router.arrays, meta=router.meta, profile_text="")


def _same_road_snaps(router: Router, rng: np.random.Generator, n: int) -> list[Snap]:
    """Pairs of points a quarter and three quarters along random roads longer than 60 m."""
    lines = edge_lines(read_artifact_of(router))
    long_arcs = np.nonzero(router.arrays["arc_length_m"] > 60.0)[0]
    picks = rng.choice(long_arcs, n, replace=False)
    pts = [
        shapely.line_interpolate_point(lines[a], f, normalized=True)
        for a in picks
        for f in (0.25, 0.75)
    ]
    snaps = router.snap_many([p.x for p in pts], [p.y for p in pts])
    return [
        s for pair in zip(snaps[::2], snaps[1::2], strict=True) for s in (pair[1], pair[0], *pair)
    ]


def _check_points(router: Router, at_s: float, pairs: int, seed: int) -> int:
    """Snapped-point ETAs, reverse ETAs and routes against the split-arc reference."""
    graph = to_networkx(router, router.band_at(at_s))
    rng = np.random.default_rng(seed)
    snaps = _random_snaps(router, rng, 2 * pairs) + _same_road_snaps(router, rng, pairs // 4)
    compared = 0
    for o, d in zip(snaps[::2], snaps[1::2], strict=True):
        ref = _reference_s(graph, router, at_s, o, d)
        (eta,) = router.eta_many_to_one([o], d, at_s=at_s)
        (eta_out,) = router.eta_one_to_many(o, [d], at_s=at_s)
        route = router.route(o, d, at_s=at_s)
        got: Sequence[float | None] = (eta, eta_out, None if route is None else route.duration_s)
        assert all(_close(g, ref) for g in got), (o, d, got, ref)
        compared += 1
    return compared


@pytest.mark.parametrize("at_s", [DAY_S, PEAK_S], ids=["day", "pm_peak"])
def test_hoankiem_nodes_agree_with_networkx(hoankiem_router: Router, at_s: float) -> None:
    compared = _check_nodes(hoankiem_router, at_s, incidents=10, routes=40, seed=11)
    assert compared == 10 * 50 + 40 + hoankiem_router.node_count


def test_hoankiem_snapped_points_agree_with_networkx(hoankiem_router: Router) -> None:
    assert _check_points(hoankiem_router, DAY_S, pairs=60, seed=12) == 60 + 2 * 15


@pytest.mark.scale
def test_core_nodes_agree_with_networkx(core_router: Router) -> None:
    compared = _check_nodes(core_router, PEAK_S, incidents=6, routes=30, seed=21)
    assert compared == 6 * 50 + 30 + core_router.node_count


@pytest.mark.scale
def test_core_snapped_points_agree_with_networkx(core_router: Router) -> None:
    assert _check_points(core_router, DAY_S, pairs=25, seed=22) == 25 + 2 * 6
