"""Recommendation and hospital choice on the real Hoàn Kiếm road graph, against brute force."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dispatch.memory import InMemoryRepository
from dispatch.model import Point, Priority, UnitStatus, UnitType
from dispatch.policy import SnapCache, rank_hospitals
from dispatch.service import DispatchService
from dispatch.workflow import ServiceOptions
from stations.models import Hospital, Station, UnitSpec

T_NOON_UTC7 = 1_790_000_000.0 - (1_790_000_000 % 86400) + 5 * 3600  # 12:00 in Hanoi


def random_points(router: Any, rng: random.Random, n: int) -> list[Point]:
    nodes = router.node_lonlat
    picks = rng.sample(range(len(nodes)), n)
    # a few metres off the node, so snapping lands on an edge, not exactly on a node
    return [
        Point(
            float(nodes[i][0]) + rng.uniform(-2e-4, 2e-4),
            float(nodes[i][1]) + rng.uniform(-2e-4, 2e-4),
        )
        for i in picks
    ]


def build(router: Any, rng: random.Random) -> DispatchService:
    homes = random_points(router, rng, 6)
    stations = [
        Station(f"s{i}", f"S{i}", p.lon, p.lat, "test", "test") for i, p in enumerate(homes)
    ]
    fleet = [
        UnitSpec(f"s{i}-A{n}", f"s{i}", UnitType.AMBULANCE, 3, "24/7", 60.0 + 30 * n)
        for i in range(len(stations))
        for n in range(1, 4)
    ]
    return DispatchService(
        InMemoryRepository(),
        router,
        stations=stations,
        fleet=fleet,
        clock=lambda: T_NOON_UTC7,
        options=ServiceOptions(auto_arrive_m=None),
    )


@pytest.mark.parametrize("seed", range(10))
def test_recommendation_equals_brute_force_on_real_graph(hoankiem_router: Any, seed: int) -> None:
    rng = random.Random(seed)
    svc = build(hoankiem_router, rng)
    turnout = {f"s{i}-A{n}": 60.0 + 30 * n for i in range(6) for n in range(1, 4)}
    on_road = rng.sample(sorted(svc.state.units), 6)
    for unit_id, where in zip(on_road, random_points(hoankiem_router, rng, 6), strict=True):
        svc.change_unit_status(unit_id, UnitStatus.AVAILABLE_ON_ROAD, actor="crew")
        svc.report_position(unit_id, where, actor="avl")
    (pin,) = random_points(hoankiem_router, rng, 1)
    call = svc.create_call(
        actor="d", caller_phone="1", address_text="x", pin=pin, priority=Priority.P1
    )
    rec = svc.recommend(call.call_id)

    scene = hoankiem_router.snap(pin.lon, pin.lat)
    expected = []
    for unit in svc.state.units.values():
        at_station = unit.status == UnitStatus.AVAILABLE_AT_STATION
        origin = unit.home if at_station else unit.position
        snap = hoankiem_router.snap(origin.lon, origin.lat)
        (travel,) = hoankiem_router.eta_many_to_one([snap], scene, at_s=T_NOON_UTC7)
        assert travel is not None
        expected.append((travel + (turnout[unit.unit_id] if at_station else 0.0), unit.unit_id))
    expected.sort()
    assert [c.unit_id for c in rec.candidates] == [u for _, u in expected]
    for cand, (eta, _) in zip(rec.candidates, expected, strict=True):
        assert cand.eta_s == pytest.approx(eta, abs=1e-6)
    assert rec.scene_offroad_m == pytest.approx(scene.offroad_m)
    assert 0 < rec.candidates[-1].eta_s < 3600  # type: ignore[operator]


def test_hospital_choice_on_real_graph(hoankiem_router: Any) -> None:
    rng = random.Random(7)
    spots = random_points(hoankiem_router, rng, 5)
    hospitals = [Hospital(f"h{i}", f"H{i}", p.lon, p.lat, "test") for i, p in enumerate(spots)]
    scene = random_points(hoankiem_router, rng, 1)[0]
    options = rank_hospitals(scene, hospitals, SnapCache(hoankiem_router), at_s=T_NOON_UTC7)
    origin = hoankiem_router.snap(scene.lon, scene.lat)
    brute = sorted(
        (
            hoankiem_router.eta_one_to_many(
                origin, [hoankiem_router.snap(h.lon, h.lat)], at_s=T_NOON_UTC7
            )[0],
            h.hospital_id,
        )
        for h in hospitals
    )
    assert [o.hospital_id for o in options] == [h for _, h in brute]
