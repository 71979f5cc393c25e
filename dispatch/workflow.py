"""Automatic follow-ups of commands: ETAs, suggestions, hospital choice, arrival by position.

Used by `DispatchService` inside a command, on the state and batch of that command, so every
follow-up event is committed together with the change that caused it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dispatch import commands as cmd
from dispatch import policy
from dispatch.model import Call, DispatchState, EventSource, Point, UnitStatus
from dispatch.ports import TravelTimesError
from dispatch.transitions import Batch, call_of, unit_of
from stations.models import Hospital


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """Behaviour switches. `auto_arrive_m`: a unit en route (transporting) whose reported
    position is within this distance of the pin (hospital) is set on scene (at hospital)
    automatically; None turns that off."""

    policy: policy.PolicyConfig = policy.DEFAULT_POLICY
    auto_arrive_m: float | None = 50.0
    system_actor: str = "system"
    # False returns the live objects, not deep copies: only for a caller that never mutates
    # them (the simulator, which issues millions of commands; hook added by the simulation).
    copy_results: bool = True


@dataclass(frozen=True, slots=True)
class HospitalChoice:
    """The call after a hospital was chosen, and the ranked options it was chosen from."""

    call: Call
    options: tuple[policy.HospitalOption, ...]


@dataclass(frozen=True, slots=True)
class Workflow:
    """The pieces a follow-up needs: travel times, turnout per unit, hospitals, options."""

    snaps: policy.SnapCache
    turnout: Mapping[str, float]
    hospitals: Mapping[str, Hospital]
    options: ServiceOptions
    ranking: policy.HospitalSet = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ranking", policy.HospitalSet(self.hospitals.values()))

    def eta(self, state: DispatchState, unit_id: str, call_id: str, at_s: float) -> float | None:
        unit, call = unit_of(state, unit_id), call_of(state, call_id)
        try:
            origin = self.snaps.snap(policy.unit_origin(unit))
            scene = self.snaps.snap(call.pin)
        except TravelTimesError:
            return None
        (travel,) = self.snaps.travel.eta_many_to_one([origin], scene, at_s=at_s)
        turnout = policy.unit_turnout_s(unit, self.turnout, self.options.policy)
        return None if travel is None else travel + turnout

    def suggest(self, state: DispatchState, batch: Batch, meta: cmd.Meta, unit_id: str) -> None:
        head = policy.next_call_for(state)
        if head is None or not state.units[unit_id].is_free:
            return
        eta = self.eta(state, unit_id, head.call_id, meta.at_s)
        cmd.suggest_for_free_unit(state, batch, meta, unit_id=unit_id, eta_s=eta)

    def status(
        self,
        state: DispatchState,
        batch: Batch,
        meta: cmd.Meta,
        unit_id: str,
        to_status: UnitStatus,
        hospital_id: str | None,
    ) -> None:
        unit = unit_of(state, unit_id)
        call_id = unit.call_id
        if to_status == UnitStatus.TRANSPORTING and call_id is not None:
            call = state.calls[call_id]
            if hospital_id is not None or call.hospital_id is None:
                rows = policy.ranked_hospitals(call.pin, self.ranking, self.snaps, at_s=meta.at_s)
                ranked = [(h.hospital_id, eta) for h, eta in rows]
                self.hospital(state, batch, meta, call_id, hospital_id, ranked)
            hospital_id = state.calls[call_id].hospital_id
        cmd.change_unit_status(
            state, batch, meta, unit_id=unit_id, to_status=to_status, hospital_id=hospital_id
        )
        if state.units[unit_id].is_free:
            self.suggest(state, batch, meta, unit_id)

    def hospital(
        self,
        state: DispatchState,
        batch: Batch,
        meta: cmd.Meta,
        call_id: str,
        hospital_id: str | None,
        ranked: Sequence[tuple[str, float | None]],
    ) -> None:
        """Choose `hospital_id`, or the first reachable of `ranked` ((id, ETA) best first)."""
        if hospital_id is None:
            best = next((hid for hid, eta in ranked if eta is not None), None)
            if best is None:
                return  # no reachable hospital known: the crew names one on arrival
            hospital_id = best
        overridden = bool(ranked) and hospital_id != ranked[0][0]
        eta_s = next((eta for hid, eta in ranked if hid == hospital_id), None)
        cmd.choose_hospital(
            state,
            batch,
            meta,
            call_id=call_id,
            hospital_id=hospital_id,
            overridden=overridden,
            eta_s=eta_s,
        )

    def auto_arrive(self, state: DispatchState, batch: Batch, meta: cmd.Meta, unit_id: str) -> None:
        limit = self.options.auto_arrive_m
        unit = state.units[unit_id]
        if limit is None or unit.call_id is None:
            return
        target: Point | None = None
        hospital = self.hospitals.get(unit.hospital_id or "")
        if unit.status == UnitStatus.EN_ROUTE:
            target, to = state.calls[unit.call_id].pin, UnitStatus.ON_SCENE
        elif unit.status == UnitStatus.TRANSPORTING and hospital is not None:
            target, to = hospital.point, UnitStatus.AT_HOSPITAL
        if target is None or policy.straight_m(unit.position, target) > limit:
            return
        auto = cmd.Meta(meta.at_s, self.options.system_actor, EventSource.SYSTEM, meta.device_at_s)
        self.status(state, batch, auto, unit_id, to, None)
