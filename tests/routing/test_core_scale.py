"""Sanity at scale on the urban-core extract (~28k nodes): stations, trips, speed, calibration."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from routing.engine import Router
from routing.errors import OutsideServiceArea
from tests.routing.inner_trips import OFFPEAK_AT_S, PEAK_AT_S, inner_trips

pytestmark = pytest.mark.scale

# ../shared/reference/hanoi115.md, 2023 station set (lon, lat); Đông Anh lies outside the extract.
STATIONS = {
    "Central (HQ)": (105.8565, 21.0245),
    "Tây Hồ": (105.80723, 21.06837),
    "Đống Đa": (105.82679, 21.01556),
    "Hà Đông": (105.77447, 20.97135),
    "Thanh Trì": (105.84631, 20.94872),
    "Long Biên / Gia Lâm": (105.89821, 21.06134),
    "Từ Liêm": (105.76574, 21.03879),
}
DONG_ANH = (105.85325, 21.13921)


def test_loads_under_two_seconds(core_graph_dir: Path) -> None:
    router = Router.load(core_graph_dir)
    assert router.load_s < 2.0
    assert 27_000 < router.node_count < 29_000
    assert 66_000 < int(router.arrays["arc_tail"].size) < 70_000


@pytest.mark.parametrize("name", sorted(STATIONS))
def test_station_snaps_within_300_m(core_router: Router, name: str) -> None:
    assert core_router.snap(*STATIONS[name]).offroad_m < 300


def test_dong_anh_is_outside_the_extract(core_router: Router) -> None:
    with pytest.raises(OutsideServiceArea):
        core_router.snap(*DONG_ANH)


def test_ha_dong_to_long_bien_is_plausible(core_router: Router) -> None:
    r = core_router
    o, d = r.snap(*STATIONS["Hà Đông"]), r.snap(*STATIONS["Long Biên / Gia Lâm"])
    route = r.route(o, d, at_s=OFFPEAK_AT_S)
    assert route is not None
    assert 15_000 < route.distance_m < 25_000  # 16.9 km straight through per SOURCE.md
    assert 30 * 60 < route.duration_s < 75 * 60  # ~20 km/h across the city by day
    assert any("Cầu" in s.name for s in route.steps)  # crosses the Red River on a bridge
    peak = r.eta_many_to_one([o], d, at_s=PEAK_AT_S)[0]
    assert peak is not None and peak > route.duration_s


def test_cch_agrees_with_scipy_dijkstra(core_router: Router) -> None:
    r = core_router
    w = r.band_weights()["pm_peak"]
    rng = np.random.default_rng(11)
    sources = rng.choice(r.node_count, 5, replace=False)
    targets = rng.choice(r.node_count, 60, replace=False)
    lon, lat = r.arrays["node_lon"], r.arrays["node_lat"]
    snaps = r.snap_many(lon[targets].tolist(), lat[targets].tolist())
    tail, head = r.arrays["arc_tail"], r.arrays["arc_head"]
    keep = tail != head
    # An independent reference: scipy's Dijkstra on a matrix of the fastest parallel arcs.
    pairs: dict[tuple[int, int], float] = {}
    for t, h, s in zip(
        tail[keep].tolist(), head[keep].tolist(), (w[keep] / 1000.0).tolist(), strict=True
    ):
        pairs[(t, h)] = min(s, pairs.get((t, h), np.inf))
    ij = np.array(list(pairs))
    mat = sp.csr_matrix((list(pairs.values()), (ij[:, 0], ij[:, 1])), shape=(r.node_count,) * 2)
    ref = dijkstra(mat, directed=True, indices=sources)
    for row, src in enumerate(sources.tolist()):
        origin = r.snap(float(lon[src]), float(lat[src]))
        etas = r.eta_one_to_many(origin, snaps, at_s=PEAK_AT_S)
        for col, eta in enumerate(etas):
            expected = ref[row, targets[col]]
            if np.isinf(expected):
                assert eta is None
            else:
                assert eta == pytest.approx(expected, rel=1e-3, abs=0.01)


def test_calibrated_against_hanoi_reporting(core_router: Router, osm_dir: Path) -> None:
    """Median 3.5-4.5 km inner-city trip: ~15 min off-peak, >= 23 min in the evening peak."""
    trips = inner_trips(core_router, osm_dir, count=120)
    assert len(trips) == 120
    offpeak = np.median([route.duration_s for _, _, route in trips]) / 60
    peak = (
        np.median([core_router.eta_many_to_one([o], d, at_s=PEAK_AT_S)[0] for o, d, _ in trips])
        / 60
    )
    assert 13.5 <= offpeak <= 16.5, offpeak
    assert 23.0 <= peak <= 30.0, peak


def test_query_speed(core_router: Router) -> None:
    """ETA 50 -> 1 and routes are fast (generous bounds: the machine is shared)."""
    r = core_router
    lon, lat = r.arrays["node_lon"], r.arrays["node_lat"]
    rng = np.random.default_rng(5)
    idx = rng.choice(r.node_count, 200, replace=False)
    snaps = r.snap_many(lon[idx].tolist(), lat[idx].tolist())
    eta_s, route_s = [], []
    for i in range(50):
        started = time.perf_counter()
        r.eta_many_to_one(snaps[:50], snaps[100 + i], at_s=PEAK_AT_S)
        eta_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        r.route(snaps[i], snaps[150 + i], at_s=PEAK_AT_S)
        route_s.append(time.perf_counter() - started)
    assert np.median(eta_s) < 0.002
    assert np.median(route_s) < 0.010
    started = time.perf_counter()
    r.coverage(snaps[:7], at_s=PEAK_AT_S)
    assert time.perf_counter() - started < 0.05
