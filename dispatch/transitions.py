"""The one chokepoint for every change: tables of legal transitions, `apply`, `emit`, `replay`.

`apply(state, event)` is the only code that mutates a `DispatchState`; it checks every unit and
call status change against `LEGAL_UNIT_TRANSITIONS` / `LEGAL_CALL_TRANSITIONS` and raises
`InvalidTransition` otherwise. Commands change state only through `emit`, which records the
versions the batch expects, applies the event and appends it to the batch. Replaying the
stored log through `apply` rebuilds the state exactly (no clock, no randomness in here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dispatch import events as ev
from dispatch.errors import Conflict, InvalidTransition, NotFound, RollbackImpossible
from dispatch.model import (
    DIVERTIBLE_STATUSES,
    Assignment,
    Call,
    CallStatus,
    DispatchState,
    Unit,
    UnitStatus,
)
from dispatch.undo import (
    SPECS,
    EventSpec,
    Undo,
    event_spec,
    note_versions,
    remember,
)

U = UnitStatus
C = CallStatus


LEGAL_UNIT_TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    U.OFF_DUTY: frozenset({U.AVAILABLE_AT_STATION, U.OUT_OF_SERVICE}),
    U.AVAILABLE_AT_STATION: frozenset(
        {U.DISPATCHED, U.AVAILABLE_ON_ROAD, U.OFF_DUTY, U.OUT_OF_SERVICE}
    ),
    U.AVAILABLE_ON_ROAD: frozenset(
        {U.DISPATCHED, U.AVAILABLE_AT_STATION, U.RETURNING, U.OUT_OF_SERVICE}
    ),
    U.DISPATCHED: frozenset(
        {U.EN_ROUTE, U.AVAILABLE_AT_STATION, U.AVAILABLE_ON_ROAD, U.RETURNING, U.OUT_OF_SERVICE}
    ),
    U.EN_ROUTE: frozenset({U.ON_SCENE, U.AVAILABLE_ON_ROAD, U.RETURNING, U.OUT_OF_SERVICE}),
    U.ON_SCENE: frozenset({U.TRANSPORTING, U.AVAILABLE_ON_ROAD, U.RETURNING}),
    U.TRANSPORTING: frozenset({U.AT_HOSPITAL}),
    U.AT_HOSPITAL: frozenset({U.RETURNING, U.AVAILABLE_ON_ROAD}),
    U.RETURNING: frozenset(
        {U.AVAILABLE_AT_STATION, U.AVAILABLE_ON_ROAD, U.DISPATCHED, U.OUT_OF_SERVICE}
    ),
    U.OUT_OF_SERVICE: frozenset({U.AVAILABLE_AT_STATION, U.OFF_DUTY}),
}

LEGAL_CALL_TRANSITIONS: dict[CallStatus, frozenset[CallStatus]] = {
    C.RECEIVED: frozenset({C.TRIAGED, C.CANCELLED}),
    C.TRIAGED: frozenset({C.QUEUED, C.ASSIGNED, C.CANCELLED}),
    C.QUEUED: frozenset({C.ASSIGNED, C.CANCELLED}),
    C.ASSIGNED: frozenset({C.ON_SCENE, C.QUEUED, C.CANCELLED}),
    C.ON_SCENE: frozenset({C.TRANSPORTING, C.CLOSED, C.CANCELLED}),
    C.TRANSPORTING: frozenset({C.AT_HOSPITAL}),
    C.AT_HOSPITAL: frozenset({C.CLOSED}),
    C.CLOSED: frozenset(),
    C.CANCELLED: frozenset(),
}

# Unit statuses that only make sense while serving a call.
_WITH_CALL = frozenset({U.DISPATCHED, U.EN_ROUTE, U.ON_SCENE, U.TRANSPORTING, U.AT_HOSPITAL})
# Unit status -> the call status it drives.
_CALL_FOLLOWS = {
    U.ON_SCENE: C.ON_SCENE,
    U.TRANSPORTING: C.TRANSPORTING,
    U.AT_HOSPITAL: C.AT_HOSPITAL,
}


@dataclass(slots=True, init=False)
class Batch:
    """Events of one command, not yet stored, the entity versions they were based on, and
    undo records of every entity they touched as it was before (to roll back if storing
    fails): `before[(kind, id)]` is None for an entity the batch created."""

    events: list[ev.Event] = field(default_factory=list)
    expected_versions: dict[str, int] = field(default_factory=dict)
    before: dict[tuple[str, str], Undo | None] = field(default_factory=dict)
    # False for a log with a single writer (the simulator's): no versions to check and no
    # undo records; a command that fails after emitting cannot be rolled back then.
    tracked: bool = True

    # Written out, one per command: see dispatch.events on why (`HAND_INIT`).
    def __init__(
        self,
        events: list[ev.Event] | None = None,
        expected_versions: dict[str, int] | None = None,
        before: dict[tuple[str, str], Undo | None] | None = None,
        tracked: bool = True,
    ) -> None:
        self.events = [] if events is None else events
        self.expected_versions = {} if expected_versions is None else expected_versions
        self.before = {} if before is None else before
        self.tracked = tracked


def emit(state: DispatchState, event: ev.Event, batch: Batch) -> ev.Event:
    """The chokepoint: check and apply `event` to `state`, then append it to `batch`."""
    spec = SPECS.get(type(event)) or event_spec(type(event))
    if batch.tracked:
        note_versions(state, event, spec, batch.expected_versions)
        remember(state, event, spec, batch.before)
    _apply(state, event, spec)
    batch.events.append(event)
    return event


def rollback(state: DispatchState, batch: Batch) -> None:
    """Undo a batch applied by `emit` whose events were not stored (an untracked batch that
    emitted anything cannot be undone: `RollbackImpossible`)."""
    if not batch.tracked and batch.events:
        raise RollbackImpossible(f"{len(batch.events)} applied events have no undo records")
    for (kind, ident), undo in batch.before.items():
        table: dict[str, Any] = state.units if kind == "unit" else state.calls
        if undo is None:
            table.pop(ident, None)
        else:
            table[ident] = undo.restore()
    batch.before.clear()


def replay(stored: Iterable[ev.StoredEvent], state: DispatchState | None = None) -> DispatchState:
    """Rebuild (or advance) state from stored events, in seq order."""
    state = state if state is not None else DispatchState()
    for item in stored:
        if item.seq <= state.last_seq:
            raise Conflict(f"event seq {item.seq} not after {state.last_seq}")
        apply(state, item.event)
        state.last_seq = item.seq
    return state


def check_unit_transition(old: UnitStatus, new: UnitStatus) -> None:
    """Raise InvalidTransition unless old -> new is in the table."""
    if new not in LEGAL_UNIT_TRANSITIONS[old]:
        raise InvalidTransition(f"unit status {old} -> {new} is not allowed")


def check_call_transition(old: CallStatus, new: CallStatus) -> None:
    """Raise InvalidTransition unless old -> new is in the table."""
    if new not in LEGAL_CALL_TRANSITIONS[old]:
        raise InvalidTransition(f"call status {old} -> {new} is not allowed")


def apply(state: DispatchState, event: ev.Event) -> None:
    """Apply one event to state (the only mutator). Raises before changing anything if illegal."""
    _apply(state, event, SPECS.get(type(event)) or event_spec(type(event)))


def _apply(state: DispatchState, event: ev.Event, spec: EventSpec) -> None:
    _HANDLERS[type(event)](state, event)
    for name in spec.unit_field:
        unit_id = getattr(event, name)
        if unit_id is not None:
            state.units[unit_id].version += 1
    for name in spec.call_field:
        call_id = getattr(event, name)
        if call_id is not None:
            state.calls[call_id].version += 1


def unit_of(state: DispatchState, unit_id: str) -> Unit:
    """The unit with this id, or NotFound."""
    try:
        return state.units[unit_id]
    except KeyError:
        raise NotFound(f"unknown unit {unit_id!r}") from None


def call_of(state: DispatchState, call_id: str) -> Call:
    """The call with this id, or NotFound."""
    try:
        return state.calls[call_id]
    except KeyError:
        raise NotFound(f"unknown call {call_id!r}") from None


def _on_unit_registered(state: DispatchState, e: ev.UnitRegistered) -> None:
    if e.unit_id in state.units:
        raise Conflict(f"unit {e.unit_id!r} already registered")
    if e.status in _WITH_CALL:
        raise InvalidTransition(f"a new unit cannot start as {e.status}")
    state.units[e.unit_id] = Unit(
        unit_id=e.unit_id,
        station_id=e.station_id,
        unit_type=e.unit_type,
        crew_size=e.crew_size,
        shift=e.shift,
        home=e.home,
        status=e.status,
        position=e.home,
        position_s=e.at_s,
    )


def _on_call_created(state: DispatchState, e: ev.CallCreated) -> None:
    if e.call_id in state.calls:
        raise Conflict(f"call {e.call_id!r} already exists")
    state.calls[e.call_id] = Call(
        call_id=e.call_id,
        received_s=e.at_s,
        caller_phone=e.caller_phone,
        address_text=e.address_text,
        pin=e.pin,
        complaint=e.complaint,
        priority=e.priority,
        notes=e.notes,
        caller_device_location=e.caller_device_location,
        citizen_id=e.citizen_id,
        status=C.TRIAGED if e.priority is not None else C.RECEIVED,
    )


def _on_call_updated(state: DispatchState, e: ev.CallUpdated) -> None:
    call = call_of(state, e.call_id)
    if not call.is_open:
        raise InvalidTransition(f"call {call.call_id} is {call.status}; it cannot change")
    if e.priority is not None and call.status == C.RECEIVED:
        check_call_transition(call.status, C.TRIAGED)
        call.status = C.TRIAGED
    for name in (
        "caller_phone",
        "address_text",
        "pin",
        "complaint",
        "priority",
        "notes",
        "caller_device_location",
        "citizen_id",
    ):
        value = getattr(e, name)
        if value is not None:
            setattr(call, name, value)


def _on_call_queued(state: DispatchState, e: ev.CallQueued) -> None:
    call = call_of(state, e.call_id)
    if call.unit_id is not None:
        raise InvalidTransition(f"call {call.call_id} still has unit {call.unit_id}")
    check_call_transition(call.status, C.QUEUED)
    call.status = C.QUEUED
    call.queued_s = e.at_s


def _on_unit_assigned(state: DispatchState, e: ev.UnitAssigned) -> None:
    unit, call = unit_of(state, e.unit_id), call_of(state, e.call_id)
    if unit.call_id is not None:
        raise Conflict(f"unit {unit.unit_id} already serves call {unit.call_id}")
    check_unit_transition(unit.status, U.DISPATCHED)
    check_call_transition(call.status, C.ASSIGNED)
    unit.status, unit.call_id, unit.hospital_id = U.DISPATCHED, call.call_id, None
    call.status, call.unit_id, call.queued_s = C.ASSIGNED, unit.unit_id, None
    call.assignments.append(Assignment(unit_id=unit.unit_id, dispatched_s=e.at_s))


def _on_unit_diverted(state: DispatchState, e: ev.UnitDiverted) -> None:
    unit = unit_of(state, e.unit_id)
    low, high = call_of(state, e.from_call_id), call_of(state, e.to_call_id)
    if unit.status not in DIVERTIBLE_STATUSES or unit.call_id != low.call_id:
        raise InvalidTransition(f"unit {unit.unit_id} is not driving to call {low.call_id}")
    check_call_transition(low.status, C.QUEUED)
    check_call_transition(high.status, C.ASSIGNED)
    old = low.current_assignment
    if old is not None:
        old.ended = "diverted"
    low.status, low.unit_id, low.queued_s = C.QUEUED, None, e.at_s
    unit.call_id = high.call_id
    high.status, high.unit_id, high.queued_s = C.ASSIGNED, unit.unit_id, None
    new = Assignment(unit_id=unit.unit_id, dispatched_s=e.at_s)
    if unit.status == U.EN_ROUTE:
        new.en_route_s = e.at_s
    high.assignments.append(new)


def _on_unit_status_changed(state: DispatchState, e: ev.UnitStatusChanged) -> None:
    unit = unit_of(state, e.unit_id)
    if unit.status != e.from_status:
        raise InvalidTransition(f"unit {unit.unit_id} is {unit.status}, not {e.from_status}")
    if e.to_status == U.DISPATCHED:
        raise InvalidTransition("a unit becomes dispatched only by UnitAssigned")
    check_unit_transition(unit.status, e.to_status)
    if e.to_status in _WITH_CALL and unit.call_id is None:
        raise InvalidTransition(f"unit {unit.unit_id} has no call to be {e.to_status} for")
    if e.call_id != unit.call_id:
        raise InvalidTransition(f"unit {unit.unit_id} serves {unit.call_id}, not {e.call_id}")
    call = state.calls[unit.call_id] if unit.call_id is not None else None
    if call is not None:
        asg = call.current_assignment
        if asg is None or asg.unit_id != unit.unit_id:
            raise InvalidTransition(f"call {call.call_id} has no active job for {unit.unit_id}")
    follow = _CALL_FOLLOWS.get(e.to_status)
    if call is not None and follow is not None and call.status != C.CANCELLED:
        check_call_transition(call.status, follow)
        call.status = follow
    unit.status = e.to_status
    if e.to_status == U.AVAILABLE_AT_STATION:
        unit.position, unit.position_s = unit.home, e.at_s
    if e.to_status == U.TRANSPORTING:
        unit.hospital_id = e.hospital_id or (call.hospital_id if call else None)
    if call is not None:
        _stamp(call, unit, e)


def _stamp(call: Call, unit: Unit, e: ev.UnitStatusChanged) -> None:
    """Record the milestone on the unit's assignment; detach the unit when it leaves the job."""
    asg = call.current_assignment
    assert asg is not None  # checked by the caller before any change
    t = e.device_at_s if e.device_at_s is not None else e.at_s
    to = e.to_status
    if to == U.EN_ROUTE:
        asg.en_route_s = t
        if asg.acknowledged_s is None:  # a crew driving off has the job: no timer after this
            asg.acknowledged_s = t
    elif to == U.ON_SCENE:
        asg.on_scene_s = t
    elif to == U.TRANSPORTING:
        asg.left_scene_s = t
    elif to == U.AT_HOSPITAL:
        asg.at_hospital_s = t
    else:  # available, returning, out of service: the unit leaves the job
        asg.clear_s = t
        if call.status == C.CANCELLED:
            asg.ended = "cancelled"
        elif asg.on_scene_s is not None:
            asg.ended = "completed"
        else:
            asg.ended = "stood_down"
        call.unit_id, unit.call_id, unit.hospital_id = None, None, None


def _on_hospital_chosen(state: DispatchState, e: ev.HospitalChosen) -> None:
    call = call_of(state, e.call_id)
    if not call.is_open:
        raise InvalidTransition(f"call {call.call_id} is {call.status}")
    transporting = call.unit_id is not None and state.units[call.unit_id].status == U.TRANSPORTING
    if e.unit_id != (call.unit_id if transporting else None):
        raise InvalidTransition(
            f"HospitalChosen for {call.call_id} must name its transporting unit"
        )
    call.hospital_id, call.hospital_overridden = e.hospital_id, e.overridden
    if e.unit_id is not None:
        state.units[e.unit_id].hospital_id = e.hospital_id


def _on_call_cancelled(state: DispatchState, e: ev.CallCancelled) -> None:
    call = call_of(state, e.call_id)
    check_call_transition(call.status, C.CANCELLED)
    call.status, call.cancel_reason, call.cancel_note = C.CANCELLED, e.reason, e.note
    call.closed_s, call.queued_s = e.at_s, None


def _on_call_closed(state: DispatchState, e: ev.CallClosed) -> None:
    call = call_of(state, e.call_id)
    if call.unit_id is not None:
        raise InvalidTransition(f"call {call.call_id} still has unit {call.unit_id}")
    check_call_transition(call.status, C.CLOSED)
    call.status, call.closed_s = C.CLOSED, e.at_s


def _on_position_reported(state: DispatchState, e: ev.PositionReported) -> None:
    unit = unit_of(state, e.unit_id)
    unit.position = e.position
    unit.position_s = e.device_at_s if e.device_at_s is not None else e.at_s


def _on_unit_acknowledged(state: DispatchState, e: ev.UnitAcknowledged) -> None:
    unit, call = unit_of(state, e.unit_id), call_of(state, e.call_id)
    asg = call.current_assignment
    if unit.status not in DIVERTIBLE_STATUSES or unit.call_id != call.call_id or asg is None:
        raise InvalidTransition(f"unit {unit.unit_id} is not driving to call {call.call_id}")
    if asg.unit_id != unit.unit_id:
        raise InvalidTransition(f"call {call.call_id} has no active job for {unit.unit_id}")
    if asg.acknowledged_s is not None:
        raise Conflict(f"unit {unit.unit_id} already acknowledged call {call.call_id}")
    asg.acknowledged_s = e.device_at_s if e.device_at_s is not None else e.at_s


def _on_unit_suggested(state: DispatchState, e: ev.UnitSuggested) -> None:
    unit_of(state, e.unit_id)
    call_of(state, e.call_id)


_HANDLERS: dict[type[ev.Event], Callable[[DispatchState, Any], None]] = {
    ev.UnitRegistered: _on_unit_registered,
    ev.CallCreated: _on_call_created,
    ev.CallUpdated: _on_call_updated,
    ev.CallQueued: _on_call_queued,
    ev.UnitAssigned: _on_unit_assigned,
    ev.UnitDiverted: _on_unit_diverted,
    ev.UnitStatusChanged: _on_unit_status_changed,
    ev.UnitAcknowledged: _on_unit_acknowledged,
    ev.HospitalChosen: _on_hospital_chosen,
    ev.CallCancelled: _on_call_cancelled,
    ev.CallClosed: _on_call_closed,
    ev.PositionReported: _on_position_reported,
    ev.UnitSuggested: _on_unit_suggested,
}
