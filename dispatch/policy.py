"""The assignment policy: pure functions of the state, travel times and a clock value.

Live dispatch and the planners' simulator call these same functions; the clock is a
parameter (`at_s`), never read here. Recommendation ranks units by ETA from where they are
now (a unit at its station adds its turnout time), queueing orders waiting calls by priority
then age, a P1 call may take a unit driving to a P3/P4 call, and the destination hospital is
the nearest suitable one by ETA from the scene.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dispatch.errors import ValidationError
from dispatch.model import (
    DIVERTIBLE_STATUSES,
    Call,
    DispatchState,
    Point,
    Priority,
    Unit,
    UnitStatus,
    UnitType,
    rebuilt_by_init,
)
from dispatch.ports import SnappedPoint, TravelTimesError
from dispatch.snaps import HospitalSet as HospitalSet  # re-exported: part of the policy API
from dispatch.snaps import SnapCache as SnapCache
from stations.models import Hospital

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Options of the policy (scenario data for the simulator, settings for live dispatch).

    A unit driving to a `divertible` call is offered to a `divert_for` call only if it beats
    the best free unit by at least `divert_min_gain_s` (or no free unit can reach).
    """

    divert_enabled: bool = True
    divert_for: frozenset[Priority] = frozenset({Priority.P1})
    divertible: frozenset[Priority] = frozenset({Priority.P3, Priority.P4})
    divert_min_gain_s: float = 60.0
    default_turnout_s: float = 120.0


DEFAULT_POLICY: PolicyConfig = PolicyConfig()


@dataclass(frozen=True, slots=True, init=False)
class Candidate:
    """One unit in a recommendation. `eta_s` = `turnout_s` + `travel_s`; None: unreachable."""

    unit_id: str
    station_id: str
    unit_type: UnitType
    status: UnitStatus
    eta_s: float | None
    travel_s: float | None
    turnout_s: float
    straight_m: float  # great-circle distance from the unit to the pin
    origin: Point  # where its trip starts (its station, or its live position)
    rank: int | None = None  # 1 = best; None when unreachable
    diverts_call_id: str | None = None  # set when taking it diverts it from this call
    note: str = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return rebuilt_by_init(self)

    # Written out, built per recommended unit: see dispatch.events on why (`HAND_INIT`).
    def __init__(
        self, unit_id: str, station_id: str, unit_type: UnitType, status: UnitStatus,
        eta_s: float | None, travel_s: float | None, turnout_s: float, straight_m: float,
        origin: Point, rank: int | None = None, diverts_call_id: str | None = None, note: str = "",
    ) -> None:  # fmt: skip
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "station_id", station_id)
        object.__setattr__(self, "unit_type", unit_type)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "eta_s", eta_s)
        object.__setattr__(self, "travel_s", travel_s)
        object.__setattr__(self, "turnout_s", turnout_s)
        object.__setattr__(self, "straight_m", straight_m)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "rank", rank)
        object.__setattr__(self, "diverts_call_id", diverts_call_id)
        object.__setattr__(self, "note", note)

    @property
    def reachable(self) -> bool:
        return self.eta_s is not None


class Recommendation:
    """Units ranked for a call at `at_s`; unreachable units are listed last, not dropped.

    Read-only. The ranking is fixed when the recommendation is made (each unit's status and
    origin are copied then); the `Candidate` objects are built on first access, and `best`
    alone builds one (the simulator asks only for it, once per dispatch)."""

    __slots__ = ("_all", "_pin", "_rows", "at_s", "call_id", "scene_offroad_m", "scene_offroad_s")

    def __init__(
        self,
        call_id: str,
        at_s: float,
        rows: Sequence[_Fixed],
        pin: Point,
        scene_offroad_m: float,
        scene_offroad_s: float,
    ) -> None:
        self.call_id = call_id
        self.at_s = at_s
        self.scene_offroad_m = scene_offroad_m  # walking leg (stretcher) from road to pin
        self.scene_offroad_s = scene_offroad_s
        self._rows = rows  # ranked: reachable by (ETA, unit id), then unreachable by unit id
        self._pin = pin
        self._all: tuple[Candidate, ...] | None = None

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        if self._all is None:
            far: dict[Point, float] = {}  # straight_m per origin: units at a station share it
            self._all = tuple(_candidate(row, self._pin, far) for row in self._rows)
        return self._all

    @property
    def best(self) -> Candidate | None:
        if self._all is not None:
            first = self._all[0] if self._all else None
            return first if first is not None and first.reachable else None
        if not self._rows or self._rows[0][9] is None:
            return None
        return _candidate(self._rows[0], self._pin, {})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Recommendation):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Recommendation(call_id={self.call_id!r}, at_s={self.at_s!r}, "
            f"candidates={self.candidates!r}, scene_offroad_m={self.scene_offroad_m!r}, "
            f"scene_offroad_s={self.scene_offroad_s!r})"
        )

    def _key(self) -> tuple[object, ...]:
        offroad = (self.scene_offroad_m, self.scene_offroad_s)
        return (self.call_id, self.at_s, self.candidates, *offroad)


@dataclass(frozen=True, slots=True)
class HospitalOption:
    """A hospital ranked by ETA from the scene (None: unreachable)."""

    hospital_id: str
    name: str
    eta_s: float | None
    straight_m: float
    rank: int | None


def straight_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres."""
    p1, p2 = _radians(a.lat), _radians(b.lat)
    dp, dl = p2 - p1, _radians(b.lon - a.lon)
    h = _sin(dp / 2) ** 2 + _cos(p1) * _cos(p2) * _sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * _asin(min(1.0, _sqrt(h)))


# module-level names: straight_m runs for every candidate of every recommendation
_radians, _sin, _cos, _asin, _sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt


def snap_scene(snaps: SnapCache, point: Point) -> SnappedPoint:
    """Snap an incident pin; a pin off the road network is a 422 on the pin."""
    try:
        return snaps.snap(point)
    except TravelTimesError as exc:
        raise ValidationError(str(exc), field="pin") from exc


def unit_origin(unit: Unit) -> Point:
    """Where a unit's next trip starts: its station when there, else its live position."""
    return unit.home if unit.status == UnitStatus.AVAILABLE_AT_STATION else unit.position


def unit_turnout_s(unit: Unit, turnout_s: Mapping[str, float], config: PolicyConfig) -> float:
    """Turnout applies only to a crew at its station; a crew on the road is already rolling."""
    if unit.status != UnitStatus.AVAILABLE_AT_STATION:
        return 0.0
    return turnout_s.get(unit.unit_id, config.default_turnout_s)


def recommend(
    state: DispatchState,
    call: Call,
    snaps: SnapCache,
    *,
    at_s: float,
    turnout_s: Mapping[str, float],
    config: PolicyConfig = DEFAULT_POLICY,
) -> Recommendation:
    """Rank free units (and, for a P1, units it may divert) by ETA to the call's pin."""
    units = [u for u in state.units.values() if u.is_free]
    units.sort(key=_unit_id)
    # one vectorised snap for the pin and every unit; the steps below hit the cache
    snaps.snap_all([call.pin, *(unit_origin(u) for u in units)])
    scene = snap_scene(snaps, call.pin)
    free = _score(units, scene, snaps, at_s=at_s, turnout_s=turnout_s, config=config)
    divert = _divert_rows(state, call, scene, snaps, at_s=at_s, config=config, free=free)
    return Recommendation(
        call.call_id, at_s, _ranked(free + divert), call.pin, scene.offroad_m, scene.offroad_s
    )


def _unit_id(unit: Unit) -> str:
    return unit.unit_id


def rank_candidates(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Reachable by (ETA, unit id) with ranks 1..n, then unreachable by unit id."""
    ok = sorted((c for c in candidates if c.eta_s is not None), key=_eta_key)
    bad = sorted((c for c in candidates if c.eta_s is None), key=lambda c: c.unit_id)
    return [replace(c, rank=i) for i, c in enumerate(ok, start=1)] + bad


def _eta_key(c: Candidate) -> tuple[float, str]:
    assert c.eta_s is not None
    return (c.eta_s, c.unit_id)


# A scored unit before it becomes a Candidate: (unit, travel_s, turnout_s, diverting, note).
_Row = tuple[Unit, float | None, float, bool, str]


def _row_eta(row: _Row) -> float | None:
    return None if row[1] is None else row[2] + row[1]


# A ranked row, its unit's fields copied at ranking time: (unit_id, station_id, unit_type,
# status, eta_s, travel_s, turnout_s, origin, diverts_call_id, rank, note).
_Fixed = tuple[
    str, str, UnitType, UnitStatus, float | None, float | None, float, Point, str | None,
    int | None, str,
]  # fmt: skip


def _ranked(rows: Sequence[_Row]) -> list[_Fixed]:
    """`rank_candidates` on scored rows: reachable by (ETA, unit id) with ranks 1..n, then
    unreachable by unit id; each row's unit read now (it may change after)."""
    ok = sorted(
        ((eta, r[0].unit_id, r) for r in rows if (eta := _row_eta(r)) is not None),
        key=lambda t: (t[0], t[1]),
    )
    bad = sorted((r for r in rows if r[1] is None), key=lambda r: r[0].unit_id)
    out = [_fix(r, eta, rank) for rank, (eta, _, r) in enumerate(ok, start=1)]
    return out + [_fix(r, None, None) for r in bad]


def _fix(row: _Row, eta_s: float | None, rank: int | None) -> _Fixed:
    unit, travel_s, turnout, diverting, note = row
    origin = unit.home if unit.status == UnitStatus.AVAILABLE_AT_STATION else unit.position
    diverts = unit.call_id if diverting else None
    return (unit.unit_id, unit.station_id, unit.unit_type, unit.status, eta_s, travel_s,
            turnout, origin, diverts, rank, note)  # fmt: skip


def _score(
    units: Sequence[Unit],
    scene: SnappedPoint,
    snaps: SnapCache,
    *,
    at_s: float,
    turnout_s: Mapping[str, float],
    config: PolicyConfig,
    diverting: bool = False,
) -> list[_Row]:
    """ETA of each unit to the scene with one many-to-one query (departure at `at_s`)."""
    origins: list[SnappedPoint] = []
    placed: list[Unit] = []
    out: list[_Row] = []
    origin_snaps = snaps.snap_all([unit_origin(u) for u in units])
    for unit, snap in zip(units, origin_snaps, strict=True):
        if isinstance(snap, Exception):
            out.append((unit, None, 0.0, diverting, f"not on the network: {snap}"))
        else:
            origins.append(snap)
            placed.append(unit)
    travel = snaps.travel.eta_many_to_one(origins, scene, at_s=at_s) if origins else []
    for unit, travel_s in zip(placed, travel, strict=True):
        turnout = unit_turnout_s(unit, turnout_s, config)
        note = "" if travel_s is not None else "no road route to the scene"
        out.append((unit, travel_s, turnout, diverting, note))
    return out


def _candidate(row: _Fixed, pin: Point, far: dict[Point, float]) -> Candidate:
    origin = row[7]
    distance_m = far.get(origin)
    if distance_m is None:
        distance_m = far[origin] = straight_m(origin, pin)
    return Candidate(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], distance_m, origin, row[9],
        row[8], row[10],
    )  # fmt: skip


def divertible_units(state: DispatchState, call: Call, config: PolicyConfig) -> list[Unit]:
    """Units driving to a lower call that `call` may take, by unit id (empty if not allowed)."""
    if not config.divert_enabled or call.priority not in config.divert_for:
        return []
    out = []
    for unit in state.units.values():
        if unit.status not in DIVERTIBLE_STATUSES or unit.call_id in (None, call.call_id):
            continue
        served = state.calls.get(unit.call_id or "")
        if served is not None and served.priority in config.divertible:
            out.append(unit)
    return sorted(out, key=lambda u: u.unit_id)


def _divert_rows(
    state: DispatchState,
    call: Call,
    scene: SnappedPoint,
    snaps: SnapCache,
    *,
    at_s: float,
    config: PolicyConfig,
    free: Sequence[_Row],
) -> list[_Row]:
    units = divertible_units(state, call, config)
    if not units:
        return []
    scored = _score(units, scene, snaps, at_s=at_s, turnout_s={}, config=config, diverting=True)
    best_free = min((e for r in free if (e := _row_eta(r)) is not None), default=math.inf)
    return [
        r
        for r in scored
        if (e := _row_eta(r)) is not None and e + config.divert_min_gain_s < best_free
    ]


def queue_order(state: DispatchState) -> list[Call]:
    """Waiting calls, most urgent first, then oldest (received earliest), then by id."""
    waiting = [c for c in state.waiting_calls() if c.priority is not None]
    return sorted(waiting, key=_queue_key)


def _queue_key(call: Call) -> tuple[int, float, str]:
    assert call.priority is not None
    return (call.priority.rank, call.received_s, call.call_id)


def next_call_for(state: DispatchState) -> Call | None:
    """The call a unit that just became free should be offered: head of the queue."""
    order = queue_order(state)
    return order[0] if order else None


def ranked_hospitals(
    scene: Point, hospitals: HospitalSet, snaps: SnapCache, *, at_s: float
) -> list[tuple[Hospital, float | None]]:
    """Hospitals by (ETA, id) from the scene (one one-to-many query), then unreachable by id."""
    origin = snap_scene(snaps, scene)
    placed, dests, lost = hospitals.placed(snaps)
    etas = snaps.travel.eta_one_to_many(origin, dests, at_s=at_s) if dests else []
    # `placed` is in id order, so a stable sort by ETA orders by (ETA, id).
    reach = sorted((i for i, e in enumerate(etas) if e is not None), key=lambda i: etas[i] or 0.0)
    out = [(placed[i], etas[i]) for i in reach]
    if len(reach) < len(placed) or lost:
        bad = [h for h, e in zip(placed, etas, strict=True) if e is None] + lost
        out += [(h, None) for h in sorted(bad, key=lambda h: h.hospital_id)]
    return out


def rank_hospitals(
    scene: Point,
    hospitals: Sequence[Hospital] | HospitalSet,
    snaps: SnapCache,
    *,
    at_s: float,
) -> list[HospitalOption]:
    """Hospitals by ETA from the scene (one one-to-many query); unreachable ones last."""
    fixed = hospitals if isinstance(hospitals, HospitalSet) else HospitalSet(hospitals)
    return [
        HospitalOption(
            h.hospital_id, h.name, e, straight_m(scene, h.point), None if e is None else i
        )
        for i, (h, e) in enumerate(ranked_hospitals(scene, fixed, snaps, at_s=at_s), start=1)
    ]
