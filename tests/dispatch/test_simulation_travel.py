"""The simulator's travel-time memo answers exactly what the routing engine answers."""

from __future__ import annotations

from typing import Any

import numpy as np

from dispatch.simulation.travel import FixedTravelTimes, MemoTravelTimes
from dispatch.simulation.world import free_flow_time_s

MONDAY_S = 1_740_934_800.0  # 2025-03-03 00:00 Hanoi time


def test_memo_equals_router_at_every_hour(hoankiem_router: Any) -> None:
    router = hoankiem_router
    memo = MemoTravelTimes(router, time_key=router.band_at)
    rng = np.random.default_rng(5)
    nodes = router.node_lonlat[rng.integers(0, router.node_count, 12)]
    places = [memo.snap(float(lon), float(lat)) for lon, lat in nodes]
    for hour in range(0, 48, 3):
        at_s = MONDAY_S + hour * 3600.0 + 1234.0
        for dest in places[:4]:
            # Duplicated origins, asked twice: first misses, then hits.
            origins = places[4:] + places[4:6]
            expected = router.eta_many_to_one(origins, dest, at_s=at_s)
            assert memo.eta_many_to_one(origins, dest, at_s=at_s) == expected
            assert memo.eta_many_to_one(origins, dest, at_s=at_s) == expected
            assert memo.eta_one_to_many(dest, origins, at_s=at_s) == router.eta_one_to_many(
                dest, origins, at_s=at_s
            )
    assert memo.hits > 0 and memo.misses > 0
    assert memo.snap(*map(float, nodes[0])) is places[0]


def test_congestion_off_uses_the_free_flow_band(hoankiem_router: Any) -> None:
    router = hoankiem_router
    free_at = free_flow_time_s(router, MONDAY_S)
    assert all(v == 1.0 for v in router.profile.bands[router.band_at(free_at)].values())
    memo = MemoTravelTimes(router, time_key=router.band_at, free_flow_at_s=free_at)
    a, b = router.snap(*router.node_lonlat[0]), router.snap(*router.node_lonlat[-1])
    rush = MONDAY_S + 18 * 3600.0
    (free,) = memo.eta_many_to_one([a], b, at_s=rush)
    (jammed,) = router.eta_many_to_one([a], b, at_s=rush)
    assert free == router.eta_many_to_one([a], b, at_s=free_at)[0]
    assert free is not None and jammed is not None and free < jammed


def test_fixed_travel_times_are_fixed() -> None:
    travel = FixedTravelTimes(42.0)
    p = travel.snap(105.85, 21.02)
    assert (p.offroad_m, p.offroad_s) == (0.0, 0.0)
    assert travel.eta_many_to_one([p, p], p, at_s=0.0) == [42.0, 42.0]
    assert travel.eta_one_to_many(p, [p], at_s=1e9) == [42.0]
