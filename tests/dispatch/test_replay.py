"""Replaying the event log (also through JSON) rebuilds the live state exactly."""

from __future__ import annotations

import json
import random
import threading

import pytest

from dispatch import events as ev
from dispatch.avl import PositionFix
from dispatch.errors import ConcurrencyConflict, DispatchError, ValidationError
from dispatch.memory import InMemoryRepository
from dispatch.model import CancelReason, EventSource, Point, Priority, UnitStatus, UnitType
from dispatch.service import DispatchService
from dispatch.transitions import replay
from tests.dispatch.helpers import Clock, make_service

STATUS_MOVES = [s for s in UnitStatus if s != UnitStatus.DISPATCHED]
U = UnitStatus
NEXT = {  # the usual course of a job, so random runs complete some
    U.DISPATCHED: [U.EN_ROUTE],
    U.EN_ROUTE: [U.ON_SCENE],
    U.ON_SCENE: [U.TRANSPORTING, U.RETURNING],
    U.TRANSPORTING: [U.AT_HOSPITAL],
    U.AT_HOSPITAL: [U.RETURNING],
    U.RETURNING: [U.AVAILABLE_AT_STATION],
}


def pick_status(svc: DispatchService, unit_id: str, rng: random.Random) -> UnitStatus:
    usual = NEXT.get(svc.state.units[unit_id].status)
    if usual and rng.random() < 0.8:
        return rng.choice(usual)
    return rng.choice(STATUS_MOVES)


def drive(svc: DispatchService, clock: Clock, rng: random.Random, steps: int) -> int:
    """Random commands, legal or not; returns how many were accepted."""
    ok = 0
    for _ in range(steps):
        clock.advance(rng.uniform(1, 120))
        calls = sorted(svc.state.calls)
        units = sorted(svc.state.units)
        action = rng.random()
        try:
            if action < 0.25 or not calls:
                svc.create_call(
                    actor="d1",
                    caller_phone="09",
                    address_text="somewhere",
                    pin=Point(rng.uniform(105.80, 105.93), rng.uniform(20.98, 21.07)),
                    priority=rng.choice([*Priority, None]),
                )
            elif action < 0.45:
                svc.assign(rng.choice(calls), rng.choice(units), actor="d1")
            elif action < 0.75:
                unit_id = rng.choice(units)
                svc.change_unit_status(
                    unit_id,
                    pick_status(svc, unit_id, rng),
                    actor="crew",
                    device_at_s=clock.now_s - rng.uniform(0, 5),
                )
            elif action < 0.80:
                svc.report_position(
                    rng.choice(units),
                    Point(rng.uniform(105.80, 105.93), rng.uniform(20.98, 21.07)),
                    actor="avl",
                )
            elif action < 0.85:  # a group of fixes in one commit, one of them for no unit
                fixes = [
                    PositionFix(u, Point(rng.uniform(105.80, 105.93), rng.uniform(20.98, 21.07)))
                    for u in [*rng.sample(units, 3), "nobody"]
                ]
                outcomes = svc.report_positions(fixes)
                assert [o is None for o in outcomes] == [True, True, True, False]
            elif action < 0.92:
                svc.cancel_call(
                    rng.choice(calls), reason=rng.choice(list(CancelReason)), actor="d1"
                )
            elif action < 0.95:
                svc.update_call(rng.choice(calls), actor="d1", priority=rng.choice(list(Priority)))
            elif action < 0.98:
                svc.choose_hospital(rng.choice(calls), actor="d1")
            else:  # a crew acknowledges (mostly a unit driving to a call)
                busy = [u for u in units if svc.state.units[u].call_id] or units
                svc.acknowledge(rng.choice(busy), actor="crew")
            ok += 1
        except DispatchError:
            pass
    return ok


@pytest.mark.parametrize("seed", range(6))
def test_replay_and_json_roundtrip_rebuild_state_exactly(seed: int) -> None:
    repo, clock = InMemoryRepository(), Clock()
    svc = make_service(repo=repo, clock=clock)
    accepted = drive(svc, clock, random.Random(seed), 400)
    assert accepted > 150
    stored = repo.load_events()
    types = {s.event.type for s in stored}
    assert {"UnitAssigned", "UnitStatusChanged", "CallClosed", "CallCancelled"} <= types
    assert replay(stored) == svc.state
    wire = json.loads(json.dumps([s.to_dict() for s in stored]))
    assert replay(ev.StoredEvent.from_dict(d) for d in wire) == svc.state


def test_every_event_type_roundtrips_through_json() -> None:
    repo, clock = InMemoryRepository(), Clock()
    svc = make_service(repo=repo, clock=clock)
    drive(svc, clock, random.Random(99), 600)
    seen: dict[str, ev.Event] = {}
    for item in repo.load_events():
        seen.setdefault(item.event.type, item.event)
    missing = set(ev.EVENT_TYPES) - set(seen)
    assert missing <= {"UnitDiverted"}  # diversion is exercised in test_policy
    for event in seen.values():
        assert ev.event_from_dict(json.loads(json.dumps(event.to_dict()))) == event
    diverted = ev.UnitDiverted(
        at_s=1.5,
        actor="d",
        source=EventSource.DISPATCHER,
        unit_id="u",
        from_call_id="a",
        to_call_id="b",
        eta_s=None,
    )
    assert ev.event_from_dict(json.loads(json.dumps(diverted.to_dict()))) == diverted
    assert diverted.entity_keys() == ("unit:u", "call:a", "call:b")


def test_stale_expected_versions_are_refused() -> None:
    repo = InMemoryRepository()
    svc = make_service(repo=repo)
    event = ev.PositionReported(
        at_s=1.0, actor="avl", source=EventSource.AVL, unit_id="hq-A1", position=Point(105.85, 21.0)
    )
    version = svc.state.units["hq-A1"].version
    repo.append([event], expected_versions={"unit:hq-A1": version})
    with pytest.raises(ConcurrencyConflict):
        repo.append([event], expected_versions={"unit:hq-A1": version})


def test_threads_racing_for_one_unit_exactly_one_wins() -> None:
    repo, clock = InMemoryRepository(), Clock()
    services = [make_service(repo=repo, clock=clock) for _ in range(8)]
    for round_no in range(20):
        calls = [
            s.create_call(
                actor=f"d{i}",
                caller_phone="1",
                address_text="x",
                pin=Point(105.85, 21.02),
                priority=Priority.P2,
                call_id=f"r{round_no}-{i}",
            ).call_id
            for i, s in enumerate(services)
        ]
        wins: list[str] = []
        barrier = threading.Barrier(len(services))

        def race(
            svc: DispatchService,
            call_id: str,
            barrier: threading.Barrier = barrier,
            wins: list[str] = wins,
        ) -> None:
            barrier.wait()
            try:
                svc.assign(call_id, "hq-A1", actor="d")
                wins.append(call_id)
            except DispatchError:
                pass

        threads = [threading.Thread(target=race, args=p) for p in zip(services, calls, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1
        assert replay(repo.load_events()).units["hq-A1"].call_id == wins[0]
        services[0].cancel_call(wins[0], reason=CancelReason.DUPLICATE, actor="d")
        for s in services[1:]:
            for c in calls:
                if s.get_call(c).is_open:
                    s.cancel_call(c, reason=CancelReason.DUPLICATE, actor="d")


@pytest.mark.parametrize(
    "mutate",
    [
        {"type": "NoSuchEvent"},
        {"crew_size": "3"},
        {"crew_size": True},
        {"status": "flying"},
        {"home": [105.8]},
        {"at_s": "noon"},
        {"unit_id": 7},
    ],
)
def test_malformed_event_dicts_are_validation_errors(mutate: dict[str, object]) -> None:
    good = ev.UnitRegistered(
        at_s=1.0, actor="system", source=EventSource.SYSTEM, unit_id="u1", station_id="hq",
        unit_type=UnitType.AMBULANCE, crew_size=3, shift="24/7", home=Point(105.85, 21.02),
        status=UnitStatus.AVAILABLE_AT_STATION,
    )  # fmt: skip
    assert ev.event_from_dict(good.to_dict()) == good
    with pytest.raises(ValidationError):
        ev.event_from_dict({**good.to_dict(), **mutate})
    missing = good.to_dict()
    del missing["unit_id"]
    with pytest.raises(ValidationError):
        ev.event_from_dict(missing)
