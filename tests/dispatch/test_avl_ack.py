"""AVL fixes committed in groups (one commit, one event each) and the crew's acknowledgement
as a durable event (`UnitAcknowledged`), on the in-memory log and on SQLite."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from dispatch import events as ev
from dispatch.avl import PositionFix
from dispatch.errors import Conflict, InvalidTransition
from dispatch.memory import InMemoryRepository
from dispatch.model import EventSource, Point, Priority, UnitStatus, UnitType
from dispatch.repository import SqlRepository
from dispatch.transitions import replay
from stations.models import UnitSpec
from tests.dispatch.helpers import Clock, make_service, new_call


class CountingRepository(InMemoryRepository):
    """Counts `append` calls (each is one transaction in a real repository)."""

    def __init__(self) -> None:
        super().__init__()
        self.appends = 0

    def append(self, events: Sequence[ev.Event], **kwargs: object) -> list[ev.StoredEvent]:
        self.appends += 1
        return super().append(events, **kwargs)  # type: ignore[arg-type]


def test_a_group_of_fixes_is_one_append_with_one_event_per_fix() -> None:
    repo = CountingRepository()
    svc = make_service(repo=repo, auto_arrive_m=None)
    got: list[ev.StoredEvent] = []

    def listener(stored: Sequence[ev.StoredEvent]) -> None:
        assert repo.last_seq() >= stored[-1].seq  # published only after the commit
        got.extend(stored)

    svc.subscribe(listener)
    before, start = repo.appends, svc.state.last_seq
    units = sorted(svc.state.units)[:3]
    fixes = [
        PositionFix(u, Point(105.85 + i / 1000, 21.03), device_at_s=None, speed_kph=30.0 + i)
        for i, u in enumerate(units)
    ]
    assert svc.report_positions(fixes) == [None, None, None]
    assert repo.appends == before + 1
    assert [s.seq for s in got] == [start + 1, start + 2, start + 3]
    assert [s.event.type for s in got] == ["PositionReported"] * 3
    for fix, stored in zip(fixes, got, strict=True):
        assert isinstance(stored.event, ev.PositionReported)
        assert (stored.event.unit_id, stored.event.position) == (fix.unit_id, fix.position)
        assert stored.event.actor == f"crew:{fix.unit_id}" and stored.event.speed_kph == (
            fix.speed_kph
        )
        assert svc.state.units[fix.unit_id].position == fix.position


def test_a_rejected_fix_is_left_out_alone() -> None:
    clock = Clock()
    svc = make_service(clock=clock, auto_arrive_m=None)
    a, b = sorted(svc.state.units)[:2]
    start = svc.state.last_seq
    fixes = [
        PositionFix(a, Point(105.851, 21.031)),
        PositionFix("ghost", Point(105.852, 21.032)),
        PositionFix(b, Point(105.853, 21.033), device_at_s=clock.now_s + 86400),  # future
        PositionFix(b, Point(105.854, 21.034)),
    ]
    outcomes = svc.report_positions(fixes)
    assert outcomes[0] is None and outcomes[3] is None
    assert type(outcomes[1]).__name__ == "NotFound"
    assert type(outcomes[2]).__name__ == "ValidationError"
    stored = svc.events_since(start)
    assert [(s.event.unit_id, s.event.position) for s in stored] == [  # type: ignore[attr-defined]
        (a, Point(105.851, 21.031)),
        (b, Point(105.854, 21.034)),
    ]
    assert svc.state.units[b].position == Point(105.854, 21.034)
    assert replay(svc.events_since(0)) == svc.state


def test_auto_arrival_inside_a_group_commits_with_it() -> None:
    svc = make_service(auto_arrive_m=50.0)
    call_id = new_call(svc)
    svc.assign(call_id, "hq-A1", actor="d1")
    svc.change_unit_status("hq-A1", UnitStatus.EN_ROUTE, actor="crew")
    other = next(u for u in sorted(svc.state.units) if u != "hq-A1")
    start = svc.state.last_seq
    near_pin = Point(105.8522, 21.0286)  # ~25 m from the call's pin
    assert svc.report_positions(
        [PositionFix("hq-A1", near_pin), PositionFix(other, Point(105.85, 21.02))]
    ) == [None, None]
    kinds = [s.event.type for s in svc.events_since(start)]
    assert kinds == ["PositionReported", "UnitStatusChanged", "PositionReported"]
    assert svc.state.units["hq-A1"].status == UnitStatus.ON_SCENE


def test_group_commit_on_sqlite_is_one_transaction(tmp_path: Path) -> None:
    repo = SqlRepository.open(f"sqlite:///{tmp_path / 'avl.db'}")
    svc = make_service(repo=repo, auto_arrive_m=None)  # type: ignore[arg-type]
    commits: list[int] = []
    sa.event.listen(repo.engine, "commit", lambda conn: commits.append(1))
    units = sorted(svc.state.units)
    fixes = [PositionFix(u, Point(105.84 + i / 500, 21.02)) for i, u in enumerate(units)]
    assert svc.report_positions(fixes) == [None] * len(units)
    assert len(commits) == 1 and len(units) >= 3
    assert repo.read_model_state().units == svc.state.units
    assert repo.replay_state() == svc.state
    repo.close()


def test_acknowledgement_is_an_event_recorded_on_the_assignment() -> None:
    clock = Clock()
    repo = InMemoryRepository()
    svc = make_service(repo=repo, clock=clock)
    call_id = new_call(svc)
    assert svc.acknowledge("hq-A1", actor="crew") is None  # no job: nothing recorded
    svc.assign(call_id, "hq-A1", actor="d1")
    clock.advance(20)
    device_s = clock.now_s - 3
    assert svc.acknowledge("hq-A1", actor="crew:hq-A1", device_at_s=device_s) == call_id
    last = repo.load_events()[-1]
    assert isinstance(last.event, ev.UnitAcknowledged)
    assert (last.event.unit_id, last.event.call_id) == ("hq-A1", call_id)
    assert last.event.source == EventSource.CREW
    asg = svc.get_call(call_id).current_assignment
    assert asg is not None and asg.acknowledged_s == device_s
    seq = repo.last_seq()
    assert svc.acknowledge("hq-A1", actor="crew") is None  # resent: no second event
    assert repo.last_seq() == seq
    wire = json.loads(json.dumps([s.to_dict() for s in repo.load_events()]))
    assert replay(ev.StoredEvent.from_dict(d) for d in wire) == svc.state
    assert ev.event_from_dict(json.loads(json.dumps(last.event.to_dict()))) == last.event
    assert last.event.entity_keys() == (f"call:{call_id}",)


def test_going_en_route_acknowledges_and_a_diverted_unit_must_acknowledge_again() -> None:
    fleet = [UnitSpec("hq-A1", "hq", UnitType.AMBULANCE, 3, "24/7", 120.0)]
    svc = make_service(fleet=fleet, auto_arrive_m=None)
    call_id = new_call(svc, Point(105.80, 21.00), priority=Priority.P4)
    svc.assign(call_id, "hq-A1", actor="d1")
    svc.change_unit_status("hq-A1", UnitStatus.EN_ROUTE, actor="crew")
    asg = svc.get_call(call_id).current_assignment
    assert asg is not None and asg.acknowledged_s == asg.en_route_s
    assert svc.acknowledge("hq-A1", actor="crew") is None
    svc.report_position("hq-A1", Point(105.85, 21.02), actor="avl")
    urgent = new_call(svc, Point(105.853, 21.021), priority=Priority.P1)
    svc.assign(urgent, "hq-A1", actor="d1")  # diverted while en route
    diverted = svc.get_call(urgent).current_assignment
    assert diverted is not None and diverted.acknowledged_s is None
    assert svc.state.units["hq-A1"].status == UnitStatus.EN_ROUTE
    assert svc.acknowledge("hq-A1", actor="crew") == urgent


def test_illegal_acknowledgements_are_refused_by_the_transition() -> None:
    svc = make_service(auto_arrive_m=None)
    call_id = new_call(svc)
    state = svc.state
    stray = ev.UnitAcknowledged(
        at_s=1.0, actor="crew", source=EventSource.CREW, unit_id="hq-A1", call_id=call_id
    )
    with pytest.raises(InvalidTransition):
        replay([ev.StoredEvent(seq=state.last_seq + 1, event=stray)], state)
    svc.assign(call_id, "hq-A1", actor="d1")
    svc.acknowledge("hq-A1", actor="crew")
    with pytest.raises(Conflict):
        replay([ev.StoredEvent(seq=svc.state.last_seq + 1, event=stray)], svc.state)
