"""Synthetic calls for a scenario: Poisson arrivals with hourly and weekly profiles, places
weighted by district population, priorities, outcomes and per-call service times.

All draws happen up front, each purpose from its own named stream, so two scenarios with the
same seed and demand see exactly the same calls whatever their stations or fleet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from dispatch.simulation.scenario import Scenario
from dispatch.simulation.streams import stream

HANOI_UTC_OFFSET_S = 7 * 3600
OUTCOME_SERVED, OUTCOME_CANCELLED, OUTCOME_NUISANCE = 0, 1, 2


def start_epoch_s(start_local: dt.date) -> float:
    """Epoch seconds (UTC) of local midnight in Hanoi (UTC+7) on `start_local`."""
    midnight_utc = dt.datetime(start_local.year, start_local.month, start_local.day, tzinfo=dt.UTC)
    return midnight_utc.timestamp() - HANOI_UTC_OFFSET_S


@dataclass(frozen=True)
class CallPlan:
    """The calls of one replication as parallel arrays, ordered by arrival time."""

    arrival_s: np.ndarray  # seconds since the scenario start (local midnight)
    location: np.ndarray  # index into the location pool (road node), int
    priority: np.ndarray  # index into the scenario's priority mix, int
    outcome: np.ndarray  # OUTCOME_* codes
    cancel_delay_s: np.ndarray  # time from the call to the caller's cancellation
    processing_s: np.ndarray  # call received -> ready to dispatch (triage)
    turnout_s: np.ndarray  # NaN: use the unit's own turnout time
    on_scene_s: np.ndarray
    handover_s: np.ndarray
    transported: np.ndarray  # bool: the patient goes to hospital

    def __len__(self) -> int:
        return len(self.arrival_s)


def arrival_times(scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    """Non-homogeneous Poisson arrivals (seconds from start), piecewise constant per hour."""
    demand = scenario.demand
    hours = int(np.ceil(scenario.days * 24))
    hour_index = np.arange(hours)
    weekday0 = scenario.start_local.weekday()
    hourly = np.asarray(demand.hourly_profile)[hour_index % 24]
    weekly = np.asarray(demand.weekly_profile)[(weekday0 + hour_index // 24) % 7]
    rate_per_hour = demand.calls_per_day_effective / 24.0 * hourly * weekly
    counts = rng.poisson(rate_per_hour)
    starts = np.repeat(hour_index * 3600.0, counts)
    times = np.sort(starts + rng.uniform(0.0, 3600.0, len(starts)))
    return times[times < scenario.days * 86400.0]


def generate_calls(
    scenario: Scenario, location_weights: np.ndarray, *, replication: int
) -> CallPlan:
    """Draw every call of one replication. `location_weights`: demand weight per pool entry."""
    seed = scenario.seed

    def rng(name: str) -> np.random.Generator:
        return stream(seed, name, replication=replication)

    arrivals = arrival_times(scenario, rng("arrivals"))
    n = len(arrivals)
    weights = np.asarray(location_weights, dtype=float)
    location = rng("locations").choice(len(weights), size=n, p=weights / weights.sum())
    mix = np.array([share for _, share in scenario.demand.priority_mix])
    priority = rng("priorities").choice(len(mix), size=n, p=mix / mix.sum())
    u = rng("outcomes").uniform(size=n)
    nuisance = scenario.demand.nuisance_share
    outcome = np.where(
        u < nuisance,
        OUTCOME_NUISANCE,
        np.where(u < nuisance + scenario.demand.cancelled_share, OUTCOME_CANCELLED, OUTCOME_SERVED),
    )
    durations = scenario.durations
    names = [name for name, _ in scenario.demand.priority_mix]
    share = np.array([durations.transport_share_of(name) for name in names])
    return CallPlan(
        arrival_s=arrivals,
        location=location.astype(np.int64),
        priority=priority.astype(np.int64),
        outcome=outcome.astype(np.int8),
        cancel_delay_s=scenario.demand.cancel_delay.draw(rng("cancel_delay"), n),
        processing_s=durations.processing.draw(rng("processing"), n),
        turnout_s=(
            durations.turnout.draw(rng("turnout"), n)
            if durations.turnout is not None
            else np.full(n, np.nan)
        ),
        on_scene_s=durations.on_scene.draw(rng("on_scene"), n),
        handover_s=durations.handover.draw(rng("handover"), n),
        transported=rng("transport").uniform(size=n) < share[priority],
    )
