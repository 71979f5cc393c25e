"""Per-call timeline and the EMS intervals (call to dispatch, turnout, travel, response, ...).

Milestones come from the call's assignments: the first dispatch counts for call-to-dispatch
(a later re-dispatch never rewrites it); the other milestones are those of the unit that
served the call last. Times are device times where the crew's device stamped them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dispatch.model import Assignment, Call, rebuilt_by_init

INTERVALS = (
    "call_to_dispatch_s",
    "turnout_s",
    "travel_s",
    "response_s",
    "on_scene_s",
    "transport_s",
    "handover_s",
    "job_cycle_s",
)


@dataclass(frozen=True, slots=True, init=False)
class Timeline:
    """Milestones of one call, epoch seconds (None: not reached)."""

    received_s: float
    first_dispatched_s: float | None
    dispatched_s: float | None  # of the serving unit
    en_route_s: float | None
    on_scene_s: float | None
    left_scene_s: float | None
    at_hospital_s: float | None
    clear_s: float | None  # serving unit free again
    closed_s: float | None
    unit_id: str | None
    dispatch_count: int

    def __reduce__(self) -> tuple[Any, ...]:
        return rebuilt_by_init(self)

    # Written out, built per call: see dispatch.events on why (`HAND_INIT`).
    def __init__(
        self, received_s: float, first_dispatched_s: float | None, dispatched_s: float | None,
        en_route_s: float | None, on_scene_s: float | None, left_scene_s: float | None,
        at_hospital_s: float | None, clear_s: float | None, closed_s: float | None,
        unit_id: str | None, dispatch_count: int,
    ) -> None:  # fmt: skip
        object.__setattr__(self, "received_s", received_s)
        object.__setattr__(self, "first_dispatched_s", first_dispatched_s)
        object.__setattr__(self, "dispatched_s", dispatched_s)
        object.__setattr__(self, "en_route_s", en_route_s)
        object.__setattr__(self, "on_scene_s", on_scene_s)
        object.__setattr__(self, "left_scene_s", left_scene_s)
        object.__setattr__(self, "at_hospital_s", at_hospital_s)
        object.__setattr__(self, "clear_s", clear_s)
        object.__setattr__(self, "closed_s", closed_s)
        object.__setattr__(self, "unit_id", unit_id)
        object.__setattr__(self, "dispatch_count", dispatch_count)

    def to_dict(self) -> dict[str, float | str | int | None]:
        return asdict(self)


def _serving(call: Call) -> Assignment | None:
    """The assignment that is serving or served the call (not one diverted or stood down)."""
    if not call.assignments:
        return None
    last = call.assignments[-1]
    return last if last.ended in (None, "completed", "cancelled") else None


def timeline(call: Call) -> Timeline:
    """The call's milestones."""
    asg = _serving(call)
    return Timeline(
        received_s=call.received_s,
        first_dispatched_s=call.assignments[0].dispatched_s if call.assignments else None,
        dispatched_s=asg.dispatched_s if asg else None,
        en_route_s=asg.en_route_s if asg else None,
        on_scene_s=asg.on_scene_s if asg else None,
        left_scene_s=asg.left_scene_s if asg else None,
        at_hospital_s=asg.at_hospital_s if asg else None,
        clear_s=asg.clear_s if asg else None,
        closed_s=call.closed_s,
        unit_id=asg.unit_id if asg else None,
        dispatch_count=len(call.assignments),
    )


def _diff(end: float | None, start: float | None) -> float | None:
    return None if end is None or start is None else end - start


def intervals(call: Call) -> dict[str, float | None]:
    """The EMS intervals of a call in seconds (None where a milestone is missing)."""
    t = timeline(call)
    handover = _diff(t.clear_s, t.at_hospital_s)
    # treated on scene, no transport: the scene time ends when the unit clears
    left = t.left_scene_s if t.left_scene_s is not None else t.clear_s
    return {
        "call_to_dispatch_s": _diff(t.first_dispatched_s, t.received_s),
        "turnout_s": _diff(t.en_route_s, t.dispatched_s),
        "travel_s": _diff(t.on_scene_s, t.en_route_s),
        "response_s": _diff(t.on_scene_s, t.received_s),
        "on_scene_s": _diff(left, t.on_scene_s),
        "transport_s": _diff(t.at_hospital_s, t.left_scene_s),
        "handover_s": handover,
        "job_cycle_s": _diff(t.clear_s, t.dispatched_s),
    }
