"""The dispatch domain: calls, units, their statuses, and the live state rebuilt from events.

Pure Python (standard library only). State objects are mutated only by
`dispatch.transitions.apply`, which checks the tables of legal transitions; everything else
reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class Priority(StrEnum):
    """Clinical priority set at triage: P1 is life-threatening, P4 the least urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """1 for P1 .. 4 for P4 (smaller is more urgent)."""
        return int(self.value[1])


class CallStatus(StrEnum):
    """Lifecycle of a call (see `dispatch.transitions.LEGAL_CALL_TRANSITIONS`)."""

    RECEIVED = "received"
    TRIAGED = "triaged"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CancelReason(StrEnum):
    """Why a call was cancelled."""

    HOAX = "hoax"
    DUPLICATE = "duplicate"
    NO_PATIENT = "no_patient"
    BAD_ADDRESS = "bad_address"
    OTHER = "other"


class UnitStatus(StrEnum):
    """Status of a unit (see `dispatch.transitions.LEGAL_UNIT_TRANSITIONS`)."""

    OFF_DUTY = "off_duty"
    AVAILABLE_AT_STATION = "available_at_station"
    AVAILABLE_ON_ROAD = "available_on_road"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    RETURNING = "returning"
    OUT_OF_SERVICE = "out_of_service"


# Statuses in which a unit is free to take a new call. A returning unit is empty and on the
# road, so it can be sent from where it is.
FREE_STATUSES: frozenset[UnitStatus] = frozenset(
    {UnitStatus.AVAILABLE_AT_STATION, UnitStatus.AVAILABLE_ON_ROAD, UnitStatus.RETURNING}
)
# Statuses in which a unit is driving to a call and could be diverted to a more urgent one.
DIVERTIBLE_STATUSES: frozenset[UnitStatus] = frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE})
OPEN_CALL_STATUSES: frozenset[CallStatus] = frozenset(
    {
        CallStatus.RECEIVED,
        CallStatus.TRIAGED,
        CallStatus.QUEUED,
        CallStatus.ASSIGNED,
        CallStatus.ON_SCENE,
        CallStatus.TRANSPORTING,
        CallStatus.AT_HOSPITAL,
    }
)
WAITING_CALL_STATUSES: frozenset[CallStatus] = frozenset({CallStatus.TRIAGED, CallStatus.QUEUED})


class UnitType(StrEnum):
    """Kind of vehicle: an ambulance, or a motorbike first responder for alleys (ngõ)."""

    AMBULANCE = "ambulance"
    MOTORBIKE = "motorbike"


class EventSource(StrEnum):
    """Where a change came from."""

    DISPATCHER = "dispatcher"
    CREW = "crew"
    AVL = "avl"
    SYSTEM = "system"
    SIMULATOR = "simulator"


def rebuilt_by_init(obj: Any) -> tuple[Any, ...]:
    """`__reduce__` of a dataclass that writes its `__init__` out: copies and pickles call that
    `__init__` with every field. Compiled (dispatch.native), its `__init__` is also what making
    a bare object runs, so the default protocol (make bare, then fill in) cannot be used."""
    return (type(obj), tuple(getattr(obj, f.name) for f in fields(obj)))


@dataclass(frozen=True, slots=True, init=False)
class Point:
    """A WGS84 position, GeoJSON order."""

    lon: float
    lat: float

    # Written out, built per fix and per pin: see dispatch.events on why (`HAND_INIT`).
    def __init__(
        self, lon: float, lat: float,
    ) -> None:  # fmt: skip
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "lat", lat)

    # Immutable: copies are the point itself. Explicit, because the generated slot state
    # writes through the frozen `__setattr__` when the class is compiled (mypyc).
    def __copy__(self) -> Point:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Point:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Point, (self.lon, self.lat))


@dataclass(slots=True, init=False)
class Assignment:
    """One unit's part in one call; kept forever, even when the unit is diverted away."""

    unit_id: str
    dispatched_s: float
    acknowledged_s: float | None = None  # the crew confirmed the job (device time if sent)
    en_route_s: float | None = None
    on_scene_s: float | None = None
    left_scene_s: float | None = None
    at_hospital_s: float | None = None
    clear_s: float | None = None  # unit free again (handover done, or stood down)
    ended: str | None = None  # None while active; "completed", "diverted", "stood_down", ...

    def __reduce__(self) -> tuple[Any, ...]:
        return rebuilt_by_init(self)

    # Written out, built per call: see dispatch.events on why (`HAND_INIT`).
    def __init__(
        self, unit_id: str, dispatched_s: float, acknowledged_s: float | None = None,
        en_route_s: float | None = None, on_scene_s: float | None = None,
        left_scene_s: float | None = None, at_hospital_s: float | None = None,
        clear_s: float | None = None, ended: str | None = None,
    ) -> None:  # fmt: skip
        self.unit_id = unit_id
        self.dispatched_s = dispatched_s
        self.acknowledged_s = acknowledged_s
        self.en_route_s = en_route_s
        self.on_scene_s = on_scene_s
        self.left_scene_s = left_scene_s
        self.at_hospital_s = at_hospital_s
        self.clear_s = clear_s
        self.ended = ended


@dataclass(slots=True, init=False)
class Call:
    """An emergency call. The pin is authoritative; the caller's device location is only shown."""

    call_id: str
    received_s: float
    caller_phone: str
    address_text: str
    pin: Point
    complaint: str = ""
    priority: Priority | None = None
    notes: str = ""
    caller_device_location: Point | None = None  # shown to the dispatcher, never applied
    citizen_id: str | None = None  # personal data: show only to roles that need it
    status: CallStatus = CallStatus.RECEIVED
    queued_s: float | None = None  # when it (last) started waiting for a unit
    unit_id: str | None = None  # the unit serving it now
    hospital_id: str | None = None
    hospital_overridden: bool = False
    cancel_reason: CancelReason | None = None
    cancel_note: str = ""
    closed_s: float | None = None
    assignments: list[Assignment] = field(default_factory=list)
    version: int = 0  # events applied that touch this call (optimistic concurrency)

    def __reduce__(self) -> tuple[Any, ...]:
        return rebuilt_by_init(self)

    # Written out, built per call: see dispatch.events on why (`HAND_INIT`).
    def __init__(
        self, call_id: str, received_s: float, caller_phone: str, address_text: str, pin: Point,
        complaint: str = "", priority: Priority | None = None, notes: str = "",
        caller_device_location: Point | None = None, citizen_id: str | None = None,
        status: CallStatus = CallStatus.RECEIVED, queued_s: float | None = None,
        unit_id: str | None = None, hospital_id: str | None = None,
        hospital_overridden: bool = False, cancel_reason: CancelReason | None = None,
        cancel_note: str = "", closed_s: float | None = None,
        assignments: list[Assignment] | None = None, version: int = 0,
    ) -> None:  # fmt: skip
        self.call_id = call_id
        self.received_s = received_s
        self.caller_phone = caller_phone
        self.address_text = address_text
        self.pin = pin
        self.complaint = complaint
        self.priority = priority
        self.notes = notes
        self.caller_device_location = caller_device_location
        self.citizen_id = citizen_id
        self.status = status
        self.queued_s = queued_s
        self.unit_id = unit_id
        self.hospital_id = hospital_id
        self.hospital_overridden = hospital_overridden
        self.cancel_reason = cancel_reason
        self.cancel_note = cancel_note
        self.closed_s = closed_s
        self.assignments = list() if assignments is None else assignments
        self.version = version

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CALL_STATUSES

    @property
    def current_assignment(self) -> Assignment | None:
        """The assignment of the unit serving the call now, if any."""
        if self.assignments and self.assignments[-1].ended is None:
            return self.assignments[-1]
        return None


@dataclass(slots=True)
class Unit:
    """A crewed vehicle and its live status and position."""

    unit_id: str
    station_id: str
    unit_type: UnitType
    crew_size: int
    shift: str
    home: Point  # the station's position
    status: UnitStatus
    position: Point
    position_s: float
    call_id: str | None = None
    hospital_id: str | None = None
    version: int = 0  # events applied that touch this unit (optimistic concurrency)

    @property
    def is_free(self) -> bool:
        return self.status in FREE_STATUSES


@dataclass(slots=True)
class DispatchState:
    """Everything live dispatch knows, rebuilt exactly by replaying the event log."""

    units: dict[str, Unit] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    last_seq: int = 0

    def waiting_calls(self) -> list[Call]:
        """Open calls with a priority and no unit, in no particular order."""
        return [c for c in self.calls.values() if c.status in WAITING_CALL_STATUSES]

    def free_units(self) -> list[Unit]:
        return [u for u in self.units.values() if u.is_free]
