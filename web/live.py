"""Turning the dispatch core's events and state into protocol messages (JSON, GeoJSON points).

Also keeps the acknowledgement timers: a unit sent to a call is "awaiting acknowledgement"
from its assignment until its crew acknowledges (a `UnitAcknowledged` event in the log) or
moves on to en route; the timers are a view of the live state, so a restart rebuilds them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from dispatch import events as ev
from dispatch.model import DIVERTIBLE_STATUSES, DispatchState, Point
from web import protocol

POINT_FIELDS = frozenset({"pin", "caller_device_location", "home", "position"})
# Personal data never leaves the server on the websocket (REST shows it to dispatchers).
PRIVATE_FIELDS = frozenset({"citizen_id", "caller_phone"})
KIND_OF = {"PositionReported": "unit_position"}
POINT_KEYS = ("pin", "caller_device_location", "home", "position", "origin")


def kind_of(event_type: str) -> str:
    """`UnitStatusChanged` -> `unit_status_changed` (positions are `unit_position`)."""
    return KIND_OF.get(event_type) or re.sub(r"(?<!^)(?=[A-Z])", "_", event_type).lower()


def geo(point: Point | None) -> dict[str, Any] | None:
    """A domain point as a GeoJSON Point."""
    return None if point is None else {"type": "Point", "coordinates": [point.lon, point.lat]}


def geojsonify(item: dict[str, Any]) -> dict[str, Any]:
    """Turn `[lon, lat]` point lists of a core view into GeoJSON Points (in place)."""
    for key in POINT_KEYS:
        value = item.get(key)
        if isinstance(value, list) and len(value) == 2:
            item[key] = {"type": "Point", "coordinates": value}
    return item


def event_data(event: ev.Event) -> dict[str, Any]:
    """The event's fields as JSON: points as GeoJSON, personal data removed."""
    data = event.to_dict()
    for key in POINT_FIELDS & data.keys():
        value = data[key]
        if value is not None:
            data[key] = {"type": "Point", "coordinates": [value[0], value[1]]}
    for key in PRIVATE_FIELDS & data.keys():
        del data[key]
    return data


def event_message(stored: ev.StoredEvent) -> dict[str, Any]:
    """A stored event as a protocol `event` message."""
    event = stored.event
    unit_id = getattr(event, "unit_id", None)
    return protocol.event(
        seq=stored.seq,
        kind=kind_of(event.type),
        at_s=event.at_s,
        data=event_data(event),
        unit_id=unit_id if isinstance(unit_id, str) else None,
    )


class AckTracker:
    """Units awaiting their crew's acknowledgement, derived from the live state (so from the
    event log): a unit driving to a call (dispatched, or en route and diverted) whose current
    assignment has no `acknowledged_s` (set by `UnitAcknowledged`, or by going en route)."""

    def __init__(self) -> None:
        self._pending: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def observe(self, stored: Sequence[ev.StoredEvent], state: DispatchState) -> None:
        """After a commit (state already includes it): refresh the units its events name."""
        unit_ids = {u for item in stored for u in _units_named(item.event, state)}
        with self._lock:
            for unit_id in unit_ids:
                self._refresh(state, unit_id)

    def pending(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._pending.items()}

    def rebuild(self, state: DispatchState) -> None:
        """After a restart: the timers as the replayed log leaves them."""
        with self._lock:
            self._pending.clear()
            for unit_id in state.units:
                self._refresh(state, unit_id)

    def _refresh(self, state: DispatchState, unit_id: str) -> None:
        awaiting = awaiting_ack(state, unit_id)
        if awaiting is None:
            self._pending.pop(unit_id, None)
        else:
            self._pending[unit_id] = awaiting


def awaiting_ack(state: DispatchState, unit_id: str) -> dict[str, Any] | None:
    """`{call_id, assigned_s}` if the unit awaits its crew's acknowledgement, else None."""
    unit = state.units.get(unit_id)
    if unit is None or unit.status not in DIVERTIBLE_STATUSES or unit.call_id is None:
        return None
    call = state.calls.get(unit.call_id)
    asg = call.current_assignment if call is not None else None
    if asg is None or asg.unit_id != unit_id or asg.acknowledged_s is not None:
        return None
    return {"call_id": unit.call_id, "assigned_s": asg.dispatched_s}


def _units_named(event: ev.Event, state: DispatchState) -> list[str]:
    """Units an event may start or stop a timer for (a call's unit too: a call cancelled)."""
    named = [u for u in (getattr(event, "unit_id", None),) if isinstance(u, str)]
    for call_id in event.call_ids():
        call = state.calls.get(call_id)
        if call is not None and call.current_assignment is not None:
            named.append(call.current_assignment.unit_id)
    return named
