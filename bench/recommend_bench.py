"""Benchmark: recommendation for one call with 60 units on the urban-core graph (prints JSON).

60 units: the default fleet at the seven core stations, the rest on the road at random
road positions that move before every call (so their snaps are never cached). Each
iteration: snap the pin and every moved unit, one many-to-one ETA query, rank.
Baseline in the same run: brute force, one ETA query per unit. Target: p99 < 20 ms.

Run: .venv/bin/python bench/recommend_bench.py [--calls 300] [--seed 1]
The graph is built once into var/test-graphs (or $H115_TEST_GRAPH_CACHE) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from dispatch.memory import InMemoryRepository
from dispatch.model import Point, Priority, UnitStatus, UnitType
from dispatch.policy import SnapCache, recommend
from dispatch.service import DispatchService
from dispatch.workflow import ServiceOptions
from routing.cache import cached_build
from routing.engine import Router
from stations.loaders import load_fleet, load_stations
from stations.models import UnitSpec

REPO = Path(__file__).resolve().parents[1]
T_EVENING = 1_790_000_000.0 - (1_790_000_000 % 86400) + 11 * 3600  # 18:00 in Hanoi


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def road_point(router: Router, rng: random.Random) -> Point:
    nodes = router.node_lonlat
    lon, lat = nodes[rng.randrange(len(nodes))]
    return Point(float(lon) + rng.uniform(-1e-4, 1e-4), float(lat) + rng.uniform(-1e-4, 1e-4))


def build_service(router: Router, rng: random.Random, n_units: int) -> DispatchService:
    stations = load_stations()
    fleet = load_fleet(stations)
    extra = n_units - len(fleet)
    fleet += [
        UnitSpec(f"road-A{i}", stations[i % len(stations)].station_id, UnitType.AMBULANCE, 3,
                 "24/7", 120.0)
        for i in range(extra)
    ]  # fmt: skip
    svc = DispatchService(
        InMemoryRepository(), router, stations=stations, fleet=fleet,
        clock=lambda: T_EVENING, options=ServiceOptions(auto_arrive_m=None),
    )  # fmt: skip
    for i in range(extra):
        svc.change_unit_status(f"road-A{i}", UnitStatus.AVAILABLE_ON_ROAD, actor="bench")
    return svc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cache = Path(os.environ.get("H115_TEST_GRAPH_CACHE", REPO / "var" / "test-graphs"))
    started = time.perf_counter()
    shared_osm = Path(os.environ.get("H115_SHARED_OSM", REPO.parent / "shared" / "osm"))
    graph_dir = cached_build(shared_osm / "hanoi_core_drive.osm.bz2", cache)
    build_s = time.perf_counter() - started  # ~0 when the cached artifact is current
    started = time.perf_counter()
    router = Router.load(graph_dir)
    load_s = time.perf_counter() - started
    svc = build_service(router, rng, args.units)
    turnout = {u: 120.0 for u in svc.state.units}
    snaps = SnapCache(router)
    on_road = [u for u in svc.state.units.values() if u.status == UnitStatus.AVAILABLE_ON_ROAD]
    ours: list[float] = []
    brute: list[float] = []
    agree = True
    for _ in range(args.calls):
        for unit in on_road:  # units move between calls: their snaps are not cached
            unit.position = road_point(router, rng)
        pin = road_point(router, rng)
        call = svc.state.calls[
            svc.create_call(actor="bench", caller_phone="0", address_text="x", pin=pin,
                            priority=Priority.P1).call_id
        ]  # fmt: skip
        t = time.perf_counter()
        rec = recommend(svc.state, call, snaps, at_s=T_EVENING, turnout_s=turnout)
        ours.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        scene = router.snap(pin.lon, pin.lat)
        one_by_one = {}
        for unit in svc.state.units.values():
            origin = unit.home if unit.status == UnitStatus.AVAILABLE_AT_STATION else unit.position
            (eta,) = router.eta_many_to_one(
                [router.snap(origin.lon, origin.lat)], scene, at_s=T_EVENING
            )
            one_by_one[unit.unit_id] = eta
        brute.append((time.perf_counter() - t) * 1000)
        for cand in rec.candidates:
            base = one_by_one[cand.unit_id]
            if (base is None) != (cand.travel_s is None) or (
                base is not None and abs(base - (cand.travel_s or 0.0)) > 1e-6
            ):
                agree = False
    result: dict[str, Any] = {
        "graph": "urban-core (hanoi_core_drive.osm.bz2)",
        "nodes": int(router.node_count),
        "units": len(svc.state.units),
        "units_on_road_resnapped_each_call": len(on_road),
        "calls": args.calls,
        "graph_build_if_not_cached_s": round(build_s, 3),
        "graph_load_s": round(load_s, 3),
        "recommend_incl_snapping": summary(ours),
        "baseline_one_query_per_unit": summary(brute),
        "speedup_p50": round(percentile(brute, 50) / percentile(ours, 50), 1),
        "agrees_with_baseline": agree,
        "target_p99_ms": 20.0,
        "meets_target": percentile(ours, 99) < 20.0,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
