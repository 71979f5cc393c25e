"""The unit and call status machines, exhaustively: every legal change accepted, every
illegal one rejected without changing anything."""

from __future__ import annotations

import itertools

import pytest

from dispatch import events as ev
from dispatch.errors import Conflict, InvalidTransition, ValidationError
from dispatch.model import CallStatus, CancelReason, EventSource, UnitStatus
from dispatch.service import DispatchService
from dispatch.transitions import (
    LEGAL_CALL_TRANSITIONS,
    LEGAL_UNIT_TRANSITIONS,
    apply,
    check_call_transition,
)
from tests.dispatch.helpers import HOSPITALS, make_service, new_call

U = UnitStatus
UNIT = "hq-A1"

# How to bring the unit to each status from "available at station", through legal moves.
PATHS: dict[UnitStatus, list[UnitStatus]] = {
    U.AVAILABLE_AT_STATION: [],
    U.OFF_DUTY: [U.OFF_DUTY],
    U.AVAILABLE_ON_ROAD: [U.AVAILABLE_ON_ROAD],
    U.OUT_OF_SERVICE: [U.OUT_OF_SERVICE],
    U.DISPATCHED: [U.DISPATCHED],
    U.EN_ROUTE: [U.DISPATCHED, U.EN_ROUTE],
    U.ON_SCENE: [U.DISPATCHED, U.EN_ROUTE, U.ON_SCENE],
    U.TRANSPORTING: [U.DISPATCHED, U.EN_ROUTE, U.ON_SCENE, U.TRANSPORTING],
    U.AT_HOSPITAL: [U.DISPATCHED, U.EN_ROUTE, U.ON_SCENE, U.TRANSPORTING, U.AT_HOSPITAL],
    U.RETURNING: [U.DISPATCHED, U.EN_ROUTE, U.ON_SCENE, U.RETURNING],
}


def move(svc: DispatchService, to: UnitStatus, call_id: str | None = None) -> None:
    """Dispatching is an assignment to a (new) call; every other change is a status change."""
    if to == U.DISPATCHED:
        svc.assign(call_id or new_call(svc), UNIT, actor="d1")
    else:
        svc.change_unit_status(UNIT, to, actor="crew", hospital_id=HOSPITALS[0].hospital_id)


def at_status(status: UnitStatus) -> DispatchService:
    svc = make_service(auto_arrive_m=None)
    for step in PATHS[status]:
        move(svc, step)
    assert svc.state.units[UNIT].status == status
    return svc


def test_every_status_is_reachable_and_in_the_table() -> None:
    assert set(PATHS) == set(UnitStatus) == set(LEGAL_UNIT_TRANSITIONS)
    assert set(LEGAL_CALL_TRANSITIONS) == set(CallStatus)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(UnitStatus, UnitStatus)))
def test_unit_transition(old: UnitStatus, new: UnitStatus) -> None:
    svc = at_status(old)
    call_id = new_call(svc) if new == U.DISPATCHED else None
    before_version = svc.state.units[UNIT].version
    before_seq = svc.state.last_seq
    if new in LEGAL_UNIT_TRANSITIONS[old]:
        move(svc, new, call_id)
        assert svc.state.units[UNIT].status == new
        assert svc.state.units[UNIT].version > before_version
        kinds = [s.event.type for s in svc.events_since(before_seq)]
        assert ("UnitAssigned" if new == U.DISPATCHED else "UnitStatusChanged") in kinds
    else:
        with pytest.raises((InvalidTransition, Conflict, ValidationError)):
            move(svc, new, call_id)
        assert svc.state.units[UNIT].status == old
        assert svc.state.units[UNIT].version == before_version
        assert svc.state.last_seq == before_seq


@pytest.mark.parametrize(("old", "new"), list(itertools.product(UnitStatus, UnitStatus)))
def test_apply_rejects_illegal_status_events(old: UnitStatus, new: UnitStatus) -> None:
    """The table is enforced where events are applied too (replay, the SQL projection)."""
    svc = at_status(old)
    unit = svc.state.units[UNIT]
    event = ev.UnitStatusChanged(
        at_s=1.0,
        actor="x",
        source=EventSource.CREW,
        unit_id=UNIT,
        from_status=old,
        to_status=new,
        call_id=unit.call_id,
    )
    legal = new in LEGAL_UNIT_TRANSITIONS[old] and new != U.DISPATCHED
    if legal:
        apply(svc.state, event)
        assert svc.state.units[UNIT].status == new
    else:
        with pytest.raises(InvalidTransition):
            apply(svc.state, event)
        assert svc.state.units[UNIT].status == old


@pytest.mark.parametrize(("old", "new"), list(itertools.product(CallStatus, CallStatus)))
def test_call_transition_table(old: CallStatus, new: CallStatus) -> None:
    if new in LEGAL_CALL_TRANSITIONS[old]:
        check_call_transition(old, new)
    else:
        with pytest.raises(InvalidTransition):
            check_call_transition(old, new)


def test_closed_and_cancelled_calls_are_final() -> None:
    svc = make_service()
    call_id = new_call(svc)
    svc.cancel_call(call_id, reason=CancelReason.HOAX, actor="d1")
    with pytest.raises(InvalidTransition):
        svc.cancel_call(call_id, reason=CancelReason.DUPLICATE, actor="d1")
    with pytest.raises(InvalidTransition):
        svc.update_call(call_id, actor="d1", notes="late note")
    with pytest.raises(Conflict):
        svc.assign(call_id, UNIT, actor="d1")
    assert svc.get_call(call_id).status == CallStatus.CANCELLED
    assert svc.get_call(call_id).cancel_reason == CancelReason.HOAX


def test_stale_from_status_is_rejected() -> None:
    svc = make_service()
    event = ev.UnitStatusChanged(
        at_s=1.0,
        actor="x",
        source=EventSource.CREW,
        unit_id=UNIT,
        from_status=U.AVAILABLE_ON_ROAD,
        to_status=U.AVAILABLE_AT_STATION,
    )
    with pytest.raises(InvalidTransition):
        apply(svc.state, event)
