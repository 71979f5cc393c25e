"""Domain events (past tense): the append-only record from which all dispatch state is rebuilt.

Every event carries server time `at_s`, the device's own time `device_at_s` (crew tablets
stamp actions when they happen, not when they sync), the `actor` and the `source`. Events
serialise to plain JSON dicts (`to_dict`) and back (`event_from_dict`) exactly: floats are
kept as floats, enums as their values, points as `[lon, lat]`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dispatch.errors import ValidationError
from dispatch.hints import field_hints
from dispatch.model import CancelReason, EventSource, Point, Priority, UnitStatus, UnitType

# Every event class (and StoredEvent) writes its `__init__` out (dataclass `init=False`): they
# are built millions of times a simulated year, and compiled (dispatch.native) a written-out
# `__init__` is native code while the one `dataclasses` generates stays interpreted, several
# times slower. Each takes exactly the parameters the dataclass would generate (checked against
# the fields by tests/dispatch/test_native.py); `object.__setattr__` because they are frozen.


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """Base of all events: who did it, from where, when (server and device clocks)."""

    at_s: float
    actor: str
    source: EventSource
    device_at_s: float | None = None

    # Immutable: copies are the event itself; pickled by its fields (the generated slot
    # state writes through the frozen `__setattr__` when the class is compiled by mypyc).
    def __copy__(self) -> Event:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Event:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return (_construct, (type(self), values))

    def _init_event(
        self, at_s: float, actor: str, source: EventSource, device_at_s: float | None
    ) -> None:
        """The fields every event has, for the subclasses' written-out `__init__`s."""
        object.__setattr__(self, "at_s", at_s)
        object.__setattr__(self, "actor", actor)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "device_at_s", device_at_s)

    @property
    def type(self) -> str:
        return type(self).__name__

    def unit_ids(self) -> tuple[str, ...]:
        """Units this event changes (their version increments by one)."""
        names = ENTITY_FIELDS[type(self)][0]
        return tuple(v for v in (getattr(self, f) for f in names) if v is not None)

    def call_ids(self) -> tuple[str, ...]:
        """Calls this event changes (their version increments by one)."""
        names = ENTITY_FIELDS[type(self)][1]
        return tuple(v for v in (getattr(self, f) for f in names) if v is not None)

    def entity_keys(self) -> tuple[str, ...]:
        """Keys for optimistic concurrency: `unit:<id>` and `call:<id>`."""
        return tuple(f"unit:{u}" for u in self.unit_ids()) + tuple(
            f"call:{c}" for c in self.call_ids()
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with a `type` key."""
        out: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            out[f.name] = _dump(getattr(self, f.name))
        return out


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class UnitRegistered(Event):
    """A unit joined the fleet (from the fleet data) at its home station."""

    unit_id: str
    station_id: str
    unit_type: UnitType
    crew_size: int
    shift: str
    home: Point
    status: UnitStatus

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        unit_id: str, station_id: str, unit_type: UnitType, crew_size: int, shift: str,
        home: Point, status: UnitStatus,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "station_id", station_id)
        object.__setattr__(self, "unit_type", unit_type)
        object.__setattr__(self, "crew_size", crew_size)
        object.__setattr__(self, "shift", shift)
        object.__setattr__(self, "home", home)
        object.__setattr__(self, "status", status)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class CallCreated(Event):
    """A call was taken. With a priority it is triaged at once."""

    call_id: str
    caller_phone: str
    address_text: str
    pin: Point
    complaint: str = ""
    priority: Priority | None = None
    notes: str = ""
    caller_device_location: Point | None = None
    citizen_id: str | None = None

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        call_id: str, caller_phone: str, address_text: str, pin: Point, complaint: str = "",
        priority: Priority | None = None, notes: str = "",
        caller_device_location: Point | None = None, citizen_id: str | None = None,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "caller_phone", caller_phone)
        object.__setattr__(self, "address_text", address_text)
        object.__setattr__(self, "pin", pin)
        object.__setattr__(self, "complaint", complaint)
        object.__setattr__(self, "priority", priority)
        object.__setattr__(self, "notes", notes)
        object.__setattr__(self, "caller_device_location", caller_device_location)
        object.__setattr__(self, "citizen_id", citizen_id)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class CallUpdated(Event):
    """Call details changed; fields left `None` are unchanged. Setting a priority triages."""

    call_id: str
    caller_phone: str | None = None
    address_text: str | None = None
    pin: Point | None = None
    complaint: str | None = None
    priority: Priority | None = None
    notes: str | None = None
    caller_device_location: Point | None = None
    citizen_id: str | None = None

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        call_id: str, caller_phone: str | None = None, address_text: str | None = None,
        pin: Point | None = None, complaint: str | None = None, priority: Priority | None = None,
        notes: str | None = None, caller_device_location: Point | None = None,
        citizen_id: str | None = None,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "caller_phone", caller_phone)
        object.__setattr__(self, "address_text", address_text)
        object.__setattr__(self, "pin", pin)
        object.__setattr__(self, "complaint", complaint)
        object.__setattr__(self, "priority", priority)
        object.__setattr__(self, "notes", notes)
        object.__setattr__(self, "caller_device_location", caller_device_location)
        object.__setattr__(self, "citizen_id", citizen_id)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class CallQueued(Event):
    """No unit was free (or its unit was diverted/stood down): the call waits."""

    call_id: str
    reason: str = "no_unit_free"

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        call_id: str, reason: str = "no_unit_free",
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "reason", reason)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class UnitAssigned(Event):
    """A unit was sent to a call (unit: dispatched; call: assigned)."""

    call_id: str
    unit_id: str
    eta_s: float | None = None

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        call_id: str, unit_id: str, eta_s: float | None = None,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "eta_s", eta_s)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class UnitDiverted(Event):
    """A unit driving to `from_call_id` was sent to the more urgent `to_call_id` instead.

    The unit keeps its status (dispatched or en route); the lower call goes back to the queue
    (status queued) in the same event; its assignment is kept in its history as "diverted".
    """

    unit_id: str
    from_call_id: str
    to_call_id: str
    eta_s: float | None = None

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        unit_id: str, from_call_id: str, to_call_id: str, eta_s: float | None = None,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "from_call_id", from_call_id)
        object.__setattr__(self, "to_call_id", to_call_id)
        object.__setattr__(self, "eta_s", eta_s)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class UnitAcknowledged(Event):
    """The crew of a unit sent to a call confirmed it has the job (stops the dispatcher's
    acknowledgement timer). Recorded on the call's current assignment; the unit's status
    does not change, so only the call's version moves."""

    unit_id: str
    call_id: str

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        unit_id: str, call_id: str,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "call_id", call_id)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class UnitStatusChanged(Event):
    """A unit's status changed; the call it serves follows (on scene, transporting, ...)."""

    unit_id: str
    from_status: UnitStatus
    to_status: UnitStatus
    call_id: str | None = None
    hospital_id: str | None = None

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        unit_id: str, from_status: UnitStatus, to_status: UnitStatus,
        call_id: str | None = None, hospital_id: str | None = None,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "from_status", from_status)
        object.__setattr__(self, "to_status", to_status)
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "hospital_id", hospital_id)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class HospitalChosen(Event):
    """The destination hospital of a call was chosen (nearest by ETA, or overridden).

    `unit_id` is set when the call's unit is already transporting (its destination changes).
    """

    call_id: str
    hospital_id: str
    overridden: bool = False
    eta_s: float | None = None
    unit_id: str | None = None

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        call_id: str, hospital_id: str, overridden: bool = False, eta_s: float | None = None,
        unit_id: str | None = None,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "hospital_id", hospital_id)
        object.__setattr__(self, "overridden", overridden)
        object.__setattr__(self, "eta_s", eta_s)
        object.__setattr__(self, "unit_id", unit_id)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class CallCancelled(Event):
    """A call was cancelled with a reason; its unit, if any, is stood down separately."""

    call_id: str
    reason: CancelReason
    note: str = ""

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        call_id: str, reason: CancelReason, note: str = "",
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "note", note)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class CallClosed(Event):
    """The job is done: the patient was handed over or treated on scene."""

    call_id: str

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        call_id: str,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "call_id", call_id)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class PositionReported(Event):
    """An AVL fix from a unit's device."""

    unit_id: str
    position: Point
    speed_kph: float | None = None
    heading_deg: float | None = None

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        unit_id: str, position: Point, speed_kph: float | None = None,
        heading_deg: float | None = None,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "speed_kph", speed_kph)
        object.__setattr__(self, "heading_deg", heading_deg)


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
class UnitSuggested(Event):
    """A unit became free while calls wait: the oldest most urgent call is suggested to it."""

    unit_id: str
    call_id: str
    eta_s: float | None = None

    def __init__(
        self, *, at_s: float, actor: str, source: EventSource, device_at_s: float | None = None,
        unit_id: str, call_id: str, eta_s: float | None = None,
    ) -> None:  # fmt: skip
        self._init_event(at_s, actor, source, device_at_s)
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "call_id", call_id)
        object.__setattr__(self, "eta_s", eta_s)


@dataclass(frozen=True, slots=True, init=False)
class StoredEvent:
    """An event as stored in the log, with its global sequence number (1, 2, ...)."""

    seq: int
    event: Event

    def __init__(self, seq: int, event: Event) -> None:
        object.__setattr__(self, "seq", seq)
        object.__setattr__(self, "event", event)

    def __copy__(self) -> StoredEvent:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredEvent:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (StoredEvent, (self.seq, self.event))

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, **self.event.to_dict()}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> StoredEvent:
        body = {k: v for k, v in data.items() if k != "seq"}
        return StoredEvent(seq=int(data["seq"]), event=event_from_dict(body))


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        UnitRegistered,
        CallCreated,
        CallUpdated,
        CallQueued,
        UnitAssigned,
        UnitDiverted,
        UnitAcknowledged,
        UnitStatusChanged,
        HospitalChosen,
        CallCancelled,
        CallClosed,
        PositionReported,
        UnitSuggested,
    )
}
# Per event class: the fields naming the units and the calls it changes (their versions).
ENTITY_FIELDS: dict[type[Event], tuple[tuple[str, ...], tuple[str, ...]]] = {
    UnitRegistered: (("unit_id",), ()),
    CallCreated: ((), ("call_id",)),
    CallUpdated: ((), ("call_id",)),
    CallQueued: ((), ("call_id",)),
    UnitAssigned: (("unit_id",), ("call_id",)),
    UnitDiverted: (("unit_id",), ("from_call_id", "to_call_id")),
    UnitAcknowledged: ((), ("call_id",)),
    UnitStatusChanged: (("unit_id",), ("call_id",)),
    HospitalChosen: (("unit_id",), ("call_id",)),
    CallCancelled: ((), ("call_id",)),
    CallClosed: ((), ("call_id",)),
    PositionReported: (("unit_id",), ()),
    UnitSuggested: ((), ()),
}
HAND_INIT: tuple[str, ...] = (*EVENT_TYPES, "StoredEvent")  # their `__init__` written out


def _construct(cls: type[Event], values: dict[str, Any]) -> Event:
    return cls(**values)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from `Event.to_dict()` output; raises ValidationError if malformed."""
    try:
        cls = EVENT_TYPES[data["type"]]
    except KeyError as exc:
        raise ValidationError(f"unknown event type: {data.get('type')!r}") from exc
    hints = field_hints(cls)
    kwargs: dict[str, Any] = {}
    try:
        for f in dataclasses.fields(cls):
            if f.name in data:
                kwargs[f.name] = _load(hints[f.name], data[f.name])
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"malformed {data['type']}: {exc}") from exc


def _dump(value: Any) -> Any:
    if isinstance(value, Point):
        return [value.lon, value.lat]
    if isinstance(value, StrEnum):
        return value.value
    return value


def _load(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(hint, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _load(inner, value)
    if hint is Point:
        lon, lat = value
        return Point(float(lon), float(lat))
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        return float(value)
    wire = {bool: bool, int: int}.get(hint, str)  # enums and str travel as strings
    if not isinstance(value, wire) or (wire is int and isinstance(value, bool)):
        raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
    return hint(value)
