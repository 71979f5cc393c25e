"""A seeded driver of legal domain commands, for the persistence tests (not a test module).

`next_batch` picks one plausible dispatch step from the current state (a call comes in, a
free unit is sent, a crew moves its job on, a unit reports its position) and emits it
through the domain's chokepoint, so every batch it yields is legal for the state given.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from typing import TypedDict

from dispatch import events as ev
from dispatch import transitions
from dispatch.db.codec import to_doc
from dispatch.model import (
    CallStatus,
    DispatchState,
    EventSource,
    Point,
    Priority,
    UnitStatus,
    UnitType,
)

U = UnitStatus
HOME = Point(105.8412, 21.0245)  # near Hoàn Kiếm lake
NEXT_STATUS = {
    U.DISPATCHED: U.EN_ROUTE,
    U.EN_ROUTE: U.ON_SCENE,
    U.ON_SCENE: U.TRANSPORTING,
    U.TRANSPORTING: U.AT_HOSPITAL,
    U.AT_HOSPITAL: U.RETURNING,
    U.RETURNING: U.AVAILABLE_AT_STATION,
}


class Meta(TypedDict):
    """Who, from where and when: the fields every event carries."""

    at_s: float
    actor: str
    source: EventSource


def register_units(count: int, *, at_s: float = 1_700_000_000.0) -> transitions.Batch:
    """A batch registering `count` ambulances at one station (applied to a scratch state)."""
    batch = transitions.Batch()
    state = DispatchState()
    for i in range(count):
        event = ev.UnitRegistered(
            at_s=at_s,
            actor="system",
            source=EventSource.SYSTEM,
            unit_id=f"U{i:02d}",
            station_id="S1",
            unit_type=UnitType.AMBULANCE,
            crew_size=3,
            shift="day",
            home=HOME,
            status=U.AVAILABLE_AT_STATION,
        )
        transitions.emit(state, event, batch)
    return batch


def call_created(call_id: str, lon: float, lat: float, at_s: float) -> ev.CallCreated:
    """A triaged P2 call at (lon, lat)."""
    return ev.CallCreated(
        at_s=at_s,
        actor="dispatcher-1",
        source=EventSource.DISPATCHER,
        call_id=call_id,
        caller_phone="0900000000",
        address_text="test address",
        pin=Point(lon, lat),
        complaint="chest pain",
        priority=Priority.P2,
    )


def next_batch(state: DispatchState, rng: random.Random, at_s: float) -> transitions.Batch:
    """One legal step for `state` (which is left untouched: the step runs on a copy)."""
    work = copy.deepcopy(state)
    batch = transitions.Batch()
    meta = Meta(at_s=at_s, actor="driver", source=EventSource.DISPATCHER)
    waiting = sorted(c.call_id for c in work.waiting_calls())
    free = sorted(u.unit_id for u in work.free_units() if u.status != U.RETURNING)
    busy = sorted(u.unit_id for u in work.units.values() if u.status in NEXT_STATUS)
    roll = rng.random()
    if waiting and free and roll < 0.5:
        event: ev.Event = ev.UnitAssigned(**meta, call_id=waiting[0], unit_id=rng.choice(free))
    elif busy and roll < 0.8:
        unit = work.units[rng.choice(busy)]
        to = NEXT_STATUS[unit.status]
        event = ev.UnitStatusChanged(
            **meta, unit_id=unit.unit_id, from_status=unit.status, to_status=to,
            call_id=unit.call_id, hospital_id="H1" if to == U.TRANSPORTING else None,
        )  # fmt: skip
    elif roll < 0.9 or not work.units:
        call_id = f"C{len(work.calls) + 1:05d}"
        lon, lat = 105.80 + rng.random() * 0.08, 20.98 + rng.random() * 0.07
        event = call_created(call_id, lon, lat, at_s)
    else:
        unit_id = rng.choice(sorted(work.units))
        here = Point(105.80 + rng.random() * 0.08, 20.98 + rng.random() * 0.07)
        avl = Meta(at_s=at_s, actor="driver", source=EventSource.AVL)
        event = ev.PositionReported(**avl, unit_id=unit_id, position=here)
    transitions.emit(work, event, batch)
    _close_finished(work, batch, meta)
    return batch


def _close_finished(work: DispatchState, batch: transitions.Batch, meta: Meta) -> None:
    for call in sorted(work.calls.values(), key=lambda c: c.call_id):
        if call.status == CallStatus.AT_HOSPITAL and call.unit_id is None:
            transitions.emit(work, ev.CallClosed(**meta, call_id=call.call_id), batch)


def digest(state: DispatchState) -> str:
    """A hash of the whole state (units, calls, last seq): equal states, equal digests."""
    doc = {
        "last_seq": state.last_seq,
        "units": {k: to_doc(v) for k, v in sorted(state.units.items())},
        "calls": {k: to_doc(v) for k, v in sorted(state.calls.items())},
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
