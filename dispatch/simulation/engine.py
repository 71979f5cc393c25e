"""The discrete-event simulator: a virtual clock (heapq) driving the live `DispatchService`.

One policy, two clocks: every decision (recommendation, assignment, diversion, queue order,
hospital choice, status changes and the calls they close) is made by the same service,
commands and policy that live dispatch runs; the simulator only plays the callers, the
call-takers who accept the service's suggestions, and the crews who report their statuses
when the drive or the job is done. Trip times are the routing engine's ETAs at departure.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from dispatch import events as ev
from dispatch import policy
from dispatch.memory import InMemoryRepository
from dispatch.model import (
    CallStatus,
    CancelReason,
    EventSource,
    Point,
    Priority,
    Unit,
    UnitStatus,
)
from dispatch.service import DispatchService, ServiceOptions
from dispatch.simulation.demand import (
    OUTCOME_CANCELLED,
    OUTCOME_NUISANCE,
    OUTCOME_SERVED,
    CallPlan,
    generate_calls,
    start_epoch_s,
)
from dispatch.simulation.errors import SimulationError
from dispatch.simulation.metrics import CallTable, UnitRecorder
from dispatch.simulation.results import RunResult
from dispatch.simulation.scenario import Scenario
from dispatch.simulation.world import World
from dispatch.timeline import intervals

U = UnitStatus
ACTOR = "simulator"
SRC = EventSource.SIMULATOR
# Heap entry kinds, and the next step of a unit's job.
DISPATCH, CANCEL, UNIT = 1, 2, 3
EN_ROUTE, ON_SCENE, LEAVE_SCENE, AT_HOSPITAL, CLEAR, AT_STATION = range(6)
_CANCELLABLE = frozenset(
    {CallStatus.RECEIVED, CallStatus.TRIAGED, CallStatus.QUEUED, CallStatus.ASSIGNED}
)


def policy_config(scenario: Scenario) -> policy.PolicyConfig:
    """The policy options of a scenario (`p1_diversion`, `divert_min_gain_s`, ...)."""
    options = scenario.policy_options()
    base = policy.DEFAULT_POLICY
    return policy.PolicyConfig(
        divert_enabled=bool(options.get("p1_diversion", base.divert_enabled)),
        divert_for=frozenset(Priority(p) for p in options.get("divert_for", base.divert_for)),
        divertible=frozenset(Priority(p) for p in options.get("divertible", base.divertible)),
        divert_min_gain_s=float(options.get("divert_min_gain_s", base.divert_min_gain_s)),
        default_turnout_s=float(options.get("default_turnout_s", base.default_turnout_s)),
    )


class Simulation:
    """One replication: the call plan played against a fresh dispatch service."""

    def __init__(
        self,
        scenario: Scenario,
        world: World,
        plan: CallPlan,
        *,
        start_s: float,
        keep_events: bool = False,
    ) -> None:
        self.scenario, self.world, self.plan = scenario, world, plan
        self.start_s = start_s
        self.end_s = start_s + scenario.days * 86400.0
        self.now = start_s
        self._heap: list[tuple[float, int, int, int, int, int]] = []
        self._seq = itertools.count()
        self.table = CallTable(
            plan,
            scenario,
            place_district=world.location_district,
            place_lonlat=world.location_lonlat,
        )
        self.units = UnitRecorder(start_s=start_s, end_s=self.end_s)
        self._suggested: list[tuple[str, str]] = []
        self._finished: list[str] = []
        # call -> (hospital, ETA from the scene, when): the service's own choice, reused as the
        # drive time when the crew leaves at that moment (the same trip at the same time)
        self._chosen: dict[str, tuple[str, float | None, float]] = {}
        self.repository = InMemoryRepository(keep_events=keep_events, single_writer=True)
        self.service = DispatchService(
            self.repository,
            world.travel,
            stations=world.stations,
            fleet=world.units,
            hospitals=world.hospitals,
            clock=lambda: self.now,
            options=ServiceOptions(
                policy=policy_config(scenario), auto_arrive_m=None, copy_results=False
            ),
        )
        self.service.subscribe(self._observe)
        self.unit_ids = sorted(self.service.state.units)
        self._unit_index = {u: k for k, u in enumerate(self.unit_ids)}
        self._token = [0] * len(self.unit_ids)
        self._enroute_at = [math.nan] * len(self.unit_ids)
        self._travel_s = [0.0] * len(self.unit_ids)
        self._turnout = {u.unit_id: u.turnout_s for u in world.units}
        self._hospital = {h.hospital_id: h.point for h in world.hospitals}
        self._priority = [Priority(name) for name, _ in scenario.demand.priority_mix]
        self.events = 0

    # -- the clock ----------------------------------------------------------------------

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        """Play every call; runs on after the horizon until every job is finished."""
        arrivals = self.start_s + self.plan.arrival_s
        n, i = len(arrivals), 0
        next_report = self.start_s + 86400.0
        heap = self._heap
        while i < n or heap:
            if i < n and (not heap or arrivals[i] <= heap[0][0]):
                self.now = float(arrivals[i])
                self._arrive(i)
                i += 1
            else:
                t, _, kind, a, b, step = heapq.heappop(heap)
                self.now = t
                if kind == DISPATCH:
                    self._dispatch(a)
                elif kind == CANCEL:
                    self._cancel(a)
                elif b == self._token[a]:
                    self._unit_step(a, step)
            if progress is not None and self.now >= next_report:
                progress(min(1.0, (self.now - self.start_s) / (self.end_s - self.start_s)))
                next_report += 86400.0
        self.units.close()
        if progress is not None:
            progress(1.0)

    def _push(self, at_s: float, kind: int, a: int, b: int = 0, step: int = 0) -> None:
        heapq.heappush(self._heap, (at_s, next(self._seq), kind, a, b, step))

    def _observe(self, stored: Sequence[ev.StoredEvent]) -> None:
        self.events += len(stored)
        units = self.units
        for item in stored:
            event = item.event
            # exact-type tests (event classes are never subclassed): cheaper than isinstance
            if type(event) is ev.UnitStatusChanged:
                units.status(event.unit_id, event.to_status, event.at_s)
            elif type(event) is ev.UnitAssigned:
                units.assigned(event.unit_id, event.at_s)
            elif type(event) is ev.UnitSuggested:
                self._suggested.append((event.unit_id, event.call_id))
            elif type(event) is ev.HospitalChosen:
                self._chosen[event.call_id] = (event.hospital_id, event.eta_s, event.at_s)
            elif type(event) is ev.CallClosed or type(event) is ev.CallCancelled:
                self._finished.append(event.call_id)

    def _settle(self) -> None:
        """After a command: accept the service's suggestions, record and archive done calls."""
        while self._suggested:
            unit_id, call_id = self._suggested.pop(0)
            self._accept(unit_id, call_id)
        state = self.service.state
        while self._finished:
            call_id = self._finished.pop()
            call = state.calls.get(call_id)
            if call is not None and call.unit_id is None:
                outcome = OUTCOME_SERVED
                if call.status == CallStatus.CANCELLED:
                    hoax = call.cancel_reason == CancelReason.HOAX
                    outcome = OUTCOME_NUISANCE if hoax else OUTCOME_CANCELLED
                self.table.finish(int(call_id), intervals(call), len(call.assignments), outcome)
                self.service.archive(call_id)  # else queue scans walk a year of closed calls

    # -- callers and call-takers -----------------------------------------------------------

    def _arrive(self, i: int) -> None:
        lon, lat = self.world.location_lonlat[self.plan.location[i]]
        self.service.create_call(
            actor=ACTOR, source=SRC, call_id=str(i), caller_phone="", address_text="",
            pin=Point(float(lon), float(lat)),
        )  # fmt: skip
        outcome = self.plan.outcome[i]
        if outcome == OUTCOME_NUISANCE:
            self.service.cancel_call(str(i), reason=CancelReason.HOAX, actor=ACTOR, source=SRC)
            self._settle()
            return
        self._push(self.now + float(self.plan.processing_s[i]), DISPATCH, i)
        if outcome == OUTCOME_CANCELLED:
            self._push(self.now + float(self.plan.cancel_delay_s[i]), CANCEL, i)

    def _dispatch(self, i: int) -> None:
        """Triage done: set the priority, then send the best unit or leave the call queued."""
        call_id = str(i)
        call = self.service.state.calls.get(call_id)
        if call is None or call.status != CallStatus.RECEIVED:
            return
        self.table.ready_after_s[i] = self.now - (self.start_s + float(self.plan.arrival_s[i]))
        priority = self._priority[self.plan.priority[i]]
        self.service.update_call(call_id, actor=ACTOR, source=SRC, priority=priority)
        self._send_best(call_id)
        self._settle()

    def _send_best(self, call_id: str) -> None:
        best = self.service.recommend(call_id).best
        if best is None or best.diverts_call_id is not None:
            self.table.no_unit_free[int(call_id)] = True
        if best is None:
            return
        self._assign(best.unit_id, call_id, best.travel_s or 0.0)

    def _accept(self, unit_id: str, call_id: str) -> None:
        state = self.service.state
        call, unit = state.calls.get(call_id), state.units[unit_id]
        if call is None or call.status not in (CallStatus.TRIAGED, CallStatus.QUEUED):
            return
        if not unit.is_free:
            return
        travel = self.world.travel
        origin = travel.snap(*_lonlat(policy.unit_origin(unit)))
        scene = travel.snap(call.pin.lon, call.pin.lat)
        (travel_s,) = travel.eta_many_to_one([origin], scene, at_s=self.now)
        if travel_s is None:
            return
        self._assign(unit_id, call_id, travel_s)

    def _assign(self, unit_id: str, call_id: str, travel_s: float) -> None:
        state = self.service.state
        unit = state.units[unit_id]
        was, diverted_from = unit.status, unit.call_id
        self.service.assign(call_id, unit_id, actor=ACTOR, source=SRC)
        k = self._unit_index[unit_id]
        self._token[k] += 1
        self._travel_s[k] = travel_s
        if was == U.EN_ROUTE:  # diverted while driving: head for the new scene from here
            self._push(self.now + travel_s, UNIT, k, self._token[k], ON_SCENE)
        elif was == U.DISPATCHED:  # diverted before rolling: the crew leaves as planned
            self._push(self._enroute_at[k], UNIT, k, self._token[k], EN_ROUTE)
        else:
            turnout = (
                self._turnout_s(int(call_id), unit_id) if was == U.AVAILABLE_AT_STATION else 0.0
            )
            self._enroute_at[k] = self.now + turnout
            self._push(self.now + turnout, UNIT, k, self._token[k], EN_ROUTE)
        if diverted_from is not None:
            self._send_best(diverted_from)

    def _turnout_s(self, i: int, unit_id: str) -> float:
        drawn = float(self.plan.turnout_s[i])
        return self._turnout[unit_id] if math.isnan(drawn) else drawn

    def _cancel(self, i: int) -> None:
        call = self.service.state.calls.get(str(i))
        if call is None or call.status not in _CANCELLABLE:
            return  # already finished, or a crew is with the patient
        unit_id = call.unit_id
        self.service.cancel_call(str(i), reason=CancelReason.NO_PATIENT, actor=ACTOR, source=SRC)
        if unit_id is not None:
            self._head_home(unit_id)
        self._settle()

    # -- crews ----------------------------------------------------------------------------

    def _status(self, unit_id: str, to: UnitStatus) -> None:
        self.service.change_unit_status(unit_id, to, actor=ACTOR, source=SRC)

    def _unit_step(self, k: int, step: int) -> None:
        unit_id = self.unit_ids[k]
        unit = self.service.state.units[unit_id]
        if step == EN_ROUTE:
            self._status(unit_id, U.EN_ROUTE)
            self._push(self.now + self._travel_s[k], UNIT, k, self._token[k], ON_SCENE)
        elif step == ON_SCENE:
            self._on_scene(k, unit_id)
        elif step == LEAVE_SCENE:
            self._leave_scene(k, unit_id, _call_index(unit))
        elif step == AT_HOSPITAL:
            self._status(unit_id, U.AT_HOSPITAL)
            if unit.hospital_id in self._hospital:
                self._position(unit_id, self._hospital[unit.hospital_id])
            handover_s = float(self.plan.handover_s[_call_index(unit)])
            self._push(self.now + handover_s, UNIT, k, self._token[k], CLEAR)
        elif step == CLEAR:
            self._status(unit_id, U.RETURNING)
            self._head_home(unit_id)
        elif step == AT_STATION:
            self._status(unit_id, U.AVAILABLE_AT_STATION)
        self._settle()

    def _on_scene(self, k: int, unit_id: str) -> None:
        i = _call_index(self.service.state.units[unit_id])
        self._status(unit_id, U.ON_SCENE)
        self._position(unit_id, self.service.state.calls[str(i)].pin)
        self._push(self.now + float(self.plan.on_scene_s[i]), UNIT, k, self._token[k], LEAVE_SCENE)

    def _leave_scene(self, k: int, unit_id: str, i: int) -> None:
        if not (self.plan.transported[i] and self.world.hospitals):
            self._status(unit_id, U.RETURNING)
            self._head_home(unit_id)
            return
        self._status(unit_id, U.TRANSPORTING)
        unit = self.service.state.units[unit_id]
        target = self._hospital.get(unit.hospital_id or "")
        chosen = self._chosen.pop(str(i), None)
        if chosen is not None and chosen[0] == unit.hospital_id and chosen[2] == self.now:
            drive_s = chosen[1]
        else:
            drive_s = self._drive_s(self.service.state.calls[str(i)].pin, target)
        if drive_s is None:  # no reachable hospital: treated on scene, then home
            self._status(unit_id, U.AT_HOSPITAL)
            self._push(self.now, UNIT, k, self._token[k], CLEAR)
            return
        self._push(self.now + drive_s, UNIT, k, self._token[k], AT_HOSPITAL)

    def _head_home(self, unit_id: str) -> None:
        """A unit free on the road drives back to its station (unless sent elsewhere first)."""
        unit = self.service.state.units[unit_id]
        k = self._unit_index[unit_id]
        self._token[k] += 1  # whatever it was about to do is off
        if unit.status == U.AVAILABLE_AT_STATION or not unit.is_free:
            return
        if unit.status == U.AVAILABLE_ON_ROAD:
            self._status(unit_id, U.RETURNING)
        drive_s = self._drive_s(unit.position, unit.home) or 0.0
        self._push(self.now + drive_s, UNIT, k, self._token[k], AT_STATION)

    def _drive_s(self, origin: Point, target: Point | None) -> float | None:
        if target is None:
            return None
        travel = self.world.travel
        a, b = travel.snap(origin.lon, origin.lat), travel.snap(target.lon, target.lat)
        (drive_s,) = travel.eta_many_to_one([a], b, at_s=self.now)
        return drive_s

    def _position(self, unit_id: str, point: Point) -> None:
        self.service.report_position(unit_id, point, actor=ACTOR, source=EventSource.AVL)


def _call_index(unit: Unit) -> int:
    """The plan index of the call a unit serves (call ids are plan indices)."""
    if unit.call_id is None:
        raise SimulationError(f"unit {unit.unit_id} has no call at a step of a job")
    return int(unit.call_id)


def _lonlat(point: Point) -> tuple[float, float]:
    return point.lon, point.lat


def simulate(
    scenario: Scenario,
    world: World,
    *,
    replication: int = 0,
    progress: Callable[[float], None] | None = None,
) -> RunResult:
    """Run one replication of `scenario` in `world` and return its call table and unit use."""
    started = time.perf_counter()
    start_s = start_epoch_s(scenario.start_local)
    plan = generate_calls(scenario, world.location_weight, replication=replication)
    hits0, misses0 = getattr(world.travel, "hits", 0), getattr(world.travel, "misses", 0)
    sim = Simulation(scenario, world, plan, start_s=start_s)
    sim.run(progress)
    meta: dict[str, Any] = {"units": len(sim.unit_ids), "hospitals": len(world.hospitals)}
    if hasattr(world.travel, "hits"):  # this run's share of the (shared) travel-time memo
        meta["travel_memo"] = {
            "hits": getattr(world.travel, "hits", 0) - hits0,
            "misses": getattr(world.travel, "misses", 0) - misses0,
        }
    return RunResult(
        scenario=scenario.name,
        replication=replication,
        horizon_s=scenario.days * 86400.0,
        calls=sim.table.columns(),
        units=sim.units.summary(sim.service.state),
        events=sim.events,
        wall_s=time.perf_counter() - started,
        warmup_s=scenario.warmup_days * 86400.0,
        meta=meta,
    )
