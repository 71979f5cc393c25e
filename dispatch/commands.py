"""Commands (imperative): decide which events a request produces and emit them.

Each function checks the request against the state, then emits events through the one
chokepoint (`dispatch.transitions.emit`), which applies them and collects them in a `Batch`
for the repository. No clock, no I/O: the caller passes `Meta` (time, actor, source).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dispatch import events as ev
from dispatch.errors import Conflict, ValidationError
from dispatch.model import (
    CallStatus,
    CancelReason,
    DispatchState,
    EventSource,
    Point,
    Priority,
    UnitStatus,
    rebuilt_by_init,
)
from dispatch.policy import PolicyConfig, divertible_units, next_call_for
from dispatch.transitions import Batch, call_of, emit, unit_of
from stations.models import Station, UnitSpec

U = UnitStatus
MAX_DEVICE_AHEAD_S = 300.0  # device clocks may run this far ahead of the server
MAX_DEVICE_LAG_S = 7 * 86400.0  # an action synced later than this is refused


@dataclass(frozen=True, slots=True, init=False)
class Meta:
    """Who issues a command, from where, and when (server clock; device clock if any)."""

    at_s: float
    actor: str
    source: EventSource
    device_at_s: float | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return rebuilt_by_init(self)

    # Written out, one per command: see dispatch.events on why (`HAND_INIT`).
    def __init__(
        self, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None
    ) -> None:
        object.__setattr__(self, "at_s", at_s)
        object.__setattr__(self, "actor", actor)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "device_at_s", device_at_s)
        self.__post_init__()

    def __post_init__(self) -> None:
        if not self.actor:
            raise ValidationError("every change needs an actor", field="actor")
        if self.device_at_s is None:
            return
        # Offline crew devices sync late (hours), never from the future beyond clock skew.
        if not math.isfinite(self.device_at_s) or not (
            self.at_s - MAX_DEVICE_LAG_S <= self.device_at_s <= self.at_s + MAX_DEVICE_AHEAD_S
        ):
            raise ValidationError(
                f"device time {self.device_at_s!r} is impossible at server time {self.at_s}",
                field="device_at_s",
            )

    def fields(self) -> dict[str, Any]:
        return {
            "at_s": self.at_s,
            "actor": self.actor,
            "source": self.source,
            "device_at_s": self.device_at_s,
        }


def register_units(
    state: DispatchState,
    batch: Batch,
    meta: Meta,
    *,
    fleet: Iterable[UnitSpec],
    stations: Mapping[str, Station],
) -> None:
    """Register the fleet's units not yet known, available at their stations."""
    for spec in fleet:
        if spec.unit_id in state.units:
            continue
        station = stations.get(spec.station_id)
        if station is None:
            raise ValidationError(f"unit {spec.unit_id}: unknown station {spec.station_id}")
        event = ev.UnitRegistered(
            **meta.fields(),
            unit_id=spec.unit_id,
            station_id=spec.station_id,
            unit_type=spec.unit_type,
            crew_size=spec.crew_size,
            shift=spec.shift,
            home=station.point,
            status=U.AVAILABLE_AT_STATION,
        )
        emit(state, event, batch)


def create_call(
    state: DispatchState,
    batch: Batch,
    meta: Meta,
    *,
    call_id: str,
    caller_phone: str,
    address_text: str,
    pin: Point,
    complaint: str = "",
    priority: Priority | None = None,
    notes: str = "",
    caller_device_location: Point | None = None,
    citizen_id: str | None = None,
) -> None:
    """Take a call; a triaged call with no free unit anywhere goes straight to the queue."""
    if call_id in state.calls:
        raise Conflict(f"call {call_id!r} already exists")
    event = ev.CallCreated(
        **meta.fields(),
        call_id=call_id,
        caller_phone=caller_phone,
        address_text=address_text,
        pin=pin,
        complaint=complaint,
        priority=priority,
        notes=notes,
        caller_device_location=caller_device_location,
        citizen_id=citizen_id,
    )
    emit(state, event, batch)
    queue_if_no_unit(state, batch, meta, call_id)


def queue_if_no_unit(state: DispatchState, batch: Batch, meta: Meta, call_id: str) -> bool:
    """Queue a triaged call when no unit is free; returns whether it was queued."""
    call = call_of(state, call_id)
    if call.status != CallStatus.TRIAGED or state.free_units():
        return False
    emit(state, ev.CallQueued(**meta.fields(), call_id=call_id, reason="no_unit_free"), batch)
    return True


def update_call(
    state: DispatchState, batch: Batch, meta: Meta, *, call_id: str, changes: Mapping[str, Any]
) -> None:
    """Change call details (address, pin, priority, ...); unknown fields are a 422."""
    allowed = {f for f in ev.CallUpdated.__dataclass_fields__ if f not in _META_FIELDS}
    allowed.discard("call_id")
    for name in changes:
        if name not in allowed:
            raise ValidationError(f"cannot update {name!r}", field=name)
    call_of(state, call_id)
    emit(state, ev.CallUpdated(**meta.fields(), call_id=call_id, **dict(changes)), batch)
    queue_if_no_unit(state, batch, meta, call_id)


_META_FIELDS = frozenset({"at_s", "actor", "source", "device_at_s"})


def assign(
    state: DispatchState,
    batch: Batch,
    meta: Meta,
    *,
    call_id: str,
    unit_id: str,
    eta_s: float | None = None,
    config: PolicyConfig,
) -> None:
    """Send a unit to a call: a free unit is assigned; a unit driving to a lower call is
    diverted when the policy allows it; anything else is a Conflict (409)."""
    call, unit = call_of(state, call_id), unit_of(state, unit_id)
    if call.priority is None:
        raise ValidationError("triage the call (set a priority) before assigning", field="priority")
    if call.status not in (CallStatus.TRIAGED, CallStatus.QUEUED):
        raise Conflict(f"call {call_id} is {call.status}, it cannot take a unit")
    if unit.is_free:
        emit(
            state,
            ev.UnitAssigned(**meta.fields(), call_id=call_id, unit_id=unit_id, eta_s=eta_s),
            batch,
        )
        return
    if unit.unit_id in {u.unit_id for u in divertible_units(state, call, config)}:
        assert unit.call_id is not None
        event = ev.UnitDiverted(
            **meta.fields(),
            unit_id=unit_id,
            from_call_id=unit.call_id,
            to_call_id=call_id,
            eta_s=eta_s,
        )
        emit(state, event, batch)
        return
    raise Conflict(f"unit {unit_id} is {unit.status} (call {unit.call_id}); it is not free")


def change_unit_status(
    state: DispatchState,
    batch: Batch,
    meta: Meta,
    *,
    unit_id: str,
    to_status: UnitStatus,
    hospital_id: str | None = None,
) -> None:
    """Move a unit to `to_status` (legal transitions only), then settle its call: closed when
    the job is done, back in the queue when the unit was stood down before reaching it."""
    unit = unit_of(state, unit_id)
    if to_status == U.DISPATCHED:
        raise ValidationError("a unit is dispatched by assigning it to a call", field="status")
    call_id = unit.call_id
    event = ev.UnitStatusChanged(
        **meta.fields(),
        unit_id=unit_id,
        from_status=unit.status,
        to_status=to_status,
        call_id=call_id,
        hospital_id=hospital_id,
    )
    emit(state, event, batch)
    if call_id is None or unit.call_id is not None:
        return
    call = state.calls[call_id]
    if call.status in (CallStatus.ON_SCENE, CallStatus.AT_HOSPITAL):
        emit(state, ev.CallClosed(**meta.fields(), call_id=call_id), batch)
    elif call.status == CallStatus.ASSIGNED:
        emit(
            state, ev.CallQueued(**meta.fields(), call_id=call_id, reason="unit_stood_down"), batch
        )


def cancel_call(
    state: DispatchState,
    batch: Batch,
    meta: Meta,
    *,
    call_id: str,
    reason: CancelReason,
    note: str = "",
) -> str | None:
    """Cancel a call with a reason and stand its unit down; returns the freed unit id."""
    call = call_of(state, call_id)
    unit_id = call.unit_id
    emit(state, ev.CallCancelled(**meta.fields(), call_id=call_id, reason=reason, note=note), batch)
    if unit_id is None:
        return None
    unit = state.units[unit_id]
    if unit.status == U.DISPATCHED:
        target = U.AVAILABLE_AT_STATION if unit.position == unit.home else U.AVAILABLE_ON_ROAD
    else:
        target = U.RETURNING
    change_unit_status(state, batch, meta, unit_id=unit_id, to_status=target)
    return unit_id


def report_position(
    state: DispatchState,
    batch: Batch,
    meta: Meta,
    *,
    unit_id: str,
    position: Point,
    speed_kph: float | None = None,
    heading_deg: float | None = None,
) -> None:
    """Record an AVL fix."""
    unit_of(state, unit_id)
    event = ev.PositionReported(
        **meta.fields(),
        unit_id=unit_id,
        position=position,
        speed_kph=speed_kph,
        heading_deg=heading_deg,
    )
    emit(state, event, batch)


def choose_hospital(
    state: DispatchState,
    batch: Batch,
    meta: Meta,
    *,
    call_id: str,
    hospital_id: str,
    overridden: bool,
    eta_s: float | None,
) -> None:
    """Set the call's destination hospital (and its transporting unit's, if any)."""
    call = call_of(state, call_id)
    unit_id = call.unit_id
    if unit_id is not None and state.units[unit_id].status != U.TRANSPORTING:
        unit_id = None
    event = ev.HospitalChosen(
        **meta.fields(),
        call_id=call_id,
        hospital_id=hospital_id,
        overridden=overridden,
        eta_s=eta_s,
        unit_id=unit_id,
    )
    emit(state, event, batch)


def suggest_for_free_unit(
    state: DispatchState, batch: Batch, meta: Meta, *, unit_id: str, eta_s: float | None = None
) -> str | None:
    """If the unit is free and calls wait, suggest the oldest most urgent one to it."""
    unit = unit_of(state, unit_id)
    call = next_call_for(state)
    if not unit.is_free or call is None:
        return None
    emit(
        state,
        ev.UnitSuggested(**meta.fields(), unit_id=unit_id, call_id=call.call_id, eta_s=eta_s),
        batch,
    )
    return call.call_id


def acknowledge(state: DispatchState, batch: Batch, meta: Meta, *, unit_id: str) -> str | None:
    """The crew confirms its job: emits `UnitAcknowledged` and returns the call id, or None
    (nothing emitted) when no unacknowledged job is waiting: a device resending an action it
    queued offline must not fail."""
    unit = unit_of(state, unit_id)
    call = state.calls.get(unit.call_id) if unit.call_id is not None else None
    asg = call.current_assignment if call is not None else None
    if (
        call is None
        or unit.status not in (U.DISPATCHED, U.EN_ROUTE)
        or asg is None
        or asg.unit_id != unit_id
        or asg.acknowledged_s is not None
    ):
        return None
    emit(state, ev.UnitAcknowledged(**meta.fields(), unit_id=unit_id, call_id=call.call_id), batch)
    return call.call_id
