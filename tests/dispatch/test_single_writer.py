"""The simulator's single-writer log: the same events and state as a tracked service, no
version or undo bookkeeping, and a service that refuses to go on after a half-applied command.
Also: a recommendation's ranking is fixed when it is made, however the state moves after."""

from __future__ import annotations

import pytest

from dispatch.errors import ConcurrencyConflict, RollbackImpossible
from dispatch.memory import InMemoryRepository
from dispatch.model import CancelReason, Priority, UnitStatus
from dispatch.service import DispatchService
from dispatch.views import event_view, recommendation_view
from tests.dispatch.fakes import FlakyRepository
from tests.dispatch.helpers import LONG_BIEN, Clock, make_service, new_call

U = UnitStatus


def _day(svc: DispatchService, clock: Clock) -> None:
    """A P3 job diverted by a P1, a cancellation and a full transport, through the service."""
    p3 = new_call(svc, priority=Priority.P3)
    svc.assign(p3, "hq-A1", actor="d1")
    svc.change_unit_status("hq-A1", U.EN_ROUTE, actor="crew")
    clock.advance(60)
    p1 = new_call(svc, priority=Priority.P1)
    best = svc.recommend(p1).best
    assert best is not None
    svc.assign(p1, best.unit_id, actor="d1")
    clock.advance(30)
    other = new_call(svc, pin=LONG_BIEN, priority=Priority.P2)
    svc.assign(other, "long_bien-A1", actor="d1")
    svc.cancel_call(other, reason=CancelReason.NO_PATIENT, actor="d1")
    for status in (U.EN_ROUTE, U.ON_SCENE, U.TRANSPORTING, U.AT_HOSPITAL, U.RETURNING):
        unit = svc.state.units[best.unit_id]
        if unit.status != status:
            clock.advance(300)
            svc.change_unit_status(best.unit_id, status, actor="crew")


def test_single_writer_log_gets_the_same_events_and_state() -> None:
    tracked_repo, single_repo = InMemoryRepository(), InMemoryRepository(single_writer=True)
    tracked_clock, single_clock = Clock(), Clock()
    tracked = make_service(repo=tracked_repo, clock=tracked_clock, auto_arrive_m=None)
    single = make_service(repo=single_repo, clock=single_clock, auto_arrive_m=None)
    _day(tracked, tracked_clock)
    _day(single, single_clock)
    events = [event_view(s, include_personal=True) for s in tracked_repo.load_events()]
    assert len(events) > 15
    assert [event_view(s, include_personal=True) for s in single_repo.load_events()] == events
    assert single.state == tracked.state


def test_a_half_applied_command_on_a_single_writer_log_stops_the_service() -> None:
    repo = FlakyRepository(single_writer=True)
    svc = make_service(repo=repo)
    call_id = new_call(svc)
    repo.fail_next = True
    with pytest.raises(ConcurrencyConflict):
        svc.assign(call_id, "hq-A1", actor="d1")
    # the state holds an assignment the log does not: every later command refuses
    with pytest.raises(RollbackImpossible, match="failed after changing the state"):
        svc.change_unit_status("hq-A1", U.EN_ROUTE, actor="crew")
    with pytest.raises(RollbackImpossible):
        new_call(svc)
    assert repo.last_seq() == len(svc.state.units) + 1  # registrations and the one call


def test_a_single_writer_log_keeps_no_versions_but_still_numbers_events() -> None:
    repo = InMemoryRepository(single_writer=True, keep_events=False)
    svc = make_service(repo=repo)
    call_id = new_call(svc)
    svc.assign(call_id, "hq-A1", actor="d1")
    assert repo._versions == {}  # the bookkeeping skipped is the point
    assert repo.last_seq() == len(svc.state.units) + 2
    assert svc.state.units["hq-A1"].call_id == call_id


def test_recommendation_is_fixed_when_made() -> None:
    svc = make_service(auto_arrive_m=None)
    call_id = new_call(svc, priority=Priority.P2)
    rec = svc.recommend(call_id)
    best = rec.best
    assert best is not None and best.rank == 1  # built alone, before the list
    view = recommendation_view(rec)
    svc.assign(call_id, best.unit_id, actor="d1")  # the state moves on
    svc.change_unit_status(best.unit_id, U.EN_ROUTE, actor="crew")
    first = rec.candidates[0]
    assert first == best and first.status == U.AVAILABLE_AT_STATION
    assert [c.rank for c in rec.candidates if c.reachable] == list(
        range(1, 1 + sum(c.reachable for c in rec.candidates))
    )
    assert recommendation_view(rec) == view
    again = svc.recommend(call_id)
    assert again != rec and again.call_id == rec.call_id
    assert best.unit_id not in {c.unit_id for c in again.candidates}
