"""Request bodies of the REST API (pydantic): GeoJSON geometry in lon, lat order, bounded fields.

Anything malformed fails here with a 422 that names the field and the reason, before the
dispatch core sees it.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dispatch.model import CancelReason, Point, Priority, UnitStatus

Lon = Annotated[float, Field(ge=-180.0, le=180.0, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90.0, le=90.0, allow_inf_nan=False)]
EARLIEST_S = 1_500_000_000.0  # 2017-07-14: no device action of this system predates it
MAX_FUTURE_S = 300.0  # device clocks may run ahead a little, not more


class Strict(BaseModel):
    """Unknown fields are refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GeoPoint(Strict):
    """A GeoJSON Point: `coordinates` is `[lon, lat]` in degrees (WGS84)."""

    type: Literal["Point"] = "Point"
    coordinates: tuple[Lon, Lat]

    def to_point(self) -> Point:
        return Point(self.coordinates[0], self.coordinates[1])

    @staticmethod
    def of(lon: float, lat: float) -> dict[str, Any]:
        return {"type": "Point", "coordinates": [lon, lat]}


def check_device_time(value: float | None) -> float | None:
    """A device timestamp must be plausible: after 2017 and not in the future."""
    if value is None:
        return None
    if value < EARLIEST_S:
        raise ValueError("device time is before 2017: the device clock is wrong")
    if value > time.time() + MAX_FUTURE_S:
        raise ValueError("device time is in the future: the device clock is wrong")
    return value


DeviceTime = Annotated[float | None, Field(default=None, allow_inf_nan=False)]


class CallCreate(Strict):
    """A new call from intake. The pin is authoritative; the device location is only shown."""

    caller_phone: str = Field("", max_length=32, pattern=r"^[0-9+() .-]*$")
    address_text: str = Field("", max_length=300)
    pin: GeoPoint
    complaint: str = Field("", max_length=500)
    priority: Priority | None = None
    notes: str = Field("", max_length=2000)
    caller_device_location: GeoPoint | None = None
    citizen_id: str | None = Field(None, pattern=r"^[0-9]{9,12}$")


class CallUpdate(Strict):
    """Changed call details; absent fields stay as they are."""

    caller_phone: str | None = Field(None, max_length=32, pattern=r"^[0-9+() .-]*$")
    address_text: str | None = Field(None, max_length=300)
    pin: GeoPoint | None = None
    complaint: str | None = Field(None, max_length=500)
    priority: Priority | None = None
    notes: str | None = Field(None, max_length=2000)
    caller_device_location: GeoPoint | None = None
    citizen_id: str | None = Field(None, pattern=r"^[0-9]{9,12}$")


class CallCancel(Strict):
    """Cancel with a reason (hoax, duplicate, no patient, bad address, other)."""

    reason: CancelReason
    note: str = Field("", max_length=500)


class AssignUnit(Strict):
    """Send this unit to the call."""

    unit_id: str = Field(min_length=1, max_length=64)


class HospitalChoice(Strict):
    """Override the destination hospital of a call."""

    hospital_id: str = Field(min_length=1, max_length=64)


class StatusChange(Strict):
    """A crew (or dispatcher) status change, stamped with the device's own clock."""

    status: UnitStatus
    hospital_id: str | None = Field(None, max_length=64)
    device_time_s: DeviceTime
    action_id: str | None = Field(None, max_length=100)

    _device_time = field_validator("device_time_s")(check_device_time)


class Acknowledge(Strict):
    """The crew acknowledges the job it was sent to."""

    device_time_s: DeviceTime
    action_id: str | None = Field(None, max_length=100)

    _device_time = field_validator("device_time_s")(check_device_time)


class PositionReport(Strict):
    """One AVL fix from a unit's device."""

    position: GeoPoint
    speed_kph: float | None = Field(None, ge=0, le=300, allow_inf_nan=False)
    heading_deg: float | None = Field(None, ge=0, le=360, allow_inf_nan=False)
    device_time_s: DeviceTime

    _device_time = field_validator("device_time_s")(check_device_time)


class RouteRequest(Strict):
    """A route between two points, departing at `at_s` (default now)."""

    origin: GeoPoint
    destination: GeoPoint
    at_s: float | None = Field(None, ge=EARLIEST_S, allow_inf_nan=False)
