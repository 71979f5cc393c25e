"""What a simulation run measures: each call's EMS intervals (from the shared timeline code)
and each unit's busy time, read from the same events the live system records."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dispatch.model import FREE_STATUSES, DispatchState, UnitStatus
from dispatch.simulation.demand import CallPlan
from dispatch.simulation.scenario import Scenario
from dispatch.timeline import INTERVALS

_IDLE = FREE_STATUSES | {UnitStatus.OFF_DUTY, UnitStatus.OUT_OF_SERVICE}
OUTCOME_NAMES = np.array(["served", "cancelled", "nuisance"])


class CallTable:
    """Per-call results of one replication, as parallel arrays indexed like the call plan."""

    def __init__(
        self,
        plan: CallPlan,
        scenario: Scenario,
        *,
        place_district: np.ndarray,
        place_lonlat: np.ndarray,
    ) -> None:
        n = len(plan)
        self.plan = plan
        self.district = place_district[plan.location] if n else np.array([], dtype=str)
        # Where each call was (the caller's pin), so planners can site stations on real calls.
        self.lonlat = place_lonlat[plan.location] if n else np.empty((0, 2))
        names = np.array([name for name, _ in scenario.demand.priority_mix])
        self.priority = names[plan.priority] if n else np.array([], dtype=str)
        self.ready_after_s = np.full(n, np.nan)  # call received -> triage done (dispatchable)
        self.no_unit_free = np.zeros(n, dtype=bool)  # no unit could be sent when it was ready
        self.dispatches = np.zeros(n, dtype=np.int16)
        # What happened (a caller who meant to cancel may be reached first): OUTCOME_NAMES.
        self.outcome = plan.outcome.copy()
        self.intervals = {name: np.full(n, np.nan) for name in INTERVALS}

    def finish(
        self, i: int, values: dict[str, float | None], dispatch_count: int, outcome: int
    ) -> None:
        """Record the EMS intervals of call `i` (from `dispatch.timeline.intervals`)."""
        self.outcome[i] = outcome
        for name, value in values.items():
            if value is not None and name in self.intervals:
                self.intervals[name][i] = value
        self.dispatches[i] = dispatch_count

    def columns(self) -> dict[str, np.ndarray]:
        """The table: arrival (s from start), place (lon, lat), labels, intervals (s), queue
        wait (s), flags."""
        # Queue wait: from triage done to the first unit sent (NaN: never sent).
        wait = np.maximum(self.intervals["call_to_dispatch_s"] - self.ready_after_s, 0.0)
        return {
            "arrival_s": self.plan.arrival_s,
            "lon": self.lonlat[:, 0],
            "lat": self.lonlat[:, 1],
            "priority": self.priority,
            "district": self.district,
            "outcome": OUTCOME_NAMES[self.outcome],
            "queue_wait_s": wait,
            "triaged": ~np.isnan(self.ready_after_s),
            "no_unit_free": self.no_unit_free,
            "dispatches": self.dispatches,
            **self.intervals,
        }


class UnitRecorder:
    """Busy time per unit (dispatched until free again), in total and by local hour of day."""

    def __init__(self, *, start_s: float, end_s: float, utc_offset_s: float = 7 * 3600) -> None:
        self.start_s, self.end_s = start_s, end_s
        self.utc_offset_s = utc_offset_s
        self.busy_since: dict[str, float] = {}
        self.busy_s: dict[str, float] = {}
        self.by_hour_s: dict[str, list[float]] = {}
        self.dispatches: dict[str, int] = {}

    def assigned(self, unit_id: str, at_s: float) -> None:
        """A unit was sent to a call (`UnitAssigned`)."""
        self.dispatches[unit_id] = self.dispatches.get(unit_id, 0) + 1
        self.status(unit_id, UnitStatus.DISPATCHED, at_s)

    def status(self, unit_id: str, status: UnitStatus, at_s: float) -> None:
        """A unit's status changed (`UnitStatusChanged`, or the dispatch of `assigned`)."""
        busy = status not in _IDLE
        since = self.busy_since.get(unit_id)
        if busy and since is None:
            self.busy_since[unit_id] = at_s
        elif not busy and since is not None:
            self._add(unit_id, since, at_s)
            del self.busy_since[unit_id]

    def close(self) -> None:
        """Count units still busy at the end of the run."""
        for unit_id, since in list(self.busy_since.items()):
            self._add(unit_id, since, self.end_s)
        self.busy_since.clear()

    def _add(self, unit_id: str, t0_s: float, t1_s: float) -> None:
        t0_s, t1_s = max(t0_s, self.start_s), min(t1_s, self.end_s)
        if t1_s <= t0_s:
            return
        self.busy_s[unit_id] = self.busy_s.get(unit_id, 0.0) + t1_s - t0_s
        hours = self.by_hour_s.get(unit_id)
        if hours is None:
            hours = self.by_hour_s[unit_id] = [0.0] * 24  # a list: scalar adds, no numpy
        local, end = t0_s + self.utc_offset_s, t1_s + self.utc_offset_s
        while local < end:
            step = min((math.floor(local / 3600.0) + 1) * 3600.0, end) - local
            hours[int(local // 3600.0) % 24] += step
            local += step

    def summary(self, state: DispatchState) -> list[dict[str, Any]]:
        """One dict per unit: id, station, busy seconds (total and by local hour), dispatches."""
        return [
            {
                "unit_id": unit_id,
                "station_id": unit.station_id,
                "busy_s": self.busy_s.get(unit_id, 0.0),
                "busy_by_hour_s": list(self.by_hour_s.get(unit_id, [0.0] * 24)),
                "dispatches": self.dispatches.get(unit_id, 0),
            }
            for unit_id, unit in sorted(state.units.items())
        ]
