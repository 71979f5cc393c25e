"""Stations, fleet units and hospitals as plain data (standard library only)."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.model import Point, UnitType


@dataclass(frozen=True, slots=True)
class Station:
    """An ambulance station.

    `lon, lat` in degrees (WGS84). `confidence` says how sure the position is ("host
    confirmed", "proxy point", "unverified", "placed by hand", "scenario"); `source` says where
    it comes from. `in_core_extract` is False for stations outside the shared road extract
    (they need a whole-city graph).
    """

    station_id: str
    name: str
    lon: float
    lat: float
    source: str
    confidence: str
    host: str = ""
    in_core_extract: bool = True
    is_hq: bool = False

    @property
    def point(self) -> Point:
        return Point(self.lon, self.lat)


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """One unit of the fleet: where it is based, what it is, who rides it.

    `turnout_s`: seconds from dispatch to wheels rolling when the unit is at its station.
    """

    unit_id: str
    station_id: str
    unit_type: UnitType
    crew_size: int
    shift: str
    turnout_s: float


@dataclass(frozen=True, slots=True)
class Hospital:
    """A hospital that can receive emergency patients; `reason` says why it passed the filter."""

    hospital_id: str
    name: str
    lon: float
    lat: float
    reason: str
    speciality: str = ""
    osm_id: int | None = None

    @property
    def point(self) -> Point:
        return Point(self.lon, self.lat)
