"""Recommendation, queue order, diversion and hospital choice against brute force."""

from __future__ import annotations

import random

import pytest

from dispatch.errors import Conflict, ValidationError
from dispatch.model import CallStatus, CancelReason, Point, Priority, UnitStatus, UnitType
from dispatch.policy import PolicyConfig, SnapCache, queue_order, rank_hospitals, recommend
from dispatch.service import DispatchService
from dispatch.timeline import intervals
from stations.models import UnitSpec
from tests.dispatch.fakes import RIVER_LON, FakeTravel
from tests.dispatch.helpers import (
    HOAN_KIEM,
    HOSPITALS,
    LONG_BIEN,
    STATIONS,
    Clock,
    make_service,
    new_call,
)

BIG_FLEET = [
    UnitSpec(f"{s.station_id}-A{n}", s.station_id, UnitType.AMBULANCE, 3, "24/7", 90.0 + 15 * n)
    for s in STATIONS
    for n in range(1, 8)
]


def brute_force(svc: DispatchService, pin: Point, travel: FakeTravel, at_s: float) -> list[str]:
    """Each free unit's ETA computed on its own; sorted by (ETA, id); unreachable ones last."""
    turnout = {u.unit_id: u.turnout_s for u in BIG_FLEET}
    scene = travel.snap(pin.lon, pin.lat)
    rows = []
    for unit in svc.state.units.values():
        if unit.status not in (
            UnitStatus.AVAILABLE_AT_STATION,
            UnitStatus.AVAILABLE_ON_ROAD,
            UnitStatus.RETURNING,
        ):
            continue
        at_station = unit.status == UnitStatus.AVAILABLE_AT_STATION
        origin = unit.home if at_station else unit.position
        (eta,) = travel.eta_many_to_one([travel.snap(origin.lon, origin.lat)], scene, at_s=at_s)
        total = None if eta is None else eta + (turnout[unit.unit_id] if at_station else 0.0)
        rows.append((total is None, total or 0.0, unit.unit_id))
    return [unit_id for _, _, unit_id in sorted(rows)]


@pytest.mark.parametrize("seed", range(25))
def test_recommendation_equals_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    travel, clock = FakeTravel(), Clock()
    svc = make_service(fleet=BIG_FLEET, travel=travel, clock=clock)
    for unit_id in rng.sample(sorted(svc.state.units), 8):  # some units out on the road
        svc.change_unit_status(unit_id, UnitStatus.AVAILABLE_ON_ROAD, actor="crew")
        where = Point(rng.uniform(105.78, 105.93), rng.uniform(20.97, 21.08))
        svc.report_position(unit_id, where, actor="avl")
    for unit_id in rng.sample(sorted(svc.state.units), 4):  # some busy
        if svc.state.units[unit_id].is_free:
            svc.assign(new_call(svc), unit_id, actor="d1")
    clock.advance(rng.uniform(0, 86400))
    pin = Point(rng.uniform(105.78, 105.93), rng.uniform(20.97, 21.08))
    call_id = new_call(svc, pin)
    calls_before = travel.calls
    rec = svc.recommend(call_id)
    assert travel.calls - calls_before == 1  # one many-to-one query for all units
    assert [c.unit_id for c in rec.candidates] == brute_force(svc, pin, travel, clock.now_s)
    reachable = [c for c in rec.candidates if c.reachable]
    assert [c.rank for c in reachable] == list(range(1, len(reachable) + 1))
    assert all(c.rank is None and c.note for c in rec.candidates if not c.reachable)
    etas = [c.eta_s for c in reachable]
    assert etas == sorted(etas)  # type: ignore[type-var]
    across = [c for c in rec.candidates if (c.origin.lon < RIVER_LON) != (pin.lon < RIVER_LON)]
    assert all(not c.reachable for c in across)  # listed, not dropped


def test_turnout_added_only_at_station() -> None:
    travel = FakeTravel()
    svc = make_service(travel=travel)
    call_id = new_call(svc)
    svc.change_unit_status("dong_da-A1", UnitStatus.AVAILABLE_ON_ROAD, actor="crew")
    rec = {c.unit_id: c for c in svc.recommend(call_id).candidates}
    assert rec["hq-A1"].turnout_s == 120.0
    assert rec["hq-M1"].turnout_s == 60.0
    assert rec["dong_da-A1"].turnout_s == 0.0
    hq = rec["hq-A1"]
    assert hq.eta_s == pytest.approx(hq.turnout_s + (hq.travel_s or 0.0))


def test_scene_walking_leg_reported() -> None:
    svc = make_service(travel=FakeTravel(alley_m=60.0))
    rec = svc.recommend(new_call(svc))
    assert rec.scene_offroad_m == 60.0 and rec.scene_offroad_s == 60.0


def test_pin_outside_service_area_is_a_validation_error() -> None:
    svc = make_service()
    with pytest.raises(ValidationError) as info:
        new_call(svc, Point(106.5, 21.0))
    assert info.value.field == "pin"


def test_queue_order_priority_then_age() -> None:
    clock = Clock()
    svc = make_service(fleet=[], clock=clock)
    made = []
    for priority in (Priority.P3, Priority.P1, Priority.P3, Priority.P2, Priority.P1):
        made.append((priority, new_call(svc, priority=priority)))
        clock.advance(30)
    order = [c.call_id for c in queue_order(svc.state)]
    expected = [cid for _, cid in sorted(made, key=lambda pc: (pc[0].rank, pc[1]))]
    assert order == expected
    assert all(svc.state.calls[c].status == CallStatus.QUEUED for c in order)


def test_freed_unit_is_suggested_the_oldest_most_urgent_call() -> None:
    clock = Clock()
    fleet = [UnitSpec("hq-A1", "hq", UnitType.AMBULANCE, 3, "24/7", 120.0)]
    svc = make_service(fleet=fleet, clock=clock)
    first = new_call(svc, priority=Priority.P2)
    svc.assign(first, "hq-A1", actor="d1")
    clock.advance(10)
    p3 = new_call(svc, priority=Priority.P3)
    clock.advance(10)
    p1_old = new_call(svc, priority=Priority.P1)
    clock.advance(10)
    new_call(svc, priority=Priority.P1)
    assert svc.get_call(p3).status == CallStatus.QUEUED
    seq = svc.state.last_seq
    svc.cancel_call(first, reason=CancelReason.NO_PATIENT, actor="d1")
    suggested = [s.event for s in svc.events_since(seq) if s.event.type == "UnitSuggested"]
    assert [(e.unit_id, e.call_id) for e in suggested] == [("hq-A1", p1_old)]  # type: ignore[attr-defined]


def _divert_setup(config: PolicyConfig) -> tuple[DispatchService, str, str]:
    fleet = [UnitSpec("hq-A1", "hq", UnitType.AMBULANCE, 3, "24/7", 120.0)]
    svc = make_service(fleet=fleet, policy=config)
    low = new_call(svc, Point(105.80, 21.00), priority=Priority.P4)
    svc.assign(low, "hq-A1", actor="d1")
    svc.change_unit_status("hq-A1", UnitStatus.EN_ROUTE, actor="crew")
    svc.report_position("hq-A1", Point(105.85, 21.02), actor="avl")
    high = new_call(svc, Point(105.853, 21.021), priority=Priority.P1)
    return svc, low, high


def test_p1_diverts_unit_from_p4_and_p4_requeues_with_history_kept() -> None:
    svc, low, high = _divert_setup(PolicyConfig())
    rec = svc.recommend(high)
    assert rec.best is not None and rec.best.unit_id == "hq-A1"
    assert rec.best.diverts_call_id == low
    svc.assign(high, "hq-A1", actor="d1")
    low_call, high_call = svc.get_call(low), svc.get_call(high)
    assert low_call.status == CallStatus.QUEUED and low_call.unit_id is None
    assert [a.ended for a in low_call.assignments] == ["diverted"]  # history kept
    assert low_call.assignments[0].en_route_s is not None
    assert high_call.status == CallStatus.ASSIGNED and high_call.unit_id == "hq-A1"
    assert svc.state.units["hq-A1"].status == UnitStatus.EN_ROUTE
    assert svc.state.units["hq-A1"].call_id == high
    kinds = [s.event.type for s in svc.events_since(0)]
    assert "UnitDiverted" in kinds


def test_diversion_disabled_by_config() -> None:
    svc, _low, high = _divert_setup(PolicyConfig(divert_enabled=False))
    assert svc.recommend(high).best is None
    with pytest.raises(Conflict):
        svc.assign(high, "hq-A1", actor="d1")


def test_p2_never_diverts() -> None:
    svc, low, _high = _divert_setup(PolicyConfig())
    p2 = new_call(svc, Point(105.853, 21.021), priority=Priority.P2)
    assert svc.recommend(p2).candidates == ()
    with pytest.raises(Conflict):
        svc.assign(p2, "hq-A1", actor="d1")
    assert svc.get_call(low).unit_id == "hq-A1"


def test_hospital_choice_nearest_by_eta_and_override() -> None:
    travel = FakeTravel()
    options = rank_hospitals(HOAN_KIEM, HOSPITALS, SnapCache(travel), at_s=0.0)
    assert [o.hospital_id for o in options[:2]] == ["h-xanhpon", "h-bachmai"]
    assert options[-1].hospital_id == "h-ducgiang" and options[-1].eta_s is None  # across river
    east = rank_hospitals(LONG_BIEN, HOSPITALS, SnapCache(travel), at_s=0.0)
    assert east[0].hospital_id == "h-ducgiang"
    svc = make_service(travel=travel)
    call_id = new_call(svc)
    chosen = svc.choose_hospital(call_id, actor="d1")
    assert chosen.call.hospital_id == "h-xanhpon" and not chosen.call.hospital_overridden
    over = svc.choose_hospital(call_id, actor="d1", hospital_id="h-bachmai")
    assert over.call.hospital_id == "h-bachmai" and over.call.hospital_overridden


def test_recommend_is_pure_over_state_and_clock() -> None:
    travel = FakeTravel()
    svc = make_service(fleet=BIG_FLEET, travel=travel)
    call = svc.state.calls[new_call(svc)]
    args = {"at_s": 1000.0, "turnout_s": {u.unit_id: u.turnout_s for u in BIG_FLEET}}
    a = recommend(svc.state, call, SnapCache(travel), **args)  # type: ignore[arg-type]
    b = recommend(svc.state, call, SnapCache(travel), **args)  # type: ignore[arg-type]
    assert a == b
    peak = recommend(svc.state, call, SnapCache(travel), at_s=4 * 3600.0, turnout_s={})
    assert peak.candidates[0].travel_s != a.candidates[0].travel_s  # the clock value matters


def test_diverted_call_timeline_keeps_first_dispatch() -> None:
    clock = Clock()
    fleet = [
        UnitSpec("hq-A1", "hq", UnitType.AMBULANCE, 3, "24/7", 120.0),
        UnitSpec("long_bien-A1", "long_bien", UnitType.AMBULANCE, 3, "24/7", 120.0),
    ]
    svc = make_service(fleet=fleet, clock=clock, auto_arrive_m=None)
    svc.change_unit_status("long_bien-A1", UnitStatus.OUT_OF_SERVICE, actor="crew")
    t0 = clock.now_s
    low = new_call(svc, Point(105.80, 21.00), priority=Priority.P3)
    clock.advance(60)
    svc.assign(low, "hq-A1", actor="d1")
    svc.change_unit_status("hq-A1", UnitStatus.EN_ROUTE, actor="crew")
    clock.advance(120)
    high = new_call(svc, Point(105.853, 21.021), priority=Priority.P1)
    svc.assign(high, "hq-A1", actor="d1")
    clock.advance(600)
    svc.change_unit_status("long_bien-A1", UnitStatus.AVAILABLE_AT_STATION, actor="crew")
    svc.assign(low, "long_bien-A1", actor="d1")
    svc.change_unit_status("long_bien-A1", UnitStatus.EN_ROUTE, actor="crew")
    clock.advance(900)
    svc.change_unit_status("long_bien-A1", UnitStatus.ON_SCENE, actor="crew")
    call = svc.get_call(low)
    assert [a.unit_id for a in call.assignments] == ["hq-A1", "long_bien-A1"]
    assert [a.ended for a in call.assignments] == ["diverted", None]
    got = intervals(call)
    assert got["call_to_dispatch_s"] == 60.0  # the first dispatch, never rewritten
    assert got["response_s"] == clock.now_s - t0
    assert got["travel_s"] == 900.0
